//! The gitops-agent server: answers MCP and A2A calls about a cluster's Flux CD state
//! from a watch-backed cache, through one tool registry; MCP also serves the cached Flux objects
//! as resources (with subscriptions), prompts and completion.

pub mod a2a;
pub mod api_request;
pub mod auth;
pub mod cache;
pub mod cluster;
pub mod completion;
pub mod contexts;
pub mod fleet;
pub mod http;
pub mod interact;
pub mod kinds;
pub mod limits;
pub mod markdown;
pub mod mcp;
pub mod metrics;
pub mod object;
pub mod prompts;
pub mod redact;
pub mod registry;
pub mod resources;
pub mod serve;
pub mod telemetry;
pub mod tools;
pub mod validate;
pub mod watch_store;
