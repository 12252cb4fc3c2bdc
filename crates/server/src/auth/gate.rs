//! The HTTP side of authentication: every MCP and A2A request but the discovery documents needs a
//! bearer token the cluster accepts. Without one the answer is the MCP authorization spec's 401,
//! whose `WWW-Authenticate` header points at this server's protected-resource metadata (RFC 9728),
//! which names the issuer(s) clients get tokens from.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::{AuthError, Reviewer, run_as};

pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// What the gate needs: the reviewer (absent in `none` mode), the public URL when configured, and
/// the issuers clients get tokens from.
pub struct Gate {
    pub reviewer: Option<Arc<Reviewer>>,
    pub base_url: Option<String>,
    pub issuers: Vec<String>,
}

/// Discovery documents are public: clients read them to learn how to authenticate.
fn is_public(method: &Method, path: &str) -> bool {
    method == Method::GET
        && (matches!(path, "/.well-known/agent-card.json" | "/.well-known/agent.json" | "/agent.json")
            || path == METADATA_PATH
            || path.starts_with("/.well-known/oauth-protected-resource/"))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Identifies the caller of every non-public request; in `none` mode lets everything through.
pub async fn authenticate(State(gate): State<Arc<Gate>>, mut request: Request, next: Next) -> Response {
    let Some(reviewer) = &gate.reviewer else { return next.run(request).await };
    if is_public(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let result = match bearer(request.headers()) {
        None => Err(AuthError::MissingToken),
        Some(token) => reviewer.authenticate(token).await,
    };
    match result {
        Ok(caller) => {
            tracing::debug!(user = %caller.username, "authenticated");
            request.extensions_mut().insert(caller.clone());
            run_as(Some(caller), next.run(request)).await
        }
        Err(error) => refuse(&gate, request.headers(), &error),
    }
}

fn metadata_url(gate: &Gate, headers: &HeaderMap) -> String {
    format!("{}{METADATA_PATH}/mcp", crate::http::public_base_url(gate.base_url.as_deref(), headers))
}

fn refuse(gate: &Gate, headers: &HeaderMap, error: &AuthError) -> Response {
    let body = |code: &str| axum::Json(json!({"error": code, "error_description": error.to_string()}));
    let quoted = |s: &str| s.replace(['"', '\\'], "'");
    match error {
        AuthError::MissingToken | AuthError::InvalidToken(_) => {
            let mut challenge =
                format!("Bearer realm=\"gitops-agent\", resource_metadata=\"{}\"", metadata_url(gate, headers));
            let code = if matches!(error, AuthError::InvalidToken(_)) {
                challenge.push_str(&format!(
                    ", error=\"invalid_token\", error_description=\"{}\"",
                    quoted(&error.to_string())
                ));
                "invalid_token"
            } else {
                "unauthorized"
            };
            tracing::info!(error = %error, "refused: not authenticated");
            let mut response = (StatusCode::UNAUTHORIZED, body(code)).into_response();
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            response
        }
        AuthError::Unavailable(_) | AuthError::Forbidden { .. } => {
            tracing::warn!(error = %error, "cannot authenticate the caller");
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, body("temporarily_unavailable")).into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
    }
}

/// RFC 9728 protected-resource metadata, at the root and at the `/mcp` resource's path.
pub fn router(gate: Arc<Gate>) -> Router {
    Router::new()
        .route(METADATA_PATH, get(metadata))
        .route(&format!("{METADATA_PATH}/mcp"), get(metadata))
        .with_state(gate)
}

async fn metadata(State(gate): State<Arc<Gate>>, headers: HeaderMap) -> Response {
    if gate.reviewer.is_none() {
        return (StatusCode::NOT_FOUND, "this agent runs without authentication (--auth=none)\n").into_response();
    }
    let base = crate::http::public_base_url(gate.base_url.as_deref(), &headers);
    let mut doc = json!({
        "resource": format!("{base}/mcp"),
        "resource_name": "gitops-agent",
        "bearer_methods_supported": ["header"],
        "resource_documentation": "https://github.com/gitops-agent/gitops-agent#authentication",
    });
    if !gate.issuers.is_empty() {
        doc["authorization_servers"] = json!(gate.issuers);
    }
    ([(header::CACHE_CONTROL, "max-age=300")], axum::Json(doc)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively_and_never_empty() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc.def"));
        assert_eq!(bearer(&h), Some("abc.def"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  xyz "));
        assert_eq!(bearer(&h), Some("xyz"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwYXNz"));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn only_discovery_documents_are_public() {
        assert!(is_public(&Method::GET, "/.well-known/agent-card.json"));
        assert!(is_public(&Method::GET, "/.well-known/oauth-protected-resource/mcp"));
        assert!(!is_public(&Method::POST, "/.well-known/agent-card.json"));
        for p in ["/mcp", "/", "/tasks", "/message:send", "/extendedAgentCard"] {
            assert!(!is_public(&Method::GET, p) && !is_public(&Method::POST, p), "{p}");
        }
    }
}
