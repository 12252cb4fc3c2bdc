//! The catalogue of agent tools: their names and what each reads from the cluster.
//!
//! It lives in the API crate because two parties need the same answer: the CRD (which tool names
//! `spec.tools` accepts) and the operator (which RBAC rules the enabled tools need). The server's
//! tool registry implements exactly these names.

use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A tool of the agent server, by its MCP name.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ToolName {
    // The predecessor's fifteen tools, same names.
    ListContexts,
    GetCurrentContext,
    GetGitopsStatus,
    ListKustomizations,
    GetKustomization,
    ListGitrepositories,
    GetHelmreleases,
    GetClusterStatus,
    ListMachines,
    GetAppDeployments,
    DebugReconciliation,
    GetEvents,
    GetPodLogs,
    CheckPolicyViolations,
    ListConstraints,
    // Beyond the predecessor.
    ListSources,
    GetHelmrelease,
    GetInventory,
    TraceObject,
    FluxHealthSummary,
    FleetHealthSummary,
    // Mutating; offered only when readOnly is false.
    Reconcile,
    Suspend,
    Resume,
}

/// Read access to some resources of one API group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reads {
    pub group: &'static str,
    pub resources: &'static [&'static str],
    /// Whether these resources are cluster-scoped (they then need a ClusterRole binding even when
    /// the agent is limited to some namespaces).
    pub cluster_scoped: bool,
}

const fn ns(group: &'static str, resources: &'static [&'static str]) -> Reads {
    Reads { group, resources, cluster_scoped: false }
}

const fn cluster(group: &'static str, resources: &'static [&'static str]) -> Reads {
    Reads { group, resources, cluster_scoped: true }
}

pub const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";
pub const HELM_GROUP: &str = "helm.toolkit.fluxcd.io";
pub const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";

const KUSTOMIZATIONS: Reads = ns(KUSTOMIZE_GROUP, &["kustomizations"]);
const HELMRELEASES: Reads = ns(HELM_GROUP, &["helmreleases"]);
const GITREPOSITORIES: Reads = ns(SOURCE_GROUP, &["gitrepositories"]);
const SOURCES: Reads =
    ns(SOURCE_GROUP, &["buckets", "gitrepositories", "helmcharts", "helmrepositories", "ocirepositories"]);
const EVENTS: Reads = ns("", &["events"]);
/// Kinds whose live status an inventory or trace reports: those that have a status. Never
/// Secrets, nor ConfigMaps (their data could be sensitive and they have no status to report).
const WORKLOADS: &[Reads] = &[
    ns("", &["pods", "services"]),
    ns("apps", &["daemonsets", "deployments", "statefulsets"]),
    ns("batch", &["cronjobs", "jobs"]),
    cluster("", &["namespaces"]),
];

impl ToolName {
    /// Every tool, in the order `tools/list` shows them.
    pub const ALL: &'static [ToolName] = &[
        Self::ListContexts,
        Self::GetCurrentContext,
        Self::GetGitopsStatus,
        Self::ListKustomizations,
        Self::GetKustomization,
        Self::ListGitrepositories,
        Self::GetHelmreleases,
        Self::GetClusterStatus,
        Self::ListMachines,
        Self::GetAppDeployments,
        Self::DebugReconciliation,
        Self::GetEvents,
        Self::GetPodLogs,
        Self::CheckPolicyViolations,
        Self::ListConstraints,
        Self::ListSources,
        Self::GetHelmrelease,
        Self::GetInventory,
        Self::TraceObject,
        Self::FluxHealthSummary,
        Self::FleetHealthSummary,
        Self::Reconcile,
        Self::Suspend,
        Self::Resume,
    ];

    /// The tool's MCP name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ListContexts => "list_contexts",
            Self::GetCurrentContext => "get_current_context",
            Self::GetGitopsStatus => "get_gitops_status",
            Self::ListKustomizations => "list_kustomizations",
            Self::GetKustomization => "get_kustomization",
            Self::ListGitrepositories => "list_gitrepositories",
            Self::GetHelmreleases => "get_helmreleases",
            Self::GetClusterStatus => "get_cluster_status",
            Self::ListMachines => "list_machines",
            Self::GetAppDeployments => "get_app_deployments",
            Self::DebugReconciliation => "debug_reconciliation",
            Self::GetEvents => "get_events",
            Self::GetPodLogs => "get_pod_logs",
            Self::CheckPolicyViolations => "check_policy_violations",
            Self::ListConstraints => "list_constraints",
            Self::ListSources => "list_sources",
            Self::GetHelmrelease => "get_helmrelease",
            Self::GetInventory => "get_inventory",
            Self::TraceObject => "trace_object",
            Self::FluxHealthSummary => "flux_health_summary",
            Self::FleetHealthSummary => "fleet_health_summary",
            Self::Reconcile => "reconcile",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
        }
    }

    /// Whether the tool changes cluster state (offered only when readOnly is false).
    pub fn is_mutating(self) -> bool {
        matches!(self, Self::Reconcile | Self::Suspend | Self::Resume)
    }

    /// What the tool reads from the cluster, for get/list/watch RBAC.
    pub fn reads(self) -> Vec<Reads> {
        match self {
            Self::ListContexts | Self::GetCurrentContext => vec![],
            Self::GetGitopsStatus => vec![KUSTOMIZATIONS, GITREPOSITORIES],
            Self::ListKustomizations | Self::GetKustomization => vec![KUSTOMIZATIONS],
            Self::ListGitrepositories => vec![GITREPOSITORIES],
            Self::GetHelmreleases => vec![HELMRELEASES],
            Self::GetClusterStatus | Self::ListMachines => {
                vec![ns("cluster.x-k8s.io", &["clusters", "machines"])]
            }
            Self::GetAppDeployments => {
                vec![ns("apps.kommander.d2iq.io", &["apps"]), cluster("apps.kommander.d2iq.io", &["clusterapps"])]
            }
            Self::DebugReconciliation => vec![KUSTOMIZATIONS, HELMRELEASES, SOURCES, EVENTS],
            Self::GetEvents => vec![EVENTS],
            Self::GetPodLogs => vec![ns("", &["pods", "pods/log"])],
            Self::CheckPolicyViolations => vec![
                cluster("constraints.gatekeeper.sh", &["*"]),
                cluster("kyverno.io", &["clusterpolicies"]),
                ns("kyverno.io", &["policies"]),
                ns("wgpolicyk8s.io", &["policyreports"]),
                cluster("wgpolicyk8s.io", &["clusterpolicyreports"]),
            ],
            Self::ListConstraints => vec![
                cluster("templates.gatekeeper.sh", &["constrainttemplates"]),
                cluster("constraints.gatekeeper.sh", &["*"]),
            ],
            Self::ListSources => vec![SOURCES],
            Self::GetHelmrelease => vec![HELMRELEASES, SOURCES, EVENTS],
            Self::GetInventory | Self::TraceObject => {
                let mut reads = vec![KUSTOMIZATIONS, HELMRELEASES, SOURCES];
                reads.extend_from_slice(WORKLOADS);
                reads
            }
            Self::FluxHealthSummary | Self::FleetHealthSummary => vec![KUSTOMIZATIONS, HELMRELEASES, SOURCES],
            Self::Reconcile | Self::Suspend | Self::Resume => {
                vec![KUSTOMIZATIONS, HELMRELEASES, SOURCES]
            }
        }
    }

    /// What a mutating tool patches.
    pub fn patches(self) -> Vec<Reads> {
        if self.is_mutating() { vec![KUSTOMIZATIONS, HELMRELEASES, SOURCES] } else { vec![] }
    }
}

/// The argument every single-cluster tool takes: the fleet member a call goes to.
pub const CLUSTER_ARGUMENT: &str = "cluster";

/// The name the `cluster` argument is mirrored under in an MCP 2026-07-28 request's headers
/// (`x-mcp-header`, sent as `Mcp-Param-Cluster`), so a Gateway can route or authorize a fleet's
/// calls by cluster without reading bodies. The server declares it; its clients send it.
pub const CLUSTER_HEADER: &str = "Cluster";

/// The `Mcp-Param-*` headers a 2026-07-28 client sends with a `tools/call` of these arguments:
/// the `cluster` value when there is one (a string, number or boolean), verbatim when it is
/// printable ASCII without surrounding blanks, else Base64 in `=?base64?…?=` (the encoding rules
/// of the MCP SDKs).
pub fn param_headers(arguments: &serde_json::Value) -> Vec<(String, String)> {
    let value = match arguments.get(CLUSTER_ARGUMENT) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => v.to_string(),
        _ => return vec![],
    };
    let padded = value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']);
    let unsafe_bytes = value.bytes().any(|b| !(0x20..0x7f).contains(&b));
    let looks_encoded = value.starts_with("=?base64?") && value.ends_with("?=");
    let encoded = if padded || unsafe_bytes || looks_encoded {
        // Standard Base64 with padding (RFC 4648), what `Mcp-Param-*` values use.
        format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(value.as_bytes()))
    } else {
        value
    };
    vec![(format!("Mcp-Param-{CLUSTER_HEADER}"), encoded)]
}

impl std::fmt::Display for ToolName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl crate::spec::GitOpsAgentSpec {
    /// The tools this agent offers: all (or `tools.enabled`), minus `tools.disabled`, minus the
    /// mutating ones when read-only.
    pub fn effective_tools(&self) -> Vec<ToolName> {
        ToolName::ALL
            .iter()
            .copied()
            .filter(|t| self.tools.enabled.is_empty() || self.tools.enabled.contains(t))
            .filter(|t| !self.tools.disabled.contains(t))
            .filter(|t| !(self.read_only && t.is_mutating()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cluster_argument_is_mirrored_in_a_header() {
        let headers = |v: serde_json::Value| super::param_headers(&v);
        assert_eq!(
            headers(serde_json::json!({"cluster": "prod-eu"})),
            vec![("Mcp-Param-Cluster".into(), "prod-eu".into())]
        );
        assert_eq!(headers(serde_json::json!({"cluster": "Hello"}))[0].1, "Hello");
        assert_eq!(headers(serde_json::json!({"cluster": " x"}))[0].1, "=?base64?IHg=?=");
        assert_eq!(headers(serde_json::json!({"cluster": "é"}))[0].1, "=?base64?w6k=?=");
        assert_eq!(
            headers(serde_json::json!({"cluster": "Hello"})),
            headers(serde_json::json!({"cluster": "Hello", "limit": 5}))
        );
        assert_eq!(headers(serde_json::json!({"cluster": 7}))[0].1, "7");
        assert!(headers(serde_json::json!({"namespace": "a"})).is_empty());
        assert!(headers(serde_json::json!({"cluster": null})).is_empty());
        assert_eq!(headers(serde_json::json!({"cluster": "=?base64?x?="}))[0].1, "=?base64?PT9iYXNlNjQ/eD89?=");
        assert_eq!(headers(serde_json::json!({"cluster": " Hell"}))[0].1, "=?base64?IEhlbGw=?=");
        assert_eq!(headers(serde_json::json!({"cluster": "\tab"}))[0].1, "=?base64?CWFi?=");
    }

    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for tool in ToolName::ALL {
            let json = serde_json::to_value(tool).expect("serializes");
            assert_eq!(json, serde_json::Value::String(tool.as_str().into()));
            let back: ToolName = serde_json::from_value(json).expect("deserializes");
            assert_eq!(back, *tool);
        }
    }

    #[test]
    fn no_tool_reads_secrets() {
        for tool in ToolName::ALL {
            for r in tool.reads() {
                assert!(!r.resources.contains(&"secrets"), "{tool} reads secrets");
                assert!(!(r.group.is_empty() && r.resources.contains(&"*")), "{tool} reads all core kinds");
            }
        }
    }

    #[test]
    fn read_only_hides_mutating_tools() {
        let spec = crate::spec::GitOpsAgentSpec::default();
        assert!(spec.read_only);
        assert!(spec.effective_tools().iter().all(|t| !t.is_mutating()));
        let writable = crate::spec::GitOpsAgentSpec { read_only: false, ..Default::default() };
        assert!(writable.effective_tools().contains(&ToolName::Reconcile));
    }
}
