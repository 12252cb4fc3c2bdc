//! The MCP surface over real HTTP: both protocol eras, read-only enforcement, the cache (zero API
//! requests, fresh answers), CRDs that appear later, Host/Origin guards, health and metrics.

mod common;

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use common::kustomizations;

#[tokio::test]
async fn read_only_agents_neither_list_nor_run_mutating_tools() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let tools = env.mcp.tools().await;
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().expect("name")).collect();
    let expected: Vec<&str> =
        gitops_agent_api::tools::ToolName::ALL.iter().filter(|t| !t.is_mutating()).map(|t| t.as_str()).collect();
    assert_eq!(names, expected, "tools/list order is the catalogue's");
    for t in &tools {
        assert_eq!(t["annotations"]["readOnlyHint"], true, "{t}");
        assert_eq!(t["inputSchema"]["type"], "object", "{t}");
        assert_eq!(t["outputSchema"]["type"], "object", "{t}");
        assert!(t["description"].as_str().is_some_and(|d| d.len() > 40), "{t}");
    }
    for tool in ["reconcile", "suspend", "resume"] {
        let r = env.mcp.call(tool, json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"})).await;
        assert_eq!(r["error"]["code"], -32602, "{r}");
        assert!(r["error"]["message"].as_str().is_some_and(|m| m.contains("read-only")), "{r}");
    }
    let k = kustomizations(env.api.client().await.expect("client")).get("apps").await.expect("apps");
    assert!(k.annotations().get("reconcile.fluxcd.io/requestedAt").is_none());
}

use kube::ResourceExt;

#[tokio::test]
async fn writable_agents_reconcile_suspend_and_resume() {
    let env = common::start(common::Options {
        fixtures: true,
        extra_args: vec!["--read-only=false".into()],
        ..Default::default()
    })
    .await;
    let names: Vec<String> =
        env.mcp.tools().await.iter().map(|t| t["name"].as_str().expect("name").to_string()).collect();
    assert_eq!(names.len(), 24);
    let api = kustomizations(env.api.client().await.expect("client"));
    let target = json!({"kind": "kustomization", "name": "apps", "namespace": "flux-system"});

    let (md, data) = env.mcp.ok("reconcile", target.clone()).await;
    assert!(md.starts_with("Requested reconciliation of Kustomization `flux-system/apps`"), "{md}");
    assert_eq!(data["requestedAt"], common::FIXED_NOW);
    let k = api.get("apps").await.expect("apps");
    assert_eq!(k.annotations().get("reconcile.fluxcd.io/requestedAt").map(String::as_str), Some(common::FIXED_NOW));
    assert!(
        k.managed_fields().iter().any(|f| f.manager.as_deref() == Some("gitops-agent")),
        "written under our field manager"
    );

    env.mcp.ok("suspend", target.clone()).await;
    assert_eq!(api.get("apps").await.expect("apps").data["spec"]["suspend"], true);
    let (_, data) = env.mcp.ok("resume", target.clone()).await;
    assert_eq!(data["suspended"], false);
    assert_eq!(api.get("apps").await.expect("apps").data["spec"]["suspend"], false);

    let r = env.mcp.call("suspend", json!({"kind": "Deployment", "name": "api", "namespace": "team-b"})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(r["result"]["content"][0]["text"].as_str().is_some_and(|m| m.contains("`kind`")), "{r}");
    let r = env.mcp.call("resume", json!({"kind": "HelmRelease", "name": "missing", "namespace": "team-b"})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
}

#[tokio::test]
async fn cached_answers_make_no_api_requests_and_follow_changes() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    env.mcp.ok("list_kustomizations", json!({})).await;
    let before = env.api.stats();
    for tool in [
        "list_kustomizations",
        "get_gitops_status",
        "get_helmreleases",
        "list_sources",
        "flux_health_summary",
        "get_cluster_status",
        "list_machines",
        "check_policy_violations",
        "list_constraints",
    ] {
        env.mcp.ok(tool, json!({})).await;
    }
    env.mcp.ok("get_kustomization", json!({"name": "apps", "namespace": "flux-system"})).await;
    // Background discovery (every 30 s) is not a tool's doing; anything else would be.
    let during = env.api.stats().since(&before);
    let by_tools: Vec<_> = during.requests.iter().filter(|(k, _)| !k.contains("discovery")).collect();
    assert!(by_tools.is_empty(), "cached tools made API requests: {by_tools:?}");

    // A change on the API server shows up in the next answers (the watch feeds the cache).
    let api = kustomizations(env.api.client().await.expect("client"));
    api.patch("apps", &PatchParams::default(), &Patch::Merge(json!({"spec": {"suspend": true}})))
        .await
        .expect("suspend");
    let mut state = Value::Null;
    for _ in 0..500 {
        let (_, data) = env.mcp.ok("get_kustomization", json!({"name": "apps", "namespace": "flux-system"})).await;
        state = data["state"].clone();
        if state == "suspended" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, "suspended");
}

#[tokio::test]
async fn a_missing_crd_is_a_clear_tool_error_until_it_is_installed() {
    let env = common::start(common::Options {
        fixtures: false,
        extra_args: vec!["--discovery-seconds=1".into()],
        ..Default::default()
    })
    .await;
    let r = env.mcp.call("get_helmreleases", json!({})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert_eq!(
        r["result"]["content"][0]["text"],
        "HelmRelease CRD (helm.toolkit.fluxcd.io/v2) is not installed on this cluster"
    );
    let r = env.mcp.call("list_sources", json!({"kind": "OCIRepository"})).await;
    assert_eq!(
        r["result"]["content"][0]["text"],
        "OCIRepository CRD (source.toolkit.fluxcd.io/v1) is not installed on this cluster"
    );

    let crds = common::root().join("examples/fixtures/crds");
    let dir = std::env::temp_dir().join(format!("helm-crd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy(crds.join("helm.toolkit.fluxcd.io.yaml"), dir.join("helm.yaml")).expect("copy");
    fake_apiserver::fixtures::load_crds(&env.api.server, &dir).expect("HelmRelease CRD");
    let mut answer = Value::Null;
    for _ in 0..300 {
        answer = env.mcp.call("get_helmreleases", json!({})).await;
        if answer["result"]["isError"] != true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer["result"]["structuredContent"]["summary"]["total"], 0, "picked up without restart: {answer}");
}

#[tokio::test]
async fn clients_of_the_2025_versions_initialize_and_get_a_session() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    for version in ["2025-11-25", "2025-06-18", "2025-03-26"] {
        let init = env
            .mcp
            .post(
                &[("mcp-protocol-version", version)],
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}),
            )
            .await;
        assert_eq!(init.status, 200, "{}", init.body);
        let session =
            init.headers.get("mcp-session-id").and_then(|h| h.to_str().ok()).expect("Mcp-Session-Id").to_string();
        let result = init.json()["result"].clone();
        assert_eq!(result["protocolVersion"], version);
        assert_eq!(result["serverInfo"]["name"], "gitops-agent");
        assert_eq!(result["capabilities"]["tools"], json!({}));
        let headers = [("mcp-protocol-version", version), ("mcp-session-id", session.as_str())];
        let n = env.mcp.post(&headers, &json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        assert_eq!(n.status, 202, "{}", n.body);
        let list = env.mcp.post(&headers, &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})).await.json();
        assert_eq!(list["result"]["tools"].as_array().map(Vec::len), Some(21));
        let call = env
            .mcp
            .post(&headers, &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_gitops_status", "arguments": {}}}))
            .await
            .json();
        assert!(call["result"]["content"][0]["text"].as_str().is_some_and(|t| t.contains("**Unhealthy**")), "{call}");
        assert_eq!(call["result"]["structuredContent"]["healthy"], false);
        // A bad argument: a tool execution error from 2025-11-25 on (SEP-1303), a protocol error before.
        let bad = env
            .mcp
            .post(&headers, &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "get_kustomization", "arguments": {"name": "Bad_Name", "namespace": "flux-system"}}}))
            .await
            .json();
        if version == "2025-11-25" {
            assert_eq!(bad["result"]["isError"], true, "{version}: {bad}");
            assert!(bad["result"]["content"][0]["text"].as_str().is_some_and(|t| t.contains("`name`")), "{bad}");
        } else {
            assert_eq!(bad["error"]["code"], -32602, "{version}: {bad}");
            assert!(bad["error"]["message"].as_str().is_some_and(|m| m.contains("`name`")), "{bad}");
        }
        // Without the session id, a 2025 request is refused.
        let orphan = env
            .mcp
            .post(&[("mcp-protocol-version", version)], &json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}))
            .await;
        assert!(orphan.status >= 400, "{}", orphan.status);
    }
}

#[tokio::test]
async fn the_current_version_is_stateless_and_discoverable() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let d = env.mcp.request("server/discover", None, json!({})).await;
    let result = &d["result"];
    assert!(
        result["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.contains(&json!("2026-07-28")) && v.contains(&json!("2025-11-25"))),
        "{d}"
    );
    assert_eq!(result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "gitops-agent");
    // No session: a second, unrelated request is answered the same way.
    let answer = env
        .mcp
        .post(
            &[("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", "list_kustomizations")],
            &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "list_kustomizations", "arguments": {"status_filter": "failed"},
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}}),
        )
        .await;
    assert!(answer.headers.get("mcp-session-id").is_none());
    assert_eq!(answer.json()["result"]["structuredContent"]["page"]["total"], 3);
    // The Mcp-Name header must match the body.
    let mismatch = env
        .mcp
        .post(
            &[("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", "get_events")],
            &json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "list_kustomizations", "arguments": {},
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}}),
        )
        .await;
    assert_eq!(mismatch.status, 400, "{}", mismatch.body);
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let env = common::start(common::Options {
        fixtures: true,
        extra_args: vec!["--allowed-hosts=agent.example.com".into()],
        ..Default::default()
    })
    .await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let refused = env.mcp.post(&[("host", "evil.example.net")], &body).await;
    assert_eq!(refused.status, 403);
    let refused = env.mcp.post(&[("origin", "https://evil.example.net")], &body).await;
    assert_eq!(refused.status, 403);
    assert_eq!(env.mcp.post(&[("host", "agent.example.com")], &body).await.status, 200);
    assert_eq!(env.mcp.post(&[("host", "gitops-agent.flux-system.svc:8080")], &body).await.status, 200);
    assert_eq!(env.mcp.post(&[("origin", "http://localhost:6274")], &body).await.status, 200);
    let too_big = env
        .mcp
        .post(
            &[],
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"pad": "x".repeat(2 * 1024 * 1024)}}),
        )
        .await;
    assert_eq!(too_big.status, 413);
}

#[tokio::test]
async fn health_readiness_and_the_predecessors_metric_names() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let env = common::start(common::Options {
        fixtures: true,
        extra_args: vec![format!("--metrics-port={port}")],
        ..Default::default()
    })
    .await;
    let base = env.agent.url();
    assert_eq!(env.mcp.get(&format!("{base}/health")).await.body, r#"{"status":"ok"}"#);
    assert_eq!(env.mcp.get(&format!("{base}/healthz")).await.status, 200);
    assert_eq!(env.mcp.get(&format!("{base}/readyz")).await.status, 200);
    env.mcp.ok("get_events", json!({"namespace": "team-b"})).await;
    env.mcp.call("get_kustomization", json!({"name": "BAD"})).await;
    let metrics = env.mcp.get(&format!("http://127.0.0.1:{port}/metrics")).await.body;
    for needle in [
        r#"http_requests_total{method="POST",path="/mcp",status="200"}"#,
        r#"http_request_duration_seconds_count{method="POST",path="/mcp"}"#,
        r#"k8s_api_calls_total{cluster="local",verb="list",resource="events",code="200"} 1"#,
        r#"tool_calls_total{tool="get_events",status="success",protocol="mcp"} 1"#,
        r#"tool_calls_total{tool="get_kustomization",status="invalid",protocol="mcp"} 1"#,
        r#"tool_call_duration_seconds_count{tool="get_events"} 1"#,
        r#"cache_objects{cluster="local",kind="kustomizations.kustomize.toolkit.fluxcd.io"} 9"#,
        r#"cache_ready{cluster="local"} 1"#,
        "# TYPE runtime_tasks gauge",
    ] {
        assert!(metrics.contains(needle), "{needle} missing:\n{metrics}");
    }
}

#[tokio::test]
async fn shutdown_finishes_and_stops_listening() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let addr = env.agent.addr;
    env.mcp.ok("get_gitops_status", json!({})).await;
    tokio::time::timeout(Duration::from_secs(10), env.agent.shutdown())
        .await
        .expect("shuts down in time")
        .expect("clean");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still listening after shutdown");
}

#[tokio::test]
async fn tool_arguments_that_are_not_an_object_are_invalid_params_naming_the_field() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    for (arguments, got) in [(json!([]), "an array"), (json!("x"), "a string"), (json!(3), "a number")] {
        let r = env
            .mcp
            .request("tools/call", Some("list_contexts"), json!({"name": "list_contexts", "arguments": arguments}))
            .await;
        assert_eq!(r["error"]["code"], -32602, "{r}");
        assert_eq!(
            r["error"]["message"],
            format!("invalid argument `arguments`: expected an object of the tool's parameters, got {got}")
        );
        assert_eq!(r["id"], 1);
    }
    env.mcp.ok("list_contexts", json!({})).await;
}
