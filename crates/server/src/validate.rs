//! Argument checks shared by the tools. Every error names the parameter.

use crate::registry::ToolError;

pub const MAX_NAME: usize = 253;

fn invalid(param: &str, reason: impl Into<String>) -> ToolError {
    ToolError::InvalidArgument { param: param.to_string(), reason: reason.into() }
}

/// A namespace: a DNS-1123 label.
pub fn namespace(param: &str, value: &str) -> Result<(), ToolError> {
    if value.is_empty() || value.len() > 63 || !is_label(value) {
        return Err(invalid(
            param,
            format!(
                "{:?} is not a valid namespace (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)",
                clip(value)
            ),
        ));
    }
    Ok(())
}

/// An object name: a DNS-1123 subdomain.
pub fn name(param: &str, value: &str) -> Result<(), ToolError> {
    if value.is_empty() || value.len() > MAX_NAME || !value.split('.').all(is_label) {
        return Err(invalid(
            param,
            format!(
                "{:?} is not a valid Kubernetes name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)",
                clip(value)
            ),
        ));
    }
    Ok(())
}

pub fn optional_namespace(param: &str, value: Option<&str>) -> Result<(), ToolError> {
    value.map_or(Ok(()), |v| namespace(param, v))
}

pub fn optional_name(param: &str, value: Option<&str>) -> Result<(), ToolError> {
    value.map_or(Ok(()), |v| name(param, v))
}

/// A number within bounds.
pub fn within(param: &str, value: u32, min: u32, max: u32) -> Result<u32, ToolError> {
    if value < min || value > max {
        return Err(invalid(param, format!("{value} is out of range: expected {min} to {max}")));
    }
    Ok(value)
}

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// What a JSON value is, with its article, for errors ("got an array").
pub fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// User input as it may appear in a log line or an error: bounded and without control characters.
pub fn sanitize(s: &str) -> String {
    clip(s).chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_namespaces_follow_dns_1123() {
        assert!(namespace("namespace", "flux-system").is_ok());
        assert!(name("name", "kube-prometheus-stack.v1").is_ok());
        for bad in ["", "Flux", "-a", "a-", "a_b", "a/b", &"x".repeat(64)] {
            let err = namespace("namespace", bad).expect_err(bad);
            assert!(err.to_string().starts_with("invalid argument `namespace`"), "{err}");
        }
        assert!(name("name", "a..b").is_err());
        assert!(name("name", &"a".repeat(254)).is_err());
    }

    #[test]
    fn bounds_name_the_parameter() {
        assert_eq!(within("limit", 5, 1, 10).ok(), Some(5));
        let err = within("limit", 0, 1, 10).expect_err("zero");
        assert_eq!(err.to_string(), "invalid argument `limit`: 0 is out of range: expected 1 to 10");
    }

    #[test]
    fn sanitized_input_has_no_control_characters() {
        assert_eq!(sanitize("a\nb\u{1b}[31m"), "a?b?[31m");
        assert_eq!(sanitize(&"y".repeat(500)).len(), 80);
    }
}
