//! Errors as the API server returns them: `Status` objects with code, reason, message and details.

use serde_json::{Value, json};

use crate::fields::Conflict;
use crate::registry::ResourceType;

/// A failed request, rendered as a `metav1.Status`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None, retry_after: None }
    }

    fn details_for(rt: &ResourceType, name: &str) -> Value {
        json!({"name": name, "group": rt.group, "kind": rt.plural})
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        let mut e = Self::new(404, "NotFound", format!("{} \"{}\" not found", rt.group_resource(), name));
        e.details = Some(Self::details_for(rt, name));
        e
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        let mut e = Self::new(409, "AlreadyExists", format!("{} \"{}\" already exists", rt.group_resource(), name));
        e.details = Some(Self::details_for(rt, name));
        e
    }

    pub fn conflict(rt: &ResourceType, name: &str) -> Self {
        let mut e = Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                rt.group_resource(),
                name
            ),
        );
        e.details = Some(Self::details_for(rt, name));
        e
    }

    /// 422 with one cause per refused field: (reason, field, message without the field).
    pub fn invalid(rt: &ResourceType, name: &str, causes: Vec<(String, String, String)>) -> Self {
        let text: Vec<String> = causes
            .iter()
            .map(|(_, field, message)| if field.is_empty() { message.clone() } else { format!("{field}: {message}") })
            .collect();
        let qualified = if rt.group.is_empty() { rt.kind.clone() } else { format!("{}.{}", rt.kind, rt.group) };
        let mut e = Self::new(422, "Invalid", format!("{qualified} \"{name}\" is invalid: {}", text.join(", ")));
        let causes: Vec<Value> = causes
            .into_iter()
            .map(|(reason, field, message)| json!({"reason": reason, "message": message, "field": field}))
            .collect();
        e.details = Some(json!({"name": name, "group": rt.group, "kind": rt.kind, "causes": causes}));
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// 409 for a server-side apply that other managers' fields refused, one cause per field.
    pub fn apply_conflicts(rt: &ResourceType, name: &str, conflicts: &[Conflict]) -> Self {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|c| {
                json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\" using {}", c.manager, c.api_version), "field": c.field})
            })
            .collect();
        let detail: Vec<String> = conflicts
            .iter()
            .map(|c| format!("- conflict with \"{}\" using {}: {}", c.manager, c.api_version, c.field))
            .collect();
        let plural = if conflicts.len() == 1 { "" } else { "s" };
        let mut e = Self::new(
            409,
            "Conflict",
            format!("Apply failed with {} conflict{plural}: {}", conflicts.len(), detail.join("\n")),
        );
        let mut details = Self::details_for(rt, name);
        details["causes"] = Value::Array(causes);
        e.details = Some(details);
        e
    }

    /// An apply configuration that is not an object of its type: kube answers a bare 500 (no
    /// reason), as for any error the typed conversion returns.
    pub fn untyped_apply(rt: &ResourceType, ns: &str, name: &str, why: &str) -> Self {
        let object = if rt.namespaced { format!("{ns}/{name}") } else { name.to_string() };
        Self::new(
            500,
            "",
            format!("failed to create typed patch object ({object}; {}, Kind={}): {why}", rt.api_version(), rt.kind),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        });
        // kube leaves an unknown reason out (`omitempty`) rather than sending "".
        if self.reason.is_empty() {
            s.as_object_mut().map(|m| m.remove("reason"));
        }
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        if let Some(secs) = self.retry_after {
            s["details"]["retryAfterSeconds"] = json!(secs);
        }
        s
    }
}

/// A success `Status` (what DELETE of an object without finalizers returns on some paths).
pub fn success(rt: &ResourceType, name: &str, uid: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
           "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": uid}})
}
