//! `make bench-server`: see [`gitops_agent_bench::server`].

#[tokio::main]
async fn main() -> gitops_agent_bench::Outcome {
    gitops_agent_bench::server::run().await
}
