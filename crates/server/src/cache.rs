//! The watch-backed cache: one reflector per cached kind (per watch namespace), started when the
//! kind's CRD is served and dropped when it goes away. Tools read these stores; a tool call on a
//! cached kind makes no API request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tokio::task::JoinHandle;

use crate::cluster::ApiHealth;
use crate::kinds::{self, Kind};
use crate::resources::changes::{ChangeSink, ObjectChanges};
use crate::watch_store::{self, Objects};

/// Why the cache cannot answer for a kind.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CacheError {
    #[error("{kind} CRD ({group}/{version}) is not installed on this cluster", kind = .0.kind, group = .0.group, version = .0.version)]
    NotInstalled(Kind),
    #[error("the agent is not allowed to list {0} objects (check its RBAC): {1}")]
    Forbidden(Kind, String),
    #[error("the {0} cache is still loading; try again in a few seconds")]
    Loading(Kind),
    #[error(
        "this cluster holds more than {max} objects of the kinds the agent caches ({objects} seen), the agent's bound per cluster (--max-objects-per-cluster): its cache was dropped to protect the agent's memory; raise the bound or narrow --watch-namespaces"
    )]
    OverBudget { objects: usize, max: usize },
    #[error(
        "the cluster API is unavailable (no successful answer for {seconds} s; last error: {error}); the cached answer could be stale, so none is given: try again once the API server is back"
    )]
    Unavailable { seconds: u64, error: String },
}

const LOADING: u8 = 0;
const SYNCED: u8 = 1;
const FORBIDDEN: u8 = 2;

/// The most objects one cluster's cache may hold (0: no bound). Counted after every watch event;
/// once over, every watch of the cluster stops and the next discovery round drops the stores.
#[derive(Debug, Default)]
pub struct Budget {
    max: usize,
    held: AtomicUsize,
    /// The count seen when the bound was crossed (0: not crossed).
    exceeded: AtomicUsize,
}

impl Budget {
    pub fn new(max: usize) -> Self {
        Self { max, ..Self::default() }
    }

    /// Records that a store went from `before` to `after` objects; false once over the bound.
    fn account(&self, before: usize, after: usize) -> bool {
        let held = if after >= before {
            self.held.fetch_add(after - before, Ordering::SeqCst) + (after - before)
        } else {
            self.held.fetch_sub(before - after, Ordering::SeqCst) - (before - after)
        };
        if self.max > 0 && held > self.max {
            let _ = self.exceeded.compare_exchange(0, held, Ordering::SeqCst, Ordering::SeqCst);
            return false;
        }
        self.exceeded.load(Ordering::SeqCst) == 0
    }

    fn error(&self) -> Option<CacheError> {
        match self.exceeded.load(Ordering::SeqCst) {
            0 => None,
            objects => Some(CacheError::OverBudget { objects, max: self.max }),
        }
    }
}

/// One watch (a whole cluster, or one namespace) of one kind.
struct Watch {
    store: Objects,
    state: Arc<AtomicU8>,
    forbidden: Arc<RwLock<String>>,
    task: JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The watches of one served kind.
struct Watched {
    resource: ApiResource,
    watches: Vec<Watch>,
}

impl Watched {
    fn state(&self) -> u8 {
        let states: Vec<u8> = self.watches.iter().map(|w| w.state.load(Ordering::SeqCst)).collect();
        if states.contains(&LOADING) {
            LOADING
        } else if states.contains(&FORBIDDEN) {
            FORBIDDEN
        } else {
            SYNCED
        }
    }

    /// Every object, in no particular order (callers sort what they show).
    fn objects(&self) -> Vec<Arc<DynamicObject>> {
        self.watches.iter().flat_map(|w| w.store.all()).collect()
    }

    fn get(&self, namespace: &str, name: &str) -> Option<Arc<DynamicObject>> {
        self.watches.iter().find_map(|w| w.store.get(namespace, name))
    }
}

/// One served kind and its cached objects.
pub type KindObjects = (ApiResource, Vec<Arc<DynamicObject>>);

/// Size of one kind's cache, for the metrics gauges.
pub struct KindCount {
    pub kind: String,
    pub objects: usize,
}

pub struct Cache {
    client: Client,
    /// Empty: the whole cluster.
    namespaces: Vec<String>,
    watched: RwLock<HashMap<(String, String), Watched>>,
    discovered: AtomicU8,
    /// How long a tool waits for a kind whose cache is still loading.
    load_wait: Duration,
    health: Arc<ApiHealth>,
    /// After the API has not answered for this long, the cache is not trusted.
    stale_after: Duration,
    budget: Arc<Budget>,
    /// The cluster's name and where its Flux objects' changes go, for resource subscribers.
    changes: Option<(String, ChangeSink)>,
}

fn wanted(group: &str, kind: &str) -> bool {
    group == kinds::CONSTRAINTS_GROUP || kinds::CACHED.iter().any(|k| k.group == group && k.kind == kind)
}

impl Cache {
    /// `health` must be fed by `client`'s requests (see [`crate::cluster::Cluster::client`]).
    pub fn new(client: Client, namespaces: Vec<String>, health: Arc<ApiHealth>, stale_after: Duration) -> Self {
        Self {
            client,
            namespaces,
            watched: RwLock::new(HashMap::new()),
            discovered: AtomicU8::new(0),
            load_wait: Duration::from_secs(10),
            health,
            stale_after,
            budget: Arc::new(Budget::default()),
            changes: None,
        }
    }

    /// Reports the changes of this cluster's (`cluster`) Flux objects and kinds to `sink`.
    pub fn with_changes(mut self, cluster: &str, sink: ChangeSink) -> Self {
        self.changes = Some((cluster.to_string(), sink));
        self
    }

    /// Bounds the objects this cache holds (see [`Budget`]).
    pub fn with_budget(mut self, max_objects: usize) -> Self {
        self.budget = Arc::new(Budget::new(max_objects));
        self
    }

    pub fn health(&self) -> &Arc<ApiHealth> {
        &self.health
    }

    /// Why the cache must not answer now: it outgrew its bound, or the API server has not
    /// answered for too long.
    pub fn unavailable(&self) -> Option<CacheError> {
        if let Some(e) = self.budget.error() {
            return Some(e);
        }
        self.health
            .unavailable(self.stale_after)
            .map(|(down, error)| CacheError::Unavailable { seconds: down.as_secs(), error })
    }

    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Whether an object in this namespace (None: cluster-scoped) is one the cache answers for.
    pub fn in_scope(&self, ns: Option<&str>) -> bool {
        match ns {
            Some(ns) => self.namespaces.is_empty() || self.namespaces.iter().any(|w| w == ns),
            None => true,
        }
    }

    /// Asks the API server which cached kinds it serves; starts watches for new ones and drops
    /// those whose CRD is gone. On a discovery error the previous answer stands.
    pub async fn refresh(&self) -> Result<(), kube::Error> {
        if self.budget.error().is_some() {
            let mut watched = self.watched.write().unwrap_or_else(|e| e.into_inner());
            if !watched.is_empty() {
                tracing::warn!(max = self.budget.max, "over the per-cluster object bound: dropping the cache");
                watched.clear();
            }
            return Ok(());
        }
        let mut groups: Vec<&str> = kinds::CACHED.iter().map(|k| k.group).collect();
        groups.push(kinds::CONSTRAINTS_GROUP);
        groups.sort_unstable();
        groups.dedup();
        let discovery = Discovery::new(self.client.clone()).filter(&groups).run().await?;
        let mut served: HashMap<(String, String), (ApiResource, bool)> = HashMap::new();
        for group in discovery.groups() {
            for (resource, caps) in group.resources_by_stability() {
                if wanted(&resource.group, &resource.kind) {
                    let namespaced = matches!(caps.scope, Scope::Namespaced);
                    served.insert((resource.group.clone(), resource.kind.clone()), (resource, namespaced));
                }
            }
        }
        let mut watched = self.watched.write().unwrap_or_else(|e| e.into_inner());
        let mut flux_gone = Vec::new();
        let mut flux_added = false;
        watched.retain(|key, w| {
            let keep = served.get(key).is_some_and(|(r, _)| r.version == w.resource.version);
            if !keep {
                tracing::info!(group = %key.0, kind = %key.1, "kind no longer served (or its version changed): dropping its cache");
                flux_gone.extend(Kind::flux(&key.0, &key.1));
            }
            keep
        });
        for (key, (resource, namespaced)) in served {
            if watched.contains_key(&key) {
                continue;
            }
            tracing::info!(group = %resource.group, version = %resource.version, kind = %resource.kind, "watching");
            let changes = match (&self.changes, Kind::flux(&resource.group, &resource.kind)) {
                (Some((cluster, sink)), Some(kind)) => {
                    flux_added = true;
                    Some(sink.for_kind(cluster, kind))
                }
                _ => None,
            };
            let watch = |api| spawn_watch(api, &resource, &self.budget, changes.clone());
            let watches = if namespaced && !self.namespaces.is_empty() {
                self.namespaces
                    .iter()
                    .map(|ns| watch(Api::namespaced_with(self.client.clone(), ns, &resource)))
                    .collect()
            } else {
                vec![watch(Api::all_with(self.client.clone(), &resource))]
            };
            watched.insert(key, Watched { resource, watches });
        }
        if let Some((cluster, sink)) = &self.changes
            && (flux_added || !flux_gone.is_empty())
        {
            sink.kinds_changed(cluster, &flux_gone);
        }
        self.discovered.store(1, Ordering::SeqCst);
        Ok(())
    }

    /// Refreshes discovery on a timer (after the first refresh, which the caller runs) until the
    /// task is aborted; every 2 s at most until discovery has once succeeded (a cluster that was
    /// down at start is picked up soon after it answers).
    pub fn spawn_refresh(self: &Arc<Self>, every: Duration) -> JoinHandle<()> {
        tokio::spawn(self.clone().refresh_every(every))
    }

    /// The loop [`Cache::spawn_refresh`] runs, for tasks that do something first.
    pub async fn refresh_every(self: Arc<Self>, every: Duration) {
        loop {
            let wait = if self.discovered() { every } else { every.min(Duration::from_secs(2)) };
            tokio::time::sleep(wait).await;
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "discovery failed; keeping the cached kinds as they are");
            }
        }
    }

    /// Whether discovery has answered once.
    pub fn discovered(&self) -> bool {
        self.discovered.load(Ordering::SeqCst) == 1
    }

    /// Ready once discovery has run and every watch has listed its objects (or been refused), and
    /// while the API server answers.
    pub fn is_ready(&self) -> bool {
        self.unavailable().is_none()
            && self.discovered.load(Ordering::SeqCst) == 1
            && self.watched.read().map(|w| w.values().all(|k| k.state() != LOADING)).unwrap_or(false)
    }

    /// Every cached object of a kind, in no particular order.
    pub async fn list(&self, kind: Kind) -> Result<Vec<Arc<DynamicObject>>, CacheError> {
        self.when_loaded(kind, |w| w.objects()).await
    }

    /// Waits (boundedly) for a kind whose cache is still loading, then reads it.
    async fn when_loaded<T>(&self, kind: Kind, read: impl Fn(&Watched) -> T) -> Result<T, CacheError> {
        let deadline = tokio::time::Instant::now() + self.load_wait;
        loop {
            match self.try_read(kind, &read) {
                Err(CacheError::Loading(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }

    fn try_read<T>(&self, kind: Kind, read: impl Fn(&Watched) -> T) -> Result<T, CacheError> {
        if let Some(e) = self.unavailable() {
            return Err(e);
        }
        let watched = self.watched.read().unwrap_or_else(|e| e.into_inner());
        let w = watched.get(&key(kind)).ok_or(CacheError::NotInstalled(kind))?;
        match w.state() {
            LOADING => Err(CacheError::Loading(kind)),
            FORBIDDEN => {
                let why = w
                    .watches
                    .iter()
                    .map(|w| w.forbidden.read().map(|s| s.clone()).unwrap_or_default())
                    .find(|s| !s.is_empty());
                Err(CacheError::Forbidden(kind, why.unwrap_or_default()))
            }
            _ => Ok(read(w)),
        }
    }

    /// The served version of a cached kind, for writes.
    pub fn resource(&self, kind: Kind) -> Result<ApiResource, CacheError> {
        let watched = self.watched.read().unwrap_or_else(|e| e.into_inner());
        watched.get(&key(kind)).map(|w| w.resource.clone()).ok_or(CacheError::NotInstalled(kind))
    }

    /// One cached object.
    pub async fn get(&self, kind: Kind, namespace: &str, name: &str) -> Result<Option<Arc<DynamicObject>>, CacheError> {
        self.when_loaded(kind, |w| w.get(namespace, name)).await
    }

    /// Every served kind of a group whose kinds are not fixed (Gatekeeper constraints), with its
    /// objects sorted by namespace and name; kinds still loading or refused are left out.
    pub fn list_group(&self, group: &str) -> Result<Vec<KindObjects>, CacheError> {
        if let Some(e) = self.unavailable() {
            return Err(e);
        }
        let watched = self.watched.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<KindObjects> = watched
            .iter()
            .filter(|((g, _), w)| g == group && w.state() == SYNCED)
            .map(|(_, w)| {
                let mut objs = w.objects();
                objs.sort_by(|a, b| {
                    (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
                });
                (w.resource.clone(), objs)
            })
            .collect();
        out.sort_by(|a, b| a.0.kind.cmp(&b.0.kind));
        Ok(out)
    }

    /// Whether the API server serves a group (any of its kinds is watched).
    pub fn serves_group(&self, group: &str) -> bool {
        self.watched.read().map(|w| w.keys().any(|(g, _)| g == group)).unwrap_or(false)
    }

    pub fn counts(&self) -> Vec<KindCount> {
        let watched = self.watched.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<KindCount> = watched
            .values()
            .map(|w| KindCount {
                kind: format!("{}.{}", w.resource.plural, w.resource.group),
                objects: w.watches.iter().map(|x| x.store.len()).sum(),
            })
            .collect();
        out.sort_by(|a, b| a.kind.cmp(&b.kind));
        out
    }
}

fn key(kind: Kind) -> (String, String) {
    (kind.group.to_string(), kind.kind.to_string())
}

/// Drops what no tool reads, so 10,000 cached objects stay small, and names the kind on every
/// object (list items may come without it).
fn strip(resource: &ApiResource) -> impl FnMut(&mut DynamicObject) + use<> {
    let types = kube::core::TypeMeta { api_version: resource.api_version.clone(), kind: resource.kind.clone() };
    move |obj: &mut DynamicObject| {
        obj.managed_fields_mut().clear();
        obj.annotations_mut().remove("kubectl.kubernetes.io/last-applied-configuration");
        if obj.types.is_none() {
            obj.types = Some(types.clone());
        }
    }
}

fn spawn_watch(
    api: Api<DynamicObject>,
    resource: &ApiResource,
    budget: &Arc<Budget>,
    changes: Option<ObjectChanges>,
) -> Watch {
    let mut writer = changes.map_or_else(watch_store::Writer::default, watch_store::Writer::with_changes);
    let store = writer.reader();
    let (reader, budget) = (store.clone(), budget.clone());
    let state = Arc::new(AtomicU8::new(LOADING));
    let forbidden = Arc::new(RwLock::new(String::new()));
    let (flag, why, kind) = (state.clone(), forbidden.clone(), resource.kind.clone());
    let stream = watcher(api, watcher::Config::default()).default_backoff().modify(strip(resource));
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        let mut held = 0;
        while let Some(event) = stream.next().await {
            let event = event.map(|e| {
                let done = matches!(e, watcher::Event::InitDone);
                writer.apply(e);
                done
            });
            let now = reader.len();
            let within = budget.account(held, now);
            held = now;
            if !within {
                tracing::warn!(%kind, max = budget.max, "the cluster's cache is over its object bound: stopping");
                break;
            }
            match event {
                Ok(true) => {
                    flag.store(SYNCED, Ordering::SeqCst);
                    // The list just replaced the previous copy of this kind.
                    gitops_agent_memory::release_soon();
                }
                Err(watcher::Error::InitialListFailed(kube::Error::Api(s))) if s.code == 403 => {
                    if let Ok(mut w) = why.write() {
                        *w = s.message.clone();
                    }
                    flag.store(FORBIDDEN, Ordering::SeqCst);
                    tracing::warn!(%kind, error = %s.message, "not allowed to list; answering with an error for this kind");
                }
                Err(e) => tracing::warn!(%kind, error = %e, "watch failed; retrying with backoff"),
                Ok(false) => {}
            }
        }
    });
    Watch { store, state, forbidden, task }
}
