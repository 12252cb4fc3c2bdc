//! `make soak`: see [`gitops_agent_bench::soak`]. SOAK=agent or SOAK=operator runs one of the two
//! (default: both, the agent first).

#[tokio::main]
async fn main() -> gitops_agent_bench::Outcome {
    let which = std::env::var("SOAK").unwrap_or_default();
    let mut failed = Vec::new();
    if (which.is_empty() || which == "agent")
        && let Err(e) = gitops_agent_bench::soak::agent::run().await
    {
        eprintln!("{e}");
        failed.push(e.to_string());
    }
    if (which.is_empty() || which == "operator")
        && let Err(e) = gitops_agent_bench::soak::operator::run().await
    {
        eprintln!("{e}");
        failed.push(e.to_string());
    }
    if failed.is_empty() { Ok(()) } else { Err(failed.join("\n").into()) }
}
