//! `completion/complete`: values for prompt arguments and resource-template variables, from the
//! watch caches (cluster names from the fleet; namespaces and names of the Flux kind the other
//! arguments name), only what the caller may list, at most 100 with the total and `hasMore`.
//! Names of built-in kinds (`explain_workload`'s Deployments, Pods…) are listed from the API
//! with the caller's rights, since the agent does not cache them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use kube::api::{Api, DynamicObject, ListParams};

use crate::auth::{self, Caller};
use crate::kinds::{self, Kind};
use crate::prompts::{self, PromptError, Prompts};
use crate::resources::Resources;
use crate::tools::{self, ToolContext};

/// The most values one answer holds (the protocol's bound).
pub const MAX_VALUES: usize = 100;

/// What is being completed.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Prompt(&'a str),
    Template(&'a str),
}

/// One answer: the first values in order, how many match in all, whether more match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub values: Vec<String>,
    pub total: usize,
    pub has_more: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CompletionError {
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error("unknown resource template {template:?}; this agent's templates: {known}")]
    UnknownTemplate { template: String, known: String },
    #[error("{subject} has no argument {argument:?}; its arguments: {known}")]
    UnknownArgument { subject: String, argument: String, known: String },
}

pub struct Completer {
    prompts: Arc<Prompts>,
    resources: Arc<Resources>,
    ctx: Arc<ToolContext>,
}

impl Completer {
    pub fn new(prompts: Arc<Prompts>, resources: Arc<Resources>, ctx: Arc<ToolContext>) -> Self {
        Self { prompts, resources, ctx }
    }

    /// Values for `argument` of `subject` that start with `prefix` (any case), given the other
    /// arguments filled so far (`context`).
    pub async fn complete(
        &self,
        subject: Subject<'_>,
        argument: &str,
        prefix: &str,
        context: &HashMap<String, String>,
        caller: Option<Caller>,
    ) -> Result<Completion, CompletionError> {
        // Which Flux kind the namespace and name are of, and which kinds `kind` may be.
        let (arguments, kind, kind_choices): (Vec<String>, Option<String>, Vec<String>) = match subject {
            Subject::Prompt(name) => {
                let def = self.prompts.find(name)?;
                let choices = match def.name {
                    prompts::EXPLAIN => {
                        tools::live_kinds().chain(kinds::FLUX.iter().map(|k| k.kind)).map(String::from).collect()
                    }
                    _ => kinds::FLUX.iter().map(|k| k.kind.to_string()).collect(),
                };
                (def.arguments.iter().map(|a| a.name.clone()).collect(), context.get("kind").cloned(), choices)
            }
            Subject::Template(template) => {
                let Some(t) = self.resources.templates().into_iter().find(|t| t.uri_template == template) else {
                    let known: Vec<String> = self.resources.templates().into_iter().map(|t| t.uri_template).collect();
                    return Err(CompletionError::UnknownTemplate {
                        template: crate::validate::sanitize(template),
                        known: known.join(", "),
                    });
                };
                let arguments = template_variables(&t.uri_template);
                (arguments, t.kind.map(|k| k.kind.to_string()), vec![])
            }
        };
        if !arguments.iter().any(|a| a == argument) {
            let subject = match subject {
                Subject::Prompt(p) => format!("prompt `{p}`"),
                Subject::Template(t) => format!("template `{t}`"),
            };
            return Err(CompletionError::UnknownArgument {
                subject,
                argument: crate::validate::sanitize(argument),
                known: arguments.join(", "),
            });
        }
        let candidates = match argument {
            "cluster" => self.ctx.fleet.members().iter().map(|m| m.name.clone()).collect(),
            "kind" => kind_choices,
            "max_clusters" => ["1", "3", "5", "10", "20"].iter().map(|s| s.to_string()).collect(),
            "namespace" | "name" => {
                let cluster = context.get("cluster").map(String::as_str);
                let namespace = context.get("namespace").filter(|_| argument == "name").map(String::as_str);
                auth::run_as(caller, self.names(cluster, kind.as_deref(), namespace, argument == "name")).await
            }
            _ => vec![],
        };
        Ok(bounded(candidates, prefix))
    }

    /// Namespaces (or names, in `namespace` if given) of the objects of `kind` (every Flux kind
    /// when none is named) that the caller may list; unknown clusters and refusals give none.
    async fn names(
        &self,
        cluster: Option<&str>,
        kind: Option<&str>,
        namespace: Option<&str>,
        names: bool,
    ) -> Vec<String> {
        let Ok(ctx) = self.ctx.on(cluster) else { return vec![] };
        let flux: Vec<Kind> = match kind {
            None => kinds::FLUX.to_vec(),
            Some(k) => Kind::flux_by_name(k).into_iter().collect(),
        };
        let pick =
            |ns: Option<&str>, name: &str| if names { name.to_string() } else { ns.unwrap_or_default().to_string() };
        if let (Some(k), true) = (kind, flux.is_empty()) {
            // A built-in kind: read from the API as the caller.
            let Some((resource, namespaced)) = tools::live_by_kind(k) else { return vec![] };
            let api: Api<DynamicObject> = match (namespaced, namespace) {
                (true, Some(ns)) => Api::namespaced_with(ctx.client(), ns, &resource),
                _ => Api::all_with(ctx.client(), &resource),
            };
            return match api.list_metadata(&ListParams::default().limit(500)).await {
                Ok(list) => list
                    .items
                    .iter()
                    .filter(|o| ctx.in_scope(o.metadata.namespace.as_deref()))
                    .map(|o| pick(o.metadata.namespace.as_deref(), o.metadata.name.as_deref().unwrap_or_default()))
                    .collect(),
                Err(e) => {
                    tracing::debug!(error = %e, "no completion values");
                    vec![]
                }
            };
        }
        let mut out = Vec::new();
        for k in flux {
            if let Ok(objects) = ctx.list(k, namespace).await {
                out.extend(
                    objects
                        .iter()
                        .filter(|o| ctx.in_scope(o.metadata.namespace.as_deref()))
                        .map(|o| pick(o.metadata.namespace.as_deref(), o.metadata.name.as_deref().unwrap_or_default())),
                );
            }
        }
        out
    }
}

/// The `{variables}` of a URI template, in order.
fn template_variables(template: &str) -> Vec<String> {
    template.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(v, _)| v.to_string()).collect()
}

/// The candidates that start with `prefix` (any case), sorted, without repeats, at most
/// [`MAX_VALUES`].
fn bounded(candidates: Vec<String>, prefix: &str) -> Completion {
    let prefix = prefix.to_ascii_lowercase();
    let matching: BTreeSet<String> =
        candidates.into_iter().filter(|c| !c.is_empty() && c.to_ascii_lowercase().starts_with(&prefix)).collect();
    let total = matching.len();
    let values: Vec<String> = matching.into_iter().take(MAX_VALUES).collect();
    Completion { has_more: total > values.len(), values, total }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::uri;

    #[test]
    fn values_are_matched_sorted_deduplicated_and_bounded() {
        let c = bounded(vec!["team-b".into(), "flux-system".into(), "team-a".into(), "team-a".into()], "TEAM");
        assert_eq!(c, Completion { values: vec!["team-a".into(), "team-b".into()], total: 2, has_more: false });
        let many: Vec<String> = (0..250).map(|i| format!("app-{i:03}")).collect();
        let c = bounded(many, "app");
        assert_eq!(c.values.len(), MAX_VALUES);
        assert_eq!(c.total, 250);
        assert!(c.has_more);
        assert_eq!(c.values[0], "app-000");
    }

    #[test]
    fn template_variables_in_order() {
        assert_eq!(
            template_variables("flux://{cluster}/kustomization/{namespace}/{name}"),
            ["cluster", "namespace", "name"]
        );
        assert_eq!(template_variables("flux://{cluster}/summary"), ["cluster"]);
        for t in uri::templates() {
            for v in template_variables(&t.uri_template) {
                assert!(["cluster", "namespace", "name"].contains(&v.as_str()), "{v}");
            }
        }
    }
}
