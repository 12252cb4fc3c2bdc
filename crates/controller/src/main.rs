//! `gitops-agent-operator`: the operator binary. Subcommands: `render` (print the children of a
//! GitOpsAgent manifest, no cluster needed) and `crd` (print the CustomResourceDefinition).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use gitops_agent_controller::render::{self, OperatorDefaults};

#[derive(Parser)]
#[command(
    name = "gitops-agent-operator",
    version,
    about = "Reconciles GitOpsAgent resources into hardened MCP/A2A agent deployments"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator: reconcile GitOpsAgents into their children until SIGTERM.
    Run(RunArgs),
    /// Print the Kubernetes objects the operator would create for GitOpsAgent manifests.
    Render {
        /// File holding one or more GitOpsAgent manifests (YAML or JSON); `-` reads standard input.
        #[arg(short = 'f', long = "filename", env = "GITOPS_AGENT_RENDER_FILE")]
        file: PathBuf,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = Format::Yaml, env = "GITOPS_AGENT_OUTPUT")]
        output: Format,
        /// Namespace for manifests that name none.
        #[arg(short = 'n', long, default_value = "default", env = "GITOPS_AGENT_NAMESPACE")]
        namespace: String,
        /// Image tag for agents whose spec leaves image.tag empty (the operator's own version by default).
        #[arg(long, default_value = env!("CARGO_PKG_VERSION"), env = "GITOPS_AGENT_IMAGE_TAG")]
        image_tag: String,
    },
    /// Print the GitOpsAgent CustomResourceDefinition.
    Crd {
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = Format::Yaml, env = "GITOPS_AGENT_OUTPUT")]
        output: Format,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Namespaces to manage (comma-separated); empty manages the whole cluster.
    #[arg(long, env = "WATCH_NAMESPACES", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, default_value = "0.0.0.0:8080", env = "GITOPS_AGENT_HTTP_ADDR")]
    http_addr: std::net::SocketAddr,
    /// Elect a leader through a Lease so that only one replica reconciles.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, env = "GITOPS_AGENT_LEADER_ELECTION")]
    leader_election: bool,
    /// Namespace of the leader Lease (default: the pod's namespace, else "default").
    #[arg(long, env = "POD_NAMESPACE")]
    lease_namespace: Option<String>,
    /// Name of the leader Lease.
    #[arg(long, default_value = "gitops-agent-operator", env = "GITOPS_AGENT_LEASE_NAME")]
    lease_name: String,
    /// Seconds a leader lease holds without renewal.
    #[arg(long, default_value_t = 15, env = "GITOPS_AGENT_LEASE_SECONDS")]
    lease_seconds: u64,
    /// Identity in the Lease (default: the pod name, else host name and process id).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Verify agents with an MCP handshake and an agent-card fetch: auto (on in a cluster), true, false.
    #[arg(long, default_value = "auto", env = "GITOPS_AGENT_VERIFY")]
    verify: String,
    /// Handshake with this URL instead of each agent's Service (the demo and tests, where no pods run).
    #[arg(long, env = "GITOPS_AGENT_VERIFY_ENDPOINT_OVERRIDE")]
    verify_endpoint_override: Option<String>,
    /// Image tag for agents whose spec leaves image.tag empty.
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"), env = "GITOPS_AGENT_IMAGE_TAG")]
    image_tag: String,
    /// Seconds between checks for optional APIs (Gateway API, cert-manager, Prometheus Operator).
    #[arg(long, default_value_t = 60, env = "GITOPS_AGENT_DISCOVERY_SECONDS")]
    discovery_seconds: u64,
    /// Seconds between looks at a ready agent.
    #[arg(long, default_value_t = 300, env = "GITOPS_AGENT_RESYNC_SECONDS")]
    resync_seconds: u64,
    /// Reconciles running at once (0: no limit). Bounds API connections and memory.
    #[arg(long, default_value_t = 32, env = "GITOPS_AGENT_CONCURRENCY")]
    concurrency: u16,
    /// Log format: json (clusters) or text.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Json, env = "GITOPS_AGENT_LOG_FORMAT")]
    log_format: LogFormatArg,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info", env = "GITOPS_AGENT_LOG_LEVEL")]
    log_level: String,
}

type LogFormatArg = gitops_agent_controller::telemetry::LogFormat;

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Manifest { path: String, source: Box<render::ManifestError> },
    #[error("cannot serialize the CRD: {0}")]
    Output(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => return run_operator(args),
        Command::Render { file, output, namespace, image_tag } => {
            render_files(&file, output, &namespace, &OperatorDefaults { image_tag, operator_namespace: None })
        }
        Command::Crd { output } => print_crd(output),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_operator(args: RunArgs) -> ExitCode {
    use gitops_agent_controller::{leader::LeaseConfig, operator, reconcile::Verification, telemetry};
    telemetry::init(args.log_format, &args.log_level);
    gitops_agent_memory::one_arena();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let verification = match (args.verify.as_str(), args.verify_endpoint_override) {
        ("false", _) => Verification::Off,
        (_, Some(url)) => Verification::Override(url),
        ("true", None) => Verification::Service,
        ("auto", None) if in_cluster => Verification::Service,
        ("auto", None) => Verification::Off,
        (other, None) => {
            eprintln!("error: --verify must be auto, true or false, not {other:?}");
            return ExitCode::from(2);
        }
    };
    let identity = args.identity.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "operator".into());
        format!("{host}-{}", std::process::id())
    });
    // Only a namespace the pod runs in (POD_NAMESPACE) is admitted into agents' NetworkPolicies.
    let operator_namespace = args.lease_namespace.clone();
    let settings = operator::Settings {
        namespaces: args.namespaces.into_iter().filter(|n| !n.is_empty()).collect(),
        http_addr: args.http_addr,
        lease: args.leader_election.then(|| LeaseConfig {
            namespace: args.lease_namespace.unwrap_or_else(|| "default".into()),
            name: args.lease_name,
            identity,
            duration: std::time::Duration::from_secs(args.lease_seconds.max(2)),
            renew_every: std::time::Duration::from_secs((args.lease_seconds / 3).max(1)),
        }),
        verification,
        defaults: OperatorDefaults { image_tag: args.image_tag, operator_namespace },
        discovery_interval: std::time::Duration::from_secs(args.discovery_seconds.max(1)),
        resync: std::time::Duration::from_secs(args.resync_seconds.max(1)),
        concurrency: args.concurrency,
        term_config: None,
    };
    let result = runtime.block_on(async move {
        let config = kube::Config::infer().await.map_err(|e| format!("connecting to the cluster: {e}"))?;
        let client = kube::Client::try_from(config.clone()).map_err(|e| format!("connecting to the cluster: {e}"))?;
        let settings = operator::Settings { term_config: Some(config), ..settings };
        operator::run(client, settings, shutdown_signal()).await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "operator stopped");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
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
    let _ = ctrl_c.await;
}

fn render_files(
    file: &PathBuf,
    output: Format,
    namespace: &str,
    defaults: &OperatorDefaults,
) -> Result<String, CliError> {
    let path = file.display().to_string();
    let text = if path == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map(|_| s)
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|source| CliError::Read { path: path.clone(), source })?;
    let manifest = |source| CliError::Manifest { path: path.clone(), source: Box::new(source) };
    let children = render::render_manifests(&text, namespace, defaults).map_err(manifest)?;
    match output {
        Format::Yaml => render::to_yaml(&children),
        Format::Json => render::to_json(&children),
    }
    .map_err(manifest)
}

fn print_crd(output: Format) -> Result<String, CliError> {
    let crd = gitops_agent_api::crd::crd();
    match output {
        Format::Yaml => serde_saphyr::to_string(&crd).map_err(|e| CliError::Output(e.to_string())),
        Format::Json => {
            serde_json::to_string_pretty(&crd).map(|s| s + "\n").map_err(|e| CliError::Output(e.to_string()))
        }
    }
}
