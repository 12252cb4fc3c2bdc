//! MCP prompts: the workflows a user starts from their client (a slash command), each filled with
//! the live state it needs, read through the registry's tools and the resources for the caller,
//! so a prompt shows nobody more than the tools would. Arguments are typed and checked like tool
//! arguments; a part that cannot be read (the caller may not list events, say) is replaced by a
//! line saying why, while the object the prompt is about must be readable.

use std::sync::Arc;

use gitops_agent_api::tools::ToolName;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::interact;
use crate::kinds::{self, Kind};
use crate::registry::{self, Registry, ToolError};
use crate::resources::uri::ResourceUri;
use crate::resources::{ResourceError, Resources};
use crate::tools::{self, ToolContext};
use crate::validate;

/// One argument of a prompt, as `prompts/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptArg {
    pub name: String,
    pub description: Option<String>,
    pub required: bool,
}

/// A prompt of the catalogue.
#[derive(Debug, Clone)]
pub struct PromptDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: Vec<PromptArg>,
    /// The tools it reads through: offered only when they all are.
    needs: &'static [ToolName],
}

impl PromptDef {
    fn new<A: JsonSchema>(
        name: &'static str,
        title: &'static str,
        description: &'static str,
        needs: &'static [ToolName],
    ) -> PromptDef {
        let schema = registry::schema_of::<A>();
        let required: Vec<&str> =
            schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let mut arguments: Vec<PromptArg> = schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, p)| PromptArg {
                name: name.clone(),
                description: p.get("description").and_then(Value::as_str).map(str::to_string),
                required: required.contains(&name.as_str()),
            })
            .collect();
        // Required arguments first: clients ask for them in this order.
        arguments.sort_by_key(|a| !a.required);
        PromptDef { name, title, description, arguments, needs }
    }
}

/// A filled prompt: what it is for, and its messages (all from the user).
#[derive(Debug)]
pub struct Filled {
    pub description: String,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    /// A resource embedded with its markdown.
    Resource {
        uri: String,
        markdown: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("unknown prompt {name:?}; this agent's prompts: {known}")]
    Unknown { name: String, known: String },
    #[error(
        "prompt `{prompt}` is not offered: it reads through tool `{tool}`, which this agent does not offer (--tools)"
    )]
    NotOffered { prompt: String, tool: &'static str },
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error(transparent)]
    Resource(#[from] ResourceError),
}

impl PromptError {
    /// The request was wrong (JSON-RPC "invalid params"): an unknown prompt, a bad argument, an
    /// object that is not there or that the caller may not read.
    pub fn is_invalid(&self) -> bool {
        match self {
            Self::Unknown { .. } | Self::NotOffered { .. } => true,
            Self::Tool(e) => e.is_protocol_error() || e.is_forbidden() || matches!(e, ToolError::NotFound(_)),
            Self::Resource(e) => e.is_invalid() || e.is_not_found(),
        }
    }
}

/// The argument every prompt about one object takes.
#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct FluxObjectArgs {
    /// Flux kind: Kustomization, HelmRelease, GitRepository, OCIRepository, HelmRepository, HelmChart or Bucket.
    pub kind: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// Cluster, by its name in list_contexts (default: the agent's own).
    #[serde(default)]
    pub cluster: Option<String>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct FleetArgs {
    /// Only this namespace, in every cluster (default: every namespace in scope).
    #[serde(default)]
    pub namespace: Option<String>,
    /// How many of the worst clusters to look at in detail (default 3, at most 20).
    #[serde(default)]
    pub max_clusters: Option<String>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct WorkloadArgs {
    /// Kind of the object: Deployment, StatefulSet, DaemonSet, Pod, Service, Job, CronJob, Namespace, or a Flux kind.
    pub kind: String,
    /// Name of the object.
    pub name: String,
    /// Namespace (omit for cluster-scoped kinds such as Namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Cluster, by its name in list_contexts (default: the agent's own).
    #[serde(default)]
    pub cluster: Option<String>,
}

pub const DIAGNOSE: &str = "diagnose_flux_object";
pub const TRIAGE: &str = "triage_fleet";
pub const EXPLAIN: &str = "explain_workload";
pub const REVIEW: &str = "review_reconcile";

/// Every prompt, in the order `prompts/list` shows them.
pub fn catalogue() -> Vec<PromptDef> {
    vec![
        PromptDef::new::<FluxObjectArgs>(
            DIAGNOSE,
            "Diagnose a failing Flux object",
            "Why a Kustomization, HelmRelease or source is not Ready: the object, its conditions, events, source and inventory, read live, with the agent's own diagnosis, and what to answer with (root cause, evidence, fix).",
            &[ToolName::DebugReconciliation],
        ),
        PromptDef::new::<FleetArgs>(
            TRIAGE,
            "Triage the fleet",
            "Which clusters and Flux objects need attention first: the fleet's health, worst clusters first, and the Flux health of the worst ones in detail, with how to rank and group the problems.",
            &[ToolName::FleetHealthSummary, ToolName::FluxHealthSummary],
        ),
        PromptDef::new::<WorkloadArgs>(
            EXPLAIN,
            "Explain what manages a workload",
            "Which Flux objects manage a Deployment, Pod, Service or other object, from which source and revision, and where to change it in Git: the trace, read live, and the managing object.",
            &[ToolName::TraceObject],
        ),
        PromptDef::new::<FluxObjectArgs>(
            REVIEW,
            "Review a reconcile before running it",
            "What reconciling a Flux object now would do: its applied revision against its source's, its dependencies, whether it is suspended or failing, so the change can be judged before `reconcile` runs it.",
            &[ToolName::DebugReconciliation],
        ),
    ]
}

pub struct Prompts {
    registry: Arc<Registry>,
    resources: Arc<Resources>,
    ctx: Arc<ToolContext>,
    catalogue: Vec<PromptDef>,
}

impl Prompts {
    pub fn new(registry: Arc<Registry>, resources: Arc<Resources>, ctx: Arc<ToolContext>) -> Self {
        Self { registry, resources, ctx, catalogue: catalogue() }
    }

    /// The prompts offered: those whose tools are all offered.
    pub fn offered(&self) -> impl Iterator<Item = &PromptDef> {
        self.catalogue.iter().filter(|p| p.needs.iter().all(|t| self.registry.offers(*t)))
    }

    /// The prompt called `name`, or why there is none.
    pub fn find(&self, name: &str) -> Result<&PromptDef, PromptError> {
        let Some(def) = self.catalogue.iter().find(|p| p.name == name) else {
            let known: Vec<&str> = self.offered().map(|p| p.name).collect();
            return Err(PromptError::Unknown { name: validate::sanitize(name), known: known.join(", ") });
        };
        match def.needs.iter().find(|t| !self.registry.offers(**t)) {
            Some(tool) => Err(PromptError::NotOffered { prompt: name.to_string(), tool: tool.as_str() }),
            None => Ok(def),
        }
    }

    /// Fills prompt `name` with `arguments` for `caller`.
    pub async fn get(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        caller: Option<Caller>,
    ) -> Result<Filled, PromptError> {
        let def = self.find(name)?;
        let args = Value::Object(arguments);
        let fill = Fill { prompts: self, caller };
        match def.name {
            DIAGNOSE => fill.diagnose(parse(args)?).await,
            TRIAGE => fill.triage(parse(args)?).await,
            EXPLAIN => fill.explain(parse(args)?).await,
            _ => fill.review(parse(args)?).await,
        }
    }
}

fn parse<A: DeserializeOwned>(args: Value) -> Result<A, PromptError> {
    Ok(registry::parse_args(args)?)
}

/// The Flux object a prompt is about, its arguments checked.
struct Target {
    kind: Kind,
    namespace: String,
    name: String,
    cluster: String,
}

impl Target {
    fn of(ctx: &ToolContext, args: FluxObjectArgs) -> Result<Target, ToolError> {
        let kind = tools::flux_kind("kind", &args.kind)?;
        validate::namespace("namespace", &args.namespace)?;
        validate::name("name", &args.name)?;
        let cluster = cluster_of(ctx, args.cluster)?;
        Ok(Target { kind, namespace: args.namespace, name: args.name, cluster })
    }

    fn uri(&self) -> String {
        ResourceUri::Object {
            cluster: self.cluster.clone(),
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
        .to_string()
    }

    fn what(&self) -> String {
        format!("{} `{}/{}` on cluster `{}`", self.kind.kind, self.namespace, self.name, self.cluster)
    }
}

/// The cluster named (checked), or the fleet's default.
fn cluster_of(ctx: &ToolContext, cluster: Option<String>) -> Result<String, ToolError> {
    if let Some(c) = &cluster {
        validate::name("cluster", c)?;
    }
    let member = ctx
        .fleet
        .member(cluster.as_deref())
        .map_err(|e| ToolError::InvalidArgument { param: "cluster".into(), reason: e.to_string() })?;
    Ok(member.name.clone())
}

/// The source a Flux object's answer names (`Kind/namespace/name`), as a resource URI.
fn source_uri(cluster: &str, data: &Value) -> Option<String> {
    let source = data.get("source").and_then(Value::as_str)?;
    let mut parts = source.splitn(3, '/');
    let kind = Kind::flux_by_name(parts.next()?)?;
    let (namespace, name) = (parts.next()?.to_string(), parts.next()?.to_string());
    Some(ResourceUri::Object { cluster: cluster.to_string(), kind, namespace, name }.to_string())
}

/// One prompt being filled for one caller.
struct Fill<'a> {
    prompts: &'a Prompts,
    caller: Option<Caller>,
}

impl Fill<'_> {
    async fn call(&self, tool: ToolName, args: Value) -> Result<registry::Answer, ToolError> {
        let p = self.prompts;
        p.registry.call(p.ctx.clone(), tool.as_str(), args, "mcp-prompt", self.caller.clone()).await
    }

    /// A part the prompt can do without: the tool's markdown, or a line saying why it is missing.
    async fn optional(&self, heading: &str, tool: ToolName, args: Value) -> Part {
        if !self.prompts.registry.offers(tool) {
            return Part::Text(format!(
                "### {heading}\n\nNot available: this agent does not offer `{tool}`.\n",
                tool = tool.as_str()
            ));
        }
        match self.call(tool, args).await {
            Ok(answer) => Part::Text(format!("### {heading}\n\n{}", answer.markdown)),
            Err(e) => Part::Text(format!("### {heading}\n\nNot available: {e}\n")),
        }
    }

    /// A resource, embedded, and its JSON.
    async fn resource(&self, uri: &str) -> Result<(Part, Value), ResourceError> {
        let contents = self.prompts.resources.read(uri, self.caller.clone()).await?;
        Ok((Part::Resource { uri: contents.uri, markdown: contents.markdown }, contents.json))
    }

    /// A resource the prompt can do without: embedded, or a line saying why it is missing.
    async fn optional_resource(&self, heading: &str, uri: &str) -> Part {
        match self.resource(uri).await {
            Ok((part, _)) => part,
            Err(e) => Part::Text(format!("### {heading}\n\nNot available: {e}\n")),
        }
    }

    /// The object's resource (required), with its JSON.
    async fn object(&self, target: &Target) -> Result<(Part, Value), PromptError> {
        Ok(self.resource(&target.uri()).await?)
    }

    /// The source's resource, if the object has one.
    async fn source(&self, target: &Target, data: &Value) -> Option<Part> {
        let uri = source_uri(&target.cluster, data)?;
        Some(self.optional_resource("Source", &uri).await)
    }

    async fn diagnose(&self, args: FluxObjectArgs) -> Result<Filled, PromptError> {
        let target = Target::of(&self.prompts.ctx, args)?;
        let what = target.what();
        let mut parts = vec![Part::Text(format!(
            "Diagnose why the Flux {what} is not healthy. The live state below was read from the cluster just now by the gitops-agent: the object, what the agent's checks found, its source and what it manages. Work from this evidence, not from assumptions."
        ))];
        interact::progress(1.0, Some(4.0), "read the object").await;
        let (object, data) = self.object(&target).await?;
        parts.push(object);
        // The resource of a source is already its diagnosis (debug_reconciliation).
        if !target.kind.is_source() {
            let debug = json!({"cluster": target.cluster, "resource_type": target.kind.kind, "namespace": target.namespace, "name": target.name});
            parts.push(
                self.optional("The agent's diagnosis, with recent events", ToolName::DebugReconciliation, debug).await,
            );
        }
        interact::progress(2.0, Some(4.0), "read the diagnosis").await;
        parts.extend(self.source(&target, &data).await);
        interact::progress(3.0, Some(4.0), "read the source").await;
        if let Some(manager) = manager_type(target.kind) {
            let inventory = json!({"cluster": target.cluster, "resource_type": manager, "namespace": target.namespace, "name": target.name, "limit": 50});
            parts.push(self.optional("What it manages (inventory)", ToolName::GetInventory, inventory).await);
        }
        interact::progress(4.0, Some(4.0), "read the inventory").await;
        parts.push(Part::Text(
            "Answer with:\n1. The root cause, in one or two sentences.\n2. The evidence for it: quote the condition, event or message above that shows it.\n3. The fix: the change to make in Git (file and field) or on the cluster, and the Flux command or agent tool (`reconcile`, `resume`) to apply it once fixed.\n4. What to watch to confirm it worked.\nIf the evidence is not enough to be sure, say what is missing and which agent tool would show it (get_events, get_pod_logs, trace_object). Never ask for or read Secrets.".into(),
        ));
        Ok(Filled { description: format!("Diagnose the Flux {what}"), parts })
    }

    async fn triage(&self, args: FleetArgs) -> Result<Filled, PromptError> {
        validate::optional_namespace("namespace", args.namespace.as_deref())?;
        let max = match args.max_clusters.as_deref() {
            None => 3,
            Some(v) => v.trim().parse::<u32>().ok().filter(|n| (1..=20).contains(n)).ok_or_else(|| {
                ToolError::InvalidArgument {
                    param: "max_clusters".into(),
                    reason: format!("expected a whole number from 1 to 20, got {:?}", validate::sanitize(v)),
                }
            })?,
        };
        let fleet_args = match &args.namespace {
            Some(ns) => json!({"namespace": ns}),
            None => json!({}),
        };
        let fleet = self.call(ToolName::FleetHealthSummary, fleet_args).await?;
        let mut parts = vec![
            Part::Text("Triage this Flux fleet: decide what needs attention first. The fleet's health below was read live by the gitops-agent, every cluster at once, worst first; the worst clusters follow in detail.".into()),
            Part::Text(format!("### The fleet\n\n{}", fleet.markdown)),
        ];
        // The clusters with failing objects, worst first as the tool ranked them.
        let worst: Vec<String> = fleet
            .data
            .get("clusters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| {
                let t = c.get("totals");
                let count = |f: &str| t.and_then(|t| t.get(f)).and_then(Value::as_u64).unwrap_or(0);
                count("failed") + count("stalled") > 0
            })
            .filter_map(|c| c.get("cluster").and_then(Value::as_str).map(str::to_string))
            .take(max as usize)
            .collect();
        for (i, cluster) in worst.iter().enumerate() {
            let summary = ResourceUri::Summary { cluster: cluster.clone() }.to_string();
            parts.push(self.optional_resource(&format!("Cluster {cluster}"), &summary).await);
            interact::progress((i + 1) as f64, Some(worst.len() as f64), &format!("read cluster {cluster}")).await;
        }
        parts.push(Part::Text(
            "Answer with:\n1. Unreachable clusters first: what that blocks, and what to check (the agent's access, the cluster's API).\n2. The failing objects, most urgent first (stalled before failed, oldest failure first, production before the rest when names say so), each with its likely cause in one line.\n3. Problems that share a cause (one source, one dependency, one chart), grouped, so one fix covers them.\n4. For the top three, the next step, and which prompt or tool to use (`diagnose_flux_object`, debug_reconciliation).\nSuspended objects are a choice someone made: list them, and only flag those suspended for long.".into(),
        ));
        Ok(Filled { description: "Triage the fleet's Flux problems".into(), parts })
    }

    async fn explain(&self, args: WorkloadArgs) -> Result<Filled, PromptError> {
        validate::name("name", &args.name)?;
        validate::optional_namespace("namespace", args.namespace.as_deref())?;
        let cluster = cluster_of(&self.prompts.ctx, args.cluster)?;
        let trace = self
            .call(
                ToolName::TraceObject,
                json!({"cluster": cluster, "kind": args.kind, "name": args.name, "namespace": args.namespace}),
            )
            .await?;
        let what = match &args.namespace {
            Some(ns) => format!("{} `{ns}/{}` on cluster `{cluster}`", args.kind, args.name),
            None => format!("{} `{}` on cluster `{cluster}`", args.kind, args.name),
        };
        let mut parts = vec![
            Part::Text(format!(
                "Explain what manages the {what}: which Flux objects apply it, from which source and revision, and where a change to it has to be made. The trace below was read live by the gitops-agent, nearest manager first."
            )),
            Part::Text(format!("### Trace\n\n{}", trace.markdown)),
        ];
        // The nearest manager, in full.
        let nearest = trace.data.get("chain").and_then(Value::as_array).and_then(|c| c.first());
        let manager = nearest.and_then(|step| {
            let kind = Kind::flux_by_name(step.get("kind")?.as_str()?)?;
            let namespace = step.get("namespace")?.as_str()?.to_string();
            let name = step.get("name")?.as_str()?.to_string();
            Some(ResourceUri::Object { cluster: cluster.clone(), kind, namespace, name }.to_string())
        });
        if let Some(uri) = manager {
            parts.push(self.optional_resource("Managing object", &uri).await);
        }
        parts.push(Part::Text(
            "Answer with:\n1. The chain of ownership, from the Git (or OCI, Helm) source to this object, one line per step.\n2. Where to change it: the repository, path or chart and values, as far as the sources show.\n3. Whether each step is healthy, and if not, which one blocks changes from reaching the object.\nIf no Flux object manages it, say so plainly: it was applied by hand or by another tool, and Flux will not correct drift on it.".into(),
        ));
        Ok(Filled { description: format!("Explain what manages the {what}"), parts })
    }

    async fn review(&self, args: FluxObjectArgs) -> Result<Filled, PromptError> {
        let target = Target::of(&self.prompts.ctx, args)?;
        let what = target.what();
        let (object, data) = self.object(&target).await?;
        let applied = data.get("revision").and_then(Value::as_str);
        let attempted = data.get("attemptedRevision").and_then(Value::as_str);
        let available = data.pointer("/sourceStatus/revision").and_then(Value::as_str);
        let mut facts = vec![format!(
            "- State now: {}{}",
            data.get("state").and_then(Value::as_str).unwrap_or("unknown"),
            data.get("reason").and_then(Value::as_str).map(|r| format!(" ({r})")).unwrap_or_default()
        )];
        facts.push(format!("- Applied revision: {}", applied.unwrap_or("none yet")));
        if let Some(a) = attempted {
            facts.push(format!("- Last attempted (and not applied) revision: {a}"));
        }
        match (available, applied) {
            (Some(src), Some(app)) if src == app => {
                facts.push(format!("- The source's artifact is the applied revision ({src}): a reconcile re-applies it and corrects drift, nothing new."))
            }
            (Some(src), _) => facts.push(format!(
                "- The source's artifact is {src}: a reconcile applies it, which differs from what is applied now."
            )),
            (None, _) if !target.kind.is_source() => facts.push(
                "- The source's artifact is unknown (the source is not ready or cannot be read): a reconcile may fail on it.".into(),
            ),
            _ => {}
        }
        let mut parts = vec![
            Part::Text(format!(
                "Review what reconciling the Flux {what} now would do, before anyone runs it. The live state was read just now by the gitops-agent.\n\n{}",
                facts.join("\n")
            )),
            object,
        ];
        parts.extend(self.source(&target, &data).await);
        parts.push(Part::Text(
            "Answer with:\n1. What the reconcile changes on the cluster: the revision it moves to, and what differs from what runs now (as far as the revisions and sources show; suggest `flux diff` on the source path for the exact objects).\n2. Risks: dependencies that are not Ready, a failing source, a suspended object (reconcile does nothing until resumed), a last attempt that failed on the same revision.\n3. A verdict: reconcile now, fix something first, or wait, and why.\nIf the verdict is to go ahead, the agent's `reconcile` tool does it (it asks the user to confirm first when the client supports that).".into(),
        ));
        Ok(Filled { description: format!("Review a reconcile of the Flux {what}"), parts })
    }
}

/// The inventory a kind has (what get_inventory takes), if any.
fn manager_type(kind: Kind) -> Option<&'static str> {
    match kind {
        kinds::KUSTOMIZATION => Some("kustomization"),
        kinds::HELMRELEASE => Some("helmrelease"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_come_from_the_typed_schema() {
        let catalogue = catalogue();
        let names: Vec<&str> = catalogue.iter().map(|p| p.name).collect();
        assert_eq!(names, [DIAGNOSE, TRIAGE, EXPLAIN, REVIEW]);
        let diagnose = &catalogue[0];
        let required: Vec<(&str, bool)> = diagnose.arguments.iter().map(|a| (a.name.as_str(), a.required)).collect();
        for (name, req) in [("kind", true), ("namespace", true), ("name", true), ("cluster", false)] {
            assert!(required.contains(&(name, req)), "{name}: {required:?}");
        }
        for p in &catalogue {
            assert!(!p.description.is_empty());
            for a in &p.arguments {
                assert!(
                    a.description.as_deref().is_some_and(|d| !d.is_empty()),
                    "{}.{} has no description",
                    p.name,
                    a.name
                );
            }
        }
    }

    #[test]
    fn a_source_named_by_an_answer_is_a_resource() {
        let data = json!({"source": "GitRepository/flux-system/infra"});
        assert_eq!(source_uri("local", &data).as_deref(), Some("flux://local/gitrepository/flux-system/infra"));
        assert_eq!(source_uri("local", &json!({"source": "Nope/a/b"})), None);
        assert_eq!(source_uri("local", &json!({})), None);
    }

    #[test]
    fn bad_arguments_name_the_argument() {
        let err = parse::<FluxObjectArgs>(json!({"kind": "HelmRelease", "namespace": "a"})).expect_err("missing");
        assert_eq!(err.to_string(), "invalid argument `name`: missing field `name`");
        assert!(err.is_invalid());
        let err = parse::<FleetArgs>(json!({"colour": "red"})).expect_err("unknown");
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    }
}
