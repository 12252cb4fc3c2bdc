//! Names, labels and ownership shared by every child of one agent.

use std::collections::BTreeMap;

use gitops_agent_api::{GitOpsAgent, GitOpsAgentSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

use super::clusters::MountedKubeconfig;
use super::{OperatorDefaults, RenderError};

/// The field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "gitops-agent-operator";
/// Names the agent that owns a child; with `AGENT_NAMESPACE_LABEL`, finds cluster-scoped children
/// and those in other namespaces, which ownerReferences cannot reach.
pub const AGENT_LABEL: &str = "agents.gitops.dev/agent";
pub const AGENT_NAMESPACE_LABEL: &str = "agents.gitops.dev/agent-namespace";
/// Hash of the server configuration, on the pod template: a config change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "agents.gitops.dev/config-hash";

/// Labels that select the agent's pods.
pub fn selector_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "gitops-agent".to_string()),
        ("app.kubernetes.io/instance".to_string(), name.to_string()),
    ])
}

/// Everything the child renderers share, computed once per render.
pub struct Context<'a> {
    pub spec: &'a GitOpsAgentSpec,
    pub name: String,
    pub namespace: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    /// The operator's namespace, admitted by the agent's NetworkPolicy so it can verify the agent.
    pub operator_namespace: Option<String>,
    /// The kubeconfigs of remote clusters to mount (what the operator found).
    pub kubeconfigs: &'a [MountedKubeconfig],
    owner: Option<OwnerReference>,
    agent: &'a GitOpsAgent,
}

impl<'a> Context<'a> {
    pub fn new(
        agent: &'a GitOpsAgent,
        defaults: &OperatorDefaults,
        kubeconfigs: &'a [MountedKubeconfig],
    ) -> Result<Self, RenderError> {
        let name = agent.metadata.name.clone().ok_or(RenderError::MissingName)?;
        let namespace = super::agent_namespace(agent);
        let spec = &agent.spec;
        let tag = if spec.image.tag.is_empty() { defaults.image_tag.as_str() } else { spec.image.tag.as_str() };
        let image = match &spec.image.digest {
            Some(digest) => format!("{}@{}", spec.image.repository, digest),
            None => format!("{}:{}", spec.image.repository, tag),
        };
        let mut labels = selector_labels(&name);
        labels.insert("app.kubernetes.io/component".into(), "agent".into());
        labels.insert("app.kubernetes.io/part-of".into(), "gitops-agent".into());
        labels.insert("app.kubernetes.io/managed-by".into(), FIELD_MANAGER.into());
        if is_label_value(tag) {
            labels.insert("app.kubernetes.io/version".into(), tag.into());
        }
        labels.insert(AGENT_LABEL.into(), name.clone());
        labels.insert(AGENT_NAMESPACE_LABEL.into(), namespace.clone());
        // An agent read from a file has no uid: its children cannot name an owner yet.
        let owner = agent.metadata.uid.as_ref().and_then(|_| agent.controller_owner_ref(&()));
        let operator_namespace = defaults.operator_namespace.clone();
        Ok(Self { spec, name, namespace, image, labels, operator_namespace, kubeconfigs, owner, agent })
    }

    /// Metadata of a namespaced child in the agent's namespace, owned by the agent.
    pub fn meta(&self, name: impl Into<String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels.clone()),
            owner_references: self.owner.clone().map(|o| vec![o]),
            ..Default::default()
        }
    }

    /// Metadata of a child outside the agent's namespace (cluster-scoped when `namespace` is
    /// None): found through labels, deleted through the agent's finalizer.
    pub fn unowned_meta(&self, name: impl Into<String>, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: namespace.map(str::to_string),
            labels: Some(self.labels.clone()),
            ..Default::default()
        }
    }

    /// Name for objects outside the agent's namespace: unique per agent across the cluster.
    pub fn cluster_name(&self) -> String {
        format!("gitops-agent-{}-{}", self.namespace, self.name)
    }

    pub fn service_account_name(&self) -> String {
        self.spec.service_account.name.clone().unwrap_or_else(|| self.name.clone())
    }

    /// Replicas the agent runs with at least: the HPA's floor when autoscaling.
    pub fn min_replicas(&self) -> i32 {
        if self.spec.autoscaling.enabled { self.spec.autoscaling.min_replicas } else { self.spec.replicas }
    }

    pub fn public_url(&self) -> Option<String> {
        super::public_url(self.agent)
    }

    pub fn selector(&self) -> BTreeMap<String, String> {
        selector_labels(&self.name)
    }
}

/// Whether `s` is a valid Kubernetes label value.
fn is_label_value(s: &str) -> bool {
    s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

/// A stable 64-bit FNV-1a hash, as hex: the same input gives the same hash in every build.
pub fn stable_hash(bytes: &[u8]) -> String {
    let hash =
        bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{hash:016x}")
}
