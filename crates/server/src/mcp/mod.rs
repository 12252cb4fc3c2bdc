//! MCP transport: rmcp's server handler over the registry (tools), [`crate::resources`],
//! [`crate::prompts`] and [`crate::completion`]. It only translates: what exists, what a caller
//! may see and what a call does are decided there. Both protocol eras go through it: 2025
//! sessions (initialize; `logging/setLevel`, `resources/subscribe` remembered per session) and
//! 2026-07-28 stateless requests (`_meta` carries the log level and client capabilities;
//! `subscriptions/listen` streams; confirmation by `InputRequiredResult`).

// The logging feature is deprecated by the 2026-07-28 revision (SEP-2577), which still defines
// it; clients of both eras use it.
#![allow(deprecated)]

mod confirm;
mod notify;
mod session;

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult, CompletionInfo,
    ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams, Prompt, PromptArgument,
    PromptMessage, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference,
    Resource, ResourceContents, ResourceTemplate, Role, ServerCapabilities, ServerConfig, SetLevelRequestMethod,
    SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool as McpTool, ToolAnnotations,
    UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use self::confirm::is_modern;
pub use self::confirm::{ConfirmError, Confirmer};
use self::session::{Session, Subscription};
use crate::auth::Caller;
use crate::completion::{Completer, Subject};
use crate::interact::{Confirm, Interaction};
use crate::metrics::Metrics;
use crate::prompts::{Part, PromptError, Prompts};
use crate::registry::{Registry, Tool, ToolError};
use crate::resources::uri::ResourceUri;
use crate::resources::{ResourceError, Resources};
use crate::tools::ToolContext;

pub const SERVER_NAME: &str = "gitops-agent";

const INSTRUCTIONS: &str = "Answers questions about this Kubernetes cluster's Flux CD GitOps state from a live watch cache. \
Start with get_gitops_status or flux_health_summary for an overview; list_kustomizations / get_helmreleases / list_sources \
with status_filter=failed to find failures; debug_reconciliation to explain one; trace_object to find which Flux object \
manages a workload. List tools are paged (limit/offset) and say how many rows were left out. \
Every Flux object is also a resource (flux://{cluster}/{kind}/{namespace}/{name}, and flux://{cluster}/summary) that can be \
subscribed to; the prompts diagnose_flux_object, triage_fleet, explain_workload and review_reconcile gather what a task needs.";

/// What every handler shares: the catalogues, how changes are confirmed, and when streams end.
pub struct McpShared {
    pub registry: Arc<Registry>,
    pub ctx: Arc<ToolContext>,
    pub resources: Arc<Resources>,
    pub prompts: Arc<Prompts>,
    pub confirmer: Arc<Confirmer>,
    pub metrics: Arc<Metrics>,
    /// Cancelled at shutdown: open `subscriptions/listen` streams end gracefully.
    pub shutdown: CancellationToken,
}

/// The rmcp handler: cheap to clone; [`McpHandler::for_session`] makes the one of a new session
/// (or of one stateless request).
#[derive(Clone)]
pub struct McpHandler {
    shared: Arc<McpShared>,
    tools: Arc<Vec<McpTool>>,
    completer: Arc<Completer>,
    session: Arc<Session>,
}

impl McpHandler {
    pub fn new(shared: McpShared) -> Self {
        let tools = shared.registry.offered().map(mcp_tool).collect();
        let completer = Completer::new(shared.prompts.clone(), shared.resources.clone(), shared.ctx.clone());
        Self {
            shared: Arc::new(shared),
            tools: Arc::new(tools),
            completer: Arc::new(completer),
            session: Arc::default(),
        }
    }

    /// The handler of a new session: the same catalogues, a state of its own.
    pub fn for_session(&self) -> Self {
        Self { session: Arc::default(), ..self.clone() }
    }

    /// The caller the HTTP gate authenticated (none over stdio or with `--auth=none`). With caller
    /// checks on, a request must never run with the agent's own permissions instead.
    fn caller(&self, extensions: &rmcp::model::Extensions) -> Result<Option<Caller>, ErrorData> {
        let caller =
            extensions.get::<http::request::Parts>().and_then(|parts| parts.extensions.get::<Caller>()).cloned();
        if self.shared.ctx.access.is_some() && caller.is_none() {
            return Err(ErrorData::internal_error("the caller of this request is unknown; refusing to run it", None));
        }
        Ok(caller)
    }

    /// A subscriber whose notices go to `outlet`, checked for `caller`.
    fn subscription(&self, outlet: notify::Outlet, list_changed: bool, caller: Option<Caller>) -> Subscription {
        let shared = &self.shared;
        let (subscriber, notices) = shared.resources.subscriptions.subscribe(list_changed);
        let delivery = notify::spawn(outlet, notices, shared.resources.clone(), caller.clone(), shared.metrics.clone());
        Subscription { subscriber, delivery, caller }
    }

    /// A session's subscriber: `list_changed` from the start, URIs as it subscribes.
    fn session_subscription(&self, peer: rmcp::Peer<RoleServer>, caller: Option<Caller>) -> Subscription {
        self.subscription(notify::Outlet::Session(peer), true, caller)
    }

    /// Runs a request's `work` with what it may send the client (log messages at the level it
    /// asked for: the request's `_meta` in 2026-07-28, the session's `logging/setLevel` before;
    /// progress when it gave a token; how a change is confirmed), unless the client cancels the
    /// request first (`notifications/cancelled`, or on HTTP the stream closing).
    async fn serve<T>(
        &self,
        context: &RequestContext<RoleServer>,
        confirm: Confirm,
        work: impl Future<Output = T>,
    ) -> Result<T, ErrorData> {
        let level = if is_modern(context) { context.meta.log_level() } else { self.session.log_level() };
        let interaction = Interaction::new(context.peer.clone(), level, context.meta.get_progress_token(), confirm);
        tokio::select! {
            result = interaction.scope(work) => Ok(result),
            () = context.ct.cancelled() => Err(ErrorData::internal_error("the request was cancelled", None)),
        }
    }
}

/// Whether the request's protocol version (2025-11-25 and later) reports invalid tool arguments
/// as tool execution errors.
fn reports_input_errors(context: &RequestContext<RoleServer>) -> bool {
    context.protocol_version().is_some_and(|v| v >= ProtocolVersion::V_2025_11_25)
}

fn mcp_tool(t: &Tool) -> McpTool {
    McpTool::new(t.name.as_str(), t.description, t.input_schema.clone())
        .with_title(t.title)
        .with_raw_output_schema(t.output_schema.clone())
        .with_annotations(
            ToolAnnotations::new()
                .read_only(t.hints.read_only)
                .destructive(t.hints.destructive)
                .idempotent(t.hints.idempotent)
                .open_world(t.hints.open_world),
        )
}

/// The error of a resource request; one about a URI (`asked`) names it in `data.uri` whatever
/// the error.
fn resource_error(e: ResourceError, asked: Option<&str>) -> ErrorData {
    let data = e.uri().or(asked).map(|uri| json!({"uri": uri}));
    if e.is_not_found() {
        // 2026-07-28 peers get -32602 for this (rmcp maps it), older ones -32002.
        ErrorData::resource_not_found(e.to_string(), data)
    } else if e.is_invalid() {
        ErrorData::invalid_params(e.to_string(), data)
    } else {
        ErrorData::internal_error(e.to_string(), data)
    }
}

fn prompt_error(e: PromptError) -> ErrorData {
    if e.is_invalid() {
        ErrorData::invalid_params(e.to_string(), None)
    } else {
        ErrorData::internal_error(e.to_string(), None)
    }
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_resources_list_changed()
            .enable_prompts()
            .enable_completions()
            .enable_logging()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")).with_title("GitOps Agent (Flux CD)"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    fn get_tool(&self, name: &str) -> Option<McpTool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&context.extensions)?;
        let confirm = self.shared.confirmer.mode(&request, &context, caller.as_ref())?;
        let args = request.arguments.clone().map(Value::Object).unwrap_or(Value::Null);
        let call = self.shared.registry.call(self.shared.ctx.clone(), &request.name, args, "mcp", caller.clone());
        let outcome = self.serve(&context, confirm, call).await?;
        match outcome {
            Ok(answer) => {
                let mut result = CallToolResult::success(vec![ContentBlock::text(answer.markdown)]);
                result.structured_content = Some(answer.data);
                Ok(result.into())
            }
            Err(ToolError::InputRequired(question)) => {
                Ok(self.shared.confirmer.input_required(*question, &request, caller.as_ref()).into())
            }
            // Since 2025-11-25 an argument that fails validation is a tool execution error the
            // model can correct (SEP-1303); before, a protocol error. An unknown or unoffered tool
            // stays a protocol error.
            Err(e @ ToolError::InvalidArgument { .. }) if reports_input_errors(&context) => {
                Ok(CallToolResult::error(vec![ContentBlock::text(e.to_string())]).into())
            }
            Err(e) if e.is_protocol_error() => Err(ErrorData::invalid_params(e.to_string(), None)),
            Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(e.to_string())]).into()),
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let caller = self.caller(&context.extensions)?;
        let cursor = request.and_then(|r| r.cursor);
        let list = self.shared.resources.list(cursor.as_deref(), caller);
        let listing = self.serve(&context, Confirm::Skip, list).await?.map_err(|e| resource_error(e, None))?;
        let resources = listing
            .resources
            .into_iter()
            .map(|r| {
                Resource::new(r.uri, r.name)
                    .with_title(r.title)
                    .with_description(r.description)
                    .with_mime_type("text/markdown")
            })
            .collect();
        Ok(ListResourcesResult { next_cursor: listing.next_cursor, ..ListResourcesResult::with_all_items(resources) })
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let templates = self
            .shared
            .resources
            .templates()
            .into_iter()
            .map(|t| {
                let (name, title, description) = match t.kind {
                    Some(kind) => (
                        kind.kind.to_ascii_lowercase(),
                        format!("Flux {}", kind.kind),
                        format!("A {} of a cluster: its state, revisions, source, dependencies and conditions (markdown), and the same as JSON", kind.kind),
                    ),
                    None => (
                        "summary".to_string(),
                        "Flux health of a cluster".to_string(),
                        "Counts of ready, failing and suspended Flux objects of a cluster, and the failing ones".to_string(),
                    ),
                };
                ResourceTemplate::new(t.uri_template, name)
                    .with_title(title)
                    .with_description(description)
                    .with_mime_type("text/markdown")
            })
            .collect();
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let caller = self.caller(&context.extensions)?;
        let read = self.shared.resources.read(&request.uri, caller);
        let contents =
            self.serve(&context, Confirm::Skip, read).await?.map_err(|e| resource_error(e, Some(&request.uri)))?;
        let json = serde_json::to_string_pretty(&contents.json)
            .map_err(|e| ErrorData::internal_error(format!("the resource could not be encoded: {e}"), None))?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(contents.markdown, contents.uri.clone()).with_mime_type("text/markdown"),
            ResourceContents::text(json, contents.uri).with_mime_type("application/json"),
        ])
        .into())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        // A 2025 session hears `notifications/resources/list_changed` from the start, and its
        // `resources/subscribe` calls add to the same subscriber.
        match self.caller(&context.extensions) {
            Ok(caller) => self.session.subscribe_with(|| self.session_subscription(context.peer.clone(), caller)),
            Err(e) => tracing::warn!(error = %e.message, "session without a caller: no resource notifications"),
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = self.caller(&context.extensions)?;
        let uri = ResourceUri::parse(&request.uri).map_err(|e| resource_error(e.into(), Some(&request.uri)))?;
        self.shared
            .resources
            .check_access(&uri, caller.as_ref())
            .await
            .map_err(|e| resource_error(e, Some(&request.uri)))?;
        // Clients that skip `notifications/initialized` subscribe all the same.
        self.session.subscribe_with(|| self.session_subscription(context.peer.clone(), caller.clone()));
        let added = self.session.subscription(|s| {
            // Notifications are checked against the session's caller: another may not add to them.
            if s.caller != caller {
                return false;
            }
            s.subscriber.add(&uri);
            true
        });
        match added {
            Some(true) => Ok(()),
            _ => Err(ErrorData::invalid_request(
                "this session belongs to another caller; open a session of your own",
                None,
            )),
        }
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        // Unsubscribing from what was never subscribed is not an error: the client's intent holds.
        self.session.subscription(|s| s.subscriber.remove(&request.uri));
        Ok(())
    }

    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        // The tool and prompt lists never change while the agent runs: those are not offered.
        let mut accepted = SubscriptionFilter::new();
        accepted.resources_list_changed = requested.resources_list_changed;
        accepted.resource_subscriptions = requested
            .resource_subscriptions
            .as_ref()
            .map(|uris| uris.iter().filter(|u| ResourceUri::parse(u).is_ok()).cloned().collect());
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let caller = self.caller(&context.request_context().extensions)?;
        let accepted = context.accepted();
        let outlet = notify::Outlet::Stream(context.sink().clone());
        let subscription = self.subscription(outlet, accepted.resources_list_changed == Some(true), caller);
        for uri in accepted.resource_subscriptions.iter().flatten() {
            if let Ok(uri) = ResourceUri::parse(uri) {
                subscription.subscriber.add(&uri);
            }
        }
        tokio::select! {
            () = context.cancelled() => {}
            () = self.shared.shutdown.cancelled() => {}
        }
        drop(subscription);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts = self
            .shared
            .prompts
            .offered()
            .map(|p| {
                let arguments = p
                    .arguments
                    .iter()
                    .map(|a| {
                        let arg = PromptArgument::new(a.name.clone()).with_required(a.required);
                        match &a.description {
                            Some(d) => arg.with_description(d.clone()),
                            None => arg,
                        }
                    })
                    .collect();
                Prompt::new(p.name, Some(p.description), Some(arguments)).with_title(p.title)
            })
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let caller = self.caller(&context.extensions)?;
        let get = self.shared.prompts.get(&request.name, request.arguments.unwrap_or_default(), caller);
        let filled = self.serve(&context, Confirm::Skip, get).await?.map_err(prompt_error)?;
        let messages = filled
            .parts
            .into_iter()
            .map(|part| match part {
                Part::Text(text) => PromptMessage::new_text(Role::User, text),
                Part::Resource { uri, markdown } => PromptMessage::new_resource(
                    Role::User,
                    uri,
                    Some("text/markdown".into()),
                    Some(markdown),
                    None,
                    None,
                    None,
                ),
            })
            .collect();
        let mut result = GetPromptResult::new(messages);
        result.description = Some(filled.description);
        Ok(result.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let caller = self.caller(&context.extensions)?;
        let subject = match &request.r#ref {
            Reference::Prompt(p) => Subject::Prompt(&p.name),
            Reference::Resource(r) => Subject::Template(&r.uri),
            _ => return Err(ErrorData::invalid_params("ref: expected ref/prompt or ref/resource", None)),
        };
        let arguments = request.context.as_ref().and_then(|c| c.arguments.clone()).unwrap_or_default();
        let found = self
            .completer
            .complete(subject, &request.argument.name, &request.argument.value, &arguments, caller)
            .await
            .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
        let total = u32::try_from(found.total).unwrap_or(u32::MAX);
        let info = CompletionInfo::with_pagination(found.values, Some(total), found.has_more)
            .map_err(|e| ErrorData::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        // 2026-07-28 has no setLevel: a request names its level in its `_meta`.
        if is_modern(&context) {
            return Err(ErrorData::method_not_found::<SetLevelRequestMethod>());
        }
        self.session.set_log_level(request.level);
        Ok(())
    }
}
