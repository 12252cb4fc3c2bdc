//! Who is calling, and what they may see: bearer tokens checked with a TokenReview, and every read
//! and write a tool makes for a caller checked with a SubjectAccessReview for that caller, so a
//! user sees through the agent only what their own RBAC lets them see.
//!
//! - [`gate`]: the HTTP middleware that turns a bearer token into a [`Caller`] (or a 401), and the
//!   protected-resource metadata MCP clients discover the issuer from.
//! - [`review`]: TokenReview and SubjectAccessReview, with short, bounded caches.
//! - [`enforce`]: the layer on the tools' API client that checks each request for the caller.

pub mod enforce;
pub mod gate;
pub mod review;

use std::collections::BTreeMap;
use std::future::Future;

use clap::ValueEnum;

pub use self::review::Reviewer;

/// How callers are authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Anyone who reaches the port is served with the agent's own permissions: for stdio, a
    /// laptop, or a loopback port only.
    None,
    /// A bearer token the cluster's API server accepts (ServiceAccount or OIDC), checked with a
    /// TokenReview; each tool call runs with the caller's RBAC, checked by SubjectAccessReview.
    Kubernetes,
}

impl AuthMode {
    /// `none` on a loopback address, `kubernetes` anywhere else: a port others can reach is never
    /// open by default.
    pub fn default_for(bind_address: &str) -> AuthMode {
        if is_loopback(bind_address) { AuthMode::None } else { AuthMode::Kubernetes }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Kubernetes => "kubernetes",
        }
    }
}

pub fn is_loopback(bind_address: &str) -> bool {
    let host = bind_address.trim_matches(['[', ']']);
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An authenticated caller, as the API server named it in the TokenReview.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Caller {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

tokio::task_local! {
    /// The caller a tool call runs for. Set around the tool's future by the registry (and around
    /// A2A request handling), read by the API client layer and the cache filters, so no read path
    /// can forget to apply the caller's permissions.
    static CALLER: Caller;
}

/// The caller of the work running now, if it runs for one.
pub fn current() -> Option<Caller> {
    CALLER.try_with(Caller::clone).ok()
}

/// Runs `fut` as `caller` (or as the agent itself when `None`).
pub async fn run_as<F: Future>(caller: Option<Caller>, fut: F) -> F::Output {
    match caller {
        Some(c) => CALLER.scope(c, fut).await,
        None => fut.await,
    }
}

/// Why a caller could not be identified or checked.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token: send `Authorization: Bearer <token>` with a token the cluster accepts")]
    MissingToken,
    #[error("the bearer token was rejected by the cluster: {0}")]
    InvalidToken(String),
    #[error("cannot check the caller with the cluster API ({0}); try again shortly")]
    Unavailable(String),
    #[error("{user} may not {verb} {resource}{scope}")]
    Forbidden { user: String, verb: String, resource: String, scope: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_default_to_no_auth() {
        for a in ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"] {
            assert_eq!(AuthMode::default_for(a), AuthMode::None, "{a}");
        }
        for a in ["0.0.0.0", "::", "10.0.0.4", "agent.example.com", ""] {
            assert_eq!(AuthMode::default_for(a), AuthMode::Kubernetes, "{a}");
        }
    }

    #[tokio::test]
    async fn the_caller_is_visible_only_inside_its_scope() {
        let alice = Caller { username: "alice".into(), uid: "1".into(), groups: vec![], extra: BTreeMap::new() };
        assert_eq!(current(), None);
        let seen = run_as(Some(alice.clone()), async { current() }).await;
        assert_eq!(seen, Some(alice));
        assert_eq!(run_as(None, async { current() }).await, None);
    }
}
