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
        Command::Render { file, output, namespace, image_tag } => {
            render_files(&file, output, &namespace, &OperatorDefaults { image_tag })
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
