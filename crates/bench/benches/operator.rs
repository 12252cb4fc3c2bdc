//! `make bench-operator`: see [`gitops_agent_bench::operator`].

#[tokio::main]
async fn main() -> gitops_agent_bench::Outcome {
    gitops_agent_bench::operator::run().await
}
