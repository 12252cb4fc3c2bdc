//! The GitOpsAgent's status: kstatus conditions (Ready, Reconciling, Stalled), one condition per
//! optional child, for verification and for what replicas share, replicas from the Deployment,
//! URL and endpoints.

use gitops_agent_api::GitOpsAgent;
use gitops_agent_api::spec::{ClusterStatus, Endpoints, GitOpsAgentStatus, ServerInfo, TaskStoreType};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;

/// One condition as computed by a reconcile (before timestamps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Cond {
    pub fn new(type_: &'static str, status: bool, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self { type_, status, reason: reason.into(), message: message.into() }
    }
}

/// What a reconcile learned, from which the status is built.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub replicas: Option<i32>,
    pub ready_replicas: Option<i32>,
    pub available: bool,
    /// A child the API server refused (422/403): the spec cannot converge as is.
    pub stalled: Option<String>,
    /// A retryable failure (5xx, 429, timeout) this reconcile hit; it is retried with backoff.
    pub transient: Option<String>,
    /// The generation the status speaks for, when it is not the agent's current one (a
    /// reconcile that failed has not observed the new spec).
    pub generation: Option<i64>,
    /// Per-child and verification conditions.
    pub extra: Vec<Cond>,
    /// Whether the server answered the handshake (None: verification off).
    pub verified: Option<Result<ServerInfo, String>>,
    pub url: Option<String>,
    pub endpoints: Option<Endpoints>,
    pub selector: String,
    /// The clusters the agent answers for (spec.clusters resolved and checked).
    pub clusters: Vec<ClusterStatus>,
}

/// Builds the status to write, keeping `lastTransitionTime` of conditions whose status did not
/// change (so a resync that changes nothing writes nothing).
pub fn build(agent: &GitOpsAgent, observed: &Observed, now: jiff::Timestamp) -> GitOpsAgentStatus {
    let generation = observed.generation.or(agent.metadata.generation);
    let mut conds: Vec<Cond> = Vec::new();
    let verified_ok = !matches!(observed.verified, Some(Err(_)));
    let ready = observed.stalled.is_none() && observed.available && verified_ok;
    match (&observed.stalled, ready) {
        (Some(message), _) => {
            conds.push(Cond::new("Ready", false, "ApplyFailed", message.clone()));
            conds.push(Cond::new("Stalled", true, "ApplyFailed", message.clone()));
            conds.push(Cond::new("Reconciling", false, "ApplyFailed", "waiting for the spec to change"));
        }
        (None, true) => {
            let replicas = observed.ready_replicas.unwrap_or(0);
            conds.push(Cond::new("Ready", true, "Available", format!("{replicas} agent replica(s) ready")));
            match &observed.transient {
                Some(e) => conds.push(Cond::new("Reconciling", true, "RetryingAfterError", e.clone())),
                None => conds.push(Cond::new("Reconciling", false, "Available", "the agent is up to date")),
            }
            conds.push(Cond::new("Stalled", false, "Available", "the agent is up to date"));
        }
        (None, false) => {
            let (reason, message) = if !observed.available {
                (
                    "DeploymentNotAvailable",
                    format!(
                        "waiting for the Deployment: {}/{} replicas ready",
                        observed.ready_replicas.unwrap_or(0),
                        observed.replicas.unwrap_or(0)
                    ),
                )
            } else {
                ("VerificationFailed", "the agent server did not answer the MCP/A2A handshake".to_string())
            };
            conds.push(Cond::new("Ready", false, reason, message.clone()));
            match &observed.transient {
                Some(e) => conds.push(Cond::new("Reconciling", true, "RetryingAfterError", e.clone())),
                None => conds.push(Cond::new("Reconciling", true, reason, message)),
            }
            conds.push(Cond::new("Stalled", false, "Progressing", "the agent is converging"));
        }
    }
    match &observed.verified {
        None => conds.push(Cond::new("Verified", false, "VerificationDisabled", "verification of the MCP/A2A endpoints is turned off for this operator (--verify=false); Ready does not include it")),
        Some(Ok(info)) => conds.push(Cond::new("Verified", true, "HandshakeSucceeded", format!("{} {} answered with {} tools", info.name, info.version, info.tool_count))),
        Some(Err(e)) => conds.push(Cond::new("Verified", false, "HandshakeFailed", e.clone())),
    }
    conds.extend(observed.extra.iter().cloned());

    let previous = agent.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let conditions = conds
        .into_iter()
        .map(|c| {
            let status = if c.status { "True" } else { "False" }.to_string();
            let kept = previous
                .iter()
                .find(|p| p.type_ == c.type_ && p.status == status)
                .map(|p| p.last_transition_time.clone());
            Condition {
                type_: c.type_.to_string(),
                status,
                reason: c.reason,
                message: c.message,
                observed_generation: generation,
                last_transition_time: kept.unwrap_or(Time(now)),
            }
        })
        .collect();
    GitOpsAgentStatus {
        observed_generation: generation,
        conditions,
        replicas: observed.replicas,
        ready_replicas: observed.ready_replicas,
        selector: Some(observed.selector.clone()),
        url: observed.url.clone(),
        endpoints: observed.endpoints.clone(),
        server_info: observed.verified.as_ref().and_then(|v| v.as_ref().ok().cloned()),
        clusters: observed.clusters.clone(),
    }
}

/// Whether any replica answers for any A2A task (`TaskStoreShared`).
pub fn task_store(agent: &GitOpsAgent) -> Cond {
    let spec = &agent.spec;
    match spec.a2a.task_store.type_ {
        TaskStoreType::Redis => Cond::new(
            "TaskStoreShared",
            true,
            "Redis",
            "A2A tasks are kept in Redis: every replica answers for every task",
        ),
        TaskStoreType::Memory if spec.a2a_needs_session_affinity() => Cond::new(
            "TaskStoreShared",
            false,
            "SessionAffinity",
            "A2A tasks are kept in each pod's memory, so the Service pins each client to one pod (sessionAffinity: ClientIP); set a2a.taskStore.type: Redis to share tasks across replicas",
        ),
        TaskStoreType::Memory => {
            Cond::new("TaskStoreShared", true, "SingleReplica", "A2A tasks are kept in the memory of the only replica")
        }
    }
}

/// Whether a 2026-07-28 client's confirmation of a change is accepted by whichever replica its
/// retry reaches (`ConfirmationKeyShared`). Only an agent that may change something asks for one.
pub fn confirmation_key(agent: &GitOpsAgent) -> Option<Cond> {
    const TYPE: &str = "ConfirmationKeyShared";
    let spec = &agent.spec;
    if spec.read_only {
        return None;
    }
    Some(match &spec.confirmation_key_secret_ref {
        Some(secret) => Cond::new(
            TYPE,
            true,
            "SecretKey",
            format!("every replica seals confirmations with key {:?} of Secret {:?}", secret.key, secret.name),
        ),
        None if !spec.several_replicas() => Cond::new(
            TYPE,
            true,
            "SingleReplica",
            "the only replica seals confirmations with a key of its own, made at start: a confirmation asked before a restart is asked again",
        ),
        // A Gateway sends an HTTPRoute's traffic to the pods themselves, past the Service and its
        // session affinity, in most implementations.
        None if spec.a2a_needs_session_affinity() && !spec.http_route.enabled => Cond::new(
            TYPE,
            true,
            "SessionAffinity",
            "each replica seals confirmations with a key of its own and the Service pins each client to one pod (sessionAffinity: ClientIP); a confirmation asked before a restart or a rescheduling is asked again unless confirmationKeySecretRef is set",
        ),
        None => Cond::new(
            TYPE,
            false,
            "KeyPerReplica",
            "readOnly: false with several replicas and nothing that keeps a client on one of them (the Redis task store turns the Service's session affinity off; a Gateway's HTTPRoute reaches the pods past it): each replica seals 2026-07-28 confirmations with a key of its own, so a confirmed change whose retry reaches another replica is refused; set confirmationKeySecretRef to a Secret key of at least 32 bytes",
        ),
    })
}

/// The endpoints of an agent, in-cluster and (when exposed) public.
pub fn endpoints(agent: &GitOpsAgent, public_url: Option<&str>) -> Endpoints {
    let ns = agent.namespace().unwrap_or_else(|| "default".into());
    let base = public_url
        .map(str::to_string)
        .unwrap_or_else(|| format!("http://{}.{}.svc:{}", agent.name_any(), ns, agent.spec.service.port));
    Endpoints {
        mcp: format!("{base}/mcp"),
        a2a: format!("{base}/"),
        agent_card: format!("{base}/.well-known/agent-card.json"),
        metrics: agent.spec.metrics.enabled.then(|| {
            format!("http://{}.{}.svc:{}{}", agent.name_any(), ns, agent.spec.metrics.port, agent.spec.metrics.path)
        }),
    }
}

#[cfg(test)]
mod tests {
    use gitops_agent_api::{GitOpsAgent, admit};
    use serde_json::{Value, json};

    use super::confirmation_key;

    fn agent(spec: Value) -> GitOpsAgent {
        admit(&json!({"apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent",
            "metadata": {"name": "agent", "namespace": "gitops-agent"}, "spec": spec}))
        .expect("valid spec")
    }

    fn reported(spec: Value) -> Option<(bool, String)> {
        confirmation_key(&agent(spec)).map(|c| (c.status, c.reason))
    }

    #[test]
    fn only_an_agent_that_may_change_something_reports_its_confirmation_key() {
        assert_eq!(reported(json!({"replicas": 3})), None);
        assert_eq!(reported(json!({"readOnly": false, "replicas": 1})), Some((true, "SingleReplica".into())));
    }

    #[test]
    fn replicas_without_a_shared_key_are_fine_only_while_each_client_stays_on_one_pod() {
        let redis = json!({"taskStore": {"type": "Redis", "redis": {"url": "redis://redis:6379"}}});
        assert_eq!(reported(json!({"readOnly": false, "replicas": 2})), Some((true, "SessionAffinity".into())));
        assert_eq!(
            reported(json!({"readOnly": false, "replicas": 2, "a2a": redis})),
            Some((false, "KeyPerReplica".into()))
        );
        let autoscaled = json!({"enabled": true, "minReplicas": 1, "maxReplicas": 3});
        assert_eq!(
            reported(json!({"readOnly": false, "replicas": 1, "autoscaling": autoscaled, "a2a": redis})),
            Some((false, "KeyPerReplica".into())),
            "an autoscaler may add replicas"
        );
        let route = json!({"enabled": true, "hostnames": ["agent.example.com"], "parentRefs": [{"name": "gw"}]});
        assert_eq!(
            reported(json!({"readOnly": false, "replicas": 2, "httpRoute": route})),
            Some((false, "KeyPerReplica".into())),
            "a Gateway reaches the pods past the Service's session affinity"
        );
        let shared = json!({"readOnly": false, "replicas": 2, "a2a": redis,
            "confirmationKeySecretRef": {"name": "confirm", "key": "key"}});
        let condition = confirmation_key(&agent(shared)).expect("a condition");
        assert_eq!((condition.status, condition.reason.as_str()), (true, "SecretKey"));
        assert!(condition.message.contains("\"confirm\""), "{}", condition.message);
    }
}
