//! `list_contexts` and `get_current_context`: which cluster(s) the agent answers for.

use std::sync::Arc;

use gitops_agent_api::tools::ToolName;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolContext;
use crate::contexts::ContextInfo;
use crate::markdown::Table;
use crate::registry::{Hints, Tool, ToolError};

/// This tool takes no arguments.
#[derive(Deserialize, JsonSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ContextList {
    source: String,
    current: Option<String>,
    contexts: Vec<ContextInfo>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct CurrentContext {
    source: String,
    context: Option<ContextInfo>,
}

pub fn context_tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::ListContexts,
            "List kubeconfig contexts",
            "List the Kubernetes contexts this agent knows (from its kubeconfig, or `in-cluster`): context name, cluster, API server URL, user name and default namespace, marking the current one. Never returns credentials.",
            Hints::READ,
            list_contexts,
        ),
        Tool::new(
            ToolName::GetCurrentContext,
            "Get the current context",
            "Show the Kubernetes context this agent answers for: its name, cluster, API server URL, user name and namespace. Never returns credentials.",
            Hints::READ,
            get_current_context,
        ),
    ]
}

async fn list_contexts(ctx: Arc<ToolContext>, _: NoArgs) -> Result<(String, ContextList), ToolError> {
    let c = &ctx.contexts;
    let mut table = Table::new(&["Current", "Context", "Cluster", "Server", "User", "Namespace"]);
    for info in &c.contexts {
        let mark = if c.current.as_deref() == Some(info.name.as_str()) { "*" } else { "" };
        table.row(vec![
            mark.into(),
            info.name.clone(),
            info.cluster.clone(),
            info.server.clone(),
            info.user.clone(),
            info.namespace.clone().unwrap_or_default(),
        ]);
    }
    let md =
        format!("## Kubernetes contexts\n\n{} context(s) from {}.\n\n{}", c.contexts.len(), c.source, table.render());
    Ok((md, ContextList { source: c.source.clone(), current: c.current.clone(), contexts: c.contexts.clone() }))
}

async fn get_current_context(ctx: Arc<ToolContext>, _: NoArgs) -> Result<(String, CurrentContext), ToolError> {
    let c = &ctx.contexts;
    let info = c.current_info().cloned();
    let md = match &info {
        Some(i) => format!(
            "## Current context: `{}`\n\n- Cluster: {}\n- Server: {}\n- User: {}\n- Namespace: {}\n- Source: {}\n",
            i.name,
            i.cluster,
            i.server,
            i.user,
            i.namespace.as_deref().unwrap_or("default"),
            c.source
        ),
        None => format!("## Current context\n\nNo current context is set in {}.\n", c.source),
    };
    Ok((md, CurrentContext { source: c.source.clone(), context: info }))
}
