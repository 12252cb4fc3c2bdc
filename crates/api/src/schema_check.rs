//! Structural validation of a JSON value against a CRD's OpenAPI v3 schema, the way the Kubernetes
//! API server checks a custom resource: types, enums, ranges, lengths, patterns, required fields,
//! and unknown fields (what strict field validation refuses). Messages follow the API server's
//! `field.Error` wording so a user sees the same text from `render` as from `kubectl apply`.
//!
//! It is generic over the schema, so the embedded test API server checks any CRD with it.

use std::fmt;

use serde_json::{Map, Value};

/// One refused field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `spec.autoscaling.minReplicas` (`spec.tolerations[2].key`).
    pub path: String,
    pub kind: FieldErrorKind,
    /// What was expected.
    pub detail: String,
}

/// The API server's field error types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `Invalid value: <value>`
    Invalid(String),
    /// `Unsupported value: <value>`
    Unsupported(String),
    /// `Required value`
    Required,
    /// `Too many: <n>`
    TooMany(usize),
    /// `Not found: <value>` (a reference to something that does not exist)
    NotFound(String),
    /// An unknown field (strict field validation).
    Unknown,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "<root>" } else { &self.path };
        match &self.kind {
            FieldErrorKind::Invalid(v) => write!(f, "{path}: Invalid value: {v}: {}", self.detail),
            FieldErrorKind::Unsupported(v) => {
                write!(f, "{path}: Unsupported value: {v}: {}", self.detail)
            }
            FieldErrorKind::Required => write!(f, "{path}: Required value: {}", self.detail),
            FieldErrorKind::TooMany(n) => write!(f, "{path}: Too many: {n}: {}", self.detail),
            FieldErrorKind::NotFound(v) => write!(f, "{path}: Not found: {v}"),
            FieldErrorKind::Unknown => write!(f, "unknown field \"{path}\""),
        }
    }
}

/// Checks `value` against `schema`; returns every refused field, in document order.
pub fn check(schema: &Value, value: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(schema, value, path, &mut errors);
    errors
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_string() } else { format!("{path}.{field}") }
}

/// How the API server quotes a value in an error: strings quoted, everything else as JSON.
fn show(value: &Value) -> String {
    match value {
        Value::Object(_) => "\"object\"".into(),
        Value::Array(_) => "\"array\"".into(),
        other => other.to_string(),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn walk(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let Some(schema) = schema.as_object() else { return };
    let flag = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);

    if value.is_null() {
        if !flag("nullable") && schema.contains_key("type") {
            errors.push(FieldError {
                path: path.into(),
                kind: FieldErrorKind::Invalid("null".into()),
                detail: format!("{} in body must be of type {}: \"null\"", path, schema_type(schema)),
            });
        }
        return;
    }
    if flag("x-kubernetes-int-or-string") {
        if !(value.is_string() || type_name(value) == "integer") {
            errors.push(FieldError {
                path: path.into(),
                kind: FieldErrorKind::Invalid(show(value)),
                detail: format!("{path} in body must be of type integer or string: \"{}\"", type_name(value)),
            });
        }
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        let actual = type_name(value);
        let ok = actual == expected || (expected == "number" && actual == "integer");
        if !ok {
            errors.push(FieldError {
                path: path.into(),
                kind: FieldErrorKind::Invalid(show(value)),
                detail: format!("{path} in body must be of type {expected}: \"{actual}\""),
            });
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let supported: Vec<String> = options.iter().map(Value::to_string).collect();
        errors.push(FieldError {
            path: path.into(),
            kind: FieldErrorKind::Unsupported(value.to_string()),
            detail: format!("supported values: {}", supported.join(", ")),
        });
        return;
    }
    match value {
        Value::Object(map) => walk_object(schema, map, path, errors),
        Value::Array(items) => walk_array(schema, items, path, errors),
        Value::String(s) => check_string(schema, s, path, errors),
        Value::Number(n) => check_number(schema, n, path, errors),
        Value::Bool(_) | Value::Null => {}
    }
}

fn schema_type(schema: &Map<String, Value>) -> &str {
    schema.get("type").and_then(Value::as_str).unwrap_or("object")
}

fn walk_object(schema: &Map<String, Value>, map: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);

    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                errors.push(FieldError {
                    path: join(path, name),
                    kind: FieldErrorKind::Required,
                    detail: "this field is required".into(),
                });
            }
        }
    }
    for (key, child) in map {
        let child_path = join(path, key);
        if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
            walk(child_schema, child, &child_path, errors);
        } else if let Some(additional) = additional.filter(|a| a.is_object()) {
            walk(additional, child, &child_path, errors);
        } else if !preserve && (properties.is_some() || additional == Some(&Value::Bool(false))) {
            errors.push(FieldError { path: child_path, kind: FieldErrorKind::Unknown, detail: String::new() });
        }
    }
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && map.len() as u64 > max
    {
        errors.push(FieldError {
            path: path.into(),
            kind: FieldErrorKind::TooMany(map.len()),
            detail: format!("must have at most {max} items"),
        });
    }
}

fn walk_array(schema: &Map<String, Value>, items: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        errors.push(FieldError {
            path: path.into(),
            kind: FieldErrorKind::TooMany(items.len()),
            detail: format!("must have at most {max} items"),
        });
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        errors.push(FieldError {
            path: path.into(),
            kind: FieldErrorKind::Invalid(items.len().to_string()),
            detail: format!("{path} in body should have at least {min} items"),
        });
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            walk(item_schema, item, &format!("{path}[{i}]"), errors);
        }
    }
}

fn check_string(schema: &Map<String, Value>, s: &str, path: &str, errors: &mut Vec<FieldError>) {
    let len = s.chars().count() as u64;
    let invalid = |detail: String| FieldError {
        path: path.into(),
        kind: FieldErrorKind::Invalid(Value::String(s.into()).to_string()),
        detail,
    };
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        errors.push(FieldError {
            path: path.into(),
            kind: FieldErrorKind::TooMany(len as usize),
            detail: format!("may not be more than {max} bytes"),
        });
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        errors.push(invalid(format!("{path} in body should be at least {min} chars long")));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        match regex::Regex::new(pattern) {
            Ok(re) if !re.is_match(s) => {
                errors.push(invalid(format!("{path} in body should match '{pattern}'")));
            }
            Ok(_) => {}
            Err(e) => errors.push(invalid(format!("schema pattern '{pattern}' does not compile: {e}"))),
        }
    }
}

fn check_number(schema: &Map<String, Value>, n: &serde_json::Number, path: &str, errors: &mut Vec<FieldError>) {
    let Some(v) = n.as_f64() else { return };
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    let exclusive = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
    let invalid =
        |detail: String| FieldError { path: path.into(), kind: FieldErrorKind::Invalid(n.to_string()), detail };
    if let Some(min) = bound("minimum") {
        if exclusive("exclusiveMinimum") && v <= min {
            errors.push(invalid(format!("{path} in body should be greater than {min}")));
        } else if v < min {
            errors.push(invalid(format!("{path} in body should be greater than or equal to {min}")));
        }
    }
    if let Some(max) = bound("maximum") {
        if exclusive("exclusiveMaximum") && v >= max {
            errors.push(invalid(format!("{path} in body should be less than {max}")));
        } else if v > max {
            errors.push(invalid(format!("{path} in body should be less than or equal to {max}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn messages(schema: Value, value: Value) -> Vec<String> {
        check(&schema, &value, "spec").iter().map(ToString::to_string).collect()
    }

    #[test]
    fn refuses_wrong_types_with_the_api_servers_words() {
        let schema = json!({"type": "object", "properties": {"replicas": {"type": "integer"}}});
        assert_eq!(
            messages(schema, json!({"replicas": "two"})),
            ["spec.replicas: Invalid value: \"two\": spec.replicas in body must be of type integer: \"string\""]
        );
    }

    #[test]
    fn refuses_unknown_fields_unless_preserved() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        assert_eq!(messages(schema, json!({"a": "x", "b": 1})), ["unknown field \"spec.b\""]);
        let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {}});
        assert!(messages(open, json!({"b": 1})).is_empty());
    }

    #[test]
    fn checks_ranges_enums_patterns_lengths_and_required() {
        let schema = json!({"type": "object", "required": ["name"], "properties": {
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "level": {"type": "string", "enum": ["info", "debug"]},
            "ns": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3},
            "list": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
            "name": {"type": "string"}
        }});
        let got = messages(schema, json!({"port": 0, "level": "loud", "ns": "ABCD", "list": ["a", 2]}));
        assert_eq!(
            got,
            [
                "spec.name: Required value: this field is required",
                "spec.level: Unsupported value: \"loud\": supported values: \"info\", \"debug\"",
                "spec.list: Too many: 2: must have at most 1 items",
                "spec.list[1]: Invalid value: 2: spec.list[1] in body must be of type string: \"integer\"",
                "spec.ns: Too many: 4: may not be more than 3 bytes",
                "spec.ns: Invalid value: \"ABCD\": spec.ns in body should match '^[a-z]+$'",
                "spec.port: Invalid value: 0: spec.port in body should be greater than or equal to 1",
            ]
        );
    }

    #[test]
    fn int_or_string_accepts_both_and_nothing_else() {
        let schema = json!({"type": "object", "properties": {"v": {"x-kubernetes-int-or-string": true}}});
        assert!(messages(schema.clone(), json!({"v": 1})).is_empty());
        assert!(messages(schema.clone(), json!({"v": "50%"})).is_empty());
        assert_eq!(messages(schema, json!({"v": true})).len(), 1);
    }
}
