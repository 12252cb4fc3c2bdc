//! Request counting per verb and resource, readable by tests (e.g. to prove a client makes no
//! writes at steady state).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// Requests served, by `(verb, resource)` where resource is `plural.group` (or a path for
/// non-resource requests).
#[derive(Default)]
pub struct Stats {
    counts: Mutex<BTreeMap<(String, String), u64>>,
}

/// A snapshot of the counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Snapshot {
    pub requests: BTreeMap<String, u64>,
    pub total: u64,
    pub writes: u64,
}

impl Snapshot {
    /// Requests of one verb on one resource (`"list"`, `"deployments.apps"`).
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        self.requests.get(&format!("{verb} {resource}")).copied().unwrap_or(0)
    }

    /// Requests of any verb on a resource.
    pub fn on(&self, resource: &str) -> u64 {
        self.requests.iter().filter(|(k, _)| k.ends_with(&format!(" {resource}"))).map(|(_, v)| v).sum()
    }

    /// Requests other than discovery, which clients make in the background rather than for a
    /// given call.
    pub fn beyond_discovery(&self) -> u64 {
        self.requests.iter().filter(|(k, _)| !k.contains("discovery")).map(|(_, v)| v).sum()
    }

    /// Counters that grew since `earlier`.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let requests: BTreeMap<String, u64> = self
            .requests
            .iter()
            .map(|(k, v)| (k.clone(), v - earlier.requests.get(k).copied().unwrap_or(0)))
            .filter(|(_, v)| *v > 0)
            .collect();
        Snapshot::from_requests(requests)
    }

    fn from_requests(requests: BTreeMap<String, u64>) -> Snapshot {
        let total = requests.values().sum();
        let writes = requests
            .iter()
            .filter(|(k, _)| WRITE_VERBS.iter().any(|w| k.starts_with(&format!("{w} "))))
            .map(|(_, v)| v)
            .sum();
        Snapshot { requests, total, writes }
    }
}

pub const WRITE_VERBS: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

impl Stats {
    pub fn record(&self, verb: &str, resource: &str) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry((verb.to_string(), resource.to_string())).or_default() += 1;
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let requests = self
            .counts
            .lock()
            .map(|c| c.iter().map(|((v, r), n)| (format!("{v} {r}"), *n)).collect())
            .unwrap_or_default();
        Snapshot::from_requests(requests)
    }

    pub fn reset(&self) {
        if let Ok(mut c) = self.counts.lock() {
            c.clear();
        }
    }
}
