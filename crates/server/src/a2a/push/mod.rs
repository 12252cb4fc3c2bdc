//! A2A push notifications: what happens to a task is POSTed to the webhooks its owner registered,
//! in order, with the configured authentication (or the agent's signed token), retried with
//! backoff on errors and 5xx, then given up. Configs live in the task store, so the replica that
//! moves a task on delivers, whichever replica took the config.

pub mod address;
pub mod config;
pub mod signer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::sync::mpsc;
use tracing::Instrument;

use self::address::{Allowed, CheckedResolver};
use self::config::PushConfig;
use self::signer::{Signer, SignerError};
use super::error::A2aError;
use super::model::{Dialect, Event, Task};
use super::store::TaskStore;
use super::wire::{self, View};
use crate::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct PushSettings {
    /// Hosts webhooks may reach over plain http and at any address.
    pub allow_hosts: Vec<String>,
    /// Extra trusted CA certificates (PEM), next to the system's.
    pub ca_file: Option<String>,
    /// The P-256 key notifications are signed with (PKCS#8 PEM); none: one made at start.
    pub signing_key: Option<String>,
    /// Tries per notification, the first included.
    pub attempts: u32,
    /// The wait before the first retry; it doubles each time, up to 30 s.
    pub retry_base: Duration,
    /// Per try: connecting, sending and the answer's status.
    pub timeout: Duration,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            allow_hosts: vec![],
            ca_file: None,
            signing_key: None,
            attempts: 5,
            retry_base: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error("--a2a-push-ca-file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("cannot set up TLS for webhooks: {0}")]
    Tls(String),
}

type Https = hyper_rustls::HttpsConnector<HttpConnector<CheckedResolver>>;

/// One thing to tell a task's webhooks: the event, and the task as it stood after it.
struct Note {
    task: Task,
    event: Event,
}

pub struct Pusher {
    store: Arc<TaskStore>,
    allowed: Arc<Allowed>,
    client: Client<Https, Full<Bytes>>,
    signer: Signer,
    metrics: Arc<Metrics>,
    settings: PushSettings,
    /// The delivery queue of each task that has notes in flight: one worker per task keeps them
    /// in order.
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<Note>>>,
}

impl Pusher {
    pub fn new(settings: PushSettings, store: Arc<TaskStore>, metrics: Arc<Metrics>) -> Result<Pusher, PushError> {
        let signer = match &settings.signing_key {
            Some(path) => Signer::from_pem_file(path)?,
            None => Signer::generate()?,
        };
        let allowed = Arc::new(Allowed::new(&settings.allow_hosts));
        let tls = tls_config(settings.ca_file.as_deref())?;
        let mut http = HttpConnector::new_with_resolver(CheckedResolver { allowed: allowed.clone() });
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(2)
            .build(https);
        Ok(Pusher { store, allowed, client, signer, metrics, settings, queues: Mutex::new(HashMap::new()) })
    }

    /// A config as a client sent it (`obj`, in `dialect`'s shape, for `task_id`; `at` names it
    /// in errors), checked through: its fields, and a webhook name that resolves to an address
    /// the agent must not reach (or to none) is refused now, so the client hears it at once
    /// rather than as deliveries that never come. Names are checked again at every connection.
    pub async fn accept(
        &self,
        obj: &serde_json::Value,
        at: &str,
        task_id: &str,
        dialect: Dialect,
        issuer: &str,
    ) -> Result<PushConfig, A2aError> {
        let (config, target) = config::read(obj, at, task_id, dialect, issuer, &self.allowed)?;
        if let (Some(url::Host::Domain(host)), false) = (target.url.host(), target.allowed) {
            let port = target.url.port_or_known_default().unwrap_or(443);
            address::resolve(host, port, &self.allowed)
                .await
                .map_err(|why| A2aError::invalid(format!("{at}.url"), format!("the webhook URL is refused: {why}")))?;
        }
        Ok(config)
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.signer.jwks()
    }

    /// Queues `event` (which `task` reflects) for the task's webhooks, behind what is queued.
    pub fn notify(self: &Arc<Self>, task: &Task, event: Event) {
        let Ok(mut queues) = self.queues.lock() else { return };
        let note = Note { task: task.clone(), event };
        let note = match queues.get(&task.id) {
            Some(tx) => match tx.send(note) {
                Ok(()) => return,
                Err(mpsc::error::SendError(note)) => note,
            },
            None => note,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(note);
        queues.insert(task.id.clone(), tx);
        let span = tracing::info_span!("a2a_push", task = %task.id);
        tokio::spawn(self.clone().work(task.id.clone(), rx).instrument(span));
    }

    async fn work(self: Arc<Self>, task_id: String, mut rx: mpsc::UnboundedReceiver<Note>) {
        loop {
            let next = match rx.try_recv() {
                Ok(note) => note,
                Err(_) => {
                    // Nothing queued: the worker ends, under the lock senders take, so a note
                    // sent meanwhile finds either this queue or none.
                    let Ok(mut queues) = self.queues.lock() else { return };
                    match rx.try_recv() {
                        Ok(note) => note,
                        Err(_) => {
                            queues.remove(&task_id);
                            return;
                        }
                    }
                }
            };
            let configs = match self.store.push_configs(&task_id).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the task's push notification configs");
                    continue;
                }
            };
            let deliveries = configs.iter().filter_map(|c| body(c, &next).map(|b| self.deliver(c, &next.task, b)));
            futures::future::join_all(deliveries).await;
        }
    }

    /// One notification to one webhook, with retries.
    async fn deliver(&self, config: &PushConfig, task: &Task, body: Bytes) {
        let mut wait = self.settings.retry_base;
        let attempts = self.settings.attempts.max(1);
        for attempt in 1..=attempts {
            let result = tokio::time::timeout(self.settings.timeout, self.attempt(config, task, body.clone())).await;
            let outcome = match result {
                Ok(Ok(status)) if status.is_success() => {
                    self.metrics.push_attempt("ok");
                    self.metrics.push_delivery("delivered");
                    tracing::debug!(config = %config.id, attempt, "push notification delivered");
                    return;
                }
                Ok(Ok(status)) => Attempt::Status(status),
                Ok(Err(e)) => Attempt::Error(e),
                Err(_) => Attempt::Timeout,
            };
            self.metrics.push_attempt(outcome.label());
            if let Attempt::Error(Failure::Refused(why)) = &outcome {
                self.metrics.push_delivery("refused");
                tracing::warn!(config = %config.id, reason = %why, "push notification not sent: the webhook address is refused");
                return;
            }
            if !outcome.retryable() || attempt == attempts {
                self.metrics.push_delivery("failed");
                tracing::warn!(config = %config.id, attempt, outcome = %outcome, "push notification given up");
                return;
            }
            tracing::info!(config = %config.id, attempt, outcome = %outcome, retry_in_ms = wait.as_millis() as u64, "push notification failed; retrying");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(30));
        }
    }

    async fn attempt(&self, config: &PushConfig, task: &Task, body: Bytes) -> Result<http::StatusCode, Failure> {
        // The URL was checked when it was registered; an operator may have changed the allowed
        // hosts since (a restart), so it is checked again.
        let target = address::check_url(&config.url, &self.allowed).map_err(Failure::Refused)?;
        let media = if config.dialect == Dialect::V1 { "application/a2a+json" } else { "application/json" };
        let mut request = http::Request::post(target.url.as_str())
            .header(http::header::CONTENT_TYPE, media)
            .header(http::header::USER_AGENT, concat!("gitops-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(token) = &config.token {
            request = request.header("X-A2A-Notification-Token", token);
        }
        let authorization = match &config.authentication {
            Some(config::Authentication { scheme, credentials: Some(c) }) => format!("{scheme} {c}"),
            _ => {
                let jwt = self
                    .signer
                    .token(&config.issuer, &config.url, &task.id, &body)
                    .map_err(|e| Failure::Other(e.to_string()))?;
                format!("Bearer {jwt}")
            }
        };
        let request = request
            .header(http::header::AUTHORIZATION, authorization)
            .body(Full::new(body))
            .map_err(|e| Failure::Other(e.to_string()))?;
        let response = self.client.request(request).await.map_err(|e| {
            let chain = || std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |s| s.source());
            // The resolver's refusal surfaces as a connect error: told apart, it is not retried.
            match chain().find_map(|s| s.downcast_ref::<address::Refused>()) {
                Some(r) => Failure::Refused(r.0.clone()),
                None => Failure::Other(chain().map(|s| s.to_string()).collect::<Vec<_>>().join(": ")),
            }
        })?;
        let status = response.status();
        // Read (and drop) at most a little of the answer, so the connection can be reused.
        let _ = tokio::time::timeout(Duration::from_secs(1), response.into_body().collect()).await;
        Ok(status)
    }
}

#[derive(Debug)]
enum Failure {
    Refused(String),
    Other(String),
}

#[derive(Debug)]
enum Attempt {
    Status(http::StatusCode),
    Error(Failure),
    Timeout,
}

impl Attempt {
    fn label(&self) -> &'static str {
        match self {
            Attempt::Status(s) if s.is_server_error() => "5xx",
            // Redirects are not followed: a webhook must be at the URL it was registered with.
            Attempt::Status(s) if s.is_redirection() => "3xx",
            Attempt::Status(_) => "4xx",
            Attempt::Error(Failure::Refused(_)) => "refused",
            Attempt::Error(Failure::Other(_)) => "error",
            Attempt::Timeout => "timeout",
        }
    }

    /// Server errors, throttling and transport errors may pass; a 4xx answer will not.
    fn retryable(&self) -> bool {
        match self {
            Attempt::Status(s) => {
                s.is_server_error()
                    || *s == http::StatusCode::TOO_MANY_REQUESTS
                    || *s == http::StatusCode::REQUEST_TIMEOUT
            }
            Attempt::Error(Failure::Refused(_)) => false,
            Attempt::Error(Failure::Other(_)) | Attempt::Timeout => true,
        }
    }
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Attempt::Status(s) => write!(f, "the webhook answered {s}"),
            Attempt::Error(Failure::Refused(why) | Failure::Other(why)) => f.write_str(why),
            Attempt::Timeout => f.write_str("no answer in time"),
        }
    }
}

/// What is POSTed for `note` to a webhook registered in `config`'s dialect: A2A 1.0 sends a
/// StreamResponse per event; 0.3 sends the task itself when its status changes.
fn body(config: &PushConfig, note: &Note) -> Option<Bytes> {
    let value = match (config.dialect, &note.event) {
        (Dialect::V1, e) => wire::event(&note.task, e, Dialect::V1),
        (_, Event::Status(_)) => wire::task(&note.task, Dialect::V03, View::FULL),
        (_, Event::Artifact(_)) => return None,
    };
    Some(Bytes::from(value.to_string()))
}

/// The system's trusted roots plus the operator's own CA, if given.
fn tls_config(ca_file: Option<&str>) -> Result<rustls::ClientConfig, PushError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!(error = %e, "a system CA certificate could not be read");
    }
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let error = |reason: String| PushError::CaFile { path: path.to_string(), reason };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| error(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| error(e.to_string()))?;
        if certs.is_empty() {
            return Err(error("no PEM certificate in it".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| error(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PushError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
