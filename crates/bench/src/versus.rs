//! `make bench-versus`: gitops-agent against the peer Go MCP server `kubernetes-mcp-server`
//! (npm package, started in Streamable HTTP mode, read-only) on the same embedded API server,
//! asked the same questions by the same load generator: every virtual client opens an MCP
//! session once (2025-06-18 `initialize`), then calls one tool in a loop. For 100, 1,000 and
//! 10,000 Kustomizations and concurrency 1, 8 and 64 it prints calls/s, p50/p90/p99, errors,
//! response size, API-server requests per call and RSS, then the ratios ours/peer; it writes the
//! tables to bench/results/<date>-versus.md and the figures to <date>-versus.json (for the plot).
//! Asserts nothing.
//!
//! Environment: PEER_BIN (the peer's binary; `make bench-versus` installs it from npm),
//! BENCH_SIZES (default `100,1000,10000`), BENCH_CONCURRENCY (default `1,8,64`), BENCH_SECONDS per
//! measurement (default 2), BENCH_OUT (default `bench/results`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fake_apiserver::fixtures::Scale;
use fake_apiserver::process::rss_mib;
use serde_json::{Value, json};

use crate::load::{self, Http, Session, measure};
use crate::process::{self, Started};
use crate::{Outcome, estate, knobs, paths};

/// From concurrency 8 on, the peer is held at about 5 calls/s by its client's request rate limit
/// (client-go's default QPS), so higher concurrency only queues: each such row costs 2 s plus a
/// 13 s tail. They are measured at 1,000 Kustomizations only, to keep `make bench` under 15 minutes.
const PEER_MAX_CONCURRENCY: usize = 8;

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Ours,
    Peer,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Ours => "gitops-agent",
            Server::Peer => "kubernetes-mcp-server",
        }
    }
}

/// One question, as each server is asked it.
struct Case {
    label: &'static str,
    ours: (&'static str, Value),
    peer: (&'static str, Value),
}

fn cases() -> Vec<Case> {
    let ks = |extra: Value| {
        let mut v = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization"});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    };
    vec![
        Case {
            label: "list Kustomizations, all namespaces",
            ours: ("list_kustomizations", json!({})),
            peer: ("resources_list", ks(json!({}))),
        },
        Case {
            label: "list Kustomizations, one namespace",
            ours: ("list_kustomizations", json!({"namespace": "tenant-000"})),
            peer: ("resources_list", ks(json!({"namespace": "tenant-000"}))),
        },
        Case {
            label: "get one Kustomization",
            ours: ("get_kustomization", json!({"name": "app-0009", "namespace": "tenant-000"})),
            peer: ("resources_get", ks(json!({"name": "app-0009", "namespace": "tenant-000"}))),
        },
        Case {
            label: "events of one namespace",
            ours: ("get_events", json!({"namespace": "tenant-000"})),
            peer: ("events_list", json!({"namespace": "tenant-000"})),
        },
    ]
}

struct Row {
    server: Server,
    size: usize,
    case: &'static str,
    concurrency: usize,
    per_second: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    errors: u64,
    kib: f64,
    api_per_call: f64,
    rss: f64,
}

struct Start {
    server: Server,
    size: usize,
    ready: f64,
    idle: f64,
    peak: f64,
}

/// Starts a server and waits until it answers an MCP `initialize` (and, for ours, `/readyz`):
/// what a client would call ready.
async fn start(server: Server, kubeconfig: &Path, log: &Path, http: &Http) -> Result<Started, String> {
    let port = process::free_port()?;
    let cmd = match server {
        Server::Ours => process::agent(port, kubeconfig)?,
        Server::Peer => {
            let bin =
                std::env::var("PEER_BIN").map_err(|_| "PEER_BIN is not set (make bench-versus installs the peer)")?;
            let mut c = Command::new(bin);
            c.args(["--bind-address", "127.0.0.1", "--read-only", "--disable-multi-cluster", "--log-level", "0"])
                .arg("--port")
                .arg(port.to_string())
                .arg("--kubeconfig")
                .arg(kubeconfig);
            c
        }
    };
    process::start(cmd, port, log, http, server == Server::Ours).await
}

async fn run_size(
    size: usize,
    concurrencies: &[usize],
    duration: Duration,
    rows: &mut Vec<Row>,
    starts: &mut Vec<Start>,
) -> Result<(), Box<dyn std::error::Error>> {
    let namespaces = (size / 100).clamp(10, 100);
    let scale = Scale { namespaces, kustomizations_per_namespace: size / namespaces, helmreleases_per_namespace: 5 };
    let (api, _) = estate::start(scale).await?;
    let dir = paths::scratch(&format!("versus-bench-{size}"))?;
    let kubeconfig = dir.join("kubeconfig");
    api.write_kubeconfig(&kubeconfig)?;
    let http = load::http();
    for server in [Server::Ours, Server::Peer] {
        let started = start(server, &kubeconfig, &dir.join(format!("{}.log", server.name())), &http).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = rss_mib(started.pid);
        let mut peak = idle;
        for case in cases() {
            let (tool, args) = if server == Server::Ours { &case.ours } else { &case.peer };
            for &c in concurrencies {
                if server == Server::Peer && c > PEER_MAX_CONCURRENCY && size != 1000 {
                    continue;
                }
                let before = api.stats();
                let open = || Session::open(&http, &started.url);
                let m = measure(open, tool, args, c, duration, Duration::from_secs(15)).await;
                let during = api.stats().since(&before);
                let requests = during.beyond_discovery();
                let rss = rss_mib(started.pid);
                peak = peak.max(rss);
                rows.push(Row {
                    server,
                    size,
                    case: case.label,
                    concurrency: c,
                    per_second: m.per_second(),
                    p50: m.p50,
                    p90: m.p90,
                    p99: m.p99,
                    errors: m.errors,
                    kib: m.bytes as f64 / 1024.0,
                    api_per_call: requests as f64 / m.calls.max(1) as f64,
                    rss,
                });
            }
        }
        starts.push(Start { server, size, ready: started.ready_after.as_secs_f64(), idle, peak });
        drop(started);
    }
    Ok(())
}

fn tables(rows: &[Row], starts: &[Start]) -> String {
    let mut out = String::new();
    out.push_str("| server | Kustomizations | seconds to ready | RSS MiB idle | RSS MiB peak under load |\n|---|---|---|---|---|\n");
    for s in starts {
        out.push_str(&format!(
            "| {} | {} | {:.2} | {:.1} | {:.1} |\n",
            s.server.name(),
            s.size,
            s.ready,
            s.idle,
            s.peak
        ));
    }
    out.push_str("\n| server | Kustomizations | question | concurrency | calls/s | p50 ms | p90 ms | p99 ms | errors | response KiB | API requests per call | RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.2} | {:.1} |\n",
            r.server.name(),
            r.size,
            r.case,
            r.concurrency,
            r.per_second,
            r.p50,
            r.p90,
            r.p99,
            r.errors,
            r.kib,
            r.api_per_call,
            r.rss
        ));
    }
    out.push_str("\nRatios, ours / peer (throughput: higher is better for us; p99 ours vs p50 peer: below 1 means our slowest calls beat the peer's median):\n\n| Kustomizations | question | concurrency | throughput ×  | p99 ours ÷ p50 peer | response size ours ÷ peer |\n|---|---|---|---|---|---|\n");
    for ours in rows.iter().filter(|r| r.server == Server::Ours) {
        if let Some(peer) = rows.iter().find(|p| {
            p.server == Server::Peer && p.size == ours.size && p.case == ours.case && p.concurrency == ours.concurrency
        }) {
            let ratio = |a: f64, b: f64| if b > 0.0 { format!("{:.1}", a / b) } else { "n/a".into() };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                ours.size,
                ours.case,
                ours.concurrency,
                ratio(ours.per_second, peer.per_second),
                if peer.p50 > 0.0 { format!("{:.3}", ours.p99 / peer.p50) } else { "n/a".into() },
                ratio(ours.kib, peer.kib),
            ));
        }
    }
    out
}

fn figures(rows: &[Row]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| {
                json!({"server": r.server.name(), "size": r.size, "case": r.case, "concurrency": r.concurrency,
                    "callsPerSecond": r.per_second, "p50": r.p50, "p90": r.p90, "p99": r.p99, "errors": r.errors,
                    "responseKiB": r.kib, "apiRequestsPerCall": r.api_per_call, "rssMiB": r.rss})
            })
            .collect(),
    )
}

pub async fn run() -> Outcome {
    let concurrencies = knobs::list("BENCH_CONCURRENCY", &[1, 8, 64]);
    let seconds = knobs::number("BENCH_SECONDS", 2);
    let mut rows = Vec::new();
    let mut starts = Vec::new();
    for size in knobs::list("BENCH_SIZES", &[100, 1000, 10000]) {
        eprintln!("versus: {size} Kustomizations");
        run_size(size, &concurrencies, Duration::from_secs(seconds), &mut rows, &mut starts).await?;
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let date = paths::today();
    let report = format!(
        "## gitops-agent vs kubernetes-mcp-server ({date}, {cpus} CPUs, release build, one embedded API server over HTTPS in the bench process; {seconds} s per measurement)\n\n{}",
        tables(&rows, &starts)
    );
    println!("{report}");
    paths::save_report("versus", "md", &report)?;
    paths::save_report("versus", "json", &serde_json::to_string_pretty(&figures(&rows))?)?;
    Ok(())
}
