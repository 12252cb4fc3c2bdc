//! The real operator against the embedded API server over HTTPS: children, status, drift repair,
//! pruning, optional APIs, stalls, leader election, zero steady-state writes, cleanup.

use std::net::SocketAddr;
use std::time::Duration;

use fake_apiserver::{Running, fixtures};
use gitops_agent_controller::leader::LeaseConfig;
use gitops_agent_controller::operator::Settings;
use gitops_agent_controller::reconcile::Verification;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::oneshot;

mod common;

use common::{condition, eventually, free_addr, root};

/// The namespace of the test's GitOpsAgent; `team-a` is a second one to watch.
const NS: &str = "gitops-agent";

struct Cluster {
    running: Running,
    client: Client,
}

async fn cluster(optional_apis: bool) -> Cluster {
    let crds: &[&str] = if optional_apis { &["crds", "examples/optional-crds"] } else { &["crds"] };
    let (running, client) = common::api_server(crds, &[NS, "team-a"]).await;
    Cluster { running, client }
}

fn settings(lease: Option<&str>) -> Settings {
    Settings {
        lease: lease.map(|identity| LeaseConfig {
            namespace: NS.into(),
            name: "gitops-agent-operator".into(),
            identity: identity.into(),
            duration: Duration::from_secs(2),
            renew_every: Duration::from_millis(300),
        }),
        ..common::settings()
    }
}

/// Starts an operator with a client of its own; dropping the returned sender stops it.
async fn operator(c: &Cluster, s: Settings) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    common::start_operator(c.running.client().await.expect("client"), s)
}

fn agents(client: &Client) -> Api<DynamicObject> {
    common::agents(client, NS)
}

async fn apply_agent(client: &Client, spec: Value) -> DynamicObject {
    common::apply_agent(client, NS, spec).await
}

async fn wait_ready(client: &Client) -> DynamicObject {
    let api = agents(client);
    let last = api.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(14)).await;
        if let Ok(a) = last.get("agent").await {
            eprintln!(
                "agent before the timeout: {}",
                serde_json::to_string_pretty(&a.data["status"]).unwrap_or_default()
            );
        }
    });
    eventually("Ready=True", || {
        let api = api.clone();
        async move {
            let a = api.get("agent").await.ok()?;
            let observed = a.data.pointer("/status/observedGeneration").and_then(Value::as_i64);
            (condition(&a, "Ready").map(|c| c.0) == Some("True".into()) && observed == a.metadata.generation)
                .then_some(a)
        }
    })
    .await
}

#[tokio::test]
async fn an_agent_gets_hardened_owned_children_and_becomes_ready() {
    let c = cluster(true).await;
    let (_stop, _h) = operator(&c, settings(None)).await;
    let agent = apply_agent(&c.client, json!({"metrics": {"serviceMonitor": {"enabled": true}},
        "httpRoute": {"enabled": true, "hostnames": ["agent.example.com"], "parentRefs": [{"name": "gw", "namespace": "infra"}]},
        "tls": {"enabled": true, "issuerRef": {"name": "letsencrypt-prod"}}})).await;
    let ready = wait_ready(&c.client).await;

    let deployment: Deployment =
        Api::namespaced(c.client.clone(), "gitops-agent").get("agent").await.expect("deployment");
    let owner = &deployment.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("GitOpsAgent", agent.uid().unwrap().as_str(), Some(true))
    );
    let sc = deployment.spec.unwrap().template.spec.unwrap().containers[0].security_context.clone().unwrap();
    assert_eq!(
        (sc.read_only_root_filesystem, sc.allow_privilege_escalation, sc.run_as_non_root),
        (Some(true), Some(false), Some(true))
    );
    for (group, version, kind, plural) in [
        ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
        ("cert-manager.io", "v1", "Certificate", "certificates"),
        ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"),
    ] {
        let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let list = Api::<DynamicObject>::namespaced_with(c.client.clone(), "gitops-agent", &ar)
            .list(&ListParams::default())
            .await
            .expect("list");
        assert_eq!(list.items.len(), 1, "{kind}");
    }
    let role: ClusterRole =
        Api::all(c.client.clone()).get("gitops-agent-gitops-agent-agent").await.expect("cluster role");
    assert!(role.rules.unwrap().iter().all(|r| r.verbs.iter().all(|v| ["get", "list", "watch"].contains(&v.as_str()))));
    assert!(
        ready.finalizers().contains(&"agents.gitops.dev/cleanup".to_string()),
        "cluster-scoped children need the finalizer"
    );

    assert_eq!(ready.data["status"]["readyReplicas"], 2);
    assert_eq!(
        ready.data["status"]["selector"],
        "app.kubernetes.io/instance=agent,app.kubernetes.io/name=gitops-agent"
    );
    assert_eq!(ready.data["status"]["url"], "https://agent.example.com");
    assert_eq!(ready.data["status"]["endpoints"]["mcp"], "https://agent.example.com/mcp");
    assert_eq!(condition(&ready, "Stalled").map(|c| c.0), Some("False".into()));
    assert_eq!(condition(&ready, "HTTPRouteReady").map(|c| c.0), Some("True".into()));
    assert_eq!(condition(&ready, "Verified").map(|c| c.1), Some("VerificationDisabled".into()));
    let store = condition(&ready, "TaskStoreShared").expect("task store condition");
    assert_eq!((store.0.as_str(), store.1.as_str()), ("False", "SessionAffinity"), "two replicas, memory store");
    assert!(store.2.contains("sessionAffinity: ClientIP"), "{}", store.2);
}

#[tokio::test]
async fn replicas_that_may_change_flux_objects_say_whether_they_share_a_confirmation_key() {
    let c = cluster(false).await;
    let (_stop, _h) = operator(&c, settings(None)).await;
    let redis = json!({"taskStore": {"type": "Redis", "redis": {"url": "redis://redis.gitops-agent:6379"}}});
    apply_agent(&c.client, json!({"readOnly": false, "replicas": 2, "a2a": redis})).await;
    let unshared = wait_ready(&c.client).await;
    let key = condition(&unshared, "ConfirmationKeyShared").expect("the confirmation key condition");
    assert_eq!((key.0.as_str(), key.1.as_str()), ("False", "KeyPerReplica"), "{}", key.2);
    assert!(key.2.contains("set confirmationKeySecretRef"), "the message says what to do: {}", key.2);
    assert_eq!(condition(&unshared, "Ready").map(|c| c.0), Some("True".into()), "a warning, not an outage");

    let secret = json!({"name": "gitops-agent-confirm", "key": "key"});
    apply_agent(&c.client, json!({"readOnly": false, "replicas": 2, "a2a": redis, "confirmationKeySecretRef": secret}))
        .await;
    let shared = wait_ready(&c.client).await;
    let key = condition(&shared, "ConfirmationKeyShared").expect("the confirmation key condition");
    assert_eq!((key.0.as_str(), key.1.as_str()), ("True", "SecretKey"), "{}", key.2);

    apply_agent(&c.client, json!({"replicas": 2, "a2a": redis})).await;
    let read_only = wait_ready(&c.client).await;
    assert_eq!(condition(&read_only, "ConfirmationKeyShared"), None, "a read-only agent asks for no confirmation");
}

#[tokio::test]
async fn spec_edits_update_and_prune_children() {
    let c = cluster(true).await;
    let (_stop, _h) = operator(&c, settings(None)).await;
    apply_agent(
        &c.client,
        json!({"httpRoute": {"enabled": true, "hostnames": ["a.example.com"], "parentRefs": [{"name": "gw"}]}}),
    )
    .await;
    wait_ready(&c.client).await;
    let deploys: Api<Deployment> = Api::namespaced(c.client.clone(), "gitops-agent");
    let hash = |d: &Deployment| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get("agents.gitops.dev/config-hash").cloned())
    };
    let before = hash(&deploys.get("agent").await.expect("d"));

    // A replica change does not roll the pods; turning the route off prunes it (and changes the
    // server's base URL, so that does roll them).
    let route = json!({"enabled": true, "hostnames": ["a.example.com"], "parentRefs": [{"name": "gw"}]});
    apply_agent(&c.client, json!({"replicas": 3, "httpRoute": route})).await;
    wait_ready(&c.client).await;
    let d = deploys.get("agent").await.expect("d");
    assert_eq!(d.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(hash(&d), before, "a replica change does not roll the pods");
    apply_agent(&c.client, json!({"replicas": 3})).await;
    wait_ready(&c.client).await;
    let routes = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    );
    let routes: Api<DynamicObject> = Api::namespaced_with(c.client.clone(), "gitops-agent", &routes);
    eventually("HTTPRoute pruned", || {
        let r = routes.clone();
        async move { r.list(&ListParams::default()).await.ok().filter(|l| l.items.is_empty()) }
    })
    .await;

    apply_agent(
        &c.client,
        json!({"image": {"tag": "2.0.0"}, "autoscaling": {"enabled": true, "minReplicas": 2, "maxReplicas": 4}}),
    )
    .await;
    wait_ready(&c.client).await;
    let d = deploys.get("agent").await.expect("d");
    assert_ne!(hash(&d), before, "an image change rolls the pods");
    let hpa: Api<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler> =
        Api::namespaced(c.client.clone(), "gitops-agent");
    assert_eq!(hpa.get("agent").await.expect("hpa").spec.map(|s| s.max_replicas), Some(4));
}

#[tokio::test]
async fn deleted_and_hand_edited_children_are_repaired() {
    let c = cluster(false).await;
    let (_stop, _h) = operator(&c, settings(None)).await;
    apply_agent(&c.client, json!({})).await;
    wait_ready(&c.client).await;
    let services: Api<Service> = Api::namespaced(c.client.clone(), "gitops-agent");
    services.delete("agent", &DeleteParams::default()).await.expect("delete service");
    eventually("Service recreated", || {
        let s = services.clone();
        async move { s.get_opt("agent").await.ok().flatten() }
    })
    .await;

    let deploys: Api<Deployment> = Api::namespaced(c.client.clone(), "gitops-agent");
    deploys
        .patch("agent", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 7}})))
        .await
        .expect("hand edit");
    eventually("replicas restored", || {
        let d = deploys.clone();
        async move { d.get("agent").await.ok().filter(|d| d.spec.as_ref().and_then(|s| s.replicas) == Some(2)) }
    })
    .await;
}

#[tokio::test]
async fn missing_optional_apis_are_reported_and_picked_up_later() {
    let c = cluster(false).await;
    let (_stop, _h) = operator(&c, settings(None)).await;
    apply_agent(
        &c.client,
        json!({"metrics": {"serviceMonitor": {"enabled": true}},
        "httpRoute": {"enabled": true, "hostnames": ["a.example.com"], "parentRefs": [{"name": "gw"}]}}),
    )
    .await;
    let ready = wait_ready(&c.client).await;
    let route = condition(&ready, "HTTPRouteReady").expect("condition");
    assert_eq!((route.0.as_str(), route.1.as_str()), ("False", "APINotInstalled"));
    assert!(route.2.contains("Gateway API"), "{}", route.2);
    assert_eq!(condition(&ready, "ServiceMonitorReady").map(|c| c.1), Some("APINotInstalled".into()));

    fixtures::load_crds(&c.running.server, &root().join("examples/optional-crds")).expect("install CRDs");
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    );
    let routes: Api<DynamicObject> = Api::namespaced_with(c.client.clone(), "gitops-agent", &ar);
    eventually("HTTPRoute created without restart", || {
        let r = routes.clone();
        async move { r.get_opt("agent").await.ok().flatten() }
    })
    .await;
    let api = agents(&c.client);
    eventually("HTTPRouteReady=True", || {
        let api = api.clone();
        async move {
            api.get("agent").await.ok().filter(|a| condition(a, "HTTPRouteReady").map(|c| c.0) == Some("True".into()))
        }
    })
    .await;
}

#[tokio::test]
async fn a_child_the_api_server_refuses_stalls_the_agent() {
    let c = cluster(false).await;
    let (_stop, _h) = operator(&c, settings(None)).await;
    // Valid for the GitOpsAgent schema, but the Deployment mounts a volume that does not exist.
    apply_agent(&c.client, json!({"extraVolumeMounts": [{"name": "missing", "mountPath": "/etc/missing"}]})).await;
    let api = agents(&c.client);
    let stalled = eventually("Stalled=True", || {
        let api = api.clone();
        async move { api.get("agent").await.ok().and_then(|a| condition(&a, "Stalled")).filter(|c| c.0 == "True") }
    })
    .await;
    assert!(
        stalled.2.contains("Deployment/gitops-agent/agent was refused")
            && stalled.2.contains("volumeMounts[1].name: Not found"),
        "{}",
        stalled.2
    );
    // Fixing the spec recovers.
    apply_agent(&c.client, json!({})).await;
    wait_ready(&c.client).await;
}

#[tokio::test]
async fn steady_state_makes_no_writes() {
    let c = cluster(true).await;
    let (_stop, _h) = operator(&c, settings(None)).await;
    apply_agent(&c.client, json!({"metrics": {"serviceMonitor": {"enabled": true}}, "autoscaling": {"enabled": true}}))
        .await;
    wait_ready(&c.client).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = c.running.stats();
    // Several resync periods (500 ms each).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let delta = c.running.stats().since(&before);
    let reads = delta
        .requests
        .iter()
        .filter(|(k, _)| k.starts_with("get ") || k.starts_with("list "))
        .map(|(_, v)| v)
        .sum::<u64>();
    assert!(reads > 0, "the operator resynced: {delta:?}");
    assert_eq!(delta.writes, 0, "writes at steady state: {delta:?}");
}

#[tokio::test]
async fn only_the_leader_reconciles_and_another_takes_over() {
    let c = cluster(false).await;
    let (stop_a, handle_a) = operator(&c, settings(Some("replica-a"))).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let settings_b = settings(Some("replica-b"));
    let addr_b = settings_b.http_addr;
    let (_stop_b, _hb) = operator(&c, settings_b).await;
    apply_agent(&c.client, json!({})).await;
    wait_ready(&c.client).await;
    // The standby wrote nothing and is not ready (it does not lead).
    let (status, metrics) = http_get(addr_b, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("gitops_agent_operator_leader 0"), "{metrics}");
    assert!(!metrics.contains("gitops_agent_operator_child_writes_total{"), "the standby wrote: {metrics}");
    assert_eq!(http_get(addr_b, "/readyz").await.0, 503);
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(c.client.clone(), "gitops-agent");
    let holder = |l: k8s_openapi::api::coordination::v1::Lease| l.spec.and_then(|s| s.holder_identity);
    assert_eq!(holder(leases.get("gitops-agent-operator").await.expect("lease")), Some("replica-a".into()));
    let managers: Vec<String> = Api::<Deployment>::namespaced(c.client.clone(), "gitops-agent")
        .get("agent")
        .await
        .expect("d")
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(managers.contains(&"gitops-agent-operator".to_string()));

    // Stop the leader: the other replica takes the lease and repairs what changes next.
    drop(stop_a);
    handle_a.await.expect("leader stopped");
    eventually("replica-b leads", || {
        let l = leases.clone();
        async move { l.get("gitops-agent-operator").await.ok().and_then(holder).filter(|h| h == "replica-b") }
    })
    .await;
    let services: Api<Service> = Api::namespaced(c.client.clone(), "gitops-agent");
    services.delete("agent", &DeleteParams::default()).await.expect("delete");
    eventually("Service recreated by the new leader", || {
        let s = services.clone();
        async move { s.get_opt("agent").await.ok().flatten() }
    })
    .await;
}

#[tokio::test]
async fn deleting_the_agent_leaves_nothing_behind() {
    let c = cluster(true).await;
    let (_stop, _h) = operator(&c, settings(None)).await;
    apply_agent(&c.client, json!({"watchNamespaces": ["gitops-agent", "team-a"]})).await;
    wait_ready(&c.client).await;
    let crbs: Api<ClusterRoleBinding> = Api::all(c.client.clone());
    assert!(
        !crbs
            .list(&ListParams::default().labels("agents.gitops.dev/agent=agent"))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    agents(&c.client).delete("agent", &DeleteParams::default()).await.expect("delete agent");
    let client = c.client.clone();
    eventually("every child gone", || {
        let client = client.clone();
        async move {
            let selector = ListParams::default().labels("agents.gitops.dev/agent=agent");
            let left = Api::<ClusterRole>::all(client.clone()).list(&selector).await.ok()?.items.len()
                + Api::<ClusterRoleBinding>::all(client.clone()).list(&selector).await.ok()?.items.len()
                + Api::<k8s_openapi::api::rbac::v1::RoleBinding>::all(client.clone())
                    .list(&selector)
                    .await
                    .ok()?
                    .items
                    .len()
                + Api::<Deployment>::all(client.clone()).list(&selector).await.ok()?.items.len()
                + Api::<Service>::all(client.clone()).list(&selector).await.ok()?.items.len();
            let agent_gone = agents(&client).get_opt("agent").await.ok()?.is_none();
            (left == 0 && agent_gone).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn operator_serves_probes_and_metrics() {
    let c = cluster(false).await;
    let s = settings(None);
    let addr = s.http_addr;
    let (_stop, _h) = operator(&c, s).await;
    apply_agent(&c.client, json!({})).await;
    wait_ready(&c.client).await;
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    // Readiness follows the cache sync; the agent can be Ready a moment before.
    eventually("/readyz 200", || async move { (http_get(addr, "/readyz").await.0 == 200).then_some(()) }).await;
    let (status, text) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    for metric in [
        "gitops_agent_operator_reconciles_total",
        "gitops_agent_operator_reconcile_duration_seconds",
        "gitops_agent_operator_managed_objects",
        "gitops_agent_operator_leader",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
}

async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut send, conn) = hyper_client(stream).await;
    tokio::spawn(conn);
    let req = axum::http::Request::get(format!("http://{addr}{path}"))
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<axum::body::Bytes>::new())
        .expect("request");
    let resp = send.send_request(req).await.expect("response");
    let status = resp.status().as_u16();
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn hyper_client(
    stream: tokio::net::TcpStream,
) -> (
    hyper::client::conn::http1::SendRequest<http_body_util::Empty<axum::body::Bytes>>,
    impl std::future::Future<Output = ()>,
) {
    let (send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    (send, async move {
        let _ = conn.await;
    })
}

/// A stand-in agent server answering the handshake the operator performs.
async fn stub_agent() -> String {
    use axum::{
        Json, Router,
        routing::{get, post},
    };
    async fn mcp(Json(req): Json<Value>) -> axum::response::Response {
        use axum::response::IntoResponse;
        let id = req.get("id").cloned();
        match req["method"].as_str() {
            Some("initialize") => Json(json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}}, "serverInfo": {"name": "gitops-agent", "version": "0.1.0"}}})).into_response(),
            Some("tools/list") => Json(json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [{"name": "list_kustomizations"}, {"name": "get_events"}]}})).into_response(),
            _ => axum::http::StatusCode::ACCEPTED.into_response(),
        }
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
async fn verification_handshakes_with_the_agent_before_ready() {
    let c = cluster(false).await;
    let mut s = settings(None);
    s.verification = Verification::Override(stub_agent().await);
    let (_stop, _h) = operator(&c, s).await;
    apply_agent(&c.client, json!({})).await;
    let ready = wait_ready(&c.client).await;
    assert_eq!(condition(&ready, "Verified").map(|c| (c.0, c.1)), Some(("True".into(), "HandshakeSucceeded".into())));
    assert_eq!(
        ready.data["status"]["serverInfo"],
        json!({"name": "gitops-agent", "version": "0.1.0", "protocolVersions": ["2025-11-25"], "toolCount": 2})
    );
}

#[tokio::test]
async fn an_agent_that_does_not_answer_is_not_ready() {
    let c = cluster(false).await;
    let mut s = settings(None);
    s.verification = Verification::Override(format!("http://{}", free_addr()));
    let (_stop, _h) = operator(&c, s).await;
    apply_agent(&c.client, json!({})).await;
    let api = agents(&c.client);
    let ready = eventually("Ready=False with VerificationFailed", || {
        let api = api.clone();
        async move {
            api.get("agent").await.ok().and_then(|a| condition(&a, "Ready")).filter(|c| c.1 == "VerificationFailed")
        }
    })
    .await;
    assert_eq!(ready.0, "False");
    let agent = api.get("agent").await.expect("agent");
    assert!(
        condition(&agent, "Verified").is_some_and(|c| c.1 == "HandshakeFailed" && c.2.contains("connection failed")),
        "{:?}",
        condition(&agent, "Verified")
    );
}

#[tokio::test]
async fn the_operator_recovers_from_an_api_outage_without_restarting() {
    let c = cluster(false).await;
    let (_stop, _h) = operator(&c, settings(None)).await;
    apply_agent(&c.client, json!({})).await;
    wait_ready(&c.client).await;
    c.running.server.set_faults(fake_apiserver::FaultConfig {
        outage_ms: 1500,
        retry_after_secs: 1,
        ..Default::default()
    });
    tokio::time::sleep(Duration::from_millis(1600)).await;
    apply_agent(&c.client, json!({"replicas": 4})).await;
    let ready = wait_ready(&c.client).await;
    let d: Deployment = Api::namespaced(c.client.clone(), "gitops-agent").get("agent").await.expect("d");
    assert_eq!(
        ready.data["status"]["readyReplicas"],
        4,
        "agent: {}\ndeployment: {:?} {:?}",
        serde_json::to_string_pretty(&ready).unwrap_or_default(),
        d.spec.and_then(|s| s.replicas),
        d.status
    );
}

/// With RBAC enforced, the agent's ServiceAccount can do exactly what its rendered roles allow:
/// read what its tools read, review callers' tokens and access, and never read Secrets.
#[tokio::test]
async fn the_agents_service_account_reads_its_tools_kinds_and_never_secrets() {
    use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
    use k8s_openapi::api::core::v1::{Pod, Secret};

    let c = cluster(false).await;
    c.running.server.auth.set_rbac(true);
    let (_stop, _h) = operator(&c, settings(None)).await;
    apply_agent(&c.client, json!({})).await;
    wait_ready(&c.client).await;
    let token = c.running.server.auth.issue_token(fake_apiserver::auth::User::service_account("gitops-agent", "agent"));
    let agent = c.running.client_for(&token).await.expect("agent client");

    Api::<Pod>::all(agent.clone()).list(&ListParams::default()).await.expect("the agent lists pods (for logs)");
    let review = TokenReview {
        spec: TokenReviewSpec { token: Some(token.clone()), ..Default::default() },
        ..Default::default()
    };
    let reviewed =
        Api::<TokenReview>::all(agent.clone()).create(&PostParams::default(), &review).await.expect("token review");
    assert_eq!(reviewed.status.and_then(|s| s.authenticated), Some(true));
    for ns in ["gitops-agent", "team-a"] {
        match Api::<Secret>::namespaced(agent.clone(), ns).list(&ListParams::default()).await {
            Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
            other => panic!("the agent's ServiceAccount listed Secrets in {ns}: {other:?}"),
        }
    }
    match Api::<Secret>::all(agent).list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403),
        other => panic!("the agent's ServiceAccount listed Secrets cluster-wide: {other:?}"),
    }
}

/// Every child the agent should have, by resource: exactly what `render` gives, nothing more.
async fn assert_children_match_render(c: &Cluster) {
    let agent = agents(&c.client).get("agent").await.expect("agent");
    let typed: gitops_agent_api::GitOpsAgent =
        serde_json::from_value(serde_json::to_value(&agent).expect("json")).expect("typed");
    let expected = gitops_agent_controller::render::render(&typed, &settings(None).defaults).expect("renders");
    let mut resources: Vec<ApiResource> = expected.iter().map(|c| c.api_resource()).collect();
    resources.dedup_by(|a, b| a.group == b.group && a.plural == b.plural);
    for resource in resources {
        let mut want: Vec<(Option<String>, String)> = expected
            .iter()
            .filter(|c| c.api_resource().plural == resource.plural && c.api_resource().group == resource.group)
            .map(|c| (c.namespace().map(str::to_string), c.name().to_string()))
            .collect();
        want.sort();
        want.dedup();
        let selector = ListParams::default().labels("agents.gitops.dev/agent=agent");
        let mut have: Vec<(Option<String>, String)> = Api::<DynamicObject>::all_with(c.client.clone(), &resource)
            .list(&selector)
            .await
            .expect("list children")
            .items
            .iter()
            .map(|o| (o.namespace(), o.name_any()))
            .collect();
        have.sort();
        assert_eq!(have, want, "{}: no orphaned, missing or duplicate children", resource.plural);
    }
}

/// The operator process dies (no graceful stop) while applying an agent's children over a slow
/// API; a new one converges on exactly the rendered children.
#[tokio::test]
async fn an_operator_killed_mid_reconcile_is_replaced_by_one_that_converges() {
    let c = cluster(false).await;
    c.running.server.set_faults(fake_apiserver::FaultConfig { latency_ms: 150, ..Default::default() });
    let (_stop, first) = operator(&c, settings(None)).await;
    apply_agent(&c.client, json!({"replicas": 3})).await;
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(c.client.clone(), "gitops-agent");
    eventually("the first child is applied", || {
        let a = accounts.clone();
        async move { a.get_opt("agent").await.ok().flatten() }
    })
    .await;
    first.abort();
    let deployments: Api<Deployment> = Api::namespaced(c.client.clone(), "gitops-agent");
    let halfway = deployments.get_opt("agent").await.expect("get").is_none();
    c.running.server.set_faults(fake_apiserver::FaultConfig::default());
    let (_stop2, _second) = operator(&c, settings(None)).await;
    let ready = wait_ready(&c.client).await;
    assert_eq!(ready.data["status"]["readyReplicas"], 3);
    assert_children_match_render(&c).await;
    println!("killed before the Deployment was applied: {halfway}");
}

/// A leader whose renewal hangs (the API server answers after a minute) stops leading once the
/// lease would lapse, not when the request returns: by then another replica may hold it.
#[tokio::test]
async fn a_leader_whose_renewal_hangs_stops_when_its_lease_lapses() {
    let c = cluster(false).await;
    let (addr, _stop, _h) = leader_of_one_agent(&c).await;
    c.running.server.set_faults(fake_apiserver::FaultConfig { latency_ms: 60_000, ..Default::default() });
    // The lease holds 2 s; `eventually` gives up after 15 s, long before the hung renewal returns.
    steps_down(addr, "the leader steps down while its renewal hangs").await;
    c.running.server.set_faults(fake_apiserver::FaultConfig::default());
}

/// replica-a leading, with one agent Ready; its metrics address and its handles. Each of its
/// terms has a client of its own, as the binary's do.
async fn leader_of_one_agent(c: &Cluster) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let admin = c.running.server.config.admin_token.clone();
    let term_config = Some(c.running.client_config(&admin).await.expect("client config"));
    let s = Settings { term_config, ..settings(Some("replica-a")) };
    let addr = s.http_addr;
    let (stop, handle) = operator(c, s).await;
    apply_agent(&c.client, json!({})).await;
    wait_ready(&c.client).await;
    let (_, metrics) = http_get(addr, "/metrics").await;
    assert!(metrics.contains("gitops_agent_operator_leader 1"), "{metrics}");
    (addr, stop, handle)
}

async fn steps_down(addr: SocketAddr, what: &str) {
    eventually(what, || async {
        let (_, metrics) = http_get(addr, "/metrics").await;
        metrics.contains("gitops_agent_operator_leader 0").then_some(())
    })
    .await;
}

/// A leader that sees another replica holding the lease stops at once, and resumes when the
/// lease is free again.
#[tokio::test]
async fn a_leader_that_loses_its_lease_stops_reconciling() {
    use k8s_openapi::api::coordination::v1::Lease;
    let c = cluster(false).await;
    let (addr, _stop, _h) = leader_of_one_agent(&c).await;

    let leases: Api<Lease> = Api::namespaced(c.client.clone(), "gitops-agent");
    let now = k8s_openapi::jiff::Timestamp::now();
    let steal = json!({"spec": {"holderIdentity": "intruder", "leaseDurationSeconds": 3600,
        "acquireTime": now.to_string(), "renewTime": now.to_string()}});
    leases.patch("gitops-agent-operator", &PatchParams::default(), &Patch::Merge(&steal)).await.expect("steal");
    steps_down(addr, "the old leader steps down").await;
    let services: Api<Service> = Api::namespaced(c.client.clone(), "gitops-agent");
    services.delete("agent", &DeleteParams::default()).await.expect("delete");
    // Several resync periods (0.5 s) and renewals (0.3 s): a reconciling operator would have
    // recreated the Service by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(services.get_opt("agent").await.expect("get").is_none(), "a replica without the lease wrote");

    leases.delete("gitops-agent-operator", &DeleteParams::default()).await.expect("release");
    eventually("it leads again and repairs", || {
        let s = services.clone();
        async move { s.get_opt("agent").await.ok().flatten() }
    })
    .await;
}
