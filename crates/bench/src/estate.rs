//! The embedded API server the benchmarks' servers read: the Flux CRDs and a generated estate.

use fake_apiserver::fixtures::{self, Scale};
use fake_apiserver::{Config, Listen, Running};

use crate::paths;

/// Starts an embedded API server (in this process, over HTTPS) holding the fixtures' CRDs and a
/// generated Flux estate of `scale`; gives it with the number of objects generated.
pub async fn start(scale: Scale) -> Result<(Running, usize), Box<dyn std::error::Error>> {
    let api = fake_apiserver::start(Config::default(), Listen::default()).await?;
    fixtures::load_crds(&api.server, &paths::repo_root().join("examples/fixtures/crds"))?;
    let objects = fixtures::load_scale(&api.server, scale).map_err(|e| format!("generating the estate: {e:?}"))?;
    Ok((api, objects))
}
