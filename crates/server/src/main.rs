//! `gitops-agent`: the agent server that answers MCP calls about a cluster's Flux CD state.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gitops_agent_server::serve::{self, ServeArgs};
use gitops_agent_server::telemetry;

#[derive(Parser)]
#[command(name = "gitops-agent", version, about = "MCP agent server for a cluster's Flux CD GitOps state")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CatalogueFormat {
    Json,
    Markdown,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP over Streamable HTTP (/mcp) or stdio.
    Serve(Box<ServeArgs>),
    /// Print the tool catalogue: JSON (names, titles, hints, input schemas) or the README's table.
    Tools {
        #[arg(long, value_enum, default_value_t = CatalogueFormat::Json)]
        format: CatalogueFormat,
    },
}

/// Writes to stdout; a reader that stops early (`| head`) is not an error.
fn emit(text: &str) -> ExitCode {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitops-agent: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Tools { format: CatalogueFormat::Markdown } => emit(&gitops_agent_server::tools::catalogue_markdown()),
        Command::Tools { format: CatalogueFormat::Json } => {
            let list: Vec<serde_json::Value> = gitops_agent_server::tools::all()
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "name": t.name.as_str(),
                        "title": t.title,
                        "description": t.description,
                        "readOnly": t.hints.read_only,
                        "inputSchema": t.input_schema.as_ref(),
                        "outputSchema": t.output_schema.as_ref(),
                    })
                })
                .collect();
            emit(&(serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"))
        }
        Command::Serve(args) => {
            gitops_agent_memory::one_arena();
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("gitops-agent: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async move {
                let telemetry =
                    match telemetry::init_with(args.log_format, &args.log_level, args.otlp_endpoint.as_deref()) {
                        Ok(t) => t,
                        Err(e) => {
                            eprintln!("gitops-agent: {e}");
                            return ExitCode::FAILURE;
                        }
                    };
                let outcome = serve::run(*args).await;
                telemetry.shutdown();
                match outcome {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        tracing::error!(error = %e, "gitops-agent stopped");
                        eprintln!("gitops-agent: {e}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
    }
}
