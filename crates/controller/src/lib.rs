//! The gitops-agent operator: render a GitOpsAgent into its children and reconcile them.

pub mod external;
pub mod render;
