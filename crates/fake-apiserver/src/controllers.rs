//! What the cluster's own controllers do, as far as our clients can see: the garbage collector
//! (ownerReferences, foreground and orphan deletion), namespace termination, and Deployments
//! reporting their replicas ready.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::registry::{ResourceType, StorageKey};
use crate::server::{Propagation, Server};
use crate::store::{EventType, Store};

fn meta<'a>(o: &'a Value, f: &str) -> Option<&'a str> {
    o.get("metadata").and_then(|m| m.get(f)).and_then(Value::as_str)
}

fn has_finalizer(o: &Value, f: &str) -> bool {
    o.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| x == f))
}

fn type_of(st: &Store, key: &StorageKey) -> Option<ResourceType> {
    st.registry
        .versions_of(key)
        .find(|t| t.version == t.storage_version)
        .or_else(|| st.registry.versions_of(key).next())
        .cloned()
}

enum Action {
    Delete(StorageKey, String, String),
    SetOwners(StorageKey, String, String, Vec<Value>),
    DropFinalizer(StorageKey, String, String, &'static str),
    FinalizeNamespace(String),
}

/// One pass of garbage collection and namespace cleanup; returns how many objects changed.
fn collect_once(server: &Server, st: &mut Store) -> usize {
    struct Owner {
        foreground: bool,
        orphan: bool,
    }
    let mut owners: HashMap<String, Owner> = HashMap::new();
    for (_, o) in st.all_objects() {
        if let Some(uid) = meta(o, "uid") {
            let deleting = meta(o, "deletionTimestamp").is_some();
            owners.insert(
                uid.to_string(),
                Owner {
                    foreground: deleting && has_finalizer(o, "foregroundDeletion"),
                    orphan: deleting && has_finalizer(o, "orphan"),
                },
            );
        }
    }
    let terminating: Vec<String> = st
        .list(&StorageKey { group: String::new(), plural: "namespaces".into() }, None)
        .filter(|n| meta(n, "deletionTimestamp").is_some())
        .filter_map(|n| meta(n, "name").map(str::to_string))
        .collect();

    let mut actions = Vec::new();
    let mut dependents_of: HashMap<String, usize> = HashMap::new();
    for (key, o) in st.all_objects() {
        let ns = meta(o, "namespace").unwrap_or_default().to_string();
        let name = meta(o, "name").unwrap_or_default().to_string();
        let deleting = meta(o, "deletionTimestamp").is_some();
        if terminating.contains(&ns) && !deleting {
            actions.push(Action::Delete(key.clone(), ns.clone(), name.clone()));
            continue;
        }
        let refs = o.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
        if refs.is_empty() {
            continue;
        }
        for r in &refs {
            if let Some(uid) = r.get("uid").and_then(Value::as_str) {
                *dependents_of.entry(uid.to_string()).or_default() += 1;
            }
        }
        let owner = |r: &Value| r.get("uid").and_then(Value::as_str).and_then(|u| owners.get(u));
        let keep: Vec<Value> = refs.iter().filter(|r| owner(r).is_some_and(|o| !o.orphan)).cloned().collect();
        let foreground = refs.iter().any(|r| owner(r).is_some_and(|o| o.foreground));
        let any_orphaning = refs.iter().any(|r| owner(r).is_some_and(|o| o.orphan));
        if (keep.is_empty() && !any_orphaning) || foreground {
            if !deleting {
                actions.push(Action::Delete(key.clone(), ns, name));
            }
        } else if keep.len() != refs.len() {
            actions.push(Action::SetOwners(key.clone(), ns, name, keep));
        }
    }
    for (key, o) in st.all_objects() {
        if meta(o, "deletionTimestamp").is_none() {
            continue;
        }
        let uid = meta(o, "uid").unwrap_or_default();
        let ns = meta(o, "namespace").unwrap_or_default().to_string();
        let name = meta(o, "name").unwrap_or_default().to_string();
        if dependents_of.get(uid).copied().unwrap_or(0) == 0 {
            for f in ["foregroundDeletion", "orphan"] {
                if has_finalizer(o, f) {
                    actions.push(Action::DropFinalizer(key.clone(), ns.clone(), name.clone(), f));
                }
            }
        }
    }
    for ns in &terminating {
        let empty =
            st.all_objects().all(|(k, o)| k.plural == "namespaces" || meta(o, "namespace") != Some(ns.as_str()));
        if empty {
            actions.push(Action::FinalizeNamespace(ns.clone()));
        }
    }

    let mut changed = 0;
    for action in actions {
        match action {
            Action::Delete(key, ns, name) => {
                if let Some(rt) = type_of(st, &key)
                    && server.delete_locked(st, &rt, &ns, &name, Propagation::Background, (None, None), false).is_ok()
                {
                    changed += 1;
                }
            }
            Action::SetOwners(key, ns, name, keep) => {
                if let (Some(rt), Some(old)) = (type_of(st, &key), st.get(&key, &ns, &name).cloned()) {
                    let mut new = old.clone();
                    new["metadata"]["ownerReferences"] = if keep.is_empty() { Value::Null } else { json!(keep) };
                    if let Some(m) = new["metadata"].as_object_mut()
                        && keep.is_empty()
                    {
                        m.remove("ownerReferences");
                    }
                    if server.system_update(st, &rt, old, new, "generic-garbage-collector").is_ok() {
                        changed += 1;
                    }
                }
            }
            Action::DropFinalizer(key, ns, name, finalizer) => {
                if let (Some(rt), Some(old)) = (type_of(st, &key), st.get(&key, &ns, &name).cloned()) {
                    let mut new = old.clone();
                    if let Some(a) = new.pointer_mut("/metadata/finalizers").and_then(Value::as_array_mut) {
                        a.retain(|f| f != finalizer);
                    }
                    if server.system_update(st, &rt, old, new, "generic-garbage-collector").is_ok() {
                        changed += 1;
                    }
                }
            }
            Action::FinalizeNamespace(ns) => {
                let key = StorageKey { group: String::new(), plural: "namespaces".into() };
                if st.remove(&key, "", &ns).is_some() {
                    changed += 1;
                }
            }
        }
    }
    changed
}

/// Runs the garbage collector whenever something is deleted, until nothing more changes.
pub async fn garbage_collector(server: Arc<Server>) {
    loop {
        server.gc_wake.notified().await;
        // Let a burst of deletions land before scanning.
        tokio::time::sleep(Duration::from_millis(20)).await;
        for _ in 0..100 {
            if server.with_store(|st| collect_once(&server, st)) == 0 {
                break;
            }
        }
    }
}

fn deployment_type(st: &Store) -> Option<ResourceType> {
    st.registry.find("apps", "v1", "deployments").cloned()
}

/// The status a Deployment reports once its pods are up.
fn ready_status(d: &Value) -> Value {
    let replicas = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let generation = d.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
    let now = crate::server::now();
    let condition = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "reason": reason, "message": message, "lastUpdateTime": now, "lastTransitionTime": now});
    let mut status = json!({
        "observedGeneration": generation,
        "conditions": [
            condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            condition("Progressing", "NewReplicaSetAvailable", "ReplicaSet has successfully progressed."),
        ],
    });
    if replicas > 0 {
        for f in ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"] {
            status[f] = json!(replicas);
        }
    }
    status
}

/// Reports each Deployment's replicas ready after the configured delay.
pub async fn deployment_controller(server: Arc<Server>) {
    let mut changes = server.with_store(|st| st.subscribe());
    let delay = server.config.deployment_ready_after;
    let key = StorageKey { group: "apps".into(), plural: "deployments".into() };
    loop {
        let change = match changes.recv().await {
            Ok(c) => c,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        if change.key != key || change.event == EventType::Deleted {
            continue;
        }
        let generation = change.object.pointer("/metadata/generation").and_then(Value::as_i64);
        let observed = change.object.pointer("/status/observedGeneration").and_then(Value::as_i64);
        // Nothing to do once the status reports this generation (fixtures may carry a status
        // recorded at a later generation than the one the fake server assigns on load).
        if observed.is_some_and(|o| generation.is_some_and(|g| o >= g)) {
            continue;
        }
        let ns = meta(&change.object, "namespace").unwrap_or_default().to_string();
        let name = meta(&change.object, "name").unwrap_or_default().to_string();
        let server = server.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let current = server.with_store(|st| {
                st.get(&StorageKey { group: "apps".into(), plural: "deployments".into() }, &ns, &name).cloned()
            });
            let Some(current) = current else { return };
            let observed = current.pointer("/status/observedGeneration").and_then(Value::as_i64);
            if current.pointer("/metadata/generation").and_then(Value::as_i64) != generation
                || observed.is_some_and(|o| generation.is_some_and(|g| o >= g))
            {
                return;
            }
            if let Some(rt) = server.with_store(|st| deployment_type(st)) {
                let _ = server.write_status(&rt, &ns, &name, ready_status(&current), "kube-controller-manager");
            }
        });
    }
}
