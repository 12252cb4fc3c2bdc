//! One agent answering for a fleet: three embedded API servers (the agent's own cluster and two
//! workload clusters whose kubeconfigs sit in `--clusters-dir`, as the operator mounts CAPI
//! `<cluster>-kubeconfig` Secrets). Calls are routed by `cluster`, `fleet_health_summary`
//! aggregates, a cluster that goes down or is slow is reported without holding up the others,
//! clusters come and go with their files, and `--all-contexts` makes every kubeconfig context a
//! member for local use.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fake_apiserver::fixtures::{self, Scale};
use fake_apiserver::{Config, FaultConfig, Listen, Running};
use serde_json::{Value, json};

use common::{Options, eventually, root};

/// A workload cluster: the Flux CRDs and `namespaces` × 10 Kustomizations (one in ten failing).
async fn workload(namespaces: usize) -> Running {
    let api = fake_apiserver::start(Config::default(), Listen::default()).await.expect("API server");
    fixtures::load_crds(&api.server, &root().join("examples/fixtures/crds")).expect("CRDs");
    let scale = Scale { namespaces, kustomizations_per_namespace: 10, helmreleases_per_namespace: 1 };
    fixtures::load_scale(&api.server, scale).expect("estate");
    api
}

/// A directory laid out as the kubelet lays out a projected volume: one link per cluster into a
/// hidden data directory.
fn clusters_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gitops-agent-fleet-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("..data")).expect("dir");
    dir
}

fn mount(dir: &Path, cluster: &str, kubeconfig: &str) {
    std::fs::write(dir.join("..data").join(cluster), kubeconfig).expect("write");
    let link = dir.join(cluster);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(PathBuf::from("..data").join(cluster), link).expect("link");
}

fn entry<'a>(contexts: &'a Value, name: &str) -> Option<&'a Value> {
    contexts["contexts"].as_array()?.iter().find(|c| c["name"] == name)
}

fn health_of<'a>(summary: &'a Value, cluster: &str) -> &'a Value {
    summary["clusters"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["cluster"] == cluster))
        .unwrap_or_else(|| panic!("{cluster} missing in {summary:#}"))
}

#[tokio::test]
async fn one_agent_answers_per_cluster_and_for_the_fleet_and_reports_a_cluster_that_goes_down() {
    let eu = workload(2).await;
    let us = workload(3).await;
    let dir = clusters_dir("main");
    mount(&dir, "prod-eu", &eu.kubeconfig());
    mount(&dir, "prod-us", &us.kubeconfig());
    mount(&dir, "broken", "this is not a kubeconfig");
    let env = common::start(Options {
        fixtures: true,
        extra_args: vec![
            format!("--clusters-dir={}", dir.display()),
            "--clusters-sync-seconds=1".into(),
            "--stale-seconds=1".into(),
            "--cluster-timeout-seconds=1".into(),
        ],
        ..Default::default()
    })
    .await;

    // The fleet as list_contexts shows it: every member, the broken one with its reason.
    let contexts = eventually("the workload clusters answer", Duration::from_secs(20), || async {
        let (_, data) = env.mcp.ok("list_contexts", json!({})).await;
        let up = |n: &str| entry(&data, n).is_some_and(|e| e["reachable"] == true);
        (up("prod-eu") && up("prod-us")).then_some(data)
    })
    .await;
    assert_eq!(contexts["current"], "local");
    let local = entry(&contexts, "local").expect("local");
    assert_eq!(local["current"], true);
    assert_eq!(local["fluxVersion"], "v2.7.3", "read from the Kustomization CRD's label");
    let eu_entry = entry(&contexts, "prod-eu").expect("prod-eu");
    assert_eq!(eu_entry["server"], eu.url.as_str());
    assert_eq!(eu_entry["member"], true);
    let broken = entry(&contexts, "broken").expect("broken");
    assert_eq!(broken["reachable"], false);
    let why = broken["error"].as_str().unwrap_or_default();
    assert!(why.contains("kubeconfig"), "{broken}");
    assert!(!why.contains("this is not"), "a parse error must not echo the file (it may hold credentials): {why}");
    assert!(entry(&contexts, "..data").is_none(), "the projected volume's data directory is not a cluster");

    // Each cluster answers for itself; no `cluster` means the agent's own.
    let count = |data: &Value| data["page"]["total"].as_u64().unwrap_or_default();
    let (_, own) = env.mcp.ok("list_kustomizations", json!({})).await;
    let (_, in_eu) = env.mcp.ok("list_kustomizations", json!({"cluster": "prod-eu"})).await;
    let (_, in_us) = env.mcp.ok("list_kustomizations", json!({"cluster": "prod-us", "limit": 5})).await;
    assert_eq!((count(&own), count(&in_eu), count(&in_us)), (9, 20, 30));
    let (_, same) = env.mcp.ok("list_kustomizations", json!({"cluster": "local"})).await;
    assert_eq!(count(&same), 9);

    // Wrong cluster arguments are argument errors (tool results a model can correct) that say
    // what would be right.
    let unknown = env.mcp.call("list_kustomizations", json!({"cluster": "prod-apac"})).await;
    assert_eq!(unknown["result"]["isError"], true, "{unknown}");
    let message = unknown["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(message.starts_with("invalid argument `cluster`"), "{message}");
    assert!(message.contains("prod-apac") && message.contains("prod-eu, prod-us"), "{message}");
    let typed = env.mcp.call("list_kustomizations", json!({"cluster": 7})).await;
    assert_eq!(typed["result"]["isError"], true, "{typed}");
    assert!(
        typed["result"]["content"][0]["text"].as_str().is_some_and(|t| t.contains("expected a cluster name")),
        "{typed}"
    );
    // The cluster travels in the Mcp-Param-Cluster header too (x-mcp-header): a body that says
    // otherwise is refused before any tool runs.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_kustomizations",
        "arguments": {"cluster": "prod-eu"}, "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}});
    for header in [None, Some("prod-us")] {
        let mut headers = vec![
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "list_kustomizations"),
        ];
        headers.extend(header.map(|h| ("mcp-param-cluster", h)));
        let refused = env.mcp.post(&headers, &body).await;
        assert_eq!(refused.status, 400, "{header:?}: {}", refused.body);
        assert_eq!(refused.json()["error"]["code"], -32020, "{header:?}: {}", refused.body);
    }
    let broken_call = env.mcp.call("get_gitops_status", json!({"cluster": "broken"})).await;
    assert_eq!(broken_call["result"]["isError"], true, "{broken_call}");

    // The fleet in one answer: the broken cluster first, then by failures; problems tagged by cluster.
    let (markdown, summary) = env.mcp.ok("fleet_health_summary", json!({"limit": 500})).await;
    assert_eq!(summary["clusters"][0]["cluster"], "broken", "unreachable first: {summary:#}");
    assert_eq!(health_of(&summary, "prod-us")["totals"]["failed"], in_us["summary"]["failed"]);
    assert_eq!(health_of(&summary, "prod-eu")["totals"]["failed"], in_eu["summary"]["failed"]);
    assert!(in_eu["summary"]["failed"].as_u64() > Some(0));
    let problems = summary["problems"].as_array().expect("problems");
    for cluster in ["local", "prod-eu", "prod-us"] {
        assert!(problems.iter().any(|p| p["cluster"] == cluster), "no problem from {cluster}");
    }
    let first_suspended = problems.iter().position(|p| p["state"] == "suspended").unwrap_or(problems.len());
    assert!(problems[first_suspended..].iter().all(|p| p["state"] == "suspended"), "failing before suspended");
    assert!(markdown.contains("| prod-us | yes |"), "{markdown}");

    // API requests are counted per cluster.
    let metrics = env.agent.agent.metrics.render();
    assert!(metrics.contains(r#"k8s_api_calls_total{cluster="prod-eu",verb="list",resource="kustomizations""#));
    assert!(metrics.contains(r#"k8s_api_calls_total{cluster="local",verb="list",resource="kustomizations""#));

    // prod-us goes down: reported as unreachable, the others still answer, and nobody waits for it.
    drop(us);
    let summary = eventually("prod-us is reported down", Duration::from_secs(20), || async {
        let (_, s) = env.mcp.ok("fleet_health_summary", json!({})).await;
        (health_of(&s, "prod-us")["reachable"] == false).then_some(s)
    })
    .await;
    assert!(health_of(&summary, "prod-us")["error"].as_str().is_some_and(|e| e.contains("unavailable")), "{summary:#}");
    assert_eq!(health_of(&summary, "prod-eu")["reachable"], true);
    assert_eq!(health_of(&summary, "local")["reachable"], true);
    let down = env.mcp.call("list_kustomizations", json!({"cluster": "prod-us"})).await;
    assert_eq!(down["result"]["isError"], true, "{down}");
    assert!(down["result"]["content"][0]["text"].as_str().is_some_and(|t| t.contains("unavailable")), "{down}");
    let (_, in_eu) = env.mcp.ok("list_kustomizations", json!({"cluster": "prod-eu"})).await;
    assert_eq!(count(&in_eu), 20);

    // Its kubeconfig is removed: it leaves the fleet, and its caches with it.
    std::fs::remove_file(dir.join("prod-us")).expect("remove");
    eventually("prod-us leaves the fleet", Duration::from_secs(10), || async {
        let (_, data) = env.mcp.ok("list_contexts", json!({})).await;
        entry(&data, "prod-us").is_none().then_some(())
    })
    .await;
    let gone = env.mcp.call("list_kustomizations", json!({"cluster": "prod-us"})).await;
    assert_eq!(gone["result"]["isError"], true, "{gone}");
    assert!(gone["result"]["content"][0]["text"].as_str().is_some_and(|t| t.contains("unknown cluster")), "{gone}");

    // A new workload cluster appears: it joins without a restart.
    let apac = workload(1).await;
    mount(&dir, "prod-apac", &apac.kubeconfig());
    let in_apac = eventually("prod-apac joins", Duration::from_secs(20), || async {
        let r = env.mcp.call("list_kustomizations", json!({"cluster": "prod-apac"})).await;
        r.get("result").filter(|r| r["isError"] != true).map(|r| r["structuredContent"].clone())
    })
    .await;
    assert_eq!(count(&in_apac), 10);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_slow_cluster_costs_the_fleet_answer_at_most_the_per_cluster_timeout() {
    let slow = workload(1).await;
    // Every request takes 4 s: discovery finishes, then its first lists are still loading.
    slow.server.faults.set(FaultConfig { latency_ms: 4_000, ..Default::default() });
    let dir = clusters_dir("slow");
    mount(&dir, "slow", &slow.kubeconfig());
    let env = common::start(Options {
        fixtures: true,
        extra_args: vec![format!("--clusters-dir={}", dir.display()), "--cluster-timeout-seconds=1".into()],
        ..Default::default()
    })
    .await;
    // Before it has answered at all it is "connecting", said at once.
    let (_, early) = env.mcp.ok("fleet_health_summary", json!({})).await;
    let early_slow = health_of(&early, "slow");
    assert_eq!(early_slow["reachable"], false);
    assert!(early_slow["error"].as_str().is_some_and(|e| e.contains("connecting")), "{early_slow}");
    // Once discovered, its caches load for another 4 s: the answer waits 1 s for it, not 4.
    let fleet = env.agent.agent.fleet.clone();
    eventually("slow is discovered", Duration::from_secs(60), || async {
        let member = fleet.member(Some("slow")).ok()?;
        member.link.as_ref().ok()?.cache.discovered().then_some(())
    })
    .await;
    let started = Instant::now();
    let (_, summary) = env.mcp.ok("fleet_health_summary", json!({})).await;
    let took = started.elapsed();
    let slow_health = health_of(&summary, "slow");
    assert_eq!(slow_health["reachable"], false, "{summary:#}");
    assert!(slow_health["error"].as_str().is_some_and(|e| e.contains("per-cluster timeout")), "{slow_health}");
    assert_eq!(health_of(&summary, "local")["reachable"], true);
    assert!(took < Duration::from_secs(3), "the fleet answer waited {took:?} for a slow cluster");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_context_of_a_kubeconfig_is_a_cluster_with_all_contexts() {
    let other = workload(2).await;
    let env = common::start(Options { fixtures: true, ..Default::default() }).await;
    // One kubeconfig with two contexts: the fixture cluster (current) and `staging`.
    let mut kc = kube::config::Kubeconfig::from_yaml(&std::fs::read_to_string(&env.kubeconfig).expect("read"))
        .expect("kubeconfig");
    let mut extra = kube::config::Kubeconfig::from_yaml(&other.kubeconfig()).expect("kubeconfig");
    for c in &mut extra.clusters {
        c.name = "staging-cluster".into();
    }
    for u in &mut extra.auth_infos {
        u.name = "staging-user".into();
    }
    for c in &mut extra.contexts {
        c.name = "staging".into();
        if let Some(ctx) = c.context.as_mut() {
            ctx.cluster = "staging-cluster".into();
            ctx.user = Some("staging-user".into());
        }
    }
    kc.clusters.extend(extra.clusters);
    kc.auth_infos.extend(extra.auth_infos);
    kc.contexts.extend(extra.contexts);
    let path = env.kubeconfig.with_file_name("two-contexts");
    std::fs::write(&path, serde_json::to_string(&kc).expect("json")).expect("write");
    let current = kc.current_context.clone().expect("current context");

    let agent =
        common::start_agent(&env, vec![format!("--kubeconfig={}", path.display()), "--all-contexts".into()]).await;
    let mcp = common::Mcp::new(format!("{}/mcp", agent.url()));
    let (_, data) = mcp.ok("list_contexts", json!({})).await;
    assert_eq!(data["current"], current.as_str());
    assert_eq!(entry(&data, "staging").map(|e| e["member"].clone()), Some(json!(true)), "{data:#}");
    let count = |data: &Value| data["page"]["total"].as_u64().unwrap_or_default();
    let in_staging = eventually("staging answers", Duration::from_secs(20), || async {
        let r = mcp.call("list_kustomizations", json!({"cluster": "staging"})).await;
        r.get("result").filter(|r| r["isError"] != true).map(|r| r["structuredContent"].clone())
    })
    .await;
    assert_eq!(count(&in_staging), 20);
    let (_, own) = mcp.ok("list_kustomizations", json!({})).await;
    assert_eq!(count(&own), 9);
    let (_, by_name) = mcp.ok("list_kustomizations", json!({"cluster": current})).await;
    assert_eq!(count(&by_name), 9);
    let (md, _) = mcp.ok("get_current_context", json!({"cluster": "staging"})).await;
    assert!(md.contains("## Cluster `staging`") && md.contains(&other.url), "{md}");
}

#[tokio::test]
async fn with_auth_a_caller_sees_on_each_cluster_what_that_clusters_rbac_grants() {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
    // A workload cluster that grants `dev` read access to Flux objects; the agent's own cluster
    // grants `dev` nothing.
    let workload_api = {
        let api = workload(2).await;
        let admin = api.client().await.expect("client");
        let flux = ["helm.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "source.toolkit.fluxcd.io"];
        let role = ClusterRole {
            metadata: kube::api::ObjectMeta { name: Some("flux-reader".into()), ..Default::default() },
            rules: Some(vec![PolicyRule {
                api_groups: Some(flux.iter().map(|g| g.to_string()).collect()),
                resources: Some(vec!["*".into()]),
                verbs: vec!["get".into(), "list".into(), "watch".into()],
                ..Default::default()
            }]),
            ..Default::default()
        };
        let pp = kube::api::PostParams::default();
        kube::Api::<ClusterRole>::all(admin.clone()).create(&pp, &role).await.expect("role");
        let binding = ClusterRoleBinding {
            metadata: kube::api::ObjectMeta { name: Some("dev-reads-flux".into()), ..Default::default() },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: "flux-reader".into(),
            },
            subjects: Some(vec![Subject {
                kind: "User".into(),
                name: "dev".into(),
                api_group: Some("rbac.authorization.k8s.io".into()),
                ..Default::default()
            }]),
        };
        kube::Api::<ClusterRoleBinding>::all(admin).create(&pp, &binding).await.expect("binding");
        api.server.auth.set_rbac(true);
        api
    };
    let dir = clusters_dir("auth");
    mount(&dir, "edge", &workload_api.kubeconfig());
    let env = common::start(Options {
        fixtures: true,
        rbac: true,
        extra_args: vec!["--auth=kubernetes".into(), format!("--clusters-dir={}", dir.display())],
    })
    .await;
    let dev = env.mcp.with_token(&env.api.server.auth.issue_token(fake_apiserver::auth::User::new("dev", &[])));
    let in_edge = eventually("edge answers dev", Duration::from_secs(20), || async {
        let r = dev.call("list_kustomizations", json!({"cluster": "edge"})).await;
        r.get("result").filter(|r| r["isError"] != true).map(|r| r["structuredContent"].clone())
    })
    .await;
    assert_eq!(in_edge["page"]["total"], 20, "edge's RBAC lets dev list every Kustomization there");
    // At home, the same caller is refused: the agent's own cluster grants dev nothing.
    let at_home = dev.call("list_kustomizations", json!({"namespace": "flux-system"})).await;
    assert_eq!(at_home["result"]["isError"], true, "{at_home}");
    assert!(at_home.to_string().contains("dev"), "the refusal names the caller: {at_home}");
    // Across the fleet, each cluster answers within its own RBAC.
    let (_, summary) = dev.ok("fleet_health_summary", json!({"namespace": "tenant-000"})).await;
    let (_, edge_alone) = dev.ok("flux_health_summary", json!({"cluster": "edge", "namespace": "tenant-000"})).await;
    assert_eq!(health_of(&summary, "edge")["reachable"], true, "{summary:#}");
    assert_eq!(health_of(&summary, "edge")["totals"]["total"], edge_alone["totals"]["total"], "{summary:#}");
    assert!(edge_alone["totals"]["total"].as_u64() > Some(0));
    let home = health_of(&summary, "local");
    assert_eq!(home["reachable"], true, "refused is not unreachable: {home}");
    assert!(home["error"].as_str().is_some_and(|e| e.contains("dev")), "refused at home: {home}");

    // The A2A extended card tells dev the same: edge, with the Flux skills, and not home.
    let token = env.api.server.auth.issue_token(fake_apiserver::auth::User::new("dev", &[]));
    let a2a = common::Mcp::new(format!("{}/", env.agent.url())).with_token(&token);
    let card = json!({"jsonrpc": "2.0", "id": 1, "method": "GetExtendedAgentCard"});
    let card = a2a.post(&[("a2a-version", "1.0")], &card).await.json();
    let clusters = card["result"]["capabilities"]["extensions"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["uri"] == "https://gitops-agent.dev/a2a/extensions/clusters/v1"))
        .map(|e| e["params"]["clusters"].clone())
        .unwrap_or_else(|| panic!("no clusters extension: {card}"));
    let names: Vec<&str> = clusters.as_array().expect("clusters").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["edge"], "{clusters}");
    let on_edge = clusters[0]["skills"].as_array().expect("skills");
    assert!(on_edge.contains(&json!("list-kustomizations")), "{clusters}");
    assert!(!on_edge.contains(&json!("get-pod-logs")), "edge grants no pod reads: {clusters}");
    let _ = std::fs::remove_dir_all(&dir);
}
