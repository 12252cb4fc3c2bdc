//! An embedded Kubernetes API server for tests, benchmarks and the no-cluster demo.
//!
//! It serves real REST over HTTP(S) so that kube-rs, `kubectl` and client-go programs work
//! unmodified: discovery, built-in kinds and CRD-registered custom resources, list/watch with
//! selectors, paging and resourceVersions, server-side apply with managedFields, JSON/merge/
//! strategic patches, CRD schema defaulting/pruning/validation and CEL rules, finalizers and
//! garbage collection, a Deployment controller, bearer-token authentication with optional RBAC,
//! TokenReview/SubjectAccessReview, fault injection and request counters.
//!
//! It is a test double: never link it into a product binary. Known differences from the real
//! kube-apiserver are listed in the README's "Embedded API server" section.

pub mod admission;
pub mod auth;
pub mod builtin;
pub mod controllers;
pub mod convert;
pub mod faults;
pub mod fields;
pub mod fixtures;
pub mod http;
pub mod patch;
pub mod process;
pub mod protobuf;
pub mod read;
pub mod registry;
pub mod selectors;
pub mod server;
pub mod stats;
pub mod status;
pub mod store;
pub mod table;
pub mod tls;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use auth::User;
pub use faults::FaultConfig;
pub use server::{Config, Server};
pub use stats::Snapshot;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("kube client: {0}")]
    Client(String),
    #[error("writing kubeconfig {path}: {source}")]
    Kubeconfig { path: String, source: std::io::Error },
}

/// Where and how to listen.
#[derive(Clone, Debug)]
pub struct Listen {
    /// 127.0.0.1:0 picks a free port.
    pub addr: SocketAddr,
    /// Serve HTTPS with a generated certificate (HTTP when false).
    pub tls: bool,
    /// Names and addresses the certificate is valid for besides 127.0.0.1, localhost and ::1,
    /// e.g. a container network's gateway that pods reach the server at.
    pub extra_sans: Vec<String>,
}

impl Default for Listen {
    fn default() -> Self {
        Self { addr: SocketAddr::from(([127, 0, 0, 1], 0)), tls: true, extra_sans: Vec::new() }
    }
}

/// A running API server. Dropping it stops serving.
pub struct Running {
    pub server: Arc<Server>,
    pub addr: SocketAddr,
    pub url: String,
    pub ca_pem: Option<String>,
    stop: watch::Sender<bool>,
}

impl Running {
    /// A kubeconfig for the admin user.
    pub fn kubeconfig(&self) -> String {
        tls::kubeconfig(&self.url, self.ca_pem.as_deref(), &self.server.config.admin_token)
    }

    /// A kubeconfig that authenticates with `token` instead (for RBAC tests).
    pub fn kubeconfig_for(&self, token: &str) -> String {
        tls::kubeconfig(&self.url, self.ca_pem.as_deref(), token)
    }

    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), StartError> {
        std::fs::write(path, self.kubeconfig())
            .map_err(|source| StartError::Kubeconfig { path: path.display().to_string(), source })
    }

    /// A kube client for the admin user.
    pub async fn client(&self) -> Result<kube::Client, StartError> {
        self.client_for(&self.server.config.admin_token).await
    }

    /// A kube client authenticating with `token`.
    pub async fn client_for(&self, token: &str) -> Result<kube::Client, StartError> {
        kube::Client::try_from(self.client_config(token).await?).map_err(|e| StartError::Client(e.to_string()))
    }

    /// A kube client that does not retry 429/503 itself, so tests see every answer.
    pub async fn client_without_retries(&self) -> Result<kube::Client, StartError> {
        let mut config = self.client_config(&self.server.config.admin_token).await?;
        config.default_retry = false;
        kube::Client::try_from(config).map_err(|e| StartError::Client(e.to_string()))
    }

    /// The client configuration of a user authenticating with `token` (the admin's:
    /// `server.config.admin_token`).
    pub async fn client_config(&self, token: &str) -> Result<kube::Config, StartError> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_for(token))
            .map_err(|e| StartError::Client(e.to_string()))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| StartError::Client(e.to_string()))
    }

    /// Request counters since start (or the last reset).
    pub fn stats(&self) -> Snapshot {
        self.server.stats.snapshot()
    }

    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts serving on `listen` with `config`, with the cluster's controllers running.
pub async fn start(config: Config, listen: Listen) -> Result<Running, StartError> {
    let server = Server::new(config);
    let listener =
        TcpListener::bind(listen.addr).await.map_err(|source| StartError::Bind { addr: listen.addr, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: listen.addr, source })?;
    let tls = if listen.tls { Some(tls::generate(&listen.extra_sans)?) } else { None };
    // Bound to every address (0.0.0.0 or ::), local clients reach it on loopback.
    let reach = if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
    let url = format!("{}://{}", if tls.is_some() { "https" } else { "http" }, reach);
    let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
    let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
    let (stop, mut stopped) = watch::channel(false);

    let gc = tokio::spawn(controllers::garbage_collector(server.clone()));
    let deployments =
        server.config.deployment_controller.then(|| tokio::spawn(controllers::deployment_controller(server.clone())));
    let serving = server.clone();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped.changed() => break,
            };
            let Ok((stream, _)) = accepted else { continue };
            let server = serving.clone();
            let acceptor = acceptor.clone();
            let mut stop_conn = stopped.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| http::handle(server.clone(), req));
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let result = match acceptor {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls_stream) => {
                            let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
                            tokio::select! { r = conn => r, _ = stop_conn.changed() => Ok(()) }
                        }
                        Err(_) => return,
                    },
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        tokio::select! { r = conn => r, _ = stop_conn.changed() => Ok(()) }
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        gc.abort();
        if let Some(deployments) = deployments {
            deployments.abort();
        }
    });
    Ok(Running { server, addr, url, ca_pem, stop })
}
