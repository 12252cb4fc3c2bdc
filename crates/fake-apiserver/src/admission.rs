//! Admission of an object about to be stored: defaulting, unknown-field handling (prune, warn, or
//! refuse under strict field validation), structural validation and CEL for custom resources;
//! typed decoding, defaults and the validation rules our clients can hit for built-in kinds.

use gitops_agent_api::admission::{cel_errors, with_object_envelope};
use gitops_agent_api::schema_check::{self, FieldError, FieldErrorKind};
use serde_json::{Map, Value, json};

use crate::builtin;
use crate::registry::ResourceType;
use crate::status::ApiError;

/// The `fieldValidation` query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

impl FieldValidation {
    pub fn parse(v: Option<&str>) -> Result<Self, ApiError> {
        match v {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Strict") => Ok(Self::Strict),
            Some("Ignore") => Ok(Self::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}"
            ))),
        }
    }
}

/// Checks and normalises `object`; returns it with warnings for the `Warning` header.
pub fn admit(
    rt: &ResourceType,
    object: Value,
    old: Option<&Value>,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut errors = builtin::validate_metadata(rt, &object);
    let (object, warnings) = match rt.schema.as_deref() {
        Some(schema) => admit_custom(rt, schema, object, old, validation, &mut errors)?,
        None => builtin::admit(rt, object, old, validation, &mut errors)?,
    };
    if errors.is_empty() { Ok((object, warnings)) } else { Err(invalid(rt, &name, errors)) }
}

pub fn invalid(rt: &ResourceType, name: &str, errors: Vec<FieldError>) -> ApiError {
    let causes = errors
        .into_iter()
        .map(|e| {
            let reason = match e.kind {
                FieldErrorKind::Invalid(_) | FieldErrorKind::Unknown => "FieldValueInvalid",
                FieldErrorKind::Unsupported(_) => "FieldValueNotSupported",
                FieldErrorKind::Required => "FieldValueRequired",
                FieldErrorKind::TooMany(_) => "FieldValueTooMany",
                FieldErrorKind::NotFound(_) => "FieldValueNotFound",
            };
            // A cause's message leaves out the field, which has its own member.
            let text = e.to_string();
            let message = text.strip_prefix(&format!("{}: ", e.path)).map(str::to_string).unwrap_or(text);
            (reason.to_string(), e.path.clone(), message)
        })
        .collect();
    ApiError::invalid(rt, name, causes)
}

fn admit_custom(
    rt: &ResourceType,
    schema: &Value,
    object: Value,
    old: Option<&Value>,
    validation: FieldValidation,
    errors: &mut Vec<FieldError>,
) -> Result<(Value, Vec<String>), ApiError> {
    let mut object = kube::core::cel::apply_defaults(schema, &object);
    let found = schema_check::check(&with_object_envelope(schema), &object, "");
    let (unknown, structural): (Vec<FieldError>, Vec<FieldError>) =
        found.into_iter().partition(|e| e.kind == FieldErrorKind::Unknown);
    let warnings = unknown_fields(&unknown, validation)?;
    prune(&mut object, schema, true);
    if structural.is_empty()
        && let Some(compiled) = rt.compiled.as_deref()
    {
        // Transition rules only see the old object when it had the same shape.
        errors.extend(cel_errors(compiled, &object, old));
    }
    errors.extend(structural);
    Ok((object, warnings))
}

/// Unknown fields: refused under Strict (400, as the API server's strict decoding), otherwise
/// dropped with a warning (Warn) or silently (Ignore).
pub fn unknown_fields(unknown: &[FieldError], validation: FieldValidation) -> Result<Vec<String>, ApiError> {
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let messages: Vec<String> = unknown.iter().map(|e| format!("unknown field \"{}\"", e.path)).collect();
    match validation {
        FieldValidation::Strict => {
            Err(ApiError::bad_request(format!("strict decoding error: {}", messages.join(", "))))
        }
        FieldValidation::Warn => Ok(messages),
        FieldValidation::Ignore => Ok(Vec::new()),
    }
}

/// Drops fields the schema does not declare (structural pruning).
fn prune(value: &mut Value, schema: &Value, root: bool) {
    if schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true)
        && schema.get("properties").is_none()
    {
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let preserve = schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let child_schema = props.and_then(|p| p.get(&k)).or(additional);
                match child_schema {
                    Some(cs) => {
                        if let Some(v) = map.get_mut(&k) {
                            prune(v, cs, false);
                        }
                    }
                    None if !preserve
                        && (props.is_some() || additional.is_none())
                        && schema.get("type") == Some(&json!("object")) =>
                    {
                        map.remove(&k);
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    prune(item, item_schema, false);
                }
            }
        }
        _ => {}
    }
}

/// Keys present in `original` that a typed round trip dropped: fields the type does not know.
pub fn dropped_fields(original: &Value, round_trip: &Value, path: &str, out: &mut Vec<FieldError>) {
    if let (Value::Object(o), Value::Object(r)) = (original, round_trip) {
        for (k, v) in o {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            match r.get(k) {
                None if !v.is_null() => {
                    out.push(FieldError { path: p, kind: FieldErrorKind::Unknown, detail: String::new() })
                }
                Some(rv) => dropped_fields(v, rv, &p, out),
                None => {}
            }
        }
    } else if let (Value::Array(o), Value::Array(r)) = (original, round_trip) {
        for (i, (ov, rv)) in o.iter().zip(r.iter()).enumerate() {
            dropped_fields(ov, rv, &format!("{path}[{i}]"), out);
        }
    }
}

/// An empty JSON object.
pub fn empty() -> Value {
    Value::Object(Map::new())
}
