//! `spec.clusters` and `status.clusters`: one agent answering for a fleet of clusters — the one it
//! runs in, plus Cluster API (CAPI) workload clusters reached through kubeconfig Secrets.
//!
//! Kubeconfigs are only ever referenced by the name of a Secret in the GitOpsAgent's own
//! namespace: a pod can mount only Secrets of its own namespace, and the operator never copies
//! credentials from one place to another.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{DNS1123_LABEL, DNS1123_SUBDOMAIN};

/// The name clients pass (as the tools' `cluster` argument) for the cluster the agent runs in; so
/// no other cluster may take it.
pub const LOCAL_CLUSTER: &str = "local";
/// CAPI writes a workload cluster's admin kubeconfig to the Secret `<cluster>-kubeconfig`.
pub const KUBECONFIG_SECRET_SUFFIX: &str = "-kubeconfig";
/// ... under this key.
pub const KUBECONFIG_SECRET_KEY: &str = "value";

/// Which clusters the agent answers for.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.local) || self.local || (has(self.targets) && self.targets.size() > 0) || has(self.selector)").message("clusters needs at least one source: local: true, an entry in clusters.targets, or clusters.selector"),
    validation = Rule::new("!has(self.selector) || (has(self.selector.matchLabels) && self.selector.matchLabels.size() > 0) || (has(self.selector.matchExpressions) && self.selector.matchExpressions.size() > 0)").message("clusters.selector needs matchLabels or matchExpressions: an empty selector would pick every CAPI Cluster in the namespace; list the clusters in clusters.targets, or select them by a label they share"),
)]
pub struct ClustersSpec {
    /// Answer for the cluster the agent runs in (named `local` in the tools' `cluster`
    /// argument), with the agent's own ServiceAccount.
    #[serde(default = "default_true")]
    pub local: bool,
    /// Clusters named explicitly, each with the Secret holding its kubeconfig. The Secret must be
    /// in this GitOpsAgent's namespace: the agent's pods mount it (pods can only mount Secrets of
    /// their own namespace), and the operator never copies credentials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.all(t, self.exists_one(u, u.name == t.name))").message("clusters.targets must not name a cluster twice"))]
    pub targets: Vec<ClusterTarget>,
    /// Cluster API Clusters (cluster.x-k8s.io/v1beta1) in this GitOpsAgent's namespace whose
    /// labels match. Each one's kubeconfig is read from the Secret CAPI writes next to it,
    /// `<cluster>-kubeconfig` (key `value`). The operator watches Clusters, so a new matching
    /// Cluster is added without touching the GitOpsAgent; a Secret that appears later is picked
    /// up at the next periodic resync. An empty selector is refused: it would pick every Cluster.
    /// A Cluster named like a target is answered through the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

impl Default for ClustersSpec {
    fn default() -> Self {
        Self { local: true, targets: Vec::new(), selector: None }
    }
}

/// One explicitly named cluster.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.name != 'local'").message("clusters.targets[].name must not be 'local': that name is the cluster the agent runs in (clusters.local)"))]
pub struct ClusterTarget {
    /// The cluster's name, as clients pass it in the tools' `cluster` argument (a DNS-1123 label).
    #[schemars(length(min = 1, max = 63), pattern(DNS1123_LABEL))]
    pub name: String,
    /// The Secret in this GitOpsAgent's namespace holding the cluster's kubeconfig. Default:
    /// `<name>-kubeconfig`, key `value` (the Cluster API convention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<KubeconfigSecretRef>,
}

impl ClusterTarget {
    /// The Secret holding the kubeconfig, with the CAPI defaults filled in.
    pub fn secret(&self) -> KubeconfigSecret {
        let r = self.secret_ref.as_ref();
        KubeconfigSecret {
            name: r.and_then(|r| r.name.clone()).unwrap_or_else(|| kubeconfig_secret_name(&self.name)),
            key: r.map(|r| r.key.clone()).unwrap_or_else(default_key),
        }
    }
}

/// A key of a Secret in the GitOpsAgent's namespace (no namespace field, on purpose: see
/// `ClustersSpec`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeconfigSecretRef {
    /// Name of the Secret, in this GitOpsAgent's namespace. Default: `<cluster name>-kubeconfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: Option<String>,
    /// Key of the kubeconfig in the Secret.
    #[serde(default = "default_key")]
    #[schemars(length(min = 1, max = 253), pattern(r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// A resolved Secret name and key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeconfigSecret {
    pub name: String,
    pub key: String,
}

/// The Secret CAPI writes a cluster's kubeconfig to.
pub fn kubeconfig_secret_name(cluster: &str) -> String {
    format!("{cluster}{KUBECONFIG_SECRET_SUFFIX}")
}

impl ClustersSpec {
    /// Whether any cluster other than the local one may be answered for (so the agent needs the
    /// clusters directory).
    pub fn has_remote(&self) -> bool {
        !self.targets.is_empty() || self.selector.is_some()
    }
}

fn default_true() -> bool {
    true
}

fn default_key() -> String {
    KUBECONFIG_SECRET_KEY.to_string()
}

/// Where a cluster in `status.clusters` comes from.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClusterSource {
    /// The cluster the agent runs in.
    Local,
    /// An entry of `spec.clusters.targets`.
    Target,
    /// A CAPI Cluster matched by `spec.clusters.selector`.
    Selector,
}

/// One cluster the agent answers for, or was asked to and cannot.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// The cluster's name, as clients pass it in the tools' `cluster` argument.
    pub name: String,
    pub source: ClusterSource,
    /// The kubeconfig Secret (in the GitOpsAgent's namespace); empty for the local cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret: String,
    /// Whether the agent has the cluster's credentials: the kubeconfig Secret exists, has the key
    /// and is mounted into the agent's pods. Always true for the local cluster (the agent's own
    /// ServiceAccount).
    pub mounted: bool,
    /// Whether the agent reached the cluster's API server, as it reported through its
    /// `list_contexts` tool. Unset: not known (the agent did not answer, or the cluster is not
    /// mounted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,
    /// Why the cluster is not mounted or not reachable, or what the agent said about it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}
