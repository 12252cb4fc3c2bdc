//! `list_contexts` and `get_current_context`: which clusters the agent answers for, whether each
//! answers, and which Flux runs there.

use std::sync::Arc;
use std::time::Duration;

use gitops_agent_api::tools::ToolName;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolContext;
use crate::fleet::{Member, Reach};
use crate::markdown::Table;
use crate::registry::{Hints, Tool, ToolError};

/// This tool takes no arguments.
#[derive(Deserialize, JsonSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// One cluster of the fleet, or a kubeconfig context the agent does not answer for.
#[derive(Serialize, JsonSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
struct ClusterEntry {
    /// The name to pass as the tools' `cluster` argument.
    name: String,
    /// Whether the agent answers for it (false: a context of the kubeconfig it was not started
    /// with; `--all-contexts` adds them all).
    member: bool,
    /// The cluster a call without `cluster` goes to.
    current: bool,
    /// The kubeconfig context it is reached through.
    context: String,
    /// The kubeconfig's name for the cluster.
    cluster: String,
    /// The API server URL (any user:password part removed).
    server: String,
    /// The kubeconfig user's name (never its credentials).
    user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    /// Where it comes from: `in-cluster`, a kubeconfig path, or a file of the clusters directory.
    source: String,
    /// Whether its API server answers now (absent for a context that is not a member).
    #[serde(skip_serializing_if = "Option::is_none")]
    reachable: Option<bool>,
    /// Why it does not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The Flux version installed there, from its CRDs' `app.kubernetes.io/version` label.
    #[serde(skip_serializing_if = "Option::is_none")]
    flux_version: Option<String>,
    /// Objects the agent holds in its caches for it.
    objects: usize,
}

impl ClusterEntry {
    /// Whether it answers, for a table or list, with the reason clipped to `max` characters.
    fn reach_cell(&self, max: usize) -> String {
        match (self.reachable, &self.error) {
            (None, _) => "not answered for".to_string(),
            (Some(true), _) => "yes".to_string(),
            (Some(false), Some(why)) => format!("no: {}", crate::markdown::clip(why, max)),
            (Some(false), None) => "no".to_string(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ContextList {
    /// The agent's own kubeconfig (or `in-cluster`).
    source: String,
    /// The cluster a call without `cluster` goes to.
    current: Option<String>,
    contexts: Vec<ClusterEntry>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct CurrentContext {
    source: String,
    context: Option<ClusterEntry>,
}

pub fn context_tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::ListContexts,
            "List clusters and contexts",
            "List the clusters this agent answers for (its own, CAPI workload clusters, kubeconfig contexts): the name to pass as `cluster`, API server URL, user name, whether it is reachable now (and why not), the Flux version there, marking the default one; plus kubeconfig contexts it does not answer for. Never returns credentials.",
            Hints::READ,
            list_contexts,
        )
        .fleet_wide(),
        Tool::new(
            ToolName::GetCurrentContext,
            "Get the current context",
            "Show the cluster a call goes to (the default one, or the one named by `cluster`): its name, context, API server URL, user name, namespace, whether it is reachable (and why not) and its Flux version. Never returns credentials.",
            Hints::READ,
            get_current_context,
        )
        // It answers for an unreachable cluster too (that is when it is asked), so it does not go
        // through the registry's routing, which refuses those.
        .fleet_wide(),
    ]
}

/// How long one cluster may take to say which Flux it runs.
const VERSION_TIMEOUT: Duration = Duration::from_secs(2);

/// The Flux version of a cluster: its Kustomization CRD's version label, else the `flux-system`
/// namespace's (both set by `flux install` and the Flux Operator). None when neither can be read.
async fn flux_version(member: &Member) -> Option<String> {
    let client = member.link.as_ref().ok()?.client.clone();
    let label = |labels: Option<std::collections::BTreeMap<String, String>>| {
        labels.and_then(|mut l| l.remove("app.kubernetes.io/version"))
    };
    let ask = async {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        if let Ok(m) = crds.get_metadata("kustomizations.kustomize.toolkit.fluxcd.io").await
            && let Some(v) = label(m.metadata.labels)
        {
            return Some(v);
        }
        let namespaces: Api<Namespace> = Api::all(client);
        label(namespaces.get_metadata("flux-system").await.ok()?.metadata.labels)
    };
    tokio::time::timeout(VERSION_TIMEOUT, ask).await.ok().flatten()
}

async fn entry(ctx: &ToolContext, member: &Member) -> ClusterEntry {
    let (reachable, error) = match member.reach() {
        Reach::Reachable => (true, None),
        Reach::Connecting(why) | Reach::Unreachable(why) => (false, Some(why)),
    };
    let flux_version = if reachable { flux_version(member).await } else { None };
    let objects = member.link.as_ref().map_or(0, |l| l.cache.counts().iter().map(|c| c.objects).sum());
    let info = &member.info;
    ClusterEntry {
        name: member.name.clone(),
        member: true,
        current: ctx.fleet.default_name() == Some(member.name.as_str()),
        context: info.name.clone(),
        cluster: info.cluster.clone(),
        server: info.server.clone(),
        user: info.user.clone(),
        namespace: info.namespace.clone(),
        source: member.source.clone(),
        reachable: Some(reachable),
        error,
        flux_version,
        objects,
    }
}

async fn list_contexts(ctx: Arc<ToolContext>, _: NoArgs) -> Result<(String, ContextList), ToolError> {
    let members = ctx.fleet.members();
    let mut entries: Vec<ClusterEntry> = futures::future::join_all(members.iter().map(|m| entry(&ctx, m))).await;
    let kubeconfig = &ctx.fleet.contexts;
    for info in &kubeconfig.contexts {
        let answered = members.iter().any(|m| m.source == kubeconfig.source && m.info.name == info.name);
        if !answered {
            entries.push(ClusterEntry {
                name: info.name.clone(),
                member: false,
                current: false,
                context: info.name.clone(),
                cluster: info.cluster.clone(),
                server: info.server.clone(),
                user: info.user.clone(),
                namespace: info.namespace.clone(),
                source: kubeconfig.source.clone(),
                reachable: None,
                error: None,
                flux_version: None,
                objects: 0,
            });
        }
    }
    let mut table = Table::new(&["Current", "Cluster", "Context", "Server", "User", "Reachable", "Flux", "Source"]);
    for e in &entries {
        let reachable = e.reach_cell(120);
        table.row(vec![
            if e.current { "*".into() } else { String::new() },
            e.name.clone(),
            e.context.clone(),
            e.server.clone(),
            e.user.clone(),
            reachable,
            e.flux_version.clone().unwrap_or_default(),
            e.source.clone(),
        ]);
    }
    let answered = entries.iter().filter(|e| e.member).count();
    let md = format!(
        "## Clusters\n\nThis agent answers for {answered} cluster(s); pass a name as `cluster` to ask about it.\n\n{}",
        table.render()
    );
    let current = ctx.fleet.default_name().map(str::to_string);
    Ok((md, ContextList { source: kubeconfig.source.clone(), current, contexts: entries }))
}

/// Which cluster to describe.
#[derive(Deserialize, JsonSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct ClusterArgs {
    /// The cluster, by its name in list_contexts (default: the agent's own cluster).
    #[serde(default)]
    pub cluster: Option<String>,
}

async fn get_current_context(ctx: Arc<ToolContext>, args: ClusterArgs) -> Result<(String, CurrentContext), ToolError> {
    crate::validate::optional_name("cluster", args.cluster.as_deref())?;
    let member = ctx
        .fleet
        .member(args.cluster.as_deref())
        .map_err(|e| ToolError::InvalidArgument { param: "cluster".into(), reason: e.to_string() })?;
    let e = entry(&ctx, &member).await;
    let md = format!(
        "## Cluster `{}`\n\n- Context: {}\n- Server: {}\n- User: {}\n- Namespace: {}\n- Reachable: {}\n- Flux: {}\n- Source: {}\n",
        e.name,
        e.context,
        e.server,
        e.user,
        e.namespace.as_deref().unwrap_or("default"),
        e.reach_cell(usize::MAX),
        e.flux_version.as_deref().unwrap_or("not detected"),
        e.source
    );
    Ok((md, CurrentContext { source: ctx.fleet.contexts.source.clone(), context: Some(e) }))
}
