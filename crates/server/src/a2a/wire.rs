//! The three JSON shapes a task can be read in (A2A 1.0, A2A 0.3, the Go predecessor), and a
//! lenient reader of incoming messages that accepts any of them.

use serde_json::{Map, Value, json};

use super::error::A2aError;
use super::model::{Artifact, Content, Dialect, Event, Message, Part, Role, Task, TaskStatus, new_id};

fn timestamp(t: &jiff::Timestamp) -> String {
    // Millisecond precision with a `Z` suffix, as the specification asks.
    t.round(jiff::Unit::Millisecond).map(|t| t.to_string()).unwrap_or_else(|_| t.to_string())
}

fn insert_opt(obj: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        obj.insert(key.to_string(), v);
    }
}

pub fn part(p: &Part, d: Dialect) -> Value {
    let mut obj = Map::new();
    match (d, &p.content) {
        (Dialect::V1, Content::Text(t)) => insert_opt(&mut obj, "text", Some(json!(t))),
        (Dialect::V1, Content::Data(v)) => insert_opt(&mut obj, "data", Some(v.clone())),
        (Dialect::V1, Content::File { url, raw }) => {
            insert_opt(&mut obj, "url", url.as_ref().map(|u| json!(u)));
            insert_opt(&mut obj, "raw", raw.as_ref().map(|r| json!(r)));
        }
        (_, Content::Text(t)) => {
            obj.insert(tag(d).into(), json!("text"));
            obj.insert("text".into(), json!(t));
        }
        (_, Content::Data(v)) => {
            obj.insert(tag(d).into(), json!("data"));
            obj.insert("data".into(), v.clone());
        }
        (_, Content::File { url, raw }) => {
            obj.insert(tag(d).into(), json!("file"));
            let mut file = Map::new();
            insert_opt(&mut file, "uri", url.as_ref().map(|u| json!(u)));
            insert_opt(&mut file, "bytes", raw.as_ref().map(|r| json!(r)));
            insert_opt(&mut file, "mimeType", p.media_type.as_ref().map(|m| json!(m)));
            insert_opt(&mut file, "name", p.filename.as_ref().map(|m| json!(m)));
            obj.insert("file".into(), Value::Object(file));
        }
    }
    if d == Dialect::V1 {
        insert_opt(&mut obj, "mediaType", p.media_type.as_ref().map(|m| json!(m)));
        insert_opt(&mut obj, "filename", p.filename.as_ref().map(|m| json!(m)));
    }
    insert_opt(&mut obj, "metadata", p.metadata.clone().map(Value::Object));
    Value::Object(obj)
}

/// 0.3 discriminates with `kind`; the predecessor used `type`.
fn tag(d: Dialect) -> &'static str {
    if d == Dialect::Legacy { "type" } else { "kind" }
}

fn role(r: Role, d: Dialect) -> &'static str {
    match (r, d) {
        (Role::User, Dialect::V1) => "ROLE_USER",
        (Role::Agent, Dialect::V1) => "ROLE_AGENT",
        (Role::User, _) => "user",
        (Role::Agent, _) => "agent",
    }
}

pub fn message(m: &Message, d: Dialect) -> Value {
    let mut obj = Map::new();
    if d == Dialect::V03 {
        obj.insert("kind".into(), json!("message"));
    }
    obj.insert("messageId".into(), json!(m.message_id));
    obj.insert("role".into(), json!(role(m.role, d)));
    obj.insert("parts".into(), m.parts.iter().map(|p| part(p, d)).collect());
    if d != Dialect::Legacy {
        insert_opt(&mut obj, "contextId", m.context_id.as_ref().map(|c| json!(c)));
        insert_opt(&mut obj, "taskId", m.task_id.as_ref().map(|c| json!(c)));
        if !m.reference_task_ids.is_empty() {
            obj.insert("referenceTaskIds".into(), json!(m.reference_task_ids));
        }
    }
    insert_opt(&mut obj, "metadata", m.metadata.clone().map(Value::Object));
    Value::Object(obj)
}

pub fn artifact(a: &Artifact, index: usize, d: Dialect) -> Value {
    let mut obj = Map::new();
    if d != Dialect::Legacy {
        obj.insert("artifactId".into(), json!(a.artifact_id));
    }
    insert_opt(&mut obj, "name", a.name.as_ref().map(|n| json!(n)));
    insert_opt(&mut obj, "description", a.description.as_ref().map(|n| json!(n)));
    obj.insert("parts".into(), a.parts.iter().map(|p| part(p, d)).collect());
    if d == Dialect::Legacy {
        obj.insert("index".into(), json!(index));
    }
    Value::Object(obj)
}

pub fn status(s: &TaskStatus, d: Dialect) -> Value {
    let mut obj = Map::new();
    let state = if d == Dialect::V1 { s.state.v1_name() } else { s.state.v03_name() };
    obj.insert("state".into(), json!(state));
    insert_opt(&mut obj, "message", s.message.as_ref().map(|m| message(m, d)));
    obj.insert("timestamp".into(), json!(timestamp(&s.timestamp)));
    Value::Object(obj)
}

/// What to include when a task is read.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// None: all; 0: none; n: the n most recent messages.
    pub history_length: Option<usize>,
    pub artifacts: bool,
}

impl View {
    pub const FULL: View = View { history_length: None, artifacts: true };
}

pub fn task(t: &Task, d: Dialect, view: View) -> Value {
    let mut obj = Map::new();
    if d == Dialect::V03 {
        obj.insert("kind".into(), json!("task"));
    }
    obj.insert("id".into(), json!(t.id));
    obj.insert(if d == Dialect::Legacy { "sessionId" } else { "contextId" }.into(), json!(t.context_id));
    obj.insert("status".into(), status(&t.status, d));
    if view.artifacts && (d != Dialect::V1 || !t.artifacts.is_empty()) {
        obj.insert("artifacts".into(), t.artifacts.iter().enumerate().map(|(i, a)| artifact(a, i, d)).collect());
    }
    let keep = view.history_length.unwrap_or(usize::MAX).min(t.history.len());
    if keep > 0 {
        let recent = &t.history[t.history.len() - keep..];
        obj.insert("history".into(), recent.iter().map(|m| message(m, d)).collect());
    }
    let mut metadata = t.metadata.clone().unwrap_or_default();
    if let Some(skill) = &t.skill {
        metadata.insert("skill".into(), json!(skill));
    }
    if !metadata.is_empty() {
        obj.insert("metadata".into(), Value::Object(metadata));
    }
    Value::Object(obj)
}

/// One streamed event about a task (`final` marks the last one for 0.3 clients).
pub fn event(t: &Task, e: &Event, d: Dialect) -> Value {
    match (e, d) {
        (Event::Status(s), Dialect::V1) => {
            json!({"statusUpdate": {"taskId": t.id, "contextId": t.context_id, "status": status(s, d)}})
        }
        (Event::Artifact(a), Dialect::V1) => json!({"artifactUpdate": {
            "taskId": t.id, "contextId": t.context_id, "artifact": artifact(a, 0, d), "append": false, "lastChunk": true,
        }}),
        (Event::Status(s), _) => json!({
            "kind": "status-update", "taskId": t.id, "contextId": t.context_id,
            "status": status(s, d), "final": s.state.is_terminal(),
        }),
        (Event::Artifact(a), _) => json!({
            "kind": "artifact-update", "taskId": t.id, "contextId": t.context_id,
            "artifact": artifact(a, 0, d), "append": false, "lastChunk": true,
        }),
    }
}

/// The first event of a stream (and the answer of a send): the task itself.
pub fn task_event(t: &Task, d: Dialect, view: View) -> Value {
    match d {
        Dialect::V1 => json!({"task": task(t, d, view)}),
        _ => task(t, d, view),
    }
}

/// A request field by its JSON name, or by the proto field name some clients send
/// (`historyLength` or `history_length`).
pub fn member<'a>(obj: &'a Map<String, Value>, camel: &str) -> Option<&'a Value> {
    obj.get(camel).or_else(|| {
        let mut snake = String::with_capacity(camel.len() + 4);
        for c in camel.chars() {
            if c.is_ascii_uppercase() {
                snake.push('_');
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        obj.get(&snake)
    })
}

/// Reads a message in any dialect: 1.0 (`ROLE_USER`, `{"text": ..}`), 0.3 (`user`,
/// `{"kind": "text", ..}`) or the predecessor's (`{"type": "text", ..}`).
pub fn read_message(v: &Value, field: &str) -> Result<Message, A2aError> {
    let obj = v.as_object().ok_or_else(|| A2aError::invalid(field, "expected a Message object"))?;
    let role = match obj.get("role").and_then(Value::as_str) {
        Some("ROLE_USER" | "user") | None => Role::User,
        Some("ROLE_AGENT" | "agent") => Role::Agent,
        Some(other) => {
            return Err(A2aError::invalid(
                format!("{field}.role"),
                format!("expected ROLE_USER or ROLE_AGENT, got {other:?}"),
            ));
        }
    };
    let parts = obj
        .get("parts")
        .and_then(Value::as_array)
        .ok_or_else(|| A2aError::invalid(format!("{field}.parts"), "expected an array of parts"))?;
    if parts.is_empty() {
        return Err(A2aError::invalid(format!("{field}.parts"), "at least one part is required"));
    }
    let parts = parts
        .iter()
        .enumerate()
        .map(|(i, p)| read_part(p, &format!("{field}.parts[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let string = |key: &str| -> Result<Option<String>, A2aError> {
        match member(obj, key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(A2aError::invalid(format!("{field}.{key}"), "expected a string")),
        }
    };
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(A2aError::invalid(format!("{field}.metadata"), "expected an object")),
    };
    Ok(Message {
        message_id: string("messageId")?.unwrap_or_else(new_id),
        role,
        parts,
        context_id: string("contextId")?,
        task_id: string("taskId")?,
        metadata,
        reference_task_ids: member(obj, "referenceTaskIds")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default(),
    })
}

fn read_part(v: &Value, field: &str) -> Result<Part, A2aError> {
    let obj = v.as_object().ok_or_else(|| A2aError::invalid(field, "expected a Part object"))?;
    let kind = obj.get("kind").or_else(|| obj.get("type")).and_then(Value::as_str);
    let media_type = member(obj, "mediaType").and_then(Value::as_str).map(String::from);
    let filename = obj.get("filename").and_then(Value::as_str).map(String::from);
    let metadata = obj.get("metadata").and_then(Value::as_object).cloned();
    let content = match (kind, obj.get("text"), obj.get("data")) {
        (None | Some("text"), Some(Value::String(t)), _) => Content::Text(t.clone()),
        (Some("text"), _, _) => return Err(A2aError::invalid(format!("{field}.text"), "expected a string")),
        (None | Some("data"), _, Some(d)) => Content::Data(d.clone()),
        (Some("data"), _, None) => return Err(A2aError::invalid(format!("{field}.data"), "a data part needs `data`")),
        (Some("file"), _, _) => {
            let file = obj.get("file").and_then(Value::as_object);
            let get = |k: &str| file.and_then(|f| f.get(k)).and_then(Value::as_str).map(String::from);
            Content::File { url: get("uri"), raw: get("bytes") }
        }
        (None, _, _) if obj.contains_key("url") || obj.contains_key("raw") => Content::File {
            url: obj.get("url").and_then(Value::as_str).map(String::from),
            raw: obj.get("raw").and_then(Value::as_str).map(String::from),
        },
        (Some(other), _, _) => {
            return Err(A2aError::invalid(field, format!("unknown part kind {other:?}; expected text, data or file")));
        }
        (None, _, _) => return Err(A2aError::invalid(field, "a part needs one of `text`, `data`, `url` or `raw`")),
    };
    Ok(Part { content, media_type, filename, metadata })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::a2a::model::TaskState;

    fn sample() -> Task {
        let m = read_message(&json!({"role": "ROLE_USER", "parts": [{"text": "hi"}], "messageId": "m-1"}), "message")
            .expect("message");
        let mut t = Task::new("ctx".into(), m, Dialect::V1);
        t.artifacts.push(Artifact {
            artifact_id: "a-1".into(),
            name: Some("answer".into()),
            description: None,
            parts: vec![Part::text("# ok"), Part::data(json!({"n": 1}))],
        });
        t.set_state(TaskState::Completed, None);
        t
    }

    #[test]
    fn tasks_render_in_each_dialect() {
        let t = sample();
        let v1 = task(&t, Dialect::V1, View::FULL);
        assert_eq!(v1["status"]["state"], "TASK_STATE_COMPLETED");
        assert_eq!(v1["contextId"], "ctx");
        assert_eq!(v1["artifacts"][0]["parts"][0], json!({"text": "# ok"}));
        assert_eq!(v1["artifacts"][0]["parts"][1], json!({"data": {"n": 1}}));
        assert_eq!(v1["history"][0]["role"], "ROLE_USER");
        assert!(v1.get("kind").is_none());
        let v03 = task(&t, Dialect::V03, View::FULL);
        assert_eq!(v03["kind"], "task");
        assert_eq!(v03["status"]["state"], "completed");
        assert_eq!(v03["artifacts"][0]["parts"][0], json!({"kind": "text", "text": "# ok"}));
        assert_eq!(v03["history"][0]["role"], "user");
        let legacy = task(&t, Dialect::Legacy, View::FULL);
        assert_eq!(legacy["sessionId"], "ctx");
        assert_eq!(legacy["artifacts"][0]["parts"][1], json!({"type": "data", "data": {"n": 1}}));
        assert_eq!(legacy["artifacts"][0]["index"], 0);
        let none = task(&t, Dialect::V1, View { history_length: Some(0), artifacts: false });
        assert!(none.get("history").is_none() && none.get("artifacts").is_none());
    }

    #[test]
    fn messages_are_read_in_any_dialect() {
        for v in [
            json!({"role": "ROLE_USER", "parts": [{"data": {"skill": "x"}}]}),
            json!({"kind": "message", "role": "user", "messageId": "1", "parts": [{"kind": "data", "data": {"skill": "x"}}]}),
            json!({"role": "user", "parts": [{"type": "data", "data": {"skill": "x"}}]}),
        ] {
            let m = read_message(&v, "message").expect("reads");
            assert_eq!(m.parts[0].content, Content::Data(json!({"skill": "x"})));
            assert_eq!(m.role, Role::User);
        }
        let err = read_message(&json!({"role": "user", "parts": []}), "message").expect_err("empty");
        assert_eq!(err, A2aError::invalid("message.parts", "at least one part is required"));
        let err = read_message(&json!({"parts": [{"kind": "video"}]}), "params.message").expect_err("kind");
        assert!(err.to_string().contains("params.message.parts[0]"), "{err}");
        assert!(read_message(&json!("hello"), "message").is_err());
        assert!(read_message(&json!({"role": "boss", "parts": [{"text": "x"}]}), "message").is_err());
    }
}
