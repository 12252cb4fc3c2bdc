//! Cluster API and Kommander tools: clusters, machines, app deployments.

use std::sync::Arc;

use gitops_agent_api::tools::ToolName;
use kube::ResourceExt;
use kube::api::DynamicObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ToolContext;
use super::flux::objects;
use crate::kinds;
use crate::markdown::{self, Table};
use crate::object::{self, Condition};
use crate::registry::{Hints, Tool, ToolError};
use crate::validate;

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct ClusterArgs {
    /// Only this Cluster API cluster.
    #[serde(default)]
    pub cluster_name: Option<String>,
    /// Namespace of the Cluster objects (default: all).
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ClusterRow {
    namespace: String,
    name: String,
    phase: String,
    ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    kubernetes_version: Option<String>,
    /// `Kind/name` of the infrastructure cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    infrastructure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    /// The first condition that is not True, if any: what holds the cluster up.
    #[serde(skip_serializing_if = "Option::is_none")]
    blocking: Option<Condition>,
    conditions: Vec<Condition>,
}

#[derive(Serialize, JsonSchema)]
struct ClustersAnswer {
    clusters: Vec<ClusterRow>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct MachineRow {
    namespace: String,
    name: String,
    cluster: String,
    phase: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_message: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct MachinesAnswer {
    machines: Vec<MachineRow>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct AppArgs {
    /// Workspace namespace of the Apps (ClusterApps are cluster-wide and always listed).
    #[serde(default)]
    pub workspace: Option<String>,
    /// Only this app (its app id, e.g. `harbor`, or its object name).
    #[serde(default)]
    pub app_name: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct AppRow {
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    name: String,
    app_id: String,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ready: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct AppsAnswer {
    apps: Vec<AppRow>,
    not_installed: Vec<String>,
    /// Kinds left out: the caller may not list them in the workspace asked about.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forbidden: Vec<String>,
}

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::GetClusterStatus,
            "Cluster API cluster status",
            "Show Cluster API (cluster.x-k8s.io) clusters: phase, readiness, Kubernetes version, infrastructure and control plane, and the condition that holds a cluster up. Optionally one cluster by name.",
            Hints::READ,
            get_cluster_status,
        ),
        Tool::new(
            ToolName::ListMachines,
            "List Cluster API machines",
            "List Cluster API Machines with their cluster, phase, Kubernetes version, node and provider ID, and failure reason; failed machines first. Filter by cluster and namespace.",
            Hints::READ,
            list_machines,
        ),
        Tool::new(
            ToolName::GetAppDeployments,
            "Kommander app deployments",
            "List NKP/Kommander applications (apps.kommander.d2iq.io App and ClusterApp) with app id and version, optionally for one workspace or app.",
            Hints::READ,
            get_app_deployments,
        ),
    ]
}

fn cluster_row(o: &DynamicObject) -> ClusterRow {
    let r = |p: &[&str]| {
        object::at(o, p).map(|v| {
            format!(
                "{}/{}",
                v.get("kind").and_then(Value::as_str).unwrap_or("?"),
                v.get("name").and_then(Value::as_str).unwrap_or("?")
            )
        })
    };
    let conditions = object::conditions(o);
    let endpoint = object::str_at(o, &["spec", "controlPlaneEndpoint", "host"])
        .filter(|h| !h.is_empty())
        .map(|h| format!("{h}:{}", object::i64_at(o, &["spec", "controlPlaneEndpoint", "port"]).unwrap_or(6443)));
    ClusterRow {
        namespace: o.namespace().unwrap_or_default(),
        name: o.name_any(),
        phase: object::str_at(o, &["status", "phase"]).unwrap_or("Unknown").into(),
        ready: conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"),
        kubernetes_version: object::str_at(o, &["spec", "topology", "version"]).map(str::to_string),
        infrastructure: r(&["spec", "infrastructureRef"]),
        control_plane: r(&["spec", "controlPlaneRef"]),
        endpoint,
        blocking: conditions
            .iter()
            .find(|c| c.status != "True" && c.type_ != "Ready")
            .or_else(|| conditions.iter().find(|c| c.status != "True"))
            .cloned(),
        conditions,
    }
}

async fn get_cluster_status(ctx: Arc<ToolContext>, args: ClusterArgs) -> Result<(String, ClustersAnswer), ToolError> {
    ctx.check_namespace("namespace", args.namespace.as_deref())?;
    validate::optional_name("cluster_name", args.cluster_name.as_deref())?;
    let objs = objects(&ctx, kinds::CAPI_CLUSTER, args.namespace.as_deref()).await?;
    let mut clusters: Vec<ClusterRow> = objs
        .iter()
        .filter(|o| args.cluster_name.as_deref().is_none_or(|n| o.name_any() == n))
        .map(|o| cluster_row(o))
        .collect();
    clusters.sort_by(|a, b| a.ready.cmp(&b.ready).then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))));
    if let (Some(n), true) = (&args.cluster_name, clusters.is_empty()) {
        return Err(ToolError::NotFound(format!(
            "Cluster API cluster {n:?} not found{}",
            args.namespace.as_deref().map(|ns| format!(" in namespace {ns}")).unwrap_or_default()
        )));
    }
    let now = ctx.now();
    let not_ready = clusters.iter().filter(|c| !c.ready).count();
    let mut md = format!("## Cluster API clusters\n\n{} cluster(s), {not_ready} not ready.\n\n", clusters.len());
    let mut t = Table::new(&[
        "Namespace",
        "Name",
        "Phase",
        "Ready",
        "Version",
        "Infrastructure",
        "Control plane",
        "Blocked by",
    ]);
    for c in &clusters {
        t.row(vec![
            c.namespace.clone(),
            c.name.clone(),
            c.phase.clone(),
            if c.ready { "yes".into() } else { "no".into() },
            c.kubernetes_version.clone().unwrap_or_default(),
            c.infrastructure.clone().unwrap_or_default(),
            c.control_plane.clone().unwrap_or_default(),
            c.blocking
                .as_ref()
                .map(|b| format!("{} {} ({})", b.type_, b.reason, markdown::clip(&b.message, 120)))
                .unwrap_or_default(),
        ]);
    }
    if !clusters.is_empty() {
        md.push_str(&t.render());
    }
    if args.cluster_name.is_some() {
        for c in &clusters {
            md.push_str(&format!("\n### Conditions of `{}/{}`\n\n", c.namespace, c.name));
            let mut ct = Table::new(&["Type", "Status", "Reason", "Since", "Message"]);
            for cond in &c.conditions {
                ct.row(vec![
                    cond.type_.clone(),
                    cond.status.clone(),
                    cond.reason.clone(),
                    markdown::age(now, cond.last_transition_time.as_deref()),
                    markdown::clip(&cond.message, 300),
                ]);
            }
            md.push_str(&ct.render());
        }
    }
    Ok((md, ClustersAnswer { clusters }))
}

async fn list_machines(ctx: Arc<ToolContext>, args: ClusterArgs) -> Result<(String, MachinesAnswer), ToolError> {
    ctx.check_namespace("namespace", args.namespace.as_deref())?;
    validate::optional_name("cluster_name", args.cluster_name.as_deref())?;
    let objs = objects(&ctx, kinds::MACHINE, args.namespace.as_deref()).await?;
    let mut machines: Vec<MachineRow> = objs
        .iter()
        .map(|o| {
            let s = |p: &[&str]| object::str_at(o, p).map(str::to_string);
            MachineRow {
                namespace: o.namespace().unwrap_or_default(),
                name: o.name_any(),
                cluster: s(&["spec", "clusterName"])
                    .or_else(|| o.labels().get("cluster.x-k8s.io/cluster-name").cloned())
                    .unwrap_or_default(),
                phase: s(&["status", "phase"]).unwrap_or_else(|| "Unknown".into()),
                version: s(&["spec", "version"]),
                node: s(&["status", "nodeRef", "name"]),
                provider_id: s(&["spec", "providerID"]),
                failure_reason: s(&["status", "failureReason"]),
                failure_message: s(&["status", "failureMessage"]),
            }
        })
        .filter(|m| args.cluster_name.as_deref().is_none_or(|c| m.cluster == c))
        .collect();
    let rank = |m: &MachineRow| match m.phase.as_str() {
        "Failed" => 0,
        "Running" => 3,
        "Deleting" | "Deleted" => 2,
        _ => 1,
    };
    machines.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| (&a.namespace, &a.cluster, &a.name).cmp(&(&b.namespace, &b.cluster, &b.name)))
    });
    let failed = machines.iter().filter(|m| m.phase == "Failed").count();
    let scope = args.cluster_name.as_deref().map(|c| format!(" of cluster `{c}`")).unwrap_or_default();
    let mut md = format!("## Machines{scope}\n\n{} machine(s), {failed} failed.\n\n", machines.len());
    if !machines.is_empty() {
        let mut t = Table::new(&["Namespace", "Name", "Cluster", "Phase", "Version", "Node", "Failure"]);
        for m in &machines {
            let failure = match (&m.failure_reason, &m.failure_message) {
                (Some(r), Some(msg)) => format!("{r}: {}", markdown::clip(msg, 200)),
                (Some(r), None) => r.clone(),
                (None, Some(msg)) => markdown::clip(msg, 200),
                (None, None) => String::new(),
            };
            t.row(vec![
                m.namespace.clone(),
                m.name.clone(),
                m.cluster.clone(),
                m.phase.clone(),
                m.version.clone().unwrap_or_default(),
                m.node.clone().unwrap_or_default(),
                failure,
            ]);
        }
        md.push_str(&t.render());
    }
    Ok((md, MachinesAnswer { machines }))
}

async fn get_app_deployments(ctx: Arc<ToolContext>, args: AppArgs) -> Result<(String, AppsAnswer), ToolError> {
    ctx.check_namespace("workspace", args.workspace.as_deref())?;
    validate::optional_name("app_name", args.app_name.as_deref())?;
    let mut apps = Vec::new();
    let mut not_installed = Vec::new();
    let mut refusals = super::Refusals::default();
    let mut installed = 0;
    let mut read = 0;
    for kind in [kinds::CLUSTER_APP, kinds::APP] {
        let ns = if kind == kinds::APP { args.workspace.as_deref() } else { None };
        let objs = match objects(&ctx, kind, ns).await {
            Ok(o) => o,
            Err(e) if e.is_not_installed() => {
                not_installed.push(format!("{} ({}/{})", kind.kind, kind.group, kind.version));
                continue;
            }
            Err(e) => {
                refusals.skip(kind.kind, e)?;
                installed += 1;
                continue;
            }
        };
        installed += 1;
        read += 1;
        for o in objs {
            let app_id = object::str_at(&o, &["spec", "appId"]).map(str::to_string).unwrap_or_default();
            if args.app_name.as_deref().is_some_and(|n| n != app_id && n != o.name_any()) {
                continue;
            }
            apps.push(AppRow {
                kind: kind.kind.into(),
                namespace: o.namespace(),
                name: o.name_any(),
                app_id,
                version: object::str_at(&o, &["spec", "version"]).unwrap_or_default().into(),
                ready: object::condition(&o, "Ready").map(|c| c.status),
            });
        }
    }
    if installed == 0 {
        return Err(ToolError::Cache(crate::cache::CacheError::NotInstalled(kinds::APP)));
    }
    let forbidden = refusals.finish(read > 0)?;
    let mut md = format!("## Kommander applications\n\n{} app(s).\n\n", apps.len());
    if !apps.is_empty() {
        let mut t = Table::new(&["Kind", "Workspace namespace", "Name", "App", "Version", "Ready"]);
        for a in &apps {
            t.row(vec![
                a.kind.clone(),
                a.namespace.clone().unwrap_or_else(|| "(cluster)".into()),
                a.name.clone(),
                a.app_id.clone(),
                a.version.clone(),
                a.ready.clone().unwrap_or_default(),
            ]);
        }
        md.push_str(&t.render());
    }
    md.push_str(&super::not_installed_note(&not_installed));
    md.push_str(&super::refused_note(&forbidden, args.workspace.as_deref()));
    Ok((md, AppsAnswer { apps, not_installed, forbidden }))
}
