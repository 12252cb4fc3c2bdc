//! The benchmarks' MCP load generator: virtual clients, each with its own session (or the
//! stateless 2026-07-28 form), calling one tool in a loop for a fixed time, loopback only.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

pub type Http = HttpClient<HttpConnector, Full<Bytes>>;

pub fn http() -> Http {
    // Without TCP_NODELAY a request written as headers then body waits out delayed ACKs (40 ms).
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    HttpClient::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build(connector)
}

/// The JSON-RPC message in a response body: plain JSON, or the last `data:` line of SSE.
fn message(bytes: &[u8]) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return Ok(v);
    }
    let text = String::from_utf8_lossy(bytes);
    let data = text.lines().rev().filter_map(|l| l.strip_prefix("data:")).map(str::trim).find(|l| !l.is_empty());
    serde_json::from_str(data.ok_or("no JSON-RPC message in the response")?).map_err(|e| e.to_string())
}

/// An MCP client: a 2025-06-18 session (`initialize` once) or stateless 2026-07-28 requests.
#[derive(Clone)]
pub struct Session {
    http: Http,
    url: String,
    session: Option<String>,
    version: &'static str,
}

impl Session {
    pub fn stateless(http: &Http, url: &str) -> Session {
        Session { http: http.clone(), url: url.to_string(), session: None, version: "2026-07-28" }
    }

    /// `initialize` then `notifications/initialized`, as every MCP client does once.
    pub async fn open(http: &Http, url: &str) -> Result<Session, String> {
        let mut s = Session { http: http.clone(), url: url.to_string(), session: None, version: "2025-06-18" };
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": s.version, "capabilities": {}, "clientInfo": {"name": "gitops-agent-bench", "version": "1"}}});
        let (headers, body) = s.post(&init, &[]).await?;
        message(&body)?.get("result").ok_or("initialize failed")?;
        s.session = headers.get("mcp-session-id").and_then(|h| h.to_str().ok()).map(String::from);
        s.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}), &[]).await?;
        Ok(s)
    }

    async fn post(&self, body: &Value, extra: &[(&str, &str)]) -> Result<(hyper::HeaderMap, Bytes), String> {
        let mut req = hyper::Request::post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", self.version);
        if let Some(id) = &self.session {
            req = req.header("mcp-session-id", id);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).map_err(|e| e.to_string())?;
        let resp = self.http.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
        }
        Ok((headers, bytes))
    }

    /// One tools/call; returns the response size. Tool errors count as errors.
    pub async fn call(&self, tool: &str, args: &Value) -> Result<usize, String> {
        self.answer(tool, args).await.map(|(_, size)| size)
    }

    /// One tools/call; returns its structured content and the response size.
    pub async fn answer(&self, tool: &str, args: &Value) -> Result<(Value, usize), String> {
        let (result, size) = self.request("tools/call", Some(tool), json!({"name": tool, "arguments": args})).await?;
        if result["isError"] == true {
            return Err(result.to_string().chars().take(300).collect());
        }
        Ok((result["structuredContent"].clone(), size))
    }

    /// Any request (`name`: what its Mcp-Name header carries); returns its result and the
    /// response size. A JSON-RPC error is an error.
    pub async fn request(&self, method: &str, name: Option<&str>, mut params: Value) -> Result<(Value, usize), String> {
        let mut extra: Vec<(&str, &str)> = Vec::new();
        if self.session.is_none() && self.version == "2026-07-28" {
            params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": self.version,
                "io.modelcontextprotocol/clientCapabilities": {}});
            extra.push(("mcp-method", method));
            if let Some(name) = name {
                extra.push(("mcp-name", name));
            }
        }
        // A 2026-07-28 client mirrors the `cluster` argument in its header.
        let mirrored = if self.version == "2026-07-28" && method == "tools/call" {
            gitops_agent_api::tools::param_headers(&params["arguments"])
        } else {
            vec![]
        };
        extra.extend(mirrored.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (_, bytes) = self.post(&body, &extra).await?;
        let mut v = message(&bytes)?;
        if v.get("error").is_some() {
            return Err(v.to_string().chars().take(300).collect());
        }
        Ok((v["result"].take(), bytes.len()))
    }

    /// A 2026-07-28 `subscriptions/listen` stream: the response body, to read notifications
    /// from as they come.
    pub async fn listen(&self, notifications: Value) -> Result<hyper::body::Incoming, String> {
        let params = json!({"notifications": notifications, "_meta": {
            "io.modelcontextprotocol/protocolVersion": self.version, "io.modelcontextprotocol/clientCapabilities": {}}});
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen", "params": params});
        let req = hyper::Request::post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", self.version)
            .header("mcp-method", "subscriptions/listen")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let resp = self.http.request(req).await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("subscriptions/listen: HTTP {}", resp.status()));
        }
        Ok(resp.into_body())
    }
}

pub struct Measured {
    pub calls: u64,
    pub errors: u64,
    pub seconds: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub bytes: usize,
}

impl Measured {
    pub fn per_second(&self) -> f64 {
        self.calls as f64 / self.seconds.max(1e-9)
    }
}

/// `concurrency` virtual clients, each opened by `open`, call `tool` until `duration` is over.
/// Calls still running then get `grace` to finish; later ones are abandoned (counted as errors).
pub async fn measure<F, Fut>(
    open: F,
    tool: &str,
    args: &Value,
    concurrency: usize,
    duration: Duration,
    grace: Duration,
) -> Measured
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Session, String>>,
{
    let mut sessions = Vec::new();
    let mut errors = 0;
    for _ in 0..concurrency {
        match open().await {
            Ok(s) => sessions.push(s),
            Err(e) => {
                eprintln!("opening a session: {e}");
                errors += 1;
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(errors));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for session in sessions {
        let (tool, args, stop, failed) = (tool.to_string(), args.clone(), stop.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match session.call(&tool, &args).await {
                    Ok(n) => {
                        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        bytes = n;
                    }
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("{tool}: {e}");
                        }
                    }
                }
            }
            (latencies, bytes)
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + grace;
    let mut all = Vec::new();
    let mut bytes = 0;
    for mut t in tasks {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, &mut t).await {
            Ok(Ok((l, b))) => {
                all.extend(l);
                bytes = bytes.max(b);
            }
            _ => {
                t.abort();
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| if all.is_empty() { 0.0 } else { all[((all.len() as f64 * p) as usize).min(all.len() - 1)] };
    Measured {
        calls: all.len() as u64,
        errors: failed.load(Ordering::Relaxed),
        seconds,
        p50: pct(0.5),
        p90: pct(0.9),
        p99: pct(0.99),
        bytes,
    }
}
