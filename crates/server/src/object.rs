//! Reading fields and conditions out of cached objects, whose kinds have no Rust types here.

use kube::ResourceExt;
use kube::api::DynamicObject;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// The value at a path of keys under the object's top-level fields (`spec`, `status`, …).
pub fn at<'a>(obj: &'a DynamicObject, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(&obj.data, |v, key| v.get(key))
}

pub fn str_at<'a>(obj: &'a DynamicObject, path: &[&str]) -> Option<&'a str> {
    at(obj, path).and_then(Value::as_str)
}

pub fn bool_at(obj: &DynamicObject, path: &[&str]) -> Option<bool> {
    at(obj, path).and_then(Value::as_bool)
}

pub fn i64_at(obj: &DynamicObject, path: &[&str]) -> Option<i64> {
    at(obj, path).and_then(Value::as_i64)
}

/// `namespace/name`, or `name` for a cluster-scoped object.
pub fn display_name(obj: &DynamicObject) -> String {
    match obj.namespace() {
        Some(ns) => format!("{ns}/{}", obj.name_any()),
        None => obj.name_any(),
    }
}

/// A status condition (Kubernetes' metav1.Condition shape, which Flux and CAPI use).
#[derive(Serialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

pub fn conditions(obj: &DynamicObject) -> Vec<Condition> {
    let Some(list) = at(obj, &["status", "conditions"]).and_then(Value::as_array) else {
        return vec![];
    };
    list.iter()
        .map(|c| {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            Condition {
                type_: s("type"),
                status: s("status"),
                reason: s("reason"),
                message: s("message"),
                last_transition_time: c.get("lastTransitionTime").and_then(Value::as_str).map(str::to_string),
            }
        })
        .collect()
}

pub fn condition(obj: &DynamicObject, type_: &str) -> Option<Condition> {
    conditions(obj).into_iter().find(|c| c.type_ == type_)
}

/// How a reconciled object stands, in the order answers list them (worst first).
#[derive(Serialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Ready=False and Stalled=True: the controller gave up until something changes.
    Stalled,
    /// Ready=False.
    Failed,
    /// Ready=Unknown, or Reconciling=True, or no Ready condition yet.
    Progressing,
    /// `spec.suspend: true` (whatever its last Ready condition says).
    Suspended,
    Ready,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stalled => "stalled",
            State::Failed => "failed",
            State::Progressing => "progressing",
            State::Suspended => "suspended",
            State::Ready => "ready",
        }
    }

    pub fn is_failing(self) -> bool {
        matches!(self, State::Stalled | State::Failed)
    }
}

/// The state of a Flux object (Kustomization, HelmRelease, source) from `spec.suspend` and its
/// kstatus conditions (read once by the caller).
pub fn state_of(obj: &DynamicObject, conds: &[Condition]) -> State {
    if bool_at(obj, &["spec", "suspend"]) == Some(true) {
        return State::Suspended;
    }
    let is = |t: &str, s: &str| conds.iter().any(|c| c.type_ == t && c.status == s);
    if is("Ready", "True") {
        State::Ready
    } else if is("Ready", "False") {
        if is("Stalled", "True") { State::Stalled } else { State::Failed }
    } else {
        State::Progressing
    }
}

/// A Flux object's reference to its source, as `Kind/namespace/name`.
pub fn source_ref(obj: &DynamicObject) -> Option<(String, String, String)> {
    let r = at(obj, &["spec", "sourceRef"])
        .or_else(|| at(obj, &["spec", "chart", "spec", "sourceRef"]))
        .or_else(|| at(obj, &["spec", "chartRef"]))?;
    let kind = r.get("kind").and_then(Value::as_str)?.to_string();
    let name = r.get("name").and_then(Value::as_str)?.to_string();
    let ns =
        r.get("namespace").and_then(Value::as_str).map(str::to_string).or_else(|| obj.namespace()).unwrap_or_default();
    Some((kind, ns, name))
}

/// The Kustomization or HelmRelease that manages an object, from the labels Flux puts on
/// everything it applies: (kind, namespace, name).
pub fn managed_by(obj: &DynamicObject) -> Option<(&'static str, String, String)> {
    let labels = obj.labels();
    for (kind, prefix) in [("Kustomization", "kustomize.toolkit.fluxcd.io"), ("HelmRelease", "helm.toolkit.fluxcd.io")]
    {
        if let (Some(name), Some(ns)) =
            (labels.get(&format!("{prefix}/name")), labels.get(&format!("{prefix}/namespace")))
        {
            return Some((kind, ns.clone(), name.clone()));
        }
    }
    None
}

/// A Flux object's state and the time its Ready condition last changed, read without copying
/// anything: list tools rank every cached object by this and build full rows only for one page.
pub fn quick_state(obj: &DynamicObject) -> (State, Option<&str>) {
    let conds = at(obj, &["status", "conditions"]).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let find = |t: &str| conds.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(t));
    let ready = find("Ready");
    let since = ready.and_then(|c| c.get("lastTransitionTime")).and_then(Value::as_str);
    if bool_at(obj, &["spec", "suspend"]) == Some(true) {
        return (State::Suspended, since);
    }
    fn status(c: Option<&Value>) -> Option<&str> {
        c.and_then(|c| c.get("status")).and_then(Value::as_str)
    }
    let state = match status(ready) {
        Some("True") => State::Ready,
        Some("False") if status(find("Stalled")) == Some("True") => State::Stalled,
        Some("False") => State::Failed,
        _ => State::Progressing,
    };
    (state, since)
}

/// Orders objects worst first by [`quick_state`]; among failures the oldest first; then by
/// namespace, kind and name.
pub fn worst_first(
    a: &(State, Option<&str>, &DynamicObject),
    b: &(State, Option<&str>, &DynamicObject),
) -> std::cmp::Ordering {
    a.0.cmp(&b.0).then_with(|| if a.0.is_failing() { a.1.cmp(&b.1) } else { std::cmp::Ordering::Equal }).then_with(
        || {
            fn kind(o: &DynamicObject) -> Option<&str> {
                o.types.as_ref().map(|t| t.kind.as_str())
            }
            (&a.2.metadata.namespace, kind(a.2), &a.2.metadata.name).cmp(&(
                &b.2.metadata.namespace,
                kind(b.2),
                &b.2.metadata.name,
            ))
        },
    )
}
