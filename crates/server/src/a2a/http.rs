//! A2A over HTTP: the cards, JSON-RPC at `POST /` (1.0, 0.3 and predecessor method names), the
//! HTTP+JSON binding (`/message:send`, `/tasks/{id}` ...), and SSE streams for both.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::card;
use super::error::A2aError;
use super::model::{Dialect, Event, Message, Part, Task, TaskState};
use super::routing;
use super::store::ListQuery;
use super::wire::{self, View};
use super::{A2a, Send as NewMessage, Started, push, rejection};

/// The HTTP+JSON binding's media type; accepted on requests. Answers are `application/json`,
/// which clients of both bindings accept.
const A2A_JSON: &str = "application/a2a+json";

pub fn router(a2a: Arc<A2a>) -> Router {
    Router::new()
        .route("/.well-known/agent-card.json", get(agent_card))
        .route("/.well-known/agent.json", get(predecessor_card))
        .route("/agent.json", get(predecessor_card))
        .route("/", post(json_rpc))
        .route("/message:send", post(rest_send))
        .route("/message:stream", post(rest_stream))
        .route("/tasks", get(rest_list))
        .route("/tasks/{task}", get(rest_get).post(rest_task_action))
        .route("/tasks/{task}/pushNotificationConfigs", get(rest_push_list).post(rest_push_create))
        .route("/tasks/{task}/pushNotificationConfigs/{config}", get(rest_push_get).delete(rest_push_delete))
        .route("/extendedAgentCard", get(rest_extended_card))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(a2a)
}

fn base_url(a2a: &A2a, headers: &HeaderMap) -> String {
    crate::http::public_base_url(a2a.card.base_url.as_deref(), headers)
}

async fn agent_card(State(a2a): State<Arc<A2a>>, headers: HeaderMap) -> Response {
    let card = card::agent_card(a2a.registry(), &base_url(&a2a, &headers), a2a.features()).to_string();
    // The same binary and settings give the same card, so replicas agree on the tag.
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&card, &mut hasher);
    let etag = format!("\"{:016x}\"", std::hash::Hasher::finish(&hasher));
    let cache = [(header::CACHE_CONTROL, "max-age=300".to_string()), (header::ETAG, etag.clone())];
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, [(header::CONTENT_TYPE, "application/json")], card).into_response()
}

async fn predecessor_card(State(a2a): State<Arc<A2a>>, headers: HeaderMap) -> Response {
    axum::Json(card::predecessor_card(a2a.registry(), &base_url(&a2a, &headers), a2a.features())).into_response()
}

/// `A2A-Version` (header, or query parameter): missing means 0.3, as the specification says.
fn requested_version(headers: &HeaderMap, query: Option<&str>) -> Result<Option<Dialect>, A2aError> {
    let from_query = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("a2a-version"))
            .map(|(_, v)| v.into_owned())
    });
    let raw = match headers.get("a2a-version") {
        Some(v) => v.to_str().map_err(|_| A2aError::VersionNotSupported("(not text)".into()))?.trim().to_string(),
        None => from_query.unwrap_or_default(),
    };
    let major_minor: Vec<&str> = raw.split('.').take(2).collect();
    match major_minor.as_slice() {
        [""] => Ok(None),
        ["1", "0"] => Ok(Some(Dialect::V1)),
        ["0", "3"] => Ok(Some(Dialect::V03)),
        _ => Err(A2aError::VersionNotSupported(crate::validate::sanitize(&raw))),
    }
}

// ---------------------------------------------------------------- JSON-RPC

fn rpc_result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn rpc_error(id: &Value, e: &A2aError) -> Response {
    axum::Json(json!({"jsonrpc": "2.0", "id": id, "error": e.rpc_error()})).into_response()
}

/// The operations, whatever the method family calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Send,
    Stream,
    Get,
    List,
    Cancel,
    Subscribe,
    ExtendedCard,
    PushSet,
    PushGet,
    PushList,
    PushDelete,
    AgentInfo,
    Create,
    FollowUp,
    LegacyList,
}

fn op(method: &str) -> Option<(Op, Option<Dialect>)> {
    use Dialect::*;
    Some(match method {
        "SendMessage" => (Op::Send, Some(V1)),
        "SendStreamingMessage" => (Op::Stream, Some(V1)),
        "GetTask" => (Op::Get, Some(V1)),
        "ListTasks" => (Op::List, Some(V1)),
        "CancelTask" => (Op::Cancel, Some(V1)),
        "SubscribeToTask" => (Op::Subscribe, Some(V1)),
        "GetExtendedAgentCard" => (Op::ExtendedCard, Some(V1)),
        "CreateTaskPushNotificationConfig" => (Op::PushSet, Some(V1)),
        "GetTaskPushNotificationConfig" => (Op::PushGet, Some(V1)),
        "ListTaskPushNotificationConfigs" => (Op::PushList, Some(V1)),
        "DeleteTaskPushNotificationConfig" => (Op::PushDelete, Some(V1)),
        "message/send" => (Op::Send, Some(V03)),
        "message/stream" => (Op::Stream, Some(V03)),
        // Shared by 0.3 and the predecessor: the task's own dialect decides.
        "tasks/get" => (Op::Get, None),
        "tasks/cancel" => (Op::Cancel, None),
        "tasks/resubscribe" => (Op::Subscribe, Some(V03)),
        "agent/getAuthenticatedExtendedCard" => (Op::ExtendedCard, Some(V03)),
        "tasks/pushNotificationConfig/set" => (Op::PushSet, Some(V03)),
        "tasks/pushNotificationConfig/get" => (Op::PushGet, Some(V03)),
        "tasks/pushNotificationConfig/list" => (Op::PushList, Some(V03)),
        "tasks/pushNotificationConfig/delete" => (Op::PushDelete, Some(V03)),
        "agent/info" => (Op::AgentInfo, Some(Legacy)),
        "tasks/create" => (Op::Create, Some(Legacy)),
        "tasks/message" => (Op::FollowUp, Some(Legacy)),
        "tasks/list" => (Op::LegacyList, Some(Legacy)),
        _ => return None,
    })
}

/// JSON bodies only: a request in another media type is refused before it is parsed.
fn check_content_type(headers: &HeaderMap) -> Result<(), A2aError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else { return Ok(()) };
    let ct = ct.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if ct.is_empty() || ct == "application/json" || ct == A2A_JSON {
        Ok(())
    } else {
        Err(A2aError::RequestContentType(crate::validate::sanitize(&ct)))
    }
}

/// A body over `--max-body-bytes` (or unreadable) as an A2A error rather than a bare 413.
fn body_error(e: &BytesRejection) -> (StatusCode, A2aError) {
    (e.status(), A2aError::InvalidRequest(format!("request body refused: {}", e.body_text())))
}

async fn json_rpc(
    State(a2a): State<Arc<A2a>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let (status, err) = body_error(&e);
            return (status, rpc_error(&Value::Null, &err)).into_response();
        }
    };
    if let Err(e) = check_content_type(&headers) {
        return rpc_error(&Value::Null, &e);
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return rpc_error(&Value::Null, &A2aError::Parse(e.to_string())),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let id = if matches!(id, Value::String(_) | Value::Number(_) | Value::Null) { id } else { Value::Null };
    let checked = (|| {
        let obj = request.as_object().ok_or_else(|| {
            A2aError::InvalidRequest("expected a JSON-RPC request object (batches are not supported)".into())
        })?;
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(A2aError::InvalidRequest("`jsonrpc` must be \"2.0\"".into()));
        }
        if !matches!(obj.get("id"), Some(Value::String(_) | Value::Number(_))) {
            return Err(A2aError::InvalidRequest("`id` must be a string or a number".into()));
        }
        let method = obj
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| A2aError::InvalidRequest("`method` must be a string".into()))?;
        let params = match obj.get("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p.clone(),
            Some(_) => return Err(A2aError::invalid("params", "expected an object")),
        };
        let (op, family) = op(method).ok_or_else(|| A2aError::MethodNotFound(crate::validate::sanitize(method)))?;
        Ok((op, family, params))
    })();
    let (op, family, params) = match checked {
        Ok(c) => c,
        Err(e) => return rpc_error(&id, &e),
    };
    let requested = match requested_version(&headers, query.as_deref()) {
        Ok(v) => v,
        Err(e) => return rpc_error(&id, &e),
    };
    // The predecessor's own methods always answer in its shapes; otherwise the version asked
    // for decides, then the method family.
    let dialect = match family {
        Some(Dialect::Legacy) => Some(Dialect::Legacy),
        _ => requested.or(family),
    };
    match dispatch(&a2a, op, (family, dialect), &params, &headers, &id).await {
        Ok(r) => r,
        Err(e) => rpc_error(&id, &e),
    }
}

/// `dialect`: the method's family (which shape its params take), and the dialect to answer in.
async fn dispatch(
    a2a: &Arc<A2a>,
    op: Op,
    (family, dialect): (Option<Dialect>, Option<Dialect>),
    params: &Map<String, Value>,
    headers: &HeaderMap,
    id: &Value,
) -> Result<Response, A2aError> {
    let ok = |v: Value| Ok(axum::Json(rpc_result(id, v)).into_response());
    let issuer = base_url(a2a, headers);
    match op {
        Op::Send => {
            let d = dialect.unwrap_or(Dialect::V03);
            let (task, view) = send_blocking(a2a, params, d, "params", &issuer).await?;
            ok(wire::task_event(&task, d, view))
        }
        Op::Stream => {
            let d = dialect.unwrap_or(Dialect::V03);
            let (started, view) = start(a2a, params, d, "params", &issuer).await?;
            Ok(sse(stream(started.task, started.events, d, view, Some(id.clone()), Until::Pause, a2a.stream_idle)))
        }
        Op::Get => {
            let (task_id, view) = get_params(params)?;
            let task = a2a.get(&task_id).await?;
            ok(wire::task(&task, dialect.unwrap_or(task_dialect(&task)), view))
        }
        Op::Cancel => {
            let task_id = required_string(params, "id", "params")?;
            let task = a2a.cancel(&task_id).await?;
            ok(wire::task(&task, dialect.unwrap_or(task_dialect(&task)), View::FULL))
        }
        Op::Subscribe => {
            let task_id = required_string(params, "id", "params")?;
            let (task, rx) = a2a.subscribe(&task_id).await?;
            let d = dialect.unwrap_or(Dialect::V03);
            Ok(sse(stream(task, Some(rx), d, View::FULL, Some(id.clone()), Until::End, a2a.stream_idle)))
        }
        Op::List => {
            let q = list_query(params)?;
            ok(list_answer(a2a, &q, dialect.unwrap_or(Dialect::V1)).await?)
        }
        Op::ExtendedCard => ok(a2a.extended_card(&base_url(a2a, headers), dialect == Some(Dialect::V03)).await?),
        Op::PushSet | Op::PushGet | Op::PushList | Op::PushDelete => {
            let family = family.unwrap_or(Dialect::V1);
            ok(push_rpc(a2a, op, family, params, &issuer).await?)
        }
        Op::AgentInfo => ok(card::predecessor_card(a2a.registry(), &base_url(a2a, headers), a2a.features())),
        Op::Create => ok(legacy_create(a2a, params).await?),
        Op::FollowUp => {
            let task_id =
                required_string(params, "id", "params").or_else(|_| required_string(params, "taskId", "params"))?;
            let mut message = wire::read_message(params.get("message").unwrap_or(&Value::Null), "params.message")?;
            message.task_id = Some(task_id);
            let started = a2a
                .send(NewMessage { message, dialect: Dialect::Legacy, route: None, task_id: None, push: None })
                .await?;
            let task = finished(a2a, started).await?;
            ok(wire::task(&task, Dialect::Legacy, View::FULL))
        }
        Op::LegacyList => {
            let limit = optional_u64(params, "limit", "params")?.unwrap_or(50);
            if !(1..=100).contains(&limit) {
                return Err(A2aError::invalid("params.limit", format!("must be between 1 and 100, got {limit}")));
            }
            let state = optional_state(params, "state", "params")?;
            let q = ListQuery {
                context_id: optional_string(params, "sessionId", "params")?,
                state,
                page_size: limit as usize,
                ..Default::default()
            };
            let page = a2a.list(&q).await?;
            let view = View { history_length: Some(0), artifacts: true };
            ok(
                json!({"tasks": page.tasks.iter().map(|t| wire::task(t, Dialect::Legacy, view)).collect::<Vec<_>>(), "total": page.total_size}),
            )
        }
    }
}

fn task_dialect(t: &Task) -> Dialect {
    if t.dialect == Dialect::Legacy { Dialect::Legacy } else { Dialect::V03 }
}

/// `tasks/create {id?, sessionId?, skill, input, metadata?}`: runs the skill to the end.
async fn legacy_create(a2a: &Arc<A2a>, params: &Map<String, Value>) -> Result<Value, A2aError> {
    let skill = required_string(params, "skill", "params")?;
    let input = match params.get("input") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(i)) => i.clone(),
        Some(_) => return Err(A2aError::invalid("params.input", "expected an object (the skill's arguments)")),
    };
    let data = json!({"skill": skill, "arguments": input});
    let route = match routing::route(&Message::user(vec![Part::data(data.clone())]), &a2a.offered()) {
        Ok(r) => r,
        Err(A2aError::InvalidParams { reason, .. }) => return Err(A2aError::invalid("params.skill", reason)),
        Err(e) => return Err(e),
    };
    let mut message = Message::user(vec![Part::data(data)]);
    message.context_id = optional_string(params, "sessionId", "params")?;
    message.metadata = params.get("metadata").and_then(Value::as_object).cloned();
    let task_id = optional_string(params, "id", "params")?;
    if let Some(id) = &task_id {
        let valid = id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(A2aError::invalid("params.id", "at most 128 letters, digits, `-`, `_` or `.`"));
        }
    }
    let started =
        a2a.send(NewMessage { message, dialect: Dialect::Legacy, route: Some(route), task_id, push: None }).await?;
    let task = finished(a2a, started).await?;
    Ok(wire::task(&task, Dialect::Legacy, View::FULL))
}

/// Waits for the task; a task refused for its arguments answers as a JSON-RPC error.
async fn finished(a2a: &A2a, started: Started) -> Result<Task, A2aError> {
    let task = a2a.wait(started).await?;
    match rejection(&task) {
        Some(e) => Err(e),
        None => Ok(task),
    }
}

/// Reads a SendMessageRequest (1.0 `configuration.returnImmediately`, 0.3 `configuration.blocking`,
/// a push notification config in `configuration.taskPushNotificationConfig` or 0.3's
/// `configuration.pushNotificationConfig`). `issuer`: the agent's URL as the client reached it.
async fn start(
    a2a: &Arc<A2a>,
    params: &Map<String, Value>,
    d: Dialect,
    at: &str,
    issuer: &str,
) -> Result<(Started, View), A2aError> {
    let message = wire::read_message(params.get("message").unwrap_or(&Value::Null), &format!("{at}.message"))?;
    let config = params.get("configuration").and_then(Value::as_object);
    let cfg = |k: &str| config.and_then(|c| wire::member(c, k));
    let push = match [("taskPushNotificationConfig", Dialect::V1), ("pushNotificationConfig", Dialect::V03)]
        .into_iter()
        .find_map(|(key, shape)| cfg(key).filter(|v| !v.is_null()).map(|v| (key, shape, v)))
    {
        None => None,
        Some((key, shape, v)) => {
            // The webhook gets the shape of the request's dialect; the key names the config's.
            let dialect = if d == Dialect::V1 { Dialect::V1 } else { shape };
            let at = format!("{at}.configuration.{key}");
            Some(a2a.pusher_or_refuse()?.accept(v, &at, "", dialect, issuer).await?)
        }
    };
    if let Some(Value::Array(modes)) = cfg("acceptedOutputModes")
        && !modes.is_empty()
        && !modes.iter().filter_map(Value::as_str).any(accepted_mode)
    {
        return Err(A2aError::ContentTypeNotSupported(format!(
            "this agent answers in text/markdown, text/plain and application/json; accepted output modes were {}",
            Value::Array(modes.clone())
        )));
    }
    let history_length = match cfg("historyLength") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            A2aError::invalid(format!("{at}.configuration.historyLength"), "expected a non-negative integer")
        })? as usize),
    };
    let started = a2a.send(NewMessage { message, dialect: d, route: None, task_id: None, push }).await?;
    Ok((started, View { history_length, artifacts: true }))
}

fn accepted_mode(m: &str) -> bool {
    let m = m.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        m.as_str(),
        "text/plain" | "text/markdown" | "application/json" | "text/*" | "application/*" | "*/*" | "text" | "data"
    )
}

async fn send_blocking(
    a2a: &Arc<A2a>,
    params: &Map<String, Value>,
    d: Dialect,
    at: &str,
    issuer: &str,
) -> Result<(Task, View), A2aError> {
    let config = params.get("configuration").and_then(Value::as_object);
    let flag = |k: &str| config.and_then(|c| wire::member(c, k)).and_then(Value::as_bool);
    let blocking = match flag("returnImmediately") {
        Some(ri) => !ri,
        None => flag("blocking").unwrap_or(true),
    };
    let (started, view) = start(a2a, params, d, at, issuer).await?;
    if !blocking {
        return Ok((started.task, view));
    }
    Ok((finished(a2a, started).await?, view))
}

fn required_string(params: &Map<String, Value>, key: &str, at: &str) -> Result<String, A2aError> {
    optional_string(params, key, at)?.ok_or_else(|| A2aError::invalid(format!("{at}.{key}"), "required"))
}

fn optional_string(params: &Map<String, Value>, key: &str, at: &str) -> Result<Option<String>, A2aError> {
    match wire::member(params, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(A2aError::invalid(format!("{at}.{key}"), "expected a string")),
    }
}

fn optional_u64(params: &Map<String, Value>, key: &str, at: &str) -> Result<Option<u64>, A2aError> {
    match wire::member(params, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        // Query strings carry numbers as text.
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
        Some(v) => Err(A2aError::invalid(format!("{at}.{key}"), format!("expected a non-negative integer, got {v}"))),
    }
}

fn optional_state(params: &Map<String, Value>, key: &str, at: &str) -> Result<Option<TaskState>, A2aError> {
    match optional_string(params, key, at)? {
        None => Ok(None),
        Some(s) if s == "TASK_STATE_UNSPECIFIED" => Ok(None),
        Some(s) => TaskState::parse(&s).map(Some).ok_or_else(|| {
            let names: Vec<&str> = TaskState::ALL.iter().map(|t| t.v1_name()).collect();
            A2aError::invalid(
                format!("{at}.{key}"),
                format!("invalid status {:?}; one of {}", crate::validate::sanitize(&s), names.join(", ")),
            )
        }),
    }
}

fn get_params(params: &Map<String, Value>) -> Result<(String, View), A2aError> {
    let id = required_string(params, "id", "params")?;
    let history_length = optional_u64(params, "historyLength", "params")?.map(|n| n as usize);
    Ok((id, View { history_length, artifacts: true }))
}

fn list_query(params: &Map<String, Value>) -> Result<(ListQuery, View), A2aError> {
    let page_size = optional_u64(params, "pageSize", "params")?.unwrap_or(50);
    if !(1..=100).contains(&page_size) {
        return Err(A2aError::invalid("pageSize", format!("must be between 1 and 100 inclusive, got {page_size}")));
    }
    let updated_after =
        match optional_string(params, "statusTimestampAfter", "params")? {
            None => None,
            Some(s) => Some(s.parse::<jiff::Timestamp>().map_err(|e| {
                A2aError::invalid("statusTimestampAfter", format!("expected an RFC 3339 timestamp: {e}"))
            })?),
        };
    let include_artifacts = match wire::member(params, "includeArtifacts") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        Some(_) => return Err(A2aError::invalid("includeArtifacts", "expected true or false")),
    };
    let history_length = optional_u64(params, "historyLength", "params")?.map(|n| n as usize).or(Some(0));
    let q = ListQuery {
        context_id: optional_string(params, "contextId", "params")?,
        state: optional_state(params, "status", "params")?,
        page_size: page_size as usize,
        page_token: optional_string(params, "pageToken", "params")?,
        updated_after,
        owner: None,
    };
    Ok((q, View { history_length, artifacts: include_artifacts }))
}

async fn list_answer(a2a: &A2a, (q, view): &(ListQuery, View), d: Dialect) -> Result<Value, A2aError> {
    let page = a2a.list(q).await?;
    Ok(json!({
        "tasks": page.tasks.iter().map(|t| wire::task(t, d, *view)).collect::<Vec<_>>(),
        "nextPageToken": page.next_page_token,
        "pageSize": page.tasks.len(),
        "totalSize": page.total_size,
    }))
}

// ---------------------------------------------------------------- SSE

fn sse(events: impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static) -> Response {
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}

/// How long a stream stays open.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    /// A message stream: until the task finishes or waits for input.
    Pause,
    /// A subscription: through input-required turns, until the task finishes.
    End,
}

/// The task first, then its events. JSON-RPC wraps each in a response envelope (`rpc_id`);
/// HTTP+JSON sends them bare.
fn stream(
    task: Task,
    events: Option<broadcast::Receiver<Event>>,
    d: Dialect,
    view: View,
    rpc_id: Option<Value>,
    until: Until,
    idle: std::time::Duration,
) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static {
    let wrap = move |v: Value| -> Result<SseEvent, Infallible> {
        let v = match &rpc_id {
            Some(id) => rpc_result(id, v),
            None => v,
        };
        Ok(SseEvent::default().data(v.to_string()))
    };
    async_stream::stream! {
        yield wrap(wire::task_event(&task, d, view));
        if task.status.state.is_terminal() {
            return;
        }
        let Some(mut rx) = events else { return };
        loop {
            // A task waiting for input may wait for ever; its subscribers do not.
            let Ok(next) = tokio::time::timeout(idle, rx.recv()).await else { break };
            match next {
                Ok(e) => {
                    let last = matches!(&e, Event::Status(s)
                        if s.state.is_terminal() || (until == Until::Pause && s.state.is_interrupted()));
                    yield wrap(wire::event(&task, &e, d));
                    if last {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}

// ---------------------------------------------------------------- HTTP+JSON

/// An A2A error as the HTTP+JSON binding answers it (status and `google.rpc.Status` body), so
/// REST handlers can return `Result<Response, Rest>` and use `?`.
struct Rest(A2aError);

impl From<A2aError> for Rest {
    fn from(e: A2aError) -> Rest {
        Rest(e)
    }
}

impl IntoResponse for Rest {
    fn into_response(self) -> Response {
        (self.0.http_status(), axum::Json(self.0.rest_body())).into_response()
    }
}

fn rest_ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// REST requests default to 1.0 shapes unless `A2A-Version: 0.3` asks otherwise (the binding is
/// new in 1.0; a missing header there is a client that predates the header, not 0.3 JSON-RPC).
fn rest_dialect(headers: &HeaderMap, query: Option<&str>) -> Result<Dialect, A2aError> {
    Ok(requested_version(headers, query)?.unwrap_or(Dialect::V1))
}

fn rest_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, A2aError> {
    let body = body.map_err(|e| body_error(&e).1)?;
    check_content_type(headers)?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(A2aError::invalid("body", "expected a JSON object")),
        Err(e) => Err(A2aError::Parse(e.to_string())),
    }
}

fn query_map(query: Option<&str>) -> Map<String, Value> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

async fn rest_send(
    State(a2a): State<Arc<A2a>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Rest> {
    let d = rest_dialect(&headers, q.as_deref())?;
    let params = rest_body(&headers, body)?;
    let (task, view) = send_blocking(&a2a, &params, d, "body", &base_url(&a2a, &headers)).await?;
    Ok(rest_ok(wire::task_event(&task, d, view)))
}

async fn rest_stream(
    State(a2a): State<Arc<A2a>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Rest> {
    let d = rest_dialect(&headers, q.as_deref())?;
    let params = rest_body(&headers, body)?;
    let (started, view) = start(&a2a, &params, d, "body", &base_url(&a2a, &headers)).await?;
    Ok(sse(stream(started.task, started.events, d, view, None, Until::Pause, a2a.stream_idle)))
}

async fn rest_get(
    State(a2a): State<Arc<A2a>>,
    Path(task): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, Rest> {
    let d = rest_dialect(&headers, q.as_deref())?;
    let mut params = query_map(q.as_deref());
    params.insert("id".into(), Value::String(task));
    let (id, view) = get_params(&params)?;
    Ok(rest_ok(wire::task(&a2a.get(&id).await?, d, view)))
}

async fn rest_list(State(a2a): State<Arc<A2a>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Result<Response, Rest> {
    let d = rest_dialect(&headers, q.as_deref())?;
    let query = list_query(&query_map(q.as_deref()))?;
    Ok(rest_ok(list_answer(&a2a, &query, d).await?))
}

/// `POST /tasks/{id}:cancel` and `POST /tasks/{id}:subscribe`.
async fn rest_task_action(
    State(a2a): State<Arc<A2a>>,
    Path(task): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, Rest> {
    let d = rest_dialect(&headers, q.as_deref())?;
    match task.rsplit_once(':') {
        Some((id, "cancel")) => Ok(rest_ok(wire::task(&a2a.cancel(id).await?, d, View::FULL))),
        Some((id, "subscribe")) => {
            let (task, rx) = a2a.subscribe(id).await?;
            Ok(sse(stream(task, Some(rx), d, View::FULL, None, Until::End, a2a.stream_idle)))
        }
        _ => Err(A2aError::MethodNotFound(format!("POST /tasks/{}", crate::validate::sanitize(&task))).into()),
    }
}

/// The body is 1.0's TaskPushNotificationConfig (the HTTP+JSON binding is new in 1.0).
async fn rest_push_create(
    State(a2a): State<Arc<A2a>>,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Rest> {
    let mut body = rest_body(&headers, body)?;
    // The path names the task, whatever the body says.
    body.insert("taskId".into(), Value::String(task));
    Ok(rest_ok(push_rpc(&a2a, Op::PushSet, Dialect::V1, &body, &base_url(&a2a, &headers)).await?))
}

/// Over HTTP+JSON (new in 1.0) the list is always 1.0's `{configs, nextPageToken}`.
async fn rest_push_list(
    State(a2a): State<Arc<A2a>>,
    Path(task): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, Rest> {
    let mut params = query_map(q.as_deref());
    params.insert("taskId".into(), Value::String(task));
    Ok(rest_ok(push_rpc(&a2a, Op::PushList, Dialect::V1, &params, "").await?))
}

async fn rest_push_get(
    State(a2a): State<Arc<A2a>>,
    Path((task, config)): Path<(String, String)>,
) -> Result<Response, Rest> {
    Ok(rest_ok(push::config::render(&a2a.push_config(&task, Some(&config)).await?, Dialect::V1)))
}

async fn rest_push_delete(
    State(a2a): State<Arc<A2a>>,
    Path((task, config)): Path<(String, String)>,
) -> Result<Response, Rest> {
    a2a.delete_push(&task, &config).await?;
    Ok(rest_ok(json!({})))
}

/// The push config methods, with `family`'s params: 1.0 (`taskId`, `id`, the config flat) or
/// 0.3 (`id` is the task, `pushNotificationConfigId`, the config under `pushNotificationConfig`).
async fn push_rpc(
    a2a: &Arc<A2a>,
    op: Op,
    family: Dialect,
    params: &Map<String, Value>,
    issuer: &str,
) -> Result<Value, A2aError> {
    let v1 = family == Dialect::V1;
    let task_of = |key: &str| required_string(params, key, "params");
    match op {
        Op::PushSet => {
            let task_id = task_of("taskId")?;
            let (config, at) = match (v1, params.get("config"), params.get("pushNotificationConfig")) {
                // Drafts of 1.0 wrapped the config in `config`.
                (true, Some(c @ Value::Object(_)), _) => (c, "params.config"),
                (true, _, _) => (&Value::Object(params.clone()), "params"),
                (false, _, Some(c)) => (c, "params.pushNotificationConfig"),
                (false, _, None) => return Err(A2aError::invalid("params.pushNotificationConfig", "required")),
            };
            let config = a2a.pusher_or_refuse()?.accept(config, at, &task_id, family, issuer).await?;
            let saved = a2a.set_push(config).await?;
            Ok(push::config::render(&saved, family))
        }
        Op::PushGet => {
            let config = if v1 {
                a2a.push_config(&task_of("taskId")?, Some(&required_string(params, "id", "params")?)).await?
            } else {
                let config_id = optional_string(params, "pushNotificationConfigId", "params")?;
                a2a.push_config(&task_of("id")?, config_id.as_deref()).await?
            };
            Ok(push::config::render(&config, family))
        }
        Op::PushList => {
            let configs = a2a.push_configs(&task_of(if v1 { "taskId" } else { "id" })?).await?;
            if !v1 {
                return Ok(configs.iter().map(|c| push::config::render(c, family)).collect());
            }
            let page_size = optional_u64(params, "pageSize", "params")?.unwrap_or(0) as usize;
            let start = match optional_string(params, "pageToken", "params")? {
                None => 0,
                Some(t) => t
                    .parse::<usize>()
                    .map_err(|_| A2aError::invalid("params.pageToken", "not a page token this agent issued"))?,
            };
            let size = if page_size == 0 { configs.len() } else { page_size };
            let page: Vec<Value> =
                configs.iter().skip(start).take(size).map(|c| push::config::render(c, family)).collect();
            let next =
                if start + page.len() < configs.len() { (start + page.len()).to_string() } else { String::new() };
            Ok(json!({"configs": page, "nextPageToken": next}))
        }
        Op::PushDelete => {
            let (task_id, config_id) = if v1 {
                (task_of("taskId")?, required_string(params, "id", "params")?)
            } else {
                (task_of("id")?, required_string(params, "pushNotificationConfigId", "params")?)
            };
            a2a.delete_push(&task_id, &config_id).await?;
            Ok(if v1 { json!({}) } else { Value::Null })
        }
        _ => Err(A2aError::Internal(format!("{op:?} is not a push config method"))),
    }
}

/// The key that signs push notifications (404 when the agent sends none).
async fn jwks(State(a2a): State<Arc<A2a>>) -> Response {
    match a2a.pusher() {
        Some(p) => ([(header::CACHE_CONTROL, "max-age=300")], axum::Json(p.jwks())).into_response(),
        None => {
            (StatusCode::NOT_FOUND, "push notifications are off (--a2a-push=false): nothing is signed").into_response()
        }
    }
}

async fn rest_extended_card(
    State(a2a): State<Arc<A2a>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, Rest> {
    let d = rest_dialect(&headers, q.as_deref())?;
    Ok(rest_ok(a2a.extended_card(&base_url(&a2a, &headers), d == Dialect::V03).await?))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn versions_are_negotiated_from_the_header_or_the_query() {
        let mut h = HeaderMap::new();
        assert_eq!(requested_version(&h, None), Ok(None));
        assert_eq!(requested_version(&h, Some("A2A-Version=1.0")), Ok(Some(Dialect::V1)));
        h.insert("a2a-version", HeaderValue::from_static("0.3"));
        assert_eq!(requested_version(&h, None), Ok(Some(Dialect::V03)));
        h.insert("a2a-version", HeaderValue::from_static("1.0.1"));
        assert_eq!(requested_version(&h, None), Ok(Some(Dialect::V1)));
        h.insert("a2a-version", HeaderValue::from_static("0.5"));
        assert!(matches!(requested_version(&h, None), Err(A2aError::VersionNotSupported(_))));
    }

    #[test]
    fn every_method_family_maps_to_an_operation() {
        for m in [
            "SendMessage",
            "message/send",
            "tasks/create",
            "tasks/get",
            "GetTask",
            "tasks/list",
            "ListTasks",
            "agent/info",
        ] {
            assert!(op(m).is_some(), "{m}");
        }
        assert!(op("tasks/send").is_none());
        assert_eq!(op("tasks/get"), Some((Op::Get, None)));
    }
}
