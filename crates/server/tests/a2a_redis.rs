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

use common::{A2a, Env, Mcp, Receiver};
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

/// A replica killed while it runs a task: the other replica, on the same Redis, ends the task as
/// failed with the reason once the killed replica's claim lapses, and a client that subscribed
/// there (its stream to the killed one broke) gets that end. Nothing stays working.
#[tokio::test]
async fn a_task_whose_replica_is_killed_mid_run_fails_with_the_reason_on_another() {
    let redis = Redis::start();
    let lease = "--task-runner-lease-seconds=2".to_string();
    let b = common::start(common::Options {
        fixtures: true,
        extra_args: vec![format!("--task-store={}", redis.url()), lease.clone()],
        ..Default::default()
    })
    .await;
    // Replica A is a process of its own, so that it can be killed as a pod is.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let mut a = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_gitops-agent"))
            .args(["serve", "--bind-address=127.0.0.1", "--metrics-port=0"])
            .arg(format!("--kubeconfig={}", b.kubeconfig.display()))
            .arg(format!("--port={port}"))
            .arg(format!("--task-store={}", redis.url()))
            .arg(&lease)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start replica A"),
    );
    let a_url = format!("http://127.0.0.1:{port}");
    let http = Mcp::new(format!("{a_url}/"));
    common::eventually("replica A listens", Duration::from_secs(30), || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
    })
    .await;
    common::eventually("replica A ready", Duration::from_secs(30), || async {
        (http.get(&format!("{a_url}/readyz")).await.status == 200).then_some(())
    })
    .await;

    // A slow call (every API request now takes a minute) keeps the task working on A.
    b.api.server.faults.set(FaultConfig { latency_ms: 60_000, ..Default::default() });
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {
        "message": {"role": "ROLE_USER", "messageId": "m1", "parts": [{"data": {"skill": "get-pod-logs",
            "arguments": {"pod_name": "api-5d8c7b9f4-x2k9p", "namespace": "team-b"}}}]},
        "configuration": {"returnImmediately": true}}});
    let sent = http.post_to(&http.url, &[V1], body.to_string()).await.json();
    let id = sent["result"]["task"]["id"].as_str().unwrap_or_else(|| panic!("no task: {sent}")).to_string();
    common::eventually("B reads the task as working", Duration::from_secs(10), || async {
        let got = rpc(&b.agent, "GetTask", json!({"id": id})).await;
        (got["result"]["status"]["state"] == "TASK_STATE_WORKING").then_some(())
    })
    .await;
    let subscriber = {
        let url = format!("{}/", b.agent.url());
        let id = id.clone();
        tokio::spawn(async move {
            let http = Mcp::new(url.clone());
            let body = json!({"jsonrpc": "2.0", "id": 2, "method": "SubscribeToTask", "params": {"id": id}});
            http.post_to(&url, &[V1], body.to_string()).await.events()
        })
    };
    // Past one lease, A's renewed claim keeps the task working for B.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = rpc(&b.agent, "GetTask", json!({"id": id})).await;
    assert_eq!(during["result"]["status"]["state"], "TASK_STATE_WORKING", "{during}");

    a.0.kill().expect("kill replica A");
    let _ = a.0.wait();
    let events = tokio::time::timeout(Duration::from_secs(20), subscriber)
        .await
        .expect("the subscription on B ends once A's claim lapses")
        .expect("subscriber");
    assert_eq!(events[0]["result"]["task"]["status"]["state"], "TASK_STATE_WORKING", "{events:?}");
    let last = &events.last().expect("events")["result"]["statusUpdate"]["status"];
    assert_eq!(last["state"], "TASK_STATE_FAILED", "{events:?}");
    let why = last["message"]["parts"][0]["text"].as_str().unwrap_or_default();
    assert!(why.contains("stopped before it finished"), "{why}");
    let got = rpc(&b.agent, "GetTask", json!({"id": id})).await;
    assert_eq!(got["result"]["status"]["state"], "TASK_STATE_FAILED", "{got}");
    b.api.server.faults.set(FaultConfig::default());
}

/// A config taken by one replica lives in Redis with the task: the replica that runs the task
/// next delivers to it, signed with the key both replicas were given (one JWKS for both).
#[tokio::test]
async fn a_push_config_registered_on_one_replica_is_delivered_by_the_other() {
    use base64::Engine;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

    let redis = Redis::start();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &ring::rand::SystemRandom::new()).expect("key");
    let key = std::env::temp_dir().join(format!("push-key-{}", uuid::Uuid::new_v4()));
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
    );
    std::fs::write(&key, pem).expect("key file");
    let args = vec![
        format!("--task-store={}", redis.url()),
        "--a2a-push-allow-hosts=127.0.0.1".to_string(),
        format!("--a2a-push-signing-key={}", key.display()),
    ];
    let a = common::start(common::Options { fixtures: true, extra_args: args.clone(), ..Default::default() }).await;
    let b = common::start_agent(&a, args).await;

    let (hook, url) = Receiver::start(&[]).await;

    let r = rpc(
        &a.agent,
        "SendMessage",
        json!({"message": {"role": "ROLE_USER", "parts": [{"text": "why is the kustomization failing?"}]}}),
    )
    .await;
    let task = r["result"]["task"]["id"].as_str().expect("id").to_string();
    let r = rpc(&b, "CreateTaskPushNotificationConfig", json!({"taskId": task, "id": "hook", "url": url})).await;
    assert!(r.get("error").is_none(), "{r}");
    let r = rpc(&a.agent, "GetTaskPushNotificationConfig", json!({"taskId": task, "id": "hook"})).await;
    assert_eq!(r["result"]["url"], url.as_str(), "either replica reads it: {r}");
    let r = rpc(
        &a.agent,
        "SendMessage",
        json!({"message": {"role": "ROLE_USER", "taskId": task, "parts": [{"text": "apps in flux-system"}]}}),
    )
    .await;
    assert_eq!(r["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED", "{r}");
    let state = |v: &Value| v["statusUpdate"]["status"]["state"].as_str().map(String::from);
    let got = hook.until("the completed update", |v| state(v).as_deref() == Some("TASK_STATE_COMPLETED")).await;
    let states: Vec<String> = got.iter().filter_map(|(_, v, _)| state(v)).collect();
    assert_eq!(states, ["TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]);
    let jwks_a = A2a::of(&a.agent).rest_get("/.well-known/jwks.json", &[]).await.body;
    let jwks_b = A2a::of(&b).rest_get("/.well-known/jwks.json", &[]).await.body;
    assert_eq!(jwks_a, jwks_b, "one key for both replicas");
    let _ = std::fs::remove_file(&key);
}
