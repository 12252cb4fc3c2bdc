//! `make bench-resources`: see [`gitops_agent_bench::resources`].

#[tokio::main]
async fn main() -> gitops_agent_bench::Outcome {
    gitops_agent_bench::resources::run().await
}
