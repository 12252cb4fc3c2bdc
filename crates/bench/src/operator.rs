//! `make bench-operator`: the operator binary (release build, its own process) against the
//! embedded API server with N = 100 and 1,000 GitOpsAgents. Prints time to all Ready, API
//! requests per agent, child writes at steady state, and the operator's RSS; writes
//! bench/results/<date>-operator.md. Asserts nothing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_apiserver::process::{KillOnDrop, rss_mib};
use fake_apiserver::{Config, Listen, fixtures};
use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

use crate::{Outcome, knobs, paths};

/// The embedded API server the operator benchmarks and soak run against: the GitOpsAgent and
/// optional CRDs loaded, Deployments Ready 20 ms after they are written.
pub async fn api_server() -> Result<(fake_apiserver::Running, kube::Client), Box<dyn std::error::Error>> {
    let root = paths::repo_root();
    let running = fake_apiserver::start(
        Config { deployment_ready_after: Duration::from_millis(20), ..Config::default() },
        Listen::default(),
    )
    .await?;
    fixtures::load_crds(&running.server, &root.join("crds"))?;
    fixtures::load_crds(&running.server, &root.join("examples/optional-crds"))?;
    let client = running.client().await?;
    Ok((running, client))
}

async fn converge(n: usize) -> Result<String, Box<dyn std::error::Error>> {
    let resync = knobs::number("BENCH_RESYNC_SECONDS", 10);
    let (running, client) = api_server().await?;
    let namespaces = (n / 10).max(1);
    let ns_api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for i in 0..namespaces {
        ns_api
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": format!("team-{i:03}")}}))?,
            )
            .await?;
    }
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("agents.gitops.dev", "v1alpha1", "GitOpsAgent"),
        "gitopsagents",
    );
    futures::stream::iter(0..n)
        .map(|i| {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &format!("team-{:03}", i % namespaces), &ar);
            async move {
                let agent = json!({"apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent",
                    "metadata": {"name": format!("agent-{i:04}")}, "spec": {"metrics": {"serviceMonitor": {"enabled": true}}}});
                api.patch(&format!("agent-{i:04}"), &PatchParams::apply("bench"), &Patch::Apply(&agent)).await
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;

    let dir = paths::scratch(&format!("operator-bench-{n}"))?;
    let kubeconfig = dir.join("kubeconfig");
    running.write_kubeconfig(&kubeconfig)?;
    let before = running.stats();
    let started = Instant::now();
    let child = Command::new(paths::binary("gitops-agent-operator")?)
        .args([
            "run",
            "--leader-election=false",
            "--verify=false",
            "--http-addr=127.0.0.1:0",
            "--log-format=text",
            "--log-level=error",
            "--discovery-seconds=30",
        ])
        .args(std::env::var("BENCH_CONCURRENCY").map(|c| format!("--concurrency={c}")))
        .arg(format!("--resync-seconds={resync}"))
        .env("KUBECONFIG", &kubeconfig)
        .stdout(std::fs::File::create(dir.join("operator.log"))?)
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let _stop = KillOnDrop(child);
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let mut peak_rss: f64 = 0.0;
    let (ready_after, ready) = loop {
        peak_rss = peak_rss.max(rss_mib(pid));
        let list = all.list(&ListParams::default()).await?;
        let ready = list
            .items
            .iter()
            .filter(|a| {
                a.data
                    .pointer("/status/conditions")
                    .and_then(|c| c.as_array())
                    .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
            })
            .count();
        if ready == n {
            break (started.elapsed(), ready);
        }
        if started.elapsed() > Duration::from_secs(240) {
            eprintln!("only {ready}/{n} agents Ready after 240 s");
            break (started.elapsed(), ready);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let converge = running.stats().since(&before);
    // The bench's own polling lists are not the operator's; take them out.
    let polls = converge.count("list", "gitopsagents.agents.gitops.dev");
    // Let the last status updates of the convergence land before measuring the steady state.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let steady_start = running.stats();
    // Three resync periods.
    tokio::time::sleep(Duration::from_secs(3 * resync)).await;
    let steady = running.stats().since(&steady_start);
    let writes_on = |keep: &dyn Fn(&str) -> bool| -> u64 {
        steady
            .requests
            .iter()
            .filter(|(k, _)| fake_apiserver::stats::WRITE_VERBS.iter().any(|w| k.starts_with(&format!("{w} "))))
            .filter(|(k, _)| keep(k))
            .map(|(_, v)| v)
            .sum()
    };
    let child_writes = writes_on(&|k| !k.contains("leases") && !k.contains("events") && !k.contains("gitopsagents"));
    let status_writes = writes_on(&|k| k.contains("gitopsagents"));
    let rss = rss_mib(pid);
    eprintln!("operator log: {}", dir.join("operator.log").display());
    Ok(format!(
        "| {n} | {}{:.1} | {:.1} | {:.1} | {} | {child_writes} | {status_writes} | {:.1} | {:.1} |",
        if ready < n { format!("{ready}/{n} Ready after ") } else { String::new() },
        ready_after.as_secs_f64(),
        ready as f64 / ready_after.as_secs_f64(),
        (converge.total - polls) as f64 / n as f64,
        converge.writes,
        rss,
        peak_rss.max(rss)
    ))
}

pub async fn run() -> Outcome {
    let mut rows = Vec::new();
    for n in knobs::list("BENCH_AGENTS", &[100, 1000]) {
        rows.push(converge(n).await?);
    }
    let cpus = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
    let mut report = format!(
        "## Operator ({}, {cpus} CPUs, release build, own process, embedded API server over HTTPS)\n\n\
         | agents | seconds to all Ready | agents Ready/s | API requests per agent | writes while converging | child writes at steady state (3 resyncs) | status writes at steady state | RSS MiB at rest | peak RSS MiB |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        paths::today()
    );
    for r in rows {
        report.push_str(&format!("{r}\n"));
    }
    println!("{report}");
    paths::save_report("operator", "md", &report)?;
    Ok(())
}
