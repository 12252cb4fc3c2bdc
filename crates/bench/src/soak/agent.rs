//! The agent's soak: `gitops-agent serve` (release build, its own process) against the embedded
//! API server holding SOAK_OBJECTS Flux objects (default 10,000: 100 namespaces of Kustomizations
//! and HelmReleases) whose status changes SOAK_CHURN_PER_SECOND times a second (default 20),
//! called by SOAK_MCP_CLIENTS MCP clients (default 8: half in 2025 sessions, half stateless
//! 2026-07-28) and SOAK_A2A_CLIENTS A2A clients (default 2: one blocking SendMessage with
//! GetTask, one SendStreamingMessage), each SOAK_CALLS_PER_SECOND times a second (default 2), and
//! a fault every SOAK_FAULT_EVERY_SECONDS (default 180): an API outage, dropped watches with 410
//! Gone, a burst of 429s, in turn, after a first round of the three a minute apart.
//!
//! After each fault the churn pauses and the agent's answers are compared with the API server's
//! own state (a namespace's Kustomizations and HelmReleases, with the revision and message the
//! churn wrote last, and the number of Kustomizations in the watch cache) until they agree; an
//! answer that still differs after 90 s is wrong.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_apiserver::Running;
use fake_apiserver::faults::FaultConfig;
use fake_apiserver::fixtures::Scale;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use super::{Check, Phase, Series, Timing, does_not_grow, grows_at_most, process_columns, report};
use crate::load::{self, Http, Session};
use crate::{Outcome, estate, knobs, paths, process};

const NAMESPACES: usize = 100;
const RECOVERY_LIMIT: Duration = Duration::from_secs(90);
const WARM_UP_GAP: Duration = Duration::from_secs(60);

fn kustomizations() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"),
        "kustomizations",
    )
}

fn helmreleases() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
        "helmreleases",
    )
}

/// A small deterministic generator (xorshift): the soak's choices repeat from run to run.
struct Pick(u64);

impl Pick {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below.max(1) as u64) as usize
    }
}

/// What every task of the run shares.
struct Shared {
    stop: AtomicBool,
    /// The churn waits while the answers are compared with the API server.
    churn_paused: AtomicBool,
    /// `steady`, the fault in force, or `recovering` from it.
    phase: Phase,
    recoveries: Mutex<Vec<Recovery>>,
    calls: AtomicU64,
    /// Client errors while no fault was in force or being recovered from.
    steady_errors: AtomicU64,
    fault_errors: AtomicU64,
    churn_writes: AtomicU64,
    /// The namespace the churn wrote last (its answers are the first to check).
    last_namespace: AtomicUsize,
    first_steady_error: Mutex<Option<String>>,
}

impl Shared {
    fn record(&self, result: Result<(), String>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = result {
            if self.phase.get() == "steady" {
                self.steady_errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.first_steady_error.lock() {
                    first.get_or_insert(e);
                }
            } else {
                self.fault_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Status changes at a steady rate, as kustomize-controller and helm-controller write them: a new
/// revision and message each time, Ready turning False one time in four.
async fn churn(client: kube::Client, shared: Arc<Shared>, per_second: u64, scale: Scale) {
    let ks = kustomizations();
    let hrs = helmreleases();
    let mut pick = Pick(0x5eed);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second.max(1) as f64));
    let mut n: u64 = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        if shared.churn_paused.load(Ordering::Relaxed) {
            continue;
        }
        n += 1;
        let ns_index = pick.next(scale.namespaces);
        let ns = format!("tenant-{ns_index:03}");
        let ready = !n.is_multiple_of(4);
        let revision = format!("main@sha1:{n:040x}");
        let (api, name, status) = if n.is_multiple_of(5) {
            let name = format!("release-{:04}", pick.next(scale.helmreleases_per_namespace));
            let message =
                if ready { format!("Helm upgrade succeeded ({n})") } else { format!("Helm upgrade failed ({n})") };
            let status = json!({"observedGeneration": 1, "conditions": [condition(ready, &message)]});
            (Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &hrs), name, status)
        } else {
            let name = format!("app-{:04}", pick.next(scale.kustomizations_per_namespace));
            let message = if ready { format!("Applied revision: {revision}") } else { format!("build failed ({n})") };
            let status = json!({"observedGeneration": 1, "conditions": [condition(ready, &message)],
                "lastAppliedRevision": revision, "lastAttemptedRevision": revision});
            (Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &ks), name, status)
        };
        let patched = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await;
        if patched.is_ok() {
            shared.churn_writes.fetch_add(1, Ordering::Relaxed);
            shared.last_namespace.store(ns_index, Ordering::Relaxed);
        }
    }
}

fn condition(ready: bool, message: &str) -> Value {
    json!({"type": "Ready", "status": if ready { "True" } else { "False" },
        "reason": if ready { "ReconciliationSucceeded" } else { "ReconciliationFailed" },
        "message": message, "lastTransitionTime": fake_apiserver::server::now(), "observedGeneration": 1})
}

/// The tool calls an MCP client makes in turn: namespace lists, single objects, cluster-wide
/// summaries, a diagnosis.
fn mcp_case(pick: &mut Pick, scale: Scale) -> (&'static str, Value) {
    let ns = format!("tenant-{:03}", pick.next(scale.namespaces));
    let app = format!("app-{:04}", pick.next(scale.kustomizations_per_namespace));
    match pick.next(8) {
        0 => ("list_kustomizations", json!({"namespace": ns})),
        1 => ("list_kustomizations", json!({"status_filter": "failed", "limit": 50})),
        2 => ("get_kustomization", json!({"namespace": ns, "name": app})),
        3 => ("get_helmreleases", json!({"namespace": ns})),
        4 => ("list_sources", json!({"namespace": ns})),
        5 => ("get_gitops_status", json!({})),
        6 => ("debug_reconciliation", json!({"resource_type": "kustomization", "namespace": ns, "name": app})),
        _ => ("get_events", json!({"namespace": ns})),
    }
}

async fn mcp_client(index: usize, http: Http, url: String, shared: Arc<Shared>, per_second: f64, scale: Scale) {
    let mut pick = Pick(0x1234_5678 + index as u64);
    let stateless = index % 2 == 1;
    let mut session: Option<Session> = None;
    let pause = Duration::from_secs_f64(1.0 / per_second.max(0.1));
    while !shared.stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        if session.is_none() {
            session = if stateless {
                Some(Session::stateless(&http, &url))
            } else {
                match Session::open(&http, &url).await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        shared.record(Err(format!("initialize: {e}")));
                        None
                    }
                }
            };
        }
        if let Some(s) = &session {
            let (tool, args) = mcp_case(&mut pick, scale);
            let result = s.call(tool, &args).await.map(|_| ()).map_err(|e| format!("{tool} {args}: {e}"));
            // A session the agent no longer knows (after an error) is opened again.
            if result.as_ref().is_err_and(|e| e.contains("HTTP 404")) {
                session = None;
            }
            shared.record(result);
        }
        tokio::time::sleep(pause.saturating_sub(started.elapsed())).await;
    }
}

/// One A2A JSON-RPC call (A2A 1.0); the messages of the answer (one, or each event of a stream).
async fn a2a(http: &Http, base: &str, method: &str, params: Value) -> Result<Vec<Value>, String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let req = hyper::Request::post(format!("{base}/"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("a2a-version", "1.0")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(60), http.request(req))
        .await
        .map_err(|_| format!("{method}: no answer in 60 s"))?
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    if !status.is_success() {
        return Err(format!("{method}: HTTP {status}: {}", text.chars().take(300).collect::<String>()));
    }
    let messages: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(v) => vec![v],
        Err(_) => text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|l| serde_json::from_str(l.trim()).ok())
            .collect(),
    };
    if let Some(e) = messages.iter().find(|m| m.get("error").is_some()) {
        return Err(format!("{method}: {}", e["error"]));
    }
    if messages.is_empty() {
        return Err(format!("{method}: no message in {}", text.chars().take(300).collect::<String>()));
    }
    Ok(messages)
}

async fn a2a_client(index: usize, http: Http, base: String, shared: Arc<Shared>, per_second: f64, scale: Scale) {
    let mut pick = Pick(0xa2a0 + index as u64);
    let pause = Duration::from_secs_f64(1.0 / per_second.max(0.1));
    while !shared.stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let ns = format!("tenant-{:03}", pick.next(scale.namespaces));
        let (skill, args) = match pick.next(3) {
            0 => ("list-kustomizations", json!({"namespace": ns})),
            1 => ("get-gitops-status", json!({})),
            _ => ("get-helmreleases", json!({"namespace": ns, "status_filter": "failed"})),
        };
        let message = json!({"message": {"messageId": format!("soak-{index}-{}", pick.next(1 << 30)), "role": "ROLE_USER",
            "parts": [{"data": {"skill": skill, "arguments": args}}]}});
        let result = if index.is_multiple_of(2) {
            blocking(&http, &base, message).await
        } else {
            streaming(&http, &base, message).await
        };
        shared.record(result.map_err(|e| format!("A2A {skill}: {e}")));
        tokio::time::sleep(pause.saturating_sub(started.elapsed())).await;
    }
}

/// SendMessage, then GetTask of the task it answered with: both completed.
async fn blocking(http: &Http, base: &str, message: Value) -> Result<(), String> {
    let answer = a2a(http, base, "SendMessage", message).await?;
    let task = &answer[0]["result"]["task"];
    if task["status"]["state"] != "TASK_STATE_COMPLETED" {
        return Err(format!("SendMessage: {}", task["status"]));
    }
    let id = task["id"].as_str().ok_or("SendMessage: no task id")?;
    let got = a2a(http, base, "GetTask", json!({"id": id})).await?;
    if got[0]["result"]["status"]["state"] != "TASK_STATE_COMPLETED" {
        return Err(format!("GetTask {id}: {}", got[0]["result"]));
    }
    Ok(())
}

/// SendStreamingMessage to its last event, which completes the task.
async fn streaming(http: &Http, base: &str, message: Value) -> Result<(), String> {
    let events = a2a(http, base, "SendStreamingMessage", message).await?;
    let last = events.last().map(|e| &e["result"]["statusUpdate"]["status"]["state"]);
    if last != Some(&json!("TASK_STATE_COMPLETED")) {
        return Err(format!("the stream ended with {:?}", events.last()));
    }
    Ok(())
}

/// The faults in turn, each with how long it stays.
fn faults() -> Vec<(&'static str, FaultConfig, Duration)> {
    vec![
        (
            "API outage",
            FaultConfig { outage_ms: 20_000, retry_after_secs: 1, ..Default::default() },
            Duration::from_secs(20),
        ),
        (
            "dropped watches",
            FaultConfig { drop_watches_after_ms: 2_000, gone_watches: 20, ..Default::default() },
            Duration::from_secs(30),
        ),
        (
            "429 burst",
            FaultConfig { error_rate: 0.5, error_code: 429, retry_after_secs: 1, ..Default::default() },
            Duration::from_secs(30),
        ),
    ]
}

/// How the agent answered after a fault.
struct Recovery {
    fault: &'static str,
    after: Option<Duration>,
    difference: String,
}

/// Compares the agent's answers about one namespace (and its cache size) with the API server's.
async fn compare(
    client: &kube::Client,
    session: &Session,
    metrics: &str,
    http: &Http,
    ns: &str,
    ks_total: usize,
) -> Result<(), String> {
    let truth = |ar: ApiResource| {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        async move {
            let list =
                api.list(&ListParams::default()).await.map_err(|e| format!("listing from the API server: {e}"))?;
            Ok::<_, String>(
                list.items
                    .iter()
                    .map(|o| {
                        let message = o
                            .data
                            .pointer("/status/conditions/0/message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string();
                        let revision =
                            o.data.pointer("/status/lastAppliedRevision").and_then(Value::as_str).map(str::to_string);
                        (o.metadata.name.clone().unwrap_or_default(), (revision, message))
                    })
                    .collect::<BTreeMap<_, _>>(),
            )
        }
    };
    let answer = |tool: &'static str| async move {
        let (v, _) = session.answer(tool, &json!({"namespace": ns, "limit": 500})).await?;
        let items = v["items"].as_array().ok_or(format!("{tool}: no items in {v}"))?;
        Ok::<_, String>(
            items
                .iter()
                .map(|i| {
                    let revision =
                        if tool == "list_kustomizations" { i["revision"].as_str().map(str::to_string) } else { None };
                    (
                        i["name"].as_str().unwrap_or_default().to_string(),
                        (revision, i["message"].as_str().unwrap_or_default().to_string()),
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        )
    };
    for (tool, ar) in [("list_kustomizations", kustomizations()), ("get_helmreleases", helmreleases())] {
        let (want, got) = (truth(ar).await?, answer(tool).await?);
        if let Some((name, w)) = want.iter().find(|(name, w)| got.get(*name) != Some(w)) {
            return Err(format!("{tool} in {ns}: {name} is {:?}, the API server has {w:?}", got.get(name)));
        }
        if want.len() != got.len() {
            return Err(format!("{tool} in {ns}: {} items, the API server has {}", got.len(), want.len()));
        }
    }
    let cached = scrape(http, metrics).await?.cached_kustomizations;
    if cached as usize != ks_total {
        return Err(format!("{cached} Kustomizations in the watch cache, the API server has {ks_total}"));
    }
    Ok(())
}

/// What the agent's /metrics says.
#[derive(Default)]
struct Scraped {
    tasks: f64,
    cached: f64,
    cached_kustomizations: f64,
    tool_errors: f64,
}

async fn scrape(http: &Http, url: &str) -> Result<Scraped, String> {
    let req = hyper::Request::get(url).body(Full::new(Bytes::new())).map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(10), http.request(req))
        .await
        .map_err(|_| "/metrics: no answer in 10 s".to_string())?
        .map_err(|e| e.to_string())?;
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let mut s = Scraped::default();
    for line in String::from_utf8_lossy(&body).lines() {
        let Some((name, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        if name == "runtime_tasks" {
            s.tasks = value;
        } else if name.starts_with("cache_objects{") {
            s.cached += value;
            if name.contains("kind=\"kustomizations.") {
                s.cached_kustomizations += value;
            }
        } else if name.starts_with("tool_calls_total{") && name.contains("status=\"error\"") {
            s.tool_errors += value;
        }
    }
    Ok(s)
}

#[allow(clippy::too_many_arguments)]
async fn faults_and_recoveries(
    running: Arc<Running>,
    client: kube::Client,
    http: Http,
    url: String,
    metrics: String,
    shared: Arc<Shared>,
    every: Duration,
    scale: Scale,
) {
    let session = Session::stateless(&http, &url);
    let ks_total = scale.namespaces * scale.kustomizations_per_namespace;
    let mut pick = Pick(0xfa17);
    let kinds = faults().len();
    for (round, (name, config, lasts)) in faults().into_iter().cycle().enumerate() {
        // One of each fault a minute apart first, so that the window memory is compared from
        // (minute 5) already holds what each fault leaves behind once (a relist's high-water
        // mark): what grows after it is a leak, not the first time a fault happened.
        let gap = if round < kinds { WARM_UP_GAP.min(every) } else { every };
        tokio::time::sleep(gap.saturating_sub(lasts)).await;
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        shared.phase.set(name);
        running.server.set_faults(config);
        tokio::time::sleep(lasts).await;
        running.server.set_faults(FaultConfig::default());
        shared.phase.set(&format!("recovering from {name}"));
        shared.churn_paused.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let namespaces = [shared.last_namespace.load(Ordering::Relaxed), pick.next(scale.namespaces)];
        let mut difference = String::new();
        let mut after = None;
        while started.elapsed() < RECOVERY_LIMIT {
            let mut all = Ok(());
            for ns in namespaces {
                all = all.and(compare(&client, &session, &metrics, &http, &format!("tenant-{ns:03}"), ks_total).await);
            }
            match all {
                Ok(()) => {
                    after = Some(started.elapsed());
                    break;
                }
                Err(e) => difference = e,
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        eprintln!(
            "{name}: {}",
            after.map_or_else(
                || format!("WRONG after {} s: {difference}", RECOVERY_LIMIT.as_secs()),
                |a| format!("answers right {:.1} s after", a.as_secs_f64())
            )
        );
        if let Ok(mut done) = shared.recoveries.lock() {
            done.push(Recovery { fault: name, after, difference });
        }
        shared.churn_paused.store(false, Ordering::Relaxed);
        shared.phase.set("steady");
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
    }
}

pub async fn run() -> Outcome {
    let timing = Timing::from_env();
    let objects = knobs::number("SOAK_OBJECTS", 10_000) as usize;
    let per_ns = (objects / NAMESPACES).max(5);
    let scale = Scale {
        namespaces: NAMESPACES,
        kustomizations_per_namespace: per_ns * 4 / 5,
        helmreleases_per_namespace: per_ns - per_ns * 4 / 5,
    };
    let churn_rate = knobs::number("SOAK_CHURN_PER_SECOND", 20);
    let mcp_clients = knobs::number("SOAK_MCP_CLIENTS", 8) as usize;
    let a2a_clients = knobs::number("SOAK_A2A_CLIENTS", 2) as usize;
    let calls_per_second = knobs::number("SOAK_CALLS_PER_SECOND", 2) as f64;
    let fault_every = Duration::from_secs(knobs::number("SOAK_FAULT_EVERY_SECONDS", 180).max(60));

    let (running, generated) = estate::start(scale).await?;
    let running = Arc::new(running);
    let dir = paths::scratch("soak-agent")?;
    let kubeconfig = dir.join("kubeconfig");
    running.write_kubeconfig(&kubeconfig)?;
    let port = process::free_port()?;
    let mut cmd = Command::new(paths::binary("gitops-agent")?);
    cmd.args(["serve", "--bind-address=127.0.0.1", "--log-level=warn"])
        .arg(format!("--port={port}"))
        .arg(format!("--metrics-port={port}"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()));
    let http = load::http();
    let agent = process::start(cmd, port, &dir.join("agent.log"), &http, true).await?;
    let base = format!("http://127.0.0.1:{port}");
    let metrics = format!("{base}/metrics");
    let client = running.client().await?;
    eprintln!(
        "soak: agent pid {} ready after {:.1} s over {generated} objects; {} minutes, faults every {} s; agent log {}",
        agent.pid,
        agent.ready_after.as_secs_f64(),
        timing.total.as_secs() / 60,
        fault_every.as_secs(),
        dir.join("agent.log").display()
    );

    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        churn_paused: AtomicBool::new(false),
        phase: Phase::steady(),
        recoveries: Mutex::new(Vec::new()),
        calls: AtomicU64::new(0),
        steady_errors: AtomicU64::new(0),
        fault_errors: AtomicU64::new(0),
        churn_writes: AtomicU64::new(0),
        last_namespace: AtomicUsize::new(0),
        first_steady_error: Mutex::new(None),
    });
    let mut tasks = vec![tokio::spawn(churn(client.clone(), shared.clone(), churn_rate, scale))];
    for i in 0..mcp_clients {
        tasks.push(tokio::spawn(mcp_client(
            i,
            http.clone(),
            agent.url.clone(),
            shared.clone(),
            calls_per_second,
            scale,
        )));
    }
    for i in 0..a2a_clients {
        tasks.push(tokio::spawn(a2a_client(i, http.clone(), base.clone(), shared.clone(), calls_per_second, scale)));
    }
    let recoveries = tokio::spawn(faults_and_recoveries(
        running.clone(),
        client.clone(),
        http.clone(),
        agent.url.clone(),
        metrics.clone(),
        shared.clone(),
        fault_every,
        scale,
    ));

    let mut series = Series::new(&[
        "RSS MiB",
        "FDs",
        "threads",
        "tasks",
        "cached objects",
        "calls/interval",
        "errors in faults",
        "errors outside faults",
        "agent tool errors",
        "status writes",
    ]);
    let started = Instant::now();
    let mut calls_before = 0;
    while started.elapsed() < timing.total {
        tokio::time::sleep(timing.every.saturating_sub(Duration::from_millis(
            started.elapsed().as_millis() as u64 % timing.every.as_millis().max(1) as u64,
        )))
        .await;
        let [rss, fds, threads] = process_columns(agent.pid);
        if rss == 0.0 {
            return Err(
                format!("the agent (pid {}) is gone; its log: {}", agent.pid, dir.join("agent.log").display()).into()
            );
        }
        let scraped = scrape(&http, &metrics).await.unwrap_or_default();
        let calls = shared.calls.load(Ordering::Relaxed);
        series.push(
            started.elapsed(),
            &shared.phase.get(),
            vec![
                rss,
                fds,
                threads,
                scraped.tasks,
                scraped.cached,
                (calls - calls_before) as f64,
                shared.fault_errors.load(Ordering::Relaxed) as f64,
                shared.steady_errors.load(Ordering::Relaxed) as f64,
                scraped.tool_errors,
                shared.churn_writes.load(Ordering::Relaxed) as f64,
            ],
        );
        calls_before = calls;
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(70), t).await;
    }
    // Aborted rather than awaited (it may be waiting for its next fault): what it recorded is
    // in `shared`.
    recoveries.abort();
    let _ = recoveries.await;
    let recoveries = shared.recoveries.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default();
    // The run may end during a fault: the last answers are compared once more, faults off.
    running.server.set_faults(FaultConfig::default());
    let session = Session::stateless(&http, &agent.url);
    let ks_total = scale.namespaces * scale.kustomizations_per_namespace;
    let mut last = Err(String::new());
    let checking = Instant::now();
    while checking.elapsed() < RECOVERY_LIMIT {
        last = compare(
            &client,
            &session,
            &metrics,
            &http,
            &format!("tenant-{:03}", shared.last_namespace.load(Ordering::Relaxed)),
            ks_total,
        )
        .await;
        if last.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    report_run(&timing, &series, &recoveries, last, &shared, scale, generated)
}

fn report_run(
    timing: &Timing,
    series: &Series,
    recoveries: &[Recovery],
    last: Result<(), String>,
    shared: &Shared,
    scale: Scale,
    generated: usize,
) -> Outcome {
    let wrong: Vec<String> =
        recoveries.iter().filter(|r| r.after.is_none()).map(|r| format!("{}: {}", r.fault, r.difference)).collect();
    let slowest = recoveries.iter().filter_map(|r| r.after).max().unwrap_or_default();
    let steady_errors = shared.steady_errors.load(Ordering::Relaxed);
    let first = shared.first_steady_error.lock().ok().and_then(|f| f.clone()).unwrap_or_default();
    let checks = vec![
        grows_at_most(series, "RSS MiB", timing, 10.0),
        does_not_grow(series, "FDs", timing),
        does_not_grow(series, "tasks", timing),
        does_not_grow(series, "threads", timing),
        Check::new(
            "answers right after every fault",
            wrong.is_empty() && !recoveries.is_empty(),
            if wrong.is_empty() {
                format!(
                    "{} faults, each answered right within {:.1} s of its end",
                    recoveries.len(),
                    slowest.as_secs_f64()
                )
            } else {
                wrong.join("; ")
            },
        ),
        Check::new(
            "answers right at the end",
            last.is_ok(),
            last.err().unwrap_or_else(|| "agreed with the API server".into()),
        ),
        Check::new(
            "no error outside faults",
            steady_errors == 0,
            if steady_errors == 0 {
                format!("{} calls", shared.calls.load(Ordering::Relaxed))
            } else {
                format!("{steady_errors}, first: {first}")
            },
        ),
    ];
    let faults: Vec<String> = recoveries
        .iter()
        .map(|r| {
            format!(
                "{} ({})",
                r.fault,
                r.after.map_or("wrong".into(), |a| format!("right after {:.1} s", a.as_secs_f64()))
            )
        })
        .collect();
    let notes = format!(
        "{} minutes, {generated} objects ({} namespaces × {} Kustomizations + {} HelmReleases, plus their GitRepositories and Events), {} status changes/s, {} MCP + {} A2A clients at {} calls/s each, a fault every {} s after a first round a minute apart; sampled every {} s. Faults: {}.",
        timing.total.as_secs() / 60,
        scale.namespaces,
        scale.kustomizations_per_namespace,
        scale.helmreleases_per_namespace,
        knobs::number("SOAK_CHURN_PER_SECOND", 20),
        knobs::number("SOAK_MCP_CLIENTS", 8),
        knobs::number("SOAK_A2A_CLIENTS", 2),
        knobs::number("SOAK_CALLS_PER_SECOND", 2),
        knobs::number("SOAK_FAULT_EVERY_SECONDS", 180).max(60),
        timing.every.as_secs(),
        faults.join(", ")
    );
    report(
        "agent",
        "Agent soak (release build, its own process; embedded API server over HTTPS)",
        series,
        &checks,
        &notes,
    )
}
