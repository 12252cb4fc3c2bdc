//! `get_events` and `get_pod_logs`: read on demand (never cached), bounded, logs redacted.

use std::sync::Arc;

use gitops_agent_api::tools::ToolName;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::ResourceExt;
use kube::api::{Api, ListParams, LogParams};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolContext;
use crate::markdown::{self, Table};
use crate::redact::redact;
use crate::registry::{Hints, Tool, ToolError};
use crate::validate;

/// Events read per call before sorting: enough for any namespace a person can reason about.
const EVENT_SCAN: u32 = 5000;

#[derive(Deserialize, JsonSchema, Default, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    #[default]
    #[serde(rename = "all", alias = "All")]
    All,
    #[serde(alias = "normal")]
    Normal,
    #[serde(alias = "warning")]
    Warning,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct EventsArgs {
    /// Namespace of the events.
    pub namespace: String,
    /// Only events about the object with this name.
    #[serde(default)]
    pub resource_name: Option<String>,
    /// `all` (default), `Normal` or `Warning`.
    #[serde(default)]
    pub event_type: EventType,
    /// How many events, newest first (default 20, at most 500).
    #[serde(default = "default_events")]
    pub limit: u32,
}

fn default_events() -> u32 {
    20
}

/// One event.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventRow {
    pub last_seen: Option<String>,
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    /// `Kind/name` of the object the event is about.
    pub object: String,
    pub count: i32,
    pub message: String,
    pub source: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct EventsAnswer {
    namespace: String,
    /// Events that matched, before the limit.
    matched: usize,
    events: Vec<EventRow>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct LogsArgs {
    pub pod_name: String,
    pub namespace: String,
    /// Container name (default: the pod's first container).
    #[serde(default)]
    pub container: Option<String>,
    /// Lines from the end of the log (default 100, at most 5000).
    #[serde(default = "default_tail")]
    pub tail_lines: u32,
}

fn default_tail() -> u32 {
    100
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct LogsAnswer {
    namespace: String,
    pod: String,
    container: String,
    lines: usize,
    /// Whether the text was cut at the byte cap.
    truncated: bool,
    /// The log text, secrets redacted.
    log: String,
}

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::GetEvents,
            "Get Kubernetes events",
            "Get the events of a namespace, newest first, optionally only those about one object (`resource_name`) or of one type (`Normal`/`Warning`). Flux controllers record why a reconciliation failed as Warning events.",
            Hints::READ,
            get_events,
        ),
        Tool::new(
            ToolName::GetPodLogs,
            "Get pod logs",
            "Get the last lines of a pod container's log (default: the first container, 100 lines). Passwords, tokens, bearer credentials, private keys, JWTs, cloud access keys and long base64 blobs are redacted.",
            Hints::READ,
            get_pod_logs,
        ),
    ]
}

/// The events of one namespace (optionally about one object), newest first, with how many matched.
pub async fn events(
    ctx: &ToolContext,
    namespace: &str,
    object: Option<(&str, &str)>,
    event_type: EventType,
    limit: usize,
) -> Result<(Vec<EventRow>, usize), ToolError> {
    let api: Api<Event> = Api::namespaced(ctx.client(), namespace);
    let mut fields = Vec::new();
    if let Some((kind, name)) = object {
        if !kind.is_empty() {
            fields.push(format!("involvedObject.kind={kind}"));
        }
        fields.push(format!("involvedObject.name={name}"));
    }
    match event_type {
        EventType::All => {}
        EventType::Normal => fields.push("type=Normal".into()),
        EventType::Warning => fields.push("type=Warning".into()),
    }
    let mut params = ListParams::default().limit(EVENT_SCAN);
    if !fields.is_empty() {
        params = params.fields(&fields.join(","));
    }
    let list = api.list(&params).await?;
    let mut rows: Vec<(String, EventRow)> = list
        .items
        .into_iter()
        .map(|e| {
            let when = e
                .series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0.to_string()))
                .or_else(|| e.last_timestamp.as_ref().map(|t| t.0.to_string()))
                .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
                .or_else(|| e.first_timestamp.as_ref().map(|t| t.0.to_string()))
                .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()));
            let source = e
                .source
                .as_ref()
                .and_then(|s| s.component.clone())
                .or_else(|| e.reporting_component.clone())
                .unwrap_or_default();
            let row = EventRow {
                last_seen: when.clone(),
                type_: e.type_.unwrap_or_default(),
                reason: e.reason.unwrap_or_default(),
                object: format!(
                    "{}/{}",
                    e.involved_object.kind.unwrap_or_default(),
                    e.involved_object.name.unwrap_or_default()
                ),
                count: e.series.as_ref().and_then(|s| s.count).or(e.count).unwrap_or(1),
                message: e.message.unwrap_or_default().trim().to_string(),
                source,
            };
            (when.unwrap_or_default(), row)
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.object.cmp(&b.1.object)));
    let matched = rows.len();
    Ok((rows.into_iter().take(limit).map(|(_, r)| r).collect(), matched))
}

pub fn events_table(ctx: &ToolContext, rows: &[EventRow]) -> String {
    let now = ctx.now();
    let mut t = Table::new(&["Last seen", "Type", "Reason", "Object", "Count", "Message"]);
    for e in rows {
        t.row(vec![
            markdown::age(now, e.last_seen.as_deref()),
            e.type_.clone(),
            e.reason.clone(),
            e.object.clone(),
            e.count.to_string(),
            markdown::clip(&e.message, 240),
        ]);
    }
    t.render()
}

async fn get_events(ctx: Arc<ToolContext>, args: EventsArgs) -> Result<(String, EventsAnswer), ToolError> {
    ctx.check_namespace("namespace", Some(&args.namespace))?;
    validate::optional_name("resource_name", args.resource_name.as_deref())?;
    let limit = validate::within("limit", args.limit, 1, ctx.limits.max_events)?;
    let object = args.resource_name.as_deref().map(|n| ("", n));
    let (rows, matched) = events(&ctx, &args.namespace, object, args.event_type, limit as usize).await?;
    let about = args.resource_name.as_deref().map(|n| format!(" about `{n}`")).unwrap_or_default();
    let kind = match args.event_type {
        EventType::All => "",
        EventType::Normal => " Normal",
        EventType::Warning => " Warning",
    };
    let mut md = format!("## Events in `{}`{about}\n\n", args.namespace);
    if rows.is_empty() {
        md.push_str(&format!("No{kind} events{about}.\n"));
    } else {
        md.push_str(&format!("{} of {matched}{kind} event(s), newest first.\n\n", rows.len()));
        md.push_str(&events_table(&ctx, &rows));
    }
    Ok((md, EventsAnswer { namespace: args.namespace, matched, events: rows }))
}

async fn get_pod_logs(ctx: Arc<ToolContext>, args: LogsArgs) -> Result<(String, LogsAnswer), ToolError> {
    validate::name("pod_name", &args.pod_name)?;
    ctx.check_namespace("namespace", Some(&args.namespace))?;
    validate::optional_name("container", args.container.as_deref())?;
    let tail = validate::within("tail_lines", args.tail_lines, 1, ctx.limits.max_log_lines)?;
    let pods: Api<Pod> = Api::namespaced(ctx.client(), &args.namespace);
    let Some(pod) = pods.get_opt(&args.pod_name).await? else {
        return Err(ToolError::NotFound(format!("pod {}/{} not found", args.namespace, args.pod_name)));
    };
    let containers: Vec<String> =
        pod.spec.as_ref().map(|s| s.containers.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
    let container = match args.container {
        Some(c) if containers.contains(&c) => c,
        Some(c) => {
            return Err(ToolError::InvalidArgument {
                param: "container".into(),
                reason: format!(
                    "pod {} has no container {c:?}; its containers are: {}",
                    pod.name_any(),
                    containers.join(", ")
                ),
            });
        }
        None => containers.first().cloned().ok_or_else(|| {
            ToolError::NotFound(format!("pod {}/{} has no containers", args.namespace, args.pod_name))
        })?,
    };
    let params = LogParams {
        container: Some(container.clone()),
        tail_lines: Some(i64::from(tail)),
        limit_bytes: Some(4 * ctx.limits.max_log_bytes as i64),
        ..LogParams::default()
    };
    let raw = pods.logs(&args.pod_name, &params).await?;
    let mut log = redact(&raw);
    let truncated = log.len() > ctx.limits.max_log_bytes;
    if truncated {
        let mut cut = log.len() - ctx.limits.max_log_bytes;
        while !log.is_char_boundary(cut) {
            cut += 1;
        }
        log = log[cut..].to_string();
    }
    let lines = log.lines().count();
    let mut md = format!("## Logs of `{}/{}` container `{container}`\n\n", args.namespace, args.pod_name);
    if log.trim().is_empty() {
        md.push_str("The log is empty.\n");
    } else {
        if truncated {
            md.push_str(&format!("Only the last {} KiB are shown.\n\n", ctx.limits.max_log_bytes / 1024));
        }
        md.push_str(&format!("Last {lines} line(s), secrets redacted:\n\n```text\n{}\n```\n", log.trim_end()));
    }
    Ok((md, LogsAnswer { namespace: args.namespace, pod: args.pod_name, container, lines, truncated, log }))
}
