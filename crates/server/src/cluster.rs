//! Connecting to the cluster: kubeconfig (`--kubeconfig`, `--context`) or in-cluster, with every
//! API request counted in `k8s_api_calls_total` and its outcome feeding [`ApiHealth`].

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use kube::Client;
use kube::client::ClientBuilder;
use kube::client::retry::RetryPolicy;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use tower::buffer::BufferLayer;
use tower::retry::RetryLayer;

use crate::contexts::{ContextInfo, Contexts};
use crate::metrics::{Metrics, classify};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig { path: String, source: kube::config::KubeconfigError },
    #[error("cannot use context {context:?} of kubeconfig {path}: {source}")]
    Context { path: String, context: String, source: kube::config::KubeconfigError },
    #[error(
        "kubeconfig {path}: user {user:?} gets its credentials by running a command ({what}); a kubeconfig of --clusters-dir may not, since whoever can write the Secret it comes from would run code in the agent: give that user a token or a client certificate"
    )]
    RunsCommand { path: String, user: String, what: &'static str },
    #[error("no Kubernetes configuration found (no kubeconfig, not in a cluster): {0}")]
    Infer(#[from] kube::config::InferConfigError),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    #[error("invalid API retry policy: {0}")]
    Retry(String),
}

pub struct Cluster {
    pub config: Config,
    pub contexts: Contexts,
    /// The kubeconfig it came from (none in a pod): its other contexts can join the fleet.
    pub kubeconfig: Option<Kubeconfig>,
}

impl Cluster {
    pub fn client(&self, name: &str, metrics: &Arc<Metrics>, health: &Arc<ApiHealth>) -> Result<Client, ClusterError> {
        client_for(&self.config, name, metrics, health)
    }
}

/// A client that counts every request in `k8s_api_calls_total` under the cluster's fleet name and
/// records in `health` whether the API server answered.
///
/// The client library's own retry (up to 15 attempts, honouring `Retry-After`) would hide an
/// outage for tens of seconds and hold tool calls that long; instead, each attempt is counted
/// and at most 3 retries follow (0.2 s doubling to 2 s, or the server's `Retry-After`).
/// Watches reconnect with their own backoff.
pub fn client_for(
    config: &Config,
    name: &str,
    metrics: &Arc<Metrics>,
    health: &Arc<ApiHealth>,
) -> Result<Client, ClusterError> {
    let mut config = config.clone();
    config.default_retry = false;
    let count = CountLayer { cluster: name.into(), metrics: metrics.clone(), health: health.clone() };
    let policy = RetryPolicy::new(Duration::from_millis(200), Duration::from_secs(2), 3, true)
        .map_err(|e| ClusterError::Retry(e.to_string()))?;
    // Retrying needs a cloneable service below it: the buffer is that handle.
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&count)
        .with_layer(&BufferLayer::new(1024))
        .with_layer(&RetryLayer::new(policy))
        .build())
}

/// Whether the cluster API answers. The watches reconnect after any break, so during an outage
/// their attempts fail and after it the first one succeeds: the outcome of every request is a
/// live signal without probing.
#[derive(Debug, Default)]
pub struct ApiHealth {
    /// Since when no request has succeeded, and the latest failure.
    failing: Mutex<Option<(Instant, String)>>,
}

impl ApiHealth {
    /// An answer below 500 (429 included: the server is there, throttling) means it is up;
    /// 5xx and connection errors mean it is not.
    pub fn record(&self, outcome: Result<u16, String>) {
        let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(code) if code < 500 => *failing = None,
            Ok(code) => Self::fail(&mut failing, format!("HTTP {code}")),
            Err(e) => Self::fail(&mut failing, e),
        }
    }

    fn fail(failing: &mut Option<(Instant, String)>, why: String) {
        let since = failing.as_ref().map_or_else(Instant::now, |(since, _)| *since);
        *failing = Some((since, why));
    }

    /// How long the API has not answered and the latest error, once that is at least `after`.
    pub fn unavailable(&self, after: Duration) -> Option<(Duration, String)> {
        let failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        failing.as_ref().map(|(since, why)| (since.elapsed(), why.clone())).filter(|(down, _)| *down >= after)
    }
}

/// Connects as the predecessor did: an explicit kubeconfig and context, else the usual inference
/// (KUBECONFIG, ~/.kube/config, then the pod's ServiceAccount).
pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Cluster, ClusterError> {
    let options = KubeConfigOptions { context: context.map(str::to_string), ..Default::default() };
    let (config, contexts, kubeconfig) = match kubeconfig {
        Some(path) => {
            let shown = path.display().to_string();
            let kc = Kubeconfig::read_from(path)
                .map_err(|source| ClusterError::Kubeconfig { path: shown.clone(), source })?;
            let config = Config::from_custom_kubeconfig(kc.clone(), &options).await.map_err(|source| {
                ClusterError::Context { path: shown.clone(), context: context.unwrap_or("(current)").into(), source }
            })?;
            let contexts = Contexts::from_kubeconfig(&kc, &shown, context);
            (config, contexts, Some(kc))
        }
        None if context.is_some() => {
            let config = Config::from_kubeconfig(&options).await.map_err(|source| ClusterError::Context {
                path: "the default kubeconfig".into(),
                context: context.unwrap_or_default().into(),
                source,
            })?;
            let kc = Kubeconfig::read()
                .map_err(|source| ClusterError::Kubeconfig { path: "the default kubeconfig".into(), source })?;
            let contexts = Contexts::from_kubeconfig(&kc, "the default kubeconfig", context);
            (config, contexts, Some(kc))
        }
        None => {
            let config = Config::infer().await?;
            match Kubeconfig::read() {
                Ok(kc) => {
                    let source = std::env::var("KUBECONFIG").unwrap_or_else(|_| "~/.kube/config".into());
                    (config, Contexts::from_kubeconfig(&kc, &source, None), Some(kc))
                }
                Err(_) => (
                    config.clone(),
                    Contexts::in_cluster(&config.cluster_url.to_string(), &config.default_namespace),
                    None,
                ),
            }
        }
    };
    Ok(Cluster { config, contexts, kubeconfig })
}

/// The configuration of one context of a kubeconfig (a fleet member from `--all-contexts`).
pub async fn context_config(kc: &Kubeconfig, context: &str) -> Result<Config, ClusterError> {
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    Config::from_custom_kubeconfig(kc.clone(), &options).await.map_err(|source| ClusterError::Context {
        path: "the kubeconfig".into(),
        context: context.into(),
        source,
    })
}

/// The configuration in a kubeconfig file of the fleet directory (e.g. a CAPI `<cluster>-kubeconfig`
/// Secret mounted there), with its current context, and what may be shown of that context.
pub async fn file_config(path: &Path) -> Result<(Config, ContextInfo), ClusterError> {
    let shown = path.display().to_string();
    let kc = Kubeconfig::read_from(path).map_err(|source| ClusterError::Kubeconfig { path: shown.clone(), source })?;
    kubeconfig_config(kc, &shown).await
}

/// The client configuration and the context shown for a parsed kubeconfig (its current context),
/// `shown` naming where it came from in errors.
pub async fn kubeconfig_config(kc: Kubeconfig, shown: &str) -> Result<(Config, ContextInfo), ClusterError> {
    refuse_commands(&kc, shown)?;
    let contexts = Contexts::from_kubeconfig(&kc, shown, None);
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|source| ClusterError::Context { path: shown.into(), context: "(current)".into(), source })?;
    let info = contexts.current_info().cloned().unwrap_or_else(|| ContextInfo::named(&contexts.source));
    Ok((config, info))
}

/// A kubeconfig of the fleet directory must not make the agent run anything: an exec credential
/// plugin or an auth provider (which may run a `cmd-path`) in any of its users is refused before
/// the client is built. The agent's own kubeconfig (`--kubeconfig`, a developer's file) may.
fn refuse_commands(kc: &Kubeconfig, shown: &str) -> Result<(), ClusterError> {
    for named in &kc.auth_infos {
        let Some(user) = &named.auth_info else { continue };
        let what = if user.exec.is_some() {
            "exec plugin"
        } else if user.auth_provider.is_some() {
            "auth-provider"
        } else {
            continue;
        };
        return Err(ClusterError::RunsCommand { path: shown.into(), user: named.name.clone(), what });
    }
    Ok(())
}

/// An error as tools and logs show it: a YAML parse error quotes the offending line, which may
/// hold a token, so only its first line (where and what) is kept, with anything that looks like a
/// credential redacted.
pub fn shown_error(e: &ClusterError) -> String {
    crate::redact::redact(e.to_string().lines().next().unwrap_or_default())
}

/// Counts every request the client sends, and records whether it was answered.
pub struct CountLayer {
    pub cluster: Arc<str>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<ApiHealth>,
}

impl<S> tower::Layer<S> for CountLayer {
    type Service = Count<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Count { inner, cluster: self.cluster.clone(), metrics: self.metrics.clone(), health: self.health.clone() }
    }
}

#[derive(Clone)]
pub struct Count<S> {
    inner: S,
    cluster: Arc<str>,
    metrics: Arc<Metrics>,
    health: Arc<ApiHealth>,
}

impl<S, B, RB> tower::Service<http::Request<B>> for Count<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let (verb, resource) = classify(req.method(), req.uri());
        let (cluster, metrics, health) = (self.cluster.clone(), self.metrics.clone(), self.health.clone());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            let code = result.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
            metrics.api_call(&cluster, verb, &resource, code);
            health.record(result.as_ref().map(|r| r.status().as_u16()).map_err(|e| e.to_string()));
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fleet_kubeconfigs_that_would_run_a_command_are_refused() {
        let kubeconfig = |user: &str| {
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{{name: k, cluster: {{server: 'https://127.0.0.1:6443'}}}}]\ncontexts: [{{name: c, context: {{cluster: k, user: u}}}}]\nusers: [{{name: u, user: {user}}}]\n"
            )
        };
        let exec =
            kubeconfig("{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/touch, args: [/tmp/ran]}}");
        let provider = kubeconfig("{auth-provider: {name: gcp, config: {cmd-path: /bin/touch}}}");
        for (text, what) in [(exec, "exec plugin"), (provider, "auth-provider")] {
            let kc = Kubeconfig::from_yaml(&text).expect("a kubeconfig");
            match kubeconfig_config(kc, "/clusters/prod").await {
                Err(e @ ClusterError::RunsCommand { .. }) => {
                    let shown = shown_error(&e);
                    assert!(
                        shown.contains("/clusters/prod") && shown.contains("\"u\"") && shown.contains(what),
                        "{shown}"
                    );
                }
                Err(e) => panic!("refused for another reason: {e}"),
                Ok(_) => panic!("accepted a kubeconfig whose user runs a command ({what})"),
            }
        }
        let token = Kubeconfig::from_yaml(&kubeconfig("{token: abc}")).expect("a kubeconfig");
        assert!(kubeconfig_config(token, "/clusters/prod").await.is_ok());
    }

    #[test]
    fn the_api_is_unavailable_only_after_failing_without_a_success_for_the_window() {
        let h = ApiHealth::default();
        assert_eq!(h.unavailable(Duration::ZERO), None);
        h.record(Err("connection refused".into()));
        h.record(Ok(503));
        let (_, why) = h.unavailable(Duration::ZERO).expect("failing");
        assert_eq!(why, "HTTP 503", "the latest failure is reported");
        assert_eq!(h.unavailable(Duration::from_secs(60)), None, "not for long enough");
        h.record(Ok(429));
        assert_eq!(h.unavailable(Duration::ZERO), None, "throttled is answered");
        h.record(Ok(500));
        h.record(Ok(200));
        assert_eq!(h.unavailable(Duration::ZERO), None);
    }
}
