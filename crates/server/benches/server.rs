//! `make bench-server`: the agent server (release build, its own process) against the embedded
//! API server holding 1,000 and 10,000 Kustomizations. Prints startup-to-ready, RSS idle and
//! under load, and for each tool and concurrency (1, 8, 64): calls/s, p50/p90/p99 latency,
//! errors, response size and API requests per call. Asserts nothing.
//!
//! Environment: BENCH_SIZES (default `1000,10000`), BENCH_CONCURRENCY (default `1,8,64`),
//! BENCH_SECONDS per measurement (default 5).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fake_apiserver::fixtures::{self, Scale};
use fake_apiserver::process::{KillOnDrop, rss_mib};
use fake_apiserver::{Config, Listen};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

type Http = HttpClient<HttpConnector, Full<Bytes>>;

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|_| default.to_vec())
}

/// One MCP tools/call in the stateless 2026-07-28 form; returns the response size.
async fn call(http: &Http, url: &str, tool: &str, args: &Value) -> Result<usize, String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args,
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
    let req = hyper::Request::post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let resp = http.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if v.get("error").is_some() || v["result"]["isError"] == true {
        return Err(v.to_string());
    }
    Ok(bytes.len())
}

struct Measured {
    calls: u64,
    errors: u64,
    seconds: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    bytes: usize,
}

async fn measure(http: &Http, url: &str, tool: &str, args: &Value, concurrency: usize, duration: Duration) -> Measured {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, tool, args, stop, errors) =
            (http.clone(), url.to_string(), tool.to_string(), args.clone(), stop.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match call(&http, &url, &tool, &args).await {
                    Ok(n) => {
                        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        bytes = n;
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
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
    let mut all = Vec::new();
    let mut bytes = 0;
    for t in tasks {
        if let Ok((l, b)) = t.await {
            all.extend(l);
            bytes = bytes.max(b);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| if all.is_empty() { 0.0 } else { all[((all.len() as f64 * p) as usize).min(all.len() - 1)] };
    Measured {
        calls: all.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        seconds,
        p50: pct(0.5),
        p90: pct(0.9),
        p99: pct(0.99),
        bytes,
    }
}

async fn run(
    kustomizations: usize,
    concurrencies: &[usize],
    duration: Duration,
    rows: &mut Vec<String>,
    starts: &mut Vec<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let running = fake_apiserver::start(Config::default(), Listen::default()).await?;
    fixtures::load_crds(&running.server, &root.join("examples/fixtures/crds"))?;
    let namespaces = (kustomizations / 100).max(10);
    let scale =
        Scale { namespaces, kustomizations_per_namespace: kustomizations / namespaces, helmreleases_per_namespace: 10 };
    let objects = fixtures::load_scale(&running.server, scale).map_err(|e| format!("generating the estate: {e:?}"))?;
    let dir = std::env::temp_dir().join(format!("server-bench-{}-{kustomizations}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let kubeconfig = dir.join("kubeconfig");
    running.write_kubeconfig(&kubeconfig)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_gitops-agent"))
        .args(["serve", "--bind-address=127.0.0.1", "--metrics-port=0", "--log-level=error"])
        .arg(format!("--port={port}"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("agent.log"))?)
        .spawn()?;
    let pid = child.id();
    let _stop = KillOnDrop(child);
    let http: Http = HttpClient::builder(TokioExecutor::new()).pool_max_idle_per_host(128).build_http();
    let base = format!("http://127.0.0.1:{port}");
    let ready_after = loop {
        let req = hyper::Request::get(format!("{base}/readyz")).body(Full::new(Bytes::new()))?;
        if let Ok(resp) = http.request(req).await
            && resp.status().is_success()
        {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err("the agent was not ready after 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_mib(pid);
    starts.push(format!("| {kustomizations} | {objects} | {:.2} | {idle:.1} |", ready_after.as_secs_f64()));
    let url = format!("{base}/mcp");
    let cases = [
        ("list_kustomizations", json!({})),
        ("list_kustomizations", json!({"namespace": "tenant-000"})),
        ("list_kustomizations", json!({"status_filter": "failed", "limit": 500})),
        ("get_gitops_status", json!({})),
    ];
    for (tool, args) in &cases {
        for &c in concurrencies {
            let before = running.stats();
            let m = measure(&http, &url, tool, args, c, duration).await;
            let during = running.stats().since(&before);
            let api: u64 = during.requests.iter().filter(|(k, _)| !k.contains("discovery")).map(|(_, v)| v).sum();
            let args_text =
                if args.as_object().is_some_and(|o| o.is_empty()) { String::new() } else { format!(" `{args}`") };
            rows.push(format!(
                "| {kustomizations} | {tool}{args_text} | {c} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.3} | {:.1} |",
                m.calls as f64 / m.seconds,
                m.p50,
                m.p90,
                m.p99,
                m.errors,
                m.bytes as f64 / 1024.0,
                api as f64 / m.calls.max(1) as f64,
                rss_mib(pid),
            ));
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes = env_list("BENCH_SIZES", &[1000, 10000]);
    let concurrencies = env_list("BENCH_CONCURRENCY", &[1, 8, 64]);
    let seconds = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let mut rows = Vec::new();
    let mut starts = Vec::new();
    for n in sizes {
        run(n, &concurrencies, Duration::from_secs(seconds), &mut rows, &mut starts).await?;
    }
    println!("## Agent server (release build, own process; embedded API server over HTTPS in the bench process)\n");
    println!("| Kustomizations | objects in the API server | seconds to ready | RSS MiB idle |");
    println!("|---|---|---|---|");
    for r in starts {
        println!("{r}");
    }
    println!();
    println!(
        "| Kustomizations | tool call | concurrency | calls/s | p50 ms | p90 ms | p99 ms | errors | response KiB | API requests per call | RSS MiB under load |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
