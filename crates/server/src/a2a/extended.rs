//! What the authenticated extended agent card tells one caller: the skills its RBAC lets it use
//! and the clusters it may see, each asked of that cluster's API server with the same
//! SubjectAccessReviews (and the same short-lived decision cache) that every tool call is checked
//! with. The card is a promise about what will work, so it is derived from the checks that
//! enforce it rather than kept as a second list.
//!
//! A skill is usable on a cluster when the caller may list at least one of the resources its tool
//! reads (in every namespace, or in one namespace holding Flux objects) and, for a mutating
//! skill, may also patch one of the resources it changes. A cluster is visible when some skill
//! that reads from it is usable there. Skills that read nothing from a cluster (the kubeconfig's
//! contexts) are usable by every caller.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use gitops_agent_api::tools::{HELM_GROUP, KUSTOMIZE_GROUP, Reads, SOURCE_GROUP, ToolName};
use serde_json::{Value, json};

use crate::auth::review::{Access, Reviewer};
use crate::auth::{AuthError, Caller};
use crate::tools::ToolContext;

/// Namespace reviews in flight at once for one resource, for a caller with no cluster-wide grant.
const CONCURRENT_REVIEWS: usize = 16;

/// One cluster as the caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    pub name: String,
    pub default: bool,
    /// The usable skills there, or why the cluster could not be asked.
    pub usable: Result<BTreeSet<ToolName>, String>,
}

impl ClusterView {
    /// The card extension's entry: the skills by id, or the error.
    pub fn json(&self) -> Value {
        let mut entry = json!({"name": self.name, "default": self.default});
        match &self.usable {
            Ok(tools) => {
                entry["skills"] = json!(tools.iter().map(|t| super::routing::skill_id(*t)).collect::<Vec<_>>())
            }
            Err(why) => entry["error"] = json!(why),
        }
        entry
    }

    fn visible(&self) -> bool {
        self.usable.as_ref().is_ok_and(|tools| tools.iter().any(|t| !t.reads().is_empty()))
    }
}

/// Every cluster of the fleet the caller may see (with the skills usable there), and the union of
/// those skills; a cluster that could not be asked is listed with its error and adds no skill.
pub async fn caller_view(
    ctx: &ToolContext,
    caller: &Caller,
    offered: &[ToolName],
) -> (BTreeSet<ToolName>, Vec<ClusterView>) {
    let default = ctx.fleet.default_name().map(str::to_string);
    let timeout = ctx.fleet.timeout();
    let asks = ctx.fleet.members().into_iter().map(|member| {
        let name = member.name.clone();
        let is_default = default.as_deref() == Some(name.as_str());
        async move {
            let usable = match ctx.on(Some(&name)) {
                Err(e) => Err(e.to_string()),
                Ok(on) => match tokio::time::timeout(timeout, usable_on(&on, caller, offered)).await {
                    Ok(Ok(tools)) => Ok(tools),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {} s (the per-cluster timeout)", timeout.as_secs_f64())),
                },
            };
            ClusterView { name, default: is_default, usable }
        }
    });
    let mut clusters: Vec<ClusterView> = futures::future::join_all(asks).await;
    clusters.retain(|c| c.usable.is_err() || c.visible());
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    // Skills that read nothing from a cluster (the kubeconfig's contexts) need no grant.
    let mut union: BTreeSet<ToolName> = offered.iter().copied().filter(|t| t.reads().is_empty()).collect();
    union.extend(clusters.iter().filter_map(|c| c.usable.as_ref().ok()).flatten().copied());
    (union, clusters)
}

/// The offered tools the caller may use on one cluster.
async fn usable_on(ctx: &ToolContext, caller: &Caller, offered: &[ToolName]) -> Result<BTreeSet<ToolName>, AuthError> {
    let Some(reviewer) = ctx.access.clone() else {
        // Without caller checks every call runs with the agent's own permissions.
        return Ok(offered.iter().copied().collect());
    };
    let checks =
        Checks { reviewer, caller: Arc::new(caller.clone()), namespaces: flux_namespaces(ctx), known: HashMap::new() };
    checks.usable(offered).await
}

/// Namespaces holding cached Flux objects: where a caller without cluster-wide grants may have
/// been given some.
fn flux_namespaces(ctx: &ToolContext) -> Vec<String> {
    let mut namespaces: Vec<String> = [KUSTOMIZE_GROUP, HELM_GROUP, SOURCE_GROUP]
        .into_iter()
        .filter_map(|g| ctx.cache.list_group(g).ok())
        .flatten()
        .flat_map(|(_, objects)| objects.into_iter().filter_map(|o| o.metadata.namespace.clone()))
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    namespaces.retain(|ns| ctx.in_scope(Some(ns)));
    namespaces
}

struct Checks {
    reviewer: Arc<Reviewer>,
    caller: Arc<Caller>,
    namespaces: Vec<String>,
    /// Answers already worked out for this card, by (verb, group, resource, cluster-scoped).
    known: HashMap<(&'static str, &'static str, &'static str, bool), bool>,
}

impl Checks {
    async fn usable(mut self, offered: &[ToolName]) -> Result<BTreeSet<ToolName>, AuthError> {
        let mut usable = BTreeSet::new();
        for &tool in offered {
            let reads = tool.reads();
            let readable = reads.is_empty() || self.any("list", &reads).await?;
            if readable && (!tool.is_mutating() || self.any("patch", &tool.patches()).await?) {
                usable.insert(tool);
            }
        }
        Ok(usable)
    }

    /// Whether the caller may `verb` at least one of these resources somewhere.
    async fn any(&mut self, verb: &'static str, reads: &[Reads]) -> Result<bool, AuthError> {
        for r in reads {
            for &resource in r.resources {
                let key = (verb, r.group, resource, r.cluster_scoped);
                let allowed = match self.known.get(&key) {
                    Some(known) => *known,
                    None => {
                        let allowed = self.somewhere(verb, r.group, resource, r.cluster_scoped).await?;
                        self.known.insert(key, allowed);
                        allowed
                    }
                };
                if allowed {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// In every namespace (or cluster-wide), else in one of the namespaces holding Flux objects.
    async fn somewhere(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        cluster_scoped: bool,
    ) -> Result<bool, AuthError> {
        // `pods/log` is read with get, as the tool does.
        let (verb, resource, subresource) = match resource.split_once('/') {
            Some((resource, sub)) => ("get", resource, sub),
            None => (verb, resource, ""),
        };
        let access = |namespace: &str| Access {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: String::new(),
        };
        if self.reviewer.allowed(&self.caller, &access("")).await? {
            return Ok(true);
        }
        if cluster_scoped {
            return Ok(false);
        }
        // Owned futures: a stream of futures borrowing `self` trips the compiler's Send check.
        let asks: Vec<_> = self
            .namespaces
            .iter()
            .map(|ns| {
                let (reviewer, caller, access) = (self.reviewer.clone(), self.caller.clone(), access(ns));
                async move { reviewer.allowed(&caller, &access).await }
            })
            .collect();
        let mut answers = futures::stream::iter(asks).buffer_unordered(CONCURRENT_REVIEWS);
        while let Some(answer) = answers.next().await {
            if answer? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
