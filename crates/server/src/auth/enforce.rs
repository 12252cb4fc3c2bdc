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
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    if group == "authentication.k8s.io" || group == "authorization.k8s.io" {
        return None;
    }
    let (namespace, rest) = match rest {
        ["namespaces", ns, more @ ..] if !more.is_empty() => (*ns, more),
        _ => ("", rest),
    };
    let (resource, name, subresource) = match rest {
        [] => return None,
        [r] => (*r, "", ""),
        [r, n] => (*r, *n, ""),
        [r, n, s, ..] => (*r, *n, *s),
    };
    let watch = uri
        .query()
        .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "watch" && (v == "true" || v == "1")));
    let verb = match (method, name.is_empty()) {
        (&Method::GET, false) => "get",
        (&Method::GET, true) if watch => "watch",
        (&Method::GET, true) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, false) => "delete",
        (&Method::DELETE, true) => "deletecollection",
        _ => return None,
    };
    Some(Access {
        verb: verb.into(),
        group: group.into(),
        resource: resource.into(),
        subresource: subresource.into(),
        namespace: namespace.into(),
        name: name.into(),
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

    fn access(method: Method, uri: &str) -> Option<(String, String, String, String, String, String)> {
        access_of(&method, &uri.parse().expect("uri"))
            .map(|a| (a.verb, a.group, a.resource, a.subresource, a.namespace, a.name))
    }

    fn t(
        v: &str,
        g: &str,
        r: &str,
        s: &str,
        ns: &str,
        n: &str,
    ) -> Option<(String, String, String, String, String, String)> {
        Some((v.into(), g.into(), r.into(), s.into(), ns.into(), n.into()))
    }

    #[test]
    fn requests_map_to_the_attributes_rbac_checks() {
        assert_eq!(
            access(Method::GET, "/api/v1/namespaces/team-a/pods/web-1/log?tailLines=10"),
            t("get", "", "pods", "log", "team-a", "web-1")
        );
        assert_eq!(
            access(Method::GET, "/api/v1/namespaces/team-a/events?limit=500"),
            t("list", "", "events", "", "team-a", "")
        );
        assert_eq!(access(Method::GET, "/api/v1/pods?watch=true"), t("watch", "", "pods", "", "", ""));
        assert_eq!(access(Method::GET, "/api/v1/namespaces/team-a"), t("get", "", "namespaces", "", "", "team-a"));
        assert_eq!(
            access(Method::PATCH, "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/team-a/kustomizations/apps"),
            t("patch", "kustomize.toolkit.fluxcd.io", "kustomizations", "", "team-a", "apps")
        );
        assert_eq!(access(Method::GET, "/apis/apps/v1/deployments"), t("list", "apps", "deployments", "", "", ""));
        assert_eq!(
            access(Method::DELETE, "/apis/apps/v1/namespaces/x/deployments"),
            t("deletecollection", "apps", "deployments", "", "x", "")
        );
    }

    #[test]
    fn discovery_and_reviews_are_not_checked() {
        for uri in ["/api", "/apis", "/api/v1", "/apis/apps/v1", "/version", "/openapi/v3"] {
            assert_eq!(access(Method::GET, uri), None, "{uri}");
        }
        assert_eq!(access(Method::POST, "/apis/authorization.k8s.io/v1/subjectaccessreviews"), None);
        assert_eq!(access(Method::POST, "/apis/authentication.k8s.io/v1/tokenreviews"), None);
    }
}
