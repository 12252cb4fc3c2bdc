//! Fleet (`spec.clusters`) against the embedded API server with RBAC on, the operator running as
//! its own ServiceAccount with the ClusterRole from config/rbac: CAPI Clusters picked by a label
//! selector, their `<cluster>-kubeconfig` Secrets mounted (only those that exist), re-rendering
//! when a Cluster appears, reachability from the agent's `list_contexts`, and a selector on a
//! cluster without Cluster API. Then the whole chain across three API servers: the operator picks
//! the CAPI workload clusters, the test plays the kubelet (writes the projected files), and the
//! real agent server answers for the fleet, one workload cluster going down mid-test.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{condition, eventually, root};
use fake_apiserver::auth::User;
use fake_apiserver::{Config, Listen, Running, fixtures};
use gitops_agent_controller::operator::Settings;
use gitops_agent_controller::reconcile::Verification;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const NS: &str = "fleet";
const OPERATOR_NS: &str = "gitops-agent-system";
const OPERATOR_SA: &str = "gitops-agent-operator";

struct Cluster {
    running: Running,
    /// Admin: sets the scene.
    admin: Client,
    /// The operator's ServiceAccount, bound to config/rbac/role.yaml.
    operator: Client,
}

/// The embedded API server with RBAC on, the GitOpsAgent CRD, CAPI's CRDs when `capi`, and the
/// operator's ClusterRole bound to its ServiceAccount.
async fn cluster(capi: bool) -> Cluster {
    // The fixtures' CRDs include Cluster API's (cluster.x-k8s.io/v1beta1).
    let crds: &[&str] = if capi { &["crds", "examples/fixtures/crds"] } else { &["crds"] };
    let (running, admin) = common::api_server(crds, &[NS, OPERATOR_NS]).await;
    let role = common::operator_role();
    Api::<ClusterRole>::all(admin.clone()).create(&PostParams::default(), &role).await.expect("operator role");
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "gitops-agent-operator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role.name_any()},
        "subjects": [{"kind": "ServiceAccount", "name": OPERATOR_SA, "namespace": OPERATOR_NS}],
    }))
    .expect("binding");
    Api::<ClusterRoleBinding>::all(admin.clone()).create(&PostParams::default(), &binding).await.expect("binding");
    running.server.auth.set_rbac(true);
    let token = running.server.auth.issue_token(User::service_account(OPERATOR_NS, OPERATOR_SA));
    let operator = running.client_for(&token).await.expect("operator client");
    Cluster { running, admin, operator }
}

fn settings(verification: Verification) -> Settings {
    Settings { verification, ..common::settings() }
}

/// Runs the operator as its own ServiceAccount; dropping the sender stops it.
fn operator(c: &Cluster, s: Settings) -> oneshot::Sender<()> {
    common::start_operator(c.operator.clone(), s).0
}

fn agents(client: &Client) -> Api<DynamicObject> {
    common::agents(client, NS)
}

async fn apply_agent(client: &Client, spec: Value) -> DynamicObject {
    common::apply_agent(client, NS, spec).await
}

async fn capi_cluster(client: &Client, name: &str, env: &str) {
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta1", "Cluster"), "clusters");
    let cluster: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
        "metadata": {"name": name, "namespace": NS, "labels": {"env": env}},
        "spec": {"controlPlaneEndpoint": {"host": format!("{name}.example.com"), "port": 6443}},
    }))
    .expect("cluster");
    Api::<DynamicObject>::namespaced_with(client.clone(), NS, &ar)
        .create(&PostParams::default(), &cluster)
        .await
        .expect("create CAPI Cluster");
}

/// A kubeconfig Secret the way CAPI writes it (key `value`).
async fn kubeconfig_secret(client: &Client, name: &str, key: &str) {
    kubeconfig_secret_with(client, name, key, "apiVersion: v1\nkind: Config\n").await;
}

async fn kubeconfig_secret_with(client: &Client, name: &str, key: &str, kubeconfig: &str) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS},
        "type": "cluster.x-k8s.io/secret",
        "stringData": {key: kubeconfig},
    }))
    .expect("secret");
    Api::<Secret>::namespaced(client.clone(), NS).create(&PostParams::default(), &secret).await.expect("create Secret");
}

/// The Secrets the agent's `clusters` volume projects, as (Secret, key, file).
async fn projected(client: &Client) -> Option<Vec<(String, String, String)>> {
    let d: Deployment = Api::namespaced(client.clone(), NS).get("agent").await.ok()?;
    let pod = d.spec?.template.spec?;
    let volume = pod.volumes?.into_iter().find(|v| v.name == "clusters")?;
    Some(
        volume
            .projected?
            .sources
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| s.secret)
            .flat_map(|s| {
                let name = s.name.clone();
                s.items.unwrap_or_default().into_iter().map(move |i| (name.clone(), i.key, i.path))
            })
            .collect(),
    )
}

async fn wait_projected(client: &Client, want: &[&str]) {
    let want: Vec<(String, String, String)> =
        want.iter().map(|c| (format!("{c}-kubeconfig"), "value".to_string(), c.to_string())).collect();
    let mut last = None;
    for _ in 0..300 {
        last = projected(client).await;
        if last.as_ref() == Some(&want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the clusters volume never projected {want:?}; last seen {last:?}");
}

fn status_clusters(agent: &DynamicObject) -> Vec<Value> {
    agent.data.pointer("/status/clusters").and_then(Value::as_array).cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_cluster_selector_mounts_exactly_the_selected_clusters_kubeconfigs() {
    let c = cluster(true).await;
    for (name, env) in [("prod-a", "prod"), ("prod-b", "prod"), ("dev-a", "dev"), ("prod-nosecret", "prod")] {
        capi_cluster(&c.admin, name, env).await;
    }
    for name in ["prod-a", "prod-b", "dev-a"] {
        kubeconfig_secret(&c.admin, &format!("{name}-kubeconfig"), "value").await;
    }
    // A resync far beyond the test: what changes below is seen through the watch on Clusters.
    let mut s = settings(Verification::Off);
    s.resync = Duration::from_secs(600);
    let _stop = operator(&c, s);
    let applied = apply_agent(&c.admin, json!({"clusters": {"selector": {"matchLabels": {"env": "prod"}}}})).await;

    // Only the selected clusters whose Secret exists; dev-a is not selected, prod-nosecret has
    // no Secret (a missing Secret in the pod's projected volume would keep it from starting).
    wait_projected(&c.admin, &["prod-a", "prod-b"]).await;
    let d: Deployment = Api::namespaced(c.admin.clone(), NS).get("agent").await.expect("deployment");
    let container = &d.spec.and_then(|s| s.template.spec).expect("pod").containers[0];
    assert!(container.args.iter().flatten().any(|a| a == "--clusters-dir=/etc/gitops-agent/clusters"));
    let agent = eventually("status.clusters with the missing Secret", || async {
        let a = agents(&c.admin).get("agent").await.ok()?;
        (status_clusters(&a).len() == 4).then_some(a)
    })
    .await;
    let clusters = status_clusters(&agent);
    assert_eq!(clusters[0], json!({"name": "local", "source": "Local", "mounted": true}));
    let missing = clusters.iter().find(|c| c["name"] == "prod-nosecret").expect("reported");
    assert_eq!((&missing["source"], &missing["mounted"]), (&json!("Selector"), &json!(false)));
    assert_eq!(missing["secret"], "prod-nosecret-kubeconfig");
    assert!(missing["message"].as_str().is_some_and(|m| m.contains("not found")), "{missing}");
    assert!(!clusters.iter().any(|c| c["name"] == "dev-a"), "not selected: {clusters:?}");
    let resolved = condition(&agent, "ClustersResolved").expect("condition");
    assert_eq!((resolved.0.as_str(), resolved.1.as_str()), ("False", "KubeconfigMissing"), "{resolved:?}");

    // Let the first reconciles settle, so that what follows can only be seen through the watch.
    tokio::time::sleep(Duration::from_secs(1)).await;
    // A new labelled Cluster (with its Secret) is mounted without touching the GitOpsAgent.
    kubeconfig_secret(&c.admin, "prod-c-kubeconfig", "value").await;
    capi_cluster(&c.admin, "prod-c", "prod").await;
    wait_projected(&c.admin, &["prod-a", "prod-b", "prod-c"]).await;
    // A Cluster relabelled out of the selection is unmounted the same way.
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta1", "Cluster"), "clusters");
    Api::<DynamicObject>::namespaced_with(c.admin.clone(), NS, &ar)
        .patch("prod-b", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"env": "staging"}}})))
        .await
        .expect("relabel");
    wait_projected(&c.admin, &["prod-a", "prod-c"]).await;
    let agent = agents(&c.admin).get("agent").await.expect("agent");
    assert_eq!(agent.metadata.generation, applied.metadata.generation, "the GitOpsAgent was not touched");

    // The operator's own ServiceAccount gets a Secret by name, and may not list Secrets.
    let secrets: Api<Secret> = Api::namespaced(c.operator.clone(), NS);
    secrets.get("prod-a-kubeconfig").await.expect("the operator gets a named Secret");
    match secrets.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("the operator listed Secrets: {other:?}"),
    }
    match Api::<Secret>::all(c.operator.clone()).list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("the operator listed Secrets cluster-wide: {other:?}"),
    }
    // And the agent's ServiceAccount may not even get one: the kubelet mounts them.
    let token = c.running.server.auth.issue_token(User::service_account(NS, "agent"));
    let agent_client = c.running.client_for(&token).await.expect("agent client");
    match Api::<Secret>::namespaced(agent_client, NS).get("prod-a-kubeconfig").await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("the agent read a kubeconfig Secret: {other:?}"),
    }
}

#[tokio::test]
async fn targets_with_a_missing_key_are_not_mounted_until_fixed_and_local_false_reaches_the_server() {
    let c = cluster(false).await;
    kubeconfig_secret(&c.admin, "eu-admin", "kubeconfig").await;
    kubeconfig_secret(&c.admin, "us-kubeconfig", "other-key").await;
    let _stop = operator(&c, settings(Verification::Off));
    apply_agent(
        &c.admin,
        json!({"clusters": {"local": false, "targets": [
            {"name": "eu", "secretRef": {"name": "eu-admin", "key": "kubeconfig"}},
            {"name": "us"},
            {"name": "late"},
        ]}}),
    )
    .await;
    let agent = eventually("status.clusters", || async {
        let a = agents(&c.admin).get("agent").await.ok()?;
        (status_clusters(&a).len() == 3).then_some(a)
    })
    .await;
    let clusters = status_clusters(&agent);
    assert_eq!(clusters[0], json!({"name": "eu", "source": "Target", "secret": "eu-admin", "mounted": true}));
    assert_eq!((&clusters[1]["name"], &clusters[1]["mounted"]), (&json!("us"), &json!(false)));
    assert!(clusters[1]["message"].as_str().is_some_and(|m| m.contains("has no key \"value\"")), "{clusters:?}");
    let sources = projected(&c.admin).await.expect("volume");
    assert_eq!(sources, [("eu-admin".to_string(), "kubeconfig".to_string(), "eu".to_string())]);
    let d: Deployment = Api::namespaced(c.admin.clone(), NS).get("agent").await.expect("deployment");
    let args = d.spec.and_then(|s| s.template.spec).expect("pod").containers[0].args.clone().unwrap_or_default();
    assert!(args.contains(&"--local-cluster=false".to_string()), "{args:?}");

    // A Secret that appears later is picked up at the periodic resync (Secrets are not watched).
    kubeconfig_secret(&c.admin, "late-kubeconfig", "value").await;
    eventually("late mounted", || async {
        let sources = projected(&c.admin).await?;
        sources.iter().any(|s| s.0 == "late-kubeconfig" && s.2 == "late").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_selector_without_cluster_api_is_reported_and_targets_still_work() {
    let c = cluster(false).await;
    kubeconfig_secret(&c.admin, "edge-kubeconfig", "value").await;
    let _stop = operator(&c, settings(Verification::Off));
    apply_agent(
        &c.admin,
        json!({"clusters": {"targets": [{"name": "edge"}], "selector": {"matchLabels": {"env": "prod"}}}}),
    )
    .await;
    let agent = eventually("Ready with ClustersResolved=False/ClusterAPINotInstalled", || async {
        let a = agents(&c.admin).get("agent").await.ok()?;
        let resolved = condition(&a, "ClustersResolved")?;
        (condition(&a, "Ready")?.0 == "True" && resolved.1 == "ClusterAPINotInstalled").then_some(a)
    })
    .await;
    let message = condition(&agent, "ClustersResolved").map(|c| c.2).unwrap_or_default();
    assert!(message.contains("Cluster API (cluster.x-k8s.io/v1beta1) is not served"), "{message}");
    assert_eq!(projected(&c.admin).await, Some(vec![("edge-kubeconfig".into(), "value".into(), "edge".into())]));
}

/// A stand-in agent that answers the handshake and `list_contexts`.
async fn fleet_agent() -> String {
    use axum::{
        Json, Router,
        routing::{get, post},
    };
    async fn mcp(Json(req): Json<Value>) -> axum::response::Response {
        use axum::response::IntoResponse;
        let id = req.get("id").cloned();
        let result = match req["method"].as_str() {
            Some("initialize") => json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                "serverInfo": {"name": "gitops-agent", "version": "0.2.0"}}),
            Some("tools/list") => json!({"tools": [{"name": "list_contexts"}]}),
            Some("tools/call") if req["params"]["name"] == "list_contexts" => json!({
            "content": [{"type": "text", "text": "3 clusters"}],
            "structuredContent": {"contexts": [
                {"name": "local", "server": "https://10.96.0.1", "reachable": true, "fluxVersion": "v2.7.0"},
                {"name": "edge", "server": "https://edge.example.com:6443", "reachable": false, "error": "dial tcp: i/o timeout"},
            ]}}),
            _ => return axum::http::StatusCode::ACCEPTED.into_response(),
        };
        Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
    }
    let app = Router::new()
        .route("/mcp", post(mcp))
        .route("/.well-known/agent-card.json", get(|| async { Json(json!({"name": "gitops-agent"})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("stub serves") });
    format!("http://{addr}")
}

#[tokio::test]
async fn reachability_comes_from_the_agents_list_contexts() {
    let c = cluster(false).await;
    kubeconfig_secret(&c.admin, "edge-kubeconfig", "value").await;
    kubeconfig_secret(&c.admin, "core-kubeconfig", "value").await;
    let _stop = operator(&c, settings(Verification::Override(fleet_agent().await)));
    apply_agent(&c.admin, json!({"clusters": {"targets": [{"name": "edge"}, {"name": "core"}, {"name": "gone"}]}}))
        .await;
    let agent = eventually("Ready with reachability", || async {
        let a = agents(&c.admin).get("agent").await.ok()?;
        (condition(&a, "Ready")?.0 == "True" && status_clusters(&a).first()?.get("reachable").is_some()).then_some(a)
    })
    .await;
    let by_name = |name: &str| status_clusters(&agent).into_iter().find(|c| c["name"] == name).expect(name);
    assert_eq!(
        by_name("local"),
        json!({"name": "local", "source": "Local", "mounted": true, "reachable": true, "message": "Flux v2.7.0"})
    );
    let edge = by_name("edge");
    assert_eq!((&edge["reachable"], &edge["message"]), (&json!(false), &json!("dial tcp: i/o timeout")));
    let core = by_name("core");
    assert!(core.get("reachable").is_none(), "not listed by the agent: unknown ({core})");
    assert!(core["message"].as_str().is_some_and(|m| m.contains("does not list")), "{core}");
    let gone = by_name("gone");
    assert_eq!(gone["mounted"], false);
    assert!(gone.get("reachable").is_none() && gone["message"].as_str().is_some_and(|m| m.contains("not found")));
    assert_eq!(
        condition(&agent, "Verified").map(|c| c.0),
        Some("True".into()),
        "list_contexts never fails the handshake"
    );
}

/// The API server itself refuses the shapes the CRD's CEL rules forbid, with their messages.
#[tokio::test]
async fn the_api_server_refuses_bad_cluster_shapes() {
    let c = cluster(false).await;
    for (clusters, message) in [
        (json!({"targets": [{"name": "a"}, {"name": "a"}]}), "clusters.targets must not name a cluster twice"),
        (json!({"targets": [{"name": "local"}]}), "must not be 'local'"),
        (json!({"local": false}), "clusters needs at least one source"),
        (json!({"selector": {}}), "clusters.selector needs matchLabels or matchExpressions"),
        (json!({"targets": [{"name": "Prod_EU"}]}), "spec.clusters.targets[0].name"),
    ] {
        let agent = json!({"apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent",
            "metadata": {"name": "bad", "namespace": NS}, "spec": {"clusters": clusters}});
        match agents(&c.admin).patch("bad", &PatchParams::apply("test").force(), &Patch::Apply(&agent)).await {
            Err(kube::Error::Api(s)) => {
                assert_eq!(s.code, 422, "{s:?}");
                assert!(s.message.contains(message), "{clusters}: expected {message:?} in {:?}", s.message);
            }
            other => panic!("{clusters} was admitted: {other:?}"),
        }
    }
}

/// A workload cluster: its own embedded API server with Flux CRDs and 2 × 10 Kustomizations.
async fn workload() -> Running {
    let api = fake_apiserver::start(Config::default(), Listen::default()).await.expect("workload API server");
    fixtures::load_crds(&api.server, &root().join("examples/fixtures/crds")).expect("CRDs");
    let scale = fixtures::Scale { namespaces: 2, kustomizations_per_namespace: 10, helmreleases_per_namespace: 1 };
    fixtures::load_scale(&api.server, scale).expect("estate");
    api
}

/// The real agent server, in-process, for the management cluster and a clusters directory.
async fn real_agent(kubeconfig: &Path, clusters_dir: &Path) -> gitops_agent_server::serve::Running {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: gitops_agent_server::serve::ServeArgs,
    }
    let cli = Cli::parse_from([
        "gitops-agent".to_string(),
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--clusters-dir={}", clusters_dir.display()),
        "--clusters-sync-seconds=1".into(),
        "--stale-seconds=1".into(),
        "--bind-address=127.0.0.1".into(),
        "--port=0".into(),
        "--metrics-port=0".into(),
    ]);
    gitops_agent_server::serve::start_http(&cli.serve, tokio_util::sync::CancellationToken::new())
        .await
        .expect("agent server")
}

/// One stateless MCP tools/call; its structured answer, or None when the tool answered an error.
async fn call_tool(url: &str, tool: &str, args: Value) -> Option<Value> {
    use http_body_util::BodyExt;
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args,
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
    let mut request = hyper::Request::post(format!("{url}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool);
    // A 2026-07-28 client mirrors the `cluster` argument in its header.
    for (name, value) in gitops_agent_api::tools::param_headers(&args) {
        request = request.header(name, value);
    }
    let request = request.body(http_body_util::Full::new(hyper::body::Bytes::from(body.to_string()))).expect("request");
    let response = http.request(request).await.expect("MCP answers");
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let v: Value = serde_json::from_slice(&bytes).expect("JSON-RPC");
    v.get("result").filter(|r| r["isError"] != true).map(|r| r["structuredContent"].clone())
}

#[tokio::test]
async fn a_capi_fleet_end_to_end_operator_selects_agent_answers_and_a_down_cluster_is_reported() {
    let c = cluster(true).await;
    let eu = workload().await;
    let us = workload().await;
    for (name, env) in [("prod-eu", "prod"), ("prod-us", "prod"), ("dev-a", "dev")] {
        capi_cluster(&c.admin, name, env).await;
    }
    kubeconfig_secret_with(&c.admin, "prod-eu-kubeconfig", "value", &eu.kubeconfig()).await;
    kubeconfig_secret_with(&c.admin, "prod-us-kubeconfig", "value", &us.kubeconfig()).await;
    kubeconfig_secret_with(&c.admin, "dev-a-kubeconfig", "value", &eu.kubeconfig()).await;

    // The agent the operator verifies: the real server, for the management cluster.
    let dir = std::env::temp_dir().join(format!("fleet-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let kubeconfig = dir.with_extension("kubeconfig");
    c.running.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let agent = real_agent(&kubeconfig, &dir).await;
    let _stop = operator(&c, settings(Verification::Override(agent.url())));
    apply_agent(&c.admin, json!({"clusters": {"selector": {"matchLabels": {"env": "prod"}}}})).await;

    // The operator selects the prod clusters; the kubelet's part: their Secrets become files.
    wait_projected(&c.admin, &["prod-eu", "prod-us"]).await;
    let secrets: Api<Secret> = Api::namespaced(c.admin.clone(), NS);
    for (secret, key, path) in projected(&c.admin).await.expect("projected") {
        let s = secrets.get(&secret).await.expect("secret");
        let data = s.data.and_then(|mut d| d.remove(&key)).expect("key");
        std::fs::write(dir.join(path), data.0).expect("write");
    }

    // The agent answers per cluster and for the fleet; the operator reports every one reachable.
    let (in_eu, in_us) = eventually("the agent answers for both workload clusters", || async {
        let eu = call_tool(&agent.url(), "list_kustomizations", json!({"cluster": "prod-eu"})).await?;
        let us = call_tool(&agent.url(), "list_kustomizations", json!({"cluster": "prod-us"})).await?;
        Some((eu, us))
    })
    .await;
    assert_eq!(in_eu["page"]["total"], 20, "{in_eu}");
    assert_eq!(in_us["page"]["total"], 20, "{in_us}");
    let summary = call_tool(&agent.url(), "fleet_health_summary", json!({})).await.expect("fleet answer");
    let names: Vec<&str> =
        summary["clusters"].as_array().expect("clusters").iter().filter_map(|c| c["cluster"].as_str()).collect();
    assert_eq!(names.len(), 3, "local, prod-eu, prod-us: {summary}");
    assert!(!names.contains(&"dev-a"), "not selected");
    eventually("the operator reports all three reachable", || async {
        let a = agents(&c.admin).get("agent").await.ok()?;
        let clusters = status_clusters(&a);
        (clusters.len() == 3 && clusters.iter().all(|c| c["reachable"] == true)).then_some(())
    })
    .await;

    // prod-us goes down: the agent reports it, the operator's status follows, the rest answer.
    drop(us);
    let summary = eventually("the agent reports prod-us down", || async {
        let s = call_tool(&agent.url(), "fleet_health_summary", json!({})).await?;
        let down = s["clusters"].as_array()?.iter().find(|c| c["cluster"] == "prod-us")?["reachable"] == false;
        down.then_some(s)
    })
    .await;
    let up: Vec<&Value> =
        summary["clusters"].as_array().expect("clusters").iter().filter(|c| c["reachable"] == true).collect();
    assert_eq!(up.len(), 2, "{summary}");
    let status = eventually("the operator reports prod-us unreachable", || async {
        let a = agents(&c.admin).get("agent").await.ok()?;
        let us = status_clusters(&a).into_iter().find(|c| c["name"] == "prod-us")?;
        (us["reachable"] == false).then_some(us)
    })
    .await;
    assert!(status["message"].as_str().is_some_and(|m| m.contains("unavailable")), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&kubeconfig);
}
