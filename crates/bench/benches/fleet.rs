//! `make bench-fleet`: see [`gitops_agent_bench::fleet`].

#[tokio::main]
async fn main() -> gitops_agent_bench::Outcome {
    gitops_agent_bench::fleet::run().await
}
