//! API requests made for a caller are checked with a SubjectAccessReview before they are sent:
//! tools read pods, logs, events and inventories directly, and reconcile/suspend/resume patch,
//! so checking at the client covers every path at once. A refusal comes back as the API server's
//! own 403 Status, so tools report it like any other API error.
//!
//! The check wraps a per-call client rather than being a layer of the shared one: the shared
//! client's requests are sent from its buffer's worker task, where the caller is not known.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use tower::Service;

use super::review::{Access, Reviewer};
use super::{AuthError, Caller};

/// What an API request does, in SubjectAccessReview terms; `None` for discovery and other
/// non-resource paths, and for the reviews themselves.
pub fn access_of(method: &Method, uri: &http::Uri) -> Option<Access> {
    let r = crate::api_request::parse(method, uri)?;
    if r.group == "authentication.k8s.io" || r.group == "authorization.k8s.io" {
        return None;
    }
    Some(Access {
        verb: r.verb.into(),
        group: r.group.into(),
        resource: r.resource.into(),
        subresource: r.subresource.into(),
        namespace: r.namespace.into(),
        name: r.name.into(),
    })
}

/// The API server's shape for a refusal, so the client library turns it into an API error.
fn status_response(error: &AuthError) -> Response<Body> {
    let (code, reason) = match error {
        AuthError::Forbidden { .. } => (StatusCode::FORBIDDEN, "Forbidden"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
    };
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": error.to_string(), "reason": reason, "code": code.as_u16(),
    });
    let mut response = Response::new(Body::from(Bytes::from(body.to_string())));
    *response.status_mut() = code;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// A client that sends through `agent` (its connections, metrics and credentials) only what
/// `caller`'s RBAC allows.
pub fn client_for(agent: &Client, reviewer: Arc<Reviewer>, caller: Caller) -> Client {
    Client::new(ForCaller { agent: agent.clone(), reviewer, caller }, agent.default_namespace())
}

#[derive(Clone)]
struct ForCaller {
    agent: Client,
    reviewer: Arc<Reviewer>,
    caller: Caller,
}

impl Service<Request<Body>> for ForCaller {
    type Response = Response<Body>;
    type Error = kube::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, kube::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            if let Some(access) = access_of(request.method(), request.uri())
                && let Err(refusal) = this.reviewer.check(&this.caller, &access).await
            {
                tracing::info!(user = %this.caller.username, verb = %access.verb, resource = %access.resource, namespace = %access.namespace, "refused for the caller");
                return Ok(status_response(&refusal));
            }
            this.agent.send(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_and_reviews_are_not_checked() {
        for uri in ["/api", "/apis", "/api/v1", "/apis/apps/v1", "/version", "/openapi/v3"] {
            assert_eq!(access_of(&Method::GET, &uri.parse().expect("uri")), None, "{uri}");
        }
        for uri in ["/apis/authorization.k8s.io/v1/subjectaccessreviews", "/apis/authentication.k8s.io/v1/tokenreviews"]
        {
            assert_eq!(access_of(&Method::POST, &uri.parse().expect("uri")), None, "{uri}");
        }
        let log = access_of(&Method::GET, &"/api/v1/namespaces/a/pods/p/log".parse().expect("uri")).expect("checked");
        assert_eq!((log.verb.as_str(), log.resource.as_str(), log.subresource.as_str()), ("get", "pods", "log"));
    }
}
