//! Who subscribed to what, and when they are told: the hub between the watch cache's
//! [`Change`]s and the subscribers (a 2025 session's `resources/subscribe`, a 2026-07-28
//! `subscriptions/listen` stream). Transport-neutral: a subscriber is a queue of [`Notice`]s that
//! its transport drains, checking the caller's access and sending each.
//!
//! Debounced: the first change of a subscribed URI schedules one notice for `debounce` later, and
//! the changes that follow within that window ride on it, so a burst of status writes during one
//! reconcile is one `notifications/resources/updated`. `list_changed` is coalesced the same way
//! over a longer window: object churn must not flood a client.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::changes::{Change, ChangeSink};
use super::uri::{ResourceUri, kind_segment};
use crate::metrics::Metrics;

/// What a subscriber is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Updated(String),
    ListChanged,
}

/// Notices a subscriber may have waiting: a client that reads nothing loses the excess (each is
/// only "look again", and a later one says the same).
const QUEUE: usize = 1024;

/// How long `list_changed` notices are coalesced.
const LIST_WINDOW: Duration = Duration::from_secs(1);

struct Entry {
    uris: HashSet<String>,
    list_changed: bool,
    tx: mpsc::Sender<Notice>,
}

#[derive(Default)]
struct State {
    by_uri: HashMap<String, HashSet<u64>>,
    subscribers: HashMap<u64, Entry>,
}

impl State {
    fn wanted(&self) -> bool {
        !self.subscribers.is_empty()
    }

    fn pairs(&self) -> usize {
        self.by_uri.values().map(HashSet::len).sum()
    }
}

pub struct Subscriptions {
    state: Mutex<State>,
    listening: Arc<AtomicBool>,
    next_id: AtomicU64,
    metrics: Arc<Metrics>,
}

impl Subscriptions {
    /// The hub, and the sink the watch caches send their changes to; the hub's task runs until
    /// the sink and every clone of it are dropped.
    pub fn start(debounce: Duration, metrics: Arc<Metrics>) -> (Arc<Subscriptions>, ChangeSink) {
        let (tx, rx) = mpsc::unbounded_channel();
        let listening = Arc::new(AtomicBool::new(false));
        let hub = Arc::new(Subscriptions {
            state: Mutex::new(State::default()),
            listening: listening.clone(),
            next_id: AtomicU64::new(1),
            metrics,
        });
        tokio::spawn(run(Arc::downgrade(&hub), rx, debounce));
        (hub, ChangeSink::new(tx, listening))
    }

    /// A new subscriber (with no URIs yet), and the queue its notices arrive on.
    pub fn subscribe(self: &Arc<Self>, list_changed: bool) -> (Subscriber, mpsc::Receiver<Notice>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        state.subscribers.insert(id, Entry { uris: HashSet::new(), list_changed, tx });
        self.listening.store(true, Ordering::Relaxed);
        (Subscriber { id, hub: Arc::downgrade(self) }, rx)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish_size(&self, state: &State) {
        self.metrics.resource_subscriptions.set(state.pairs() as i64);
        self.listening.store(state.wanted(), Ordering::Relaxed);
    }

    /// Whether any subscriber watches `uri`.
    fn watched(&self, uri: &str) -> bool {
        self.lock().by_uri.contains_key(uri)
    }

    /// The subscribed URIs of a kind on a cluster (all of them went away).
    fn watched_of(&self, cluster: &str, kind: crate::kinds::Kind) -> Vec<String> {
        let prefix = format!("{}://{cluster}/{}/", super::uri::SCHEME, kind_segment(kind));
        self.lock().by_uri.keys().filter(|u| u.starts_with(&prefix)).cloned().collect()
    }

    fn wants_list(&self) -> bool {
        self.lock().subscribers.values().any(|e| e.list_changed)
    }

    /// Queues `notice` for the subscribers of `uri` (`None`: those who want `list_changed`).
    fn deliver(&self, uri: Option<&str>, notice: Notice) {
        let state = self.lock();
        let targets: Vec<&Entry> = match uri {
            Some(uri) => {
                state.by_uri.get(uri).into_iter().flatten().filter_map(|id| state.subscribers.get(id)).collect()
            }
            None => state.subscribers.values().filter(|e| e.list_changed).collect(),
        };
        for entry in targets {
            if entry.tx.try_send(notice.clone()).is_err() {
                // Full (a client that reads nothing) or closed (its transport is going away).
                self.metrics.resource_notification("dropped");
            }
        }
    }
}

/// One subscriber's registration; dropping it unsubscribes from everything.
pub struct Subscriber {
    id: u64,
    hub: Weak<Subscriptions>,
}

impl Subscriber {
    /// Adds a URI (already checked by the caller: [`ResourceUri::parse`]).
    pub fn add(&self, uri: &ResourceUri) {
        let Some(hub) = self.hub.upgrade() else { return };
        let uri = uri.to_string();
        let mut state = hub.lock();
        if let Some(entry) = state.subscribers.get_mut(&self.id) {
            entry.uris.insert(uri.clone());
            state.by_uri.entry(uri).or_default().insert(self.id);
        }
        hub.publish_size(&state);
    }

    /// Removes a URI; false if it was not subscribed.
    pub fn remove(&self, uri: &str) -> bool {
        let Some(hub) = self.hub.upgrade() else { return false };
        let mut state = hub.lock();
        let removed = state.subscribers.get_mut(&self.id).is_some_and(|e| e.uris.remove(uri));
        if removed {
            forget(&mut state.by_uri, uri, self.id);
        }
        hub.publish_size(&state);
        removed
    }
}

fn forget(by_uri: &mut HashMap<String, HashSet<u64>>, uri: &str, id: u64) {
    if let Some(ids) = by_uri.get_mut(uri) {
        ids.remove(&id);
        if ids.is_empty() {
            by_uri.remove(uri);
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let Some(hub) = self.hub.upgrade() else { return };
        let mut state = hub.lock();
        if let Some(entry) = state.subscribers.remove(&self.id) {
            for uri in entry.uris {
                forget(&mut state.by_uri, &uri, self.id);
            }
        }
        hub.publish_size(&state);
    }
}

/// The hub's loop: takes changes, waits out each URI's window, then queues the notices.
async fn run(hub: Weak<Subscriptions>, mut changes: mpsc::UnboundedReceiver<Change>, debounce: Duration) {
    let mut due: BinaryHeap<Reverse<(Instant, String)>> = BinaryHeap::new();
    let mut pending: HashSet<String> = HashSet::new();
    let mut list_due: Option<Instant> = None;
    loop {
        let next = due.peek().map(|Reverse((at, _))| *at).into_iter().chain(list_due).min();
        let change = match next {
            Some(at) => tokio::select! {
                change = changes.recv() => change.map(Some),
                () = tokio::time::sleep_until(at) => Some(None),
            },
            None => changes.recv().await.map(Some),
        };
        let Some(change) = change else { return };
        let Some(hub) = hub.upgrade() else { return };
        let now = Instant::now();
        let mut updated = |uri: String| {
            if !pending.contains(&uri) && hub.watched(&uri) {
                pending.insert(uri.clone());
                due.push(Reverse((now + debounce, uri)));
            }
        };
        // The window after which the list's change is told, when the change is one.
        let list_window = match change {
            Some(Change::Updated(uri)) => {
                updated(uri);
                None
            }
            Some(Change::KindGone { cluster, kind }) => {
                for uri in hub.watched_of(&cluster, kind) {
                    updated(uri);
                }
                Some(debounce)
            }
            Some(Change::ListChanged) => Some(LIST_WINDOW),
            None => None,
        };
        if let Some(window) = list_window
            && list_due.is_none()
            && hub.wants_list()
        {
            list_due = Some(now + window);
        }
        while let Some(Reverse((at, _))) = due.peek()
            && *at <= now
        {
            let Some(Reverse((_, uri))) = due.pop() else { break };
            pending.remove(&uri);
            hub.deliver(Some(&uri), Notice::Updated(uri.clone()));
        }
        if list_due.is_some_and(|at| at <= now) {
            list_due = None;
            hub.deliver(None, Notice::ListChanged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds;

    fn uri(s: &str) -> ResourceUri {
        ResourceUri::parse(s).expect("uri")
    }

    /// The next notice within `wait`, if any.
    async fn next(rx: &mut mpsc::Receiver<Notice>, wait: Duration) -> Option<Notice> {
        tokio::time::timeout(wait, rx.recv()).await.ok().flatten()
    }

    #[tokio::test]
    async fn a_burst_of_changes_is_one_notice_after_the_window() {
        let (hub, sink) = Subscriptions::start(Duration::from_millis(300), Arc::new(Metrics::default()));
        let (sub, mut rx) = hub.subscribe(false);
        sub.add(&uri("flux://local/kustomization/flux-system/apps"));
        let sent = Instant::now();
        for _ in 0..5 {
            sink.send(Change::Updated("flux://local/kustomization/flux-system/apps".into()));
            sink.send(Change::Updated("flux://local/kustomization/flux-system/other".into()));
        }
        let first = next(&mut rx, Duration::from_secs(5)).await;
        assert_eq!(first, Some(Notice::Updated("flux://local/kustomization/flux-system/apps".into())));
        assert!(sent.elapsed() >= Duration::from_millis(300), "not before the window ends");
        assert_eq!(
            next(&mut rx, Duration::from_secs(1)).await,
            None,
            "exactly one notice, none for the URI nobody watches"
        );
    }

    #[tokio::test]
    async fn list_changes_go_to_those_who_asked_and_unsubscribing_stops_notices() {
        let metrics = Arc::new(Metrics::default());
        let (hub, sink) = Subscriptions::start(Duration::from_millis(50), metrics.clone());
        let (lists, mut list_rx) = hub.subscribe(true);
        let (objects, mut object_rx) = hub.subscribe(false);
        objects.add(&uri("flux://prod/helmrelease/team-b/redis"));
        assert_eq!(metrics.resource_subscriptions.get(), 1);
        for _ in 0..10 {
            sink.send(Change::ListChanged);
        }
        sink.send(Change::KindGone { cluster: "prod".into(), kind: kinds::HELMRELEASE });
        assert_eq!(
            next(&mut object_rx, Duration::from_secs(5)).await,
            Some(Notice::Updated("flux://prod/helmrelease/team-b/redis".into()))
        );
        assert_eq!(next(&mut list_rx, Duration::from_secs(5)).await, Some(Notice::ListChanged));
        assert_eq!(next(&mut list_rx, Duration::from_secs(2)).await, None, "coalesced");
        assert!(objects.remove("flux://prod/helmrelease/team-b/redis"));
        assert_eq!(metrics.resource_subscriptions.get(), 0);
        sink.send(Change::Updated("flux://prod/helmrelease/team-b/redis".into()));
        assert_eq!(next(&mut object_rx, Duration::from_millis(500)).await, None);
        drop(lists);
        drop(objects);
        assert!(!hub.listening.load(Ordering::Relaxed), "watches stop comparing once nobody listens");
    }
}
