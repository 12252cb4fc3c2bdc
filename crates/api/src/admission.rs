//! Admission of a GitOpsAgent manifest, as the API server does it: defaults from the schema, then
//! structural validation, then the CEL rules, then the typed object.
//!
//! The schema and its CEL rules come from the generated CRD, so `render` refuses exactly what
//! `kubectl apply` would be refused, with the same messages: one source of truth.

use std::sync::OnceLock;

use kube::Resource;
use kube::core::cel::{CompiledSchema, Validator, compile_schema};
use serde_json::Value;

use crate::schema_check::{self, FieldError, FieldErrorKind};
use crate::spec::GitOpsAgent;

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    #[error(
        "expected apiVersion {expected_api_version} and kind {expected_kind}, got apiVersion {api_version:?} and kind {kind:?}"
    )]
    WrongKind { api_version: String, kind: String, expected_api_version: String, expected_kind: String },
    #[error("{kind}.{group} {name:?} is invalid: {}", join(.errors))]
    Invalid { kind: String, group: String, name: String, errors: Vec<FieldError> },
    #[error("manifest passed validation but does not decode as a GitOpsAgent: {0}")]
    Decode(#[source] serde_json::Error),
}

fn join(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl AdmissionError {
    /// The refused fields, when the manifest was invalid.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }
}

/// The openAPIV3Schema of the GitOpsAgent CRD (generated once).
pub fn openapi_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let crd = crate::crd::crd();
        crd.spec
            .versions
            .first()
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or(Value::Null)
    })
}

/// Evaluates the `x-kubernetes-validations` rules of `schema` on an already defaulted, structurally
/// valid `object`; failures are reported the way the API server reports them.
pub fn check_cel(schema: &Value, object: &Value) -> Vec<FieldError> {
    cel_errors(&compile_schema(schema), object, None)
}

/// Evaluates precompiled CEL rules (with `oldSelf` bound to `old` on updates).
pub fn cel_errors(compiled: &CompiledSchema, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    match Validator::new().validate_compiled(compiled, object, old) {
        Ok(()) => Vec::new(),
        Err(failures) => failures
            .into_vec()
            .into_iter()
            .map(|f| {
                let at = lookup(object, &f.field_path);
                FieldError {
                    path: f.field_path,
                    kind: FieldErrorKind::Invalid(match at {
                        Some(Value::Object(_)) | None => "\"object\"".into(),
                        Some(v) => v.to_string(),
                    }),
                    detail: f.message,
                }
            })
            .collect(),
    }
}

fn lookup<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').filter(|p| !p.is_empty()).try_fold(object, |v, key| v.get(key))
}

/// Admits a GitOpsAgent manifest: checks apiVersion/kind, applies schema defaults, validates it
/// structurally and with CEL, and decodes it.
pub fn admit(manifest: &Value) -> Result<GitOpsAgent, AdmissionError> {
    let api_version = manifest.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = manifest.get("kind").and_then(Value::as_str).unwrap_or_default();
    let expected_api_version = GitOpsAgent::api_version(&()).to_string();
    let expected_kind = GitOpsAgent::kind(&()).to_string();
    if api_version != expected_api_version || kind != expected_kind {
        return Err(AdmissionError::WrongKind {
            api_version: api_version.into(),
            kind: kind.into(),
            expected_api_version,
            expected_kind,
        });
    }
    let name = manifest.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let invalid = |errors| AdmissionError::Invalid {
        kind: expected_kind.clone(),
        group: GitOpsAgent::group(&()).to_string(),
        name: name.clone(),
        errors,
    };

    let schema = openapi_schema();
    let defaulted = kube::core::cel::apply_defaults(schema, manifest);
    let mut errors = check_metadata(&defaulted);
    errors.extend(schema_check::check(&with_object_envelope(schema), &defaulted, ""));
    if errors.is_empty() {
        errors = check_cel(schema, &defaulted);
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    serde_json::from_value(defaulted).map_err(AdmissionError::Decode)
}

/// The API server validates metadata itself, not through the CRD schema; these are the checks a
/// manifest for `render` needs.
fn check_metadata(manifest: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match manifest.pointer("/metadata/name") {
        Some(Value::String(n)) if !n.is_empty() => {}
        _ => errors.push(FieldError {
            path: "metadata.name".into(),
            kind: FieldErrorKind::Required,
            detail: "name is required".into(),
        }),
    }
    if let Some(ns) = manifest.pointer("/metadata/namespace") {
        let re = regex::Regex::new(crate::spec::DNS1123_LABEL).expect("constant pattern compiles");
        if !ns.as_str().is_some_and(|s| s.len() <= 63 && re.is_match(s)) {
            errors.push(FieldError {
                path: "metadata.namespace".into(),
                kind: FieldErrorKind::Invalid(ns.to_string()),
                detail: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character".into(),
            });
        }
    }
    errors
}

/// The API server checks `apiVersion`, `kind` and `metadata` itself, not through the CRD schema;
/// the structural check must not treat them as unknown fields.
pub fn with_object_envelope(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("apiVersion".into(), serde_json::json!({"type": "string"}));
        props.insert("kind".into(), serde_json::json!({"type": "string"}));
        props.insert(
            "metadata".into(),
            serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        );
    }
    schema
}
