//! `meta.k8s.io/v1` Tables, what `kubectl get` asks for: Name, the kind's columns (a CRD's
//! additionalPrinterColumns, a few for built-ins), Age.

use serde_json::{Value, json};

use crate::registry::ResourceType;

/// Evaluates the JSONPath subset printer columns use: `.a.b`, `.a[0].b`, `.a[?(@.k=="v")].b`.
pub fn json_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = object;
    let mut rest = path.trim();
    rest = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')).unwrap_or(rest);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            node = node.get(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            if let Some(filter) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (key, value) = filter.split_once("==")?;
                let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                node =
                    node.as_array()?.iter().find(|item| item.get(key.trim()).and_then(Value::as_str) == Some(value))?;
            } else {
                node = node.get(inner.parse::<usize>().ok()?)?;
            }
        } else {
            return None;
        }
    }
    Some(node)
}

/// A duration as kubectl prints ages: `45s`, `5m12s`, `3h4m`, `2d5h`, `400d`.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..120 => format!("{s}s"),
        120..600 => format!("{}m{}s", s / 60, s % 60),
        600..10_800 => format!("{}m", s / 60),
        10_800..172_800 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        172_800..2_592_000 => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn age(object: &Value) -> String {
    let Some(created) = object.pointer("/metadata/creationTimestamp").and_then(Value::as_str) else {
        return "<unknown>".into();
    };
    match created.parse::<jiff::Timestamp>() {
        Ok(t) => human_age(jiff::Timestamp::now().as_second() - t.as_second()),
        Err(_) => "<invalid>".into(),
    }
}

fn cell(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => json!("<none>"),
        Some(Value::String(s)) => json!(s),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.clone(),
        Some(other) => json!(other.to_string()),
    }
}

type Column = (String, String, Box<dyn Fn(&Value) -> Value>);

fn columns(rt: &ResourceType) -> Vec<Column> {
    let mut cols: Vec<Column> = Vec::new();
    let int = |p: &'static str| move |o: &Value| json!(o.pointer(p).and_then(Value::as_i64).unwrap_or(0));
    if rt.custom {
        for c in &rt.printer_columns {
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let ty = c.get("type").and_then(Value::as_str).unwrap_or("string").to_string();
            let path = c.get("jsonPath").and_then(Value::as_str).unwrap_or_default().to_string();
            if ty == "date" {
                cols.push((name, "string".into(), Box::new(|o: &Value| json!(age(o)))));
            } else {
                cols.push((name, ty, Box::new(move |o: &Value| cell(json_path(o, &path)))));
            }
        }
        if !rt.printer_columns.iter().any(|c| c.get("type").and_then(Value::as_str) == Some("date")) {
            cols.push(("Age".into(), "string".into(), Box::new(|o: &Value| json!(age(o)))));
        }
        return cols;
    }
    match rt.kind.as_str() {
        "Deployment" => {
            cols.push((
                "Ready".into(),
                "string".into(),
                Box::new(|o: &Value| {
                    let ready = o.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0);
                    let want = o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
                    json!(format!("{ready}/{want}"))
                }),
            ));
            cols.push(("Up-to-date".into(), "integer".into(), Box::new(int("/status/updatedReplicas"))));
            cols.push(("Available".into(), "integer".into(), Box::new(int("/status/availableReplicas"))));
        }
        "Pod" => {
            cols.push(("Status".into(), "string".into(), Box::new(|o: &Value| cell(o.pointer("/status/phase")))));
        }
        "Service" => {
            cols.push(("Type".into(), "string".into(), Box::new(|o: &Value| cell(o.pointer("/spec/type")))));
            cols.push(("Cluster-IP".into(), "string".into(), Box::new(|o: &Value| cell(o.pointer("/spec/clusterIP")))));
        }
        "Namespace" => {
            cols.push(("Status".into(), "string".into(), Box::new(|o: &Value| cell(o.pointer("/status/phase")))));
        }
        _ => {}
    }
    cols.push(("Age".into(), "string".into(), Box::new(|o: &Value| json!(age(o)))));
    cols
}

/// A Table of `objects`; `include_object` is the request's `includeObject` (None, Metadata, Object).
pub fn table(rt: &ResourceType, objects: &[Value], include_object: Option<&str>, list_meta: Option<&Value>) -> Value {
    let cols = columns(rt);
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    defs.extend(
        cols.iter()
            .map(|(name, ty, _)| json!({"name": name, "type": ty, "format": "", "description": "", "priority": 0})),
    );
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![cell(o.pointer("/metadata/name"))];
            cells.extend(cols.iter().map(|(_, _, f)| f(o)));
            let object = match include_object {
                Some("None") => Value::Null,
                Some("Object") => o.clone(),
                _ => {
                    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
                }
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    let metadata = list_meta.cloned().unwrap_or_else(|| json!({}));
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_subset() {
        let o =
            json!({"status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(json_path(&o, ".status.conditions[?(@.type==\"Ready\")].status"), Some(&json!("True")));
        assert_eq!(json_path(&o, ".status.conditions[0].type"), Some(&json!("A")));
        assert_eq!(json_path(&o, ".status.missing"), None);
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(42), "42s");
        assert_eq!(human_age(312), "5m12s");
        assert_eq!(human_age(3 * 3600 + 240), "3h4m");
        assert_eq!(human_age(2 * 86_400 + 5 * 3600), "2d5h");
    }
}
