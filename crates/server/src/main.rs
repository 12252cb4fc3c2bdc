//! `gitops-agent`: the agent server that answers MCP and A2A calls about a cluster's Flux state.
//!
//! Only its identity exists so far; the `serve` command arrives with the agent server work (see
//! the README's status section). Until then the binary says so instead of pretending to serve.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "gitops-agent",
    version,
    about = "MCP and A2A agent server for a cluster's Flux CD GitOps state",
    long_about = "MCP and A2A agent server for a cluster's Flux CD GitOps state.\n\nNot yet available in this build: the `serve` command is still being written. Use `gitops-agent-operator render` to see what the operator will deploy."
)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    eprintln!("gitops-agent: this build does not include the agent server yet (run with --help for details)");
    ExitCode::from(2)
}
