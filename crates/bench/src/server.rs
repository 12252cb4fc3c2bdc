//! `make bench-server`: the agent server (release build, its own process) against the embedded
//! API server holding 1,000 and 10,000 Kustomizations. Prints startup-to-ready, RSS idle and
//! under load, and for each tool and concurrency (1, 8, 64): calls/s, p50/p90/p99 latency,
//! errors, response size and API requests per call. Asserts nothing.
//!
//! Environment: BENCH_SIZES (default `1000,10000`), BENCH_CONCURRENCY (default `1,8,64`),
//! BENCH_SECONDS per measurement (default 5).

use std::time::Duration;

use fake_apiserver::fixtures::Scale;
use fake_apiserver::process::rss_mib;
use serde_json::json;

use crate::load::{self, Session, measure};
use crate::{Outcome, estate, knobs, paths, process};

async fn size(
    kustomizations: usize,
    concurrencies: &[usize],
    duration: Duration,
    rows: &mut Vec<String>,
    starts: &mut Vec<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let namespaces = (kustomizations / 100).max(10);
    let scale =
        Scale { namespaces, kustomizations_per_namespace: kustomizations / namespaces, helmreleases_per_namespace: 10 };
    let (running, objects) = estate::start(scale).await?;
    let dir = paths::scratch(&format!("server-bench-{kustomizations}"))?;
    let kubeconfig = dir.join("kubeconfig");
    running.write_kubeconfig(&kubeconfig)?;
    let port = process::free_port()?;
    let http = load::http();
    let agent = process::start(process::agent(port, &kubeconfig)?, port, &dir.join("agent.log"), &http, true).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_mib(agent.pid);
    starts.push(format!("| {kustomizations} | {objects} | {:.2} | {idle:.1} |", agent.ready_after.as_secs_f64()));
    let cases = [
        ("list_kustomizations", json!({})),
        ("list_kustomizations", json!({"namespace": "tenant-000"})),
        ("list_kustomizations", json!({"status_filter": "failed", "limit": 500})),
        ("get_gitops_status", json!({})),
    ];
    for (tool, args) in &cases {
        for &c in concurrencies {
            let before = running.stats();
            let open = || async { Ok(Session::stateless(&http, &agent.url)) };
            let m = measure(open, tool, args, c, duration, Duration::from_secs(10)).await;
            let during = running.stats().since(&before);
            let api = during.beyond_discovery();
            let args_text =
                if args.as_object().is_some_and(|o| o.is_empty()) { String::new() } else { format!(" `{args}`") };
            rows.push(format!(
                "| {kustomizations} | {tool}{args_text} | {c} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.3} | {:.1} |",
                m.per_second(),
                m.p50,
                m.p90,
                m.p99,
                m.errors,
                m.bytes as f64 / 1024.0,
                api as f64 / m.calls.max(1) as f64,
                rss_mib(agent.pid),
            ));
        }
    }
    Ok(())
}

pub async fn run() -> Outcome {
    let concurrencies = knobs::list("BENCH_CONCURRENCY", &[1, 8, 64]);
    let seconds = knobs::number("BENCH_SECONDS", 5);
    let mut rows = Vec::new();
    let mut starts = Vec::new();
    for n in knobs::list("BENCH_SIZES", &[1000, 10000]) {
        size(n, &concurrencies, Duration::from_secs(seconds), &mut rows, &mut starts).await?;
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
