//! Conversion between the version a client speaks and the version an object is stored at.
//! Custom resources convert by relabelling (conversion strategy `None`); Events convert between
//! core/v1 (storage) and events.k8s.io/v1.

use serde_json::{Map, Value, json};

use crate::registry::ResourceType;

/// core/v1 field ↔ events.k8s.io/v1 field.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

fn rename(object: &Value, pairs: impl Iterator<Item = (&'static str, &'static str)>, api_version: &str) -> Value {
    let mut out: Map<String, Value> = object.as_object().cloned().unwrap_or_default();
    for (from, to) in pairs {
        if let Some(v) = out.remove(from) {
            out.insert(to.to_string(), v);
        }
    }
    out.insert("apiVersion".into(), json!(api_version));
    Value::Object(out)
}

/// The object as stored, from what a client sent at `rt`'s version.
pub fn to_storage(rt: &ResourceType, object: Value) -> Value {
    if rt.group == "events.k8s.io" {
        return rename(&object, EVENT_FIELDS.iter().map(|(a, b)| (*b, *a)), "v1");
    }
    relabel(object, rt, &rt.storage_version)
}

/// The object as a client reads it at `rt`'s version.
pub fn from_storage(rt: &ResourceType, object: &Value) -> Value {
    if rt.group == "events.k8s.io" {
        return rename(object, EVENT_FIELDS.iter().copied(), "events.k8s.io/v1");
    }
    if object.get("apiVersion").and_then(Value::as_str) == Some(rt.api_version().as_str()) {
        return object.clone();
    }
    relabel(object.clone(), rt, &rt.version)
}

fn relabel(mut object: Value, rt: &ResourceType, version: &str) -> Value {
    let api_version = if rt.group.is_empty() { version.to_string() } else { format!("{}/{}", rt.group, version) };
    if let Some(m) = object.as_object_mut() {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(rt.kind));
    }
    object
}
