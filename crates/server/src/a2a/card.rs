//! The agent card (A2A 1.0, with the 0.3 fields older clients read), the predecessor's card, and
//! the help reply that lists the skills.

use std::collections::BTreeSet;

use gitops_agent_api::tools::ToolName;
use serde_json::{Map, Value, json};

use super::extended::ClusterView;
use super::routing::{self, Offered, skill_id};
use crate::registry::Registry;

pub const NAME: &str = "gitops-agent";
const DESCRIPTION: &str = "Answers questions about a Kubernetes cluster's Flux CD GitOps state: Kustomizations, \
HelmReleases, sources, Cluster API clusters, events, pod logs (redacted) and policy violations. Send a text \
question, or a data part {\"skill\": \"<id>\", \"arguments\": {...}}.";
/// The card's extension that carries each skill's argument schema (A2A skills have no field for it).
pub const SCHEMA_EXTENSION: &str = "https://gitops-agent.dev/a2a/extensions/skill-arguments/v1";
/// The extended card's extension that lists the clusters its caller may see.
pub const CLUSTERS_EXTENSION: &str = "https://gitops-agent.dev/a2a/extensions/clusters/v1";
/// How the agent signs its push notifications, and where its key is.
pub const PUSH_SIGNATURE_EXTENSION: &str = "https://gitops-agent.dev/a2a/extensions/push-signature/v1";

fn tags(tool: ToolName) -> Vec<&'static str> {
    let s = tool.as_str();
    let mut tags = vec!["gitops", "kubernetes"];
    for (word, tag) in [
        ("kustomization", "flux"),
        ("helmrelease", "flux"),
        ("gitrepositor", "flux"),
        ("source", "flux"),
        ("flux", "flux"),
        ("gitops", "flux"),
        ("reconcil", "flux"),
        ("cluster", "cluster-api"),
        ("machine", "cluster-api"),
        ("polic", "policy"),
        ("constraint", "policy"),
        ("event", "troubleshooting"),
        ("log", "troubleshooting"),
        ("debug", "troubleshooting"),
        ("trace", "troubleshooting"),
        ("inventory", "flux"),
        ("context", "kubeconfig"),
    ] {
        if s.contains(word) && !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags.push(if tool.is_mutating() { "writes" } else { "read-only" });
    tags
}

fn skills(registry: &Registry, with_schema: bool) -> Vec<Value> {
    registry
        .offered()
        .map(|t| {
            let mut examples = vec![];
            if let Some(q) = routing::example(t.name) {
                examples.push(q.to_string());
            }
            examples.push(json!({"skill": skill_id(t.name), "arguments": {}}).to_string());
            let mut skill = json!({
                "id": skill_id(t.name),
                "name": t.title,
                "description": t.description,
                "tags": tags(t.name),
                "examples": examples,
                "inputModes": ["text/plain", "application/json"],
                "outputModes": ["text/markdown", "application/json"],
            });
            if with_schema {
                skill["inputSchema"] = Value::Object((*t.input_schema).clone());
            }
            skill
        })
        .collect()
}

/// `/.well-known/agent-card.json`: exactly the A2A 1.0 card (validators reject unknown fields);
/// its JSON-RPC interface also answers 0.3 method names, listed as a 0.3 interface.
pub fn agent_card(registry: &Registry, base_url: &str, features: Features) -> Value {
    let Features { bearer, push } = features;
    let base = base_url.trim_end_matches('/');
    let schemas: Map<String, Value> =
        registry.offered().map(|t| (skill_id(t.name), Value::Object((*t.input_schema).clone()))).collect();
    let mut card = json!({
        "name": NAME,
        "description": DESCRIPTION,
        "version": env!("CARGO_PKG_VERSION"),
        "provider": {"organization": "gitops-agent", "url": "https://github.com/gitops-agent/gitops-agent"},
        "supportedInterfaces": [
            {"url": base, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": base, "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
            {"url": base, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
        ],
        "capabilities": {
            "streaming": true,
            "pushNotifications": push,
            "extendedAgentCard": bearer,
            "extensions": [{
                "uri": SCHEMA_EXTENSION,
                "description": "JSON Schema of each skill's arguments, by skill id: what a data part's `arguments` must match",
                "required": false,
                "params": {"skills": schemas},
            }],
        },
        "defaultInputModes": ["text/plain", "application/json"],
        "defaultOutputModes": ["text/markdown", "application/json"],
        "skills": skills(registry, false),
    });
    if push && let Some(extensions) = card["capabilities"]["extensions"].as_array_mut() {
        extensions.push(push_signature(base));
    }
    if bearer {
        card["securitySchemes"] = json!({SCHEME: {"httpAuthSecurityScheme": {
            "scheme": "Bearer", "bearerFormat": "JWT", "description": BEARER_DESCRIPTION}}});
        card["securityRequirements"] = json!([{"schemes": {SCHEME: {"list": []}}}]);
    }
    card
}

/// The authenticated extended card: the public card (A2A 1.0, or the 0.3 card for `v03`) with
/// only the skills in `usable`, and an extension listing the clusters the caller may see with the
/// skills usable on each (the skills take a `cluster` argument).
pub fn extended_card(
    registry: &Registry,
    base_url: &str,
    v03: bool,
    push: bool,
    usable: &BTreeSet<ToolName>,
    clusters: &[ClusterView],
) -> Value {
    let features = Features { bearer: true, push };
    let mut card =
        if v03 { predecessor_card(registry, base_url, features) } else { agent_card(registry, base_url, features) };
    let ids: BTreeSet<String> = usable.iter().map(|t| skill_id(*t)).collect();
    if let Some(skills) = card["skills"].as_array_mut() {
        skills.retain(|s| s["id"].as_str().is_some_and(|id| ids.contains(id)));
    }
    let entry = json!({
        "uri": CLUSTERS_EXTENSION,
        "description": "The clusters this caller may see, each with the skills its RBAC allows there (`default` is the one a skill without a `cluster` argument asks), or the error that kept the cluster from being checked",
        "required": false,
        "params": {"clusters": clusters.iter().map(ClusterView::json).collect::<Vec<_>>()},
    });
    let capabilities = &mut card["capabilities"];
    match capabilities["extensions"].as_array_mut() {
        Some(extensions) => {
            for e in extensions.iter_mut() {
                if let Some(schemas) = e["params"]["skills"].as_object_mut() {
                    schemas.retain(|id, _| ids.contains(id));
                }
            }
            extensions.push(entry);
        }
        None => capabilities["extensions"] = json!([entry]),
    }
    card
}

/// What a deployment offers that the cards declare.
#[derive(Debug, Clone, Copy, Default)]
pub struct Features {
    /// Callers send a bearer token (`--auth=kubernetes`).
    pub bearer: bool,
    /// Push notifications (`--a2a-push`).
    pub push: bool,
}

/// Where a webhook receiver finds the key that signs the agent's notifications.
fn push_signature(base: &str) -> Value {
    json!({
        "uri": PUSH_SIGNATURE_EXTENSION,
        "description": "Push notifications carry `Authorization: Bearer <JWT>` (ES256) unless the config names credentials for that header: verify it with the key in jwksUrl (by `kid`), check `aud` is the webhook URL, `iat`/`exp`, and that `request_body_sha256` is the hex SHA-256 of the body received",
        "required": false,
        "params": {"jwksUrl": format!("{}/.well-known/jwks.json", base.trim_end_matches('/')), "alg": "ES256"},
    })
}

/// The name of the bearer scheme in the cards.
const SCHEME: &str = "kubernetes";
const BEARER_DESCRIPTION: &str = "A token the cluster's API server accepts (a ServiceAccount token from `kubectl create token`, or an OIDC token of the cluster's issuer); every call runs with the caller's own RBAC.";

/// `/.well-known/agent.json`, `/agent.json` and `agent/info`: the predecessor's card, whose
/// skills carried their input schema; with `preferredTransport`/`protocolVersion` it is also the
/// card A2A 0.3 clients expect (they read `url`).
pub fn predecessor_card(registry: &Registry, base_url: &str, features: Features) -> Value {
    let Features { bearer, push } = features;
    let mut card = json!({
        "name": NAME,
        "description": DESCRIPTION,
        "url": base_url,
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": {"streaming": true, "pushNotifications": push, "stateTransitionHistory": true},
        "supportsAuthenticatedExtendedCard": bearer,
        "defaultInputModes": ["text/plain", "application/json"],
        "defaultOutputModes": ["text/markdown", "application/json"],
        "skills": skills(registry, true),
    });
    if push {
        card["capabilities"]["extensions"] = json!([push_signature(base_url)]);
    }
    if bearer {
        card["securitySchemes"] = json!({SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": BEARER_DESCRIPTION}});
        card["security"] = json!([{SCHEME: []}]);
    }
    card
}

/// The reply to a question no skill matched: why, the skills, and an example data part.
pub fn help(reason: &str, offered: &[Offered]) -> (String, Value) {
    let mut md = format!(
        "{reason}\n\nAsk about one of these skills, in words or with a data part:\n\n| skill | example question |\n|---|---|\n"
    );
    let mut skills = vec![];
    for o in offered {
        let example = routing::example(o.tool).unwrap_or("");
        md.push_str(&format!("| `{}` | {} |\n", skill_id(o.tool), example));
        skills.push(json!({"id": skill_id(o.tool), "example": example, "arguments": o.params, "required": o.required}));
    }
    let sample = json!({"skill": "get-kustomization", "arguments": {"name": "apps", "namespace": "flux-system"}});
    md.push_str(&format!(
        "\nExample data part: `{sample}` (arguments are the skill's parameters, as in the card's `{SCHEMA_EXTENSION}` extension).\n"
    ));
    (md, json!({"reason": reason, "skills": skills, "example": sample}))
}
