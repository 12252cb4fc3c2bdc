//! The clusters one agent answers for: its own (`local`), every kubeconfig file of
//! `--clusters-dir` (CAPI `<cluster>-kubeconfig` Secrets mounted there by the operator), and, for
//! local use, every context of the kubeconfig (`--all-contexts`). Each member has its own client,
//! caches, health and caller checks; members come and go as files do, and a member that is
//! dropped takes its watches and caches with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kube::Client;
use kube::config::Config;
use tokio::task::JoinHandle;

use crate::auth::Reviewer;
use crate::cache::Cache;
use crate::cluster::{self, ApiHealth, ClusterError};
use crate::contexts::{ContextInfo, Contexts};
use crate::metrics::Metrics;
use crate::resources::changes::ChangeSink;

/// The name of the agent's own cluster in the fleet.
pub const LOCAL: &str = "local";

/// How every member is connected and bounded.
#[derive(Clone)]
pub struct MemberSettings {
    pub metrics: Arc<Metrics>,
    pub watch_namespaces: Vec<String>,
    pub stale_after: Duration,
    pub discovery_every: Duration,
    /// Objects one member's caches may hold (0: no bound).
    pub max_objects: usize,
    /// Caller checks on each member (`--auth=kubernetes`): audiences and cache lifetime.
    pub auth: Option<(Vec<String>, Duration)>,
    /// The longest one cluster may take in an answer that spans the fleet.
    pub timeout: Duration,
    /// Where the members' Flux objects report their changes (resource subscriptions).
    pub changes: ChangeSink,
}

/// A connected member: its client, caches and caller checks.
pub struct Link {
    pub client: Client,
    pub cache: Arc<Cache>,
    pub access: Option<Arc<Reviewer>>,
    refresh: JoinHandle<()>,
}

impl Link {
    pub fn new(client: Client, cache: Arc<Cache>, access: Option<Arc<Reviewer>>, refresh: JoinHandle<()>) -> Link {
        Link { client, cache, access, refresh }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.refresh.abort();
    }
}

/// One cluster of the fleet.
pub struct Member {
    pub name: String,
    /// The kubeconfig context it is reached through (server URL and user name, never credentials).
    pub info: ContextInfo,
    /// Where it comes from: `in-cluster`, a kubeconfig path, or a file of `--clusters-dir`.
    pub source: String,
    /// Whether it comes from a file of `--clusters-dir` (and leaves with it).
    from_dir: bool,
    /// What the file held, to notice a changed kubeconfig (a rotated CAPI Secret).
    fingerprint: Vec<u8>,
    /// Why it could not be connected (an unreadable kubeconfig), or its connection.
    pub link: Result<Link, String>,
}

/// Whether a member answers, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Reachable,
    /// Not answered yet since the agent started.
    Connecting(String),
    Unreachable(String),
}

impl Member {
    /// Connects a member: the first discovery runs in the background, so a slow or dead cluster
    /// never holds up the others.
    pub fn connect(
        name: &str,
        info: ContextInfo,
        source: String,
        config: Result<Config, ClusterError>,
        settings: &MemberSettings,
    ) -> Member {
        let link = config.and_then(|config| {
            let health = Arc::new(ApiHealth::default());
            let client = cluster::client_for(&config, name, &settings.metrics, &health)?;
            let cache = Arc::new(
                Cache::new(client.clone(), settings.watch_namespaces.clone(), health, settings.stale_after)
                    .with_budget(settings.max_objects)
                    .with_changes(name, settings.changes.clone()),
            );
            let access = settings
                .auth
                .as_ref()
                .map(|(audiences, ttl)| Arc::new(Reviewer::new(client.clone(), audiences.clone(), *ttl)));
            let first = cache.clone();
            let every = settings.discovery_every;
            let refresh = tokio::spawn(async move {
                if let Err(e) = first.refresh().await {
                    tracing::warn!(error = %e, "first discovery failed; retrying");
                }
                first.refresh_every(every).await;
            });
            Ok(Link { client, cache, access, refresh })
        });
        let link = link.map_err(|e| cluster::shown_error(&e));
        if let Err(e) = &link {
            tracing::warn!(cluster = name, error = %e, "cannot connect to the cluster");
        }
        Member { name: name.to_string(), info, source, from_dir: false, fingerprint: Vec::new(), link }
    }

    /// The agent's own connection as a member (its cache already running).
    pub fn local(name: &str, info: ContextInfo, source: String, link: Link) -> Member {
        Member { name: name.to_string(), info, source, from_dir: false, fingerprint: Vec::new(), link: Ok(link) }
    }

    pub fn reach(&self) -> Reach {
        let link = match &self.link {
            Ok(link) => link,
            Err(e) => return Reach::Unreachable(e.clone()),
        };
        if let Some(e) = link.cache.unavailable() {
            return Reach::Unreachable(e.to_string());
        }
        if !link.cache.discovered() {
            return match link.cache.health().unavailable(Duration::ZERO) {
                Some((_, why)) => Reach::Unreachable(format!("has not answered since the agent started: {why}")),
                None => Reach::Connecting("connecting: the cluster has not answered yet".into()),
            };
        }
        Reach::Reachable
    }
}

/// Every member, by name, and which one answers when a call names none.
pub struct Fleet {
    members: RwLock<BTreeMap<String, Arc<Member>>>,
    /// The member a call without `cluster` goes to (none: calls must name one).
    default: Option<String>,
    /// The agent's own kubeconfig, for `list_contexts` (its contexts that are not members too).
    pub contexts: Arc<Contexts>,
    settings: MemberSettings,
    dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FleetError {
    #[error("unknown cluster {name:?}; this agent answers for: {known} (see list_contexts)")]
    Unknown { name: String, known: String },
    #[error(
        "this agent answers for several clusters and none is its default: name one with the `cluster` argument ({known})"
    )]
    NoDefault { known: String },
}

impl Fleet {
    pub fn new(
        members: Vec<Member>,
        default: Option<String>,
        contexts: Arc<Contexts>,
        settings: MemberSettings,
        dir: Option<PathBuf>,
    ) -> Fleet {
        let members = members.into_iter().map(|m| (m.name.clone(), Arc::new(m))).collect();
        Fleet { members: RwLock::new(members), default, contexts, settings, dir }
    }

    pub fn members(&self) -> Vec<Arc<Member>> {
        self.members.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// The longest one cluster may take in an answer that spans the fleet.
    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    pub fn default_name(&self) -> Option<&str> {
        self.default.as_deref()
    }

    fn known(&self) -> String {
        self.known_in(&self.members.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn known_in(&self, members: &BTreeMap<String, Arc<Member>>) -> String {
        let names: Vec<&str> = members.keys().map(String::as_str).collect();
        if names.is_empty() { "no cluster yet".into() } else { names.join(", ") }
    }

    /// The member a call is for: the one named, else the default; the only member when there is
    /// no default and just one.
    pub fn member(&self, name: Option<&str>) -> Result<Arc<Member>, FleetError> {
        let found = {
            let members = self.members.read().unwrap_or_else(|e| e.into_inner());
            match (name, &self.default) {
                // `local` names the default member whatever its context is called.
                (Some(LOCAL), Some(d)) if !members.contains_key(LOCAL) => members.get(d).cloned(),
                (Some(n), _) => members.get(n).cloned(),
                (None, Some(d)) => members.get(d).cloned(),
                (None, None) if members.len() == 1 => members.values().next().cloned(),
                (None, None) => return Err(FleetError::NoDefault { known: self.known_in(&members) }),
            }
        };
        found.ok_or_else(|| FleetError::Unknown {
            name: crate::validate::sanitize(name.or(self.default.as_deref()).unwrap_or_default()),
            known: self.known(),
        })
    }

    /// The default member's readiness is the agent's: other clusters being down must not take
    /// the agent out of its Service. With no default member, ready once started.
    pub fn is_ready(&self) -> bool {
        let Some(name) = &self.default else { return true };
        match self.member(Some(name)) {
            Ok(m) => m.link.as_ref().is_ok_and(|l| l.cache.is_ready()),
            Err(_) => false,
        }
    }

    /// Reads `--clusters-dir` once: adds members for new files, reconnects changed ones, drops
    /// those whose file is gone. Each regular file is a kubeconfig named after its cluster; dot
    /// files (the kubelet's `..data` links of a projected volume) are not clusters.
    pub async fn sync_dir(&self) {
        let Some(dir) = &self.dir else { return };
        let found = match read_dir(dir) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot read the clusters directory");
                return;
            }
        };
        let current = self.members();
        for member in &current {
            if member.from_dir && !found.iter().any(|(name, _)| name == &member.name) {
                tracing::info!(cluster = %member.name, "kubeconfig removed: dropping the cluster and its caches");
                self.members.write().unwrap_or_else(|e| e.into_inner()).remove(&member.name);
                self.settings.changes.kinds_changed(&member.name, &crate::kinds::FLUX);
            }
        }
        for (name, path) in found {
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let existing = current.iter().find(|m| m.name == name);
            if existing.is_some_and(|m| m.fingerprint == bytes) {
                continue;
            }
            if existing.is_some_and(|m| !m.from_dir) {
                tracing::warn!(cluster = %name, "a kubeconfig file has the name of another cluster of the fleet: ignored");
                continue;
            }
            if let Err(reason) = crate::validate::name("cluster", &name) {
                tracing::warn!(file = %path.display(), %reason, "not a cluster name: ignored");
                continue;
            }
            let (config, info) = match cluster::file_config(&path).await {
                Ok((config, info)) => (Ok(config), info),
                Err(e) => (Err(e), ContextInfo::named(&name)),
            };
            tracing::info!(cluster = %name, server = %info.server, "cluster joins the fleet");
            let mut member = Member::connect(&name, info, path.display().to_string(), config, &self.settings);
            member.from_dir = true;
            member.fingerprint = bytes;
            self.members.write().unwrap_or_else(|e| e.into_inner()).insert(name, Arc::new(member));
        }
    }

    /// Re-reads `--clusters-dir` on a timer (the kubelet updates a projected volume in place).
    pub fn spawn_dir_sync(self: &Arc<Self>, every: Duration) -> Option<JoinHandle<()>> {
        self.dir.as_ref()?;
        let fleet = self.clone();
        Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                fleet.sync_dir().await;
            }
        }))
    }
}

/// The cluster files of a directory: (name, path), sorted by name.
fn read_dir(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        // Follows the projected volume's symlinks.
        if name.starts_with('.') || !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        found.push((name, path));
    }
    found.sort();
    Ok(found)
}
