//! The `GitOpsAgent` custom resource: spec, status and their defaults.
//!
//! Defaults live here (through `serde(default)`, which schemars turns into schema defaults) so the
//! API server fills them in and `kubectl get -o yaml` shows them. Cross-field rules live here too,
//! as CEL `x-kubernetes-validations`, so the API server refuses a bad spec before the operator sees
//! it; `crate::admission` evaluates the very same rules for `render`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements, SeccompProfile,
    SecretKeySelector, SecurityContext, Toleration, TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::fleet::{ClusterSource, ClusterStatus, ClusterTarget, ClustersSpec, KubeconfigSecretRef};
use crate::tools::ToolName;

/// DNS-1123 label: what Kubernetes accepts as a namespace or most object names.
pub const DNS1123_LABEL: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// DNS-1123 subdomain: what Kubernetes accepts as most object names.
pub const DNS1123_SUBDOMAIN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A hostname as Gateway API's HTTPRoute accepts it (a leading wildcard label is allowed).
pub const HOSTNAME: &str = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// The uid and gid the hardened defaults run as (distroless "nonroot").
pub const NONROOT_ID: i64 = 65532;

/// Desired state of a GitOps agent: the agent server's Deployment and everything around it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "agents.gitops.dev",
    version = "v1alpha1",
    kind = "GitOpsAgent",
    plural = "gitopsagents",
    singular = "gitopsagent",
    shortname = "gta",
    category = "gitops",
    namespaced,
    status = "GitOpsAgentStatus",
    derive = "PartialEq",
    doc = "A GitOpsAgent runs an MCP and A2A agent server that answers questions about the cluster's Flux CD state.",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.size() <= 47").message("metadata.name must be at most 47 characters, so that the names of its children (such as <name>-tls) stay valid"),
    validation = Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter), because it names the agent's Service"),
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!self.autoscaling.enabled || self.autoscaling.minReplicas <= self.autoscaling.maxReplicas").message("autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"),
    validation = Rule::new("!self.httpRoute.enabled || (has(self.httpRoute.hostnames) && self.httpRoute.hostnames.size() > 0)").message("httpRoute.enabled needs at least one entry in httpRoute.hostnames"),
    validation = Rule::new("!self.httpRoute.enabled || (has(self.httpRoute.parentRefs) && self.httpRoute.parentRefs.size() > 0)").message("httpRoute.enabled needs at least one entry in httpRoute.parentRefs (the Gateway to attach to)"),
    validation = Rule::new("!self.tls.enabled || has(self.tls.secretName) || has(self.tls.issuerRef)").message("tls.enabled needs tls.secretName (an existing certificate Secret) or tls.issuerRef (a cert-manager issuer)"),
    validation = Rule::new("!self.tls.enabled || !has(self.tls.issuerRef) || self.httpRoute.enabled").message("tls.issuerRef issues a certificate for httpRoute.hostnames, so it needs httpRoute.enabled"),
    validation = Rule::new("!self.tls.createClusterIssuer.enabled || (self.tls.enabled && has(self.tls.issuerRef) && self.tls.issuerRef.kind == 'ClusterIssuer')").message("tls.createClusterIssuer.enabled needs tls.enabled and tls.issuerRef with kind ClusterIssuer (the name of the issuer to create)"),
    validation = Rule::new("!self.tls.createClusterIssuer.enabled || self.tls.createClusterIssuer.selfSigned || has(self.tls.createClusterIssuer.acmeEmail)").message("tls.createClusterIssuer needs tls.createClusterIssuer.acmeEmail for ACME, or selfSigned: true"),
    validation = Rule::new("!self.pdb.enabled || (has(self.pdb.minAvailable) != has(self.pdb.maxUnavailable))").message("pdb.enabled needs exactly one of pdb.minAvailable and pdb.maxUnavailable"),
    validation = Rule::new("!self.tracing.enabled || has(self.tracing.endpoint)").message("tracing.enabled needs tracing.endpoint (the OTLP gRPC endpoint, e.g. http://otel-collector.observability:4317)"),
    validation = Rule::new("!self.metrics.serviceMonitor.enabled || self.metrics.enabled").message("metrics.serviceMonitor.enabled needs metrics.enabled"),
    validation = Rule::new("!self.metrics.enabled || self.metrics.port != self.service.port").message("metrics.port must differ from service.port"),
    validation = Rule::new("!has(self.tools.enabled) || !has(self.tools.disabled) || self.tools.enabled.all(t, !(t in self.tools.disabled))").message("tools.enabled and tools.disabled must not name the same tool"),
    validation = Rule::new("self.readOnly || self.rbac.create").message("readOnly: false grants write access through the operator's RBAC, so it needs rbac.create: true"),
    validation = Rule::new("!has(self.confirmationKeySecretRef) || !has(self.confirmationKeySecretRef.optional) || !self.confirmationKeySecretRef.optional").message("confirmationKeySecretRef.optional must not be true: without the Secret each replica would seal confirmations with a key of its own, which is what the field exists to prevent"),
    validation = Rule::new("!has(self.a2a.taskStore.redis) || !has(self.a2a.taskStore.redis.urlSecretRef) || !has(self.a2a.taskStore.redis.urlSecretRef.optional) || !self.a2a.taskStore.redis.urlSecretRef.optional").message("a2a.taskStore.redis.urlSecretRef.optional must not be true: without the Secret the agent would have no Redis URL and keep tasks in memory"),
    validation = Rule::new("!has(self.a2a.pushNotifications.signingKeySecretRef) || !has(self.a2a.pushNotifications.signingKeySecretRef.optional) || !self.a2a.pushNotifications.signingKeySecretRef.optional").message("a2a.pushNotifications.signingKeySecretRef.optional must not be true: the key is always mounted as required, so a pod without the Secret does not start"),
)]
pub struct GitOpsAgentSpec {
    /// Container image of the agent server.
    #[serde(default)]
    pub image: ImageSpec,
    /// Secrets in this namespace used to pull the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Number of agent pods (ignored while autoscaling is enabled). Two or more for high availability.
    #[schemars(range(min = 0, max = 100))]
    #[serde(default = "default_replicas")]
    pub replicas: i32,
    /// Serve only read-only tools. When false, the mutating Flux tools (reconcile, suspend, resume)
    /// are offered and the agent's RBAC allows `patch` on Flux objects.
    #[serde(default = "default_true")]
    pub read_only: bool,
    /// A key of a Secret in the agent's namespace holding at least 32 bytes that seal a
    /// 2026-07-28 client's confirmation of a change (reconcile, suspend, resume), shared by every
    /// replica so that the client's retry may reach any of them. Unset: each pod makes its own,
    /// and a retry that reaches another pod is refused (the client must call again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_key_secret_ref: Option<SecretKeySelector>,
    /// Log verbosity of the agent server.
    #[serde(default)]
    pub log_level: LogLevel,
    /// Log format of the agent server: json for log collectors, text for people.
    #[serde(default)]
    pub log_format: LogFormat,
    /// The Service in front of the agent pods.
    #[serde(default)]
    pub service: ServiceSpec,
    /// Gateway API HTTPRoute exposing the agent through an existing Gateway.
    #[serde(default)]
    pub http_route: HttpRouteSpec,
    /// TLS for the public hostname, through cert-manager or an existing Secret.
    #[serde(default)]
    pub tls: TlsSpec,
    /// CPU and memory for the agent container.
    #[serde(default = "default_resources")]
    pub resources: ResourceRequirements,
    /// Node labels the agent pods must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the agent pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub tolerations: Vec<Toleration>,
    /// Affinity of the agent pods. When unset and more than one replica runs, pods prefer distinct nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Topology spread of the agent pods. When empty and more than one replica runs, pods spread
    /// across nodes and zones (ScheduleAnyway).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Pod security context. Fields left unset take the hardened defaults.
    #[serde(default = "default_pod_security_context")]
    pub pod_security_context: PodSecurityContext,
    /// Container security context. Fields left unset take the hardened defaults.
    #[serde(default = "default_security_context")]
    pub security_context: SecurityContext,
    /// Annotations added to the agent pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
    /// Labels added to the agent pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
    /// PriorityClass of the agent pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// The ServiceAccount the agent runs as.
    #[serde(default)]
    pub service_account: ServiceAccountSpec,
    /// RBAC for the agent's ServiceAccount.
    #[serde(default)]
    pub rbac: RbacSpec,
    /// Prometheus metrics endpoint.
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// OpenTelemetry trace export.
    #[serde(default)]
    pub tracing: TracingSpec,
    /// PodDisruptionBudget keeping agents available during node drains.
    #[serde(default)]
    pub pdb: PdbSpec,
    /// HorizontalPodAutoscaler (autoscaling/v2); when enabled, it owns the replica count.
    #[serde(default)]
    pub autoscaling: AutoscalingSpec,
    /// NetworkPolicy restricting who reaches the agent and what it reaches.
    #[serde(default)]
    pub network_policy: NetworkPolicySpec,
    /// Extra environment variables of the agent container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub extra_env: Vec<EnvVar>,
    /// Extra volumes of the agent pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub extra_volumes: Vec<Volume>,
    /// Extra volume mounts of the agent container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub extra_volume_mounts: Vec<VolumeMount>,
    /// Namespaces the agent may read. Empty means the whole cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(pattern(DNS1123_LABEL), length(max = 63)))]
    #[x_kube(validation = Rule::new("self.all(n, self.exists_one(m, m == n))").message("watchNamespaces must not list a namespace twice"))]
    pub watch_namespaces: Vec<String>,
    /// Which tools the agent offers.
    #[serde(default)]
    pub tools: ToolsSpec,
    /// A2A (Agent-to-Agent) settings.
    #[serde(default)]
    pub a2a: A2aSpec,
    /// How callers of the agent (MCP and A2A) authenticate.
    #[serde(default)]
    pub auth: AuthSpec,
    /// The clusters the agent answers for: the one it runs in, and Cluster API (CAPI) workload
    /// clusters whose kubeconfigs are Secrets in this GitOpsAgent's namespace. Unset: only the
    /// local cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<ClustersSpec>,
}

impl Default for GitOpsAgentSpec {
    fn default() -> Self {
        Self {
            image: ImageSpec::default(),
            image_pull_secrets: Vec::new(),
            replicas: 2,
            read_only: true,
            confirmation_key_secret_ref: None,
            log_level: LogLevel::default(),
            log_format: LogFormat::default(),
            service: ServiceSpec::default(),
            http_route: HttpRouteSpec::default(),
            tls: TlsSpec::default(),
            resources: default_resources(),
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            affinity: None,
            topology_spread_constraints: Vec::new(),
            pod_security_context: default_pod_security_context(),
            security_context: default_security_context(),
            pod_annotations: BTreeMap::new(),
            pod_labels: BTreeMap::new(),
            priority_class_name: None,
            service_account: ServiceAccountSpec::default(),
            rbac: RbacSpec::default(),
            metrics: MetricsSpec::default(),
            tracing: TracingSpec::default(),
            pdb: PdbSpec::default(),
            autoscaling: AutoscalingSpec::default(),
            network_policy: NetworkPolicySpec::default(),
            extra_env: Vec::new(),
            extra_volumes: Vec::new(),
            extra_volume_mounts: Vec::new(),
            watch_namespaces: Vec::new(),
            tools: ToolsSpec::default(),
            a2a: A2aSpec::default(),
            auth: AuthSpec::default(),
            clusters: None,
        }
    }
}

/// The agent server image.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ImageSpec {
    /// Image repository.
    #[schemars(length(min = 1, max = 255))]
    pub repository: String,
    /// Image tag. Empty means the operator's own version.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 128))]
    pub tag: String,
    /// Image digest (sha256:...); when set it pins the image instead of the tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^sha256:[a-f0-9]{64}$"))]
    pub digest: Option<String>,
    /// When the kubelet pulls the image.
    pub pull_policy: PullPolicy,
}

impl Default for ImageSpec {
    fn default() -> Self {
        Self {
            repository: "ghcr.io/gitops-agent/gitops-agent".into(),
            tag: String::new(),
            digest: None,
            pull_policy: PullPolicy::IfNotPresent,
        }
    }
}

/// Kubernetes image pull policy.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PullPolicy {
    Always,
    #[default]
    IfNotPresent,
    Never,
}

/// Log verbosity, as the predecessor's `--log-level`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Log format.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Text => "text",
        }
    }
}

/// The agent's Service.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSpec {
    /// Service type.
    #[serde(rename = "type")]
    pub type_: ServiceType,
    /// Port of the MCP/A2A HTTP endpoint (the predecessor's 8080).
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Annotations of the Service.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self { type_: ServiceType::ClusterIP, port: 8080, annotations: BTreeMap::new() }
    }
}

/// Kubernetes Service type.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterIP => "ClusterIP",
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
        }
    }
}

/// Gateway API exposure.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteSpec {
    /// Create an HTTPRoute (gateway.networking.k8s.io/v1).
    pub enabled: bool,
    /// Public hostnames of the agent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(pattern(HOSTNAME), length(max = 253)))]
    pub hostnames: Vec<String>,
    /// Gateways the route attaches to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub parent_refs: Vec<ParentRef>,
    /// Annotations of the HTTPRoute (e.g. Traefik entrypoints, Kong plugins).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A Gateway the HTTPRoute attaches to.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    /// Name of the Gateway.
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Namespace of the Gateway; defaults to the agent's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63), pattern(DNS1123_LABEL))]
    pub namespace: Option<String>,
    /// Listener of the Gateway to attach to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub section_name: Option<String>,
    /// Port of the Gateway listener to attach to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// TLS for the public hostname.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsSpec {
    /// Serve the public hostname over HTTPS.
    pub enabled: bool,
    /// Secret holding the certificate. With an issuer, cert-manager writes it (default <name>-tls);
    /// without one, it must exist already.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub secret_name: Option<String>,
    /// cert-manager issuer that signs the certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_ref: Option<IssuerRef>,
    /// Create the ClusterIssuer named by issuerRef (ACME or self-signed).
    pub create_cluster_issuer: CreateClusterIssuerSpec,
}

/// A cert-manager Issuer or ClusterIssuer.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    /// Name of the issuer.
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Kind of the issuer.
    #[serde(default)]
    pub kind: IssuerKind,
}

/// cert-manager issuer kinds.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IssuerKind {
    Issuer,
    #[default]
    ClusterIssuer,
}

impl IssuerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issuer => "Issuer",
            Self::ClusterIssuer => "ClusterIssuer",
        }
    }
}

/// A ClusterIssuer for the agent, for clusters that have none yet.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateClusterIssuerSpec {
    /// Create the ClusterIssuer.
    pub enabled: bool,
    /// ACME directory URL.
    #[schemars(pattern(r"^https://"), length(max = 2048))]
    pub acme_server: String,
    /// Contact email for the ACME account.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[^@\s]+@[^@\s]+$"), length(max = 254))]
    pub acme_email: Option<String>,
    /// Create a self-signed issuer instead of an ACME one (for tests and private networks).
    pub self_signed: bool,
}

impl Default for CreateClusterIssuerSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            acme_server: "https://acme-v02.api.letsencrypt.org/directory".into(),
            acme_email: None,
            self_signed: false,
        }
    }
}

/// The agent's ServiceAccount.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceAccountSpec {
    /// Create the ServiceAccount; when false, `name` must exist.
    pub create: bool,
    /// Name of the ServiceAccount; defaults to the agent's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: Option<String>,
    /// Annotations of the ServiceAccount (e.g. for workload identity).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Default for ServiceAccountSpec {
    fn default() -> Self {
        Self { create: true, name: None, annotations: BTreeMap::new() }
    }
}

/// RBAC of the agent.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RbacSpec {
    /// Create the (Cluster)Role and binding granting exactly what the enabled tools read.
    pub create: bool,
}

impl Default for RbacSpec {
    fn default() -> Self {
        Self { create: true }
    }
}

/// Prometheus metrics.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricsSpec {
    /// Serve /metrics on its own port.
    pub enabled: bool,
    /// Metrics port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Metrics path.
    #[schemars(pattern(r"^/[A-Za-z0-9/_.-]*$"), length(max = 256))]
    pub path: String,
    /// Prometheus Operator ServiceMonitor.
    pub service_monitor: ServiceMonitorSpec,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        Self { enabled: true, port: 9090, path: "/metrics".into(), service_monitor: ServiceMonitorSpec::default() }
    }
}

/// A ServiceMonitor (monitoring.coreos.com/v1) scraping the agent.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceMonitorSpec {
    /// Create the ServiceMonitor.
    pub enabled: bool,
    /// Scrape interval.
    #[schemars(pattern(r"^([0-9]+(ms|s|m|h))+$"))]
    pub interval: String,
    /// Extra labels, e.g. the `release` label your Prometheus selects on.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Default for ServiceMonitorSpec {
    fn default() -> Self {
        Self { enabled: false, interval: "30s".into(), labels: BTreeMap::new() }
    }
}

/// OpenTelemetry tracing.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TracingSpec {
    /// Export traces over OTLP.
    pub enabled: bool,
    /// OTLP gRPC endpoint, e.g. http://otel-collector.observability:4317.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^https?://[^\s/:]+(:[0-9]{1,5})?/?$"), length(max = 2048))]
    pub endpoint: Option<String>,
    /// Fraction of traces sampled, in percent.
    #[schemars(range(min = 0, max = 100))]
    pub sampling_percentage: i32,
}

impl Default for TracingSpec {
    fn default() -> Self {
        Self { enabled: false, endpoint: None, sampling_percentage: 100 }
    }
}

/// PodDisruptionBudget.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
// No container-level default here: a field default on minAvailable would be filled in next to a
// user's maxUnavailable and break the "exactly one" rule. The spec's `pdb` default carries it.
#[serde(rename_all = "camelCase")]
pub struct PdbSpec {
    /// Create the PodDisruptionBudget.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Pods that must stay available (number or percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    /// Pods that may be unavailable (number or percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

impl Default for PdbSpec {
    fn default() -> Self {
        Self { enabled: true, min_available: Some(IntOrString::Int(1)), max_unavailable: None }
    }
}

/// HorizontalPodAutoscaler.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct AutoscalingSpec {
    /// Create the HorizontalPodAutoscaler; it then owns the replica count.
    pub enabled: bool,
    /// Fewest replicas.
    #[schemars(range(min = 1, max = 100))]
    pub min_replicas: i32,
    /// Most replicas.
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: i32,
    /// Target average CPU utilisation, in percent of requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(rename = "targetCPUUtilizationPercentage")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percentage: Option<i32>,
    /// Target average memory utilisation, in percent of requests. Unset: CPU only.
    #[serde(default, rename = "targetMemoryUtilizationPercentage", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub target_memory_utilization_percentage: Option<i32>,
}

impl Default for AutoscalingSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            min_replicas: 2,
            max_replicas: 5,
            target_cpu_utilization_percentage: Some(70),
            target_memory_utilization_percentage: None,
        }
    }
}

/// NetworkPolicy for the agent pods.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkPolicySpec {
    /// Create the NetworkPolicy.
    pub enabled: bool,
    /// Who may reach the MCP/A2A port, besides pods in the agent's namespace and the namespaces
    /// of the Gateways in httpRoute.parentRefs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub ingress_from: Vec<NetworkPolicyPeer>,
    /// Who may reach the metrics port. Empty means any pod in any namespace (so Prometheus can
    /// scrape wherever it runs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub metrics_from: Vec<NetworkPolicyPeer>,
    /// Extra egress destinations, besides DNS, the Kubernetes API server and the OTLP endpoint.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub egress_to: Vec<NetworkPolicyPeer>,
    /// CIDRs of the Kubernetes API server (egress on 443 and 6443). Empty means any address,
    /// since the API server's address is not selectable by labels.
    #[serde(rename = "apiServerCIDRs", skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(max = 43)))]
    pub api_server_cidrs: Vec<String>,
}

impl Default for NetworkPolicySpec {
    fn default() -> Self {
        Self {
            enabled: true,
            ingress_from: Vec::new(),
            metrics_from: Vec::new(),
            egress_to: Vec::new(),
            api_server_cidrs: Vec::new(),
        }
    }
}

/// Which tools the agent offers (names as in `tools/list`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ToolsSpec {
    /// Only these tools; empty means every tool the mode allows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub enabled: Vec<ToolName>,
    /// Never these tools.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub disabled: Vec<ToolName>,
}

/// Caller authentication.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthSpec {
    /// `Kubernetes`: callers send a bearer token the API server accepts (ServiceAccount or OIDC),
    /// checked with a TokenReview, and every tool call runs with the caller's own RBAC (checked
    /// with SubjectAccessReviews). `None`: anyone who reaches the Service acts with the agent's
    /// permissions; only behind a Gateway that authenticates, or on a private network.
    pub mode: AuthMode,
    /// Issuer URLs clients get tokens from (the cluster's OIDC issuer), published as
    /// `authorization_servers` in `/.well-known/oauth-protected-resource`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8), inner(pattern(r"^https://\S+$"), length(max = 512)))]
    pub issuers: Vec<String>,
    /// Audiences a caller's token must carry (TokenReview `spec.audiences`). Empty: the API
    /// server's own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8), inner(length(min = 1, max = 253)))]
    pub audiences: Vec<String>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthMode {
    #[default]
    Kubernetes,
    None,
}

/// A2A settings of the agent.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct A2aSpec {
    /// Where A2A tasks are kept between calls.
    pub task_store: TaskStoreSpec,
    /// Webhooks clients register get each task's updates (A2A push notifications).
    pub push_notifications: PushNotificationsSpec,
}

/// A2A push notifications. Webhooks must be `https` to public addresses unless their host is in
/// allowHosts; each replica signs its notifications with its own key unless signingKeySecretRef
/// gives them one (then one JWKS verifies every replica's).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PushNotificationsSpec {
    /// Offer push notifications (the agent cards say so, and the agent POSTs to webhooks).
    pub enabled: bool,
    /// Webhook hosts, exactly as in the URL (a name or an IP address), allowed over plain http
    /// and at any address, private ones included: e.g. an orchestrator's Service in the cluster.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 32),
        inner(length(min = 1, max = 253), pattern(r"^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$"))
    )]
    pub allow_hosts: Vec<String>,
    /// A key of a Secret in the agent's namespace holding the ECDSA P-256 private key (PKCS#8
    /// PEM, `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`) notifications are
    /// signed with; mounted read-only into the pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key_secret_ref: Option<SecretKeySelector>,
}

impl Default for PushNotificationsSpec {
    fn default() -> Self {
        PushNotificationsSpec { enabled: true, allow_hosts: Vec::new(), signing_key_secret_ref: None }
    }
}

/// The A2A task store. `Memory` keeps tasks in each pod, so with more than one replica the
/// Service pins each client to one pod (ClientIP session affinity); `Redis` shares them, so any
/// replica answers `GetTask`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.type != 'Redis' || (has(self.redis) && (has(self.redis.url) != has(self.redis.urlSecretRef)))").message("a2a.taskStore.type Redis needs exactly one of a2a.taskStore.redis.url and a2a.taskStore.redis.urlSecretRef"),
    validation = Rule::new("self.type == 'Redis' || !has(self.redis)").message("a2a.taskStore.redis is only read when a2a.taskStore.type is Redis"),
)]
pub struct TaskStoreSpec {
    #[serde(rename = "type", default)]
    pub type_: TaskStoreType,
    /// Redis connection (type Redis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisSpec>,
    /// Most tasks kept; the least recently updated go first.
    #[schemars(range(min = 1, max = 100000))]
    #[serde(default = "default_max_tasks")]
    pub max_tasks: i32,
    /// Seconds a finished task can be read back.
    #[schemars(range(min = 60, max = 604800))]
    #[serde(default = "default_task_ttl_seconds")]
    pub ttl_seconds: i64,
}

impl GitOpsAgentSpec {
    /// More than one pod, now or once the autoscaler scales out.
    pub fn several_replicas(&self) -> bool {
        self.replicas > 1 || self.autoscaling.enabled
    }

    /// More than one pod keeping A2A tasks in memory: clients must stay on one pod.
    pub fn a2a_needs_session_affinity(&self) -> bool {
        self.a2a.task_store.type_ == TaskStoreType::Memory && self.several_replicas()
    }
}

fn default_max_tasks() -> i32 {
    1000
}

fn default_task_ttl_seconds() -> i64 {
    3600
}

impl Default for TaskStoreSpec {
    fn default() -> Self {
        Self {
            type_: TaskStoreType::Memory,
            redis: None,
            max_tasks: default_max_tasks(),
            ttl_seconds: default_task_ttl_seconds(),
        }
    }
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TaskStoreType {
    #[default]
    Memory,
    Redis,
}

/// How to reach Redis.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RedisSpec {
    /// `redis://host:port[/db]`, without credentials (put a URL with a password in a Secret and
    /// use urlSecretRef).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), pattern(r"^redis://[^@/\s]+(/[0-9]+)?$"))]
    pub url: Option<String>,
    /// A key of a Secret in the agent's namespace holding the whole `redis://` URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_secret_ref: Option<SecretKeySelector>,
}

fn default_replicas() -> i32 {
    2
}

fn default_true() -> bool {
    true
}

fn default_resources() -> ResourceRequirements {
    let quantities = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(memory.to_string())),
        ])
    };
    ResourceRequirements {
        limits: Some(quantities("500m", "512Mi")),
        requests: Some(quantities("100m", "128Mi")),
        ..Default::default()
    }
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }
}

/// The hardened pod security context every agent gets unless the spec overrides a field.
pub fn default_pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(NONROOT_ID),
        run_as_group: Some(NONROOT_ID),
        fs_group: Some(NONROOT_ID),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..Default::default()
    }
}

/// The hardened container security context every agent gets unless the spec overrides a field.
pub fn default_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(NONROOT_ID),
        run_as_group: Some(NONROOT_ID),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..Default::default()
    }
}

/// Observed state of a GitOpsAgent (kstatus-compatible).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct GitOpsAgentStatus {
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, and one condition per optional child.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Pods of the agent's Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Ready pods of the agent's Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Label selector of the agent pods (for the scale subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Public URL, when an HTTPRoute exposes the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Where the agent answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    /// What the agent said about itself when the operator verified it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_info: Option<ServerInfo>,
    /// The clusters the agent answers for (spec.clusters resolved): which kubeconfigs are
    /// mounted, and which clusters the agent reaches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub clusters: Vec<ClusterStatus>,
}

/// Endpoints of a running agent.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// MCP Streamable HTTP endpoint.
    pub mcp: String,
    /// A2A JSON-RPC endpoint.
    pub a2a: String,
    /// A2A agent card.
    pub agent_card: String,
    /// Prometheus metrics (in-cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
}

/// Identity of a verified agent server.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protocol_versions: Vec<String>,
    pub tool_count: i32,
}
