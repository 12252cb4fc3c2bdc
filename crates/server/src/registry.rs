//! The tool registry: every tool declared once (name, description, typed input and output
//! schemas, hints, handler). MCP and A2A list and call tools only through it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gitops_agent_api::tools::ToolName;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::auth::{self, AuthError, Caller};
use crate::cache::CacheError;
use crate::interact::{self, Change};
use crate::metrics::Metrics;
use crate::tools::ToolContext;

/// What a tool answers: markdown for a model and JSON matching the tool's output schema.
#[derive(Debug, Clone)]
pub struct Answer {
    pub markdown: String,
    pub data: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    #[error("tool `{0}` changes the cluster and is not available: this agent is read-only")]
    ReadOnly(String),
    #[error("tool `{0}` is disabled on this agent")]
    Disabled(String),
    #[error("invalid argument `{param}`: {reason}")]
    InvalidArgument { param: String, reason: String },
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("Kubernetes API request failed: {0}")]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cluster `{cluster}` cannot be reached: {reason}")]
    Unreachable { cluster: String, reason: String },
    #[error(
        "tool `{tool}` did not answer within {seconds} s (the cluster API may be slow or unreachable); try again, or narrow the question"
    )]
    Timeout { tool: String, seconds: u64 },
    #[error("{action}: not done, {answer}")]
    NotConfirmed { action: String, answer: String },
    /// The change waits for the client's confirmation (2026-07-28: the transport answers the call
    /// with this question and runs it again with the answer).
    #[error("waiting for the client to confirm the change")]
    InputRequired(Box<rmcp::model::ElicitRequestParams>),
}

impl ToolError {
    /// A protocol error (JSON-RPC error) rather than a tool result with `isError: true`: the
    /// call itself was wrong, as opposed to the cluster answering something unwelcome.
    pub fn is_protocol_error(&self) -> bool {
        matches!(self, Self::UnknownTool(_) | Self::ReadOnly(_) | Self::Disabled(_) | Self::InvalidArgument { .. })
    }

    /// The kind's CRD is not served: tools covering several kinds skip it and say so.
    pub fn is_not_installed(&self) -> bool {
        matches!(self, Self::Cache(CacheError::NotInstalled(_)))
    }

    /// The caller's RBAC refuses the read, checked by the agent or answered 403 by the API server:
    /// tools covering several kinds in one namespace skip the kind and say so (see
    /// [`crate::tools::Refusals`]).
    pub fn is_forbidden(&self) -> bool {
        match self {
            Self::Auth(AuthError::Forbidden { .. }) => true,
            Self::Api(kube::Error::Api(status)) => status.code == 403,
            _ => false,
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            Self::NotConfirmed { .. } => "not_confirmed",
            Self::InputRequired(_) => "input_required",
            e if e.is_protocol_error() => "invalid",
            _ => "error",
        }
    }
}

/// MCP tool annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

impl Hints {
    /// Reads the cluster; the same question gives the same answer until the cluster changes.
    pub const READ: Hints = Hints { read_only: true, destructive: false, idempotent: true, open_world: false };
}

type Handler = Box<
    dyn Fn(Arc<ToolContext>, Value) -> Pin<Box<dyn Future<Output = Result<Answer, ToolError>> + Send>> + Send + Sync,
>;

/// What a tool that changes the cluster is about to do, worked out from its arguments.
type Describe = Box<
    dyn Fn(Arc<ToolContext>, Value) -> Pin<Box<dyn Future<Output = Result<Change, ToolError>> + Send>> + Send + Sync,
>;

pub struct Tool {
    pub name: ToolName,
    pub title: &'static str,
    pub description: &'static str,
    pub input_schema: Arc<Map<String, Value>>,
    pub output_schema: Arc<Map<String, Value>>,
    pub hints: Hints,
    /// Answers across the fleet itself (takes no `cluster` argument).
    pub fleet_wide: bool,
    handler: Handler,
    /// For a tool that changes the cluster: the change the client is asked to confirm first.
    describe: Option<Describe>,
}

impl Tool {
    /// The argument names the tool accepts (its input schema's properties).
    pub fn parameters(&self) -> Vec<String> {
        self.input_schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The argument names it requires.
    pub fn required(&self) -> Vec<String> {
        self.input_schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default()
    }

    /// Declares a tool from a typed handler; the schemas come from the argument and answer types.
    pub fn new<A, O, F, Fut>(name: ToolName, title: &'static str, description: &'static str, hints: Hints, f: F) -> Tool
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        O: Serialize + JsonSchema + 'static,
        F: Fn(Arc<ToolContext>, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(String, O), ToolError>> + Send + 'static,
    {
        let f = Arc::new(f);
        let handler: Handler = Box::new(move |ctx, args| {
            let f = f.clone();
            Box::pin(async move {
                let args: A = parse_args(args)?;
                let (markdown, data) = f(ctx, args).await?;
                let data = serde_json::to_value(data)
                    .map_err(|e| ToolError::Refused(format!("the answer could not be encoded: {e}")))?;
                Ok(Answer { markdown, data })
            })
        });
        Tool {
            name,
            title,
            description,
            input_schema: Arc::new(schema_of::<A>()),
            output_schema: Arc::new(output_schema_of::<O>()),
            hints,
            fleet_wide: false,
            handler,
            describe: None,
        }
    }

    /// A tool that changes the cluster: before it runs, the client is asked to confirm the change
    /// `describe` works out from the same arguments (see [`crate::interact::confirm`]).
    pub fn confirmed<A, F, Fut>(mut self, describe: F) -> Tool
    where
        A: DeserializeOwned + Send + 'static,
        F: Fn(Arc<ToolContext>, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Change, ToolError>> + Send + 'static,
    {
        let describe = Arc::new(describe);
        self.describe = Some(Box::new(move |ctx, args| {
            let describe = describe.clone();
            Box::pin(async move { describe(ctx, parse_args(args)?).await })
        }));
        self
    }

    /// A tool that answers across the fleet itself: the registry neither adds the `cluster`
    /// argument nor routes the call.
    pub fn fleet_wide(mut self) -> Tool {
        self.fleet_wide = true;
        self
    }
}

/// The argument every single-cluster tool takes, declared here once rather than in each tool's
/// arguments: the registry takes it off and routes the call. It is mirrored in the
/// `Mcp-Param-Cluster` header of 2026-07-28 requests (checked against the body by the MCP library).
const CLUSTER: &str = gitops_agent_api::tools::CLUSTER_ARGUMENT;

/// Declares the `cluster` argument on a single-cluster tool, and on every tool that takes one
/// (`get_current_context` does itself) marks it for the `Mcp-Param-Cluster` header.
fn declare_cluster_parameter(tool: &mut Tool) {
    let mut schema = (*tool.input_schema).clone();
    let props = schema.entry("properties").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(props) = props {
        if !tool.fleet_wide {
            props.insert(
                CLUSTER.into(),
                serde_json::json!({
                    "type": "string",
                    "description": "The cluster to ask, by its name in list_contexts (default: the agent's own cluster).",
                }),
            );
        }
        if let Some(Value::Object(cluster)) = props.get_mut(CLUSTER) {
            // A header mirrors a primitive type only: `["string", "null"]` (an optional argument)
            // is declared as "string", leaving it out being how a call takes the default.
            cluster.insert("type".into(), "string".into());
            cluster.insert("x-mcp-header".into(), gitops_agent_api::tools::CLUSTER_HEADER.into());
        }
    }
    tool.input_schema = Arc::new(schema);
}

/// Takes the `cluster` argument off a call's arguments (validated, so a wrong type names it).
fn take_cluster(args: &mut Value) -> Result<Option<String>, ToolError> {
    let Value::Object(map) = args else { return Ok(None) };
    match map.remove(CLUSTER) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) => {
            crate::validate::name(CLUSTER, &name)?;
            Ok(Some(name))
        }
        Some(other) => Err(ToolError::InvalidArgument {
            param: CLUSTER.into(),
            reason: format!("expected a cluster name (a string), got {}", crate::validate::json_type(&other)),
        }),
    }
}

/// A self-contained JSON Schema (no `$ref`s) of what a tool accepts: what MCP clients and A2A
/// cards embed.
pub fn schema_of<T: JsonSchema>() -> Map<String, Value> {
    schema_with::<T>(SchemaSettings::draft2020_12().for_deserialize())
}

/// The schema of what a tool answers (fields it may leave out are not required).
pub fn output_schema_of<T: JsonSchema>() -> Map<String, Value> {
    schema_with::<T>(SchemaSettings::draft2020_12().for_serialize())
}

fn schema_with<T: JsonSchema>(settings: SchemaSettings) -> Map<String, Value> {
    let generator = settings
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut schema = match generator.into_root_schema_for::<T>().to_value() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    schema.remove("title");
    schema.remove("$defs");
    schema.entry("type").or_insert_with(|| Value::String("object".into()));
    schema
}

/// Arguments → the tool's (or prompt's) input type, with errors that name the offending parameter.
pub fn parse_args<A: DeserializeOwned>(args: Value) -> Result<A, ToolError> {
    let args = if args.is_null() { Value::Object(Map::new()) } else { args };
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let param = if path == "." { missing_field(&inner).unwrap_or("arguments").to_string() } else { path };
        ToolError::InvalidArgument { param, reason: strip_position(&inner) }
    })
}

fn missing_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("missing field `")?;
    rest.split('`').next()
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Which tools this server offers.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub read_only: bool,
    /// Empty: all.
    pub enabled: Vec<ToolName>,
    pub disabled: Vec<ToolName>,
}

impl Selection {
    fn offers(&self, t: ToolName) -> bool {
        (self.enabled.is_empty() || self.enabled.contains(&t))
            && !self.disabled.contains(&t)
            && !(self.read_only && t.is_mutating())
    }
}

pub struct Registry {
    tools: Vec<Tool>,
    selection: Selection,
    metrics: Arc<Metrics>,
    /// Longest a call may run (it is abandoned after that and answers with an error).
    timeout: Duration,
    /// Calls running now (shutdown waits for them).
    running: Arc<AtomicUsize>,
}

/// Counts a call as running until dropped (also when the call is abandoned). A call dropped
/// before it ended was cancelled by its client (or the client went away): it is counted so.
struct Running<'a> {
    count: Arc<AtomicUsize>,
    metrics: &'a Metrics,
    tool: &'static str,
    protocol: &'static str,
    started: Instant,
    span: tracing::Span,
    ended: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
        if !self.ended {
            let seconds = self.started.elapsed().as_secs_f64();
            self.span.record("outcome", "cancelled");
            self.span.in_scope(|| tracing::info!(duration_ms = seconds * 1000.0, "tool call cancelled"));
            self.metrics.tool_call(self.tool, self.protocol, "cancelled", seconds);
        }
    }
}

impl Registry {
    pub fn new(mut tools: Vec<Tool>, selection: Selection, metrics: Arc<Metrics>) -> Self {
        for tool in &mut tools {
            declare_cluster_parameter(tool);
        }
        Self { tools, selection, metrics, timeout: Duration::from_secs(30), running: Arc::default() }
    }

    /// Tool calls in progress.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The tools offered, in a fixed order (clients may cache `tools/list`).
    pub fn offered(&self) -> impl Iterator<Item = &Tool> {
        self.tools.iter().filter(|t| self.selection.offers(t.name))
    }

    /// Whether the tool is offered (resources and prompts read through offered tools only).
    pub fn offers(&self, name: ToolName) -> bool {
        self.selection.offers(name)
    }

    pub fn find(&self, name: &str) -> Option<&Tool> {
        self.offered().find(|t| t.name.as_str() == name)
    }

    pub fn read_only(&self) -> bool {
        self.selection.read_only
    }

    /// Calls a tool by name. Tools not offered (read-only mode, disabled) are refused exactly as
    /// if they did not exist, except that the error says why.
    pub async fn call(
        &self,
        ctx: Arc<ToolContext>,
        name: &str,
        args: Value,
        protocol: &'static str,
        caller: Option<Caller>,
    ) -> Result<Answer, ToolError> {
        let Some(tool) = self.tools.iter().find(|t| t.name.as_str() == name) else {
            let err = ToolError::UnknownTool(crate::validate::sanitize(name));
            self.metrics.tool_call("unknown", protocol, err.outcome(), 0.0);
            return Err(err);
        };
        if !self.selection.offers(tool.name) {
            let err = if self.selection.read_only && tool.name.is_mutating() {
                ToolError::ReadOnly(name.to_string())
            } else {
                ToolError::Disabled(name.to_string())
            };
            self.metrics.tool_call(tool.name.as_str(), protocol, err.outcome(), 0.0);
            return Err(err);
        }
        let user = caller.as_ref().map(|c| c.username.clone());
        let span = tracing::info_span!(
            "tool",
            tool = tool.name.as_str(),
            protocol,
            user,
            cluster = tracing::field::Empty,
            outcome = tracing::field::Empty
        );
        let started = Instant::now();
        self.running.fetch_add(1, Ordering::SeqCst);
        let mut running = Running {
            count: self.running.clone(),
            metrics: &self.metrics,
            tool: tool.name.as_str(),
            protocol,
            started,
            span: span.clone(),
            ended: false,
        };
        let routed = span.clone();
        let limit = self.timeout;
        let timed_out = move || ToolError::Timeout { tool: tool.name.as_str().to_string(), seconds: limit.as_secs() };
        let work = async move {
            let mut args = args;
            let ctx = if tool.fleet_wide {
                ctx
            } else {
                let cluster = take_cluster(&mut args)?;
                let ctx = Arc::new(ctx.on(cluster.as_deref())?);
                routed.record("cluster", ctx.cluster.as_str());
                ctx
            };
            if let Some(describe) = &tool.describe {
                let change = tokio::time::timeout(limit, describe(ctx.clone(), args.clone()))
                    .await
                    .map_err(|_| timed_out())??;
                // A person answers this, so it is bounded by the elicitation timeout, not the tool's.
                interact::confirm(&change).await?;
            }
            tokio::time::timeout(limit, (tool.handler)(ctx, args)).await.map_err(|_| timed_out())?
        };
        // Every API read and write the tool makes, and every cache read, is checked for the caller.
        let result = auth::run_as(caller, work).instrument(span.clone()).await;
        let seconds = started.elapsed().as_secs_f64();
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.outcome(),
        };
        span.record("outcome", outcome);
        span.in_scope(|| match &result {
            Ok(_) => tracing::info!(duration_ms = seconds * 1000.0, "tool call"),
            Err(e) => tracing::info!(duration_ms = seconds * 1000.0, error = %e, "tool call failed"),
        });
        self.metrics.tool_call(tool.name.as_str(), protocol, outcome, seconds);
        running.ended = true;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, JsonSchema, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Args {
        name: String,
        #[serde(default)]
        limit: Option<u32>,
    }

    #[test]
    fn argument_errors_name_the_parameter() {
        let err = parse_args::<Args>(serde_json::json!({})).expect_err("missing");
        assert_eq!(err.to_string(), "invalid argument `name`: missing field `name`");
        let err = parse_args::<Args>(serde_json::json!({"name": "a", "limit": "x"})).expect_err("type");
        assert!(err.to_string().starts_with("invalid argument `limit`: invalid type: string \"x\""), "{err}");
        let err = parse_args::<Args>(serde_json::json!({"name": "a", "colour": 1})).expect_err("unknown");
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
        assert!(parse_args::<Args>(Value::Null).is_err());
    }

    #[test]
    fn every_cluster_argument_is_mirrored_in_a_header() {
        let registry = Registry::new(crate::tools::all(), Selection::default(), Arc::new(Metrics::default()));
        for tool in registry.offered() {
            let cluster = &tool.input_schema["properties"][CLUSTER];
            if tool.name == ToolName::ListContexts || tool.name == ToolName::FleetHealthSummary {
                assert!(cluster.is_null(), "{}: {cluster}", tool.name);
                continue;
            }
            assert_eq!(cluster["type"], "string", "{}: {cluster}", tool.name);
            assert_eq!(cluster["x-mcp-header"], gitops_agent_api::tools::CLUSTER_HEADER, "{}", tool.name);
        }
    }

    #[test]
    fn schemas_are_self_contained_objects() {
        let schema = Value::Object(schema_of::<Args>());
        assert_eq!(schema["type"], "object");
        assert!(!schema.to_string().contains("$ref"));
        assert_eq!(schema["required"], serde_json::json!(["name"]));
    }
}
