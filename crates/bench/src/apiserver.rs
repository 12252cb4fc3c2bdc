//! `make bench-apiserver`: shows the embedded API server is not the bottleneck of our
//! benchmarks. Lists 10,000 Kustomizations over HTTPS through kube-rs, and measures watch events
//! delivered per second while clients write. Prints figures and writes bench/results/<date>-apiserver.md;
//! asserts nothing.

use std::time::{Duration, Instant};

use fake_apiserver::fixtures::{self, Scale};
use fake_apiserver::{Config, Listen};
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, GroupVersionKind};

use crate::{Outcome, paths};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Reads MODIFIED events until `want` arrived, the stream ends, or 30 s pass without one.
async fn count_modified(
    stream: &mut (impl futures::Stream<Item = kube::Result<WatchEvent<DynamicObject>>> + Unpin),
    want: usize,
) -> usize {
    let mut seen = 0;
    while seen < want {
        match tokio::time::timeout(Duration::from_secs(30), stream.try_next()).await {
            Ok(Ok(Some(WatchEvent::Modified(_)))) => seen += 1,
            Ok(Ok(Some(_))) => {}
            _ => break,
        }
    }
    seen
}

pub async fn run() -> Outcome {
    let running = fake_apiserver::start(Config::default(), Listen::default()).await?;
    let root = paths::repo_root().join("examples/fixtures/crds");
    fixtures::load_crds(&running.server, &root)?;
    let scale = Scale { namespaces: 100, kustomizations_per_namespace: 100, helmreleases_per_namespace: 0 };
    let t = Instant::now();
    let n = fixtures::load_scale(&running.server, scale).map_err(|e| e.message)?;
    let load = t.elapsed();
    let client = running.client().await?;
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"),
        "kustomizations",
    );
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &ar);

    let mut rows = Vec::new();
    for (label, lp, iterations) in [
        ("list all 10,000 (one page)", ListParams::default(), 20),
        ("list one namespace (100)", ListParams::default().fields("metadata.namespace=tenant-007"), 200),
        ("list by label selector (0 match)", ListParams::default().labels("app=none"), 50),
    ] {
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..iterations {
            let t = Instant::now();
            count = all.list(&lp).await?.items.len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let p50 = percentile(&times, 0.5);
        rows.push(format!(
            "| {label} | {count} | {p50:.1} | {:.1} | {:.0} |",
            percentile(&times, 0.99),
            count as f64 / (p50 / 1000.0)
        ));
    }

    // Watch throughput: one watcher over all Kustomizations while 8 clients patch 2,000 of them.
    let start_rv = all.list(&ListParams::default().limit(1)).await?.metadata.resource_version.unwrap_or_default();
    let mut stream = all.watch(&WatchParams::default().timeout(120), &start_rv).await?.boxed();
    let writes = 2_000usize;
    let t = Instant::now();
    let writer = {
        let client = client.clone();
        let ar = ar.clone();
        tokio::spawn(async move {
            futures::stream::iter(0..writes)
                .map(|i| {
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(client.clone(), &format!("tenant-{:03}", i % 100), &ar);
                    async move {
                        api.patch(
                            &format!("app-{:04}", i / 100),
                            &PatchParams::default(),
                            &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"bench": i.to_string()}}})),
                        )
                        .await
                    }
                })
                .buffer_unordered(8)
                .try_collect::<Vec<_>>()
                .await
        })
    };
    let events = count_modified(&mut stream, writes).await;
    let watch_secs = t.elapsed().as_secs_f64();
    writer.await??;

    // Watch delivery alone: 5,000 changes made inside the server as fast as it can, one
    // watcher over HTTPS receiving them.
    let start_rv = all.list(&ListParams::default().limit(1)).await?.metadata.resource_version.unwrap_or_default();
    let mut stream = all.watch(&WatchParams::default().timeout(120), &start_rv).await?.boxed();
    let changes = 5_000usize;
    let server = running.server.clone();
    let rt = server
        .with_store(|st| st.registry.find("kustomize.toolkit.fluxcd.io", "v1", "kustomizations").cloned())
        .ok_or("no Kustomization type")?;
    let t = Instant::now();
    let producer = tokio::task::spawn_blocking(move || {
        for i in 0..changes {
            let status = serde_json::json!({"observedGeneration": 1, "lastHandledReconcileAt": i.to_string()});
            let _ = server.write_status(
                &rt,
                &format!("tenant-{:03}", i % 100),
                &format!("app-{:04}", (i / 100) % 100),
                status,
                "bench",
            );
        }
    });
    let delivered = count_modified(&mut stream, changes).await;
    let delivery_secs = t.elapsed().as_secs_f64();
    producer.await?;

    let cpus = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
    let mut report = format!(
        "## Embedded API server ({}, {cpus} CPUs, release build; HTTPS, kube-rs client, {n} objects generated in {:.2}s)\n\n\
         | operation | objects | p50 ms | p99 ms | objects/s at p50 |\n|---|---|---|---|---|\n",
        paths::today(),
        load.as_secs_f64()
    );
    for r in rows {
        report.push_str(&format!("{r}\n"));
    }
    report.push_str(&format!(
        "\n| watch | events | seconds | events/s |\n|---|---|---|---|\n\
         | 8 writers patching, 1 watcher over all Kustomizations | {events} | {watch_secs:.2} | {:.0} |\n\
         | changes made inside the server, 1 watcher over HTTPS | {delivered} | {delivery_secs:.2} | {:.0} |\n",
        events as f64 / watch_secs,
        delivered as f64 / delivery_secs
    ));
    println!("{report}");
    paths::save_report("apiserver", "md", &report)?;
    Ok(())
}
