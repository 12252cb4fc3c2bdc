//! The agent server under the embedded API server's injected faults: an outage (a clear error and
//! an unready probe, then recovery without a restart), dropped watches and 410 Gone (relists, and
//! answers that follow the cluster), error bursts (backoff, not a retry storm), and SIGTERM with
//! calls in flight.

mod common;

use std::time::{Duration, Instant};

use fake_apiserver::FaultConfig;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use common::{Env, Mcp, eventually, kustomizations};

async fn readyz(env: &Env) -> u16 {
    Mcp::new(String::new()).get(&format!("{}/readyz", env.agent.url())).await.status
}

async fn state_of_apps(env: &Env) -> Value {
    let r = env.mcp.call("get_kustomization", json!({"name": "apps", "namespace": "flux-system"})).await;
    r["result"]["structuredContent"]["state"].clone()
}

#[tokio::test]
async fn an_api_outage_is_a_clear_error_and_unready_then_recovers_without_a_restart() {
    let env = common::start(common::Options {
        fixtures: true,
        extra_args: vec!["--stale-seconds=1".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(readyz(&env).await, 200);
    env.mcp.ok("list_kustomizations", json!({})).await;

    // The API server stops answering; its watch connections break, so the watches reconnect
    // and fail.
    env.api.server.faults.set(FaultConfig { outage_ms: 60_000, drop_watches_after_ms: 100, ..Default::default() });
    let error = eventually("tools report the outage", Duration::from_secs(15), || async {
        let r = env.mcp.call("list_kustomizations", json!({})).await;
        (r["result"]["isError"] == true)
            .then(|| r["result"]["content"][0]["text"].as_str().unwrap_or_default().to_string())
    })
    .await;
    assert!(error.contains("the cluster API is unavailable"), "{error}");
    assert!(error.contains("HTTP 503"), "the last error is named: {error}");
    assert_eq!(readyz(&env).await, 503, "unready while the API is down");

    // Back: the same process answers again, from caches that saw what changed meanwhile.
    env.api.server.faults.set(FaultConfig::default());
    let admin = env.api.client().await.expect("client");
    kustomizations(admin)
        .patch("apps", &PatchParams::default(), &Patch::Merge(json!({"spec": {"suspend": true}})))
        .await
        .expect("suspend");
    eventually("caches resync after the outage", Duration::from_secs(30), || async {
        (state_of_apps(&env).await == "suspended").then_some(())
    })
    .await;
    assert_eq!(readyz(&env).await, 200);
}

#[tokio::test]
async fn dropped_watches_and_410_gone_relist_and_answers_follow_the_cluster() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let before = env.api.stats();
    env.api.server.faults.set(FaultConfig { drop_watches_after_ms: 200, gone_watches: 40, ..Default::default() });
    let admin = env.api.client().await.expect("client");
    tokio::time::sleep(Duration::from_millis(500)).await;
    kustomizations(admin.clone())
        .patch("apps", &PatchParams::default(), &Patch::Merge(json!({"spec": {"suspend": true}})))
        .await
        .expect("suspend");
    eventually("the change shows through dropped and expired watches", Duration::from_secs(20), || async {
        (state_of_apps(&env).await == "suspended").then_some(())
    })
    .await;
    let during = env.api.stats().since(&before);
    assert!(
        during.count("list", "kustomizations.kustomize.toolkit.fluxcd.io") >= 1,
        "410 Gone makes the reflector relist: {:?}",
        during.requests
    );
    env.api.server.faults.set(FaultConfig::default());
    kustomizations(admin)
        .patch("apps", &PatchParams::default(), &Patch::Merge(json!({"spec": {"suspend": false}})))
        .await
        .expect("resume");
    eventually("and after the faults stop", Duration::from_secs(20), || async {
        (state_of_apps(&env).await != "suspended").then_some(())
    })
    .await;
}

#[tokio::test]
async fn error_bursts_meet_backoff_not_a_retry_storm() {
    for (code, label) in [(500u16, "500"), (429, "429")] {
        // A fresh agent per burst: after one burst, watches still in their longer backoff would
        // sit out the next one.
        let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
        let watches = env.agent.agent.ctx.cache.counts().len() as u64;
        let before = env.api.stats();
        env.api.server.faults.set(FaultConfig {
            error_rate: 1.0,
            error_code: code,
            retry_after_secs: 1,
            drop_watches_after_ms: 100,
            ..Default::default()
        });
        tokio::time::sleep(Duration::from_secs(4)).await;
        env.api.server.faults.set(FaultConfig::default());
        let refused: u64 = env
            .api
            .stats()
            .since(&before)
            .requests
            .iter()
            .filter(|(k, _)| k.starts_with("fault "))
            .map(|(_, v)| v)
            .sum();
        // Each watch retries after 0.8 s, 1.6 s, 3.2 s (with jitter): a handful of attempts in 4 s.
        // A client without backoff would make thousands.
        println!("{label} burst: {refused} refused requests from {watches} watches in 4 s");
        assert!(refused >= watches, "{label}: every watch met the burst: {refused}");
        assert!(refused <= watches * 8, "{label}: {refused} requests from {watches} watches in 4 s is a retry storm");
        eventually("ready again after the burst", Duration::from_secs(30), || async {
            (readyz(&env).await == 200).then_some(())
        })
        .await;
        env.mcp.ok("list_kustomizations", json!({})).await;
    }
}

#[tokio::test]
async fn sigterm_lets_calls_in_flight_finish_within_the_grace_period() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let agent = common::start_agent(&env, vec!["--shutdown-seconds=10".into()]).await;
    let url = format!("{}/mcp", agent.url());
    // get_events asks the API server, which now takes a second to answer.
    env.api.server.faults.set(FaultConfig { latency_ms: 1000, ..Default::default() });
    let in_flight = tokio::spawn({
        let url = url.clone();
        async move { Mcp::new(url).call("get_events", json!({"namespace": "flux-system"})).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    agent.shutdown().await.expect("clean shutdown");
    let waited = started.elapsed();
    let answer = in_flight.await.expect("call task");
    assert_eq!(answer["result"]["isError"], false, "the call in flight completed: {answer}");
    assert!(answer["result"]["structuredContent"]["events"].is_array(), "{answer}");
    assert!(waited < Duration::from_secs(10), "shutdown waited for the call, not the whole grace period: {waited:?}");
    env.api.server.faults.set(FaultConfig::default());
    // The port is closed: new calls are refused rather than left hanging.
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<http_body_util::Full<hyper::body::Bytes>>()
            .get(url.parse().expect("uri"))
            .await
    })
    .await
    .expect("no hang");
    assert!(refused.is_err(), "the server still accepts connections");
}
