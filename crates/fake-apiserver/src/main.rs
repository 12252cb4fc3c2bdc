//! `fake-apiserver`: the embedded Kubernetes API server as a process, for kubectl, client-go
//! programs, the demo and benchmarks. Writes a kubeconfig, serves until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use fake_apiserver::fixtures::{self, Scale};
use fake_apiserver::{Config, Listen};

#[derive(Parser)]
#[command(
    name = "fake-apiserver",
    version,
    about = "An embedded Kubernetes API server for tests, benchmarks and the no-cluster demo"
)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0", env = "FAKE_APISERVER_ADDR")]
    addr: SocketAddr,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long, env = "FAKE_APISERVER_HTTP")]
    http: bool,
    /// More names or IP addresses for the serving certificate (repeatable), e.g. the gateway of
    /// a container network whose pods talk to this server.
    #[arg(long = "tls-san", env = "FAKE_APISERVER_TLS_SANS", value_delimiter = ',')]
    tls_sans: Vec<String>,
    /// Where to write the admin kubeconfig.
    #[arg(long, default_value = "target/fake-apiserver/kubeconfig", env = "FAKE_APISERVER_KUBECONFIG")]
    kubeconfig: PathBuf,
    /// CRD directories to load at start (repeatable), e.g. crds/.
    #[arg(long = "crds", env = "FAKE_APISERVER_CRDS", value_delimiter = ',')]
    crds: Vec<PathBuf>,
    /// A fixture directory (crds/, objects/, logs/) to load at start, e.g. examples/fixtures.
    #[arg(long, env = "FAKE_APISERVER_FIXTURES")]
    fixtures: Option<PathBuf>,
    /// Generate a Flux estate: NAMESPACES:KUSTOMIZATIONS:HELMRELEASES per namespace (needs the
    /// Flux CRDs from --fixtures).
    #[arg(long, env = "FAKE_APISERVER_SCALE")]
    scale: Option<String>,
    /// Enforce RBAC for every user but the admin.
    #[arg(long, env = "FAKE_APISERVER_RBAC")]
    rbac: bool,
    /// How long Deployments take to report ready, in milliseconds.
    #[arg(long, default_value_t = 200, env = "FAKE_APISERVER_READY_AFTER_MS")]
    ready_after_ms: u64,
    /// Never report Deployments ready, as a kube-apiserver without kube-controller-manager and
    /// kubelets (e.g. for `E2E_MODE=local`, which must not rely on pods running).
    #[arg(long, env = "FAKE_APISERVER_NO_DEPLOYMENT_CONTROLLER")]
    no_deployment_controller: bool,
    /// Manifests to server-side apply after loading (repeatable); their namespaces are created
    /// when missing.
    #[arg(long = "apply", env = "FAKE_APISERVER_APPLY", value_delimiter = ',')]
    apply: Vec<PathBuf>,
    /// Admin bearer token (random when unset).
    #[arg(long, env = "FAKE_APISERVER_TOKEN")]
    token: Option<String>,
}

fn parse_scale(s: &str) -> Result<Scale, String> {
    let parts: Vec<usize> = s
        .split(':')
        .map(|p| p.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--scale {s:?}: {e}"))?;
    match parts.as_slice() {
        [n, k, h] => Ok(Scale { namespaces: *n, kustomizations_per_namespace: *k, helmreleases_per_namespace: *h }),
        _ => Err(format!("--scale {s:?}: expected NAMESPACES:KUSTOMIZATIONS:HELMRELEASES, e.g. 10:100:10")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-apiserver: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let mut config = Config {
        rbac: cli.rbac,
        deployment_ready_after: Duration::from_millis(cli.ready_after_ms),
        deployment_controller: !cli.no_deployment_controller,
        ..Config::default()
    };
    if let Some(token) = cli.token {
        config.admin_token = token;
    }
    let scale = cli.scale.as_deref().map(parse_scale).transpose()?;
    let running = fake_apiserver::start(config, Listen { addr: cli.addr, tls: !cli.http, extra_sans: cli.tls_sans })
        .await
        .map_err(|e| e.to_string())?;
    for dir in &cli.crds {
        let n = fixtures::load_crds(&running.server, dir).map_err(|e| e.to_string())?;
        eprintln!("loaded {n} CRDs from {}", dir.display());
    }
    if let Some(dir) = &cli.fixtures {
        let loaded = fixtures::load_dir(&running.server, dir).map_err(|e| e.to_string())?;
        eprintln!(
            "loaded {} CRDs, {} objects and {} pod logs from {}",
            loaded.crds,
            loaded.objects,
            loaded.logs,
            dir.display()
        );
    }
    if let Some(scale) = scale {
        let n = fixtures::load_scale(&running.server, scale).map_err(|e| e.message)?;
        eprintln!("generated {n} objects");
    }
    for file in &cli.apply {
        let n = fixtures::apply_file(&running.server, file).map_err(|e| e.to_string())?;
        eprintln!("applied {n} objects from {}", file.display());
    }
    if let Some(parent) = cli.kubeconfig.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    running.write_kubeconfig(&cli.kubeconfig).map_err(|e| e.to_string())?;
    println!("serving {} — kubeconfig: {}", running.url, cli.kubeconfig.display());
    println!("try: kubectl --kubeconfig {} get kustomizations -A", cli.kubeconfig.display());
    tokio::signal::ctrl_c().await.map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
    eprintln!("stopping");
    running.stop();
    Ok(())
}
