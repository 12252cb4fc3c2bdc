//! Object storage: every object as JSON in its storage version, one global resourceVersion
//! counter, and the event history that watches resume from.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::registry::{Registry, StorageKey};

/// A watch event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change to one object, as every watch sees it.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub key: StorageKey,
    pub event: EventType,
    pub object: Arc<Value>,
    /// The object before this change (for watches filtered by selectors, which must see an
    /// object leave their selection as DELETED).
    pub previous: Option<Arc<Value>>,
}

impl Change {
    pub fn namespace(&self) -> Option<&str> {
        self.object.pointer("/metadata/namespace").and_then(Value::as_str)
    }
}

/// (namespace, name); cluster-scoped objects have an empty namespace.
pub type ObjectKey = (String, String);

pub struct Store {
    pub registry: Registry,
    rv: u64,
    objects: HashMap<StorageKey, BTreeMap<ObjectKey, Value>>,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// The oldest resourceVersion a watch can still start from.
    compacted_rv: u64,
    changes: broadcast::Sender<Arc<Change>>,
    pub logs: HashMap<(String, String, String), String>,
    next_cluster_ip: u32,
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (changes, _) = broadcast::channel(65_536);
        Self {
            registry: Registry::with_builtins(),
            rv: 1,
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_limit,
            compacted_rv: 1,
            changes,
            logs: HashMap::new(),
            next_cluster_ip: 10,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn compacted_rv(&self) -> u64 {
        self.compacted_rv
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// Changes after `rv`, oldest first.
    pub fn history_since(&self, rv: u64) -> Vec<Arc<Change>> {
        self.history.iter().filter(|c| c.rv > rv).cloned().collect()
    }

    /// Forgets history: watches from any earlier resourceVersion get 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted_rv = self.rv;
    }

    pub fn get(&self, key: &StorageKey, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(key).and_then(|m| m.get(&(ns.to_string(), name.to_string())))
    }

    /// Objects of one storage, optionally in one namespace, ordered by (namespace, name).
    pub fn list<'a>(&'a self, key: &StorageKey, ns: Option<&'a str>) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects
            .get(key)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(move |((o_ns, _), _)| ns.is_none_or(|n| n == o_ns))
            .map(|(_, v)| v)
    }

    /// Every stored object with its storage key (for GC and namespace cleanup).
    pub fn all_objects(&self) -> impl Iterator<Item = (&StorageKey, &Value)> {
        self.objects.iter().flat_map(|(k, m)| m.values().map(move |v| (k, v)))
    }

    pub fn count(&self, key: &StorageKey) -> usize {
        self.objects.get(key).map_or(0, BTreeMap::len)
    }

    /// Stores `object` under a new resourceVersion and tells every watch.
    pub fn put(&mut self, key: &StorageKey, mut object: Value, event: EventType) -> Value {
        self.rv += 1;
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        }
        let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let previous = self.objects.entry(key.clone()).or_default().insert((ns, name), object.clone());
        self.record(key, event, object.clone(), previous);
        object
    }

    /// Removes an object; the DELETED event carries it with a new resourceVersion.
    pub fn remove(&mut self, key: &StorageKey, ns: &str, name: &str) -> Option<Value> {
        let mut object = self.objects.get_mut(key)?.remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        }
        self.record(key, EventType::Deleted, object.clone(), None);
        Some(object)
    }

    /// Drops a whole storage (when its CRD is deleted), telling watches each object is gone.
    pub fn drop_storage(&mut self, key: &StorageKey) {
        let keys: Vec<ObjectKey> = self.objects.get(key).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        for (ns, name) in keys {
            self.remove(key, &ns, &name);
        }
        self.objects.remove(key);
    }

    fn record(&mut self, key: &StorageKey, event: EventType, object: Value, previous: Option<Value>) {
        let change = Arc::new(Change {
            rv: self.rv,
            key: key.clone(),
            event,
            object: Arc::new(object),
            previous: previous.map(Arc::new),
        });
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted_rv = old.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.changes.send(change);
    }

    /// A Service cluster IP from 10.96.0.0/16, never reused.
    pub fn allocate_cluster_ip(&mut self) -> String {
        let n = self.next_cluster_ip;
        self.next_cluster_ip += 1;
        format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }
}
