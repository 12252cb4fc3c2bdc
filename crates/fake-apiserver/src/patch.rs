//! The patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and strategic merge
//! patch for the built-in kinds (lists merged by their merge keys, `$patch` directives).

use serde_json::{Map, Value};

use crate::fields::{ITEM, ListKind, Schema, item_key};

/// RFC 7386: objects merge, `null` deletes, everything else replaces.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            let mut out = t.clone();
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = merge_patch(t.get(k).unwrap_or(&Value::Null), v);
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        (_, Value::Object(p)) => merge_patch(&Value::Object(Map::new()), &Value::Object(p.clone())),
        (_, p) => p.clone(),
    }
}

/// RFC 6902.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, String> {
    let ops: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| format!("invalid JSON patch: {e}"))?;
    let mut doc = target.clone();
    json_patch::patch(&mut doc, &ops)
        .map_err(|e| format!("the server rejected our request due to an error in our request: {e}"))?;
    Ok(doc)
}

/// Strategic merge patch for built-in kinds.
pub fn strategic_merge_patch(target: &Value, patch: &Value) -> Value {
    smp(target, patch, &[])
}

fn smp(target: &Value, patch: &Value, path: &[String]) -> Value {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut p = p.clone();
                p.remove("$patch");
                return Value::Object(p);
            }
            let mut out = t.clone();
            for (k, v) in p {
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() {
                    out.remove(k);
                    continue;
                }
                let mut child = path.to_vec();
                child.push(k.clone());
                let merged = match t.get(k) {
                    Some(tv) => smp(tv, v, &child),
                    None => fresh(v),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(t), Value::Array(p)) => match Schema::Builtin.list_kind(path) {
            ListKind::Map(keys) => {
                let mut out = t.clone();
                let mut item_path = path.to_vec();
                item_path.push(ITEM.into());
                for item in p {
                    let key = item_key(item, &keys);
                    let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                    match out.iter().position(|o| item_key(o, &keys) == key) {
                        Some(i) if delete => {
                            out.remove(i);
                        }
                        Some(i) => out[i] = smp(&out[i], item, &item_path),
                        None if delete => {}
                        None => out.push(fresh(item)),
                    }
                }
                Value::Array(out)
            }
            ListKind::Set => {
                let mut out = t.clone();
                for item in p {
                    if !out.contains(item) {
                        out.push(item.clone());
                    }
                }
                Value::Array(out)
            }
            ListKind::Atomic => patch.clone(),
        },
        (_, p) => fresh(p),
    }
}

/// A patch value with nothing in the target to merge into, as kube stores it: without `$`
/// directives, and without `null` fields (a null deletes only what exists; kube ignores the
/// unmatched ones, and the built-in types could not hold them anyway).
fn fresh(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, v)| !k.starts_with('$') && !v.is_null()).map(|(k, v)| (k.clone(), fresh(v))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(fresh).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_deletes_with_null() {
        let t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        assert_eq!(merge_patch(&t, &json!({"a": null, "b": {"c": 5}})), json!({"b": {"c": 5, "d": 3}}));
    }

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let t = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}});
        let p = json!({"spec": {"containers": [{"name": "b", "image": "3"}, {"name": "a", "$patch": "delete"}]}});
        assert_eq!(strategic_merge_patch(&t, &p), json!({"spec": {"containers": [{"name": "b", "image": "3"}]}}));
    }

    #[test]
    fn strategic_merge_drops_nulls_it_has_nothing_to_delete_from() {
        let t = json!({"spec": {"replicas": 1}});
        let p = json!({"spec": {"template": {"a": null, "b": {"c": null, "d": 1}}}, "status": {"x": null}});
        assert_eq!(
            strategic_merge_patch(&t, &p),
            json!({"spec": {"replicas": 1, "template": {"b": {"d": 1}}}, "status": {}})
        );
        assert_eq!(strategic_merge_patch(&t, &p), merge_patch(&t, &p));
    }

    #[test]
    fn json_patch_reports_bad_paths() {
        let t = json!({"a": 1});
        assert_eq!(json_patch(&t, &json!([{"op": "replace", "path": "/a", "value": 2}])).ok(), Some(json!({"a": 2})));
        assert!(json_patch(&t, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }
}
