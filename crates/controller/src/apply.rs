//! Writing children: server-side apply under one field manager, only when the live object has
//! drifted from what we render (so a steady state makes no writes), and pruning children the
//! spec no longer wants, found by label and ownerReference.

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::ApiResource;
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::render::{AGENT_LABEL, AGENT_NAMESPACE_LABEL, Child, FIELD_MANAGER};

fn api(client: &Client, ar: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    }
}

/// Parses a Kubernetes quantity into a number, for comparing `0.5` with `500m`.
fn quantity(s: &str) -> Option<f64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match suffix {
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "" => 1.0,
        _ => return None,
    };
    Some(n * factor)
}

/// Whether everything `desired` sets is in `live` with the same value. The live object may carry
/// more (defaults, other managers' fields, status); lists must match item for item.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => is_subset(dv, lv),
            None => dv.is_null() || dv.as_object().is_some_and(|o| o.is_empty()),
        }),
        (Value::Array(d), Value::Array(l)) => d.len() == l.len() && d.iter().zip(l).all(|(d, l)| is_subset(d, l)),
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (Value::String(d), Value::String(l)) => d == l || quantity(d).is_some_and(|q| Some(q) == quantity(l)),
        (Value::Number(d), Value::String(l)) | (Value::String(l), Value::Number(d)) => {
            quantity(l).is_some_and(|q| Some(q) == d.as_f64()) || l == &d.to_string()
        }
        (d, l) => d == l,
    }
}

/// What applying one child did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Applied,
}

/// Server-side applies `child` when the live object differs from it.
pub async fn apply(client: &Client, child: &Child) -> Result<(Outcome, DynamicObject), kube::Error> {
    let ar = child.api_resource();
    let api = api(client, &ar, child.namespace());
    let desired = child.to_json();
    if let Some(live) = api.get_opt(child.name()).await? {
        let live_json = serde_json::to_value(&live).unwrap_or(Value::Null);
        if is_subset(&desired, &live_json) {
            return Ok((Outcome::Unchanged, live));
        }
    }
    let applied = api.patch(child.name(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&desired)).await?;
    Ok((Outcome::Applied, applied))
}

/// Children of an agent that exist, found by label (and, in the agent's namespace, by owner).
pub async fn existing_children(
    client: &Client,
    ar: &ApiResource,
    namespaced: bool,
    agent_namespace: &str,
    agent_name: &str,
    agent_uid: Option<&str>,
) -> Result<Vec<DynamicObject>, kube::Error> {
    let selector = format!("{AGENT_LABEL}={agent_name},{AGENT_NAMESPACE_LABEL}={agent_namespace}");
    // Children outside the agent's namespace (cluster-scoped, or RoleBindings in watched
    // namespaces) can only be found by label across the cluster.
    let list = api(client, ar, None).list(&ListParams::default().labels(&selector)).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|o| {
            let in_agent_ns = o.namespace().as_deref() == Some(agent_namespace);
            !namespaced
                || !in_agent_ns
                || o.owner_references().iter().any(|r| Some(r.uid.as_str()) == agent_uid && r.kind == "GitOpsAgent")
        })
        .collect())
}

/// Deletes one child (gone already is fine).
pub async fn delete(client: &Client, ar: &ApiResource, object: &DynamicObject) -> Result<(), kube::Error> {
    let api = api(client, ar, object.namespace().as_deref());
    match api.delete(&object.name_any(), &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn live_objects_may_carry_more_than_we_render() {
        let desired =
            json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        let live = json!({"spec": {"replicas": 2, "revisionHistoryLimit": 10,
            "template": {"spec": {"containers": [{"name": "a", "image": "x", "terminationMessagePath": "/dev/termination-log"}]}}},
            "status": {"replicas": 2}});
        assert!(is_subset(&desired, &live));
        let edited =
            json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        assert!(!is_subset(&desired, &edited), "a hand edit of a field we set is drift");
    }

    #[test]
    fn quantities_compare_by_value() {
        assert!(is_subset(&json!({"cpu": "500m"}), &json!({"cpu": "0.5"})));
        assert!(is_subset(&json!({"memory": "1Gi"}), &json!({"memory": "1024Mi"})));
        assert!(!is_subset(&json!({"memory": "1Gi"}), &json!({"memory": "1G"})));
        assert!(is_subset(&json!({"n": 1}), &json!({"n": 1.0})));
    }
}
