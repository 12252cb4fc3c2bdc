//! Policy tools: Gatekeeper constraints and their violations, Kyverno policy reports.

use std::sync::Arc;

use gitops_agent_api::tools::ToolName;
use kube::ResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ToolContext;
use super::flux::objects;
use crate::kinds;
use crate::markdown::{self, Table};
use crate::object;
use crate::registry::{Hints, Tool, ToolError};

/// Which policy engine to read.
#[derive(Deserialize, JsonSchema, Default, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PolicyEngine {
    Gatekeeper,
    Kyverno,
    #[default]
    Both,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct ViolationArgs {
    /// `gatekeeper`, `kyverno` or `both` (default).
    #[serde(default)]
    pub policy_engine: PolicyEngine,
    /// Only violations by objects in this namespace.
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Serialize, JsonSchema, Clone)]
#[serde(rename_all = "camelCase")]
struct Violation {
    engine: String,
    /// Constraint (`Kind/name`) or Kyverno policy/rule.
    policy: String,
    /// `deny`, `dryrun`, `warn`, `Enforce`, `Audit`, or the report's result.
    action: String,
    /// `Kind namespace/name` of the violating object.
    resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    message: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ViolationsAnswer {
    violations: Vec<Violation>,
    /// Violations left out of `violations` (capped).
    omitted: usize,
    /// Total violations each constraint reports (Gatekeeper audits cap the list it stores).
    gatekeeper_total: i64,
    not_installed: Vec<String>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConstraintArgs {
    /// Only constraints of this kind (e.g. `K8sRequiredLabels`).
    #[serde(default)]
    pub constraint_kind: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct TemplateRow {
    name: String,
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    constraints: Vec<ConstraintRow>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ConstraintRow {
    kind: String,
    name: String,
    enforcement_action: String,
    total_violations: i64,
    /// Kinds the constraint matches.
    match_kinds: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
struct ConstraintsAnswer {
    templates: Vec<TemplateRow>,
}

const MAX_VIOLATIONS: usize = 200;

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::CheckPolicyViolations,
            "Check policy violations",
            "List policy violations: Gatekeeper constraints' audit violations and failing Kyverno PolicyReport results (wgpolicyk8s.io), optionally for one engine or namespace.",
            Hints::READ,
            check_policy_violations,
        ),
        Tool::new(
            ToolName::ListConstraints,
            "List Gatekeeper constraints",
            "List Gatekeeper ConstraintTemplates and their constraints with enforcement action, matched kinds and violation counts; optionally one constraint kind.",
            Hints::READ,
            list_constraints,
        ),
    ]
}

async fn gatekeeper(ctx: &ToolContext, ns: Option<&str>, out: &mut Vec<Violation>) -> Result<(i64, bool), ToolError> {
    if !ctx.cache.serves_group(kinds::CONSTRAINTS_GROUP) {
        return Ok((0, false));
    }
    let mut total = 0;
    for (resource, objs) in ctx.list_group(kinds::CONSTRAINTS_GROUP).await? {
        for c in objs {
            total += object::i64_at(&c, &["status", "totalViolations"]).unwrap_or(0);
            let default_action = object::str_at(&c, &["spec", "enforcementAction"]).unwrap_or("deny").to_string();
            let Some(list) = object::at(&c, &["status", "violations"]).and_then(Value::as_array) else { continue };
            for v in list {
                let f = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                let vns = v.get("namespace").and_then(Value::as_str).map(str::to_string);
                if ns.is_some_and(|ns| vns.as_deref() != Some(ns)) || !ctx.in_scope(vns.as_deref()) {
                    continue;
                }
                let resource_name = match &vns {
                    Some(n) => format!("{} {n}/{}", f("kind"), f("name")),
                    None => format!("{} {}", f("kind"), f("name")),
                };
                out.push(Violation {
                    engine: "gatekeeper".into(),
                    policy: format!("{}/{}", resource.kind, c.name_any()),
                    action: v
                        .get("enforcementAction")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| default_action.clone()),
                    resource: resource_name,
                    namespace: vns,
                    message: f("message"),
                });
            }
        }
    }
    Ok((total, true))
}

async fn kyverno(ctx: &ToolContext, ns: Option<&str>, out: &mut Vec<Violation>) -> Result<bool, ToolError> {
    let mut any = false;
    for kind in [kinds::POLICY_REPORT, kinds::CLUSTER_POLICY_REPORT] {
        let reports = match objects(ctx, kind, if kind == kinds::POLICY_REPORT { ns } else { None }).await {
            Ok(r) => r,
            Err(e) if e.is_not_installed() => continue,
            Err(e) => return Err(e),
        };
        any = true;
        for report in reports {
            let Some(results) = object::at(&report, &["results"]).and_then(Value::as_array) else { continue };
            for r in results {
                let result = r.get("result").and_then(Value::as_str).unwrap_or_default();
                if !matches!(result, "fail" | "error" | "warn") {
                    continue;
                }
                let f = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                let resources = r.get("resources").and_then(Value::as_array).cloned().unwrap_or_default();
                for res in resources.iter().take(20) {
                    let g = |k: &str| res.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                    let rns =
                        res.get("namespace").and_then(Value::as_str).map(str::to_string).or_else(|| report.namespace());
                    if ns.is_some_and(|ns| rns.as_deref() != Some(ns)) {
                        continue;
                    }
                    out.push(Violation {
                        engine: "kyverno".into(),
                        policy: format!("{}/{}", f("policy"), f("rule")),
                        action: result.into(),
                        resource: match &rns {
                            Some(n) => format!("{} {n}/{}", g("kind"), g("name")),
                            None => format!("{} {}", g("kind"), g("name")),
                        },
                        namespace: rns,
                        message: f("message"),
                    });
                }
            }
        }
    }
    Ok(any)
}

async fn check_policy_violations(
    ctx: Arc<ToolContext>,
    args: ViolationArgs,
) -> Result<(String, ViolationsAnswer), ToolError> {
    ctx.check_namespace("namespace", args.namespace.as_deref())?;
    let ns = args.namespace.as_deref();
    let mut violations = Vec::new();
    let mut not_installed = Vec::new();
    let mut gatekeeper_total = 0;
    if matches!(args.policy_engine, PolicyEngine::Gatekeeper | PolicyEngine::Both) {
        let (total, served) = gatekeeper(&ctx, ns, &mut violations).await?;
        gatekeeper_total = total;
        if !served {
            not_installed.push("Gatekeeper (constraints.gatekeeper.sh)".to_string());
        }
    }
    if matches!(args.policy_engine, PolicyEngine::Kyverno | PolicyEngine::Both)
        && !kyverno(&ctx, ns, &mut violations).await?
    {
        not_installed.push("Kyverno policy reports (wgpolicyk8s.io/v1alpha2)".to_string());
    }
    let asked = match args.policy_engine {
        PolicyEngine::Gatekeeper => 1,
        PolicyEngine::Kyverno => 1,
        PolicyEngine::Both => 2,
    };
    if not_installed.len() == asked {
        return Err(ToolError::NotFound(format!(
            "no policy engine found on this cluster: {} not installed",
            not_installed.join(" and ")
        )));
    }
    violations.sort_by(|a, b| (&a.namespace, &a.resource, &a.policy).cmp(&(&b.namespace, &b.resource, &b.policy)));
    let omitted = violations.len().saturating_sub(MAX_VIOLATIONS);
    violations.truncate(MAX_VIOLATIONS);
    let scope = ns.map(|n| format!(" in `{n}`")).unwrap_or_default();
    let mut md = format!("## Policy violations{scope}\n\n{} violation(s)", violations.len() + omitted);
    if gatekeeper_total > 0 && ns.is_none() {
        md.push_str(&format!("; Gatekeeper audit counts {gatekeeper_total} in all"));
    }
    md.push_str(".\n\n");
    if !violations.is_empty() {
        let mut t = Table::new(&["Engine", "Policy", "Action", "Resource", "Message"]);
        for v in &violations {
            t.row(vec![
                v.engine.clone(),
                v.policy.clone(),
                v.action.clone(),
                v.resource.clone(),
                markdown::clip(&v.message, 200),
            ]);
        }
        md.push_str(&t.render());
    }
    if omitted > 0 {
        md.push_str(&format!("\n{omitted} more violations not shown: narrow by namespace.\n"));
    }
    md.push_str(&super::not_installed_note(&not_installed));
    Ok((md, ViolationsAnswer { violations, omitted, gatekeeper_total, not_installed }))
}

async fn list_constraints(
    ctx: Arc<ToolContext>,
    args: ConstraintArgs,
) -> Result<(String, ConstraintsAnswer), ToolError> {
    if let Some(k) = &args.constraint_kind
        && (k.is_empty() || k.len() > 63 || !k.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(ToolError::InvalidArgument {
            param: "constraint_kind".into(),
            reason: format!(
                "{:?} is not a kind name (letters and digits, e.g. K8sRequiredLabels)",
                crate::validate::sanitize(k)
            ),
        });
    }
    let templates = objects(&ctx, kinds::CONSTRAINT_TEMPLATE, None).await?;
    let constraints = ctx.list_group(kinds::CONSTRAINTS_GROUP).await?;
    let mut rows = Vec::new();
    for t in templates {
        let kind = object::str_at(&t, &["spec", "crd", "spec", "names", "kind"]).unwrap_or_default().to_string();
        if args.constraint_kind.as_deref().is_some_and(|k| !k.eq_ignore_ascii_case(&kind)) {
            continue;
        }
        let list = constraints
            .iter()
            .filter(|(r, _)| r.kind == kind)
            .flat_map(|(_, objs)| objs.iter())
            .map(|c| ConstraintRow {
                kind: kind.clone(),
                name: c.name_any(),
                enforcement_action: object::str_at(c, &["spec", "enforcementAction"]).unwrap_or("deny").into(),
                total_violations: object::i64_at(c, &["status", "totalViolations"]).unwrap_or(0),
                match_kinds: object::at(c, &["spec", "match", "kinds"])
                    .and_then(Value::as_array)
                    .map(|ks| {
                        ks.iter()
                            .flat_map(|k| k.get("kinds").and_then(Value::as_array).cloned().unwrap_or_default())
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        rows.push(TemplateRow {
            name: t.name_any(),
            title: t.annotations().get("metadata.gatekeeper.sh/title").cloned(),
            kind,
            constraints: list,
        });
    }
    if let (Some(k), true) = (&args.constraint_kind, rows.is_empty()) {
        return Err(ToolError::NotFound(format!("no ConstraintTemplate defines kind {k:?}")));
    }
    let count: usize = rows.iter().map(|r| r.constraints.len()).sum();
    let mut md = format!("## Gatekeeper constraints\n\n{} template(s), {count} constraint(s).\n\n", rows.len());
    let mut t = Table::new(&["Template", "Kind", "Constraint", "Action", "Matches", "Violations"]);
    for r in &rows {
        if r.constraints.is_empty() {
            t.row(vec![r.name.clone(), r.kind.clone(), "(none)".into(), String::new(), String::new(), String::new()]);
        }
        for c in &r.constraints {
            t.row(vec![
                r.name.clone(),
                r.kind.clone(),
                c.name.clone(),
                c.enforcement_action.clone(),
                c.match_kinds.join(", "),
                c.total_violations.to_string(),
            ]);
        }
    }
    if !rows.is_empty() {
        md.push_str(&t.render());
    }
    Ok((md, ConstraintsAnswer { templates: rows }))
}
