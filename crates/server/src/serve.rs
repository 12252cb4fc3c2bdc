//! `gitops-agent serve`: flags → cluster connection, cache, registry → HTTP or stdio transport.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use clap::{ArgAction, Args, ValueEnum};
use gitops_agent_api::tools::ToolName;
use rmcp::ServiceExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::a2a::push::{PushSettings, Pusher};
use crate::a2a::store::{StoreLimits, TaskStore};
use crate::a2a::{A2a, CardSettings};
use crate::auth::gate::Gate;
use crate::auth::{self, AuthMode, Reviewer};
use crate::cache::Cache;
use crate::cluster::{self, ApiHealth, ClusterError};
use crate::contexts::ContextInfo;
use crate::fleet::{self, Fleet, Link, Member, MemberSettings};
use crate::http::{self, Health, HostPolicy, HttpSettings};
use crate::limits::LimitSettings;
use crate::mcp::{Confirmer, McpHandler, McpShared};
use crate::metrics::Metrics;
use crate::prompts::Prompts;
use crate::registry::{Registry, Selection};
use crate::resources::Resources;
use crate::resources::subscriptions::Subscriptions;
use crate::telemetry::LogFormat;
use crate::tools::{self, Clock, Limits, ToolContext};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// MCP Streamable HTTP at /mcp, plus health and metrics endpoints.
    Http,
    /// MCP over stdin/stdout, for local IDEs (logs go to stderr).
    Stdio,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster).
    #[arg(long, env = "GITOPS_AGENT_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use (default: its current context).
    #[arg(long, env = "GITOPS_AGENT_CONTEXT")]
    pub context: Option<String>,
    /// Answer for every context of the kubeconfig, each a cluster named after its context
    /// (`--context`, or the current one, is the default).
    #[arg(long, env = "GITOPS_AGENT_ALL_CONTEXTS")]
    pub all_contexts: bool,
    /// A directory of kubeconfig files, one per cluster to answer for, named after it (the
    /// operator mounts CAPI `<cluster>-kubeconfig` Secrets there); re-read as files change.
    #[arg(long, env = "GITOPS_AGENT_CLUSTERS_DIR")]
    pub clusters_dir: Option<PathBuf>,
    /// How often --clusters-dir is re-read, in seconds.
    #[arg(long, default_value_t = 10, env = "GITOPS_AGENT_CLUSTERS_SYNC_SECONDS")]
    pub clusters_sync_seconds: u64,
    /// Answer for the cluster the agent runs in (`--local-cluster=false`: only the others; calls
    /// must then name a cluster unless there is just one).
    #[arg(long, action = ArgAction::Set, default_value_t = true, env = "GITOPS_AGENT_LOCAL_CLUSTER")]
    pub local_cluster: bool,
    /// Most objects cached per cluster (0: no bound); a cluster over it answers with an error
    /// instead of growing the agent's memory.
    #[arg(long, default_value_t = 50_000, env = "GITOPS_AGENT_MAX_OBJECTS_PER_CLUSTER")]
    pub max_objects_per_cluster: usize,
    /// Longest one cluster may take in an answer that spans the fleet (fleet_health_summary).
    #[arg(long, default_value_t = 5, env = "GITOPS_AGENT_CLUSTER_TIMEOUT_SECONDS")]
    pub cluster_timeout_seconds: u64,
    #[arg(long, value_enum, default_value_t = Transport::Http, env = "GITOPS_AGENT_TRANSPORT")]
    pub transport: Transport,
    /// Address to listen on (HTTP transport).
    #[arg(long, default_value = "0.0.0.0", env = "GITOPS_AGENT_BIND_ADDRESS")]
    pub bind_address: String,
    /// Port of /mcp and the health endpoints.
    #[arg(long, default_value_t = 8080, env = "GITOPS_AGENT_PORT")]
    pub port: u16,
    /// Port of /metrics; 0 turns metrics off; the same as --port serves them there.
    #[arg(long, default_value_t = 9090, env = "GITOPS_AGENT_METRICS_PORT")]
    pub metrics_port: u16,
    #[arg(long, default_value = "/metrics", env = "GITOPS_AGENT_METRICS_PATH")]
    pub metrics_path: String,
    /// Public URL of this agent (what clients behind a Gateway use); its host is allowed.
    #[arg(long, env = "GITOPS_AGENT_BASE_URL")]
    pub base_url: Option<String>,
    /// Offer only read-only tools (`--read-only=false` enables reconcile/suspend/resume).
    #[arg(long, action = ArgAction::Set, default_value_t = true, env = "GITOPS_AGENT_READ_ONLY")]
    pub read_only: bool,
    /// debug, info, warn or error.
    #[arg(long, default_value = "info", env = "GITOPS_AGENT_LOG_LEVEL")]
    pub log_level: String,
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "GITOPS_AGENT_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// OTLP/gRPC collector to export spans to (one per request and per tool call).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// Namespaces to answer for, comma-separated (default: all).
    #[arg(long, value_delimiter = ',', env = "GITOPS_AGENT_WATCH_NAMESPACES")]
    pub watch_namespaces: Vec<String>,
    /// Tools to offer, comma-separated (default: all; mutating ones only without --read-only).
    #[arg(long, value_delimiter = ',', value_parser = parse_tool, env = "GITOPS_AGENT_TOOLS")]
    pub tools: Vec<ToolName>,
    /// Extra Host names /mcp accepts (loopback, IPs, single-label and in-cluster names always are).
    #[arg(long, value_delimiter = ',', env = "GITOPS_AGENT_ALLOWED_HOSTS")]
    pub allowed_hosts: Vec<String>,
    /// Browser origins /mcp accepts besides those on allowed hosts (`*` for any).
    #[arg(long, value_delimiter = ',', env = "GITOPS_AGENT_ALLOWED_ORIGINS")]
    pub allowed_origins: Vec<String>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 1024 * 1024, env = "GITOPS_AGENT_MAX_BODY_BYTES")]
    pub max_body_bytes: usize,
    /// Once the cluster API has answered nothing for this long, tools answer "unavailable" instead
    /// of from a cache that may be stale, and /readyz turns 503, until it answers again.
    #[arg(long, default_value_t = 10, env = "GITOPS_AGENT_STALE_SECONDS")]
    pub stale_seconds: u64,
    /// How often to look for Flux/CAPI/policy CRDs that appeared or went away.
    #[arg(long, default_value_t = 30, env = "GITOPS_AGENT_DISCOVERY_SECONDS")]
    pub discovery_seconds: u64,
    /// How long in-flight requests may run after SIGTERM.
    #[arg(long, default_value_t = 20, env = "GITOPS_AGENT_SHUTDOWN_SECONDS")]
    pub shutdown_seconds: u64,
    /// Longest a tool call may run, API requests included; then it answers with an error.
    #[arg(long, default_value_t = 30, env = "GITOPS_AGENT_TOOL_TIMEOUT_SECONDS")]
    pub tool_timeout_seconds: u64,
    /// Requests in flight at once over all clients (0: no limit); more get 429.
    #[arg(long, default_value_t = 256, env = "GITOPS_AGENT_MAX_IN_FLIGHT")]
    pub max_in_flight: usize,
    /// Requests in flight at once per client (0: no limit); more get 429.
    #[arg(long, default_value_t = 32, env = "GITOPS_AGENT_MAX_IN_FLIGHT_PER_CLIENT")]
    pub max_in_flight_per_client: u32,
    /// Sustained requests per second per client, bursts of twice that (0: no limit); more get 429.
    #[arg(long, default_value_t = 50.0, env = "GITOPS_AGENT_RATE_LIMIT_PER_CLIENT")]
    pub rate_limit_per_client: f64,
    /// Header naming the client's address, set by a trusted Gateway (e.g. X-Forwarded-For);
    /// default: the peer address.
    #[arg(long, env = "GITOPS_AGENT_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// MCP sessions (2025 clients) open at once; more `initialize` calls get 429.
    #[arg(long, default_value_t = 1000, env = "GITOPS_AGENT_MAX_SESSIONS")]
    pub max_sessions: usize,
    /// An MCP session or A2A stream with no traffic for this long is closed.
    #[arg(long, default_value_t = 300, env = "GITOPS_AGENT_IDLE_SECONDS")]
    pub idle_seconds: u64,
    /// Where A2A tasks are kept: `memory` (this replica only) or `redis://host:6379[/db]`, shared
    /// by every replica so any of them answers GetTask.
    #[arg(long, default_value = "memory", env = "GITOPS_AGENT_TASK_STORE")]
    pub task_store: String,
    /// Most A2A tasks kept; the least recently updated are dropped first.
    #[arg(long, default_value_t = 1000, env = "GITOPS_AGENT_TASK_MAX")]
    pub task_max: usize,
    /// How long a finished A2A task can be read back, in seconds.
    #[arg(long, default_value_t = 3600, env = "GITOPS_AGENT_TASK_TTL_SECONDS")]
    pub task_ttl_seconds: u64,
    /// With a shared task store: a running task whose replica has not renewed its claim for this
    /// many seconds (the replica was killed or lost Redis) is marked failed, with the reason, by
    /// whichever replica reads it next.
    #[arg(long, default_value_t = 15, env = "GITOPS_AGENT_TASK_RUNNER_LEASE_SECONDS")]
    pub task_runner_lease_seconds: u64,
    /// A2A push notifications: clients register webhooks that get each task's updates. Only
    /// https to public addresses unless --a2a-push-allow-hosts names the host.
    #[arg(long, action = ArgAction::Set, default_value_t = true, env = "GITOPS_AGENT_A2A_PUSH")]
    pub a2a_push: bool,
    /// Webhook hosts (exactly as in the URL: a name or an IP) allowed over plain http and at any
    /// address, private ones included: e.g. an orchestrator inside the cluster.
    #[arg(long, value_delimiter = ',', env = "GITOPS_AGENT_A2A_PUSH_ALLOW_HOSTS")]
    pub a2a_push_allow_hosts: Vec<String>,
    /// CA certificates (PEM) trusted for webhooks, next to the system's.
    #[arg(long, env = "GITOPS_AGENT_A2A_PUSH_CA_FILE")]
    pub a2a_push_ca_file: Option<String>,
    /// The ECDSA P-256 key (PKCS#8 PEM) push notifications are signed with; give every replica
    /// the same one so one JWKS verifies them all. Default: a key made at start.
    #[arg(long, env = "GITOPS_AGENT_A2A_PUSH_SIGNING_KEY")]
    pub a2a_push_signing_key: Option<String>,
    /// Tries per push notification (the first included) before it is given up.
    #[arg(long, default_value_t = 5, env = "GITOPS_AGENT_A2A_PUSH_ATTEMPTS")]
    pub a2a_push_attempts: u32,
    /// The wait before the first retry of a push notification, in milliseconds; it doubles after
    /// each try, up to 30 s.
    #[arg(long, default_value_t = 1000, env = "GITOPS_AGENT_A2A_PUSH_RETRY_MS")]
    pub a2a_push_retry_ms: u64,
    /// How long one try of a push notification may take (connect, send, status), in seconds.
    #[arg(long, default_value_t = 10, env = "GITOPS_AGENT_A2A_PUSH_TIMEOUT_SECONDS")]
    pub a2a_push_timeout_seconds: u64,
    /// How callers authenticate: `kubernetes` (bearer token checked by TokenReview, each call run
    /// with the caller's RBAC) or `none`. Default: `none` on a loopback --bind-address, else
    /// `kubernetes`.
    #[arg(long, value_enum, env = "GITOPS_AGENT_AUTH")]
    pub auth: Option<AuthMode>,
    /// Allow `--auth=none` on an address others can reach (anyone who reaches the port gets the
    /// agent's permissions).
    #[arg(long, env = "GITOPS_AGENT_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
    /// Issuer URL(s) clients get tokens from (the cluster's OIDC issuer), listed as
    /// `authorization_servers` in /.well-known/oauth-protected-resource.
    #[arg(long, value_delimiter = ',', env = "GITOPS_AGENT_AUTH_ISSUERS")]
    pub auth_issuers: Vec<String>,
    /// Audiences a caller's token must carry (TokenReview `spec.audiences`); default: the API
    /// server's own.
    #[arg(long, value_delimiter = ',', env = "GITOPS_AGENT_AUTH_AUDIENCES")]
    pub auth_audiences: Vec<String>,
    /// How long a TokenReview or SubjectAccessReview answer is reused, in seconds.
    #[arg(long, default_value_t = 30, env = "GITOPS_AGENT_AUTH_CACHE_SECONDS")]
    pub auth_cache_seconds: u64,
    /// MCP resource subscriptions: the changes of a subscribed object within this window (from
    /// its first) are one `notifications/resources/updated`, in milliseconds.
    #[arg(long, default_value_t = 200, env = "GITOPS_AGENT_RESOURCE_DEBOUNCE_MS")]
    pub resource_debounce_ms: u64,
    /// How long reconcile, suspend and resume wait for the user to confirm through elicitation
    /// (2025 MCP sessions whose client can be asked); unanswered, nothing is changed.
    #[arg(long, default_value_t = 300, env = "GITOPS_AGENT_CONFIRM_TIMEOUT_SECONDS")]
    pub confirm_timeout_seconds: u64,
    /// Secret (at least 32 bytes) that seals the state of a confirmation asked of a 2026-07-28
    /// MCP client; give every replica the same one so any replica accepts the answer. Default: a
    /// random key per process.
    #[arg(long, env = "GITOPS_AGENT_REQUEST_STATE_KEY", hide_env_values = true)]
    pub request_state_key: Option<String>,
    /// Measure ages from this instant instead of now (reproducible answers in tests and demos).
    #[arg(long, hide = true, env = "GITOPS_AGENT_FIXED_NOW")]
    pub fixed_now: Option<jiff::Timestamp>,
}

fn parse_tool(s: &str) -> Result<ToolName, String> {
    ToolName::ALL.iter().copied().find(|t| t.as_str() == s).ok_or_else(|| {
        let names: Vec<&str> = ToolName::ALL.iter().map(|t| t.as_str()).collect();
        format!("unknown tool {s:?}; tools are: {}", names.join(", "))
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("invalid --watch-namespaces entry {0:?}: {1}")]
    Namespace(String, String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("MCP over stdio failed: {0}")]
    Stdio(String),
    #[error("--task-store: {0}")]
    TaskStore(String),
    #[error("A2A push notifications: {0}")]
    Push(#[from] crate::a2a::push::PushError),
    #[error(transparent)]
    Confirm(#[from] crate::mcp::ConfirmError),
    #[error(
        "refusing to serve without authentication on {0}: anyone who reaches it would act with the agent's permissions. Use --auth=kubernetes, bind to 127.0.0.1, or pass --allow-unauthenticated"
    )]
    Unauthenticated(String),
}

impl ServeArgs {
    /// The auth mode in force: stdio has no callers to authenticate.
    pub fn auth_mode(&self) -> AuthMode {
        match self.transport {
            Transport::Stdio => AuthMode::None,
            Transport::Http => self.auth.unwrap_or_else(|| AuthMode::default_for(&self.bind_address)),
        }
    }
}

/// Everything a transport needs, built once.
pub struct Agent {
    pub registry: Arc<Registry>,
    /// The default cluster's context (calls are routed from it to the cluster they name).
    pub ctx: Arc<ToolContext>,
    pub fleet: Arc<Fleet>,
    pub metrics: Arc<Metrics>,
    pub resources: Arc<Resources>,
    pub prompts: Arc<Prompts>,
    confirmer: Arc<Confirmer>,
    dir_sync: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(task) = &self.dir_sync {
            task.abort();
        }
    }
}

impl Agent {
    pub async fn new(args: &ServeArgs) -> Result<Agent, ServeError> {
        for ns in &args.watch_namespaces {
            crate::validate::namespace("watch-namespaces", ns)
                .map_err(|e| ServeError::Namespace(ns.clone(), e.to_string()))?;
        }
        let metrics = Arc::new(Metrics::default());
        let (subscriptions, changes) =
            Subscriptions::start(Duration::from_millis(args.resource_debounce_ms), metrics.clone());
        let cluster = cluster::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        let contexts = Arc::new(cluster.contexts.clone());
        let local_info = contexts.current_info().cloned().unwrap_or_else(|| ContextInfo::named("in-cluster"));
        // With every context a member, each is known by its context's name.
        let local_name = if args.all_contexts { local_info.name.clone() } else { fleet::LOCAL.to_string() };
        let health = Arc::new(ApiHealth::default());
        let own = cluster.client(&local_name, &metrics, &health)?;
        let auth_ttl = Duration::from_secs(args.auth_cache_seconds.max(1));
        let checks = args.auth_mode() == AuthMode::Kubernetes;
        let access = checks.then(|| Arc::new(Reviewer::new(own.clone(), args.auth_audiences.clone(), auth_ttl)));
        let settings = MemberSettings {
            metrics: metrics.clone(),
            watch_namespaces: args.watch_namespaces.clone(),
            stale_after: Duration::from_secs(args.stale_seconds.max(1)),
            discovery_every: Duration::from_secs(args.discovery_seconds.max(1)),
            max_objects: args.max_objects_per_cluster,
            auth: checks.then(|| (args.auth_audiences.clone(), auth_ttl)),
            timeout: Duration::from_secs(args.cluster_timeout_seconds.max(1)),
            changes: changes.clone(),
        };
        let cache = Arc::new(
            Cache::new(own.clone(), args.watch_namespaces.clone(), health, settings.stale_after)
                .with_budget(args.max_objects_per_cluster)
                .with_changes(&local_name, changes),
        );
        let mut members = Vec::new();
        if args.local_cluster {
            if let Err(e) = cache.refresh().await {
                tracing::warn!(error = %e, "first discovery failed; retrying in the background (readyz stays 503 until it works)");
            }
            let refresh = cache.spawn_refresh(settings.discovery_every);
            let link = Link::new(own.clone(), cache.clone(), access.clone(), refresh);
            members.push(Member::local(&local_name, local_info, contexts.source.clone(), link));
        }
        if args.all_contexts
            && let Some(kc) = &cluster.kubeconfig
        {
            for info in contexts.contexts.iter().filter(|c| c.name != local_name) {
                let config = cluster::context_config(kc, &info.name).await;
                members.push(Member::connect(&info.name, info.clone(), contexts.source.clone(), config, &settings));
            }
        }
        let default = args.local_cluster.then(|| local_name.clone());
        let fleet = Arc::new(Fleet::new(members, default, contexts.clone(), settings, args.clusters_dir.clone()));
        fleet.sync_dir().await;
        let dir_sync = fleet.spawn_dir_sync(Duration::from_secs(args.clusters_sync_seconds.max(1)));
        let selection = Selection { read_only: args.read_only, enabled: args.tools.clone(), disabled: vec![] };
        let registry = Arc::new(
            Registry::new(tools::all(), selection, metrics.clone())
                .with_timeout(Duration::from_secs(args.tool_timeout_seconds.max(1))),
        );
        let ctx = Arc::new(ToolContext {
            cluster: local_name,
            fleet: fleet.clone(),
            cache,
            agent_client: own,
            contexts,
            clock: args.fixed_now.map_or(Clock::System, Clock::Fixed),
            limits: Limits::default(),
            access,
        });
        let resources = Arc::new(Resources::new(registry.clone(), ctx.clone(), subscriptions));
        let prompts = Arc::new(Prompts::new(registry.clone(), resources.clone(), ctx.clone()));
        let confirmer = Arc::new(Confirmer::new(
            args.request_state_key.as_deref().map(str::as_bytes),
            Duration::from_secs(args.confirm_timeout_seconds.max(1)),
        )?);
        Ok(Agent { registry, ctx, fleet, metrics, resources, prompts, confirmer, dir_sync })
    }

    /// Waits, at most `limit`, until the default cluster's caches have listed their objects.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.fleet.is_ready() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// The MCP handler; `shutdown` ends its open subscription streams.
    pub fn mcp_handler(&self, shutdown: CancellationToken) -> McpHandler {
        McpHandler::new(McpShared {
            registry: self.registry.clone(),
            ctx: self.ctx.clone(),
            resources: self.resources.clone(),
            prompts: self.prompts.clone(),
            confirmer: self.confirmer.clone(),
            metrics: self.metrics.clone(),
            shutdown,
        })
    }
}

/// A running HTTP server (tests and benchmarks start one in-process).
pub struct Running {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub agent: Arc<Agent>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight calls finish, closes sessions.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        self.shutdown.cancel();
        self.task.await.unwrap_or(Ok(()))
    }
}

async fn bind(addr: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr: addr.to_string(), source })
}

/// Answers leave at once: without TCP_NODELAY a small response written in two pieces waits for
/// the client's delayed ACK (about 40 ms per call).
fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
}

async fn task_store(args: &ServeArgs) -> Result<TaskStore, ServeError> {
    let limits = StoreLimits {
        max_tasks: args.task_max.max(1),
        ttl: Duration::from_secs(args.task_ttl_seconds.max(1)),
        runner_lease: Duration::from_secs(args.task_runner_lease_seconds.max(1)),
    };
    match args.task_store.as_str() {
        "memory" => Ok(TaskStore::memory(limits)),
        url if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://") => {
            TaskStore::redis(url, limits).await.map_err(|e| ServeError::TaskStore(e.to_string()))
        }
        other => Err(ServeError::TaskStore(format!("expected `memory` or a redis:// URL, got {other:?}"))),
    }
}

fn pusher(args: &ServeArgs, store: &Arc<TaskStore>, metrics: &Arc<Metrics>) -> Result<Option<Arc<Pusher>>, ServeError> {
    if !args.a2a_push {
        return Ok(None);
    }
    if store.kind() != "memory" && args.a2a_push_signing_key.is_none() {
        tracing::warn!(
            "replicas share the task store but each signs push notifications with its own key: give them one --a2a-push-signing-key so receivers can verify every replica's notifications with one JWKS"
        );
    }
    let settings = PushSettings {
        allow_hosts: args.a2a_push_allow_hosts.clone(),
        ca_file: args.a2a_push_ca_file.clone(),
        signing_key: args.a2a_push_signing_key.clone(),
        attempts: args.a2a_push_attempts,
        retry_base: Duration::from_millis(args.a2a_push_retry_ms),
        timeout: Duration::from_secs(args.a2a_push_timeout_seconds.max(1)),
    };
    Ok(Some(Arc::new(Pusher::new(settings, store.clone(), metrics.clone())?)))
}

/// Starts the HTTP transport; returns once it listens.
pub async fn start_http(args: &ServeArgs, shutdown: CancellationToken) -> Result<Running, ServeError> {
    let mode = args.auth_mode();
    if mode == AuthMode::None && !auth::is_loopback(&args.bind_address) && !args.allow_unauthenticated {
        return Err(ServeError::Unauthenticated(format!("{}:{}", args.bind_address, args.port)));
    }
    let agent = Arc::new(Agent::new(args).await?);
    let health = Health { fleet: agent.fleet.clone(), metrics: agent.metrics.clone() };
    let mut allowed_hosts = args.allowed_hosts.clone();
    if let Some(host) = args
        .base_url
        .as_deref()
        .and_then(|u| u.split_once("://"))
        .map(|(_, rest)| rest.split(['/', ':']).next().unwrap_or_default())
    {
        allowed_hosts.push(host.to_string());
    }
    let same_port = args.metrics_port != 0 && args.metrics_port == args.port;
    let settings = HttpSettings {
        policy: HostPolicy { allowed_hosts, allowed_origins: args.allowed_origins.clone() },
        max_body_bytes: args.max_body_bytes,
        metrics_path: same_port.then(|| args.metrics_path.clone()),
        limits: LimitSettings {
            max_in_flight: args.max_in_flight,
            max_in_flight_per_client: args.max_in_flight_per_client,
            rate_per_client: args.rate_limit_per_client.max(0.0),
            client_ip_header: args.client_ip_header.clone(),
        },
        max_sessions: args.max_sessions,
        idle: Duration::from_secs(args.idle_seconds.max(1)),
        gate: Arc::new(Gate {
            reviewer: agent.ctx.access.clone(),
            base_url: args.base_url.clone(),
            issuers: args.auth_issuers.clone(),
        }),
    };
    let listener = bind(&format!("{}:{}", args.bind_address, args.port)).await?;
    let addr = listener.local_addr().map_err(ServeError::Http)?;
    let store = Arc::new(task_store(args).await?);
    let pusher = pusher(args, &store, &agent.metrics)?;
    let a2a = Arc::new(A2a::new(
        agent.registry.clone(),
        agent.ctx.clone(),
        store,
        pusher,
        CardSettings { base_url: args.base_url.clone(), bearer: mode == AuthMode::Kubernetes },
        Duration::from_secs(args.idle_seconds.max(1)),
    ));
    // Cancelling this ends MCP sessions and cancels their handlers: done only once calls in flight
    // are over (or the grace period is), so SIGTERM lets them finish.
    let sessions_stop = CancellationToken::new();
    let app =
        http::router(agent.mcp_handler(shutdown.clone()), a2a.clone(), health.clone(), settings, sessions_stop.clone());
    let metrics_listener = if args.metrics_port != 0 && !same_port {
        Some(bind(&format!("{}:{}", args.bind_address, args.metrics_port)).await?)
    } else {
        None
    };
    let metrics_addr = match &metrics_listener {
        Some(l) => Some(l.local_addr().map_err(ServeError::Http)?),
        None if same_port => Some(addr),
        None => None,
    };
    tracing::info!(%addr, ?metrics_addr, read_only = args.read_only, tools = agent.registry.offered().count(), auth = mode.as_str(), task_store = a2a.store_kind(), "serving MCP at /mcp and A2A at /");
    let grace = Duration::from_secs(args.shutdown_seconds);
    let metrics_path = args.metrics_path.clone();
    let stop = shutdown.clone();
    let registry = agent.registry.clone();
    let task = tokio::spawn(async move {
        let metrics_server = metrics_listener.map(|l| {
            let stop = stop.clone();
            tokio::spawn(
                axum::serve(l.tap_io(no_delay), http::metrics_router(&metrics_path, health).into_make_service())
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .into_future(),
            )
        });
        let stopped = stop.clone();
        let server = axum::serve(listener.tap_io(no_delay), app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move { stopped.cancelled().await });
        let server = tokio::spawn(server.into_future());
        stop.cancelled().await;
        tracing::info!(
            grace_seconds = grace.as_secs(),
            running = registry.running(),
            "shutting down: finishing in-flight requests"
        );
        let deadline = tokio::time::Instant::now() + grace;
        tokio::spawn(async move {
            while registry.running() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            sessions_stop.cancel();
        });
        let result = match tokio::time::timeout(grace, server).await {
            Ok(Ok(r)) => r.map_err(ServeError::Http),
            Ok(Err(_)) => Ok(()),
            Err(_) => {
                tracing::warn!("in-flight requests did not finish within the grace period");
                Ok(())
            }
        };
        if let Some(m) = metrics_server {
            m.abort();
        }
        result
    });
    Ok(Running { addr, metrics_addr, agent, shutdown, task })
}

/// Longest a stdio agent waits for its caches before it answers anyway (as long as a read waits
/// for a kind still loading).
const STDIO_READY_WAIT: Duration = Duration::from_secs(10);

/// Runs until SIGTERM/SIGINT (HTTP) or until the client closes stdin (stdio).
pub async fn run(args: ServeArgs) -> Result<(), ServeError> {
    match args.transport {
        Transport::Http => {
            let shutdown = CancellationToken::new();
            let running = start_http(&args, shutdown.clone()).await?;
            wait_for_signal().await;
            running.shutdown().await
        }
        Transport::Stdio => {
            let agent = Agent::new(&args).await?;
            // A stdio client speaks as soon as the process starts: no readiness probe holds it
            // back, as one holds a pod's HTTP traffic. Answering once the caches have listed makes
            // what they listed the baseline a subscription compares with, so a change the client
            // makes after subscribing is notified rather than read as the initial state.
            if !agent.wait_ready(STDIO_READY_WAIT).await {
                tracing::warn!(
                    seconds = STDIO_READY_WAIT.as_secs(),
                    "the caches did not finish listing; serving stdio all the same"
                );
            }
            let service = agent
                .mcp_handler(CancellationToken::new())
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|e| ServeError::Stdio(e.to_string()))?;
            service.waiting().await.map_err(|e| ServeError::Stdio(e.to_string()))?;
            Ok(())
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
