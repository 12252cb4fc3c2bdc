//! Two replicas behind one Service share tasks through Redis: either answers GetTask and
//! ListTasks for tasks the other ran, cancels them, and follows them by subscription. With the
//! in-memory store they cannot (why the operator pins sessions in that case).
//! Needs Debian's `redis-server` on PATH (.ci/run installs it).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use fake_apiserver::FaultConfig;
use fake_apiserver::process::KillOnDrop;
use serde_json::{Value, json};

use common::{Env, Mcp};
use gitops_agent_server::serve;

const V1: (&str, &str) = ("a2a-version", "1.0");

/// A throwaway `redis-server` on a free port, stopped on drop.
struct Redis {
    _child: KillOnDrop,
    port: u16,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let dir = std::env::temp_dir().join(format!("gitops-agent-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): install Debian's redis-server package"));
        let child = KillOnDrop(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Redis { _child: child, port, _dir: tempdir::Dir(dir) };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not listen on {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

async fn rpc(agent: &serve::Running, method: &str, params: Value) -> Value {
    let http = Mcp::new(format!("{}/", agent.url()));
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let a = http.post_to(&http.url, &[V1], body.to_string()).await;
    assert_eq!(a.status, 200, "{method}: {}", a.body);
    a.json()
}

/// A second agent on the same API server (another replica).
async fn replica(first: &Env, store: &str) -> serve::Running {
    common::start_agent(first, vec![format!("--task-store={store}")]).await
}

#[tokio::test]
async fn replicas_sharing_redis_answer_for_each_others_tasks() {
    let redis = Redis::start();
    let a = common::start(common::Options {
        fixtures: true,
        extra_args: vec![format!("--task-store={}", redis.url())],
        ..Default::default()
    })
    .await;
    let b = replica(&a, &redis.url()).await;

    let sent = rpc(
        &a.agent,
        "SendMessage",
        json!({"message": {"role": "ROLE_USER", "contextId": "ctx-r",
        "parts": [{"data": {"skill": "get-gitops-status", "arguments": {}}}]}}),
    )
    .await;
    let id = sent["result"]["task"]["id"].as_str().expect("id").to_string();
    let got = rpc(&b, "GetTask", json!({"id": id})).await;
    assert_eq!(got["result"]["status"]["state"], "TASK_STATE_COMPLETED", "{got}");
    assert_eq!(got["result"]["artifacts"], sent["result"]["task"]["artifacts"], "the same answer from either replica");
    let listed = rpc(&b, "ListTasks", json!({"contextId": "ctx-r"})).await;
    assert_eq!(listed["result"]["totalSize"], 1, "{listed}");

    // A task waiting for input on A is continued on B.
    let asked = rpc(
        &a.agent,
        "SendMessage",
        json!({"message": {"role": "ROLE_USER", "parts": [{"text": "why is the kustomization failing?"}]}}),
    )
    .await;
    let waiting = asked["result"]["task"]["id"].as_str().expect("id").to_string();
    let done = rpc(
        &b,
        "SendMessage",
        json!({"message": {"role": "ROLE_USER", "taskId": waiting, "parts": [{"text": "apps in flux-system"}]}}),
    )
    .await;
    assert_eq!(done["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED", "{done}");

    // A slow task running on A: B follows it through the store, and B's cancel stops it.
    a.api.server.faults.set(FaultConfig { latency_ms: 2500, ..Default::default() });
    let slow = rpc(&a.agent, "SendMessage", json!({
        "message": {"role": "ROLE_USER", "parts": [{"data": {"skill": "get-pod-logs", "arguments": {"pod_name": "api-5d8c7b9f4-x2k9p", "namespace": "team-b"}}}]},
        "configuration": {"returnImmediately": true},
    })).await;
    let slow = slow["result"]["task"]["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let subscriber = {
        let url = format!("{}/", b.url());
        let id = slow.clone();
        tokio::spawn(async move {
            let http = Mcp::new(url.clone());
            let body = json!({"jsonrpc": "2.0", "id": 2, "method": "SubscribeToTask", "params": {"id": id}});
            http.post_to(&url, &[V1], body.to_string()).await.events()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let canceled = rpc(&b, "CancelTask", json!({"id": slow})).await;
    assert_eq!(canceled["result"]["status"]["state"], "TASK_STATE_CANCELED", "{canceled}");
    let events = subscriber.await.expect("subscriber");
    assert_eq!(events[0]["result"]["task"]["status"]["state"], "TASK_STATE_WORKING", "{events:?}");
    assert_eq!(events.last().expect("last")["result"]["statusUpdate"]["status"]["state"], "TASK_STATE_CANCELED");
    a.api.server.faults.set(FaultConfig::default());
    // A finishes the call later; the cancel in the store stands.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let after = rpc(&a.agent, "GetTask", json!({"id": slow})).await;
    assert_eq!(after["result"]["status"]["state"], "TASK_STATE_CANCELED", "{after}");
}

#[tokio::test]
async fn replicas_with_the_memory_store_only_know_their_own_tasks() {
    let a = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let b = replica(&a, "memory").await;
    let sent = rpc(
        &a.agent,
        "SendMessage",
        json!({"message": {"role": "ROLE_USER", "parts": [{"text": "flux health summary"}]}}),
    )
    .await;
    let id = sent["result"]["task"]["id"].as_str().expect("id");
    assert_eq!(rpc(&b, "GetTask", json!({"id": id})).await["error"]["code"], -32001);
}

#[tokio::test]
async fn an_unreachable_task_store_is_a_clear_startup_error() {
    let a = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let err =
        common::try_start_agent(&a, vec!["--task-store=redis://127.0.0.1:1/0".into()]).await.err().expect("refused");
    assert!(err.to_string().contains("--task-store") && err.to_string().contains("Redis"), "{err}");
    let err = common::try_start_agent(&a, vec!["--task-store=postgres://x".into()]).await.err().expect("refused");
    assert!(err.to_string().contains("expected `memory` or a redis:// URL"), "{err}");
}
