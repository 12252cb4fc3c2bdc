//! The operator's soak: two replicas of `gitops-agent-operator run` (release build, their own
//! processes, leader election on one Lease) against the embedded API server with SOAK_AGENTS
//! GitOpsAgents (default 500), whose specs change SOAK_CHANGES_PER_SECOND times a second (default
//! 2: replicas, ServiceMonitor, PodDisruptionBudget, NetworkPolicy, log level, and now and then
//! an agent deleted and created again), and a leader failover every SOAK_FAILOVER_SECONDS (default
//! 180): the leader is frozen (SIGSTOP, as a stalled node or a long pause looks to the others)
//! until the other replica holds the Lease, then thawed, and must step down.
//!
//! At the end the spec changes stop and the run waits for every agent to be Ready at its latest
//! generation; then every child the operator manages must be one that an agent's current spec
//! renders (no orphan) and every rendered child must exist, and over two resync periods the
//! operator must write no child (no write loop).

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_apiserver::Running;
use fake_apiserver::process::KillOnDrop;
use fake_apiserver::stats::WRITE_VERBS;
use futures::StreamExt;
use gitops_agent_api::GitOpsAgent;
use gitops_agent_controller::render::{self, FIELD_MANAGER, OperatorDefaults};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use super::{Check, Phase, Series, Timing, does_not_grow, grows_at_most_between, process_columns, report};
use crate::{Outcome, knobs, paths};

const REPLICAS: [&str; 2] = ["replica-a", "replica-b"];
const OPERATOR_NAMESPACE: &str = "gitops-agent-system";
const WARM_UP_GAP: Duration = Duration::from_secs(60);

fn agents_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("agents.gitops.dev", "v1alpha1", "GitOpsAgent"),
        "gitopsagents",
    )
}

fn namespace_of(i: usize, namespaces: usize) -> String {
    format!("team-{:03}", i % namespaces)
}

/// The spec the soak last gave an agent (None: deleted).
#[derive(Clone, Debug, PartialEq)]
struct Desired {
    replicas: i64,
    service_monitor: bool,
    pdb: bool,
    network_policy: bool,
    debug: bool,
}

impl Desired {
    fn manifest(&self, i: usize) -> Value {
        json!({"apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent",
            "metadata": {"name": format!("agent-{i:04}")},
            "spec": {"replicas": self.replicas, "logLevel": if self.debug { "debug" } else { "info" },
                "metrics": {"serviceMonitor": {"enabled": self.service_monitor}},
                "pdb": {"enabled": self.pdb, "minAvailable": 1}, "networkPolicy": {"enabled": self.network_policy}}})
    }
}

struct Shared {
    stop: AtomicBool,
    changes: AtomicU64,
    phase: Phase,
    desired: Mutex<BTreeMap<usize, Option<Desired>>>,
    failovers: Mutex<Vec<Duration>>,
}

async fn apply(client: &kube::Client, i: usize, namespaces: usize, desired: &Desired) -> Result<(), kube::Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &namespace_of(i, namespaces), &agents_resource());
    let params = PatchParams::apply("soak").force();
    api.patch(&format!("agent-{i:04}"), &params, &Patch::Apply(&desired.manifest(i))).await.map(|_| ())
}

/// One spec change a second fraction at a time, in turn over the agents and over what changes.
async fn spec_changes(client: kube::Client, shared: Arc<Shared>, per_second: u64, agents: usize, namespaces: usize) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second.max(1) as f64));
    let mut n: usize = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        n += 1;
        // A stride coprime with the number of agents visits every one before repeating.
        let i = (n * 7919) % agents;
        let current = shared.desired.lock().ok().and_then(|d| d.get(&i).cloned()).flatten();
        let result = match current {
            None => {
                let fresh =
                    Desired { replicas: 2, service_monitor: true, pdb: true, network_policy: true, debug: false };
                apply(&client, i, namespaces, &fresh).await.map(|()| Some(fresh))
            }
            Some(_) if n.is_multiple_of(50) => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), &namespace_of(i, namespaces), &agents_resource());
                api.delete(&format!("agent-{i:04}"), &DeleteParams::default()).await.map(|_| None)
            }
            Some(mut d) => {
                match n % 5 {
                    0 => d.replicas = if d.replicas == 2 { 3 } else { 2 },
                    1 => d.service_monitor = !d.service_monitor,
                    2 => d.pdb = !d.pdb,
                    3 => d.network_policy = !d.network_policy,
                    _ => d.debug = !d.debug,
                }
                apply(&client, i, namespaces, &d).await.map(|()| Some(d))
            }
        };
        match result {
            Ok(d) => {
                if let Ok(mut all) = shared.desired.lock() {
                    all.insert(i, d);
                }
                shared.changes.fetch_add(1, Ordering::Relaxed);
            }
            // An agent deleted a moment ago may still be finalizing: tried again on its next turn.
            Err(e) => eprintln!("soak: spec change of agent-{i:04}: {e}"),
        }
    }
}

/// A replica of the operator.
struct Replica {
    _child: KillOnDrop,
    pid: u32,
}

fn start_replica(
    identity: &str,
    kubeconfig: &std::path::Path,
    dir: &std::path::Path,
) -> Result<Replica, Box<dyn std::error::Error>> {
    let lease = knobs::number("SOAK_LEASE_SECONDS", 6);
    let resync = knobs::number("SOAK_RESYNC_SECONDS", 60);
    let child = Command::new(paths::binary("gitops-agent-operator")?)
        .args([
            "run",
            "--leader-election=true",
            "--lease-namespace=gitops-agent-system",
            "--verify=false",
            "--http-addr=127.0.0.1:0",
            "--log-format=json",
            "--log-level=warn",
            "--discovery-seconds=30",
        ])
        .arg(format!("--identity={identity}"))
        .arg(format!("--lease-seconds={lease}"))
        .arg(format!("--resync-seconds={resync}"))
        .env("KUBECONFIG", kubeconfig)
        .stdout(std::fs::File::create(dir.join(format!("{identity}.log")))?)
        .stderr(Stdio::inherit())
        .spawn()?;
    Ok(Replica { pid: child.id(), _child: KillOnDrop(child) })
}

async fn leader(client: &kube::Client) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
    leases.get_opt("gitops-agent-operator").await.ok().flatten().and_then(|l| l.spec?.holder_identity)
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status();
}

/// Freezes the leader until the other replica leads, then thaws it; each failover's duration.
/// The first two come a minute apart, so that by the window memory is compared from (minute 5)
/// each replica has led and lost the lease once: what grows after that is a leak, not a replica's
/// first term as leader.
async fn failovers(client: kube::Client, pids: [u32; 2], shared: Arc<Shared>, every: Duration) {
    for round in 0.. {
        tokio::time::sleep(if round < REPLICAS.len() { WARM_UP_GAP.min(every) } else { every }).await;
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let Some(holder) = leader(&client).await else { continue };
        let Some(index) = REPLICAS.iter().position(|r| *r == holder) else { continue };
        shared.phase.set(&format!("{holder} frozen"));
        let frozen = Instant::now();
        signal(pids[index], "STOP");
        while frozen.elapsed() < Duration::from_secs(120) && leader(&client).await.as_deref() == Some(holder.as_str()) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let took = frozen.elapsed();
        eprintln!("soak: failover from {holder} in {:.1} s", took.as_secs_f64());
        if let Ok(mut done) = shared.failovers.lock() {
            done.push(took);
        }
        // Frozen a little past the handover, so it wakes to a Lease it no longer holds.
        tokio::time::sleep(Duration::from_secs(3)).await;
        signal(pids[index], "CONT");
        shared.phase.set("steady");
    }
}

/// Agents Ready at their current generation, and agents not (yet).
async fn readiness(api: &Api<DynamicObject>) -> Result<(usize, usize), kube::Error> {
    let list = api.list(&ListParams::default()).await?;
    let ready = list
        .items
        .iter()
        .filter(|a| {
            let generation = a.metadata.generation.unwrap_or_default();
            a.data.pointer("/status/observedGeneration").and_then(Value::as_i64) == Some(generation)
                && a.data
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
        .count();
    Ok((ready, list.items.len() - ready))
}

/// Children the API server holds that no agent's current spec renders (orphans), children a spec
/// renders that are missing, and Deployments whose replicas differ from their agent's spec.
async fn children_against_specs(
    client: &kube::Client,
) -> Result<(Vec<String>, Vec<String>, Vec<String>), Box<dyn std::error::Error>> {
    let agents: Api<DynamicObject> = Api::all_with(client.clone(), &agents_resource());
    let mut expected = BTreeSet::new();
    let mut kinds: BTreeMap<String, ApiResource> = BTreeMap::new();
    let mut replicas_wrong = Vec::new();
    // Every kind the operator can create: an agent with every optional child on.
    let every = json!({"apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent",
        "metadata": {"name": "every", "namespace": "x"},
        "spec": {"metrics": {"serviceMonitor": {"enabled": true}}, "autoscaling": {"enabled": true}}});
    let every: GitOpsAgent = gitops_agent_api::admit(&every)?;
    for child in render::render(&every, &OperatorDefaults::default())? {
        let ar = child.api_resource();
        kinds.insert(format!("{}/{}", ar.group, ar.plural), ar);
    }
    for a in agents.list(&ListParams::default()).await?.items {
        if a.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let agent: GitOpsAgent = serde_json::from_value(serde_json::to_value(&a)?)?;
        for child in render::render(&agent, &OperatorDefaults::default())? {
            let ar = child.api_resource();
            expected.insert(format!("{}/{} {}/{}", ar.group, ar.plural, child.namespace().unwrap_or(""), child.name()));
        }
        let want = a.data.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(2);
        let ns = a.metadata.namespace.clone().unwrap_or_default();
        let name = a.metadata.name.clone().unwrap_or_default();
        let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), &ns);
        let have = deployments.get_opt(&name).await?.and_then(|d| d.spec?.replicas).map(i64::from);
        if have != Some(want) {
            replicas_wrong.push(format!("{ns}/{name}: Deployment replicas {have:?}, spec {want}"));
        }
    }
    let mut actual = BTreeSet::new();
    let selector = ListParams::default().labels(&format!("app.kubernetes.io/managed-by={FIELD_MANAGER}"));
    for (key, ar) in &kinds {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), ar);
        for o in api.list(&selector).await?.items {
            if o.metadata.deletion_timestamp.is_none() {
                actual.insert(format!(
                    "{key} {}/{}",
                    o.metadata.namespace.unwrap_or_default(),
                    o.metadata.name.unwrap_or_default()
                ));
            }
        }
    }
    let orphans = actual.difference(&expected).cloned().collect();
    let missing = expected.difference(&actual).cloned().collect();
    Ok((orphans, missing, replicas_wrong))
}

fn writes(snapshot: &fake_apiserver::stats::Snapshot, keep: &dyn Fn(&str) -> bool) -> u64 {
    snapshot
        .requests
        .iter()
        .filter(|(k, _)| WRITE_VERBS.iter().any(|w| k.starts_with(&format!("{w} "))))
        .filter(|(k, _)| keep(k))
        .map(|(_, v)| v)
        .sum()
}

fn is_status(k: &str) -> bool {
    k.ends_with("gitopsagents.agents.gitops.dev/status")
}

fn is_child(k: &str) -> bool {
    !k.contains("leases") && !k.contains("events") && !k.contains("gitopsagents")
}

async fn setup(agents: usize, namespaces: usize) -> Result<(Running, kube::Client), Box<dyn std::error::Error>> {
    let (running, client) = crate::operator::api_server().await?;
    let ns_api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    // The operator's own namespace holds its Lease, as in an install from config/default.
    let names =
        std::iter::once(OPERATOR_NAMESPACE.to_string()).chain((0..namespaces).map(|i| namespace_of(i, namespaces)));
    for name in names {
        ns_api.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": name}}))?).await?;
    }
    let first = Desired { replicas: 2, service_monitor: true, pdb: true, network_policy: true, debug: false };
    futures::stream::iter(0..agents)
        .map(|i| {
            let (client, first) = (client.clone(), first.clone());
            async move { apply(&client, i, namespaces, &first).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok((running, client))
}

pub async fn run() -> Outcome {
    let timing = Timing::from_env();
    let agents = knobs::number("SOAK_AGENTS", 500).max(1) as usize;
    let namespaces = (agents / 10).max(1);
    let per_second = knobs::number("SOAK_CHANGES_PER_SECOND", 2);
    let failover_every = Duration::from_secs(knobs::number("SOAK_FAILOVER_SECONDS", 180).max(30));
    let resync = knobs::number("SOAK_RESYNC_SECONDS", 60);

    let (running, client) = setup(agents, namespaces).await?;
    let dir = paths::scratch("soak-operator")?;
    let kubeconfig = dir.join("kubeconfig");
    running.write_kubeconfig(&kubeconfig)?;
    let replicas = [start_replica(REPLICAS[0], &kubeconfig, &dir)?, start_replica(REPLICAS[1], &kubeconfig, &dir)?];
    let pids = [replicas[0].pid, replicas[1].pid];
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &agents_resource());
    let started = Instant::now();
    while readiness(&api).await?.0 < agents {
        if started.elapsed() > Duration::from_secs(300) {
            return Err(format!("agents not all Ready after 300 s; logs in {}", dir.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "soak: {agents} agents Ready after {:.1} s; {} minutes, a failover every {} s; logs in {}",
        started.elapsed().as_secs_f64(),
        timing.total.as_secs() / 60,
        failover_every.as_secs(),
        dir.display()
    );

    let first = Desired { replicas: 2, service_monitor: true, pdb: true, network_policy: true, debug: false };
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        changes: AtomicU64::new(0),
        phase: Phase::steady(),
        desired: Mutex::new((0..agents).map(|i| (i, Some(first.clone()))).collect()),
        failovers: Mutex::new(Vec::new()),
    });
    let changes = tokio::spawn(spec_changes(client.clone(), shared.clone(), per_second, agents, namespaces));
    let failing_over = tokio::spawn(failovers(client.clone(), pids, shared.clone(), failover_every));

    // By replica: each process is judged against itself over whole failover cycles, since a
    // leader holds the caches and watches a standby does not.
    let mut series = Series::new(&[
        "RSS MiB a",
        "RSS MiB b",
        "FDs a",
        "FDs b",
        "threads a",
        "threads b",
        "leader",
        "agents Ready",
        "agents behind",
        "spec changes",
        "child writes/interval",
        "status writes/interval",
    ]);
    let soak_started = Instant::now();
    let mut before = running.stats();
    while soak_started.elapsed() < timing.total {
        tokio::time::sleep(timing.every).await;
        let holder = leader(&client).await.and_then(|h| REPLICAS.iter().position(|r| *r == h));
        let [rss_a, fds_a, threads_a] = process_columns(pids[0]);
        let [rss_b, fds_b, threads_b] = process_columns(pids[1]);
        if rss_a == 0.0 || rss_b == 0.0 {
            return Err(format!("an operator replica is gone; logs in {}", dir.display()).into());
        }
        let holder = holder.map_or(-1.0, |i| i as f64);
        let (ready, behind) = readiness(&api).await.unwrap_or((0, 0));
        let now = running.stats();
        let during = now.since(&before);
        before = now;
        series.push(
            soak_started.elapsed(),
            &shared.phase.get(),
            vec![
                rss_a,
                rss_b,
                fds_a,
                fds_b,
                threads_a,
                threads_b,
                holder,
                ready as f64,
                behind as f64,
                shared.changes.load(Ordering::Relaxed) as f64,
                writes(&during, &is_child) as f64,
                writes(&during, &is_status) as f64,
            ],
        );
    }
    shared.stop.store(true, Ordering::Relaxed);
    let _ = changes.await;
    failing_over.abort();
    let _ = failing_over.await;
    let failovers = shared.failovers.lock().map(|f| f.clone()).unwrap_or_default();
    // A replica frozen when the run ended is thawed.
    for pid in pids {
        signal(pid, "CONT");
    }

    // Converged: every agent Ready at its last generation.
    let settling = Instant::now();
    let live = shared.desired.lock().map(|d| d.values().filter(|v| v.is_some()).count()).unwrap_or(0);
    let mut converged = None;
    while settling.elapsed() < Duration::from_secs(300) {
        let (ready, behind) = readiness(&api).await?;
        if ready == live && behind == 0 {
            converged = Some(settling.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Deleted agents' children are gone once their finalizers ran.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (orphans, missing, replicas_wrong) = children_against_specs(&client).await?;
    let quiet_start = running.stats();
    tokio::time::sleep(Duration::from_secs(2 * resync)).await;
    let quiet = running.stats().since(&quiet_start);
    let (child_writes, status_writes) = (writes(&quiet, &is_child), writes(&quiet, &is_status));

    let slowest = failovers.iter().max().copied().unwrap_or_default();
    let checks = vec![
        grows_at_most_between(&series, "RSS MiB a", timing.cycle_windows(2 * failover_every), 10.0),
        grows_at_most_between(&series, "RSS MiB b", timing.cycle_windows(2 * failover_every), 10.0),
        does_not_grow(&series, "FDs a", &timing),
        does_not_grow(&series, "FDs b", &timing),
        does_not_grow(&series, "threads a", &timing),
        does_not_grow(&series, "threads b", &timing),
        Check::new(
            "every failover hands over",
            !failovers.is_empty() && slowest < Duration::from_secs(120),
            format!("{} failovers, slowest {:.1} s", failovers.len(), slowest.as_secs_f64()),
        ),
        Check::new(
            "converges after the last change",
            converged.is_some(),
            converged.map_or("not all agents Ready at their generation after 300 s".into(), |c| {
                format!("{live} agents Ready {:.1} s after", c.as_secs_f64())
            }),
        ),
        Check::new(
            "no orphaned child",
            orphans.is_empty(),
            format!("{} orphans {:?}", orphans.len(), orphans.iter().take(5).collect::<Vec<_>>()),
        ),
        Check::new(
            "no missing child",
            missing.is_empty(),
            format!("{} missing {:?}", missing.len(), missing.iter().take(5).collect::<Vec<_>>()),
        ),
        Check::new(
            "Deployments follow spec.replicas",
            replicas_wrong.is_empty(),
            format!("{} differ {:?}", replicas_wrong.len(), replicas_wrong.iter().take(5).collect::<Vec<_>>()),
        ),
        Check::new(
            "no write loop",
            child_writes == 0 && status_writes == 0,
            format!("{child_writes} child and {status_writes} status writes over {} s at rest (2 resyncs)", 2 * resync),
        ),
    ];
    let notes = format!(
        "{} minutes, {agents} GitOpsAgents in {namespaces} namespaces, {per_second} spec changes/s ({} in all), two replicas with a {} s Lease, the leader frozen every {} s (failovers took {}), resync every {resync} s; sampled every {} s. `leader` is 0 for replica a, 1 for b; the other columns are by replica. A replica's memory follows its role (the leader holds the caches and watches), so it is compared over a whole failover cycle ({} s: a term in each role) from minute 5 against the last cycle. The first two failovers come a minute apart.",
        timing.total.as_secs() / 60,
        shared.changes.load(Ordering::Relaxed),
        knobs::number("SOAK_LEASE_SECONDS", 6),
        failover_every.as_secs(),
        failovers.iter().map(|f| format!("{:.1} s", f.as_secs_f64())).collect::<Vec<_>>().join(", "),
        timing.every.as_secs(),
        2 * failover_every.as_secs(),
    );
    drop(replicas);
    report(
        "operator",
        "Operator soak (release build, two replicas in their own processes; embedded API server over HTTPS)",
        &series,
        &checks,
        &notes,
    )
}
