//! What the watch cache tells subscribers: the changes of cached Flux objects that a client can
//! see in a resource, found where the watch applies its events ([`crate::watch_store::Writer`]).
//!
//! A change is what moves the object's [`fingerprint`]: its Ready condition, its revisions,
//! whether it is suspended, or its deletion. A resync that relists the same objects, or a status
//! write that only touches timestamps, moves nothing and notifies nobody.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kube::api::DynamicObject;
use serde_json::Value;
use tokio::sync::mpsc;

use super::uri::ResourceUri;
use crate::kinds::Kind;
use crate::object;

/// What the subscriptions hub is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The resource at this URI changed (or went away, or appeared).
    Updated(String),
    /// The set of resources changed: an object was created or deleted, a Flux kind was installed
    /// or removed, a cluster joined or left.
    ListChanged,
    /// A Flux kind is no longer served on a cluster: every object of it is gone at once.
    KindGone { cluster: String, kind: Kind },
}

/// Where the watches of every cluster send their changes. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ChangeSink {
    tx: mpsc::UnboundedSender<Change>,
    /// Whether anyone subscribes: until then, watches skip comparing objects.
    listening: Arc<AtomicBool>,
}

impl ChangeSink {
    pub fn new(tx: mpsc::UnboundedSender<Change>, listening: Arc<AtomicBool>) -> Self {
        Self { tx, listening }
    }

    pub fn send(&self, change: Change) {
        // The hub only stops with the agent: nothing is lost that anyone could still receive.
        let _ = self.tx.send(change);
    }

    /// The sink of one watched Flux kind of one cluster.
    pub fn for_kind(&self, cluster: &str, kind: Kind) -> ObjectChanges {
        ObjectChanges { sink: self.clone(), cluster: cluster.to_string(), kind }
    }

    /// Flux kinds installed on or removed from a cluster.
    pub fn kinds_changed(&self, cluster: &str, gone: &[Kind]) {
        for kind in gone {
            self.send(Change::KindGone { cluster: cluster.to_string(), kind: *kind });
        }
        self.send(Change::ListChanged);
    }
}

/// The changes of one watch: one Flux kind on one cluster.
#[derive(Clone, Debug)]
pub struct ObjectChanges {
    sink: ChangeSink,
    cluster: String,
    kind: Kind,
}

impl ObjectChanges {
    /// Whether anyone may want to hear (else the watch skips the comparisons).
    pub fn active(&self) -> bool {
        self.sink.listening.load(Ordering::Relaxed)
    }

    fn uri(&self, namespace: &str, name: &str) -> String {
        ResourceUri::Object {
            cluster: self.cluster.clone(),
            kind: self.kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
        .to_string()
    }

    /// The object's state changed: it, and its cluster's summary, are updated.
    pub fn updated(&self, namespace: &str, name: &str) {
        self.sink.send(Change::Updated(self.uri(namespace, name)));
        self.sink.send(Change::Updated(ResourceUri::Summary { cluster: self.cluster.clone() }.to_string()));
    }

    /// The object appeared or went away: it is updated, and so is the list of resources.
    pub fn created_or_deleted(&self, namespace: &str, name: &str) {
        self.updated(namespace, name);
        self.sink.send(Change::ListChanged);
    }
}

/// What a subscriber of an object is told about: its Ready condition (status, reason, message),
/// its revisions (applied, attempted, artifact, the latest Helm release) and whether it is
/// suspended. Resource versions and timestamps are left out, so a write that changes neither
/// (Flux records each reconcile's time) is not a change.
pub fn fingerprint(obj: &DynamicObject) -> u64 {
    let mut h = DefaultHasher::new();
    let ready = object::at(obj, &["status", "conditions"])
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("Ready")));
    for field in ["status", "reason", "message"] {
        ready.and_then(|c| c.get(field)).and_then(Value::as_str).hash(&mut h);
    }
    for path in [
        &["status", "lastAppliedRevision"][..],
        &["status", "lastAttemptedRevision"],
        &["status", "artifact", "revision"],
    ] {
        object::str_at(obj, path).hash(&mut h);
    }
    let latest = object::at(obj, &["status", "history"]).and_then(Value::as_array).and_then(|h| h.first());
    for field in ["chartVersion", "status", "digest"] {
        latest.and_then(|e| e.get(field)).and_then(Value::as_str).hash(&mut h);
    }
    latest.and_then(|e| e.get("version")).and_then(Value::as_i64).hash(&mut h);
    object::bool_at(obj, &["spec", "suspend"]).unwrap_or(false).hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use kube::api::ApiResource;
    use kube::core::GroupVersionKind;
    use serde_json::json;

    use super::*;
    use crate::kinds;

    fn kustomization(status: Value) -> DynamicObject {
        let resource =
            ApiResource::from_gvk(&GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"));
        let mut o = DynamicObject::new("apps", &resource).within("flux-system");
        o.data = json!({"spec": {"interval": "5m"}, "status": status});
        o
    }

    fn ready(status: &str, revision: &str, handled: &str) -> Value {
        json!({
            "conditions": [
                {"type": "Reconciling", "status": "False", "reason": "Succeeded", "lastTransitionTime": handled},
                {"type": "Ready", "status": status, "reason": "ReconciliationSucceeded", "message": format!("Applied revision: {revision}"), "lastTransitionTime": handled}
            ],
            "lastAppliedRevision": revision,
            "lastHandledReconcileAt": handled,
        })
    }

    #[test]
    fn ready_and_revision_changes_move_the_fingerprint_timestamps_do_not() {
        let base = fingerprint(&kustomization(ready("True", "main@sha1:1", "2026-01-01T00:00:00Z")));
        assert_eq!(base, fingerprint(&kustomization(ready("True", "main@sha1:1", "2026-01-01T00:05:00Z"))));
        assert_ne!(base, fingerprint(&kustomization(ready("False", "main@sha1:1", "2026-01-01T00:00:00Z"))));
        assert_ne!(base, fingerprint(&kustomization(ready("True", "main@sha1:2", "2026-01-01T00:00:00Z"))));
        let mut suspended = kustomization(ready("True", "main@sha1:1", "2026-01-01T00:00:00Z"));
        suspended.data["spec"]["suspend"] = json!(true);
        assert_ne!(base, fingerprint(&suspended));
    }

    #[test]
    fn helm_history_counts_as_a_revision() {
        let release =
            |v: i64| kustomization(json!({"history": [{"chartVersion": "1.0.0", "status": "deployed", "version": v}]}));
        assert_ne!(fingerprint(&release(1)), fingerprint(&release(2)));
    }

    #[tokio::test]
    async fn an_update_names_the_object_and_its_cluster_summary() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sink = ChangeSink::new(tx, Arc::new(AtomicBool::new(true)));
        let changes = sink.for_kind("prod", kinds::HELMRELEASE);
        assert!(changes.active());
        changes.created_or_deleted("team-b", "redis");
        assert_eq!(rx.recv().await, Some(Change::Updated("flux://prod/helmrelease/team-b/redis".into())));
        assert_eq!(rx.recv().await, Some(Change::Updated("flux://prod/summary".into())));
        assert_eq!(rx.recv().await, Some(Change::ListChanged));
    }
}
