//! The tools, one module per domain, and what they share: the context they run in, paging,
//! status filters and the row type of Flux objects.

mod capi;
mod context;
mod core;
mod fleet;
mod flux;
mod inventory;
mod mutate;
mod policy;

pub use inventory::{live_by_kind, live_kinds};

use std::sync::Arc;

use jiff::Timestamp;
use kube::api::DynamicObject;
use kube::{Client, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::review::Access;
use crate::auth::{self, Reviewer};
use crate::cache::{Cache, KindObjects};
use crate::contexts::Contexts;
use crate::fleet::{Fleet, Reach};
use crate::kinds::{self, Kind};
use crate::markdown;
use crate::object::{self, State};
use crate::registry::{Tool, ToolError};
use crate::validate;

/// Hard caps on what one call may ask for.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_page: u32,
    pub max_events: u32,
    pub max_log_lines: u32,
    /// Bytes of log text returned after redaction; the rest is cut with a notice.
    pub max_log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_page: 500, max_events: 500, max_log_lines: 5000, max_log_bytes: 256 * 1024 }
    }
}

/// Where ages are measured from. Tests pin it so golden answers do not drift.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(Timestamp),
}

impl Clock {
    pub fn now(self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(t) => t,
        }
    }
}

/// What every tool call runs with: one cluster of the fleet (its cache, client and caller checks)
/// and the fleet itself, for the tools that answer across clusters.
pub struct ToolContext {
    /// The fleet member this context is for.
    pub cluster: String,
    pub fleet: Arc<Fleet>,
    pub cache: Arc<Cache>,
    /// The agent's own identity; tools send requests through [`ToolContext::client`].
    pub agent_client: Client,
    pub contexts: Arc<Contexts>,
    pub clock: Clock,
    pub limits: Limits,
    /// Checks reads and writes for the caller (`--auth=kubernetes`); `None` serves everyone with
    /// the agent's own permissions.
    pub access: Option<Arc<Reviewer>>,
}

impl ToolContext {
    /// The same call on another cluster of the fleet (`None`: the default one). A cluster that has
    /// not answered once since the agent started is refused here: its caches would wrongly say
    /// that no Flux CRD is installed.
    pub fn on(&self, cluster: Option<&str>) -> Result<ToolContext, ToolError> {
        let member = self
            .fleet
            .member(cluster)
            .map_err(|e| ToolError::InvalidArgument { param: "cluster".into(), reason: e.to_string() })?;
        let unreachable = |reason: String| ToolError::Unreachable { cluster: member.name.clone(), reason };
        let link = member.link.as_ref().map_err(|e| unreachable(e.clone()))?;
        if !link.cache.discovered() {
            return Err(match member.reach() {
                Reach::Unreachable(why) | Reach::Connecting(why) => unreachable(why),
                Reach::Reachable => unreachable("not discovered yet".into()),
            });
        }
        Ok(ToolContext {
            cluster: member.name.clone(),
            fleet: self.fleet.clone(),
            cache: link.cache.clone(),
            agent_client: link.client.clone(),
            contexts: self.contexts.clone(),
            clock: self.clock,
            limits: self.limits,
            access: link.access.clone(),
        })
    }

    /// Validates a namespace argument and checks it is one this agent may answer for.
    pub fn check_namespace(&self, param: &str, ns: Option<&str>) -> Result<(), ToolError> {
        validate::optional_namespace(param, ns)?;
        if let Some(ns) = ns
            && !self.in_scope(Some(ns))
        {
            return Err(ToolError::InvalidArgument {
                param: param.into(),
                reason: format!(
                    "namespace {ns:?} is outside this agent's watch namespaces ({})",
                    self.cache.namespaces().join(", ")
                ),
            });
        }
        Ok(())
    }

    /// Whether an object in this namespace (None: cluster-scoped) is within the agent's scope.
    pub fn in_scope(&self, ns: Option<&str>) -> bool {
        self.cache.in_scope(ns)
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The client a tool sends API requests with: for a caller (`--auth=kubernetes`), one that
    /// sends only what the caller's RBAC allows.
    pub fn client(&self) -> Client {
        match (&self.access, auth::current()) {
            (Some(reviewer), Some(caller)) => auth::enforce::client_for(&self.agent_client, reviewer.clone(), caller),
            _ => self.agent_client.clone(),
        }
    }

    /// The cached objects of a kind, in one namespace or all, that the caller (if the call runs
    /// for one) may list. Asking for one namespace the caller may not list is refused outright,
    /// as `kubectl` would; across namespaces, the ones they may not list are left out.
    pub async fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<Vec<Arc<DynamicObject>>, ToolError> {
        let mut objects = self.cache.list(kind).await?;
        if let Some(ns) = namespace {
            objects.retain(|o| o.metadata.namespace.as_deref() == Some(ns));
        }
        let (Some(reviewer), Some(caller)) = (&self.access, auth::current()) else { return Ok(objects) };
        let resource = self.cache.resource(kind)?;
        match namespace {
            Some(ns) => {
                reviewer.check(&caller, &Access::new("list", &resource, ns, "")).await?;
                Ok(objects)
            }
            None => Ok(reviewer.visible(&caller, &resource, objects).await?),
        }
    }

    /// One cached object; for a caller, only if they may get it (asked whether or not it exists,
    /// so a refusal tells nothing about existence).
    pub async fn get(&self, kind: Kind, ns: &str, name: &str) -> Result<Option<Arc<DynamicObject>>, ToolError> {
        if let (Some(reviewer), Some(caller)) = (&self.access, auth::current()) {
            reviewer.check(&caller, &Access::new("get", &self.cache.resource(kind)?, ns, name)).await?;
        }
        Ok(self.cache.get(kind, ns, name).await?)
    }

    /// Every served kind of a group with its objects (see [`Cache::list_group`]), keeping what the
    /// caller may list.
    pub async fn list_group(&self, group: &str) -> Result<Vec<KindObjects>, ToolError> {
        let kinds = self.cache.list_group(group)?;
        let (Some(reviewer), Some(caller)) = (&self.access, auth::current()) else { return Ok(kinds) };
        let mut out = Vec::with_capacity(kinds.len());
        for (resource, objects) in kinds {
            let objects = reviewer.visible(&caller, &resource, objects).await?;
            out.push((resource, objects));
        }
        Ok(out)
    }
}

/// Every tool, in the order `tools/list` shows them (the catalogue's order).
pub fn all() -> Vec<Tool> {
    let mut tools = Vec::new();
    tools.extend(context::context_tools());
    tools.extend(flux::tools());
    tools.extend(fleet::tools());
    tools.extend(capi::tools());
    tools.extend(core::tools());
    tools.extend(policy::tools());
    tools.extend(inventory::tools());
    tools.extend(mutate::tools());
    let order = |t: &Tool| gitops_agent_api::tools::ToolName::ALL.iter().position(|n| *n == t.name);
    tools.sort_by_key(order);
    tools
}

/// The README's tool table: name, what it answers, parameters (required in bold), read-only.
pub fn catalogue_markdown() -> String {
    let mut out =
        String::from("| tool | what it answers | parameters (required in bold) | mode |\n|---|---|---|---|\n");
    for t in all() {
        let required = t.required();
        let params: Vec<String> =
            t.parameters().into_iter().map(|k| if required.contains(&k) { format!("**{k}**") } else { k }).collect();
        let mode = if t.hints.read_only { "read" } else { "write (only with `--read-only=false`)" };
        out.push_str(&format!(
            "| `{}` | {} | {} | {mode} |\n",
            t.name,
            t.description.replace('|', "\\|"),
            if params.is_empty() { "—".to_string() } else { params.join(", ") }
        ));
    }
    out
}

/// A Flux kind named in argument `param` (any case), or an error listing the kinds accepted.
pub fn flux_kind(param: &str, value: &str) -> Result<Kind, ToolError> {
    Kind::flux_by_name(value).ok_or_else(|| {
        let names: Vec<&str> = kinds::FLUX.iter().map(|k| k.kind).collect();
        ToolError::InvalidArgument {
            param: param.into(),
            reason: format!("{:?} is not a Flux kind: expected one of {}", validate::sanitize(value), names.join(", ")),
        }
    })
}

/// The line that names the kinds a tool skipped because their CRDs are not served (empty when none).
pub fn not_installed_note(kinds: &[String]) -> String {
    if kinds.is_empty() { String::new() } else { format!("\nNot installed on this cluster: {}.\n", kinds.join(", ")) }
}

/// The kinds an answer covering several kinds leaves out because the caller may not list them
/// in the namespace asked about (across namespaces, reads are filtered instead, see
/// [`ToolContext::list`]): a team that may read its Kustomizations but not its HelmReleases gets
/// the Kustomizations and a note, not a refusal. When every kind is refused, the refusal is the
/// answer: counts over nothing would read as "nothing there".
#[derive(Default)]
pub struct Refusals {
    kinds: Vec<String>,
    first: Option<ToolError>,
}

impl Refusals {
    /// Leaves `kind` out when `error` is the caller's refusal; gives any other error back.
    pub fn skip(&mut self, kind: &str, error: ToolError) -> Result<(), ToolError> {
        if !error.is_forbidden() {
            return Err(error);
        }
        self.kinds.push(kind.to_string());
        self.first.get_or_insert(error);
        Ok(())
    }

    /// The kinds left out, or the first refusal when no kind could be read (`read_any`).
    pub fn finish(self, read_any: bool) -> Result<Vec<String>, ToolError> {
        match self.first {
            Some(refusal) if !read_any => Err(refusal),
            _ => Ok(self.kinds),
        }
    }
}

pub fn refused_note(kinds: &[String], namespace: Option<&str>) -> String {
    match (kinds.is_empty(), namespace) {
        (true, _) => String::new(),
        (false, Some(ns)) => {
            format!("\nNot shown: your access does not allow listing {} in namespace `{ns}`.\n", kinds.join(", "))
        }
        (false, None) => format!("\nNot shown: your access does not allow listing {}.\n", kinds.join(", ")),
    }
}

/// Filters on the state of reconciled objects.
#[derive(Deserialize, JsonSchema, Default, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    #[default]
    All,
    Ready,
    /// Failed or stalled.
    Failed,
    Suspended,
    Stalled,
    Progressing,
}

impl StatusFilter {
    pub fn matches(self, s: State) -> bool {
        match self {
            StatusFilter::All => true,
            StatusFilter::Ready => s == State::Ready,
            StatusFilter::Failed => s.is_failing(),
            StatusFilter::Suspended => s == State::Suspended,
            StatusFilter::Stalled => s == State::Stalled,
            StatusFilter::Progressing => s == State::Progressing,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Ready => "ready",
            StatusFilter::Failed => "failed",
            StatusFilter::Suspended => "suspended",
            StatusFilter::Stalled => "stalled",
            StatusFilter::Progressing => "progressing",
        }
    }
}

pub const DEFAULT_PAGE: u32 = 50;

pub fn default_limit() -> u32 {
    DEFAULT_PAGE
}

/// Which slice of a long answer was returned.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub offset: u32,
    pub limit: u32,
    pub returned: usize,
    /// Rows that matched the query.
    pub total: usize,
    /// Matching rows not returned (ask again with a larger offset).
    pub omitted: usize,
}

/// Cuts one page out of the rows; a bad limit is refused, an offset past the end gives none.
pub fn paginate<T>(ctx: &ToolContext, rows: Vec<T>, offset: u32, limit: u32) -> Result<(Vec<T>, Page), ToolError> {
    let limit = validate::within("limit", limit, 1, ctx.limits.max_page)?;
    let total = rows.len();
    let page: Vec<T> = rows.into_iter().skip(offset as usize).take(limit as usize).collect();
    let returned = page.len();
    Ok((page, Page { offset, limit, returned, total, omitted: total - returned }))
}

/// The line under a table that says what was left out and how to get it.
pub fn page_note(page: &Page, noun: &str) -> String {
    if page.total == 0 {
        return String::new();
    }
    if page.omitted == 0 && page.offset == 0 {
        return String::new();
    }
    let first = page.offset as usize + 1;
    let last = page.offset as usize + page.returned;
    let mut note = if page.returned == 0 {
        format!("\nNo {noun} at offset {} ({} in all).", page.offset, page.total)
    } else {
        format!("\nShowing {noun} {first}–{last} of {}.", page.total)
    };
    if last < page.total {
        note.push_str(&format!(
            " Call again with offset={last} for the next {}.",
            (page.total - last).min(page.limit as usize)
        ));
    }
    note.push('\n');
    note
}

/// One reconciled Flux object as list tools return it.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FluxItem {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub state: State,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Last applied (or artifact) revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Last attempted revision, when it differs from the applied one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempted_revision: Option<String>,
    /// `Kind/namespace/name` of the source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When the Ready condition last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

pub fn flux_item(obj: &DynamicObject) -> FluxItem {
    let conditions = object::conditions(obj);
    let state = object::state_of(obj, &conditions);
    let ready = conditions.into_iter().find(|c| c.type_ == "Ready");
    let deployed = object::at(obj, &["status", "history"]).and_then(serde_json::Value::as_array).and_then(|h| {
        h.iter()
            .find(|e| e.get("status").and_then(serde_json::Value::as_str) == Some("deployed"))
            .and_then(|e| e.get("chartVersion"))
            .and_then(serde_json::Value::as_str)
    });
    let applied = object::str_at(obj, &["status", "lastAppliedRevision"])
        .or_else(|| object::str_at(obj, &["status", "artifact", "revision"]))
        .or(deployed)
        .map(str::to_string);
    let attempted = object::str_at(obj, &["status", "lastAttemptedRevision"]).map(str::to_string);
    let attempted = match (&applied, attempted) {
        (Some(a), Some(b)) if *a == b => None,
        (_, b) => b,
    };
    FluxItem {
        kind: obj.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default(),
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
        state,
        reason: ready.as_ref().map(|c| c.reason.clone()).unwrap_or_default(),
        message: ready.as_ref().map(|c| c.message.clone()).unwrap_or_default(),
        revision: applied,
        attempted_revision: attempted,
        source: object::source_ref(obj).map(|(k, ns, n)| format!("{k}/{ns}/{n}")),
        since: ready.and_then(|c| c.last_transition_time),
    }
}

/// Counts by state.
#[derive(Serialize, JsonSchema, Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub total: usize,
    pub ready: usize,
    pub failed: usize,
    pub stalled: usize,
    pub progressing: usize,
    pub suspended: usize,
}

impl Summary {
    pub fn of<'a>(states: impl IntoIterator<Item = &'a State>) -> Self {
        let mut s = Summary::default();
        for st in states {
            s.total += 1;
            match st {
                State::Ready => s.ready += 1,
                State::Failed => s.failed += 1,
                State::Stalled => s.stalled += 1,
                State::Progressing => s.progressing += 1,
                State::Suspended => s.suspended += 1,
            }
        }
        s
    }

    /// Table cells in the order Total, Ready, Failed, Stalled, Progressing, Suspended.
    pub fn cells(&self) -> Vec<String> {
        [self.total, self.ready, self.failed, self.stalled, self.progressing, self.suspended]
            .iter()
            .map(usize::to_string)
            .collect()
    }

    pub fn line(&self) -> String {
        markdown::counts(&[
            ("ready", self.ready),
            ("failed", self.failed),
            ("stalled", self.stalled),
            ("progressing", self.progressing),
            ("suspended", self.suspended),
        ])
    }
}

/// "in namespace `x`", "in all namespaces", or the watched ones when the agent is scoped.
pub fn scope_phrase(ctx: &ToolContext, ns: Option<&str>) -> String {
    match (ns, ctx.cache.namespaces()) {
        (Some(ns), _) => format!("in namespace `{ns}`"),
        (None, []) => "in all namespaces".into(),
        (None, watched) => format!("in the watched namespaces ({})", watched.join(", ")),
    }
}
