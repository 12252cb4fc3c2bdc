//! The abuse limits over real HTTP: per-client rate and in-flight caps (429 + Retry-After, a
//! JSON-RPC error body), tool-call timeouts on a slow API server, the MCP session cap, and idle
//! A2A streams closing. Clients are told apart by a trusted header so loopback tests can act as
//! remote clients (loopback itself is exempt from per-client limits).

mod common;

use std::time::{Duration, Instant};

use fake_apiserver::FaultConfig;
use serde_json::{Value, json};

use common::Mcp;

fn list_call() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_kustomizations", "arguments": {},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}})
}

fn stateless(client: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "list_kustomizations"),
        ("x-client-ip", client),
    ]
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after_and_others_are_served() {
    let env = common::start(common::Options {
        fixtures: true,
        extra_args: vec!["--rate-limit-per-client=2".into(), "--client-ip-header=x-client-ip".into()],
        ..Default::default()
    })
    .await;
    let mut statuses = vec![];
    for _ in 0..6 {
        statuses.push(env.mcp.post(&stateless("203.0.113.7"), &list_call()).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|a| a.status).collect();
    assert_eq!(&codes[..4], &[200, 200, 200, 200], "a burst of twice the rate passes: {codes:?}");
    let refused = statuses.last().expect("last");
    assert_eq!(refused.status, 429);
    let retry: u64 = refused.headers["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert!(retry >= 1, "{retry}");
    assert!(refused.json()["error"]["message"].as_str().is_some_and(|m| m.contains("faster than the server allows")));
    assert_eq!(env.mcp.post(&stateless("198.51.100.9"), &list_call()).await.status, 200, "another client");
    let local = env.mcp.post(&stateless("127.0.0.1"), &list_call()).await;
    assert_eq!(local.status, 200, "loopback clients are exempt");
    let headers =
        [("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", "list_kustomizations")];
    for _ in 0..8 {
        let a = env.mcp.post(&headers, &list_call()).await;
        assert_eq!(a.status, 200, "the peer address (loopback) is exempt too: {}", a.body);
    }
    // A2A is behind the same limiter.
    let a2a = Mcp::new(format!("{}/", env.agent.url()));
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}).to_string();
    let a = a2a.post_to(&a2a.url, &[("a2a-version", "1.0"), ("x-client-ip", "203.0.113.7")], body).await;
    assert_eq!(a.status, 429);
}

#[tokio::test]
async fn slow_cluster_calls_time_out_and_hold_the_clients_in_flight_slot() {
    let env = common::start(common::Options {
        fixtures: true,
        extra_args: vec![
            "--tool-timeout-seconds=1".into(),
            "--max-in-flight-per-client=1".into(),
            "--client-ip-header=x-client-ip".into(),
        ],
        ..Default::default()
    })
    .await;
    env.api.server.faults.set(FaultConfig { latency_ms: 3000, ..Default::default() });
    let events = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_events", "arguments": {"namespace": "flux-system"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "get_events"),
        ("x-client-ip", "203.0.113.8"),
    ];
    let slow = {
        let url = env.mcp.url.clone();
        let body = events.to_string();
        tokio::spawn(async move {
            let started = Instant::now();
            let a = Mcp::new(url.clone()).post_to(&url, &headers, body).await;
            (a.json(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = env.mcp.post(&headers, &events).await;
    assert_eq!(second.status, 429, "one request in flight per client: {}", second.body);
    let (answer, took) = slow.await.expect("slow call");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(answer.to_string().contains("did not answer within 1 s"), "{answer}");
    assert!(took < Duration::from_millis(2500), "answered at the timeout, not when the API did: {took:?}");
    let metrics = env.agent.agent.metrics.render();
    assert!(metrics.contains(r#"tool_calls_total{tool="get_events",status="error",protocol="mcp"} 1"#), "{metrics}");
}

#[tokio::test]
async fn the_session_cap_refuses_new_sessions_but_not_stateless_calls() {
    let env = common::start(common::Options {
        fixtures: true,
        extra_args: vec!["--max-sessions=1".into()],
        ..Default::default()
    })
    .await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
        "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let first = env.mcp.post(&[], &init).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.headers.contains_key("mcp-session-id"));
    let second = env.mcp.post(&[], &init).await;
    assert_eq!(second.status, 429, "{}", second.body);
    assert!(second.json()["error"]["message"].as_str().is_some_and(|m| m.contains("1 MCP sessions are open")));
    let (_, data) = env.mcp.ok("get_gitops_status", json!({})).await;
    assert!(data.is_object(), "stateless requests open no session and pass");
}

#[tokio::test]
async fn idle_a2a_subscriptions_are_closed() {
    let env = common::start(common::Options {
        fixtures: true,
        extra_args: vec!["--idle-seconds=1".into()],
        ..Default::default()
    })
    .await;
    let a2a = Mcp::new(format!("{}/", env.agent.url()));
    let send = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"role": "ROLE_USER",
        "parts": [{"text": "show me the logs"}]}}});
    let r = a2a.post_to(&a2a.url, &[("a2a-version", "1.0")], send.to_string()).await.json();
    assert_eq!(r["result"]["task"]["status"]["state"], "TASK_STATE_INPUT_REQUIRED", "{r}");
    let id = r["result"]["task"]["id"].as_str().expect("id");
    let started = Instant::now();
    let sub = json!({"jsonrpc": "2.0", "id": 2, "method": "SubscribeToTask", "params": {"id": id}});
    let events = a2a.post_to(&a2a.url, &[("a2a-version", "1.0")], sub.to_string()).await.events();
    assert_eq!(events.len(), 1, "only the task, then the idle stream closed: {events:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}
