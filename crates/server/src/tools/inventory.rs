//! `get_inventory` (what a Kustomization or HelmRelease manages, with live status) and
//! `trace_object` (which Flux object manages a given object, up to the root: `flux trace`).

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use gitops_agent_api::tools::ToolName;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::flux::one;
use super::{Page, ToolContext, default_limit, flux_item, page_note, paginate};
use crate::interact::{self, Level};
use crate::kinds::{self, Kind};
use crate::markdown::{self, Table};
use crate::object::{self, State};
use crate::registry::{Hints, Tool, ToolError};
use crate::validate;

/// Built-in kinds whose live status the tools read (what the agent's RBAC grants; never
/// Secrets or ConfigMaps). (group, version, kind, plural, namespaced)
const LIVE: [(&str, &str, &str, &str, bool); 8] = [
    ("apps", "v1", "Deployment", "deployments", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true),
    ("", "v1", "Service", "services", true),
    ("batch", "v1", "Job", "jobs", true),
    ("batch", "v1", "CronJob", "cronjobs", true),
    ("", "v1", "Pod", "pods", true),
    ("", "v1", "Namespace", "namespaces", false),
];

fn live_resource(group: &str, kind: &str) -> Option<(ApiResource, bool)> {
    LIVE.iter().find(|(g, _, k, _, _)| *g == group && k.eq_ignore_ascii_case(kind)).map(|(g, v, k, p, namespaced)| {
        (ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(g, v, k), p), *namespaced)
    })
}

/// The built-in kinds trace_object reads live (besides the Flux kinds).
pub fn live_kinds() -> impl Iterator<Item = &'static str> {
    LIVE.iter().map(|l| l.2)
}

/// A built-in kind trace_object reads live, by its name (any case): its resource and whether it is namespaced.
pub fn live_by_kind(kind: &str) -> Option<(ApiResource, bool)> {
    LIVE.iter().find(|(_, _, k, _, _)| k.eq_ignore_ascii_case(kind)).and_then(|(g, _, k, _, _)| live_resource(g, k))
}

/// Live state of a built-in object, kstatus-style: (state, detail).
fn live_state(obj: &DynamicObject) -> (String, String) {
    let kind = obj.types.as_ref().map(|t| t.kind.as_str()).unwrap_or_default();
    let i = |p: &[&str]| object::i64_at(obj, p).unwrap_or(0);
    let ratio = |ready: i64, want: i64| {
        let state = if ready >= want { "ready" } else { "not ready" };
        (state.to_string(), format!("{ready}/{want} ready"))
    };
    match kind {
        "Deployment" => {
            ratio(i(&["status", "availableReplicas"]), object::i64_at(obj, &["spec", "replicas"]).unwrap_or(1))
        }
        "StatefulSet" => {
            ratio(i(&["status", "readyReplicas"]), object::i64_at(obj, &["spec", "replicas"]).unwrap_or(1))
        }
        "DaemonSet" => ratio(i(&["status", "numberReady"]), i(&["status", "desiredNumberScheduled"])),
        "Pod" => {
            let phase = object::str_at(obj, &["status", "phase"]).unwrap_or("Unknown").to_string();
            let waiting = object::at(obj, &["status", "containerStatuses"]).and_then(Value::as_array).and_then(|cs| {
                cs.iter().find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str).map(str::to_string))
            });
            let ready = object::condition(obj, "Ready").is_some_and(|c| c.status == "True");
            match waiting {
                Some(w) => ("not ready".into(), format!("{phase}, {w}")),
                None if ready || phase == "Succeeded" => ("ready".into(), phase),
                None => ("not ready".into(), phase),
            }
        }
        "Job" => {
            if object::condition(obj, "Complete").is_some_and(|c| c.status == "True") {
                ("ready".into(), "complete".into())
            } else if let Some(f) = object::condition(obj, "Failed").filter(|c| c.status == "True") {
                ("failed".into(), f.message)
            } else {
                ("progressing".into(), "running".into())
            }
        }
        "Namespace" => {
            let phase = object::str_at(obj, &["status", "phase"]).unwrap_or("Active").to_string();
            (if phase == "Active" { "ready" } else { "not ready" }.into(), phase)
        }
        _ => ("exists".into(), String::new()),
    }
}

#[derive(Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ManagerType {
    Kustomization,
    Helmrelease,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct InventoryArgs {
    /// `kustomization` or `helmrelease`.
    pub resource_type: ManagerType,
    pub name: String,
    pub namespace: String,
    /// Rows per page (default 50, at most 500).
    #[serde(default = "default_limit")]
    pub limit: u32,
    #[serde(default)]
    pub offset: u32,
}

#[derive(Serialize, JsonSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct InventoryEntry {
    #[serde(skip_serializing_if = "String::is_empty")]
    namespace: String,
    name: String,
    group: String,
    kind: String,
    /// `ready`, `not ready`, `failed`, `progressing`, `suspended`, `stalled`, `exists`, `missing`, or
    /// `not checked` (a kind the agent may not read).
    status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    detail: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct InventoryAnswer {
    kind: String,
    namespace: String,
    name: String,
    /// Where the list comes from: Flux's status inventory, or Helm's labels on live objects.
    source: String,
    entries: Vec<InventoryEntry>,
    page: Page,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct TraceArgs {
    /// Kind of the object (e.g. `Deployment`, `Service`, `Pod`, `HelmRelease`, `Kustomization`).
    pub kind: String,
    pub name: String,
    /// Namespace (omit for cluster-scoped kinds such as Namespace).
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Serialize, JsonSchema, Clone)]
#[serde(rename_all = "camelCase")]
struct TraceStep {
    kind: String,
    namespace: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<State>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_state: Option<State>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_url: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct TraceAnswer {
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    name: String,
    status: String,
    /// Whether a Flux object manages it.
    managed: bool,
    /// The managing Flux objects, nearest first, up to the root Kustomization.
    chain: Vec<TraceStep>,
}

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::GetInventory,
            "Get a Flux inventory",
            "List the objects a Kustomization (from its status inventory) or a HelmRelease (from Helm's labels) manages, each with its live status; not-ready objects first. Paged with limit/offset.",
            Hints::READ,
            get_inventory,
        ),
        Tool::new(
            ToolName::TraceObject,
            "Trace an object to its Flux source",
            "Given a Kubernetes object (Deployment, Service, Pod, HelmRelease, …), find the Kustomization or HelmRelease that manages it from Flux's labels, then that one's source, revision and state, up to the root: the `flux trace` question. Never reads Secrets.",
            Hints::READ,
            trace_object,
        ),
    ]
}

/// Parses a Kustomization inventory id: `<namespace>_<name>_<group>_<Kind>`.
fn parse_id(id: &str) -> Option<(String, String, String, String)> {
    let parts: Vec<&str> = id.split('_').collect();
    if parts.len() != 4 {
        return None;
    }
    Some((parts[0].into(), parts[1].into(), parts[2].into(), parts[3].into()))
}

async fn live(ctx: &ToolContext, group: &str, kind: &str, ns: &str, name: &str) -> Result<(String, String), ToolError> {
    if let Some(flux) = kinds::CACHED.iter().find(|k| k.group == group && k.kind == kind) {
        return Ok(match ctx.get(*flux, ns, name).await {
            Ok(Some(o)) => {
                let i = flux_item(&o);
                (i.state.as_str().into(), i.message)
            }
            Ok(None) => ("missing".into(), String::new()),
            Err(e) => ("not checked".into(), e.to_string()),
        });
    }
    let Some((resource, namespaced)) = live_resource(group, kind) else {
        return Ok(("not checked".into(), String::new()));
    };
    if namespaced && !ctx.in_scope(Some(ns)) {
        return Ok(("not checked".into(), "outside the agent's namespaces".into()));
    }
    let api: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(ctx.client(), ns, &resource)
    } else {
        Api::all_with(ctx.client(), &resource)
    };
    Ok(match api.get_opt(name).await {
        Ok(Some(o)) => live_state(&o),
        Ok(None) => ("missing".into(), String::new()),
        Err(kube::Error::Api(s)) if s.code == 403 => ("not checked".into(), "forbidden".into()),
        Err(e) => return Err(e.into()),
    })
}

fn rank(status: &str) -> u8 {
    match status {
        "missing" | "failed" | "stalled" | "not ready" => 0,
        "progressing" => 1,
        "suspended" => 2,
        "not checked" => 4,
        _ => 3,
    }
}

async fn get_inventory(ctx: Arc<ToolContext>, args: InventoryArgs) -> Result<(String, InventoryAnswer), ToolError> {
    validate::name("name", &args.name)?;
    ctx.check_namespace("namespace", Some(&args.namespace))?;
    let (kind, ids, source) = match args.resource_type {
        ManagerType::Kustomization => {
            let k = one(&ctx, kinds::KUSTOMIZATION, &args.namespace, &args.name).await?;
            let ids: Vec<(String, String, String, String)> = object::at(&k, &["status", "inventory", "entries"])
                .and_then(Value::as_array)
                .map(|es| es.iter().filter_map(|e| e.get("id").and_then(Value::as_str)).filter_map(parse_id).collect())
                .unwrap_or_default();
            (kinds::KUSTOMIZATION, ids, "status.inventory")
        }
        ManagerType::Helmrelease => {
            let hr = one(&ctx, kinds::HELMRELEASE, &args.namespace, &args.name).await?;
            let target = object::str_at(&hr, &["spec", "targetNamespace"])
                .or_else(|| object::str_at(&hr, &["status", "storageNamespace"]))
                .unwrap_or(&args.namespace)
                .to_string();
            (
                kinds::HELMRELEASE,
                helm_objects(&ctx, &target, &args.namespace, &args.name).await?,
                "helm.toolkit.fluxcd.io labels",
            )
        }
    };
    let total_ids = ids.len();
    let statuses: Vec<InventoryEntry> = futures::stream::iter(ids)
        .map(|(ns, name, group, k)| {
            let ctx = ctx.clone();
            async move {
                let (status, detail) = live(&ctx, &group, &k, &ns, &name).await?;
                Ok::<_, ToolError>(InventoryEntry { namespace: ns, name, group, kind: k, status, detail })
            }
        })
        .buffered(8)
        .try_collect()
        .await?;
    let mut entries = statuses;
    entries.sort_by(|a, b| {
        rank(&a.status)
            .cmp(&rank(&b.status))
            .then_with(|| (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name)))
    });
    let (entries, page) = paginate(&ctx, entries, args.offset, args.limit)?;
    let mut md = format!(
        "## Inventory of {} `{}/{}`\n\n{total_ids} object(s) from {source}.\n\n",
        kind.kind, args.namespace, args.name
    );
    if total_ids == 0 {
        md.push_str("Nothing applied yet (or nothing found).\n");
    } else {
        let mut t = Table::new(&["Status", "Kind", "Namespace", "Name", "Detail"]);
        for e in &entries {
            t.row(vec![
                e.status.clone(),
                e.kind.clone(),
                e.namespace.clone(),
                e.name.clone(),
                markdown::clip(&e.detail, 160),
            ]);
        }
        md.push_str(&t.render());
        md.push_str(&page_note(&page, "objects"));
    }
    Ok((
        md,
        InventoryAnswer {
            kind: kind.kind.into(),
            namespace: args.namespace,
            name: args.name,
            source: source.into(),
            entries,
            page,
        },
    ))
}

/// Objects Helm installed for a HelmRelease, found by the labels helm-controller sets.
async fn helm_objects(
    ctx: &ToolContext,
    target: &str,
    hr_ns: &str,
    hr_name: &str,
) -> Result<Vec<(String, String, String, String)>, ToolError> {
    let selector = format!("helm.toolkit.fluxcd.io/name={hr_name},helm.toolkit.fluxcd.io/namespace={hr_ns}");
    let mut out = Vec::new();
    for (group, _, kind, _, namespaced) in LIVE.iter().filter(|l| l.4 && l.2 != "Pod") {
        let Some((resource, _)) = live_resource(group, kind) else { continue };
        let _ = namespaced;
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client(), target, &resource);
        match api.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => out.extend(
                list.items.into_iter().map(|o| (target.to_string(), o.name_any(), group.to_string(), kind.to_string())),
            ),
            Err(kube::Error::Api(s)) if s.code == 403 || s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

fn step(obj: &DynamicObject, source: Option<&DynamicObject>) -> TraceStep {
    let i = flux_item(obj);
    let src = source.map(flux_item);
    TraceStep {
        kind: i.kind.clone(),
        namespace: i.namespace.clone(),
        name: i.name.clone(),
        state: Some(i.state),
        revision: i.revision.clone(),
        source: i.source.clone(),
        source_state: src.as_ref().map(|s| s.state),
        source_revision: src.and_then(|s| s.revision),
        source_url: source.and_then(|s| object::str_at(s, &["spec", "url"]).map(str::to_string)),
    }
}

async fn source_object(ctx: &ToolContext, obj: &DynamicObject) -> Option<Arc<DynamicObject>> {
    let (kind, ns, name) = object::source_ref(obj)?;
    let kind = Kind::flux_by_name(&kind)?;
    ctx.get(kind, &ns, &name).await.ok().flatten()
}

async fn trace_object(ctx: Arc<ToolContext>, args: TraceArgs) -> Result<(String, TraceAnswer), ToolError> {
    if args.kind.eq_ignore_ascii_case("secret") || args.kind.eq_ignore_ascii_case("secrets") {
        return Err(ToolError::InvalidArgument {
            param: "kind".into(),
            reason: "trace_object never reads Secrets".into(),
        });
    }
    validate::name("name", &args.name)?;
    ctx.check_namespace("namespace", args.namespace.as_deref())?;
    let ns = args.namespace.clone().unwrap_or_default();
    let mut via: Option<String> = None;
    // The object itself: a cached Flux kind, or a built-in kind read on demand.
    let (obj, status): (Arc<DynamicObject>, String) = if let Some(kind) = Kind::flux_by_name(&args.kind) {
        let o = one(&ctx, kind, &ns, &args.name).await?;
        let st = flux_item(&o).state.as_str().to_string();
        (o, st)
    } else if let Some((resource, namespaced)) = live_by_kind(&args.kind) {
        if namespaced && args.namespace.is_none() {
            return Err(ToolError::InvalidArgument {
                param: "namespace".into(),
                reason: format!("{} is namespaced: give its namespace", resource.kind),
            });
        }
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(ctx.client(), &ns, &resource)
        } else {
            Api::all_with(ctx.client(), &resource)
        };
        let Some(mut o) = api.get_opt(&args.name).await? else {
            return Err(ToolError::NotFound(format!(
                "{} {} not found",
                resource.kind,
                if ns.is_empty() { args.name.clone() } else { format!("{ns}/{}", args.name) }
            )));
        };
        // A pod carries no Flux labels: follow its owner to the Deployment (by the ReplicaSet's
        // name, which is the Deployment's plus the pod-template hash) or other workload.
        if resource.kind == "Pod"
            && object::managed_by(&o).is_none()
            && let Some(owner) = workload_of_pod(&ctx, &o, &ns).await?
        {
            via = Some(format!("Pod `{ns}/{}`, owned by", args.name));
            o = owner;
        }
        let st = live_state(&o);
        (Arc::new(o), if st.1.is_empty() { st.0 } else { format!("{} ({})", st.0, st.1) })
    } else {
        let supported: Vec<&str> = LIVE.iter().map(|l| l.2).chain(kinds::FLUX.iter().map(|k| k.kind)).collect();
        return Err(ToolError::InvalidArgument {
            param: "kind".into(),
            reason: format!(
                "{:?} is not a kind this agent can trace; supported: {}",
                validate::sanitize(&args.kind),
                supported.join(", ")
            ),
        });
    };
    let mut chain = Vec::new();
    let mut current = obj.clone();
    for _ in 0..10 {
        let Some((kind, mns, mname)) = object::managed_by(&current) else { break };
        let kind = if kind == "HelmRelease" { kinds::HELMRELEASE } else { kinds::KUSTOMIZATION };
        // The root Kustomization manages itself.
        if chain.iter().any(|s: &TraceStep| s.kind == kind.kind && s.namespace == mns && s.name == mname) {
            break;
        }
        let Ok(Some(manager)) = ctx.get(kind, &mns, &mname).await else {
            interact::log(
                Level::Warning,
                "trace_object",
                &format!("{} {mns}/{mname} manages it but cannot be read (missing, or not allowed)", kind.kind),
            )
            .await;
            chain.push(TraceStep {
                kind: kind.kind.into(),
                namespace: mns,
                name: mname,
                state: None,
                revision: None,
                source: None,
                source_state: None,
                source_revision: None,
                source_url: None,
            });
            break;
        };
        let src = source_object(&ctx, &manager).await;
        chain.push(step(&manager, src.as_deref()));
        interact::progress(chain.len() as f64, None, &format!("managed by {} {mns}/{mname}", kind.kind)).await;
        current = manager;
    }
    let traced_kind = obj.types.as_ref().map(|t| t.kind.clone()).unwrap_or_else(|| args.kind.clone());
    let display = object::display_name(&obj);
    let mut md = match &via {
        Some(v) => format!("## Trace of {v} {traced_kind} `{display}`\n\nStatus: {status}\n\n"),
        None => format!("## Trace of {traced_kind} `{display}`\n\nStatus: {status}\n\n"),
    };
    if chain.is_empty() {
        md.push_str(
            "Not managed by Flux: it carries no kustomize.toolkit.fluxcd.io or helm.toolkit.fluxcd.io labels.\n",
        );
    } else {
        let mut t =
            Table::new(&["Step", "Managed by", "State", "Revision", "Source", "Source state", "Source revision"]);
        for (n, s) in chain.iter().enumerate() {
            t.row(vec![
                (n + 1).to_string(),
                format!("{} {}/{}", s.kind, s.namespace, s.name),
                s.state.map_or("not found", State::as_str).into(),
                s.revision.as_deref().map(markdown::short_revision).unwrap_or_default(),
                match (&s.source, &s.source_url) {
                    (Some(src), Some(url)) => format!("{src} ({url})"),
                    (Some(src), None) => src.clone(),
                    _ => String::new(),
                },
                s.source_state.map(State::as_str).unwrap_or_default().into(),
                s.source_revision.as_deref().map(markdown::short_revision).unwrap_or_default(),
            ]);
        }
        md.push_str(&t.render());
    }
    Ok((
        md,
        TraceAnswer {
            kind: traced_kind,
            namespace: obj.namespace(),
            name: obj.name_any(),
            status,
            managed: !chain.is_empty(),
            chain,
        },
    ))
}

async fn workload_of_pod(ctx: &ToolContext, pod: &DynamicObject, ns: &str) -> Result<Option<DynamicObject>, ToolError> {
    let hash = pod.labels().get("pod-template-hash").cloned().unwrap_or_default();
    let Some(owner) = pod.owner_references().iter().find(|o| o.controller == Some(true)) else {
        // No owner recorded: a Deployment's pods are still named `<deployment>-<hash>-<suffix>`.
        let name = pod.name_any();
        let Some(deployment) =
            name.split_once(&format!("-{hash}-")).map(|(d, _)| d.to_string()).filter(|_| !hash.is_empty())
        else {
            return Ok(None);
        };
        let Some((resource, _)) = live_by_kind("Deployment") else { return Ok(None) };
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client(), ns, &resource);
        return Ok(api.get_opt(&deployment).await?);
    };
    let (kind, name) = match owner.kind.as_str() {
        "ReplicaSet" => match owner.name.strip_suffix(&format!("-{hash}")) {
            Some(d) if !hash.is_empty() => ("Deployment", d.to_string()),
            _ => return Ok(None),
        },
        "StatefulSet" | "DaemonSet" | "Job" => (owner.kind.as_str(), owner.name.clone()),
        _ => return Ok(None),
    };
    let Some((resource, _)) = live_by_kind(kind) else { return Ok(None) };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client(), ns, &resource);
    Ok(api.get_opt(&name).await?)
}

#[cfg(test)]
mod tests {
    use super::parse_id;

    #[test]
    fn inventory_ids_split_into_four_parts() {
        assert_eq!(
            parse_id("flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization"),
            Some(("flux-system".into(), "apps".into(), "kustomize.toolkit.fluxcd.io".into(), "Kustomization".into()))
        );
        assert_eq!(
            parse_id("_team-a__Namespace"),
            Some((String::new(), "team-a".into(), String::new(), "Namespace".into()))
        );
        assert_eq!(parse_id("garbage"), None);
    }
}
