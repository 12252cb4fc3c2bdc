//! The reconcile loop: a GitOpsAgent in, its children applied, stale ones pruned, its status
//! written. Reads top to bottom; the helpers it calls each do one thing.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gitops_agent_api::GitOpsAgent;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{field, info, instrument, warn};

use crate::apply::{self, Outcome};
use crate::discovery::{OptionalApi, OptionalApis};
use crate::fleet;
use crate::metrics::{KindLabels, Metrics, ReasonLabels, ResultLabels};
use crate::render::{self, Child, OperatorDefaults};
use crate::status::{self, Cond, Observed};
use crate::verify::Verifier;

/// Finalizer that removes the children ownerReferences cannot reach (cluster-scoped ones and
/// RoleBindings in other namespaces). Added only to agents that have such children.
pub const FINALIZER: &str = "agents.gitops.dev/cleanup";

/// How the operator checks that agents answer.
#[derive(Clone, Debug)]
pub enum Verification {
    Off,
    /// Handshake with each agent's Service.
    Service,
    /// Handshake with this URL instead (for the demo and tests, where no pods run).
    Override(String),
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub defaults: OperatorDefaults,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    pub apis: Arc<OptionalApis>,
    pub verification: Verification,
    pub verifier: Verifier,
    /// Consecutive failures per agent, for the error policy's backoff.
    pub failures: Mutex<HashMap<String, u32>>,
    /// Children per kind of each agent, behind the `managed_objects` gauge.
    pub children: Mutex<HashMap<String, HashMap<String, i64>>>,
    /// The last status written per agent (without transition times) and the resourceVersion of
    /// the cached agent it was computed from: under load the cache can lag behind our own
    /// write, and must not make us write the same again.
    pub written: Mutex<HashMap<String, (String, Option<String>)>>,
    /// How often a ready agent is looked at again.
    pub resync: Duration,
    /// Namespaces this operator manages; empty means all. (With several, the controller watches
    /// the cluster and leaves the others alone.)
    pub namespaces: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("applying {child}: {source}")]
    Apply { child: String, source: kube::Error },
    #[error("GitOpsAgent has no namespace")]
    NoNamespace,
}

impl Error {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Kube(kube::Error::Api(s)) | Self::Apply { source: kube::Error::Api(s), .. } => match s.code {
                409 => "Conflict",
                429 => "TooManyRequests",
                500..=599 => "ServerError",
                _ => "ApiError",
            },
            Self::Kube(_) | Self::Apply { .. } => "Transport",
            Self::NoNamespace => "NoNamespace",
        }
    }
}

/// A child write the API server refuses for good (until the spec changes), as opposed to one
/// worth retrying.
fn is_permanent(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if matches!(s.code, 400 | 403 | 404 | 405 | 415 | 422))
}

fn key(agent: &GitOpsAgent) -> String {
    format!("{}/{}", agent.namespace().unwrap_or_default(), agent.name_any())
}

/// Every kind the operator can render, with whether it is namespaced.
fn child_kinds() -> Vec<(kube::core::ApiResource, bool)> {
    use crate::external::{Certificate, ClusterIssuer, HTTPRoute, ServiceMonitor};
    use k8s_openapi::api::{apps::v1::Deployment, autoscaling::v2::HorizontalPodAutoscaler, core::v1::*};
    use k8s_openapi::api::{networking::v1::NetworkPolicy, policy::v1::PodDisruptionBudget, rbac::v1::*};
    fn ar<K: Resource<DynamicType = ()>>() -> kube::core::ApiResource {
        kube::core::ApiResource::erase::<K>(&())
    }
    vec![
        (ar::<ServiceAccount>(), true),
        (ar::<ClusterRole>(), false),
        (ar::<ClusterRoleBinding>(), false),
        (ar::<RoleBinding>(), true),
        (ar::<Service>(), true),
        (ar::<Deployment>(), true),
        (ar::<PodDisruptionBudget>(), true),
        (ar::<HorizontalPodAutoscaler>(), true),
        (ar::<NetworkPolicy>(), true),
        (ar::<ClusterIssuer>(), false),
        (ar::<Certificate>(), true),
        (ar::<HTTPRoute>(), true),
        (ar::<ServiceMonitor>(), true),
    ]
}

async fn publish(ctx: &Context, agent: &GitOpsAgent, type_: EventType, reason: &str, note: String) {
    let event = Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
    if let Err(e) = ctx.recorder.publish(&event, &agent.object_ref(&())).await {
        warn!(error = %e, reason, "could not record an event");
    }
}

#[instrument(skip_all, fields(namespace = field::Empty, name = field::Empty, generation = field::Empty))]
pub async fn reconcile(agent: Arc<GitOpsAgent>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = tracing::Span::current();
    span.record("namespace", agent.namespace().unwrap_or_default());
    span.record("name", agent.name_any());
    span.record("generation", agent.metadata.generation.unwrap_or_default());
    let started = Instant::now();
    ctx.metrics.in_flight.inc();
    let result = reconcile_inner(&agent, &ctx).await;
    ctx.metrics.in_flight.dec();
    ctx.metrics.duration.observe(started.elapsed().as_secs_f64());
    let outcome = if result.is_ok() { "success" } else { "error" };
    ctx.metrics.reconciles.get_or_create(&ResultLabels { result: outcome.into() }).inc();
    if result.is_ok()
        && let Ok(mut f) = ctx.failures.lock()
    {
        f.remove(&key(&agent));
    }
    result
}

async fn reconcile_inner(agent: &GitOpsAgent, ctx: &Context) -> Result<Action, Error> {
    let ns = agent.namespace().ok_or(Error::NoNamespace)?;
    if !ctx.namespaces.is_empty() && !ctx.namespaces.contains(&ns) {
        return Ok(Action::await_change());
    }
    let agents: Api<GitOpsAgent> = Api::namespaced(ctx.client.clone(), &ns);

    // 1. Being deleted: remove what ownerReferences cannot, then let go.
    if agent.metadata.deletion_timestamp.is_some() {
        cleanup_unowned(agent, ctx).await?;
        remove_finalizer(&agents, agent).await?;
        count_children(ctx, agent, &[]);
        if let Ok(mut w) = ctx.written.lock() {
            w.remove(&key(agent));
        }
        return Ok(Action::await_change());
    }

    // 2. Which clusters the agent answers for (Secrets and CAPI Clusters are looked up here, so
    //    render stays pure); then what the spec wants, minus children whose API this cluster does
    //    not serve.
    let fleet = fleet::resolve(&ctx.client, &ctx.apis, agent).await?;
    let desired = match render::render_with(agent, &ctx.defaults, &fleet.mounted) {
        Ok(children) => children,
        Err(e) => {
            let observed = Observed { stalled: Some(format!("render failed: {e}")), ..Default::default() };
            publish(ctx, agent, EventType::Warning, "Failed", e.to_string()).await;
            write_status(ctx, &agents, agent, &observed).await?;
            return Ok(Action::await_change());
        }
    };
    let (desired, skipped): (Vec<Child>, Vec<Child>) =
        desired.into_iter().partition(|c| OptionalApi::for_kind(&c.kind()).is_none_or(|api| ctx.apis.is_served(api)));

    // 3. Children outside the agent's namespace need the cleanup finalizer.
    let needs_finalizer = desired.iter().any(|c| c.namespace() != Some(ns.as_str()));
    if needs_finalizer && !agent.finalizers().iter().any(|f| f == FINALIZER) {
        add_finalizer(&agents, agent).await?;
    }

    // 4. Apply what drifted.
    let mut observed = Observed { selector: selector(agent), clusters: fleet.clusters, ..Default::default() };
    observed.extra.extend(fleet.condition);
    let mut applied = Vec::new();
    let mut deployment = None;
    for child in &desired {
        match apply::apply(&ctx.client, child).await {
            Ok((outcome, live)) => {
                if outcome == Outcome::Applied {
                    applied.push(child.display_name());
                    ctx.metrics.writes.get_or_create(&KindLabels { kind: child.kind() }).inc();
                }
                if matches!(child, Child::Deployment(_)) {
                    deployment = Some(live);
                }
            }
            Err(e) if is_permanent(&e) => {
                let message = format!("{} was refused: {}", child.display_name(), api_message(&e));
                warn!(child = %child.display_name(), error = %e, "child refused by the API server");
                publish(ctx, agent, EventType::Warning, "Failed", message.clone()).await;
                observed.stalled = Some(message);
                break;
            }
            Err(source) => {
                // Say so in the status (best effort: the API server may be what is failing), then
                // let the error policy back off.
                let mut retrying = Observed {
                    selector: selector(agent),
                    transient: Some(format!("{}: {}", child.display_name(), api_message(&source))),
                    ..Default::default()
                };
                if let Some(s) = &agent.status {
                    retrying.generation = s.observed_generation;
                    retrying.replicas = s.replicas;
                    retrying.ready_replicas = s.ready_replicas;
                    retrying.available = s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");
                    retrying.url = s.url.clone();
                    retrying.endpoints = s.endpoints.clone();
                    retrying.clusters = s.clusters.clone();
                }
                retrying.verified = match ctx.verification {
                    Verification::Off => None,
                    _ => agent
                        .status
                        .as_ref()
                        .and_then(|s| s.server_info.clone())
                        .map(Ok)
                        .or(Some(Err("not verified yet".into()))),
                };
                if let Err(e) = write_status(ctx, &agents, agent, &retrying).await {
                    warn!(error = %e, "could not record the retry in the status");
                }
                return Err(Error::Apply { child: child.display_name(), source });
            }
        }
    }
    count_children(ctx, agent, &desired);
    if !applied.is_empty() {
        info!(count = applied.len(), children = ?applied, "applied children");
        publish(ctx, agent, EventType::Normal, "Applied", format!("applied {}", applied.join(", "))).await;
    }

    // 5. Prune what the spec no longer wants, once per new generation (and only when everything
    //    wanted applied). A first reconcile has nothing to prune: leftovers of an earlier agent of
    //    the same name are owned by its uid (garbage-collected) or removed by its finalizer.
    let observed_generation = agent.status.as_ref().and_then(|s| s.observed_generation);
    let spec_changed = observed_generation.is_some() && observed_generation != agent.metadata.generation;
    if observed.stalled.is_none() && (spec_changed || stalled_before(agent)) {
        prune(agent, ctx, &desired).await?;
    }

    // 6. Conditions for optional children, and what the replicas share (A2A tasks, the key
    //    confirmations are sealed with).
    observed.extra.push(status::task_store(agent));
    observed.extra.extend(status::confirmation_key(agent));
    for (kind, type_) in [
        ("HTTPRoute", "HTTPRouteReady"),
        ("Certificate", "CertificateReady"),
        ("ServiceMonitor", "ServiceMonitorReady"),
    ] {
        let api = OptionalApi::for_kind(kind).map(|a| a.name()).unwrap_or_default();
        if skipped.iter().any(|c| c.kind() == kind) {
            observed.extra.push(Cond::new(type_, false, "APINotInstalled", format!("{api} is not served by this cluster; the {kind} was skipped and will be created when the API appears")));
        } else if desired.iter().any(|c| c.kind() == kind) {
            observed.extra.push(Cond::new(type_, true, "Applied", format!("the {kind} is applied")));
        }
    }
    let was_skipped = |kind: &str| {
        agent
            .status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.reason == "APINotInstalled" && c.type_.starts_with(kind)))
    };
    for child in &skipped {
        if !was_skipped(&child.kind()) {
            publish(
                ctx,
                agent,
                EventType::Warning,
                "Skipped",
                format!(
                    "{} skipped: {} is not installed",
                    child.display_name(),
                    OptionalApi::for_kind(&child.kind()).map(|a| a.name()).unwrap_or_default()
                ),
            )
            .await;
        }
    }

    // 7. Replicas and availability from the Deployment; then verification.
    if let Some(d) = &deployment {
        observed.replicas = d.data.pointer("/status/replicas").and_then(|v| v.as_i64()).map(|v| v as i32);
        observed.ready_replicas = d.data.pointer("/status/readyReplicas").and_then(|v| v.as_i64()).map(|v| v as i32);
        let generation_seen =
            d.data.pointer("/status/observedGeneration").and_then(|v| v.as_i64()) >= d.metadata.generation;
        let wanted = d.data.pointer("/spec/replicas").and_then(|v| v.as_i64()).unwrap_or(1) as i32;
        observed.available = generation_seen && observed.ready_replicas.unwrap_or(0) >= wanted;
    }
    observed.url = render::public_url(agent);
    observed.endpoints = Some(status::endpoints(agent, observed.url.as_deref()));
    // A fleet agent is also asked which clusters it reaches; that answer only fills
    // status.clusters and never fails the handshake.
    let list_contexts = agent.spec.clusters.is_some();
    let base = match &ctx.verification {
        Verification::Service => Some(format!("http://{}.{}.svc:{}", agent.name_any(), ns, agent.spec.service.port)),
        Verification::Override(url) => Some(url.clone()),
        Verification::Off => None,
    };
    observed.verified = match (base, observed.available) {
        (None, _) => None,
        (Some(_), false) => Some(Err("waiting for the Deployment before the handshake".into())),
        (Some(base), true) => Some(ctx.verifier.verify_with(&base, list_contexts).await.map(|report| {
            if let Some(contexts) = &report.contexts {
                fleet::merge_reachability(&mut observed.clusters, contexts);
            }
            report.info
        })),
    };

    // 8. Status, written only when it changed.
    write_status(ctx, &agents, agent, &observed).await?;
    let ready = observed.stalled.is_none() && observed.available && !matches!(observed.verified, Some(Err(_)));
    Ok(if ready { Action::requeue(ctx.resync) } else { Action::requeue(Duration::from_secs(10)) })
}

/// Updates the `managed_objects` gauge with this agent's children.
fn count_children(ctx: &Context, agent: &GitOpsAgent, children: &[Child]) {
    let Ok(mut all) = ctx.children.lock() else { return };
    let mut mine: HashMap<String, i64> = HashMap::new();
    for c in children {
        *mine.entry(c.kind()).or_default() += 1;
    }
    // Move each kind's gauge by this agent's change only: no walk over every agent per reconcile.
    let before = if mine.is_empty() { all.remove(&key(agent)) } else { all.insert(key(agent), mine.clone()) }
        .unwrap_or_default();
    let kinds: BTreeSet<&String> = before.keys().chain(mine.keys()).collect();
    for kind in kinds {
        let delta = mine.get(kind).copied().unwrap_or(0) - before.get(kind).copied().unwrap_or(0);
        if delta != 0 {
            ctx.metrics.managed_objects.get_or_create(&KindLabels { kind: kind.clone() }).inc_by(delta);
        }
    }
}

/// Whether the last status reported a refused child: the spec may have been fixed since.
fn stalled_before(agent: &GitOpsAgent) -> bool {
    agent.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Stalled" && c.status == "True"))
}

fn selector(agent: &GitOpsAgent) -> String {
    render::selector_labels(&agent.name_any()).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// A status without its transition times: what it says, not when it started saying it.
fn status_meaning(status: &gitops_agent_api::GitOpsAgentStatus) -> String {
    let mut s = status.clone();
    for c in &mut s.conditions {
        c.last_transition_time = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH);
    }
    serde_json::to_string(&s).unwrap_or_default()
}

async fn write_status(
    ctx: &Context,
    agents: &Api<GitOpsAgent>,
    agent: &GitOpsAgent,
    observed: &Observed,
) -> Result<(), Error> {
    let status = status::build(agent, observed, jiff::Timestamp::now());
    if agent.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let meaning = status_meaning(&status);
    let seen = agent.resource_version();
    if ctx.written.lock().is_ok_and(|w| w.get(&key(agent)) == Some(&(meaning.clone(), seen.clone()))) {
        // The cached agent is the one we computed our last write from (it has not seen that
        // write yet), and that write said the same.
        return Ok(());
    }
    tracing::debug!(
        before = ?agent.status.as_ref().map(|s| s.conditions.iter().map(|c| format!("{}={}/{}", c.type_, c.status, c.reason)).collect::<Vec<_>>()),
        after = ?status.conditions.iter().map(|c| format!("{}={}/{}", c.type_, c.status, c.reason)).collect::<Vec<_>>(),
        generation = ?status.observed_generation,
        "writing status"
    );
    let patch = json!({"apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent", "status": status});
    agents
        .patch_status(&agent.name_any(), &PatchParams::apply(render::FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await?;
    if let Ok(mut w) = ctx.written.lock() {
        w.insert(key(agent), (meaning, seen));
    }
    Ok(())
}

async fn prune(agent: &GitOpsAgent, ctx: &Context, desired: &[Child]) -> Result<(), Error> {
    let ns = agent.namespace().unwrap_or_default();
    let wanted: BTreeSet<(String, Option<String>, String)> =
        desired.iter().map(|c| (c.kind(), c.namespace().map(str::to_string), c.name().to_string())).collect();
    let mut pruned = Vec::new();
    for (ar, namespaced) in child_kinds() {
        if OptionalApi::for_kind(&ar.kind).is_some_and(|api| !ctx.apis.is_served(api)) {
            continue;
        }
        let existing =
            apply::existing_children(&ctx.client, &ar, namespaced, &ns, &agent.name_any(), agent.uid().as_deref())
                .await?;
        for object in existing {
            let id = (ar.kind.clone(), object.namespace(), object.name_any());
            if !wanted.contains(&id) {
                apply::delete(&ctx.client, &ar, &object).await?;
                ctx.metrics.writes.get_or_create(&KindLabels { kind: ar.kind.clone() }).inc();
                pruned.push(format!("{}/{}", ar.kind, object.name_any()));
            }
        }
    }
    if !pruned.is_empty() {
        info!(children = ?pruned, "pruned children");
        publish(ctx, agent, EventType::Normal, "Pruned", format!("deleted {}", pruned.join(", "))).await;
    }
    Ok(())
}

/// Deletes the children ownerReferences cannot garbage-collect.
async fn cleanup_unowned(agent: &GitOpsAgent, ctx: &Context) -> Result<(), Error> {
    let ns = agent.namespace().unwrap_or_default();
    for (ar, namespaced) in child_kinds() {
        if OptionalApi::for_kind(&ar.kind).is_some_and(|api| !ctx.apis.is_served(api)) {
            continue;
        }
        let existing: Vec<DynamicObject> =
            apply::existing_children(&ctx.client, &ar, namespaced, &ns, &agent.name_any(), agent.uid().as_deref())
                .await?;
        for object in existing.iter().filter(|o| o.namespace().as_deref() != Some(ns.as_str())) {
            apply::delete(&ctx.client, &ar, object).await?;
        }
    }
    Ok(())
}

async fn add_finalizer(agents: &Api<GitOpsAgent>, agent: &GitOpsAgent) -> Result<(), Error> {
    let mut finalizers = agent.finalizers().to_vec();
    finalizers.push(FINALIZER.into());
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": agent.resource_version()}});
    agents.patch(&agent.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?;
    Ok(())
}

async fn remove_finalizer(agents: &Api<GitOpsAgent>, agent: &GitOpsAgent) -> Result<(), Error> {
    if !agent.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(());
    }
    let finalizers: Vec<&String> = agent.finalizers().iter().filter(|f| *f != FINALIZER).collect();
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": agent.resource_version()}});
    match agents.patch(&agent.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Backoff with jitter for failed reconciles: 1s, 2s, 4s … up to 5 minutes, ±20%.
pub fn error_policy(agent: Arc<GitOpsAgent>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(name = %agent.name_any(), namespace = ?agent.namespace(), error = %error, "reconcile failed");
    ctx.metrics.errors.get_or_create(&ReasonLabels { reason: error.reason().into() }).inc();
    let attempts = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(key(&agent)).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    let base = Duration::from_secs(1u64 << attempts.saturating_sub(1).min(8)).min(Duration::from_secs(300));
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let jitter = 0.8 + f64::from(nanos % 400) / 1000.0;
    Action::requeue(base.mul_f64(jitter))
}
