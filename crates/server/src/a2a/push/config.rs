//! A client's push notification config for one task, read from and written in either A2A
//! dialect (1.0 `TaskPushNotificationConfig` with `authentication.scheme`, 0.3
//! `pushNotificationConfig` with `authentication.schemes`). Stored with the task.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::address::{Allowed, Target, check_url};
use crate::a2a::error::A2aError;
use crate::a2a::model::{Dialect, new_id};
use crate::a2a::wire::member;

/// Most configs one task keeps.
pub const MAX_PER_TASK: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushConfig {
    pub id: String,
    pub task_id: String,
    pub url: String,
    /// Echoed in `X-A2A-Notification-Token` so the receiver knows the notification is for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// The dialect the config was registered in: what is POSTed has its shape.
    pub dialect: Dialect,
    /// The agent's URL as the client reached it: the `iss` of the notification tokens.
    pub issuer: String,
}

/// How the agent authenticates to the webhook: `Authorization: {scheme} {credentials}`. Without
/// credentials the agent's own signed token goes there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    pub scheme: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

const SCHEMES: [&str; 2] = ["Bearer", "Basic"];

/// Reads a config as a client sent it: `obj` is the 1.0 config or the 0.3
/// `pushNotificationConfig`; `at` names it in errors. With it, the webhook URL as checked.
pub fn read(
    obj: &Value,
    at: &str,
    task_id: &str,
    dialect: Dialect,
    issuer: &str,
    allowed: &Allowed,
) -> Result<(PushConfig, Target), A2aError> {
    let obj = obj.as_object().ok_or_else(|| A2aError::invalid(at, "expected a push notification config object"))?;
    let url = string(obj, "url", at)?.ok_or_else(|| A2aError::invalid(format!("{at}.url"), "required"))?;
    let target = check_url(&url, allowed)
        .map_err(|why| A2aError::invalid(format!("{at}.url"), format!("the webhook URL {why}")))?;
    let token = string(obj, "token", at)?;
    if let Some(t) = &token {
        header_safe(t, 1024).map_err(|why| A2aError::invalid(format!("{at}.token"), why))?;
    }
    let authentication = match member(obj, "authentication") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => Some(read_authentication(a, &format!("{at}.authentication"))?),
        Some(_) => return Err(A2aError::invalid(format!("{at}.authentication"), "expected an object")),
    };
    let id = match string(obj, "id", at)? {
        Some(id) if id.len() > 128 || id.chars().any(|c| c.is_control() || c == '/') => {
            return Err(A2aError::invalid(format!("{at}.id"), "at most 128 characters, no `/` or control characters"));
        }
        Some(id) => id,
        None => new_id(),
    };
    let config = PushConfig {
        id,
        task_id: task_id.to_string(),
        url,
        token,
        authentication,
        dialect,
        issuer: issuer.trim_end_matches('/').to_string(),
    };
    Ok((config, target))
}

fn read_authentication(a: &Map<String, Value>, at: &str) -> Result<Authentication, A2aError> {
    // 1.0 names one scheme; 0.3 lists the schemes the webhook accepts: the first one this agent
    // speaks is used.
    let named: Vec<String> = match (a.get("scheme"), a.get("schemes")) {
        (Some(Value::String(s)), _) => vec![s.clone()],
        (_, Some(Value::Array(list))) => list.iter().filter_map(Value::as_str).map(String::from).collect(),
        (Some(_), _) => return Err(A2aError::invalid(format!("{at}.scheme"), "expected a string")),
        _ => return Err(A2aError::invalid(format!("{at}.scheme"), "required (Bearer or Basic)")),
    };
    let scheme =
        named.iter().find_map(|n| SCHEMES.iter().find(|s| s.eq_ignore_ascii_case(n.trim()))).ok_or_else(|| {
            A2aError::invalid(
                format!("{at}.scheme"),
                format!("{} not supported; this agent authenticates with Bearer or Basic", json!(named)),
            )
        })?;
    let credentials = string(a, "credentials", at)?;
    if let Some(c) = &credentials {
        header_safe(c, 4096).map_err(|why| A2aError::invalid(format!("{at}.credentials"), why))?;
    }
    if *scheme == "Basic" && credentials.is_none() {
        return Err(A2aError::invalid(
            format!("{at}.credentials"),
            "Basic needs credentials (base64 of user:password)",
        ));
    }
    Ok(Authentication { scheme: scheme.to_string(), credentials })
}

/// A value that goes into an HTTP header as it is.
fn header_safe(value: &str, max: usize) -> Result<(), String> {
    if value.len() > max {
        return Err(format!("is {} bytes long; at most {max}", value.len()));
    }
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err("must be printable ASCII (it is sent in an HTTP header)".into());
    }
    Ok(())
}

fn string(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<String>, A2aError> {
    match member(obj, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(A2aError::invalid(format!("{at}.{key}"), "expected a string")),
    }
}

/// The config as a client reads it back, in `d`'s shape.
pub fn render(c: &PushConfig, d: Dialect) -> Value {
    let mut inner = Map::new();
    inner.insert("id".into(), json!(c.id));
    inner.insert("url".into(), json!(c.url));
    if let Some(t) = &c.token {
        inner.insert("token".into(), json!(t));
    }
    if let Some(a) = &c.authentication {
        let mut auth = Map::new();
        if d == Dialect::V1 {
            auth.insert("scheme".into(), json!(a.scheme));
        } else {
            auth.insert("schemes".into(), json!([a.scheme]));
        }
        if let Some(cr) = &a.credentials {
            auth.insert("credentials".into(), json!(cr));
        }
        inner.insert("authentication".into(), Value::Object(auth));
    }
    match d {
        Dialect::V1 => {
            inner.insert("taskId".into(), json!(c.task_id));
            Value::Object(inner)
        }
        _ => json!({"taskId": c.task_id, "pushNotificationConfig": inner}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Allowed {
        Allowed::default()
    }

    #[test]
    fn configs_read_in_either_dialect_and_render_back() {
        let v1 = json!({"url": "https://hooks.example/a", "id": "c1", "token": "tok",
            "authentication": {"scheme": "bearer", "credentials": "s3cret"}});
        let (c, _) = read(&v1, "params", "t1", Dialect::V1, "https://agent/", &allowed()).expect("reads");
        assert_eq!(
            c.authentication,
            Some(Authentication { scheme: "Bearer".into(), credentials: Some("s3cret".into()) })
        );
        assert_eq!(c.issuer, "https://agent");
        assert_eq!(
            render(&c, Dialect::V1),
            json!({"id": "c1", "taskId": "t1", "url": "https://hooks.example/a", "token": "tok",
                "authentication": {"scheme": "Bearer", "credentials": "s3cret"}})
        );
        let v03 = json!({"url": "https://hooks.example/a", "authentication": {"schemes": ["OAuth2", "Bearer"]}});
        let (c, _) = read(&v03, "params.pushNotificationConfig", "t1", Dialect::V03, "https://agent", &allowed())
            .expect("reads");
        assert!(!c.id.is_empty(), "an id is made up when none is given");
        let back = render(&c, Dialect::V03);
        assert_eq!(back["taskId"], "t1");
        assert_eq!(back["pushNotificationConfig"]["authentication"], json!({"schemes": ["Bearer"]}));
    }

    #[test]
    fn bad_configs_name_the_field() {
        for (v, field) in [
            (json!({}), "params.url"),
            (json!({"url": "http://hooks.example/"}), "params.url"),
            (json!({"url": "https://127.0.0.1/"}), "params.url"),
            (json!({"url": "https://h.example/", "token": "a\nb"}), "params.token"),
            (
                json!({"url": "https://h.example/", "authentication": {"scheme": "Digest"}}),
                "params.authentication.scheme",
            ),
            (
                json!({"url": "https://h.example/", "authentication": {"scheme": "Basic"}}),
                "params.authentication.credentials",
            ),
            (json!({"url": "https://h.example/", "id": "a/b"}), "params.id"),
            (json!("https://h.example/"), "params"),
        ] {
            match read(&v, "params", "t", Dialect::V1, "https://agent", &allowed()) {
                Err(A2aError::InvalidParams { field: f, .. }) => assert_eq!(f, field, "{v}"),
                other => panic!("{v}: {other:?}"),
            }
        }
    }
}
