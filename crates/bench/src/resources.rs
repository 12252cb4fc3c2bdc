//! `make bench-resources`: MCP resources at scale, against the release agent in its own process
//! and an embedded API server in this one.
//!
//! 1. Subscriptions: 1,000 Kustomizations, all subscribed on one 2026-07-28
//!    `subscriptions/listen` stream, while their statuses change at 100 per second (each object
//!    every 10 s, written by the API server's own status path). Per run: changes made,
//!    `notifications/resources/updated` received, latency from the write to the notification
//!    (p50/p99), and the agent's CPU (share of one core) and RSS. Runs: the same churn with no
//!    subscriber (the baseline: what watching costs), with the default debounce window (200 ms),
//!    and with none (0 ms: the pipeline alone).
//! 2. `resources/list` over 10,000 Kustomizations, paged with cursors (500 a page): the time of
//!    a page and of a whole walk, against the same walk through `list_kustomizations` pages
//!    (limit 500) measured in the same run.
//!
//! Writes bench/results/<date>-resources.md. Asserts nothing. Environment: BENCH_SECONDS per
//! measurement (default 20 for the churn, a quarter of it for the walks), BENCH_RATE changes/s
//! (default 100).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_apiserver::Running;
use fake_apiserver::fixtures::Scale;
use fake_apiserver::process::{cpu_seconds, rss_mib};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::load::{self, Http, Session};
use crate::{Outcome, estate, knobs, paths, process};

/// Notifications received: (URI, when).
type Received = Arc<Mutex<Vec<(String, Instant)>>>;

struct Churn {
    label: String,
    changes: usize,
    notified: usize,
    p50: f64,
    p99: f64,
    cpu: f64,
    rss: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() { 0.0 } else { sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)] }
}

/// Reads a `subscriptions/listen` stream until it ends, recording each resource update.
async fn read_stream(mut body: hyper::body::Incoming, received: Received, acked: tokio::sync::oneshot::Sender<()>) {
    let mut acked = Some(acked);
    let mut pending = String::new();
    while let Some(Ok(frame)) = body.frame().await {
        let Some(data) = frame.data_ref() else { continue };
        pending.push_str(&String::from_utf8_lossy(data));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let Some(json) = line.trim().strip_prefix("data:") else { continue };
            let Ok(message) = serde_json::from_str::<Value>(json.trim()) else { continue };
            match message["method"].as_str() {
                Some("notifications/subscriptions/acknowledged") => {
                    if let Some(tx) = acked.take() {
                        let _ = tx.send(());
                    }
                }
                Some("notifications/resources/updated") => {
                    if let Some(uri) = message["params"]["uri"].as_str() {
                        received.lock().expect("lock").push((uri.to_string(), Instant::now()));
                    }
                }
                _ => {}
            }
        }
    }
}

/// The Kustomizations of the churn estate: (namespace, name, URI).
fn targets(scale: Scale) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for n in 0..scale.namespaces {
        for k in 0..scale.kustomizations_per_namespace {
            let (ns, name) = (format!("tenant-{n:03}"), format!("app-{k:04}"));
            let uri = format!("flux://local/kustomization/{ns}/{name}");
            out.push((ns, name, uri));
        }
    }
    out
}

/// Changes statuses at `rate` per second for `seconds`, round robin; returns each URI's change
/// times.
async fn churn(
    api: &Running,
    targets: &[(String, String, String)],
    rate: u64,
    seconds: u64,
) -> Result<HashMap<String, Vec<Instant>>, String> {
    let rt = api
        .server
        .with_store(|st| st.registry.find_kind("kustomize.toolkit.fluxcd.io", "v1", "Kustomization").cloned())
        .ok_or("the Kustomization CRD is not served")?;
    let mut changed: HashMap<String, Vec<Instant>> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let total = (rate * seconds) as usize;
    for i in 0..total {
        tick.tick().await;
        let (ns, name, uri) = &targets[i % targets.len()];
        // Alternating Ready and a fresh message: a change a subscriber is told about.
        let status = json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": if i % 2 == 0 { "False" } else { "True" },
            "reason": "BenchChange", "message": format!("change {i}"), "lastTransitionTime": "2026-11-24T10:00:00Z"}]});
        api.server.write_status(&rt, ns, name, status, "kustomize-controller").map_err(|e| format!("{e:?}"))?;
        changed.entry(uri.clone()).or_default().push(Instant::now());
    }
    Ok(changed)
}

/// What a churn run changes: the API server, the objects, how fast and how long.
struct Workload<'a> {
    api: &'a Running,
    targets: &'a [(String, String, String)],
    rate: u64,
    seconds: u64,
}

/// One churn run against a running agent: with a subscriber of every target unless `baseline`.
async fn measure_churn(
    label: &str,
    work: &Workload<'_>,
    agent: &process::Started,
    http: &Http,
    baseline: bool,
) -> Result<Churn, Box<dyn std::error::Error>> {
    let Workload { api, targets, rate, seconds } = *work;
    let received: Received = Arc::default();
    let reader = if baseline {
        None
    } else {
        let uris: Vec<&str> = targets.iter().map(|t| t.2.as_str()).collect();
        let body = Session::stateless(http, &agent.url).listen(json!({"resourceSubscriptions": uris})).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let reader = tokio::spawn(read_stream(body, received.clone(), tx));
        tokio::time::timeout(Duration::from_secs(10), rx).await.map_err(|_| "no subscription acknowledgement")??;
        Some(reader)
    };
    let (cpu_before, started) = (cpu_seconds(agent.pid), Instant::now());
    let changed = churn(api, targets, rate, seconds).await?;
    // The last changes' notifications, then nothing more should come.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu = (cpu_seconds(agent.pid) - cpu_before) / started.elapsed().as_secs_f64() * 100.0;
    let rss = rss_mib(agent.pid);
    if let Some(reader) = reader {
        reader.abort();
    }
    let received = received.lock().expect("lock").clone();
    // Each notification answers the latest change of its URI made before it.
    let mut latencies: Vec<f64> = received
        .iter()
        .filter_map(|(uri, at)| {
            let made = changed.get(uri)?.iter().filter(|c| *c <= at).max()?;
            Some(at.duration_since(*made).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok(Churn {
        label: label.to_string(),
        changes: changed.values().map(Vec::len).sum(),
        notified: received.len(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        cpu,
        rss,
    })
}

async fn start_agent(
    api: &Running,
    label: &str,
    extra: &[&str],
    http: &Http,
) -> Result<process::Started, Box<dyn std::error::Error>> {
    let dir = paths::scratch(&format!("resources-bench-{label}"))?;
    let kubeconfig = dir.join("kubeconfig");
    api.write_kubeconfig(&kubeconfig)?;
    let port = process::free_port()?;
    let mut cmd = process::agent(port, &kubeconfig)?;
    cmd.args(extra);
    Ok(process::start(cmd, port, &dir.join("agent.log"), http, true).await?)
}

/// Walks `resources/list` to its end once; returns each page's milliseconds and how many
/// resources it listed.
async fn walk_resources(session: &Session) -> Result<(Vec<f64>, usize), String> {
    let (mut pages, mut listed, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let params = cursor.as_ref().map_or_else(|| json!({}), |c| json!({"cursor": c}));
        let t = Instant::now();
        let (result, _) = session.request("resources/list", None, params).await?;
        pages.push(t.elapsed().as_secs_f64() * 1000.0);
        listed += result["resources"].as_array().map_or(0, Vec::len);
        match result["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return Ok((pages, listed)),
        }
    }
}

/// The same walk through list_kustomizations pages.
async fn walk_tool(session: &Session, total: usize) -> Result<(Vec<f64>, usize), String> {
    let (mut pages, mut listed) = (Vec::new(), 0);
    while listed < total {
        let t = Instant::now();
        let (data, _) = session.answer("list_kustomizations", &json!({"limit": 500, "offset": listed})).await?;
        pages.push(t.elapsed().as_secs_f64() * 1000.0);
        let got = data["page"]["returned"].as_u64().unwrap_or(0) as usize;
        if got == 0 {
            break;
        }
        listed += got;
    }
    Ok((pages, listed))
}

struct Walks {
    label: &'static str,
    walks: usize,
    per_walk: usize,
    page: (f64, f64),
    walk: (f64, f64),
}

async fn repeat_walks(
    label: &'static str,
    seconds: u64,
    mut walk: impl AsyncFnMut() -> Result<(Vec<f64>, usize), String>,
) -> Result<Walks, String> {
    let (mut pages, mut walks, mut per_walk) = (Vec::new(), Vec::new(), 0);
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until || walks.is_empty() {
        let t = Instant::now();
        let (p, listed) = walk().await?;
        walks.push(t.elapsed().as_secs_f64() * 1000.0);
        pages.extend(p);
        per_walk = listed;
    }
    pages.sort_by(f64::total_cmp);
    walks.sort_by(f64::total_cmp);
    Ok(Walks {
        label,
        walks: walks.len(),
        per_walk,
        page: (percentile(&pages, 0.5), percentile(&pages, 0.99)),
        walk: (percentile(&walks, 0.5), percentile(&walks, 0.99)),
    })
}

pub async fn run() -> Outcome {
    let seconds = knobs::number("BENCH_SECONDS", 20);
    let rate = knobs::number("BENCH_RATE", 100);
    let http = load::http();

    // 1. Subscriptions under churn.
    let scale = Scale { namespaces: 10, kustomizations_per_namespace: 100, helmreleases_per_namespace: 0 };
    let targets = targets(scale);
    let (api, objects) = estate::start(scale).await?;
    eprintln!("resources: {} Kustomizations ({objects} objects), {rate} changes/s for {seconds} s", targets.len());
    let mut churns = Vec::new();
    let agent = start_agent(&api, "default", &[], &http).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_mib(agent.pid);
    let work = Workload { api: &api, targets: &targets, rate, seconds };
    churns.push(measure_churn("no subscriber (baseline)", &work, &agent, &http, true).await?);
    churns.push(measure_churn("1,000 subscribed, debounce 200 ms (default)", &work, &agent, &http, false).await?);
    drop(agent);
    let agent = start_agent(&api, "no-debounce", &["--resource-debounce-ms=0"], &http).await?;
    churns.push(measure_churn("1,000 subscribed, debounce 0 ms", &work, &agent, &http, false).await?);
    drop(agent);
    drop(api);

    // 2. resources/list over 10,000 objects, against the tool's pages.
    let scale = Scale { namespaces: 100, kustomizations_per_namespace: 100, helmreleases_per_namespace: 0 };
    let (api, objects) = estate::start(scale).await?;
    let agent = start_agent(&api, "list", &[], &http).await?;
    let session = Session::stateless(&http, &agent.url);
    let walk_seconds = (seconds / 4).max(2);
    let resources =
        repeat_walks("resources/list (cursor, 500 a page)", walk_seconds, async || walk_resources(&session).await)
            .await?;
    let total = scale.namespaces * scale.kustomizations_per_namespace;
    let tool = repeat_walks("list_kustomizations (offset, limit 500)", walk_seconds, async || {
        walk_tool(&session, total).await
    })
    .await?;
    let list_rss = rss_mib(agent.pid);
    drop(agent);
    drop(api);

    let cpus = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
    let date = paths::today();
    let mut report = format!(
        "## MCP resources ({date}, {cpus} CPUs, release build; embedded API server over HTTPS in the bench process)\n\n\
         ### Subscriptions: {} Kustomizations, {rate} status changes/s for {seconds} s (each object every {} s)\n\n\
         Agent RSS idle before: {idle:.1} MiB. Latency: from the status write to the notification's arrival on the `subscriptions/listen` stream.\n\n\
         | run | changes | notifications | latency p50 ms | p99 ms | agent CPU % of one core | agent RSS MiB |\n|---|---|---|---|---|---|---|\n",
        targets.len(),
        targets.len() as u64 / rate.max(1),
    );
    for c in &churns {
        report.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            c.label, c.changes, c.notified, c.p50, c.p99, c.cpu, c.rss
        ));
    }
    if let [base, subscribed, ..] = churns.as_slice() {
        report.push_str(&format!(
            "\nCPU with 1,000 subscriptions (default debounce) / without: {:.2}×; RSS: {:+.1} MiB.\n",
            subscribed.cpu / base.cpu.max(0.01),
            subscribed.rss - base.rss
        ));
    }
    report.push_str(&format!(
        "\n### resources/list over {objects} objects ({total} Kustomizations), stateless 2026-07-28 requests\n\n\
         | walk | walks | items per walk | page p50 ms | page p99 ms | whole walk p50 ms | walk p99 ms |\n|---|---|---|---|---|---|---|\n"
    ));
    for w in [&resources, &tool] {
        report.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            w.label, w.walks, w.per_walk, w.page.0, w.page.1, w.walk.0, w.walk.1
        ));
    }
    report.push_str(&format!(
        "\nWhole walk, resources/list / list_kustomizations: {:.2}× (resources/list also lists the {} other Flux objects and the summary). Agent RSS after: {list_rss:.1} MiB.\n",
        resources.walk.0 / tool.walk.0.max(0.001),
        resources.per_walk.saturating_sub(tool.per_walk),
    ));
    println!("{report}");
    paths::save_report("resources", "md", &report)?;
    Ok(())
}
