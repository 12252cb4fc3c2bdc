//! What the operator's integration tests share: the repository's files, the embedded API server
//! with the GitOpsAgent CRD, an operator running in the test's runtime, GitOpsAgents, and waiting
//! for the world to converge.

// Each test binary includes this module and uses its own subset of it.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_apiserver::{Config, Listen, Running, fixtures};
use gitops_agent_controller::operator::{self, Settings};
use gitops_agent_controller::reconcile::Verification;
use gitops_agent_controller::render::OperatorDefaults;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The operator's ClusterRole as installed (config/rbac/role.yaml).
pub fn operator_role() -> ClusterRole {
    let text = std::fs::read_to_string(root().join("config/rbac/role.yaml")).expect("role.yaml");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("yaml");
    serde_json::from_value(docs.into_iter().find(|d| d["kind"] == "ClusterRole").expect("a ClusterRole"))
        .expect("ClusterRole")
}

/// The embedded API server over HTTPS (Deployments ready after 50 ms) with the CRDs of `crds`
/// (directories of the repository, the GitOpsAgent CRD's `crds` among them) and `namespaces`
/// created, and an admin client.
pub async fn api_server(crds: &[&str], namespaces: &[&str]) -> (Running, Client) {
    gitops_agent_controller::telemetry::init(gitops_agent_controller::telemetry::LogFormat::Text, "warn");
    let running = fake_apiserver::start(
        Config { deployment_ready_after: Duration::from_millis(50), ..Config::default() },
        Listen::default(),
    )
    .await
    .expect("fake API server");
    for dir in crds {
        fixtures::load_crds(&running.server, &root().join(dir)).unwrap_or_else(|e| panic!("CRDs of {dir}: {e:?}"));
    }
    let client = running.client().await.expect("client");
    let api: Api<Namespace> = Api::all(client.clone());
    for name in namespaces {
        api.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns"))
            .await
            .expect("namespace");
    }
    (running, client)
}

/// A loopback address nothing listens on (until someone binds it).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port")
}

/// Fast enough for tests: discovery every 300 ms, resync every 500 ms, no leader election, no
/// handshake with the agent; tests override what they exercise.
pub fn settings() -> Settings {
    Settings {
        namespaces: vec![],
        http_addr: free_addr(),
        lease: None,
        verification: Verification::Off,
        defaults: OperatorDefaults { image_tag: "1.0.0".into(), operator_namespace: None },
        discovery_interval: Duration::from_millis(300),
        resync: Duration::from_millis(500),
        concurrency: 4,
        term_config: None,
    }
}

/// Runs an operator with `client`'s identity; dropping the sender stops it.
pub fn start_operator(client: Client, s: Settings) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        operator::run(client, s, async move {
            let _ = stopped.await;
        })
        .await
        .expect("operator runs");
    });
    (stop, handle)
}

pub fn agents(client: &Client, namespace: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("agents.gitops.dev", "v1alpha1", "GitOpsAgent"),
        "gitopsagents",
    );
    Api::namespaced_with(client.clone(), namespace, &ar)
}

/// Server-side applies the GitOpsAgent `agent` in `namespace` with `spec`.
pub async fn apply_agent(client: &Client, namespace: &str, spec: Value) -> DynamicObject {
    let agent = json!({"apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent",
        "metadata": {"name": "agent", "namespace": namespace}, "spec": spec});
    agents(client, namespace)
        .patch("agent", &PatchParams::apply("test").force(), &Patch::Apply(&agent))
        .await
        .expect("apply agent")
}

/// A condition of a GitOpsAgent's status as (status, reason, message).
pub fn condition(agent: &DynamicObject, type_: &str) -> Option<(String, String, String)> {
    agent.data.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == type_).map(|c| {
        (
            c["status"].as_str().unwrap_or_default().into(),
            c["reason"].as_str().unwrap_or_default().into(),
            c["message"].as_str().unwrap_or_default().into(),
        )
    })
}

/// Polls `f` every 50 ms until it gives a value; panics naming `what` after 15 s.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
