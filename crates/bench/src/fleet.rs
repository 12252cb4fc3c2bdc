//! `make bench-fleet`: one agent (release build, its own process) answering for its own cluster
//! plus 20 workload clusters (21 embedded API servers in the bench process, about 500 Flux
//! objects each), against the same agent answering for its own cluster alone, measured in the
//! same run. Prints time to every cluster reachable, RSS idle and under load (and per added
//! cluster), `fleet_health_summary` latency at concurrency 1 and 8, and the same with one
//! workload cluster down. Writes bench/results/<date>-fleet.md. Asserts nothing.
//!
//! Environment: BENCH_CLUSTERS (default 20), BENCH_SECONDS per measurement (default 2),
//! BENCH_OUT (default `bench/results`).

use std::path::Path;
use std::time::{Duration, Instant};

use fake_apiserver::fixtures::Scale;
use fake_apiserver::process::rss_mib;
use serde_json::{Value, json};

use crate::load::{self, Http, Measured, Session, measure};
use crate::process::{self, Started};
use crate::{Outcome, estate, knobs, paths};

/// 5 namespaces × (80 Kustomizations + 20 HelmReleases), plus a GitRepository each: ≈ 500.
const SCALE: Scale = Scale { namespaces: 5, kustomizations_per_namespace: 80, helmreleases_per_namespace: 20 };

/// The agent for `kubeconfig`'s cluster and, with `dir`, for every cluster with a kubeconfig file
/// there.
async fn start(kubeconfig: &Path, dir: Option<&Path>, log: &Path, http: &Http) -> Result<Started, String> {
    let port = process::free_port()?;
    let mut cmd = process::agent(port, kubeconfig)?;
    // The bench's own calls must not be rate limited.
    cmd.args(["--stale-seconds=2", "--rate-limit-per-client=0"]);
    if let Some(dir) = dir {
        cmd.arg(format!("--clusters-dir={}", dir.display())).arg("--clusters-sync-seconds=1");
    }
    process::start(cmd, port, log, http, true).await
}

/// The structured answer of one tool call.
async fn ask(http: &Http, url: &str, tool: &str, args: Value) -> Result<Value, String> {
    Session::stateless(http, url).answer(tool, &args).await.map(|(v, _)| v)
}

/// Seconds until `fleet_health_summary` finds `want` clusters reachable.
async fn until_reachable(http: &Http, url: &str, want: usize) -> Result<f64, String> {
    let started = Instant::now();
    loop {
        let s = ask(http, url, "fleet_health_summary", json!({})).await?;
        let up = s["clusters"].as_array().map_or(0, |c| c.iter().filter(|c| c["reachable"] == true).count());
        if up >= want {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!("only {up}/{want} clusters reachable after 120 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Row {
    setup: String,
    question: &'static str,
    concurrency: usize,
    m: Measured,
    rss: f64,
}

async fn measure_at_1_and_8(
    http: &Http,
    agent: &Started,
    setup: &str,
    question: &'static str,
    args: &Value,
    seconds: u64,
    rows: &mut Vec<Row>,
) {
    for c in [1, 8] {
        let open = || Session::open(http, &agent.url);
        let m = measure(open, question, args, c, Duration::from_secs(seconds), Duration::from_secs(15)).await;
        rows.push(Row { setup: setup.into(), question, concurrency: c, m, rss: rss_mib(agent.pid) });
    }
}

pub async fn run() -> Outcome {
    let n = knobs::number("BENCH_CLUSTERS", 20) as usize;
    let seconds = knobs::number("BENCH_SECONDS", 2);
    let work = paths::scratch("fleet-bench")?;
    let dir = work.join("clusters");
    std::fs::create_dir_all(&dir)?;
    let (local, per_cluster) = estate::start(SCALE).await?;
    let kubeconfig = work.join("kubeconfig");
    local.write_kubeconfig(&kubeconfig)?;
    let mut workloads = Vec::new();
    for i in 0..n {
        let (api, _) = estate::start(SCALE).await?;
        std::fs::write(dir.join(format!("workload-{i:02}")), api.kubeconfig())?;
        workloads.push(api);
    }
    eprintln!("fleet: 1 + {n} clusters × {per_cluster} objects");
    let http = load::http();
    let mut rows = Vec::new();

    // Baseline: the same agent for its own cluster alone.
    let started = Instant::now();
    let alone = start(&kubeconfig, None, &work.join("alone.log"), &http).await?;
    until_reachable(&http, &alone.url, 1).await?;
    let alone_ready = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let alone_idle = rss_mib(alone.pid);
    measure_at_1_and_8(&http, &alone, "1 cluster", "fleet_health_summary", &json!({}), seconds, &mut rows).await;
    drop(alone);

    let started = Instant::now();
    let fleet = start(&kubeconfig, Some(&dir), &work.join("fleet.log"), &http).await?;
    until_reachable(&http, &fleet.url, n + 1).await?;
    let fleet_ready = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fleet_idle = rss_mib(fleet.pid);
    let setup = format!("1 + {n} clusters");
    measure_at_1_and_8(&http, &fleet, &setup, "fleet_health_summary", &json!({}), seconds, &mut rows).await;
    measure_at_1_and_8(
        &http,
        &fleet,
        &setup,
        "list_kustomizations",
        &json!({"cluster": "workload-00"}),
        seconds,
        &mut rows,
    )
    .await;
    let fleet_peak = rows.iter().map(|r| r.rss).fold(fleet_idle, f64::max);

    // One workload cluster goes away: it is reported, the answer for the rest is not held up.
    workloads.remove(0).stop();
    let started = Instant::now();
    loop {
        let s = ask(&http, &fleet.url, "fleet_health_summary", json!({})).await?;
        let down = s["clusters"].as_array().is_some_and(|c| c.iter().any(|c| c["reachable"] == false));
        if down || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let detected = started.elapsed().as_secs_f64();
    measure_at_1_and_8(
        &http,
        &fleet,
        &format!("{setup}, 1 down"),
        "fleet_health_summary",
        &json!({}),
        seconds,
        &mut rows,
    )
    .await;

    let cpus = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
    let date = paths::today();
    let mut report = format!(
        "## Fleet: 1 + {n} clusters × {per_cluster} Flux objects ({date}, {cpus} CPUs, release build, {} embedded API servers over HTTPS in the bench process; {seconds} s per measurement)\n\n",
        n + 1
    );
    report.push_str("| setup | question | concurrency | calls/s | p50 ms | p90 ms | p99 ms | errors | RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n");
    for r in &rows {
        report.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.1} |\n",
            r.setup,
            r.question,
            r.concurrency,
            r.m.per_second(),
            r.m.p50,
            r.m.p90,
            r.m.p99,
            r.m.errors,
            r.rss
        ));
    }
    let per_added = (fleet_idle - alone_idle) / n as f64;
    report.push_str(&format!(
        "\n| | 1 cluster | 1 + {n} clusters | ratio |\n|---|---|---|---|\n\
         | ready (every cluster reachable), s | {alone_ready:.2} | {fleet_ready:.2} | {:.1}× |\n\
         | RSS idle, MiB | {alone_idle:.1} | {fleet_idle:.1} | {:.1}× |\n\
         | RSS peak under load, MiB | | {fleet_peak:.1} | |\n\
         | RSS per added cluster, MiB | | {per_added:.2} | |\n\
         | a stopped cluster reported unreachable after, s | | {detected:.1} | |\n",
        fleet_ready / alone_ready.max(1e-9),
        fleet_idle / alone_idle.max(1e-9),
    ));
    println!("{report}");
    paths::save_report("fleet", "md", &report)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
