//! Verification that a deployed agent really answers: an MCP handshake (`initialize`, then
//! `tools/list`) over Streamable HTTP and an A2A agent-card fetch against its Service.

use std::time::Duration;

use axum::http::{Request, response::Parts};
use gitops_agent_api::spec::ServerInfo;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

type Body = Full<axum::body::Bytes>;

/// The MCP protocol version the operator speaks in the handshake.
const PROTOCOL_VERSION: &str = "2025-11-25";
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where the kubelet mounts the operator's ServiceAccount token (rotated, so read each time).
const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

pub struct Verifier {
    http: Client<HttpConnector, Body>,
    /// Agents with `auth.mode: Kubernetes` admit the operator by its ServiceAccount token.
    token_file: std::path::PathBuf,
}

impl Default for Verifier {
    fn default() -> Self {
        Self { http: Client::builder(TokioExecutor::new()).build_http(), token_file: SERVICE_ACCOUNT_TOKEN.into() }
    }
}

/// The JSON-RPC message in a response that is either JSON or an SSE stream.
fn rpc_message(content_type: &str, body: &[u8]) -> Result<Value, String> {
    let text = String::from_utf8_lossy(body);
    let payload = if content_type.starts_with("text/event-stream") {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .find(|d| !d.is_empty())
            .ok_or("the SSE response carried no data")?
            .to_string()
    } else {
        text.into_owned()
    };
    serde_json::from_str(&payload).map_err(|e| format!("the response is not JSON-RPC: {e}"))
}

impl Verifier {
    /// The `Authorization` header for the agent, when the operator has a token (in a pod).
    fn authorization(&self) -> Option<String> {
        let token = std::fs::read_to_string(&self.token_file).ok()?;
        let token = token.trim();
        (!token.is_empty()).then(|| format!("Bearer {token}"))
    }

    async fn send(&self, request: Request<Body>) -> Result<(Parts, Vec<u8>), String> {
        let response = tokio::time::timeout(TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| format!("no answer within {}s", TIMEOUT.as_secs()))?
            .map_err(|e| format!("connection failed: {e}"))?;
        let (parts, body) = response.into_parts();
        let bytes = tokio::time::timeout(TIMEOUT, body.collect())
            .await
            .map_err(|_| "the body did not arrive in time".to_string())?
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        Ok((parts, bytes.to_vec()))
    }

    async fn rpc(&self, url: &str, session: Option<&str>, message: Value) -> Result<(Value, Option<String>), String> {
        let mut request = Request::post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION);
        if let Some(s) = session {
            request = request.header("mcp-session-id", s);
        }
        if let Some(a) = self.authorization() {
            request = request.header("authorization", a);
        }
        let request = request.body(Full::new(message.to_string().into())).map_err(|e| e.to_string())?;
        let (parts, body) = self.send(request).await?;
        if !parts.status.is_success() {
            return Err(format!("{url} answered HTTP {}", parts.status));
        }
        let session = parts.headers.get("mcp-session-id").and_then(|h| h.to_str().ok()).map(str::to_string);
        if body.is_empty() {
            return Ok((Value::Null, session));
        }
        let content_type =
            parts.headers.get("content-type").and_then(|h| h.to_str().ok()).unwrap_or_default().to_string();
        let message = rpc_message(&content_type, &body)?;
        if let Some(error) = message.get("error") {
            return Err(format!("{url} answered a JSON-RPC error: {error}"));
        }
        Ok((message.get("result").cloned().unwrap_or(Value::Null), session))
    }

    /// Handshakes with the agent at `base` (e.g. `http://agent.ns.svc:8080`).
    pub async fn verify(&self, base: &str) -> Result<ServerInfo, String> {
        self.verify_with(base, false).await.map(|r| r.info)
    }

    /// Handshakes with the agent at `base`; with `list_contexts`, also asks it (in the same
    /// session) which clusters it reaches. A failing `list_contexts` does not fail the handshake:
    /// the agent answers, it just could not say that.
    pub async fn verify_with(&self, base: &str, list_contexts: bool) -> Result<Report, String> {
        let mcp = format!("{}/mcp", base.trim_end_matches('/'));
        let (init, session) = self
            .rpc(
                &mcp,
                None,
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                    "clientInfo": {"name": "gitops-agent-operator", "version": env!("CARGO_PKG_VERSION")}}}),
            )
            .await?;
        let info = init.get("serverInfo").ok_or("initialize returned no serverInfo")?;
        self.rpc(&mcp, session.as_deref(), json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await?;
        let (tools, _) = self
            .rpc(&mcp, session.as_deref(), json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}))
            .await?;
        let tool_count = tools.get("tools").and_then(Value::as_array).map_or(0, Vec::len);

        let card_url = format!("{}/.well-known/agent-card.json", base.trim_end_matches('/'));
        let request = Request::get(&card_url).body(Full::new(axum::body::Bytes::new())).map_err(|e| e.to_string())?;
        let (parts, body) = self.send(request).await?;
        if !parts.status.is_success() {
            return Err(format!("{card_url} answered HTTP {}", parts.status));
        }
        serde_json::from_slice::<Value>(&body).map_err(|e| format!("the agent card is not JSON: {e}"))?;

        let contexts = if list_contexts {
            let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": {"name": LIST_CONTEXTS, "arguments": {}}});
            Some(self.rpc(&mcp, session.as_deref(), call).await.and_then(|(result, _)| contexts_of(&result)))
        } else {
            None
        };

        let info = ServerInfo {
            name: info.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
            version: info.get("version").and_then(Value::as_str).unwrap_or_default().to_string(),
            protocol_versions: init
                .get("protocolVersion")
                .and_then(Value::as_str)
                .map(|v| vec![v.to_string()])
                .unwrap_or_default(),
            tool_count: i32::try_from(tool_count).unwrap_or(i32::MAX),
        };
        Ok(Report { info, contexts })
    }
}

/// The agent's tool that lists the clusters it answers for.
const LIST_CONTEXTS: &str = "list_contexts";

/// What a verification learned.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub info: ServerInfo,
    /// The agent's `list_contexts` answer, when asked for.
    pub contexts: Option<Result<Vec<ContextReport>, String>>,
}

/// One cluster as the agent's `list_contexts` reports it (`structuredContent.contexts[]`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextReport {
    pub name: String,
    #[serde(default)]
    pub server: String,
    /// Unknown when the agent did not say.
    #[serde(default)]
    pub reachable: Option<bool>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub flux_version: Option<String>,
}

/// The contexts in a `tools/call` result, or why there are none.
fn contexts_of(result: &Value) -> Result<Vec<ContextReport>, String> {
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        let text = result.pointer("/content/0/text").and_then(Value::as_str).unwrap_or("no message");
        return Err(format!("{LIST_CONTEXTS} failed: {text}"));
    }
    let contexts = result
        .pointer("/structuredContent/contexts")
        .ok_or_else(|| format!("{LIST_CONTEXTS} returned no structuredContent.contexts"))?;
    serde_json::from_value(contexts.clone()).map_err(|e| format!("{LIST_CONTEXTS} returned unexpected contexts: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{Verifier, rpc_message};

    #[test]
    fn the_operator_authenticates_with_its_service_account_token_when_it_has_one() {
        let dir = std::env::temp_dir().join(format!("verifier-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut v = Verifier { token_file: dir.join("missing"), ..Verifier::default() };
        assert_eq!(v.authorization(), None);
        std::fs::write(dir.join("token"), "eyJhbGciOi.payload.sig\n").expect("token");
        v.token_file = dir.join("token");
        assert_eq!(v.authorization().as_deref(), Some("Bearer eyJhbGciOi.payload.sig"));
    }

    #[test]
    fn reads_the_contexts_list_contexts_reports() {
        use super::{ContextReport, contexts_of};
        let result = serde_json::json!({"content": [{"type": "text", "text": "2 clusters"}], "structuredContent": {"contexts": [
            {"name": "local", "server": "https://10.0.0.1", "reachable": true, "fluxVersion": "v2.7.0"},
            {"name": "prod-eu", "server": "https://prod-eu:6443", "reachable": false, "error": "dial tcp: timeout"},
        ]}});
        let contexts = contexts_of(&result).expect("contexts");
        assert_eq!(
            contexts[1],
            ContextReport {
                name: "prod-eu".into(),
                server: "https://prod-eu:6443".into(),
                reachable: Some(false),
                error: Some("dial tcp: timeout".into()),
                flux_version: None,
            }
        );
        assert_eq!(contexts[0].flux_version.as_deref(), Some("v2.7.0"));
        let failed = serde_json::json!({"isError": true, "content": [{"type": "text", "text": "unknown tool"}]});
        assert_eq!(contexts_of(&failed), Err("list_contexts failed: unknown tool".to_string()));
        assert!(contexts_of(&serde_json::Value::Null).is_err(), "an empty answer is not a list");
    }

    #[test]
    fn reads_json_and_sse_answers() {
        assert_eq!(
            rpc_message("application/json", br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).ok().map(|v| v["id"].clone()),
            Some(1.into())
        );
        let sse = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[]}}\n\n";
        assert_eq!(rpc_message("text/event-stream", sse).ok().map(|v| v["id"].clone()), Some(2.into()));
        assert!(rpc_message("application/json", b"<html>").is_err());
    }
}
