//! The gitops-agent operator: render a GitOpsAgent into its children and reconcile them.

pub mod apply;
pub mod discovery;
pub mod external;
pub mod fleet;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod reconcile;
pub mod render;
pub mod status;
pub mod telemetry;
pub mod verify;
