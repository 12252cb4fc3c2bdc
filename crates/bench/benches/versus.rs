//! `make bench-versus`: see [`gitops_agent_bench::versus`].

#[tokio::main]
async fn main() -> gitops_agent_bench::Outcome {
    gitops_agent_bench::versus::run().await
}
