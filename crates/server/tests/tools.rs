//! Every tool against the fixture cluster: exact markdown (golden files; `UPDATE_GOLDEN=1`
//! rewrites them) and structured content that validates against the tool's outputSchema.

mod common;

use std::collections::HashMap;

use serde_json::{Value, json};

/// (golden name, tool, arguments): each filter of each tool at least once.
fn cases() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("list_contexts", "list_contexts", json!({})),
        ("get_current_context", "get_current_context", json!({})),
        ("get_gitops_status", "get_gitops_status", json!({})),
        ("get_gitops_status_team-b", "get_gitops_status", json!({"namespace": "team-b"})),
        ("list_kustomizations", "list_kustomizations", json!({})),
        ("list_kustomizations_failed", "list_kustomizations", json!({"status_filter": "failed"})),
        ("list_kustomizations_suspended", "list_kustomizations", json!({"status_filter": "suspended"})),
        ("list_kustomizations_ready", "list_kustomizations", json!({"status_filter": "ready"})),
        (
            "list_kustomizations_page",
            "list_kustomizations",
            json!({"namespace": "flux-system", "limit": 3, "offset": 3}),
        ),
        ("get_kustomization", "get_kustomization", json!({"name": "team-b-apps", "namespace": "flux-system"})),
        ("get_kustomization_apps", "get_kustomization", json!({"name": "apps", "namespace": "flux-system"})),
        ("list_gitrepositories", "list_gitrepositories", json!({})),
        ("get_helmreleases", "get_helmreleases", json!({})),
        ("get_helmreleases_failed", "get_helmreleases", json!({"status_filter": "failed"})),
        ("get_helmreleases_monitoring", "get_helmreleases", json!({"namespace": "monitoring"})),
        ("get_cluster_status", "get_cluster_status", json!({})),
        (
            "get_cluster_status_edge",
            "get_cluster_status",
            json!({"cluster_name": "edge-cluster", "namespace": "fleet"}),
        ),
        ("list_machines", "list_machines", json!({"cluster_name": "prod-cluster"})),
        ("get_app_deployments", "get_app_deployments", json!({})),
        ("get_app_deployments_harbor", "get_app_deployments", json!({"workspace": "kommander", "app_name": "harbor"})),
        (
            "debug_kustomization",
            "debug_reconciliation",
            json!({"resource_type": "kustomization", "name": "team-a-apps", "namespace": "flux-system"}),
        ),
        (
            "debug_dependency",
            "debug_reconciliation",
            json!({"resource_type": "kustomization", "name": "team-b-dashboards", "namespace": "flux-system"}),
        ),
        (
            "debug_helmrelease",
            "debug_reconciliation",
            json!({"resource_type": "helmrelease", "name": "redis", "namespace": "team-b"}),
        ),
        (
            "debug_gitrepository",
            "debug_reconciliation",
            json!({"resource_type": "gitrepository", "name": "team-b", "namespace": "flux-system"}),
        ),
        ("get_events", "get_events", json!({"namespace": "team-b"})),
        (
            "get_events_warning",
            "get_events",
            json!({"namespace": "flux-system", "resource_name": "team-a-apps", "event_type": "Warning"}),
        ),
        (
            "get_events_normal_limit",
            "get_events",
            json!({"namespace": "flux-system", "event_type": "Normal", "limit": 3}),
        ),
        (
            "get_pod_logs",
            "get_pod_logs",
            json!({"pod_name": "api-7c9d8f6b5-qwz8r", "namespace": "team-b", "tail_lines": 30}),
        ),
        (
            "get_pod_logs_tail",
            "get_pod_logs",
            json!({"pod_name": "source-controller-6c8f9b7d5-7kxqp", "namespace": "flux-system", "container": "manager", "tail_lines": 5}),
        ),
        ("check_policy_violations", "check_policy_violations", json!({})),
        ("check_policy_violations_gatekeeper", "check_policy_violations", json!({"policy_engine": "gatekeeper"})),
        (
            "check_policy_violations_kyverno_team-a",
            "check_policy_violations",
            json!({"policy_engine": "kyverno", "namespace": "team-a"}),
        ),
        ("list_constraints", "list_constraints", json!({})),
        ("list_constraints_kind", "list_constraints", json!({"constraint_kind": "K8sRequiredLabels"})),
        ("list_sources", "list_sources", json!({})),
        ("list_sources_helmchart", "list_sources", json!({"kind": "HelmChart"})),
        ("get_helmrelease", "get_helmrelease", json!({"name": "redis", "namespace": "team-b"})),
        (
            "get_inventory_kustomization",
            "get_inventory",
            json!({"resource_type": "kustomization", "name": "team-b-apps", "namespace": "flux-system"}),
        ),
        (
            "get_inventory_helmrelease",
            "get_inventory",
            json!({"resource_type": "helmrelease", "name": "kube-prometheus-stack", "namespace": "monitoring"}),
        ),
        ("trace_pod", "trace_object", json!({"kind": "Pod", "name": "api-7c9d8f6b5-qwz8r", "namespace": "team-b"})),
        ("trace_helmrelease", "trace_object", json!({"kind": "HelmRelease", "name": "redis", "namespace": "team-b"})),
        ("trace_namespace", "trace_object", json!({"kind": "Namespace", "name": "team-a"})),
        ("flux_health_summary", "flux_health_summary", json!({})),
        ("fleet_health_summary", "fleet_health_summary", json!({})),
    ]
}

#[tokio::test]
async fn every_tool_answers_the_fixture_cluster_as_its_golden_says() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let schemas: HashMap<String, Value> = env
        .mcp
        .tools()
        .await
        .into_iter()
        .map(|t| (t["name"].as_str().expect("name").to_string(), t["outputSchema"].clone()))
        .collect();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let dir = common::root().join("crates/server/tests/golden");
    let mut failures = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for (case, tool, args) in cases() {
        let (markdown, data) = env.mcp.ok(tool, args.clone()).await;
        covered.insert(tool);
        let schema = schemas.get(tool).unwrap_or_else(|| panic!("{tool} not listed"));
        let validator =
            jsonschema::validator_for(schema).unwrap_or_else(|e| panic!("{tool}'s outputSchema is not a schema: {e}"));
        let errors: Vec<String> =
            validator.iter_errors(&data).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{case}: structuredContent does not match the outputSchema: {errors:?}\n{data:#}");
        let markdown = env.normalize(&markdown);
        let path = dir.join(format!("{case}.md"));
        if update {
            std::fs::write(&path, &markdown).expect("write golden");
            continue;
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_default();
        if golden != markdown {
            failures.push(format!("--- {case} ({tool} {args}) differs from {}:\n{markdown}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden(s) differ (UPDATE_GOLDEN=1 rewrites them):\n{}",
        failures.len(),
        failures.join("\n")
    );
    let read_only: Vec<&str> =
        gitops_agent_api::tools::ToolName::ALL.iter().filter(|t| !t.is_mutating()).map(|t| t.as_str()).collect();
    for tool in read_only {
        assert!(covered.contains(tool), "{tool} has no golden case");
    }
}

#[tokio::test]
async fn pod_logs_are_redacted_and_no_tool_output_carries_credentials() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let secrets = [
        "ghp_FAKEfixtureTOKENdoNOTuse0123456789ab",
        "AKIAFAKE0EXAMPLE0KEY",
        "FAKEfixtureSECRETaccessKEY",
        "xoxb-000000000000",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "hunter2",
        "FAKE-api-key-4f9c2e7d8b1a6035",
        "BEGIN RSA PRIVATE KEY-----\n",
        "H4sI",
    ];
    let logs = [
        ("flux-system", "source-controller-6c8f9b7d5-7kxqp"),
        ("flux-system", "helm-controller-7b6d9c5f8-zt4lr"),
        ("flux-system", "notification-controller-69c7d4b8f6-hx9vd"),
        ("apps", "podinfo-7d9b8c6f5-4xk2m"),
        ("team-b", "api-7c9d8f6b5-qwz8r"),
    ];
    for (ns, pod) in logs {
        let (md, data) =
            env.mcp.ok("get_pod_logs", json!({"pod_name": pod, "namespace": ns, "tail_lines": 5000})).await;
        for s in secrets {
            assert!(!md.contains(s) && !data.to_string().contains(s), "{s} leaked from {ns}/{pod}:\n{md}");
        }
        assert!(md.contains("[REDACTED]"), "{ns}/{pod} shows no redaction:\n{md}");
    }
    // Negative control: a log without secrets comes back unchanged.
    let (md, _) = env
        .mcp
        .ok("get_pod_logs", json!({"pod_name": "podinfo-7d9b8c6f5-pq8vn", "namespace": "apps", "tail_lines": 5000}))
        .await;
    assert!(!md.contains("[REDACTED]"), "{md}");

    // The admin token and CA of the kubeconfig never appear in any tool's answer.
    let kubeconfig = std::fs::read_to_string(&env.kubeconfig).expect("kubeconfig");
    let token = env.api.server.config.admin_token.clone();
    let mut outputs = String::new();
    for (_, tool, args) in cases() {
        outputs.push_str(&env.mcp.call(tool, args).await.to_string());
    }
    assert!(!outputs.contains(&token), "the kubeconfig token leaked");
    let ca_line = kubeconfig.lines().find(|l| l.contains("certificate-authority-data")).expect("ca");
    let ca = ca_line.split(':').nth(1).expect("ca value").trim();
    assert!(!outputs.contains(ca), "the kubeconfig CA leaked");
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_that_name_the_parameter() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let cases = [
        ("get_kustomization", json!({"namespace": "flux-system"}), "`name`"),
        ("get_kustomization", json!({"name": "Bad_Name", "namespace": "flux-system"}), "`name`"),
        ("list_kustomizations", json!({"namespace": "Flux System"}), "`namespace`"),
        ("list_kustomizations", json!({"status_filter": "broken"}), "`status_filter`"),
        ("list_kustomizations", json!({"limit": 0}), "`limit`"),
        ("list_kustomizations", json!({"limit": 100000}), "`limit`"),
        ("list_kustomizations", json!({"colour": "blue"}), "unknown field `colour`"),
        ("get_events", json!({"namespace": "team-b", "event_type": "Fatal"}), "`event_type`"),
        ("get_events", json!({"namespace": "team-b", "limit": 501}), "`limit`"),
        (
            "get_pod_logs",
            json!({"pod_name": "api-7c9d8f6b5-qwz8r", "namespace": "team-b", "tail_lines": 0}),
            "`tail_lines`",
        ),
        (
            "get_pod_logs",
            json!({"pod_name": "api-7c9d8f6b5-qwz8r", "namespace": "team-b", "container": "sidecar"}),
            "`container`",
        ),
        (
            "debug_reconciliation",
            json!({"resource_type": "deployment", "name": "a", "namespace": "b"}),
            "`resource_type`",
        ),
        ("check_policy_violations", json!({"policy_engine": "opa"}), "`policy_engine`"),
        ("trace_object", json!({"kind": "Secret", "name": "redis-auth", "namespace": "team-b"}), "never reads Secrets"),
        ("trace_object", json!({"kind": "Deployment", "name": "api"}), "`namespace`"),
        ("get_inventory", json!({"resource_type": "bucket", "name": "a", "namespace": "b"}), "`resource_type`"),
        ("list_constraints", json!({"constraint_kind": "K8s Required"}), "`constraint_kind`"),
    ];
    // 2026-07-28 (and 2025-11-25): a tool execution error the model can correct (SEP-1303).
    for (tool, args, expected) in cases {
        let r = env.mcp.call(tool, args.clone()).await;
        let result = r.get("result").unwrap_or_else(|| panic!("{tool} {args}: expected a tool result, got {r}"));
        assert_eq!(result["isError"], true, "{tool} {args}: {result}");
        let msg = result["content"][0]["text"].as_str().unwrap_or_default();
        assert!(msg.starts_with("invalid argument "), "{tool} {args}: {msg:?}");
        assert!(msg.contains(expected), "{tool} {args}: {msg:?} does not mention {expected}");
    }
    // A tool that does not exist is a protocol error.
    let r = env.mcp.call("no_such_tool", json!({})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(r["error"]["message"].as_str().is_some_and(|m| m.contains("unknown tool")), "{r}");
    // Not found is a tool result with isError, not a protocol error.
    let r = env.mcp.call("get_kustomization", json!({"name": "nope", "namespace": "flux-system"})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert_eq!(r["result"]["content"][0]["text"], "Kustomization flux-system/nope not found");
}

#[tokio::test]
async fn watch_namespaces_scope_every_answer() {
    let env = common::start(common::Options {
        fixtures: true,
        extra_args: vec!["--watch-namespaces=team-b,monitoring".into()],
        ..Default::default()
    })
    .await;
    let (_, data) = env.mcp.ok("get_helmreleases", json!({})).await;
    let namespaces: Vec<&str> =
        data["items"].as_array().expect("items").iter().map(|i| i["namespace"].as_str().expect("ns")).collect();
    assert_eq!(namespaces, ["team-b", "monitoring", "monitoring"], "{data}");
    let (_, data) = env.mcp.ok("list_kustomizations", json!({})).await;
    assert_eq!(data["summary"]["total"], 0, "Kustomizations live in flux-system, outside the scope: {data}");
    let r = env.mcp.call("get_events", json!({"namespace": "flux-system"})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(
        r["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("outside this agent's watch namespaces"),
        "{r}"
    );
}

#[test]
fn the_readme_tool_table_is_generated_from_the_registry() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).expect("README");
    let begin = readme.find("<!-- tools:begin -->\n").expect("begin marker") + "<!-- tools:begin -->\n".len();
    let end = readme.find("<!-- tools:end -->").expect("end marker");
    assert_eq!(
        &readme[begin..end],
        gitops_agent_server::tools::catalogue_markdown(),
        "README's tool table is stale: paste `gitops-agent tools --format markdown` between the markers"
    );
}
