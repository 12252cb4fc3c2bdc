//! `fleet_health_summary`: failing and suspended Flux objects across every cluster of the fleet,
//! worst first. Each cluster is asked at once and given at most the per-cluster timeout, so a
//! slow or dead cluster is reported as such and never holds up the answer for the others.

use std::sync::Arc;
use std::time::Instant;

use gitops_agent_api::tools::ToolName;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::flux::{HealthObjects, health_objects};
use super::{FluxItem, Summary, ToolContext, flux_item};
use crate::cache::CacheError;
use crate::fleet::Reach;
use crate::interact::{self, Level};
use crate::markdown::{self, Table};
use crate::object::{self, State};
use crate::registry::{Hints, Tool, ToolError};

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct FleetArgs {
    /// Only this namespace, in every cluster (default: every namespace in scope).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Most problems listed, worst first (default 50).
    #[serde(default = "super::default_limit")]
    pub limit: u32,
}

/// How one cluster is doing.
#[derive(Serialize, JsonSchema, Debug)]
#[serde(rename_all = "camelCase")]
struct ClusterHealth {
    cluster: String,
    /// Whether it answered within the per-cluster timeout (a cluster that answered but where the
    /// caller may not read is reachable, with the refusal as `error`).
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    totals: Option<Summary>,
    /// Flux kinds whose CRDs are not installed there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_installed: Vec<String>,
    /// Flux kinds left out there: the caller may not list them in the namespace asked about.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forbidden: Vec<String>,
    /// How long its answer took.
    milliseconds: u64,
}

/// A failing or suspended Flux object, and where.
#[derive(Serialize, JsonSchema, Debug)]
#[serde(rename_all = "camelCase")]
struct Problem {
    cluster: String,
    #[serde(flatten)]
    item: FluxItem,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct FleetHealth {
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    /// Every cluster, worst first: unreachable, then by failing and suspended objects.
    clusters: Vec<ClusterHealth>,
    /// Failing objects (oldest failure first), then suspended ones, across clusters.
    problems: Vec<Problem>,
    problems_omitted: usize,
}

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::FleetHealthSummary,
            "Fleet health summary",
            "Flux health across every cluster this agent answers for (see list_contexts): per cluster, counts of ready, failed, stalled, progressing and suspended Kustomizations, HelmReleases and sources; then the failing objects across the fleet (oldest failure first) and the suspended ones, each with its cluster. A cluster that does not answer within the per-cluster timeout is reported as unreachable, without delaying the others.",
            Hints::READ,
            fleet_health_summary,
        )
        .fleet_wide(),
    ]
}

/// One cluster's Flux objects, ranked: (state, since, item).
type Ranked = Vec<(State, Option<String>, FluxItem)>;

/// One cluster's counts, its failing and suspended objects ranked, and the kinds left out.
struct Found {
    totals: Summary,
    ranked: Ranked,
    not_installed: Vec<String>,
    forbidden: Vec<String>,
}

async fn cluster_health(ctx: &ToolContext, ns: Option<&str>) -> Result<Found, ToolError> {
    let mut ranked = Vec::new();
    let mut states = Vec::new();
    let HealthObjects { by_kind, not_installed, forbidden } = health_objects(ctx, ns).await?;
    for (_, objs) in by_kind {
        for o in &objs {
            let (state, since) = object::quick_state(o);
            states.push(state);
            if state.is_failing() || state == State::Suspended {
                ranked.push((state, since.map(str::to_string), flux_item(o)));
            }
        }
    }
    Ok(Found { totals: Summary::of(states.iter()), ranked, not_installed, forbidden })
}

async fn fleet_health_summary(ctx: Arc<ToolContext>, args: FleetArgs) -> Result<(String, FleetHealth), ToolError> {
    crate::validate::optional_namespace("namespace", args.namespace.as_deref())?;
    let limit = crate::validate::within("limit", args.limit, 1, ctx.limits.max_page)?;
    let timeout = ctx.fleet.timeout();
    let ns = args.namespace.as_deref();
    let members = ctx.fleet.members();
    let count = members.len() as f64;
    let asks = members.into_iter().map(|member| {
        let ctx = ctx.clone();
        async move {
            let started = Instant::now();
            let name = member.name.clone();
            // Err((whether the cluster answered, why there are no counts)).
            let answer = match member.reach() {
                // Known to be down: said at once, without waiting for it.
                Reach::Unreachable(why) | Reach::Connecting(why) => Err((false, why)),
                Reach::Reachable => match ctx.on(Some(&name)) {
                    Err(e) => Err((false, e.to_string())),
                    Ok(on) => match tokio::time::timeout(timeout, cluster_health(&on, ns)).await {
                        Ok(Ok(found)) => Ok(found),
                        // The caller may not read there, or the cache is over its bound: it answered.
                        Ok(Err(e @ (ToolError::Auth(_) | ToolError::Cache(CacheError::OverBudget { .. })))) => {
                            Err((true, e.to_string()))
                        }
                        Ok(Err(e)) => Err((false, e.to_string())),
                        Err(_) => Err((
                            false,
                            format!("no answer within {} s (the per-cluster timeout)", timeout.as_secs_f64()),
                        )),
                    },
                },
            };
            if let Err((_, why)) = &answer {
                interact::log(Level::Warning, "fleet_health_summary", &format!("cluster {name}: {why}")).await;
            }
            interact::advance(Some(count), &format!("cluster {name} answered")).await;
            (name, answer, started.elapsed().as_millis() as u64)
        }
    });
    let answers = futures::future::join_all(asks).await;
    let mut clusters = Vec::new();
    let mut problems: Vec<(State, Option<String>, Problem)> = Vec::new();
    for (cluster, answer, milliseconds) in answers {
        match answer {
            Ok(Found { totals, ranked, not_installed, forbidden }) => {
                problems.extend(
                    ranked.into_iter().map(|(s, since, item)| (s, since, Problem { cluster: cluster.clone(), item })),
                );
                clusters.push(ClusterHealth {
                    cluster,
                    reachable: true,
                    error: None,
                    totals: Some(totals),
                    not_installed,
                    forbidden,
                    milliseconds,
                });
            }
            Err((reachable, error)) => clusters.push(ClusterHealth {
                cluster,
                reachable,
                error: Some(error),
                totals: None,
                not_installed: vec![],
                forbidden: vec![],
                milliseconds,
            }),
        }
    }
    let badness = |c: &ClusterHealth| match &c.totals {
        None => (0, usize::MAX, usize::MAX),
        Some(t) => (1, usize::MAX - (t.failed + t.stalled), usize::MAX - t.suspended),
    };
    clusters.sort_by(|a, b| badness(a).cmp(&badness(b)).then_with(|| a.cluster.cmp(&b.cluster)));
    // Failing before suspended; failures oldest first; then by place.
    problems.sort_by(|a, b| {
        a.0.is_failing()
            .cmp(&b.0.is_failing())
            .reverse()
            .then_with(|| if a.0.is_failing() { a.1.cmp(&b.1) } else { std::cmp::Ordering::Equal })
            .then_with(|| {
                (&a.2.cluster, &a.2.item.namespace, &a.2.item.kind, &a.2.item.name).cmp(&(
                    &b.2.cluster,
                    &b.2.item.namespace,
                    &b.2.item.kind,
                    &b.2.item.name,
                ))
            })
    });
    let omitted = problems.len().saturating_sub(limit as usize);
    let problems: Vec<Problem> = problems.into_iter().take(limit as usize).map(|p| p.2).collect();
    let md = render(&ctx, &clusters, &problems, omitted, ns);
    Ok((md, FleetHealth { namespace: args.namespace, clusters, problems, problems_omitted: omitted }))
}

fn render(
    ctx: &ToolContext,
    clusters: &[ClusterHealth],
    problems: &[Problem],
    omitted: usize,
    ns: Option<&str>,
) -> String {
    let down = clusters.iter().filter(|c| !c.reachable).count();
    let scope = ns.map(|n| format!(" in namespace `{n}`")).unwrap_or_default();
    let mut md = format!(
        "## Fleet health{scope}\n\n{} cluster(s), {} unreachable, {} failing and suspended object(s).\n\n",
        clusters.len(),
        down,
        problems.len() + omitted
    );
    let mut t =
        Table::new(&["Cluster", "Reachable", "Total", "Ready", "Failed", "Stalled", "Progressing", "Suspended"]);
    for c in clusters {
        let mut row = vec![c.cluster.clone()];
        match (&c.totals, &c.error) {
            (Some(s), _) => {
                row.push("yes".into());
                row.extend(s.cells());
            }
            (None, why) => {
                let why = markdown::clip(why.as_deref().unwrap_or_default(), 120);
                row.push(if c.reachable { format!("yes, but: {why}") } else { format!("no: {why}") });
                row.extend(std::iter::repeat_n(String::new(), 6));
            }
        }
        t.row(row);
    }
    md.push_str(&t.render());
    for c in clusters.iter().filter(|c| !c.forbidden.is_empty()) {
        md.push_str(&format!(
            "\nNot counted on `{}`: your access there does not allow listing {}{scope}.\n",
            c.cluster,
            c.forbidden.join(", ")
        ));
    }
    if !problems.is_empty() {
        let now = ctx.now();
        md.push_str("\n### Problems, worst first\n\n");
        let mut p = Table::new(&["Cluster", "State", "Kind", "Namespace", "Name", "Since", "Message"]);
        for x in problems {
            let i = &x.item;
            p.row(vec![
                x.cluster.clone(),
                i.state.as_str().to_string(),
                i.kind.clone(),
                i.namespace.clone(),
                i.name.clone(),
                markdown::age(now, i.since.as_deref()),
                markdown::clip(&i.message, 160),
            ]);
        }
        md.push_str(&p.render());
        if omitted > 0 {
            md.push_str(&format!("\n{omitted} more not shown (raise `limit`).\n"));
        }
    }
    md
}
