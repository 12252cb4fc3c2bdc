//! A2A over real HTTP against the fixture cluster: the cards, A2A 1.0 JSON-RPC and HTTP+JSON,
//! 0.3 method names, the predecessor's methods (golden exchanges), streaming, the task
//! lifecycle (list, cancel, subscribe), text routing end to end, and bad input.

mod common;

use std::time::Duration;

use fake_apiserver::FaultConfig;
use serde_json::{Value, json};

use common::A2a;

const V1: (&str, &str) = ("a2a-version", "1.0");

/// The fields of an A2A 1.0 AgentCard (validators reject others).
const CARD_KEYS: &[&str] = &[
    "name",
    "description",
    "version",
    "provider",
    "supportedInterfaces",
    "capabilities",
    "defaultInputModes",
    "defaultOutputModes",
    "skills",
    "documentationUrl",
    "iconUrl",
    "securitySchemes",
    "securityRequirements",
    "signatures",
];

fn data_message(skill: &str, arguments: Value) -> Value {
    json!({"messageId": "m-1", "role": "ROLE_USER", "parts": [{"data": {"skill": skill, "arguments": arguments}}]})
}

fn text_message(text: &str) -> Value {
    json!({"messageId": "m-2", "role": "ROLE_USER", "parts": [{"text": text}]})
}

#[tokio::test]
async fn agent_cards_list_one_skill_per_offered_tool() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let a2a = A2a::new(&env);
    let answer = a2a.rest_get("/.well-known/agent-card.json", &[]).await;
    let etag = answer.headers["etag"].to_str().expect("etag").to_string();
    assert_eq!(a2a.rest_get("/.well-known/agent-card.json", &[("if-none-match", &etag)]).await.status, 304);
    let card = answer.json();
    let offered: Vec<String> = gitops_agent_api::tools::ToolName::ALL
        .iter()
        .filter(|t| !t.is_mutating())
        .map(|t| t.as_str().replace('_', "-"))
        .collect();
    let ids: Vec<&str> =
        card["skills"].as_array().expect("skills").iter().map(|s| s["id"].as_str().expect("id")).collect();
    assert_eq!(ids, offered, "read-only agents hide mutating skills");
    assert_eq!(card["name"], "gitops-agent");
    assert_eq!(card["capabilities"]["streaming"], true);
    assert_eq!(card["capabilities"]["pushNotifications"], true);
    let interfaces = card["supportedInterfaces"].as_array().expect("interfaces");
    assert!(interfaces.contains(&json!({"url": a2a.base, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"})));
    assert!(interfaces.contains(&json!({"url": a2a.base, "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"})));
    for key in card.as_object().expect("card").keys() {
        assert!(CARD_KEYS.contains(&key.as_str()), "{key} is not an A2A 1.0 AgentCard field");
    }
    let schemas = &card["capabilities"]["extensions"][0]["params"]["skills"];
    assert_eq!(schemas["get-kustomization"]["required"], json!(["name", "namespace"]));
    for skill in card["skills"].as_array().expect("skills") {
        assert!(skill["examples"].as_array().is_some_and(|e| !e.is_empty()), "{skill}");
        assert!(skill["tags"].as_array().is_some_and(|t| t.contains(&json!("read-only"))), "{skill}");
    }
    for path in ["/.well-known/agent.json", "/agent.json"] {
        let old = a2a.rest_get(path, &[]).await.json();
        assert_eq!(old["skills"][2]["id"], "get-gitops-status", "{path}");
        assert_eq!(old["skills"][2]["inputSchema"]["type"], "object", "{path}");
        assert_eq!(old["url"], a2a.base);
        assert_eq!(old["protocolVersion"], "0.3.0", "{path} is also the card 0.3 clients read");
    }
    let info = a2a.rpc(&[], "agent/info", json!({})).await;
    assert_eq!(info["result"]["skills"].as_array().map(Vec::len), Some(offered.len()));

    let writable = common::start(common::Options {
        fixtures: true,
        extra_args: vec!["--read-only=false".into(), "--base-url=https://agent.example.com".into()],
        ..Default::default()
    })
    .await;
    let card =
        A2a::new(&writable).rest_get("/.well-known/agent-card.json", &[("host", "agent.example.com")]).await.json();
    assert!(card["skills"].as_array().expect("skills").iter().any(|s| s["id"] == "reconcile"));
    assert_eq!(card["supportedInterfaces"][0]["url"], "https://agent.example.com", "the public URL from --base-url");
}

#[tokio::test]
async fn send_message_answers_with_the_same_data_as_mcp() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let a2a = A2a::new(&env);
    let args = json!({"namespace": "flux-system", "status_filter": "failed"});
    let (markdown, structured) = env.mcp.ok("list_kustomizations", args.clone()).await;

    // A2A 1.0, JSON-RPC.
    let r = a2a.rpc(&[V1], "SendMessage", json!({"message": data_message("list-kustomizations", args.clone())})).await;
    let task = &r["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{r}");
    assert_eq!(task["artifacts"][0]["parts"][0]["text"], markdown);
    assert_eq!(task["artifacts"][0]["parts"][0]["mediaType"], "text/markdown");
    assert_eq!(task["artifacts"][0]["parts"][1]["data"], structured);
    assert_eq!(task["history"][0]["role"], "ROLE_USER");
    assert_eq!(task["metadata"]["skill"], "list-kustomizations");
    assert!(task.get("kind").is_none());

    // A2A 0.3 names without the version header: 0.3 shapes, routed from text.
    let q = json!({"kind": "message", "messageId": "m-3", "role": "user",
        "parts": [{"kind": "text", "text": "Which Kustomizations are failing in flux-system?"}]});
    let r = a2a.rpc(&[], "message/send", json!({"message": q})).await;
    let task = &r["result"];
    assert_eq!(task["kind"], "task", "{r}");
    assert_eq!(task["status"]["state"], "completed");
    assert_eq!(
        task["artifacts"][0]["parts"][0],
        json!({"kind": "text", "text": markdown, "metadata": null})
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.remove("metadata");
                Value::Object(o)
            })
            .expect("object")
    );
    assert_eq!(task["artifacts"][0]["parts"][1]["data"], structured);

    // HTTP+JSON binding.
    let a = a2a.rest_post("/message:send", &[V1], json!({"message": data_message("list-kustomizations", args)})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers["content-type"], "application/json");
    let task = a.json()["task"].clone();
    assert_eq!(task["artifacts"][0]["parts"][1]["data"], structured);
    let id = task["id"].as_str().expect("id");
    let got = a2a.rest_get(&format!("/tasks/{id}?historyLength=0"), &[V1]).await;
    assert_eq!(got.status, 200);
    let got = got.json();
    assert_eq!(got["id"], id);
    assert!(got.get("history").is_none(), "historyLength=0 leaves history out: {got}");

    let metrics = env.agent.agent.metrics.render();
    assert!(
        metrics.contains(r#"tool_calls_total{tool="list_kustomizations",status="success",protocol="a2a"} 3"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"tool_calls_total{tool="list_kustomizations",status="success",protocol="mcp"} 1"#));
}

#[tokio::test]
async fn streams_carry_the_task_then_status_and_artifact_events() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let a2a = A2a::new(&env);
    let a = a2a
        .rpc_with(&[V1], "SendStreamingMessage", json!({"message": data_message("get-gitops-status", json!({}))}))
        .await;
    assert!(a.headers["content-type"].to_str().expect("ct").starts_with("text/event-stream"));
    let events = a.events();
    let results: Vec<&Value> = events.iter().map(|e| &e["result"]).collect();
    assert!(events.iter().all(|e| e["id"] == 7 && e["jsonrpc"] == "2.0"));
    assert_eq!(results[0]["task"]["status"]["state"], "TASK_STATE_SUBMITTED", "{events:?}");
    assert_eq!(results[1]["statusUpdate"]["status"]["state"], "TASK_STATE_WORKING");
    assert!(
        results[2]["artifactUpdate"]["artifact"]["parts"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("GitOps status")),
        "{events:?}"
    );
    assert_eq!(results[3]["statusUpdate"]["status"]["state"], "TASK_STATE_COMPLETED");
    assert_eq!(results.len(), 4);
    let id = results[0]["task"]["id"].as_str().expect("id");
    assert!(
        results[1..].iter().all(|r| r.as_object().and_then(|o| o.values().next()).is_some_and(|u| u["taskId"] == id))
    );

    // 0.3: `kind` discriminators and `final` on the last status update.
    let a = a2a.rpc_with(&[], "message/stream", json!({"message": {"role": "user", "messageId": "x", "parts": [{"kind": "text", "text": "list the git repositories"}]}})).await;
    let events: Vec<Value> = a.events().into_iter().map(|e| e["result"].clone()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["task", "status-update", "artifact-update", "status-update"]);
    assert_eq!(events[3]["final"], true);
    assert_eq!(events[1]["final"], false);

    // HTTP+JSON streams send StreamResponse objects without the JSON-RPC envelope.
    let a = a2a.rest_post("/message:stream", &[V1], json!({"message": text_message("flux health summary")})).await;
    let events = a.events();
    assert!(events[0]["task"]["id"].is_string(), "{events:?}");
    assert_eq!(events.last().expect("last")["statusUpdate"]["status"]["state"], "TASK_STATE_COMPLETED");
}

#[tokio::test]
async fn tasks_are_listed_canceled_and_subscribed_to() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let a2a = A2a::new(&env);
    let mut ids = vec![];
    for q in ["list all kustomizations", "list the git repositories", "hello there"] {
        let r = a2a
            .rpc(
                &[V1],
                "SendMessage",
                json!({"message": {"role": "ROLE_USER", "messageId": q, "contextId": "ctx-1", "parts": [{"text": q}]}}),
            )
            .await;
        ids.push(r["result"]["task"]["id"].as_str().expect("id").to_string());
    }
    // The unclear question completes with the help reply.
    let help = a2a.rpc(&[V1], "GetTask", json!({"id": ids[2]})).await;
    let help = &help["result"];
    assert_eq!(help["status"]["state"], "TASK_STATE_COMPLETED");
    assert!(help["artifacts"][0]["parts"][0]["text"].as_str().is_some_and(|t| t.contains("list-kustomizations")));
    assert_eq!(help["artifacts"][0]["parts"][1]["data"]["example"]["skill"], "get-kustomization");

    let page = a2a.rpc(&[V1], "ListTasks", json!({"contextId": "ctx-1", "pageSize": 2})).await;
    let page = &page["result"];
    assert_eq!(page["totalSize"], 3, "{page}");
    assert_eq!(page["pageSize"], 2);
    assert_eq!(page["tasks"].as_array().map(Vec::len), Some(2));
    assert!(page["tasks"][0].get("artifacts").is_none(), "artifacts only with includeArtifacts");
    let token = page["nextPageToken"].as_str().expect("token");
    assert!(!token.is_empty());
    let rest = a2a
        .rest_get(&format!("/tasks?contextId=ctx-1&pageSize=2&pageToken={token}&includeArtifacts=true"), &[V1])
        .await
        .json();
    assert_eq!(rest["tasks"].as_array().map(Vec::len), Some(1), "{rest}");
    assert_eq!(rest["nextPageToken"], "");
    assert!(rest["tasks"][0]["artifacts"].is_array());

    // Finished tasks cannot be canceled or subscribed to.
    let r = a2a.rpc(&[V1], "CancelTask", json!({"id": ids[0]})).await;
    assert_eq!(r["error"]["code"], -32002, "{r}");
    let r = a2a.rpc(&[V1], "SubscribeToTask", json!({"id": ids[0]})).await;
    assert_eq!(r["error"]["code"], -32004, "{r}");
    let a = a2a.rest_post(&format!("/tasks/{}:cancel", ids[0]), &[V1], json!({})).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["error"]["details"][0]["reason"], "TASK_NOT_CANCELABLE");

    // A slow API server keeps a pod-log task working long enough to list, watch and cancel it.
    env.api.server.faults.set(FaultConfig { latency_ms: 3000, ..Default::default() });
    let r = a2a
        .rpc(&[V1], "SendMessage", json!({
            "message": data_message("get-pod-logs", json!({"pod_name": "api-5d8c7b9f4-x2k9p", "namespace": "team-b"})),
            "configuration": {"returnImmediately": true},
        }))
        .await;
    let slow = r["result"]["task"]["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let working = a2a.rpc(&[V1], "ListTasks", json!({"status": "TASK_STATE_WORKING"})).await;
    assert_eq!(working["result"]["tasks"][0]["id"], slow, "{working}");
    let subscriber = {
        let a2a = A2a::new(&env);
        let id = slow.clone();
        tokio::spawn(async move { a2a.rest_post(&format!("/tasks/{id}:subscribe"), &[V1], json!({})).await.events() })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let canceled = a2a.rpc(&[V1], "CancelTask", json!({"id": slow})).await;
    assert_eq!(canceled["result"]["status"]["state"], "TASK_STATE_CANCELED", "{canceled}");
    let events = subscriber.await.expect("subscriber");
    assert_eq!(events[0]["task"]["status"]["state"], "TASK_STATE_WORKING", "{events:?}");
    assert_eq!(events.last().expect("last")["statusUpdate"]["status"]["state"], "TASK_STATE_CANCELED");
    env.api.server.faults.set(FaultConfig::default());
    let again = a2a.rpc(&[V1], "CancelTask", json!({"id": slow})).await;
    assert_eq!(again["error"]["code"], -32002);
}

#[tokio::test]
async fn bad_input_gets_the_specified_error() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let a2a = A2a::new(&env);
    let root = format!("{}/", a2a.base);
    let raw = |body: &str| a2a.http.post_to(&root, &[V1], body.to_string());
    let a = raw("{not json").await;
    assert_eq!(a.json()["error"]["code"], -32700);
    assert_eq!(a.json()["id"], Value::Null);
    assert_eq!(raw(r#"{"id": 1, "method": "SendMessage"}"#).await.json()["error"]["code"], -32600);
    assert_eq!(raw(r#"[{"jsonrpc": "2.0", "id": 1, "method": "GetTask"}]"#).await.json()["error"]["code"], -32600);
    assert_eq!(
        raw(r#"{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": [1]}"#).await.json()["error"]["code"],
        -32602
    );
    let cases: Vec<(&str, Value, i64, &str)> = vec![
        ("tasks/send", json!({}), -32601, "not found"),
        ("GetTask", json!({"id": "no-such-task"}), -32001, "not found"),
        ("GetTask", json!({}), -32602, "params.id"),
        ("SendMessage", json!({}), -32602, "params.message"),
        ("SendMessage", json!({"message": {"role": "ROLE_USER", "parts": []}}), -32602, "at least one part"),
        ("SendMessage", json!({"message": data_message("make-coffee", json!({}))}), -32602, "unknown skill"),
        ("SendMessage", json!({"message": data_message("reconcile", json!({}))}), -32602, "read-only"),
        (
            "SendMessage",
            json!({"message": data_message("list-kustomizations", json!({"limit": "ten"}))}),
            -32602,
            "`limit`",
        ),
        (
            "SendMessage",
            json!({"message": data_message("get-kustomization", json!({"name": "Not_DNS", "namespace": "x"}))}),
            -32602,
            "`name`",
        ),
        (
            "SendMessage",
            json!({"message": {"role": "ROLE_USER", "parts": [{"url": "https://x/y.pdf", "mediaType": "application/pdf"}]}}),
            -32005,
            "files",
        ),
        (
            "SendMessage",
            json!({"message": text_message("hi"), "configuration": {"acceptedOutputModes": ["image/png"]}}),
            -32005,
            "image/png",
        ),
        (
            "SendMessage",
            json!({"message": text_message("hi"), "configuration": {"taskPushNotificationConfig": {"url": "http://x"}}}),
            -32602,
            "must use https",
        ),
        (
            "SendMessage",
            json!({"message": {"role": "ROLE_USER", "taskId": "nope", "parts": [{"text": "x"}]}}),
            -32001,
            "nope",
        ),
        ("ListTasks", json!({"pageSize": 150}), -32602, "between 1 and 100"),
        ("ListTasks", json!({"status": "TASK_STATE_RUNNING"}), -32602, "TASK_STATE_WORKING"),
        ("CreateTaskPushNotificationConfig", json!({}), -32602, "params.taskId"),
        ("GetExtendedAgentCard", json!({}), -32004, "extended"),
        ("tasks/create", json!({"skill": "nope", "input": {}}), -32602, "unknown skill"),
        ("tasks/create", json!({"input": {}}), -32602, "params.skill"),
        ("tasks/create", json!({"skill": "get-events", "input": {"limit": -1}}), -32602, "arguments.limit"),
    ];
    for (method, params, code, words) in cases {
        let r = a2a.rpc(&[V1], method, params.clone()).await;
        assert_eq!(r["error"]["code"], code, "{method} {params}: {r}");
        let text = r["error"].to_string().to_lowercase();
        assert!(text.contains(&words.to_lowercase()), "{method} {params}: {words:?} not in {text}");
    }
    let a = a2a.http.post_to(&root, &[("content-type", "text/plain")], "{'not': 'json'}".into()).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["error"]["code"], -32005, "{}", a.body);
    let a = a2a
        .rest_post("/message:send", &[V1, ("content-type", "text/plain")], json!({"message": text_message("hi")}))
        .await;
    assert_eq!(a.status, 415, "{}", a.body);
    let r = a2a.rpc(&[("a2a-version", "2.0")], "SendMessage", json!({"message": text_message("hi")})).await;
    assert_eq!(r["error"]["code"], -32009);
    let a = a2a.rest_post("/message:send", &[("a2a-version", "0.5")], json!({"message": text_message("hi")})).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["error"]["details"][0]["reason"], "VERSION_NOT_SUPPORTED");
    let a = a2a.rest_get("/tasks/nope", &[V1]).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["error"]["details"][0]["reason"], "TASK_NOT_FOUND");
    assert_eq!(a2a.rest_get("/tasks?pageSize=0", &[V1]).await.status, 400);
    assert_eq!(a2a.rest_post("/tasks/x:explode", &[V1], json!({})).await.status, 404);
    let big = "x".repeat(2 * 1024 * 1024);
    assert_eq!(
        raw(&format!(r#"{{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{{"pad":"{big}"}}}}"#)).await.status,
        413
    );
    // A streaming send with bad arguments streams the task to its rejection.
    let a = a2a
        .rpc_with(
            &[V1],
            "SendStreamingMessage",
            json!({"message": data_message("list-kustomizations", json!({"limit": "ten"}))}),
        )
        .await;
    let last = a.events().last().cloned().expect("events");
    assert_eq!(last["result"]["statusUpdate"]["status"]["state"], "TASK_STATE_REJECTED", "{last}");
    assert!(last.to_string().contains("invalid argument `limit`"));
    // Still serving.
    assert_eq!(a2a.rest_get("/.well-known/agent-card.json", &[]).await.status, 200);
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Replaces generated ids and times so exchanges compare byte for byte.
fn normalize(v: &Value, ids: &mut Vec<String>) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("id" | "sessionId" | "messageId" | "taskId" | "contextId", Value::String(s)) if is_uuid(s) => {
                            let n = ids.iter().position(|i| i == s).unwrap_or_else(|| {
                                ids.push(s.clone());
                                ids.len() - 1
                            });
                            json!(format!("<id-{n}>"))
                        }
                        ("timestamp", Value::String(_)) => json!("<timestamp>"),
                        _ => normalize(v, ids),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| normalize(v, ids)).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn predecessor_methods_keep_their_shapes() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let a2a = A2a::new(&env);
    let exchanges: Vec<(&str, &str, Value)> = vec![
        (
            "create",
            "tasks/create",
            json!({"id": "task-001", "sessionId": "session-1", "skill": "get-kustomization", "input": {"name": "apps", "namespace": "flux-system"}, "metadata": {"caller": "orchestrator"}}),
        ),
        ("get", "tasks/get", json!({"id": "task-001"})),
        (
            "message",
            "tasks/message",
            json!({"id": "task-001", "message": {"role": "user", "parts": [{"type": "text", "text": "which helm releases are failing?"}]}}),
        ),
        ("list", "tasks/list", json!({"sessionId": "session-1"})),
        ("cancel", "tasks/cancel", json!({"id": "task-001"})),
        ("duplicate", "tasks/create", json!({"id": "task-001", "skill": "get-gitops-status", "input": {}})),
    ];
    let mut ids = vec![];
    let mut transcript = String::new();
    for (name, method, params) in exchanges {
        let request = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let response = a2a.rpc(&[], method, params).await;
        let response = normalize(&response, &mut ids);
        transcript.push_str(&format!(
            "## {name}\n\nrequest:\n{}\n\nresponse:\n{}\n\n",
            serde_json::to_string_pretty(&request).expect("json"),
            serde_json::to_string_pretty(&response).expect("json")
        ));
    }
    let path = common::root().join("crates/server/tests/golden/a2a/predecessor.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &transcript).expect("write golden");
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(golden == transcript, "predecessor exchanges changed (UPDATE_GOLDEN=1 to accept):\n{transcript}");
}

#[tokio::test]
async fn a_task_waits_for_missing_arguments_and_subscribers_see_the_follow_up() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let a2a = A2a::new(&env);
    // Proto field names (snake_case) are accepted as well as JSON names.
    let r = a2a
        .rpc(
            &[V1],
            "SendMessage",
            json!({"message": {"role": "ROLE_USER", "message_id": "q-1", "context_id": "c-9",
            "parts": [{"text": "why is the kustomization failing?"}]}}),
        )
        .await;
    let task = &r["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_INPUT_REQUIRED", "{r}");
    assert_eq!(task["contextId"], "c-9");
    let ask = task["status"]["message"]["parts"][0]["text"].as_str().expect("question");
    assert!(ask.contains("`name`") && ask.contains("`namespace`"), "{ask}");
    let id = task["id"].as_str().expect("id").to_string();

    let subscriber = {
        let a2a = A2a::new(&env);
        let id = id.clone();
        tokio::spawn(async move { a2a.rpc_with(&[V1], "SubscribeToTask", json!({"id": id})).await.events() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = a2a
        .rpc(
            &[V1],
            "SendMessage",
            json!({"message": {"role": "ROLE_USER", "taskId": id, "parts": [{"text": "apps in flux-system"}]}}),
        )
        .await;
    let task = &r["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{r}");
    assert_eq!(task["history"].as_array().map(Vec::len), Some(2));
    assert!(task["artifacts"][0]["parts"][0]["text"].as_str().is_some_and(|t| t.contains("apps")), "{r}");
    let got = a2a.rpc(&[V1], "GetTask", json!({"id": id, "history_length": 1})).await;
    assert_eq!(got["result"]["history"].as_array().map(Vec::len), Some(1), "{got}");

    let events: Vec<Value> = subscriber.await.expect("subscriber").into_iter().map(|e| e["result"].clone()).collect();
    assert_eq!(events[0]["task"]["status"]["state"], "TASK_STATE_INPUT_REQUIRED", "{events:?}");
    let states: Vec<&str> = events[1..].iter().filter_map(|e| e["statusUpdate"]["status"]["state"].as_str()).collect();
    assert_eq!(states, ["TASK_STATE_WORKING", "TASK_STATE_COMPLETED"], "{events:?}");

    // A finished task takes no more messages; one waiting for input can be canceled.
    let r = a2a
        .rpc(
            &[V1],
            "SendMessage",
            json!({"message": {"role": "ROLE_USER", "taskId": id, "parts": [{"text": "again"}]}}),
        )
        .await;
    assert_eq!(r["error"]["code"], -32004, "{r}");
    let r = a2a.rpc(&[V1], "SendMessage", json!({"message": text_message("show me the logs")})).await;
    let waiting = r["result"]["task"]["id"].as_str().expect("id").to_string();
    let r = a2a.rpc(&[V1], "SendMessage", json!({"message": {"role": "ROLE_USER", "taskId": waiting, "contextId": "other", "parts": [{"text": "x"}]}})).await;
    assert_eq!(r["error"]["code"], -32602, "a taskId from another context: {r}");
    let canceled = a2a.rest_post(&format!("/tasks/{waiting}:cancel"), &[V1], json!({})).await;
    assert_eq!(canceled.status, 200, "{}", canceled.body);
    assert_eq!(canceled.json()["status"]["state"], "TASK_STATE_CANCELED");
}
