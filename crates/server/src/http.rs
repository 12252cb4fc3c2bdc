//! The HTTP surface: `/mcp` (Streamable HTTP), A2A, health endpoints, metrics, and the guards in front
//! of them (Host/Origin checks against DNS rebinding, request metrics).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::a2a::A2a;
use crate::auth::gate::{self, Gate};
use crate::fleet::Fleet;
use crate::limits::{self, LimitSettings, Limiter};
use crate::mcp::McpHandler;
use crate::metrics::{ClusterLabels, KindLabels, Metrics};

/// Which Host and Origin headers `/mcp` accepts.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// Extra host names (e.g. the public hostname behind a Gateway), matched without port.
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins (e.g. `https://inspector.example.com`).
    pub allowed_origins: Vec<String>,
}

impl HostPolicy {
    /// A host is accepted when DNS rebinding cannot produce it: loopback names, IP literals, names
    /// without a dot, in-cluster service names (`.svc`, `.cluster.local`), and configured hosts.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = strip_port(host).to_ascii_lowercase();
        if host.is_empty() {
            return false;
        }
        host == "localhost"
            || host.ends_with(".localhost")
            || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
            || !host.contains('.')
            || host.ends_with(".svc")
            || host.ends_with(".cluster.local")
            || self.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host))
    }

    /// Browsers send Origin on cross-site requests: a page elsewhere must not drive the agent.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        if self
            .allowed_origins
            .iter()
            .any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin.trim_end_matches('/')))
        {
            return true;
        }
        match origin.split_once("://") {
            Some((_, rest)) => self.host_allowed(rest.split('/').next().unwrap_or_default()),
            None => false,
        }
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(end) = host.strip_prefix('[').and_then(|h| h.find(']')) {
        return &host[..end + 2];
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

async fn guard(State(policy): State<Arc<HostPolicy>>, headers: HeaderMap, request: Request, next: Next) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    if !policy.host_allowed(host) {
        tracing::warn!(host = %crate::validate::sanitize(host), "refused: Host not allowed (add it with --allowed-hosts)");
        return (StatusCode::FORBIDDEN, "Forbidden: Host header not allowed\n").into_response();
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok())
        && !policy.origin_allowed(origin)
    {
        tracing::warn!(origin = %crate::validate::sanitize(origin), "refused: Origin not allowed (add it with --allowed-origins)");
        return (StatusCode::FORBIDDEN, "Forbidden: Origin not allowed\n").into_response();
    }
    next.run(request).await
}

/// The URL clients reach this server at: `--base-url` when set, else the scheme (as a Gateway
/// forwarded it) and Host of the request.
pub fn public_base_url(configured: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(base) = configured {
        return base.trim_end_matches('/').to_string();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The label for a request path: a fixed set, so scanners cannot blow up the metric's cardinality.
fn route_label(path: &str) -> &'static str {
    match path {
        "/mcp" | "/mcp/" => "/mcp",
        "/health" => "/health",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/" => "/",
        "/.well-known/agent-card.json" | "/.well-known/agent.json" | "/agent.json" => "/agent-card",
        "/message:send" => "/message:send",
        "/message:stream" => "/message:stream",
        "/tasks" => "/tasks",
        p if p.starts_with("/tasks/") => "/tasks/{id}",
        "/extendedAgentCard" => "/extendedAgentCard",
        p if p.starts_with(crate::auth::gate::METADATA_PATH) => "/.well-known/oauth-protected-resource",
        _ => "other",
    }
}

async fn count(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let path = route_label(request.uri().path());
    let started = Instant::now();
    let span = tracing::info_span!("request", method = %method, path, status = tracing::field::Empty);
    let mut response = next.run(request).instrument(span.clone()).await;
    span.record("status", response.status().as_u16());
    // Ending a session answers 202 from the MCP library; clients (the Python SDK among them)
    // expect 200 or 204 for a DELETE.
    if method == "DELETE" && path == "/mcp" && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    metrics.http(&method, path, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

#[derive(Clone)]
pub struct Health {
    pub fleet: Arc<Fleet>,
    pub metrics: Arc<Metrics>,
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(h): State<Health>) -> (StatusCode, &'static str) {
    if h.fleet.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches are syncing\n")
    }
}

async fn metrics(State(h): State<Health>) -> impl IntoResponse {
    // Rebuilt on each scrape, so a cluster that left the fleet leaves the gauges too.
    h.metrics.cache_objects.clear();
    h.metrics.cache_ready.clear();
    for member in h.fleet.members() {
        let Ok(link) = &member.link else { continue };
        for c in link.cache.counts() {
            let labels = KindLabels { cluster: member.name.clone(), kind: c.kind };
            h.metrics.cache_objects.get_or_create(&labels).set(c.objects as i64);
        }
        let ready = i64::from(link.cache.is_ready());
        h.metrics.cache_ready.get_or_create(&ClusterLabels { cluster: member.name.clone() }).set(ready);
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], h.metrics.render())
}

pub struct HttpSettings {
    pub policy: HostPolicy,
    pub max_body_bytes: usize,
    pub limits: LimitSettings,
    /// MCP sessions open at once.
    pub max_sessions: usize,
    /// Idle MCP sessions are closed after this long.
    pub idle: Duration,
    /// Serve `/metrics` on this router too (when the metrics port is the main port).
    pub metrics_path: Option<String>,
    pub gate: Arc<Gate>,
}

/// The main router: `/mcp`, A2A (`/`, the cards, `/message:*`, `/tasks`) and the health endpoints.
pub fn router(
    handler: McpHandler,
    a2a: Arc<A2a>,
    health_state: Health,
    settings: HttpSettings,
    sessions_stop: CancellationToken,
) -> Router {
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_json_response(true)
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_cancellation_token(sessions_stop);
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(settings.idle);
    let sessions = Arc::new(sessions);
    let service: StreamableHttpService<McpHandler, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(handler.for_session()), sessions.clone(), config);
    let policy = Arc::new(settings.policy);
    let mcp = Router::new().nest_service("/mcp", service).layer(middleware::from_fn_with_state(
        SessionCap { sessions, max: settings.max_sessions, max_body: settings.max_body_bytes },
        check_mcp_post,
    ));
    // Host checks and limits come before authentication, so a flood of bad tokens is refused
    // before it costs a TokenReview.
    let guarded = mcp
        .merge(crate::a2a::router(a2a))
        .merge(gate::router(settings.gate.clone()))
        .layer(middleware::from_fn_with_state(settings.gate, gate::authenticate))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(middleware::from_fn_with_state(Limiter::new(settings.limits), limits::limit))
        .layer(middleware::from_fn_with_state(policy, guard));
    let mut app = Router::new()
        .route("/health", get(health))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(health_state.clone())
        .merge(guarded);
    if let Some(path) = settings.metrics_path {
        app = app.merge(metrics_router(&path, health_state.clone()));
    }
    app.layer(middleware::from_fn_with_state(health_state.metrics, count))
}

#[derive(Clone)]
struct SessionCap {
    sessions: Arc<LocalSessionManager>,
    max: usize,
    max_body: usize,
}

/// What the `/mcp` checks read of a JSON-RPC request; everything else is skipped unparsed.
#[derive(serde::Deserialize)]
struct JsonRpcPeek {
    #[serde(default)]
    id: serde_json::Value,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<serde_json::Value>,
}

/// Checks on a POST to `/mcp` before the MCP library sees it, reading the body once:
/// - an `initialize` outside a session is refused with 429 once `max` sessions are open
///   (stateless 2026-07-28 requests open none and pass);
/// - a `tools/call` whose `arguments` is not an object gets "invalid params" naming the field:
///   the MCP library would otherwise answer "method not found", which sends a client looking in
///   the wrong place.
async fn check_mcp_post(State(cap): State<SessionCap>, request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, cap.max_body).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
    };
    if let Ok(peek) = serde_json::from_slice::<JsonRpcPeek>(&bytes) {
        if peek.method.as_deref() == Some("initialize")
            && !parts.headers.contains_key("mcp-session-id")
            && cap.sessions.sessions.read().await.len() >= cap.max
        {
            tracing::warn!(max = cap.max, "refused: too many MCP sessions open");
            let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000,
                "message": format!("Too many requests: {} MCP sessions are open, the most this server keeps; retry later, or use the stateless 2026-07-28 protocol", cap.max)}});
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            resp.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
            return resp;
        }
        let arguments = peek.params.as_ref().and_then(|p| p.get("arguments"));
        if peek.method.as_deref() == Some("tools/call")
            && let Some(arguments) = arguments
            && !(arguments.is_object() || arguments.is_null())
        {
            let got = crate::validate::json_type(arguments);
            let body = serde_json::json!({"jsonrpc": "2.0", "id": peek.id, "error": {"code": -32602,
                "message": format!("invalid argument `arguments`: expected an object of the tool's parameters, got {got}")}});
            return axum::Json(body).into_response();
        }
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// The metrics port's router.
pub fn metrics_router(path: &str, health_state: Health) -> Router {
    Router::new().route(path, get(metrics)).with_state(health_state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_dns_rebinding_cannot_forge_are_allowed() {
        let p = HostPolicy { allowed_hosts: vec!["agent.example.com".into()], allowed_origins: vec![] };
        for ok in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "10.0.3.7",
            "gitops-agent",
            "gitops-agent.flux-system.svc:8080",
            "a.b.svc.cluster.local",
            "agent.example.com:443",
        ] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example.com", "attacker.io:8080", "agent.example.com.evil.io", ""] {
            assert!(!p.host_allowed(bad), "{bad}");
        }
        assert!(p.origin_allowed("http://localhost:6274"));
        assert!(!p.origin_allowed("https://evil.example.com"));
        assert!(!p.origin_allowed("null"));
    }
}
