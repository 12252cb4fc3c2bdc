//! MCP transport: rmcp's server handler over the tool registry. It only translates: listing and
//! calling go through the registry, which owns names, schemas and the read-only rule.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool as McpTool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use crate::auth::Caller;
use crate::registry::{Registry, Tool};
use crate::tools::ToolContext;

pub const SERVER_NAME: &str = "gitops-agent";

const INSTRUCTIONS: &str = "Answers questions about this Kubernetes cluster's Flux CD GitOps state from a live watch cache. \
Start with get_gitops_status or flux_health_summary for an overview; list_kustomizations / get_helmreleases / list_sources \
with status_filter=failed to find failures; debug_reconciliation to explain one; trace_object to find which Flux object \
manages a workload. List tools are paged (limit/offset) and say how many rows were left out.";

/// The rmcp handler: cheap to clone (rmcp makes one per session and per stateless request).
#[derive(Clone)]
pub struct McpHandler {
    registry: Arc<Registry>,
    ctx: Arc<ToolContext>,
    tools: Arc<Vec<McpTool>>,
}

impl McpHandler {
    pub fn new(registry: Arc<Registry>, ctx: Arc<ToolContext>) -> Self {
        let tools = registry.offered().map(mcp_tool).collect();
        Self { registry, ctx, tools: Arc::new(tools) }
    }
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

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
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
        let args = request.arguments.map(Value::Object).unwrap_or(Value::Null);
        // The HTTP gate put the authenticated caller on the request (none over stdio or --auth=none).
        let caller = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .cloned();
        // With caller checks on, a call must never run with the agent's own permissions instead.
        if self.ctx.access.is_some() && caller.is_none() {
            return Err(ErrorData::internal_error("the caller of this request is unknown; refusing to run it", None));
        }
        // A client that went away (or sent notifications/cancelled) stops the work it asked for.
        let outcome = tokio::select! {
            outcome = self.registry.call(self.ctx.clone(), &request.name, args, "mcp", caller) => outcome,
            () = context.ct.cancelled() => return Err(ErrorData::internal_error("the request was cancelled", None)),
        };
        match outcome {
            Ok(answer) => {
                let mut result = CallToolResult::success(vec![ContentBlock::text(answer.markdown)]);
                result.structured_content = Some(answer.data);
                Ok(result.into())
            }
            Err(e) if e.is_protocol_error() => Err(ErrorData::invalid_params(e.to_string(), None)),
            Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(e.to_string())]).into()),
        }
    }
}
