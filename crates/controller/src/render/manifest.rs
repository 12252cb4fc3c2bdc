//! Rendering from manifest text: what the `render` subcommand and the golden tests share.

use gitops_agent_api::{AdmissionError, GitOpsAgent};

use super::{Child, OperatorDefaults, RenderError, render};

/// Why manifest text could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("not valid YAML: {0}")]
    Parse(#[source] serde_saphyr::Error),
    #[error("no GitOpsAgent manifest found")]
    Empty,
    #[error("document {index}: {source}")]
    Admission { index: usize, source: AdmissionError },
    #[error("document {index}: {source}")]
    Render { index: usize, source: RenderError },
    #[error("cannot serialize output: {0}")]
    Output(String),
}

/// Admits every GitOpsAgent document of `text` (YAML or JSON, one or more documents) as the API
/// server would, and renders their children in document order.
pub fn render_manifests(text: &str, namespace: &str, defaults: &OperatorDefaults) -> Result<Vec<Child>, ManifestError> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).map_err(ManifestError::Parse)?;
    let docs: Vec<serde_json::Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if docs.is_empty() {
        return Err(ManifestError::Empty);
    }
    let mut children = Vec::new();
    for (i, mut doc) in docs.into_iter().enumerate() {
        let index = i + 1;
        if let Some(meta) = doc.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.entry("namespace").or_insert_with(|| namespace.into());
        }
        let agent: GitOpsAgent =
            gitops_agent_api::admit(&doc).map_err(|source| ManifestError::Admission { index, source })?;
        children.extend(render(&agent, defaults).map_err(|source| ManifestError::Render { index, source })?);
    }
    Ok(children)
}

/// Children as a multi-document YAML stream.
pub fn to_yaml(children: &[Child]) -> Result<String, ManifestError> {
    children
        .iter()
        .map(|c| c.to_yaml().map(|y| format!("---\n{y}")))
        .collect::<Result<String, _>>()
        .map_err(|e| ManifestError::Output(e.to_string()))
}

/// Children as a `v1 List`, which `kubectl apply -f` accepts.
pub fn to_json(children: &[Child]) -> Result<String, ManifestError> {
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": children});
    serde_json::to_string_pretty(&list).map(|s| s + "\n").map_err(|e| ManifestError::Output(e.to_string()))
}
