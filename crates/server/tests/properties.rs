//! Property tests (the fuzzing of this crate): whatever arrives — any JSON-RPC body at /mcp or
//! at the A2A endpoint, any A2A message, any text to route, any log line — the server answers
//! with a well-formed response or a clear error, never a panic or a 5xx, and secrets in logs stay
//! redacted. `PROPTEST_CASES` raises the number of cases for long local runs.

mod common;

use gitops_agent_server::a2a::routing::{self, Offered};
use gitops_agent_server::a2a::wire;
use gitops_agent_server::redact::redact;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[ -~]{0,24}".prop_map(Value::String),
        prop_oneof![
            Just("text"),
            Just("data"),
            Just("file"),
            Just("ROLE_USER"),
            Just("user"),
            Just("skill"),
            Just("list-kustomizations"),
            Just("get_pod_logs"),
            Just("message"),
            Just("parts"),
            Just("tools/call"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("role".to_string()),
                        Just("parts".to_string()),
                        Just("text".to_string()),
                        Just("data".to_string()),
                        Just("kind".to_string()),
                        Just("skill".to_string()),
                        Just("arguments".to_string()),
                        Just("messageId".to_string()),
                        Just("taskId".to_string()),
                        Just("contextId".to_string()),
                        Just("metadata".to_string()),
                        "[a-z_]{1,10}",
                    ],
                    inner,
                ),
                0..6,
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

fn offered() -> Vec<Offered> {
    gitops_agent_server::tools::all().iter().map(Offered::from).collect()
}

proptest! {
    #[test]
    fn any_json_is_read_as_a_message_or_refused_with_the_field_named(v in json_value()) {
        match wire::read_message(&v, "message") {
            Ok(m) => prop_assert!(!m.parts.is_empty()),
            Err(e) => prop_assert!(e.to_string().contains("message"), "{e}"),
        }
    }

    #[test]
    fn any_text_routes_to_an_offered_skill_with_only_its_parameters(text in "[ -~]{0,120}") {
        let offered = offered();
        let message = wire::read_message(&json!({"parts": [{"text": text}]}), "message").expect("a text message");
        match routing::route(&message, &offered) {
            Ok(routing::Route::Call { tool, arguments }) | Ok(routing::Route::NeedsInput { tool, arguments, .. }) => {
                let o = offered.iter().find(|o| o.tool == tool).expect("offered");
                prop_assert!(arguments.keys().all(|k| o.params.contains(k)), "{arguments:?}");
            }
            Ok(routing::Route::Help { .. }) => {}
            Err(e) => prop_assert!(false, "text never fails to route: {e}"),
        }
    }

    #[test]
    fn secrets_in_log_lines_stay_redacted(prefix in "[ -~]{0,40}", secret in "[A-Za-z0-9]{24,40}", suffix in "[ -~]{0,40}") {
        for line in [
            format!("{prefix} password={secret} {suffix}"),
            format!("{prefix} Authorization: Bearer {secret} {suffix}"),
            format!("{prefix} token: {secret}{suffix}"),
        ] {
            let out = redact(&line);
            prop_assert!(!out.contains(&secret), "{line:?} -> {out:?}");
        }
        let _ = redact(&format!("{prefix}{secret}{suffix}"));
    }
}

/// Any JSON-RPC body at either endpoint gets an answer below 500 (an error names what was wrong).
#[test]
fn any_body_at_mcp_or_a2a_gets_a_well_formed_answer() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let env = runtime.block_on(common::start(common::Options { fixtures: true, ..Default::default() }));
    let a2a = common::Mcp::new(format!("{}/", env.agent.url()));
    let mut runner = proptest::test_runner::TestRunner::default();
    let bodies = (
        json_value(),
        prop_oneof![
            Just("tools/call"),
            Just("tools/list"),
            Just("initialize"),
            Just("SendMessage"),
            Just("message/send"),
            Just("GetTask"),
            Just("ListTasks"),
            Just("CancelTask"),
            Just("tasks/create"),
            Just("tasks/get"),
            Just("nope"),
        ],
    );
    runner
        .run(&bodies, |(params, method)| {
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
            let (mcp, a2a_answer) = runtime.block_on(async {
                let mcp = env.mcp.post(&[("mcp-protocol-version", "2026-07-28"), ("mcp-method", method)], &body).await;
                let a = a2a.post_to(&a2a.url, &[("a2a-version", "1.0")], body.to_string()).await;
                (mcp, a)
            });
            prop_assert!(mcp.status < 500, "MCP {method} {params}: {} {}", mcp.status, mcp.body);
            prop_assert!(a2a_answer.status < 500, "A2A {method} {params}: {} {}", a2a_answer.status, a2a_answer.body);
            if a2a_answer
                .headers
                .get("content-type")
                .is_some_and(|c| c.to_str().unwrap_or("").starts_with("application/json"))
            {
                let v = a2a_answer.json();
                prop_assert!(v.get("result").is_some() != v.get("error").is_some(), "{v}");
            }
            Ok(())
        })
        .expect("no input makes the server fail");
}

/// Real tools with arbitrary arguments, over MCP and as A2A data parts: an answer, or an error
/// naming the parameter.
#[test]
fn any_arguments_to_any_tool_get_an_answer_or_a_parameter_error() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let env = runtime.block_on(common::start(common::Options { fixtures: true, ..Default::default() }));
    let a2a = common::Mcp::new(format!("{}/", env.agent.url()));
    let mut runner = proptest::test_runner::TestRunner::default();
    let tools: Vec<&'static str> = gitops_agent_api::tools::ToolName::ALL.iter().map(|t| t.as_str()).collect();
    let calls = (prop::sample::select(tools), json_value());
    runner
        .run(&calls, |(tool, arguments)| {
            let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments,
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
            let send = json!({"jsonrpc": "2.0", "id": 2, "method": "SendMessage", "params": {"message": {"role": "ROLE_USER",
                "parts": [{"data": {"skill": tool.replace('_', "-"), "arguments": arguments}}]}}});
            let (mcp, a) = runtime.block_on(async {
                let mirrored = gitops_agent_api::tools::param_headers(&arguments);
                let mut headers = vec![("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", tool)];
                headers.extend(mirrored.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                (env.mcp.post(&headers, &call).await, a2a.post_to(&a2a.url, &[("a2a-version", "1.0")], send.to_string()).await)
            });
            prop_assert_eq!(mcp.status, 200, "{} {}: {}", tool, arguments, mcp.body);
            let v = mcp.json();
            prop_assert!(v.get("result").is_some() || v["error"]["code"] == -32602, "{}", v);
            prop_assert_eq!(a.status, 200, "{} {}: {}", tool, arguments, a.body);
            let v = a.json();
            prop_assert!(v.get("result").is_some() || v["error"]["code"] == -32602, "{}", v);
            Ok(())
        })
        .expect("no arguments make a tool fail");
}
