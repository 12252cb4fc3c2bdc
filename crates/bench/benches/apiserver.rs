//! `make bench-apiserver`: see [`gitops_agent_bench::apiserver`].

#[tokio::main]
async fn main() -> gitops_agent_bench::Outcome {
    gitops_agent_bench::apiserver::run().await
}
