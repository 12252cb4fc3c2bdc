//! The `GitOpsAgent` API (`agents.gitops.dev/v1alpha1`): types, defaults, validation rules, the
//! tool catalogue, and the admission checks `render` shares with the API server.

pub mod admission;
pub mod crd;
pub mod fleet;
pub mod schema_check;
pub mod spec;
pub mod tools;

pub use admission::{AdmissionError, admit};
pub use spec::{GitOpsAgent, GitOpsAgentSpec, GitOpsAgentStatus};
pub use tools::ToolName;
