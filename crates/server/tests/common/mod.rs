//! Test harness: the embedded API server with the fixture cluster, the real agent server over
//! HTTP in-process, and a minimal MCP client (JSON-RPC over Streamable HTTP).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use clap::Parser;
use fake_apiserver::{Config, Listen, Running};
use gitops_agent_server::serve::{self, ServeArgs};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const FIXED_NOW: &str = "2026-11-24T10:30:00Z";
pub const LATEST: &str = "2026-07-28";

/// The fixture cluster's Kustomizations in `flux-system`, for tests that change them.
pub fn kustomizations(client: kube::Client) -> kube::Api<kube::api::DynamicObject> {
    let gvk = kube::api::GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization");
    kube::Api::namespaced_with(client, "flux-system", &kube::discovery::ApiResource::from_gvk(&gvk))
}

pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

pub struct Env {
    pub api: Running,
    pub agent: serve::Running,
    pub kubeconfig: PathBuf,
    pub mcp: Mcp,
    _dir: PathBuf,
}

impl Env {
    /// Replaces what differs between runs (ports, paths) so answers can be compared to goldens.
    pub fn normalize(&self, text: &str) -> String {
        text.replace(&self.api.url, "https://fake-apiserver")
            .replace(&self.kubeconfig.display().to_string(), "KUBECONFIG")
    }
}

#[derive(Default)]
pub struct Options {
    pub fixtures: bool,
    pub extra_args: Vec<String>,
    /// Enforce RBAC in the API server (the agent itself connects as an admin).
    pub rbac: bool,
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The fixture cluster and an agent serving it.
pub async fn start(options: Options) -> Env {
    gitops_agent_server::telemetry::init(gitops_agent_server::telemetry::LogFormat::Text, "warn");
    let config = Config { rbac: options.rbac, ..Config::default() };
    let api = fake_apiserver::start(config, Listen::default()).await.expect("fake API server");
    if options.fixtures {
        fake_apiserver::fixtures::load_dir(&api.server, &root().join("examples/fixtures")).expect("fixtures");
    }
    let dir = std::env::temp_dir().join(format!(
        "gitops-agent-server-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let kubeconfig = dir.join("kubeconfig");
    api.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let agent = try_agent(&kubeconfig, options.extra_args).await.expect("agent server");
    wait_ready(&agent).await;
    let mcp = Mcp::new(format!("{}/mcp", agent.url()));
    Env { api, agent, kubeconfig, mcp, _dir: dir }
}

/// Another agent (a second replica) on the same API server.
pub async fn start_agent(env: &Env, extra_args: Vec<String>) -> serve::Running {
    let agent = try_start_agent(env, extra_args).await.expect("agent server");
    wait_ready(&agent).await;
    agent
}

pub async fn try_start_agent(env: &Env, extra_args: Vec<String>) -> Result<serve::Running, serve::ServeError> {
    try_agent(&env.kubeconfig, extra_args).await
}

async fn try_agent(kubeconfig: &Path, extra_args: Vec<String>) -> Result<serve::Running, serve::ServeError> {
    let mut argv: Vec<String> = vec![
        "gitops-agent".into(),
        "serve".into(),
        format!("--kubeconfig={}", kubeconfig.display()),
        "--bind-address=127.0.0.1".into(),
        "--port=0".into(),
        "--metrics-port=0".into(),
        format!("--fixed-now={FIXED_NOW}"),
    ];
    // An explicit flag replaces the harness default.
    argv.retain(|a| !extra_args.iter().any(|e| e.split('=').next() == a.split('=').next()));
    argv.extend(extra_args);
    let args = Cli::parse_from(argv).serve;
    serve::start_http(&args, CancellationToken::new()).await
}

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    serve: ServeCmd,
}

#[derive(clap::Subcommand)]
enum ServeCmd {
    Serve(ServeArgs),
}

impl std::ops::Deref for ServeCmd {
    type Target = ServeArgs;
    fn deref(&self) -> &ServeArgs {
        match self {
            ServeCmd::Serve(a) => a,
        }
    }
}

async fn wait_ready(agent: &serve::Running) {
    for _ in 0..200 {
        if agent.agent.fleet.is_ready() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the agent's caches did not sync in 5 s");
}

/// Polls `check` every 100 ms until it gives a value; fails the test after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An HTTP answer: status, headers, body.
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Answer {
    /// The JSON-RPC message in the body (plain JSON, or the last `data:` line of an SSE stream).
    /// Every `data:` line of an SSE stream, as JSON.
    pub fn events(&self) -> Vec<Value> {
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).expect("SSE data is JSON"))
            .collect()
    }

    pub fn json(&self) -> Value {
        let ct = self.headers.get("content-type").and_then(|h| h.to_str().ok()).unwrap_or_default();
        if ct.starts_with("text/event-stream") {
            let data =
                self.body.lines().rev().filter_map(|l| l.strip_prefix("data:")).map(str::trim).find(|l| !l.is_empty());
            return serde_json::from_str(data.unwrap_or("null")).expect("SSE data is JSON");
        }
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub struct Mcp {
    pub url: String,
    http: HttpClient<HttpConnector, Full<Bytes>>,
    /// Sent as `Authorization: Bearer` on every request.
    token: Option<String>,
}

impl Mcp {
    pub fn new(url: String) -> Self {
        Self { url, http: HttpClient::builder(TokioExecutor::new()).build_http(), token: None }
    }

    /// The same client, authenticating with `token`.
    pub fn with_token(&self, token: &str) -> Mcp {
        Mcp { url: self.url.clone(), http: self.http.clone(), token: Some(token.to_string()) }
    }

    fn authorization(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    pub async fn post(&self, headers: &[(&str, &str)], body: &Value) -> Answer {
        self.post_to(&self.url, headers, body.to_string()).await
    }

    pub async fn post_to(&self, url: &str, headers: &[(&str, &str)], body: String) -> Answer {
        let mut req = hyper::Request::post(url).header("accept", "application/json, text/event-stream");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            req = req.header("content-type", "application/json");
        }
        if let Some(a) = self.authorization() {
            req = req.header("authorization", a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body))).expect("request");
        let resp = self.http.request(req).await.expect("HTTP");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
    }

    pub async fn get(&self, url: &str) -> Answer {
        self.get_with(url, &[]).await
    }

    pub async fn delete(&self, url: &str) -> Answer {
        self.send(hyper::Request::delete(url), &[]).await
    }

    pub async fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(hyper::Request::get(url), headers).await
    }

    /// A request without a body.
    async fn send(&self, mut req: hyper::http::request::Builder, headers: &[(&str, &str)]) -> Answer {
        if let Some(a) = self.authorization() {
            req = req.header("authorization", a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::new())).expect("request");
        let resp = self.http.request(req).await.expect("HTTP");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
    }

    /// A stateless 2026-07-28 request (no session).
    pub async fn request(&self, method: &str, name: Option<&str>, mut params: Value) -> Value {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": LATEST,
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let mut headers = vec![("mcp-protocol-version", LATEST), ("mcp-method", method)];
        if let Some(n) = name {
            headers.push(("mcp-name", n));
        }
        // A conforming client mirrors the `cluster` argument in its header.
        let params_headers =
            if method == "tools/call" { gitops_agent_api::tools::param_headers(&params["arguments"]) } else { vec![] };
        headers.extend(params_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let answer = self.post(&headers, &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})).await;
        assert_eq!(answer.status, 200, "{method}: HTTP {} {}", answer.status, answer.body);
        answer.json()
    }

    /// tools/call; returns the JSON-RPC response (result or error).
    pub async fn call(&self, tool: &str, args: Value) -> Value {
        self.request("tools/call", Some(tool), json!({"name": tool, "arguments": args})).await
    }

    /// tools/call that must succeed: (markdown, structuredContent).
    pub async fn ok(&self, tool: &str, args: Value) -> (String, Value) {
        let r = self.call(tool, args.clone()).await;
        let result = r.get("result").unwrap_or_else(|| panic!("{tool} {args}: {r}"));
        assert_ne!(result["isError"], json!(true), "{tool} {args}: {result}");
        (result["content"][0]["text"].as_str().expect("text").to_string(), result["structuredContent"].clone())
    }

    pub async fn tools(&self) -> Vec<Value> {
        let r = self.request("tools/list", None, json!({})).await;
        r["result"]["tools"].as_array().expect("tools").clone()
    }
}

/// A minimal A2A client of one agent: JSON-RPC at `/` and the HTTP+JSON paths.
pub struct A2a {
    pub base: String,
    pub http: Mcp,
}

impl A2a {
    pub fn new(env: &Env) -> A2a {
        A2a::of(&env.agent)
    }

    /// The client of another replica.
    pub fn of(agent: &serve::Running) -> A2a {
        A2a { base: agent.url(), http: Mcp::new(format!("{}/", agent.url())) }
    }

    pub async fn rpc_with(&self, headers: &[(&str, &str)], method: &str, params: Value) -> Answer {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        self.http.post_to(&format!("{}/", self.base), headers, body.to_string()).await
    }

    /// A JSON-RPC call that must answer with HTTP 200; returns the response object.
    pub async fn rpc(&self, headers: &[(&str, &str)], method: &str, params: Value) -> Value {
        let a = self.rpc_with(headers, method, params).await;
        assert_eq!(a.status, 200, "{method}: {}", a.body);
        let v = a.json();
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["id"], 7);
        v
    }

    pub async fn rest_post(&self, path: &str, headers: &[(&str, &str)], body: Value) -> Answer {
        self.http.post_to(&format!("{}{path}", self.base), headers, body.to_string()).await
    }

    pub async fn rest_get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.http.get_with(&format!("{}{path}", self.base), headers).await
    }
}

/// A webhook on 127.0.0.1 (push notification tests) that records what it gets (headers, JSON,
/// raw body) and answers from a script, then 200.
#[derive(Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Value, Bytes)>>>,
    answers: Arc<Mutex<VecDeque<StatusCode>>>,
}

impl Receiver {
    pub async fn start(answers: &[u16]) -> (Receiver, String) {
        let r = Receiver::default();
        r.answers.lock().expect("lock").extend(answers.iter().map(|s| StatusCode::from_u16(*s).expect("status")));
        let app = axum::Router::new().route("/hook", axum::routing::post(record)).with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, url)
    }

    pub fn got(&self) -> Vec<(HeaderMap, Value, Bytes)> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits until a notification satisfies `done`; returns all received by then.
    pub async fn until(&self, what: &str, done: impl Fn(&Value) -> bool) -> Vec<(HeaderMap, Value, Bytes)> {
        eventually(what, std::time::Duration::from_secs(10), || async {
            let got = self.got();
            got.iter().any(|(_, v, _)| done(v)).then_some(got)
        })
        .await
    }
}

async fn record(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.got.lock().expect("lock").push((headers, value, body));
    r.answers.lock().expect("lock").pop_front().unwrap_or(StatusCode::OK)
}
