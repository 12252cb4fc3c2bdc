//! How a message picks a skill without a language model: an explicit DataPart
//! (`{"skill": .., "arguments": {..}}`, or the same in message metadata) names it; otherwise the
//! text is matched against fixed rules, and arguments are taken from it only where unambiguous.

use std::sync::LazyLock;

use gitops_agent_api::tools::ToolName;
use regex::Regex;
use serde_json::{Map, Value, json};

use super::error::A2aError;
use super::model::{Content, Message};
use crate::registry::Tool;

/// What a message asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Call {
        tool: ToolName,
        arguments: Map<String, Value>,
    },
    /// The skill is clear but required arguments are not: the task waits for them
    /// (`input-required`), and a follow-up message on the same task supplies them.
    NeedsInput {
        tool: ToolName,
        arguments: Map<String, Value>,
        missing: Vec<String>,
    },
    /// Unclear: answer with the skills and an example, saying why.
    Help {
        reason: String,
    },
}

/// A skill as routing sees it: the tool and the argument names its schema accepts.
pub struct Offered {
    pub tool: ToolName,
    pub params: Vec<String>,
    pub required: Vec<String>,
}

impl From<&Tool> for Offered {
    fn from(t: &Tool) -> Offered {
        Offered { tool: t.name, params: t.parameters(), required: t.required() }
    }
}

/// Skill ids are kebab-case tool names (`get-gitops-status`), as the predecessor published them.
pub fn skill_id(tool: ToolName) -> String {
    tool.as_str().replace('_', "-")
}

pub fn tool_of_skill(id: &str, offered: &[Offered]) -> Option<ToolName> {
    let snake = id.trim().to_ascii_lowercase().replace('-', "_");
    offered.iter().map(|o| o.tool).find(|t| t.as_str() == snake)
}

pub fn route(message: &Message, offered: &[Offered]) -> Result<Route, A2aError> {
    for (i, part) in message.parts.iter().enumerate() {
        if let Content::Data(Value::Object(data)) = &part.content
            && data.contains_key("skill")
        {
            return explicit(data, &format!("message.parts[{i}].data"), offered);
        }
    }
    if let Some(meta) = &message.metadata
        && meta.contains_key("skill")
    {
        return explicit(meta, "message.metadata", offered);
    }
    let text: Vec<&str> = message.texts().collect();
    if text.is_empty() {
        if message.parts.iter().any(|p| matches!(p.content, Content::File { .. })) {
            return Err(A2aError::ContentTypeNotSupported(
                "no skill reads files; send text, or a data part {\"skill\": .., \"arguments\": {..}}".into(),
            ));
        }
        return Ok(Route::Help { reason: "The message has no text and names no skill.".into() });
    }
    Ok(route_text(&text.join("\n"), offered))
}

fn explicit(data: &Map<String, Value>, field: &str, offered: &[Offered]) -> Result<Route, A2aError> {
    let Some(id) = data.get("skill").and_then(Value::as_str) else {
        return Err(A2aError::invalid(format!("{field}.skill"), "expected a skill id (string)"));
    };
    let Some(tool) = tool_of_skill(id, offered) else {
        let known: Vec<String> = offered.iter().map(|o| skill_id(o.tool)).collect();
        let why = match ToolName::ALL.iter().find(|t| skill_id(**t) == id.replace('_', "-")) {
            Some(t) if t.is_mutating() => "it changes the cluster and this agent is read-only".to_string(),
            Some(_) => "it is disabled on this agent".to_string(),
            None => format!("unknown skill {:?}", crate::validate::sanitize(id)),
        };
        return Err(A2aError::invalid(
            format!("{field}.skill"),
            format!("{why}; skills offered: {}", known.join(", ")),
        ));
    };
    let arguments = match data.get("arguments").or_else(|| data.get("input")) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(a)) => a.clone(),
        Some(_) => return Err(A2aError::invalid(format!("{field}.arguments"), "expected an object")),
    };
    Ok(Route::Call { tool, arguments })
}

/// One rule: any of `words` in the text selects `tool` (the first rule that matches wins, so
/// specific rules come first). `example` is a question the rule answers, shown on the card.
pub struct Rule {
    pub tool: ToolName,
    words: &'static [&'static str],
    /// All of these must appear as well (empty: none).
    with: &'static [&'static str],
    pub example: &'static str,
}

const FLUX_KINDS: &[&str] = &["kustomization", "helmrelease", "helm release", "gitrepositor", "git repositor"];

pub const RULES: &[Rule] = &[
    Rule {
        tool: ToolName::Reconcile,
        words: &["reconcile", "resync", "force sync", "sync now"],
        with: &[],
        example: "reconcile kustomization apps in flux-system",
    },
    Rule {
        tool: ToolName::Suspend,
        words: &["suspend", "pause "],
        with: &[],
        example: "suspend helmrelease podinfo in team-a",
    },
    Rule {
        tool: ToolName::Resume,
        words: &["resume", "unpause", "unsuspend"],
        with: &[],
        example: "resume helmrelease podinfo in team-a",
    },
    Rule {
        tool: ToolName::DebugReconciliation,
        words: &["why", "debug", "stuck", "troubleshoot", "diagnose", "what's wrong", "what is wrong"],
        with: FLUX_KINDS,
        example: "why is kustomization apps in flux-system failing?",
    },
    Rule {
        tool: ToolName::GetPodLogs,
        words: &["logs", "log of", "log for"],
        with: &[],
        example: "show the logs of pod podinfo-7d9f in team-a",
    },
    Rule {
        tool: ToolName::TraceObject,
        words: &["trace", "who deployed", "which kustomization manages", "managed by", "comes from", "come from"],
        with: &[],
        example: "trace deployment podinfo in team-a",
    },
    Rule {
        tool: ToolName::GetInventory,
        words: &["inventory", "objects managed", "resources managed", "what does"],
        with: &[],
        example: "inventory of kustomization apps in flux-system",
    },
    Rule {
        tool: ToolName::GetEvents,
        words: &["events", "event "],
        with: &[],
        example: "warning events in flux-system",
    },
    Rule {
        tool: ToolName::ListConstraints,
        words: &["constraint"],
        with: &[],
        example: "list the gatekeeper constraints",
    },
    Rule {
        tool: ToolName::CheckPolicyViolations,
        words: &["violation", "gatekeeper", "kyverno", "policy", "policies"],
        with: &[],
        example: "are there policy violations in team-a?",
    },
    Rule {
        tool: ToolName::ListMachines,
        words: &["machine"],
        with: &[],
        example: "list the machines of cluster prod-1",
    },
    Rule {
        tool: ToolName::GetClusterStatus,
        words: &["cluster api", "capi", "workload cluster", "clusters", "cluster status"],
        with: &[],
        example: "status of the workload clusters",
    },
    Rule {
        tool: ToolName::GetAppDeployments,
        words: &["app deployment", "kommander", "workspace", "apps deployed", "clusterapp"],
        with: &[],
        example: "which apps are deployed in workspace kommander",
    },
    Rule {
        tool: ToolName::GetCurrentContext,
        words: &["current context", "which context", "what context"],
        with: &[],
        example: "which context is the agent using?",
    },
    Rule { tool: ToolName::ListContexts, words: &["contexts"], with: &[], example: "list the kubeconfig contexts" },
    Rule {
        tool: ToolName::GetHelmrelease,
        words: &["helmrelease", "helm release"],
        with: &["$name"],
        example: "show helmrelease podinfo in team-a",
    },
    Rule {
        tool: ToolName::GetHelmreleases,
        words: &["helmrelease", "helm release", "helm chart", "releases"],
        with: &[],
        example: "which helm releases are failing?",
    },
    Rule {
        tool: ToolName::ListGitrepositories,
        words: &["gitrepositor", "git repositor", "git repo"],
        with: &[],
        example: "list the git repositories in flux-system",
    },
    Rule {
        tool: ToolName::ListSources,
        words: &["source", "ocirepositor", "helmrepositor", "bucket"],
        with: &[],
        example: "which sources are not ready?",
    },
    Rule {
        tool: ToolName::GetKustomization,
        words: &["kustomization"],
        with: &["$name"],
        example: "show kustomization apps in flux-system",
    },
    Rule {
        tool: ToolName::ListKustomizations,
        words: &["kustomization", " ks "],
        with: &[],
        example: "which kustomizations are failing in flux-system?",
    },
    Rule {
        tool: ToolName::FluxHealthSummary,
        words: &["health", "what's broken", "what is broken", "anything broken", "anything failing"],
        with: &[],
        example: "flux health summary",
    },
    Rule {
        tool: ToolName::GetGitopsStatus,
        words: &["status", "overview", "summary", "state of", "gitops", "flux"],
        with: &[],
        example: "what is the gitops status of the cluster?",
    },
];

/// Words that look like names but are not.
const STOP: &[&str] = &[
    "a",
    "an",
    "the",
    "all",
    "any",
    "every",
    "each",
    "my",
    "our",
    "this",
    "that",
    "these",
    "those",
    "which",
    "what",
    "is",
    "are",
    "was",
    "in",
    "of",
    "for",
    "on",
    "from",
    "to",
    "and",
    "or",
    "with",
    "it",
    "its",
    "cluster",
    "clusters",
    "namespace",
    "namespaces",
    "flux",
    "gitops",
    "kubernetes",
    "k8s",
    "failing",
    "failed",
    "broken",
    "ready",
    "not",
    "suspended",
    "healthy",
    "unhealthy",
    "status",
    "named",
    "called",
    "kustomization",
    "kustomizations",
    "helmrelease",
    "helmreleases",
    "release",
    "releases",
    "pod",
    "pods",
    "there",
    "why",
    "logs",
    "events",
    "warning",
    "warnings",
    "deployment",
    "deployments",
    "state",
    "right",
    "now",
    "today",
    "please",
    "me",
    "show",
    "list",
    "get",
    "trace",
    "inventory",
    "source",
    "sources",
    "repository",
    "repositories",
    "gitrepository",
    "gitrepositories",
    "object",
    "objects",
    "resource",
    "resources",
    "error",
    "errors",
    "stuck",
    "summary",
    "health",
    "reconcile",
    "suspend",
    "resume",
    "be",
    "been",
    "has",
    "have",
    "do",
    "does",
    "so",
    "up",
    "by",
    "at",
    "as",
    "if",
    "currently",
    "still",
];

fn is_name(s: &str) -> bool {
    let s = s.trim_matches(|c: char| c == '.' || c == '-');
    !s.is_empty()
        && s.len() <= 253
        && !STOP.contains(&s)
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

static NS_SLASH_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([a-z0-9][-a-z0-9]*)/([a-z0-9][-a-z0-9.]*[a-z0-9])\b").expect("regex"));
static NAMESPACE_AFTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:namespace|-n)\s+[`'\x22]?([a-z0-9][-a-z0-9]*)").expect("regex"));
static NAMESPACE_BEFORE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([a-z0-9][-a-z0-9]*)\s+namespace\b").expect("regex"));
static IN_WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bin\s+[`'\x22]?([a-z0-9][-a-z0-9]*)").expect("regex"));
static NAME_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:kustomization|helmrelease|helm release|gitrepository|git repository|pod|deployment|statefulset|daemonset|service|configmap|release|named|called|cluster|app)\s+[`'\x22]?([a-z0-9][-a-z0-9.]*[a-z0-9]|[a-z0-9])\b")
        .expect("regex")
});

#[derive(Debug, Default, PartialEq)]
struct Extracted {
    namespace: Option<String>,
    name: Option<String>,
    status: Option<&'static str>,
    flux_kind: Option<&'static str>,
    object_kind: Option<&'static str>,
    warnings: bool,
}

fn extract(text: &str) -> Extracted {
    let mut x = Extracted::default();
    if let Some(c) = NS_SLASH_NAME.captures(text)
        && is_name(&c[1])
        && is_name(&c[2])
    {
        x.namespace = Some(c[1].to_string());
        x.name = Some(c[2].to_string());
    }
    if x.namespace.is_none() {
        x.namespace = [&*NAMESPACE_AFTER, &*NAMESPACE_BEFORE, &*IN_WORD]
            .iter()
            .flat_map(|re| re.captures_iter(text).map(|c| c[1].to_string()).collect::<Vec<_>>())
            .find(|ns| is_name(ns) && ns.len() <= 63);
    }
    if x.name.is_none() {
        x.name = NAME_AFTER
            .captures_iter(text)
            .map(|c| c[1].to_string())
            .find(|n| is_name(n) && Some(n) != x.namespace.as_ref());
    }
    let has = |w: &str| text.contains(w);
    x.status = if ["not ready", "failing", "failed", "broken", "unhealthy", "erroring", "error"].iter().any(|w| has(w))
    {
        Some("failed")
    } else if ["suspended", "paused"].iter().any(|w| has(w)) {
        Some("suspended")
    } else if ["stalled"].iter().any(|w| has(w)) {
        Some("stalled")
    } else if [" ready", "healthy", "succeeded"].iter().any(|w| has(w)) {
        Some("ready")
    } else {
        None
    };
    x.flux_kind = if has("helmrelease") || has("helm release") {
        Some("helmrelease")
    } else if has("gitrepositor") || has("git repositor") {
        Some("gitrepository")
    } else if has("kustomization") {
        Some("kustomization")
    } else {
        None
    };
    x.object_kind = [
        ("deployment", "Deployment"),
        ("statefulset", "StatefulSet"),
        ("daemonset", "DaemonSet"),
        ("service", "Service"),
        ("configmap", "ConfigMap"),
        ("pod", "Pod"),
        ("helmrelease", "HelmRelease"),
        ("kustomization", "Kustomization"),
    ]
    .iter()
    .find(|(w, _)| has(w))
    .map(|(_, k)| *k);
    x.warnings = has("warning");
    x
}

fn matches(rule: &Rule, text: &str, x: &Extracted) -> bool {
    let padded = format!(" {text} ");
    rule.words.iter().any(|w| padded.contains(w))
        && rule.with.iter().all(|w| match *w {
            "$name" => x.name.is_some(),
            _ => true,
        })
        && (rule.with.is_empty() || rule.with == ["$name"] || rule.with.iter().any(|w| padded.contains(w)))
}

fn route_text(text: &str, offered: &[Offered]) -> Route {
    let text = text.to_lowercase();
    let x = extract(&text);
    let mentioned = offered.iter().find(|o| {
        let id = skill_id(o.tool);
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .any(|w| w == o.tool.as_str() || w == id)
    });
    let chosen = match mentioned {
        Some(o) => Some(o),
        None => RULES.iter().filter(|r| matches(r, &text, &x)).find_map(|r| offered.iter().find(|o| o.tool == r.tool)),
    };
    let Some(o) = chosen else {
        return Route::Help { reason: "I could not tell which skill the question is for.".into() };
    };
    complete(o, Map::new(), &x)
}

/// The arguments the text gives for `o`, on top of `known`; what is still missing makes the
/// route wait for input.
fn complete(o: &Offered, known: Map<String, Value>, x: &Extracted) -> Route {
    let mut args = known;
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value
            && o.params.iter().any(|p| p == key)
        {
            args.insert(key.to_string(), v);
        }
    };
    put("namespace", x.namespace.clone().map(Value::from));
    if matches!(
        o.tool,
        ToolName::ListKustomizations
            | ToolName::ListGitrepositories
            | ToolName::GetHelmreleases
            | ToolName::ListSources
    ) {
        put("status_filter", x.status.map(Value::from));
    }
    match o.tool {
        ToolName::GetPodLogs => put("pod_name", x.name.clone().map(Value::from)),
        ToolName::GetEvents => {
            put("event_type", x.warnings.then(|| json!("Warning")));
            put("resource_name", x.name.clone().map(Value::from));
        }
        ToolName::GetClusterStatus | ToolName::ListMachines => put("cluster_name", x.name.clone().map(Value::from)),
        ToolName::GetAppDeployments => put("app_name", x.name.clone().map(Value::from)),
        ToolName::DebugReconciliation | ToolName::GetInventory => {
            put("resource_type", x.flux_kind.map(Value::from));
            put("name", x.name.clone().map(Value::from));
        }
        ToolName::TraceObject | ToolName::Reconcile | ToolName::Suspend | ToolName::Resume => {
            put("kind", x.object_kind.map(Value::from));
            put("name", x.name.clone().map(Value::from));
        }
        _ => put("name", x.name.clone().map(Value::from)),
    }
    let missing: Vec<String> = o.required.iter().filter(|r| !args.contains_key(*r)).cloned().collect();
    if missing.is_empty() {
        Route::Call { tool: o.tool, arguments: args }
    } else {
        Route::NeedsInput { tool: o.tool, arguments: args, missing }
    }
}

/// A follow-up on a task waiting for input: a data part naming a skill starts over; a data part
/// of arguments, or text, adds to what the skill already has.
pub fn follow_up(
    message: &Message,
    tool: ToolName,
    known: Map<String, Value>,
    offered: &[Offered],
) -> Result<Route, A2aError> {
    let Some(o) = offered.iter().find(|o| o.tool == tool) else {
        return route(message, offered);
    };
    let mut known = known;
    for (i, part) in message.parts.iter().enumerate() {
        if let Content::Data(Value::Object(data)) = &part.content {
            if data.contains_key("skill") {
                return explicit(data, &format!("message.parts[{i}].data"), offered);
            }
            let args = data.get("arguments").and_then(Value::as_object).unwrap_or(data);
            known.extend(args.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let text = message.texts().collect::<Vec<_>>().join("\n").to_lowercase();
    // A bare answer ("apps in flux-system", "team-a") names things without the usual cue words.
    let x = extract(&format!("{} {text}", tool.as_str().replace('_', " ")));
    let mut x = x;
    if x.name.is_none() {
        x.name = text
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-'))
            .find(|w| is_name(w) && Some(*w) != x.namespace.as_deref())
            .map(String::from);
    }
    Ok(complete(o, known, &x))
}

/// The example question for a skill (shown on the agent card).
pub fn example(tool: ToolName) -> Option<&'static str> {
    RULES.iter().find(|r| r.tool == tool).map(|r| r.example)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::a2a::model::Part;

    fn offered(read_only: bool) -> Vec<Offered> {
        crate::tools::all().iter().filter(|t| !(read_only && t.name.is_mutating())).map(Offered::from).collect()
    }

    fn msg(parts: Vec<Part>) -> Message {
        Message::user(parts)
    }

    fn ask(q: &str) -> Route {
        route(&msg(vec![Part::text(q)]), &offered(true)).expect("routes")
    }

    #[test]
    fn natural_questions_pick_a_skill_and_its_arguments() {
        let table: &[(&str, ToolName, Value)] = &[
            (
                "which kustomizations are failing in flux-system",
                ToolName::ListKustomizations,
                json!({"namespace": "flux-system", "status_filter": "failed"}),
            ),
            ("List all Kustomizations", ToolName::ListKustomizations, json!({})),
            (
                "which kustomizations are suspended?",
                ToolName::ListKustomizations,
                json!({"status_filter": "suspended"}),
            ),
            (
                "show kustomization apps in flux-system",
                ToolName::GetKustomization,
                json!({"name": "apps", "namespace": "flux-system"}),
            ),
            (
                "what about flux-system/infra kustomization",
                ToolName::GetKustomization,
                json!({"name": "infra", "namespace": "flux-system"}),
            ),
            (
                "why is kustomization apps in flux-system failing?",
                ToolName::DebugReconciliation,
                json!({"resource_type": "kustomization", "name": "apps", "namespace": "flux-system"}),
            ),
            (
                "debug helmrelease podinfo in namespace team-a",
                ToolName::DebugReconciliation,
                json!({"resource_type": "helmrelease", "name": "podinfo", "namespace": "team-a"}),
            ),
            ("which helm releases are failing?", ToolName::GetHelmreleases, json!({"status_filter": "failed"})),
            (
                "show helmrelease podinfo in team-a",
                ToolName::GetHelmrelease,
                json!({"name": "podinfo", "namespace": "team-a"}),
            ),
            (
                "list the git repositories in the flux-system namespace",
                ToolName::ListGitrepositories,
                json!({"namespace": "flux-system"}),
            ),
            ("which sources are not ready?", ToolName::ListSources, json!({"status_filter": "failed"})),
            (
                "warning events in flux-system",
                ToolName::GetEvents,
                json!({"namespace": "flux-system", "event_type": "Warning"}),
            ),
            (
                "show the logs of pod podinfo-7d9f in team-a",
                ToolName::GetPodLogs,
                json!({"pod_name": "podinfo-7d9f", "namespace": "team-a"}),
            ),
            ("are there policy violations in team-a?", ToolName::CheckPolicyViolations, json!({"namespace": "team-a"})),
            ("list the machines of cluster prod-1", ToolName::ListMachines, json!({"cluster_name": "prod-1"})),
            (
                "trace deployment podinfo in team-a",
                ToolName::TraceObject,
                json!({"kind": "Deployment", "name": "podinfo", "namespace": "team-a"}),
            ),
            ("what is the gitops status of the cluster?", ToolName::GetGitopsStatus, json!({})),
            ("flux health summary for team-a namespace", ToolName::FluxHealthSummary, json!({"namespace": "team-a"})),
            ("which context is the agent using?", ToolName::GetCurrentContext, json!({})),
            ("call list_sources please", ToolName::ListSources, json!({})),
            ("run get-gitops-status", ToolName::GetGitopsStatus, json!({})),
        ];
        for (q, tool, args) in table {
            assert_eq!(
                ask(q),
                Route::Call { tool: *tool, arguments: args.as_object().cloned().unwrap_or_default() },
                "{q}"
            );
        }
    }

    #[test]
    fn unclear_or_incomplete_questions_get_the_help_reply() {
        for q in ["hello", "what's the weather like?", "tell me a joke", "", "?"] {
            assert!(matches!(ask(q), Route::Help { .. }), "{q}: {:?}", ask(q));
        }
        for q in ["debug helmrelease podinfo", "logs please", "why is the kustomization failing"] {
            assert!(matches!(ask(q), Route::NeedsInput { .. }), "{q}: {:?}", ask(q));
        }
        let Route::NeedsInput { tool, missing, .. } = ask("show me the logs") else { panic!("input") };
        assert_eq!((tool, missing), (ToolName::GetPodLogs, vec!["pod_name".to_string(), "namespace".to_string()]));
    }

    #[test]
    fn follow_ups_fill_in_the_missing_arguments() {
        let all = offered(true);
        let Route::NeedsInput { tool, arguments, .. } = ask("why is the kustomization failing?") else {
            panic!("input")
        };
        let r = follow_up(&msg(vec![Part::text("apps in flux-system")]), tool, arguments, &all).expect("routes");
        assert_eq!(
            r,
            Route::Call {
                tool: ToolName::DebugReconciliation,
                arguments: json!({"resource_type": "kustomization", "name": "apps", "namespace": "flux-system"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            }
        );
        let Route::NeedsInput { tool, arguments, .. } = ask("show the logs of pod api-1") else { panic!("input") };
        let r =
            follow_up(&msg(vec![Part::data(json!({"namespace": "team-b"}))]), tool, arguments, &all).expect("routes");
        assert_eq!(
            r,
            Route::Call {
                tool: ToolName::GetPodLogs,
                arguments: json!({"pod_name": "api-1", "namespace": "team-b"}).as_object().cloned().unwrap_or_default()
            }
        );
    }

    #[test]
    fn read_only_agents_never_route_text_to_mutating_skills() {
        assert!(!matches!(
            ask("reconcile kustomization apps in flux-system"),
            Route::Call { tool: ToolName::Reconcile, .. }
        ));
        let writable = offered(false);
        let r =
            route(&msg(vec![Part::text("reconcile kustomization apps in flux-system")]), &writable).expect("routes");
        assert_eq!(
            r,
            Route::Call {
                tool: ToolName::Reconcile,
                arguments: json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            }
        );
    }

    #[test]
    fn data_parts_name_the_skill_and_its_arguments() {
        let data = Part::data(json!({"skill": "list-kustomizations", "arguments": {"namespace": "x"}}));
        let r = route(&msg(vec![Part::text("ignored"), data]), &offered(true)).expect("routes");
        assert_eq!(
            r,
            Route::Call {
                tool: ToolName::ListKustomizations,
                arguments: json!({"namespace": "x"}).as_object().cloned().unwrap_or_default()
            }
        );
        let snake = Part::data(json!({"skill": "get_gitops_status"}));
        assert!(matches!(
            route(&msg(vec![snake]), &offered(true)),
            Ok(Route::Call { tool: ToolName::GetGitopsStatus, .. })
        ));
        let mut m = msg(vec![Part::text("do it")]);
        m.metadata = json!({"skill": "list-sources", "arguments": {"kind": "Bucket"}}).as_object().cloned();
        assert!(matches!(route(&m, &offered(true)), Ok(Route::Call { tool: ToolName::ListSources, .. })));
        for (data, field, words) in [
            (json!({"skill": "make-coffee"}), "message.parts[0].data.skill", "unknown skill"),
            (json!({"skill": "reconcile"}), "message.parts[0].data.skill", "read-only"),
            (json!({"skill": 7}), "message.parts[0].data.skill", "expected a skill id"),
            (
                json!({"skill": "list-sources", "arguments": [1]}),
                "message.parts[0].data.arguments",
                "expected an object",
            ),
        ] {
            let err = route(&msg(vec![Part::data(data)]), &offered(true)).expect_err("refused");
            let A2aError::InvalidParams { field: f, reason } = &err else { panic!("{err:?}") };
            assert_eq!(f, field);
            assert!(reason.contains(words), "{reason}");
        }
    }

    #[test]
    fn every_rule_example_routes_to_its_own_skill() {
        let all = offered(false);
        for rule in RULES {
            let r = route(&msg(vec![Part::text(rule.example)]), &all).expect("routes");
            assert!(matches!(&r, Route::Call { tool, .. } if *tool == rule.tool), "{}: {r:?}", rule.example);
        }
    }
}
