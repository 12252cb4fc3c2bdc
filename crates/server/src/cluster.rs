//! Connecting to the cluster: kubeconfig (`--kubeconfig`, `--context`) or in-cluster, with every
//! API request counted in `k8s_api_calls_total`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use kube::Client;
use kube::client::ClientBuilder;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use crate::contexts::Contexts;
use crate::metrics::{Metrics, classify};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig { path: String, source: kube::config::KubeconfigError },
    #[error("cannot use context {context:?} of kubeconfig {path}: {source}")]
    Context { path: String, context: String, source: kube::config::KubeconfigError },
    #[error("no Kubernetes configuration found (no kubeconfig, not in a cluster): {0}")]
    Infer(#[from] kube::config::InferConfigError),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[from] kube::Error),
}

pub struct Cluster {
    pub client: Client,
    pub contexts: Contexts,
}

/// Connects as the predecessor did: an explicit kubeconfig and context, else the usual inference
/// (KUBECONFIG, ~/.kube/config, then the pod's ServiceAccount).
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    metrics: Arc<Metrics>,
) -> Result<Cluster, ClusterError> {
    let options = KubeConfigOptions { context: context.map(str::to_string), ..Default::default() };
    let (config, contexts) = match kubeconfig {
        Some(path) => {
            let shown = path.display().to_string();
            let kc = Kubeconfig::read_from(path)
                .map_err(|source| ClusterError::Kubeconfig { path: shown.clone(), source })?;
            let config = Config::from_custom_kubeconfig(kc.clone(), &options).await.map_err(|source| {
                ClusterError::Context { path: shown.clone(), context: context.unwrap_or("(current)").into(), source }
            })?;
            (config, Contexts::from_kubeconfig(&kc, &shown, context))
        }
        None if context.is_some() => {
            let config = Config::from_kubeconfig(&options).await.map_err(|source| ClusterError::Context {
                path: "the default kubeconfig".into(),
                context: context.unwrap_or_default().into(),
                source,
            })?;
            let kc = Kubeconfig::read()
                .map_err(|source| ClusterError::Kubeconfig { path: "the default kubeconfig".into(), source })?;
            (config, Contexts::from_kubeconfig(&kc, "the default kubeconfig", context))
        }
        None => {
            let config = Config::infer().await?;
            let contexts = match Kubeconfig::read() {
                Ok(kc) => Contexts::from_kubeconfig(
                    &kc,
                    &std::env::var("KUBECONFIG").unwrap_or_else(|_| "~/.kube/config".into()),
                    None,
                ),
                Err(_) => Contexts::in_cluster(&config.cluster_url.to_string(), &config.default_namespace),
            };
            (config, contexts)
        }
    };
    let client = ClientBuilder::try_from(config)?.with_layer(&CountLayer { metrics }).build();
    Ok(Cluster { client, contexts })
}

/// Counts every request the client sends.
pub struct CountLayer {
    pub metrics: Arc<Metrics>,
}

impl<S> tower::Layer<S> for CountLayer {
    type Service = Count<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Count { inner, metrics: self.metrics.clone() }
    }
}

#[derive(Clone)]
pub struct Count<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, RB> tower::Service<http::Request<B>> for Count<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let (verb, resource) = classify(req.method(), req.uri());
        let metrics = self.metrics.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            let code = result.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
            metrics.api_call(verb, &resource, code);
            result
        })
    }
}
