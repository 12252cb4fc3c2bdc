//! Reads: get is in `server`; here list (selectors, paging, resourceVersion semantics) and watch
//! (initial events, resume from a resourceVersion, bookmarks, 410 Gone, timeouts).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::convert;
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::Server;
use crate::status::ApiError;
use crate::store::{Change, EventType};

/// The list/watch query parameters.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub allow_bookmarks: bool,
    pub send_initial_events: bool,
}

struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
    namespace: Option<String>,
}

impl Filter {
    fn new(rt: &ResourceType, ns: Option<&str>, q: &ListQuery) -> Result<Self, ApiError> {
        Ok(Self {
            labels: LabelSelector::parse(q.label_selector.as_deref().unwrap_or_default())
                .map_err(ApiError::bad_request)?,
            fields: FieldSelector::parse(q.field_selector.as_deref().unwrap_or_default(), &rt.kind)
                .map_err(ApiError::bad_request)?,
            namespace: ns.map(str::to_string),
        })
    }

    /// Matches a stored object without copying it, unless its version's fields differ from the
    /// stored ones (events.k8s.io Events).
    fn matches_stored(&self, rt: &ResourceType, stored: &Value) -> bool {
        if rt.group == "events.k8s.io" {
            self.matches(&convert::from_storage(rt, stored))
        } else {
            self.matches(stored)
        }
    }

    /// Matches the object as the client sees it (field selectors name client-side fields).
    fn matches(&self, visible: &Value) -> bool {
        let ns_ok = self
            .namespace
            .as_deref()
            .is_none_or(|ns| visible.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns));
        ns_ok && self.labels.matches(visible) && self.fields.matches(visible)
    }
}

fn list_kind_for(rt: &ResourceType) -> String {
    format!("{}List", rt.kind)
}

/// Items of a built-in list carry no apiVersion/kind (the list's type says it); custom
/// resources keep theirs, as unstructured objects do on a real server.
fn list_item(rt: &ResourceType, mut item: Value) -> Value {
    if !rt.custom
        && let Some(m) = item.as_object_mut()
    {
        m.remove("apiVersion");
        m.remove("kind");
    }
    item
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!({"rv": rv, "start": [ns, name]}).to_string())
}

fn decode_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let ns = v.pointer("/start/0").and_then(Value::as_str).ok_or_else(bad)?.to_string();
    let name = v.pointer("/start/1").and_then(Value::as_str).ok_or_else(bad)?.to_string();
    Ok((rv, ns, name))
}

/// Objects matching the query as a `<Kind>List`.
pub fn list(server: &Server, rt: &ResourceType, ns: Option<&str>, q: &ListQuery) -> Result<Value, ApiError> {
    let filter = Filter::new(rt, ns, q)?;
    let st = server.store();
    let current = st.resource_version();
    let requested = q.resource_version.as_deref().filter(|rv| !rv.is_empty() && *rv != "0");
    if let Some(rv) = requested {
        let rv: u64 = rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
        if rv > current {
            let mut e = ApiError::new(504, "Timeout", format!("Too large resource version: {rv}, current: {current}"));
            e.details = Some(
                json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}),
            );
            return Err(e);
        }
        if q.resource_version_match.as_deref() == Some("Exact") && rv != current {
            return Err(ApiError::gone(format!("too old resource version: {rv} ({current})")));
        }
    }
    let (list_rv, start) = match &q.continue_token {
        Some(token) if !token.is_empty() => {
            let (rv, ns, name) = decode_continue(token)?;
            (rv, Some((ns, name)))
        }
        _ => (current, None),
    };
    let mut items = Vec::new();
    let mut remaining = 0usize;
    let mut last: Option<(String, String)> = None;
    for object in st.list(&rt.storage_key(), ns) {
        let key = (
            object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string(),
            object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string(),
        );
        if start.as_ref().is_some_and(|s| key <= *s) {
            continue;
        }
        if !filter.matches_stored(rt, object) {
            continue;
        }
        if q.limit.is_some_and(|l| l > 0 && items.len() >= l) {
            remaining += 1;
            continue;
        }
        last = Some(key);
        items.push(list_item(rt, convert::from_storage(rt, object)));
    }
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if remaining > 0
        && let Some((ns, name)) = last
    {
        metadata["continue"] = json!(encode_continue(list_rv, &ns, &name));
        metadata["remainingItemCount"] = json!(remaining);
    }
    Ok(json!({"kind": list_kind_for(rt), "apiVersion": rt.api_version(), "metadata": metadata, "items": items}))
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn gone_line(rv: u64, current: u64) -> Bytes {
    event_line("ERROR", &ApiError::gone(format!("too old resource version: {rv} ({current})")).to_status())
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line("BOOKMARK", &json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": metadata}))
}

/// Translates one stored change into what this watch sends, if anything.
fn translate(rt: &ResourceType, filter: &Filter, change: &Change) -> Option<Bytes> {
    if change.key != rt.storage_key() {
        return None;
    }
    let now = convert::from_storage(rt, &change.object);
    let now_in = filter.matches(&now);
    let before_in = change.previous.as_ref().is_some_and(|p| filter.matches(&convert::from_storage(rt, p)));
    let kind = match (change.event, before_in, now_in) {
        (EventType::Deleted, _, true) => EventType::Deleted,
        (EventType::Modified, true, true) => EventType::Modified,
        (EventType::Modified, false, true) | (EventType::Added, _, true) => EventType::Added,
        (EventType::Modified, true, false) => EventType::Deleted,
        _ => return None,
    };
    Some(event_line(kind.as_str(), &now))
}

/// Starts a watch; the receiver yields newline-delimited watch events until the watch ends.
pub fn watch(
    server: &Arc<Server>,
    rt: &ResourceType,
    ns: Option<&str>,
    q: &ListQuery,
) -> Result<mpsc::Receiver<Bytes>, ApiError> {
    let filter = Filter::new(rt, ns, q)?;
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let mut cut = server.faults.cut_signal();
    let (initial, mut changes, start_rv, gone) = {
        let st = server.store();
        let current = st.resource_version();
        let changes = st.subscribe();
        let mut initial = Vec::new();
        let mut gone = false;
        let requested = q.resource_version.as_deref().filter(|rv| !rv.is_empty() && *rv != "0");
        let start_rv = match requested {
            _ if server.faults.take_gone() => {
                initial.push(gone_line(current.saturating_sub(1), current));
                gone = true;
                current
            }
            Some(rv) if !q.send_initial_events => {
                let rv: u64 =
                    rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
                if rv < st.compacted_rv() {
                    initial.push(gone_line(rv, current));
                    gone = true;
                } else {
                    initial.extend(st.history_since(rv).iter().filter_map(|c| translate(rt, &filter, c)));
                }
                current
            }
            _ => {
                for object in st.list(&rt.storage_key(), ns) {
                    if filter.matches_stored(rt, object) {
                        initial.push(event_line("ADDED", &convert::from_storage(rt, object)));
                    }
                }
                if q.send_initial_events {
                    initial.push(bookmark(rt, current, true));
                }
                current
            }
        };
        (initial, changes, start_rv, gone)
    };
    let timeout = Duration::from_secs(q.timeout_seconds.unwrap_or(1800).min(3600));
    let lifetime = server.faults.watch_lifetime().map_or(timeout, |l| l.min(timeout));
    let allow_bookmarks = q.allow_bookmarks;
    let rt = rt.clone();
    tokio::spawn(async move {
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        if gone {
            return;
        }
        let deadline = tokio::time::Instant::now() + lifetime;
        let mut last_rv = start_rv;
        let mut ticker = tokio::time::interval(Duration::from_secs(5));
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = cut.changed() => return,
                _ = ticker.tick(), if allow_bookmarks => {
                    if tx.send(bookmark(&rt, last_rv, false)).await.is_err() {
                        return;
                    }
                }
                change = changes.recv() => match change {
                    Ok(change) => {
                        if change.rv <= last_rv {
                            continue;
                        }
                        last_rv = change.rv;
                        if let Some(line) = translate(&rt, &filter, &change)
                            && tx.send(line).await.is_err()
                        {
                            return;
                        }
                    }
                    // Fell behind or the server is stopping: end the watch; the client resumes.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tx.closed() => return,
            }
        }
    });
    Ok(rx)
}
