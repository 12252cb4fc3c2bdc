//! Render: a GitOpsAgent (plus operator defaults) → the exact list of child objects that run it.
//!
//! A pure function: no I/O, no clock, no randomness; rendering twice gives byte-identical output.
//! The controller applies what this returns; the `render` subcommand prints it.

mod availability;
mod child;
mod clusters;
mod exposure;
mod manifest;
mod meta;
mod monitoring;
mod network_policy;
mod push;
mod rbac;
mod service;
mod workload;

pub use child::Child;
pub use clusters::{CLUSTERS_DIR, MountedKubeconfig};
pub use manifest::{ManifestError, render_manifests, to_json, to_yaml};
pub use meta::{AGENT_LABEL, AGENT_NAMESPACE_LABEL, FIELD_MANAGER, selector_labels};

use gitops_agent_api::GitOpsAgent;
use kube::ResourceExt;

/// Settings of the operator itself that shape every agent it renders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorDefaults {
    /// Image tag used when the spec leaves `image.tag` empty: the operator's own version, so an
    /// operator upgrade rolls its agents forward together.
    pub image_tag: String,
    /// The operator's own namespace: agents' NetworkPolicies let it in to verify them.
    pub operator_namespace: Option<String>,
}

impl Default for OperatorDefaults {
    fn default() -> Self {
        Self { image_tag: env!("CARGO_PKG_VERSION").to_string(), operator_namespace: None }
    }
}

/// Why an agent could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("GitOpsAgent has no metadata.name")]
    MissingName,
    #[error("spec.{field}: {message}")]
    Invalid { field: &'static str, message: String },
}

/// Renders every child the agent needs, in a fixed order, without looking anything up: every
/// explicit cluster target is mounted as if its Secret existed (what the `render` subcommand and
/// the agent chart give).
pub fn render(agent: &GitOpsAgent, defaults: &OperatorDefaults) -> Result<Vec<Child>, RenderError> {
    render_with(agent, defaults, &clusters::assumed(agent))
}

/// Renders every child the agent needs, mounting exactly `kubeconfigs` (the remote clusters whose
/// Secrets the operator found).
pub fn render_with(
    agent: &GitOpsAgent,
    defaults: &OperatorDefaults,
    kubeconfigs: &[MountedKubeconfig],
) -> Result<Vec<Child>, RenderError> {
    let ctx = meta::Context::new(agent, defaults, kubeconfigs)?;
    let mut children = Vec::new();
    children.extend(rbac::service_account(&ctx).map(Child::ServiceAccount));
    children.extend(rbac::roles(&ctx));
    children.push(Child::Service(service::service(&ctx)));
    children.push(Child::Deployment(workload::deployment(&ctx)?));
    children.extend(availability::pod_disruption_budget(&ctx).map(Child::PodDisruptionBudget));
    children.extend(availability::autoscaler(&ctx).map(Child::HorizontalPodAutoscaler));
    children.extend(network_policy::network_policy(&ctx)?.map(Child::NetworkPolicy));
    children.extend(exposure::cluster_issuer(&ctx).map(Child::ClusterIssuer));
    children.extend(exposure::certificate(&ctx).map(Child::Certificate));
    children.extend(exposure::http_route(&ctx).map(Child::HttpRoute));
    children.extend(monitoring::service_monitor(&ctx).map(Child::ServiceMonitor));
    Ok(children)
}

/// The public URL of the agent, when an HTTPRoute exposes it.
pub fn public_url(agent: &GitOpsAgent) -> Option<String> {
    let route = &agent.spec.http_route;
    let host = route.hostnames.first().filter(|_| route.enabled)?;
    let scheme = if agent.spec.tls.enabled { "https" } else { "http" };
    Some(format!("{scheme}://{host}"))
}

/// The namespace an agent lives in (`default` for a manifest without one, as kubectl does).
pub fn agent_namespace(agent: &GitOpsAgent) -> String {
    agent.namespace().unwrap_or_else(|| "default".to_string())
}

#[cfg(test)]
mod tests;
