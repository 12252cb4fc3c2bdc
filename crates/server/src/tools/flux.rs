//! Flux tools: GitOps status, Kustomizations, HelmReleases, sources, health, debugging.

use std::sync::Arc;

use gitops_agent_api::tools::ToolName;
use kube::ResourceExt;
use kube::api::DynamicObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::core::{EventRow, EventType, events, events_table};
use super::{
    FluxItem, Page, Refusals, StatusFilter, Summary, ToolContext, default_limit, flux_item, not_installed_note,
    page_note, paginate, refused_note, scope_phrase,
};
use crate::interact;
use crate::kinds::{self, Kind};
use crate::markdown::{self, Table};
use crate::object::{self, Condition, State};
use crate::registry::{Hints, Tool, ToolError};
use crate::validate;

/// The cached objects of a kind in the namespace asked for (or every namespace in scope), sorted
/// by namespace and name.
pub async fn objects(ctx: &ToolContext, kind: Kind, ns: Option<&str>) -> Result<Vec<Arc<DynamicObject>>, ToolError> {
    let mut objs = unsorted(ctx, kind, ns).await?;
    objs.sort_by(|a, b| (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name)));
    Ok(objs)
}

/// The same, unsorted: for callers that rank the objects themselves.
async fn unsorted(ctx: &ToolContext, kind: Kind, ns: Option<&str>) -> Result<Vec<Arc<DynamicObject>>, ToolError> {
    let mut objs = ctx.list(kind, ns).await?;
    objs.retain(|o| ctx.in_scope(o.metadata.namespace.as_deref()));
    Ok(objs)
}

/// A cached object ranked by [`object::quick_state`].
type Ranked<'a> = (State, Option<&'a str>, &'a DynamicObject);

fn rank(objs: &[Arc<DynamicObject>]) -> Vec<Ranked<'_>> {
    objs.iter()
        .map(|o| {
            let (state, since) = object::quick_state(o);
            (state, since, o.as_ref())
        })
        .collect()
}

/// Orders ranked objects worst first and cuts one page, sorting only as much as the page needs.
fn rank_page<'a>(
    ctx: &ToolContext,
    mut ranked: Vec<Ranked<'a>>,
    offset: u32,
    limit: u32,
) -> Result<(Vec<Ranked<'a>>, Page), ToolError> {
    let total = ranked.len();
    let end = (offset as usize).saturating_add(limit as usize);
    if end < ranked.len() {
        ranked.select_nth_unstable_by(end, object::worst_first);
        ranked.truncate(end);
    }
    ranked.sort_by(object::worst_first);
    let (page, mut info) = paginate(ctx, ranked, offset, limit)?;
    info.total = total;
    info.omitted = total - info.returned;
    Ok((page, info))
}

/// One cached Flux object, or a not-found error naming it.
pub async fn one(ctx: &ToolContext, kind: Kind, ns: &str, name: &str) -> Result<Arc<DynamicObject>, ToolError> {
    ctx.get(kind, ns, name).await?.ok_or_else(|| ToolError::NotFound(format!("{} {ns}/{name} not found", kind.kind)))
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Namespace to list (default: all namespaces the agent watches).
    #[serde(default)]
    pub namespace: Option<String>,
    /// `all` (default), `ready`, `failed` (includes stalled), `suspended`, `stalled` or `progressing`.
    #[serde(default)]
    pub status_filter: StatusFilter,
    /// Rows per page (default 50, at most 500).
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Rows to skip (for the next page).
    #[serde(default)]
    pub offset: u32,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct NamespaceArgs {
    /// Namespace (default: all namespaces the agent watches).
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct ObjectArgs {
    pub name: String,
    pub namespace: String,
}

impl ObjectArgs {
    fn check(&self, ctx: &ToolContext) -> Result<(), ToolError> {
        validate::name("name", &self.name)?;
        ctx.check_namespace("namespace", Some(&self.namespace))
    }
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FluxList<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    status_filter: String,
    /// Counts over every object in scope, before the status filter.
    summary: Summary,
    items: Vec<T>,
    page: Page,
}

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::GetGitopsStatus,
            "GitOps status overview",
            "Summarise the cluster's Flux GitOps health: how many Kustomizations, GitRepositories and HelmReleases are ready, failing or suspended, and which ones need attention (failures first, oldest first).",
            Hints::READ,
            get_gitops_status,
        ),
        Tool::new(
            ToolName::ListKustomizations,
            "List Flux Kustomizations",
            "List Flux Kustomizations (kustomize.toolkit.fluxcd.io) with their state, applied and attempted revisions, source and last message; failures first. Filter by namespace and status; paged with limit/offset.",
            Hints::READ,
            list_kustomizations,
        ),
        Tool::new(
            ToolName::GetKustomization,
            "Get a Flux Kustomization",
            "Show one Flux Kustomization in detail: state, conditions, path, source and its status, dependsOn and each dependency's state, revisions, inventory size.",
            Hints::READ,
            get_kustomization,
        ),
        Tool::new(
            ToolName::ListGitrepositories,
            "List Flux GitRepositories",
            "List Flux GitRepositories with URL, branch/tag/semver, state, artifact revision and artifact age; failures first.",
            Hints::READ,
            list_gitrepositories,
        ),
        Tool::new(
            ToolName::GetHelmreleases,
            "List Flux HelmReleases",
            "List Flux HelmReleases (helm.toolkit.fluxcd.io) with chart, version, state, failure counts and last message; failures first. Filter by namespace and status; paged.",
            Hints::READ,
            get_helmreleases,
        ),
        Tool::new(
            ToolName::DebugReconciliation,
            "Debug a Flux reconciliation",
            "Explain why a Kustomization, HelmRelease or source is not ready: its conditions, its source's state, its dependencies, its recent events, and a diagnosis of the likely cause with the next step.",
            Hints::READ,
            debug_reconciliation,
        ),
        Tool::new(
            ToolName::ListSources,
            "List Flux sources",
            "List all Flux sources (GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket) with URL, state, artifact revision and artifact age; failures first. Filter by kind, namespace and status; paged.",
            Hints::READ,
            list_sources,
        ),
        Tool::new(
            ToolName::GetHelmrelease,
            "Get a Flux HelmRelease",
            "Show one HelmRelease in detail: chart and source, release history, install/upgrade failure counts, remediation settings, last failure, conditions and recent events. Values are never shown (they may hold secrets).",
            Hints::READ,
            get_helmrelease,
        ),
        Tool::new(
            ToolName::FluxHealthSummary,
            "Flux health summary",
            "Count ready, failed, stalled, progressing and suspended Flux objects per kind and namespace, and list the failures oldest first.",
            Hints::READ,
            flux_health_summary,
        ),
    ]
}

fn revision_cell(item: &FluxItem) -> String {
    let applied = item.revision.as_deref().map(markdown::short_revision).unwrap_or_default();
    match item.attempted_revision.as_deref() {
        Some(attempted) if !applied.is_empty() => {
            format!("{applied} (attempted {})", markdown::short_revision(attempted))
        }
        Some(attempted) => format!("attempted {}", markdown::short_revision(attempted)),
        None => applied,
    }
}

fn flux_table(ctx: &ToolContext, items: &[FluxItem], with_kind: bool) -> String {
    let now = ctx.now();
    let mut header = vec!["State", "Namespace", "Name", "Revision", "Source", "Since", "Message"];
    if with_kind {
        header.insert(1, "Kind");
    }
    let mut t = Table::new(&header);
    for i in items {
        let mut row = vec![
            i.state.as_str().to_string(),
            i.namespace.clone(),
            i.name.clone(),
            revision_cell(i),
            i.source.clone().unwrap_or_default(),
            markdown::age(now, i.since.as_deref()),
            markdown::clip(&i.message, 160),
        ];
        if with_kind {
            row.insert(1, i.kind.clone());
        }
        t.row(row);
    }
    t.render()
}

/// The shared body of the list tools: filter, summarise, sort, page.
async fn list_of<T>(
    ctx: &ToolContext,
    kind: Kind,
    args: &ListArgs,
    row: impl Fn(&DynamicObject) -> T,
) -> Result<(Summary, Vec<T>, Page), ToolError> {
    ctx.check_namespace("namespace", args.namespace.as_deref())?;
    let objs = unsorted(ctx, kind, args.namespace.as_deref()).await?;
    interact::progress(1.0, Some(3.0), &format!("read {} {kind} objects", objs.len())).await;
    let mut ranked = rank(&objs);
    let summary = Summary::of(ranked.iter().map(|r| &r.0));
    ranked.retain(|r| args.status_filter.matches(r.0));
    interact::progress(2.0, Some(3.0), &format!("{} match the filter", ranked.len())).await;
    let (page, info) = rank_page(ctx, ranked, args.offset, args.limit)?;
    let rows = page.into_iter().map(|r| row(r.2)).collect();
    interact::progress(3.0, Some(3.0), "page ready").await;
    Ok((summary, rows, info))
}

fn list_heading(ctx: &ToolContext, plural: &str, args: &ListArgs, summary: &Summary, page: &Page) -> String {
    let filter = match args.status_filter {
        StatusFilter::All => String::new(),
        f => format!(" {} match status `{}`.", page.total, f.as_str()),
    };
    format!(
        "## {plural} {}\n\n{} {plural}: {}.{filter}\n\n",
        scope_phrase(ctx, args.namespace.as_deref()),
        summary.total,
        summary.line()
    )
}

async fn list_kustomizations(ctx: Arc<ToolContext>, args: ListArgs) -> Result<(String, FluxList<FluxItem>), ToolError> {
    let (summary, items, page) = list_of(&ctx, kinds::KUSTOMIZATION, &args, flux_item).await?;
    let mut md = list_heading(&ctx, "Kustomizations", &args, &summary, &page);
    if !items.is_empty() {
        md.push_str(&flux_table(&ctx, &items, false));
    }
    md.push_str(&page_note(&page, "Kustomizations"));
    Ok((
        md,
        FluxList { namespace: args.namespace, status_filter: args.status_filter.as_str().into(), summary, items, page },
    ))
}

/// A HelmRelease row: the Flux fields plus the chart.
#[derive(Serialize, JsonSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseItem {
    #[serde(flatten)]
    pub item: FluxItem,
    pub chart: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_version: Option<String>,
    pub failures: i64,
}

fn helmrelease_item(obj: &DynamicObject) -> HelmReleaseItem {
    let chart = object::str_at(obj, &["spec", "chart", "spec", "chart"])
        .map(str::to_string)
        .or_else(|| object::str_at(obj, &["spec", "chartRef", "name"]).map(|n| format!("{n} (chartRef)")))
        .unwrap_or_default();
    let installed = object::at(obj, &["status", "history"])
        .and_then(Value::as_array)
        .and_then(|h| h.first())
        .and_then(|s| s.get("chartVersion"))
        .and_then(Value::as_str);
    let version = installed.or_else(|| object::str_at(obj, &["spec", "chart", "spec", "version"])).map(str::to_string);
    let failures = ["failures", "installFailures", "upgradeFailures"]
        .iter()
        .filter_map(|f| object::i64_at(obj, &["status", f]))
        .max()
        .unwrap_or(0);
    HelmReleaseItem { item: flux_item(obj), chart, chart_version: version, failures }
}

async fn get_helmreleases(
    ctx: Arc<ToolContext>,
    args: ListArgs,
) -> Result<(String, FluxList<HelmReleaseItem>), ToolError> {
    let (summary, items, page) = list_of(&ctx, kinds::HELMRELEASE, &args, helmrelease_item).await?;
    let mut md = list_heading(&ctx, "HelmReleases", &args, &summary, &page);
    if !items.is_empty() {
        let now = ctx.now();
        let mut t = Table::new(&["State", "Namespace", "Name", "Chart", "Version", "Failures", "Since", "Message"]);
        for r in &items {
            t.row(vec![
                r.item.state.as_str().into(),
                r.item.namespace.clone(),
                r.item.name.clone(),
                r.chart.clone(),
                r.chart_version.clone().unwrap_or_default(),
                r.failures.to_string(),
                markdown::age(now, r.item.since.as_deref()),
                markdown::clip(&r.item.message, 160),
            ]);
        }
        md.push_str(&t.render());
    }
    md.push_str(&page_note(&page, "HelmReleases"));
    Ok((
        md,
        FluxList { namespace: args.namespace, status_filter: args.status_filter.as_str().into(), summary, items, page },
    ))
}

/// A source row: the Flux fields plus where it fetches from and its artifact.
#[derive(Serialize, JsonSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct SourceItem {
    #[serde(flatten)]
    pub item: FluxItem,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Branch, tag, semver range, commit or chart version the source follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When the current artifact was produced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_updated: Option<String>,
}

fn source_item(obj: &DynamicObject) -> SourceItem {
    let url = object::str_at(obj, &["spec", "url"])
        .or_else(|| object::str_at(obj, &["spec", "endpoint"]))
        .map(str::to_string)
        .or_else(|| {
            object::str_at(obj, &["spec", "chart"]).map(|c| {
                let src = object::source_ref(obj).map(|(k, _, n)| format!("{k}/{n}")).unwrap_or_default();
                format!("{src} chart {c}")
            })
        });
    let reference = object::at(obj, &["spec", "ref"])
        .and_then(Value::as_object)
        .and_then(|r| {
            ["name", "commit", "tag", "semver", "branch", "digest"]
                .iter()
                .find_map(|k| r.get(*k).and_then(Value::as_str).map(|v| format!("{k}: {v}")))
        })
        .or_else(|| object::str_at(obj, &["spec", "version"]).map(|v| format!("version: {v}")))
        .or_else(|| object::str_at(obj, &["spec", "bucketName"]).map(|b| format!("bucket: {b}")));
    SourceItem {
        item: flux_item(obj),
        url,
        reference,
        artifact_updated: object::str_at(obj, &["status", "artifact", "lastUpdateTime"]).map(str::to_string),
    }
}

fn sources_table(ctx: &ToolContext, items: &[SourceItem], with_kind: bool) -> String {
    let now = ctx.now();
    let mut header = vec!["State", "Namespace", "Name", "URL", "Ref", "Artifact", "Artifact age", "Message"];
    if with_kind {
        header.insert(1, "Kind");
    }
    let mut t = Table::new(&header);
    for s in items {
        let mut row = vec![
            s.item.state.as_str().into(),
            s.item.namespace.clone(),
            s.item.name.clone(),
            s.url.clone().unwrap_or_default(),
            s.reference.clone().unwrap_or_default(),
            s.item.revision.as_deref().map(markdown::short_revision).unwrap_or_default(),
            markdown::age(now, s.artifact_updated.as_deref()),
            markdown::clip(&s.item.message, 160),
        ];
        if with_kind {
            row.insert(1, s.item.kind.clone());
        }
        t.row(row);
    }
    t.render()
}

async fn list_gitrepositories(
    ctx: Arc<ToolContext>,
    args: ListArgs,
) -> Result<(String, FluxList<SourceItem>), ToolError> {
    let (summary, items, page) = list_of(&ctx, kinds::GITREPOSITORY, &args, source_item).await?;
    let mut md = list_heading(&ctx, "GitRepositories", &args, &summary, &page);
    if !items.is_empty() {
        md.push_str(&sources_table(&ctx, &items, false));
    }
    md.push_str(&page_note(&page, "GitRepositories"));
    Ok((
        md,
        FluxList { namespace: args.namespace, status_filter: args.status_filter.as_str().into(), summary, items, page },
    ))
}

#[derive(Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    GitRepository,
    OCIRepository,
    HelmRepository,
    HelmChart,
    Bucket,
}

impl SourceKind {
    fn kind(self) -> Kind {
        match self {
            SourceKind::GitRepository => kinds::GITREPOSITORY,
            SourceKind::OCIRepository => kinds::OCIREPOSITORY,
            SourceKind::HelmRepository => kinds::HELMREPOSITORY,
            SourceKind::HelmChart => kinds::HELMCHART,
            SourceKind::Bucket => kinds::BUCKET,
        }
    }
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct SourcesArgs {
    /// Only this kind of source (default: all five).
    #[serde(default)]
    pub kind: Option<SourceKind>,
    /// Namespace to list (default: all namespaces the agent watches).
    #[serde(default)]
    pub namespace: Option<String>,
    /// `all` (default), `ready`, `failed` (includes stalled), `suspended`, `stalled` or `progressing`.
    #[serde(default)]
    pub status_filter: StatusFilter,
    /// Rows per page (default 50, at most 500).
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Rows to skip (for the next page).
    #[serde(default)]
    pub offset: u32,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SourcesAnswer {
    #[serde(flatten)]
    list: FluxList<SourceItem>,
    /// Source kinds whose CRD this cluster does not serve.
    not_installed: Vec<String>,
    /// Source kinds left out: the caller may not list them in the namespace asked about.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forbidden: Vec<String>,
}

async fn list_sources(ctx: Arc<ToolContext>, args: SourcesArgs) -> Result<(String, SourcesAnswer), ToolError> {
    let list = &ListArgs {
        namespace: args.namespace.clone(),
        status_filter: args.status_filter,
        limit: args.limit,
        offset: args.offset,
    };
    ctx.check_namespace("namespace", list.namespace.as_deref())?;
    let wanted: Vec<Kind> = match args.kind {
        Some(k) => vec![k.kind()],
        None => kinds::SOURCES.to_vec(),
    };
    let mut objs = Vec::new();
    let mut not_installed = Vec::new();
    let mut refusals = Refusals::default();
    let mut read = 0;
    for kind in wanted {
        match unsorted(&ctx, kind, list.namespace.as_deref()).await {
            Ok(o) => {
                objs.extend(o);
                read += 1;
            }
            Err(e) if e.is_not_installed() && args.kind.is_none() => {
                not_installed.push(kind.kind.to_string());
            }
            Err(e) if args.kind.is_none() => refusals.skip(kind.kind, e)?,
            Err(e) => return Err(e),
        }
    }
    let forbidden = refusals.finish(read > 0)?;
    let mut ranked = rank(&objs);
    let summary = Summary::of(ranked.iter().map(|r| &r.0));
    ranked.retain(|r| list.status_filter.matches(r.0));
    let (page, page_info) = rank_page(&ctx, ranked, list.offset, list.limit)?;
    let (items, page): (Vec<SourceItem>, Page) = (page.into_iter().map(|r| source_item(r.2)).collect(), page_info);
    let mut md = list_heading(&ctx, "Flux sources", list, &summary, &page);
    if !items.is_empty() {
        md.push_str(&sources_table(&ctx, &items, true));
    }
    md.push_str(&page_note(&page, "sources"));
    md.push_str(&not_installed_note(&not_installed));
    md.push_str(&refused_note(&forbidden, args.namespace.as_deref()));
    let list =
        FluxList { namespace: args.namespace, status_filter: args.status_filter.as_str().into(), summary, items, page };
    Ok((md, SourcesAnswer { list, not_installed, forbidden }))
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct KindSummary {
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    summary: Summary,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct GitopsStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    /// True when nothing is failing, stalled or progressing.
    healthy: bool,
    kinds: Vec<KindSummary>,
    /// Objects that are not ready (failures first, oldest first), then suspended ones.
    attention: Vec<FluxItem>,
    /// Attention rows left out (the list is capped).
    attention_omitted: usize,
    not_installed: Vec<String>,
    /// Kinds left out: the caller may not list them in the namespace asked about.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forbidden: Vec<String>,
}

async fn get_gitops_status(ctx: Arc<ToolContext>, args: NamespaceArgs) -> Result<(String, GitopsStatus), ToolError> {
    ctx.check_namespace("namespace", args.namespace.as_deref())?;
    let mut kinds_out = Vec::new();
    let mut objs = Vec::new();
    let mut not_installed = Vec::new();
    let mut refusals = Refusals::default();
    for kind in [kinds::KUSTOMIZATION, kinds::GITREPOSITORY, kinds::HELMRELEASE] {
        match unsorted(&ctx, kind, args.namespace.as_deref()).await {
            Ok(found) => {
                let states: Vec<State> = found.iter().map(|o| object::quick_state(o).0).collect();
                kinds_out.push(KindSummary {
                    kind: kind.kind.into(),
                    namespace: None,
                    summary: Summary::of(states.iter()),
                });
                objs.extend(found);
            }
            // The predecessor's two kinds are required; HelmReleases are reported when present.
            Err(e) if e.is_not_installed() && kind == kinds::HELMRELEASE => not_installed.push(kind.kind.to_string()),
            Err(e) => refusals.skip(kind.kind, e)?,
        }
    }
    let forbidden = refusals.finish(!kinds_out.is_empty())?;
    let unready: Vec<_> = rank(&objs).into_iter().filter(|r| r.0 != State::Ready).collect();
    let (top, page) = rank_page(&ctx, unready, 0, super::DEFAULT_PAGE)?;
    let attention: Vec<FluxItem> = top.into_iter().map(|r| flux_item(r.2)).collect();
    let omitted = page.omitted;
    let healthy = kinds_out.iter().all(|k| k.summary.ready + k.summary.suspended == k.summary.total);
    let mut md = format!("## GitOps status {}\n\n", scope_phrase(&ctx, args.namespace.as_deref()));
    let failing: usize = kinds_out.iter().map(|k| k.summary.failed + k.summary.stalled).sum();
    md.push_str(&if healthy {
        "**Healthy**: every Flux object is ready (suspended ones aside).\n\n".to_string()
    } else {
        format!("**Unhealthy**: {failing} failing, see below.\n\n")
    });
    let mut t = Table::new(&["Kind", "Total", "Ready", "Failed", "Stalled", "Progressing", "Suspended"]);
    for k in &kinds_out {
        let mut row = vec![k.kind.clone()];
        row.extend(k.summary.cells());
        t.row(row);
    }
    md.push_str(&t.render());
    if !attention.is_empty() {
        md.push_str("\n### Needs attention\n\n");
        md.push_str(&flux_table(&ctx, &attention, true));
        if omitted > 0 {
            md.push_str(&format!(
                "\n{omitted} more not shown: use list_kustomizations / get_helmreleases with status_filter.\n"
            ));
        }
    }
    md.push_str(&not_installed_note(&not_installed));
    md.push_str(&refused_note(&forbidden, args.namespace.as_deref()));
    Ok((
        md,
        GitopsStatus {
            namespace: args.namespace,
            healthy,
            kinds: kinds_out,
            attention,
            attention_omitted: omitted,
            not_installed,
            forbidden,
        },
    ))
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    namespace: String,
    name: String,
    /// None when the dependency does not exist.
    state: Option<State>,
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct KustomizationDetail {
    #[serde(flatten)]
    item: FluxItem,
    path: Option<String>,
    interval: Option<String>,
    prune: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_status: Option<FluxItem>,
    depends_on: Vec<Dependency>,
    conditions: Vec<Condition>,
    inventory_entries: usize,
}

async fn dependencies(ctx: &ToolContext, kind: Kind, obj: &DynamicObject) -> Result<Vec<Dependency>, ToolError> {
    let mut out = Vec::new();
    let Some(deps) = object::at(obj, &["spec", "dependsOn"]).and_then(Value::as_array) else {
        return Ok(out);
    };
    for d in deps {
        let name = d.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let ns = d
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| obj.namespace())
            .unwrap_or_default();
        let found = ctx.get(kind, &ns, &name).await?;
        let (state, message) = match found {
            Some(o) => {
                let i = flux_item(&o);
                (Some(i.state), i.message)
            }
            None => (None, format!("{} {ns}/{name} does not exist", kind.kind)),
        };
        out.push(Dependency { namespace: ns, name, state, message });
    }
    Ok(out)
}

/// The source a Kustomization or HelmRelease reads, from the cache (None if not cached or absent).
async fn source_of(ctx: &ToolContext, obj: &DynamicObject) -> Option<FluxItem> {
    if let Some((ns, name)) = object::str_at(obj, &["status", "helmChart"]).and_then(|c| c.split_once('/'))
        && let Ok(Some(o)) = ctx.get(kinds::HELMCHART, ns, name).await
    {
        return Some(flux_item(&o));
    }
    let (kind, ns, name) = object::source_ref(obj)?;
    let kind = Kind::flux_by_name(&kind)?;
    ctx.get(kind, &ns, &name).await.ok().flatten().map(|o| flux_item(&o))
}

fn conditions_table(conds: &[Condition], ctx: &ToolContext) -> String {
    let now = ctx.now();
    let mut t = Table::new(&["Type", "Status", "Reason", "Since", "Message"]);
    for c in conds {
        t.row(vec![
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            markdown::age(now, c.last_transition_time.as_deref()),
            markdown::clip(&c.message, 300),
        ]);
    }
    t.render()
}

fn state_line(i: &FluxItem) -> String {
    let mut s = format!("**State: {}**", i.state.as_str());
    if !i.reason.is_empty() {
        s.push_str(&format!(" ({})", i.reason));
    }
    if !i.message.is_empty() {
        s.push_str(&format!(": {}", i.message));
    }
    s.push('\n');
    s
}

async fn get_kustomization(
    ctx: Arc<ToolContext>,
    args: ObjectArgs,
) -> Result<(String, KustomizationDetail), ToolError> {
    args.check(&ctx)?;
    let obj = one(&ctx, kinds::KUSTOMIZATION, &args.namespace, &args.name).await?;
    let item = flux_item(&obj);
    let deps = dependencies(&ctx, kinds::KUSTOMIZATION, &obj).await?;
    let source = source_of(&ctx, &obj).await;
    let inventory = object::at(&obj, &["status", "inventory", "entries"]).and_then(Value::as_array).map_or(0, Vec::len);
    let detail = KustomizationDetail {
        path: object::str_at(&obj, &["spec", "path"]).map(str::to_string),
        interval: object::str_at(&obj, &["spec", "interval"]).map(str::to_string),
        prune: object::bool_at(&obj, &["spec", "prune"]).unwrap_or(false),
        target_namespace: object::str_at(&obj, &["spec", "targetNamespace"]).map(str::to_string),
        source_status: source,
        depends_on: deps,
        conditions: object::conditions(&obj),
        inventory_entries: inventory,
        item,
    };
    let mut md = format!("## Kustomization `{}/{}`\n\n{}\n", args.namespace, args.name, state_line(&detail.item));
    md.push_str(&format!("- Path: `{}`\n", detail.path.as_deref().unwrap_or("./")));
    md.push_str(&format!("- Interval: {}; prune: {}\n", detail.interval.as_deref().unwrap_or("—"), detail.prune));
    if let Some(t) = &detail.target_namespace {
        md.push_str(&format!("- Target namespace: `{t}`\n"));
    }
    md.push_str(&format!("- Applied revision: {}\n", detail.item.revision.as_deref().unwrap_or("none yet")));
    if let Some(a) = &detail.item.attempted_revision {
        md.push_str(&format!("- Last attempted revision: {a}\n"));
    }
    md.push_str(&format!("- Inventory: {} object(s)\n", detail.inventory_entries));
    match (&detail.item.source, &detail.source_status) {
        (Some(src), Some(s)) => md.push_str(&format!(
            "- Source: {src} — {}{}\n",
            s.state.as_str(),
            s.revision.as_deref().map(|r| format!(", artifact {r}")).unwrap_or_default()
        )),
        (Some(src), None) => md.push_str(&format!("- Source: {src} (not found)\n")),
        _ => {}
    }
    if !detail.depends_on.is_empty() {
        md.push_str("\n### Depends on\n\n");
        let mut t = Table::new(&["Namespace", "Name", "State", "Message"]);
        for d in &detail.depends_on {
            t.row(vec![
                d.namespace.clone(),
                d.name.clone(),
                d.state.map_or("missing", State::as_str).to_string(),
                markdown::clip(&d.message, 160),
            ]);
        }
        md.push_str(&t.render());
    }
    if !detail.conditions.is_empty() {
        md.push_str("\n### Conditions\n\n");
        md.push_str(&conditions_table(&detail.conditions, &ctx));
    }
    Ok((md, detail))
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct HistoryEntry {
    version: Option<i64>,
    chart_name: String,
    chart_version: String,
    app_version: Option<String>,
    status: String,
    first_deployed: Option<String>,
    last_deployed: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Remediation {
    install_retries: Option<i64>,
    upgrade_retries: Option<i64>,
    upgrade_strategy: Option<String>,
    remediate_last_failure: Option<bool>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct HelmReleaseDetail {
    #[serde(flatten)]
    release: HelmReleaseItem,
    release_name: String,
    target_namespace: Option<String>,
    interval: Option<String>,
    install_failures: i64,
    upgrade_failures: i64,
    last_attempted_action: Option<String>,
    remediation: Remediation,
    history: Vec<HistoryEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_status: Option<FluxItem>,
    depends_on: Vec<Dependency>,
    conditions: Vec<Condition>,
    events: Vec<EventRow>,
}

/// An object's ten most recent events; none, and why, when the caller may not list events there:
/// the object is shown all the same (a team may read its HelmReleases but not the events).
async fn recent_events(
    ctx: &ToolContext,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<(Vec<EventRow>, Option<String>), ToolError> {
    match events(ctx, namespace, Some((kind, name)), EventType::All, 10).await {
        Ok((rows, _)) => Ok((rows, None)),
        Err(e) if e.is_forbidden() => Ok((vec![], Some(e.to_string()))),
        Err(e) => Err(e),
    }
}

async fn get_helmrelease(ctx: Arc<ToolContext>, args: ObjectArgs) -> Result<(String, HelmReleaseDetail), ToolError> {
    args.check(&ctx)?;
    let obj = one(&ctx, kinds::HELMRELEASE, &args.namespace, &args.name).await?;
    let s = |p: &[&str]| object::str_at(&obj, p).map(str::to_string);
    let history = object::at(&obj, &["status", "history"])
        .and_then(Value::as_array)
        .map(|h| {
            h.iter()
                .map(|e| {
                    let f = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
                    HistoryEntry {
                        version: e.get("version").and_then(Value::as_i64),
                        chart_name: f("chartName").unwrap_or_default(),
                        chart_version: f("chartVersion").unwrap_or_default(),
                        app_version: f("appVersion"),
                        status: f("status").unwrap_or_default(),
                        first_deployed: f("firstDeployed"),
                        last_deployed: f("lastDeployed"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let (events, events_refused) = recent_events(&ctx, &args.namespace, "HelmRelease", &args.name).await?;
    let detail = HelmReleaseDetail {
        release_name: s(&["spec", "releaseName"]).unwrap_or_else(|| args.name.clone()),
        target_namespace: s(&["spec", "targetNamespace"]),
        interval: s(&["spec", "interval"]),
        install_failures: object::i64_at(&obj, &["status", "installFailures"]).unwrap_or(0),
        upgrade_failures: object::i64_at(&obj, &["status", "upgradeFailures"]).unwrap_or(0),
        last_attempted_action: s(&["status", "lastAttemptedReleaseAction"]),
        remediation: Remediation {
            install_retries: object::i64_at(&obj, &["spec", "install", "remediation", "retries"]),
            upgrade_retries: object::i64_at(&obj, &["spec", "upgrade", "remediation", "retries"]),
            upgrade_strategy: s(&["spec", "upgrade", "remediation", "strategy"]),
            remediate_last_failure: object::bool_at(&obj, &["spec", "install", "remediation", "remediateLastFailure"]),
        },
        history,
        source_status: source_of(&ctx, &obj).await,
        depends_on: dependencies(&ctx, kinds::HELMRELEASE, &obj).await?,
        conditions: object::conditions(&obj),
        events,
        release: helmrelease_item(&obj),
    };
    let r = &detail.release;
    let mut md = format!("## HelmRelease `{}/{}`\n\n{}\n", args.namespace, args.name, state_line(&r.item));
    md.push_str(&format!("- Chart: {} {}\n", r.chart, r.chart_version.as_deref().unwrap_or("")));
    if let Some(src) = &r.item.source {
        let st = detail.source_status.as_ref().map(|s| format!(" — {}", s.state.as_str())).unwrap_or_default();
        md.push_str(&format!("- Source: {src}{st}\n"));
    }
    md.push_str(&format!(
        "- Release: `{}` in `{}`; interval {}\n",
        detail.release_name,
        detail.target_namespace.as_deref().unwrap_or(&args.namespace),
        detail.interval.as_deref().unwrap_or("—")
    ));
    md.push_str(&format!(
        "- Failures: {} install, {} upgrade{}\n",
        detail.install_failures,
        detail.upgrade_failures,
        detail.last_attempted_action.as_deref().map(|a| format!(" (last attempted action: {a})")).unwrap_or_default()
    ));
    let rem = &detail.remediation;
    md.push_str(&format!(
        "- Remediation: install retries {}, upgrade retries {}{}\n",
        rem.install_retries.map_or("0 (default)".into(), |n| n.to_string()),
        rem.upgrade_retries.map_or("0 (default)".into(), |n| n.to_string()),
        rem.upgrade_strategy.as_deref().map(|s| format!(", upgrade strategy {s}")).unwrap_or_default()
    ));
    if r.item.state.is_failing() {
        md.push_str(&format!("- Last failure: {}\n", r.item.message));
    }
    if !detail.history.is_empty() {
        md.push_str("\n### Release history\n\n");
        let mut t = Table::new(&["Version", "Chart", "App version", "Status", "Deployed"]);
        for h in &detail.history {
            t.row(vec![
                h.version.map(|v| v.to_string()).unwrap_or_default(),
                format!("{}@{}", h.chart_name, h.chart_version),
                h.app_version.clone().unwrap_or_default(),
                h.status.clone(),
                h.last_deployed.clone().unwrap_or_default(),
            ]);
        }
        md.push_str(&t.render());
    }
    if !detail.conditions.is_empty() {
        md.push_str("\n### Conditions\n\n");
        md.push_str(&conditions_table(&detail.conditions, &ctx));
    }
    if let Some(refused) = &events_refused {
        md.push_str(&format!("\n### Recent events\n\nNot shown: {refused}.\n"));
    } else if !detail.events.is_empty() {
        md.push_str("\n### Recent events\n\n");
        md.push_str(&events_table(&ctx, &detail.events));
    }
    Ok((md, detail))
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct HealthRow {
    kind: String,
    namespace: String,
    #[serde(flatten)]
    summary: Summary,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct HealthSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    totals: Summary,
    rows: Vec<HealthRow>,
    /// Failing objects, oldest failure first.
    failures: Vec<FluxItem>,
    failures_omitted: usize,
    not_installed: Vec<String>,
    /// Kinds left out: the caller may not list them in the namespace asked about.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forbidden: Vec<String>,
}

/// The Flux objects the health summaries count, and the kinds they leave out.
pub struct HealthObjects {
    /// Kustomizations, HelmReleases and sources, by kind, each sorted by namespace and name.
    pub by_kind: Vec<(Kind, Vec<Arc<DynamicObject>>)>,
    /// Kinds whose CRD is not installed.
    pub not_installed: Vec<String>,
    /// Kinds the caller may not list in the namespace asked about.
    pub forbidden: Vec<String>,
}

pub async fn health_objects(ctx: &ToolContext, ns: Option<&str>) -> Result<HealthObjects, ToolError> {
    let mut by_kind = Vec::new();
    let mut not_installed = Vec::new();
    let mut refusals = Refusals::default();
    for kind in [kinds::KUSTOMIZATION, kinds::HELMRELEASE].into_iter().chain(kinds::SOURCES) {
        match objects(ctx, kind, ns).await {
            Ok(objs) => by_kind.push((kind, objs)),
            Err(e) if e.is_not_installed() => not_installed.push(kind.kind.to_string()),
            Err(e) => refusals.skip(kind.kind, e)?,
        }
    }
    let forbidden = refusals.finish(!by_kind.is_empty())?;
    Ok(HealthObjects { by_kind, not_installed, forbidden })
}

async fn flux_health_summary(ctx: Arc<ToolContext>, args: NamespaceArgs) -> Result<(String, HealthSummary), ToolError> {
    ctx.check_namespace("namespace", args.namespace.as_deref())?;
    let mut rows = Vec::new();
    let mut all = Vec::new();
    let HealthObjects { by_kind, not_installed, forbidden } = health_objects(&ctx, args.namespace.as_deref()).await?;
    for (kind, objs) in by_kind {
        // Objects come sorted by namespace: one row per run of a namespace.
        let mut start = 0;
        while start < objs.len() {
            let ns = objs[start].metadata.namespace.clone().unwrap_or_default();
            let end = objs[start..]
                .iter()
                .position(|o| o.metadata.namespace.as_deref().unwrap_or_default() != ns)
                .map_or(objs.len(), |n| start + n);
            let states: Vec<State> = objs[start..end].iter().map(|o| object::quick_state(o).0).collect();
            rows.push(HealthRow { kind: kind.kind.into(), namespace: ns, summary: Summary::of(states.iter()) });
            start = end;
        }
        all.extend(objs);
    }
    let states = rank(&all);
    let totals = Summary::of(states.iter().map(|s| &s.0));
    let mut failing: Vec<_> = states.into_iter().filter(|s| s.0.is_failing()).collect();
    failing.sort_by(|a, b| {
        a.1.cmp(&b.1).then_with(|| {
            (&a.2.metadata.namespace, &a.2.metadata.name).cmp(&(&b.2.metadata.namespace, &b.2.metadata.name))
        })
    });
    let cap = super::DEFAULT_PAGE as usize;
    let omitted = failing.len().saturating_sub(cap);
    let failures: Vec<FluxItem> = failing.into_iter().take(cap).map(|s| flux_item(s.2)).collect();
    let mut md = format!(
        "## Flux health {}\n\n{} Flux objects: {}.\n\n",
        scope_phrase(&ctx, args.namespace.as_deref()),
        totals.total,
        totals.line()
    );
    let mut t = Table::new(&["Kind", "Namespace", "Total", "Ready", "Failed", "Stalled", "Progressing", "Suspended"]);
    for r in &rows {
        let s = &r.summary;
        let mut row = vec![r.kind.clone(), r.namespace.clone()];
        row.extend(s.cells());
        t.row(row);
    }
    if !rows.is_empty() {
        md.push_str(&t.render());
    }
    if !failures.is_empty() {
        md.push_str("\n### Failures, oldest first\n\n");
        md.push_str(&flux_table(&ctx, &failures, true));
        if omitted > 0 {
            md.push_str(&format!("\n{omitted} more failures not shown.\n"));
        }
    }
    md.push_str(&not_installed_note(&not_installed));
    md.push_str(&refused_note(&forbidden, args.namespace.as_deref()));
    Ok((
        md,
        HealthSummary {
            namespace: args.namespace,
            totals,
            rows,
            failures,
            failures_omitted: omitted,
            not_installed,
            forbidden,
        },
    ))
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct DebugArgs {
    /// `kustomization`, `helmrelease`, `gitrepository` (or another source kind).
    pub resource_type: String,
    pub name: String,
    pub namespace: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Debugged {
    #[serde(flatten)]
    item: FluxItem,
    conditions: Vec<Condition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_status: Option<FluxItem>,
    depends_on: Vec<Dependency>,
    events: Vec<EventRow>,
    /// Likely causes and next steps, most important first.
    diagnosis: Vec<String>,
}

fn diagnose(item: &FluxItem, conds: &[Condition], source: Option<&FluxItem>, deps: &[Dependency]) -> Vec<String> {
    let mut out = Vec::new();
    let has = |t: &str, s: &str| conds.iter().any(|c| c.type_ == t && c.status == s);
    if item.state == State::Suspended {
        out.push(format!(
            "Reconciliation is suspended: Flux will not apply changes to this {} until it is resumed.",
            item.kind
        ));
    }
    for d in deps.iter().filter(|d| d.state != Some(State::Ready)) {
        let st = d.state.map_or("missing", State::as_str);
        out.push(format!(
            "Waits for dependency {}/{} which is {st}{}: fix that one first.",
            d.namespace,
            d.name,
            if d.message.is_empty() { String::new() } else { format!(" ({})", d.message) }
        ));
    }
    if let Some(src) = source
        && src.state != State::Ready
    {
        out.push(format!(
            "Its source {}/{}/{} is {}: {}",
            src.kind,
            src.namespace,
            src.name,
            src.state.as_str(),
            if src.message.is_empty() { "no message" } else { &src.message }
        ));
    }
    let reason = item.reason.as_str();
    let msg = item.message.to_lowercase();
    let hint = match reason {
        "BuildFailed" => Some(
            "`kustomize build` failed on the source revision: check the path and kustomization.yaml in that commit (a missing directory or bad patch is typical).",
        ),
        "HealthCheckFailed" => Some(
            "The objects were applied but did not become healthy in time: look at the workloads named in the message (their pods and events).",
        ),
        "DependencyNotReady" => Some("A dependency is not ready; this object will retry once it is."),
        "ArtifactFailed" => Some("The source artifact could not be fetched from the source-controller."),
        "ReconciliationFailed" | "ApplyFailed" => {
            Some("Applying the manifests failed: the message names the object the API server refused.")
        }
        "InstallFailed" | "UpgradeFailed" => Some(
            "The Helm action failed: check the release's pods and events in the target namespace (a timeout usually means pods never became ready).",
        ),
        "RetriesExceeded" => Some("Helm remediation retries are exhausted."),
        "GitOperationFailed" if msg.contains("authentication") || msg.contains("auth") => Some(
            "Git authentication failed: the credentials in the GitRepository's secretRef are missing, wrong or expired.",
        ),
        "GitOperationFailed" => {
            Some("Fetching from Git failed: check the URL, the ref and network access from source-controller.")
        }
        "ChartPullFailed" | "ChartNotFound" => Some("The chart or version could not be fetched from its repository."),
        _ => None,
    };
    if let Some(h) = hint {
        out.push(h.to_string());
    }
    if item.state == State::Stalled || has("Stalled", "True") {
        out.push("The controller has stopped retrying (Stalled): after fixing the cause, trigger a reconcile (or change the spec).".into());
    }
    if let (Some(applied), Some(attempted)) = (&item.revision, &item.attempted_revision) {
        out.push(format!("Revision {attempted} failed; the cluster still runs {applied}."));
    }
    if item.kind == "GitRepository" && item.state.is_failing() && has("ArtifactInStorage", "True") {
        out.push("It still serves its last good artifact, so new commits are not being picked up.".into());
    }
    if out.is_empty() && item.state == State::Ready {
        out.push(format!("The {} is ready; nothing to debug.", item.kind));
    }
    if out.is_empty() {
        out.push("No known cause: read the conditions and events below.".into());
    }
    out
}

async fn debug_reconciliation(ctx: Arc<ToolContext>, args: DebugArgs) -> Result<(String, Debugged), ToolError> {
    let kind = super::flux_kind("resource_type", &args.resource_type)?;
    validate::name("name", &args.name)?;
    ctx.check_namespace("namespace", Some(&args.namespace))?;
    let obj = one(&ctx, kind, &args.namespace, &args.name).await?;
    let item = flux_item(&obj);
    let conditions = object::conditions(&obj);
    let source = if kind.is_source() { None } else { source_of(&ctx, &obj).await };
    let depends_on = if kind.is_source() { vec![] } else { dependencies(&ctx, kind, &obj).await? };
    let (events, events_refused) = recent_events(&ctx, &args.namespace, kind.kind, &args.name).await?;
    let diagnosis = diagnose(&item, &conditions, source.as_ref(), &depends_on);
    let mut md = format!(
        "## Debugging {} `{}/{}`\n\n{}\n### Diagnosis\n\n",
        kind.kind,
        args.namespace,
        args.name,
        state_line(&item)
    );
    for d in &diagnosis {
        md.push_str(&format!("- {d}\n"));
    }
    if let Some(rev) = &item.revision {
        md.push_str(&format!("\nApplied revision: {rev}\n"));
    }
    if let Some(src) = &source {
        md.push_str(&format!("\n### Source {}/{}/{}\n\n{}", src.kind, src.namespace, src.name, state_line(src)));
        if let Some(r) = &src.revision {
            md.push_str(&format!("Artifact: {r}\n"));
        }
    }
    if !conditions.is_empty() {
        md.push_str("\n### Conditions\n\n");
        md.push_str(&conditions_table(&conditions, &ctx));
    }
    md.push_str("\n### Recent events\n\n");
    if let Some(refused) = &events_refused {
        md.push_str(&format!("Not shown: {refused}.\n"));
    } else if events.is_empty() {
        md.push_str("No events (the API server may have expired them).\n");
    } else {
        md.push_str(&events_table(&ctx, &events));
    }
    Ok((md, Debugged { item, conditions, source_status: source, depends_on, events, diagnosis }))
}
