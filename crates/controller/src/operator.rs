//! Running the operator: the controller (under leader election), optional-API discovery on a
//! timer, and the HTTP endpoints for probes and metrics. Stops cleanly on SIGTERM/Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use futures::StreamExt;
use gitops_agent_api::GitOpsAgent;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::api::Api;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Client, Resource, ResourceExt};
use tokio::sync::watch;

use crate::discovery::{OptionalApi, OptionalApis};
use crate::leader::{Elector, LeaseConfig};
use crate::metrics::Metrics;
use crate::reconcile::{self, Context, Verification};
use crate::render::{AGENT_LABEL, AGENT_NAMESPACE_LABEL, OperatorDefaults};
use crate::verify::Verifier;

/// Everything `gitops-agent-operator run` is told.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Namespaces to watch; empty means the whole cluster.
    pub namespaces: Vec<String>,
    pub http_addr: SocketAddr,
    /// None: no leader election (a single replica).
    pub lease: Option<LeaseConfig>,
    pub verification: Verification,
    pub defaults: OperatorDefaults,
    pub discovery_interval: Duration,
    pub resync: Duration,
    /// Reconciles running at once (bounds API connections and memory).
    pub concurrency: u16,
    /// Each leadership term gets a client of its own from this config, dropped with the term:
    /// the connections a leader pooled (dozens, with their TLS and read buffers) close when it
    /// stands down instead of staying idle in a standby for good. None: every term uses the
    /// client `run` was given.
    pub term_config: Option<kube::Config>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("binding the HTTP endpoint {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
}

struct Health {
    ready: AtomicBool,
    metrics: Arc<Metrics>,
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(h): State<Arc<Health>>) -> (StatusCode, &'static str) {
    if h.ready.load(Ordering::SeqCst) { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready") }
}

async fn serve_metrics(State(h): State<Arc<Health>>) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        h.metrics.render(),
    )
}

/// Maps a cluster-scoped or cross-namespace child to its agent through the owner labels.
fn agent_of<K: Resource>(object: K) -> Option<ObjectRef<GitOpsAgent>> {
    let labels = object.labels();
    Some(ObjectRef::new(labels.get(AGENT_LABEL)?).within(labels.get(AGENT_NAMESPACE_LABEL)?))
}

/// Runs until `shutdown` resolves.
pub async fn run(
    client: Client,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health { ready: AtomicBool::new(false), metrics: metrics.clone() });
    let listener = tokio::net::TcpListener::bind(settings.http_addr)
        .await
        .map_err(|source| RunError::Bind { addr: settings.http_addr, source })?;
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(serve_metrics))
        .with_state(health.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = http_stop.changed().await;
            })
            .await
    });

    let apis = Arc::new(OptionalApis::default());
    apis.refresh(&client).await;
    let discovery = {
        let (apis, client, every) = (apis.clone(), client.clone(), settings.discovery_interval);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                apis.refresh(&client).await;
            }
        })
    };

    // Without leader election this replica always leads; the sender lives as long as `run`.
    let (leading_tx, mut leading) = watch::channel(settings.lease.is_none());
    let elector = settings.lease.clone().map(|lease| Elector::new(client.clone(), lease));
    let campaign =
        settings.lease.clone().map(|lease| tokio::spawn(Elector::new(client.clone(), lease).run(leading_tx.clone())));

    let shutdown = {
        let stop_tx = stop_tx.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        }
    };
    tokio::spawn(shutdown);

    let mut stopped = stop_rx.clone();
    loop {
        // Wait to lead (or to stop).
        while !*leading.borrow() {
            metrics.leader.set(0);
            health.ready.store(false, Ordering::SeqCst);
            tokio::select! {
                _ = leading.changed() => {}
                _ = stopped.changed() => break,
            }
        }
        if *stopped.borrow() {
            break;
        }
        metrics.leader.set(1);
        // What a term holds (its client's connections, its status and backoff bookkeeping)
        // goes with it, so a standby keeps nothing of it.
        let term = term_client(&client, settings.term_config.as_ref());
        let ctx = Arc::new(Context {
            client: term.clone(),
            defaults: settings.defaults.clone(),
            metrics: metrics.clone(),
            recorder: Recorder::new(
                term.clone(),
                Reporter { controller: "gitops-agent-operator".into(), instance: std::env::var("POD_NAME").ok() },
            ),
            apis: apis.clone(),
            verification: settings.verification.clone(),
            verifier: Verifier::default(),
            failures: Default::default(),
            children: Default::default(),
            written: Default::default(),
            resync: settings.resync,
            namespaces: settings.namespaces.clone(),
        });
        let controller = controller(&term, &settings, &apis);
        let store = controller.store();
        let ready = health.clone();
        tokio::spawn(async move {
            // The store's readiness is a oneshot that wakes only its latest poller, and the
            // controller polls it too: poll again on a short timer until it reports ready.
            loop {
                match tokio::time::timeout(Duration::from_millis(200), store.wait_until_ready()).await {
                    Ok(Ok(())) => {
                        ready.ready.store(true, Ordering::SeqCst);
                        // The first lists are in; their pages and buffers are free.
                        gitops_agent_memory::release_soon();
                        break;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "the GitOpsAgent cache never synced");
                        break;
                    }
                    Err(_) => {}
                }
            }
        });
        let run =
            controller.run(reconcile::reconcile, reconcile::error_policy, ctx.clone()).for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "controller event");
                }
            });
        tokio::select! {
            _ = run => break,
            _ = lost(&mut leading) => {
                tracing::warn!("lost leadership: reconciliation stopped");
                // The controller and its caches are gone with the leadership.
                gitops_agent_memory::release_soon();
            }
            _ = stopped.changed() => break,
        }
    }
    health.ready.store(false, Ordering::SeqCst);
    discovery.abort();
    if let Some(c) = campaign {
        c.abort();
    }
    drop(leading_tx);
    if let Some(elector) = elector {
        elector.release().await;
    }
    let _ = stop_tx.send(true);
    match http.await {
        Ok(result) => result.map_err(RunError::Serve),
        Err(_) => Ok(()),
    }
}

/// The client of one leadership term: a new one from `config`, else (or when it cannot be
/// built) the shared one.
fn term_client(shared: &Client, config: Option<&kube::Config>) -> Client {
    match config.map(|c| Client::try_from(c.clone())) {
        Some(Ok(client)) => client,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "could not build this term's client; using the shared one");
            shared.clone()
        }
        None => shared.clone(),
    }
}

/// Resolves when this replica stops leading.
async fn lost(leading: &mut watch::Receiver<bool>) {
    while *leading.borrow_and_update() {
        if leading.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Children carry the agent label; watching only those keeps the caches small.
fn owned() -> watcher::Config {
    watcher::Config::default().labels(AGENT_LABEL)
}

fn controller(client: &Client, settings: &Settings, apis: &OptionalApis) -> Controller<GitOpsAgent> {
    let wc = watcher::Config::default();
    let agents: Api<GitOpsAgent> = match settings.namespaces.as_slice() {
        [ns] => Api::namespaced(client.clone(), ns),
        _ => Api::all(client.clone()),
    };
    let mut c = Controller::new(agents, wc)
        .with_config(kube::runtime::controller::Config::default().concurrency(settings.concurrency))
        .owns(Api::<Deployment>::all(client.clone()), owned())
        .owns(Api::<Service>::all(client.clone()), owned())
        .owns(Api::<ServiceAccount>::all(client.clone()), owned())
        .owns(Api::<PodDisruptionBudget>::all(client.clone()), owned())
        .owns(Api::<HorizontalPodAutoscaler>::all(client.clone()), owned())
        .owns(Api::<NetworkPolicy>::all(client.clone()), owned())
        .watches(Api::<ClusterRole>::all(client.clone()), owned(), agent_of)
        .watches(Api::<ClusterRoleBinding>::all(client.clone()), owned(), agent_of)
        .watches(Api::<RoleBinding>::all(client.clone()), owned(), agent_of);
    // Optional kinds are watched when served at start; otherwise the periodic requeue creates
    // them once their API appears.
    let dynamic = |kind: &str| {
        use crate::external::{Certificate, HTTPRoute, ServiceMonitor};
        match kind {
            "HTTPRoute" => kube::core::ApiResource::erase::<HTTPRoute>(&()),
            "Certificate" => kube::core::ApiResource::erase::<Certificate>(&()),
            _ => kube::core::ApiResource::erase::<ServiceMonitor>(&()),
        }
    };
    for (kind, api) in [
        ("HTTPRoute", OptionalApi::GatewayApi),
        ("Certificate", OptionalApi::CertManager),
        ("ServiceMonitor", OptionalApi::PrometheusOperator),
    ] {
        if apis.is_served(api) {
            let ar = dynamic(kind);
            c = c.owns_with(Api::<kube::api::DynamicObject>::all_with(client.clone(), &ar), ar, owned());
        }
    }
    if apis.is_served(OptionalApi::ClusterApi) {
        c = watch_capi_clusters(c, client, settings);
    }
    c
}

/// A CAPI Cluster that appears, changes its labels or goes away may change which clusters a
/// `spec.clusters.selector` picks: every agent with a selector in the Cluster's namespace looks
/// again. (Secrets are not watched, on purpose: the operator may only `get` them; one that appears
/// later is picked up at the periodic resync.)
fn watch_capi_clusters(c: Controller<GitOpsAgent>, client: &Client, settings: &Settings) -> Controller<GitOpsAgent> {
    let ar = crate::fleet::capi_clusters();
    let clusters: Api<kube::api::DynamicObject> = match settings.namespaces.as_slice() {
        [ns] => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    };
    let agents = c.store();
    c.watches_with(clusters, ar, watcher::Config::default(), move |cluster| {
        let ns = cluster.namespace();
        agents
            .state()
            .iter()
            .filter(|a| a.namespace() == ns && a.spec.clusters.as_ref().is_some_and(|c| c.selector.is_some()))
            .map(|a| ObjectRef::from_obj(a.as_ref()))
            .collect::<Vec<_>>()
    })
}
