//! `reconcile`, `suspend`, `resume`: the only tools that write, offered only when the agent is
//! not read-only (the registry hides and refuses them otherwise).

use std::sync::Arc;

use gitops_agent_api::tools::ToolName;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::flux::one;
use super::{ToolContext, flux_item};
use crate::interact::Change;
use crate::kinds::Kind;
use crate::registry::{Hints, Tool, ToolError};
use crate::validate;

/// Field manager of the agent's writes, so `kubectl` and Flux can tell who changed what.
pub const FIELD_MANAGER: &str = "gitops-agent";
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct TargetArgs {
    /// `Kustomization`, `HelmRelease`, `GitRepository`, `OCIRepository`, `HelmRepository`,
    /// `HelmChart` or `Bucket` (any case).
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Changed {
    kind: String,
    namespace: String,
    name: String,
    action: String,
    suspended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_at: Option<String>,
}

#[derive(Clone, Copy)]
enum Action {
    Reconcile,
    Suspend,
    Resume,
}

pub fn tools() -> Vec<Tool> {
    let reconcile = Hints { read_only: false, destructive: false, idempotent: false, open_world: false };
    let toggle = Hints { read_only: false, destructive: false, idempotent: true, open_world: false };
    vec![
        Tool::new(
            ToolName::Reconcile,
            "Request a Flux reconciliation",
            "Ask Flux to reconcile a Kustomization, HelmRelease or source now, by setting the reconcile.fluxcd.io/requestedAt annotation (what `flux reconcile` does).",
            reconcile,
            |ctx, args| act(ctx, args, Action::Reconcile),
        )
        .confirmed(|ctx, args| describe(ctx, args, Action::Reconcile)),
        Tool::new(
            ToolName::Suspend,
            "Suspend a Flux object",
            "Suspend reconciliation of a Kustomization, HelmRelease or source (spec.suspend: true), as `flux suspend` does.",
            toggle,
            |ctx, args| act(ctx, args, Action::Suspend),
        )
        .confirmed(|ctx, args| describe(ctx, args, Action::Suspend)),
        Tool::new(
            ToolName::Resume,
            "Resume a Flux object",
            "Resume reconciliation of a suspended Kustomization, HelmRelease or source (spec.suspend: false) and request a reconciliation, as `flux resume` does.",
            toggle,
            |ctx, args| act(ctx, args, Action::Resume),
        )
        .confirmed(|ctx, args| describe(ctx, args, Action::Resume)),
    ]
}

/// The object a change is for: its kind, checked arguments, and that it exists (and the caller
/// may read it).
async fn target(ctx: &ToolContext, args: &TargetArgs) -> Result<(Kind, Arc<DynamicObject>), ToolError> {
    let kind = super::flux_kind("kind", &args.kind)?;
    validate::name("name", &args.name)?;
    ctx.check_namespace("namespace", Some(&args.namespace))?;
    Ok((kind, one(ctx, kind, &args.namespace, &args.name).await?))
}

/// The change as the client is asked to confirm it: the object, where, what it is now and what
/// the change does.
async fn describe(ctx: Arc<ToolContext>, args: TargetArgs, action: Action) -> Result<Change, ToolError> {
    let (kind, obj) = target(&ctx, &args).await?;
    let item = flux_item(&obj);
    let verb = match action {
        Action::Reconcile => "Reconcile",
        Action::Suspend => "Suspend",
        Action::Resume => "Resume",
    };
    let now = if item.reason.is_empty() {
        format!("It is {} now", item.state.as_str())
    } else {
        format!("It is {} now ({})", item.state.as_str(), item.reason)
    };
    let applied = item.revision.as_deref().map(|r| format!(", at revision {r}")).unwrap_or_default();
    let effect = match action {
        Action::Reconcile => format!(
            "Sets the {REQUESTED_AT} annotation, so Flux reconciles it at once: it applies the current revision of its source and corrects drift. {now}{applied}."
        ),
        Action::Suspend => format!(
            "Sets spec.suspend: true, so Flux stops reconciling it: new revisions are not applied and drift is not corrected until it is resumed. {now}{applied}."
        ),
        Action::Resume => format!(
            "Sets spec.suspend: false and requests a reconciliation, so Flux applies the current revision of its source at once. {now}{applied}."
        ),
    };
    Ok(Change {
        action: format!("{verb} {} `{}/{}` on cluster `{}`", kind.kind, args.namespace, args.name, ctx.cluster),
        effect,
    })
}

async fn act(ctx: Arc<ToolContext>, args: TargetArgs, action: Action) -> Result<(String, Changed), ToolError> {
    let (kind, _) = target(&ctx, &args).await?;
    let resource = ctx.cache.resource(kind)?;
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client(), &args.namespace, &resource);
    let now = ctx.now().to_string();
    let (patch, verb) = match action {
        Action::Reconcile => (json!({"metadata": {"annotations": {REQUESTED_AT: now}}}), "reconcile"),
        Action::Suspend => (json!({"spec": {"suspend": true}}), "suspend"),
        Action::Resume => {
            (json!({"spec": {"suspend": false}, "metadata": {"annotations": {REQUESTED_AT: now}}}), "resume")
        }
    };
    let updated = api
        .patch(
            &args.name,
            &PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() },
            &Patch::Merge(&patch),
        )
        .await?;
    let suspended = updated.data.pointer("/spec/suspend").and_then(serde_json::Value::as_bool).unwrap_or(false);
    let requested_at = updated.metadata.annotations.as_ref().and_then(|a| a.get(REQUESTED_AT)).cloned();
    let what = format!("{} `{}/{}`", kind.kind, args.namespace, args.name);
    let md = match action {
        Action::Reconcile => format!(
            "Requested reconciliation of {what} at {now}. Flux picks it up within seconds; check it with debug_reconciliation.\n"
        ),
        Action::Suspend => format!("Suspended {what}: Flux will not reconcile it until it is resumed.\n"),
        Action::Resume => format!("Resumed {what} and requested a reconciliation at {now}.\n"),
    };
    Ok((
        md,
        Changed {
            kind: kind.kind.into(),
            namespace: args.namespace,
            name: args.name,
            action: verb.into(),
            suspended,
            requested_at,
        },
    ))
}
