//! What the fuzz targets share: splitting one input into parts, and for the targets that go
//! through the server's HTTP stack, one real agent (`gitops-agent serve`, read-write, so the
//! mutating tools are reachable too) against the embedded API server loaded with the fixture
//! cluster, started once per fuzzing process, and the checks every answer must pass.

use std::sync::OnceLock;
use std::time::Duration;

use clap::Parser;
use fake_apiserver::{Config, Listen, Running};
use gitops_agent_server::serve::{self, ServeArgs};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The parts of an input separated by NUL bytes (the dictionaries never contain one), padded
/// with empty parts up to `n`.
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |b| *b == 0).collect();
    out.resize(n, &[]);
    out
}

/// The input as JSON, when it is JSON.
pub fn json(data: &[u8]) -> Option<Value> {
    serde_json::from_slice(data).ok()
}

/// The MCP version clients speak without a session.
pub const STATELESS: &str = "2026-07-28";
/// The MCP version of session clients.
pub const SESSION: &str = "2025-11-25";

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    /// The JSON-RPC message of a JSON answer (or the last `data:` event of a stream).
    pub fn message(&self) -> Option<Value> {
        if self.content_type.starts_with("text/event-stream") {
            let data = self.body.lines().rev().filter_map(|l| l.strip_prefix("data:")).map(str::trim).find(|l| !l.is_empty())?;
            return serde_json::from_str(data).ok();
        }
        if self.content_type.starts_with("application/json") {
            return serde_json::from_str(&self.body).ok();
        }
        None
    }

    /// What every answer must be: not a server error, and a JSON body that parses, whose
    /// JSON-RPC responses carry exactly one of `result` and `error`.
    pub fn check(&self, what: &str) {
        assert!(self.status < 500, "{what}: HTTP {} {}", self.status, self.body);
        if self.content_type.starts_with("application/json") {
            let v: Value = serde_json::from_str(&self.body)
                .unwrap_or_else(|e| panic!("{what}: a JSON answer that does not parse ({e}): {}", self.body));
            if v.get("jsonrpc").is_some() && v.get("method").is_none() {
                assert!(v.get("result").is_some() != v.get("error").is_some(), "{what}: {v}");
            }
        }
    }
}

/// The agent under test.
pub struct Agent {
    pub runtime: tokio::runtime::Runtime,
    pub base: String,
    /// An MCP session opened with `initialize` (for bodies in the 2025 era's shape).
    pub session: String,
    http: Client<HttpConnector, Full<Bytes>>,
    _api: Running,
    _agent: serve::Running,
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// A Rust program's `main` ignores SIGPIPE before it runs, so the shipped agent sees a write to a
/// connection its peer reset as an EPIPE error. libFuzzer's C++ `main` does not, and the agent and
/// the API server in this process write to dozens of sockets (`writev`, which cannot opt out per
/// call): a watch or keep-alive connection reset at the wrong moment killed the whole fuzzing
/// process with SIGPIPE (exit 141, no crash report). Ignoring it here runs the code as it ships.
fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code; the disposition
    // is the process's, so libFuzzer's threads, already running, are covered as well.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    assert_ne!(previous, libc::SIG_ERR, "ignoring SIGPIPE");
}

/// The agent, started at the first call of the process.
pub fn agent() -> &'static Agent {
    static AGENT: OnceLock<Agent> = OnceLock::new();
    AGENT.get_or_init(start)
}

fn start() -> Agent {
    ignore_sigpipe();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let (api, agent) = runtime.block_on(async {
        let api = fake_apiserver::start(Config::default(), Listen::default()).await.expect("the embedded API server");
        fake_apiserver::fixtures::load_dir(&api.server, &repo("examples/fixtures")).expect("the fixture cluster");
        let dir = std::env::temp_dir().join(format!("gitops-agent-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let kubeconfig = dir.join("kubeconfig");
        api.write_kubeconfig(&kubeconfig).expect("a kubeconfig");
        let args = Cli::parse_from([
            "gitops-agent".to_string(),
            format!("--kubeconfig={}", kubeconfig.display()),
            "--bind-address=127.0.0.1".into(),
            "--port=0".into(),
            "--metrics-port=0".into(),
            "--read-only=false".into(),
            "--log-level=off".into(),
            "--tool-timeout-seconds=5".into(),
            "--fixed-now=2026-11-24T10:30:00Z".into(),
            // Push configs are parsed and stored; a delivery the fuzzer sets up tries once, briefly.
            "--a2a-push-attempts=1".into(),
            "--a2a-push-timeout-seconds=1".into(),
        ])
        .serve;
        let agent = serve::start_http(&args, CancellationToken::new()).await.expect("the agent server");
        for _ in 0..400 {
            if agent.agent.fleet.is_ready() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(agent.agent.fleet.is_ready(), "the agent's caches did not sync");
        (api, agent)
    });
    let base = agent.url();
    let mut a = Agent {
        runtime,
        base,
        session: String::new(),
        http: Client::builder(TokioExecutor::new()).build_http(),
        _api: api,
        _agent: agent,
    };
    a.session = a.open_session();
    a
}

impl Agent {
    /// POSTs `body` to `path` with `headers`.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        self.runtime.block_on(async {
            let mut request = hyper::Request::post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream");
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let request = request.body(Full::new(Bytes::from(body))).expect("a request");
            let response = tokio::time::timeout(Duration::from_secs(30), self.http.request(request))
                .await
                .expect("an answer within 30 s")
                .expect("the agent answers (a dropped connection is a panic in a handler)");
            let status = response.status().as_u16();
            let content_type =
                response.headers().get("content-type").and_then(|h| h.to_str().ok()).unwrap_or_default().to_string();
            let body = tokio::time::timeout(Duration::from_secs(30), response.into_body().collect())
                .await
                .expect("a whole body within 30 s")
                .expect("a body")
                .to_bytes();
            Answer { status, content_type, body: String::from_utf8_lossy(&body).into_owned() }
        })
    }

    /// GETs `path`.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.runtime.block_on(async {
            let mut request = hyper::Request::get(format!("{}{path}", self.base));
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let request = request.body(Full::new(Bytes::new())).expect("a request");
            let response = self.http.request(request).await.expect("the agent answers");
            let status = response.status().as_u16();
            let content_type =
                response.headers().get("content-type").and_then(|h| h.to_str().ok()).unwrap_or_default().to_string();
            let body = response.into_body().collect().await.expect("a body").to_bytes();
            Answer { status, content_type, body: String::from_utf8_lossy(&body).into_owned() }
        })
    }

    /// A stateless MCP request: the protocol version and method in the headers and `_meta`.
    pub fn mcp_stateless(&self, method: &str, name: Option<&str>, body: Vec<u8>) -> Answer {
        let mut headers = vec![("mcp-protocol-version", STATELESS), ("mcp-method", method)];
        if let Some(name) = name {
            headers.push(("mcp-name", name));
        }
        self.post("/mcp", &headers, body)
    }

    /// A stateless tools/call as a conforming client sends it: with its `cluster` argument
    /// mirrored in the `Mcp-Param-Cluster` header.
    pub fn mcp_tool_call(&self, tool: &str, arguments: &serde_json::Value, body: Vec<u8>) -> Answer {
        let mirrored = gitops_agent_api::tools::param_headers(arguments);
        let mut headers = vec![("mcp-protocol-version", STATELESS), ("mcp-method", "tools/call"), ("mcp-name", tool)];
        headers.extend(mirrored.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.post("/mcp", &headers, body)
    }

    /// A request in the session opened at start.
    pub fn mcp_in_session(&self, body: Vec<u8>) -> Answer {
        self.post("/mcp", &[("mcp-protocol-version", SESSION), ("mcp-session-id", &self.session)], body)
    }

    fn open_session(&self) -> String {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": SESSION,
            "capabilities": {}, "clientInfo": {"name": "gitops-agent-fuzz", "version": "1"}}});
        let session = self.runtime.block_on(async {
            let request = hyper::Request::post(format!("{}/mcp", self.base))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(Full::new(Bytes::from(init.to_string())))
                .expect("a request");
            let response = self.http.request(request).await.expect("initialize answers");
            response.headers().get("mcp-session-id").and_then(|h| h.to_str().ok()).expect("a session id").to_string()
        });
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string().into_bytes();
        let answer = self.post("/mcp", &[("mcp-protocol-version", SESSION), ("mcp-session-id", &session)], initialized);
        assert!(answer.status < 300, "notifications/initialized: {}", answer.status);
        session
    }

    /// After a failed check: the agent still answers, so the failure was the input's answer, not
    /// a dead server.
    pub fn alive(&self) -> bool {
        self.get("/healthz", &[]).status == 200
    }
}

/// Stateless `_meta` for a request body's `params`.
pub fn stateless_meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": STATELESS, "io.modelcontextprotocol/clientCapabilities": {}})
}
