//! A2A push notifications over real HTTP: config CRUD in both dialects and over HTTP+JSON, what a
//! webhook receives (order, shape, headers, the signed token checked against the published JWKS),
//! retries on 5xx, refused addresses, and TLS to a webhook only with its CA trusted.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gitops_agent_server::metrics::OutcomeLabels;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use common::{A2a, Env, Receiver};

const V1: (&str, &str) = ("a2a-version", "1.0");

async fn env_with(extra: &[&str]) -> Env {
    let mut args = vec!["--a2a-push-allow-hosts=127.0.0.1".to_string(), "--a2a-push-retry-ms=50".to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    common::start(common::Options { fixtures: true, extra_args: args, ..Default::default() }).await
}

/// The push tests' turns on top of the common client.
trait PushTurns {
    async fn waiting_task(&self) -> String;
    async fn follow_up(&self, task: &str) -> Value;
    async fn send_with_push(&self, url: &str) -> Value;
}

impl PushTurns for A2a {
    /// A task waiting for input (the skill needs a name and a namespace): it runs again, and
    /// notifies, when the follow-up comes.
    async fn waiting_task(&self) -> String {
        let r = self
            .rpc(
                &[V1],
                "SendMessage",
                json!({"message": {"role": "ROLE_USER", "parts": [{"text": "why is the kustomization failing?"}]}}),
            )
            .await;
        assert_eq!(r["result"]["task"]["status"]["state"], "TASK_STATE_INPUT_REQUIRED", "{r}");
        r["result"]["task"]["id"].as_str().expect("id").to_string()
    }

    /// A skill call with a push config in the message: it is the task's from its first update.
    async fn send_with_push(&self, url: &str) -> Value {
        self.rpc(
            &[V1],
            "SendMessage",
            json!({"message": {"role": "ROLE_USER", "parts": [{"data": {"skill": "get-gitops-status", "arguments": {}}}]},
                "configuration": {"taskPushNotificationConfig": {"url": url}}}),
        )
        .await
    }

    async fn follow_up(&self, task: &str) -> Value {
        let r = self
            .rpc(
                &[V1],
                "SendMessage",
                json!({"message": {"role": "ROLE_USER", "taskId": task, "parts": [{"text": "apps in flux-system"}]}}),
            )
            .await;
        assert_eq!(r["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED", "{r}");
        r
    }
}

/// How many push notifications (or tries) ended with `outcome`.
fn count(family: &Family<OutcomeLabels, Counter>, outcome: &str) -> u64 {
    family.get_or_create(&OutcomeLabels { outcome: outcome.into() }).get()
}

fn state(v: &Value) -> Option<&str> {
    v["statusUpdate"]["status"]["state"].as_str()
}

#[tokio::test]
async fn push_configs_are_created_read_listed_and_deleted_in_both_dialects() {
    let env = env_with(&[]).await;
    let a2a = A2a::new(&env);
    let card = a2a.rest_get("/.well-known/agent-card.json", &[]).await.json();
    assert_eq!(card["capabilities"]["pushNotifications"], true);
    let task = a2a.waiting_task().await;

    // A2A 1.0: the config is the params.
    let config = json!({"taskId": task, "id": "c1", "url": "https://203.0.113.10/a2a", "token": "t-1",
        "authentication": {"scheme": "Bearer", "credentials": "s3cret"}});
    let r = a2a.rpc(&[V1], "CreateTaskPushNotificationConfig", config.clone()).await;
    assert_eq!(r["result"], config, "{r}");
    let r = a2a.rpc(&[V1], "GetTaskPushNotificationConfig", json!({"taskId": task, "id": "c1"})).await;
    assert_eq!(r["result"], config);
    // A2A 0.3: the task is `id`, the config under `pushNotificationConfig`, schemes listed.
    let r = a2a
        .rpc(
            &[],
            "tasks/pushNotificationConfig/set",
            json!({"taskId": task, "pushNotificationConfig": {"id": "c2", "url": "https://203.0.113.10/v03",
                "authentication": {"schemes": ["Bearer"]}}}),
        )
        .await;
    assert_eq!(r["result"]["pushNotificationConfig"]["authentication"]["schemes"], json!(["Bearer"]), "{r}");
    let r = a2a.rpc(&[], "tasks/pushNotificationConfig/list", json!({"id": task})).await;
    let ids: Vec<&str> = r["result"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["pushNotificationConfig"]["id"].as_str())
        .collect();
    assert_eq!(ids, ["c1", "c2"], "{r}");
    let r =
        a2a.rpc(&[], "tasks/pushNotificationConfig/get", json!({"id": task, "pushNotificationConfigId": "c2"})).await;
    assert_eq!(r["result"]["pushNotificationConfig"]["url"], "https://203.0.113.10/v03", "{r}");
    // HTTP+JSON: the path names the task.
    let rest = format!("{}/tasks/{task}/pushNotificationConfigs", a2a.base);
    let a = a2a.http.post_to(&rest, &[], json!({"id": "c3", "url": "https://203.0.113.10/rest"}).to_string()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["taskId"], task.as_str());
    let listed = a2a.http.get(&rest).await.json();
    assert_eq!(listed["configs"].as_array().map(Vec::len), Some(3), "{listed}");
    assert_eq!(listed["nextPageToken"], "");
    let page = a2a.rpc(&[V1], "ListTaskPushNotificationConfigs", json!({"taskId": task, "pageSize": 2})).await;
    assert_eq!(page["result"]["configs"].as_array().map(Vec::len), Some(2), "{page}");
    let rest_of = a2a
        .rpc(
            &[V1],
            "ListTaskPushNotificationConfigs",
            json!({"taskId": task, "pageToken": page["result"]["nextPageToken"]}),
        )
        .await;
    assert_eq!(rest_of["result"]["configs"][0]["id"], "c3", "{rest_of}");
    let got = a2a.http.get(&format!("{rest}/c3")).await.json();
    assert_eq!(got["url"], "https://203.0.113.10/rest");

    // Deleting is idempotent; a config that is not there is TaskNotFoundError.
    let deleted = a2a.http.delete(&format!("{rest}/c3")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    for _ in 0..2 {
        let r = a2a.rpc(&[V1], "DeleteTaskPushNotificationConfig", json!({"taskId": task, "id": "c1"})).await;
        assert!(r.get("error").is_none(), "{r}");
    }
    let r = a2a
        .rpc(&[], "tasks/pushNotificationConfig/delete", json!({"id": task, "pushNotificationConfigId": "c2"}))
        .await;
    assert_eq!(r["result"], Value::Null, "{r}");
    let r = a2a.rpc(&[V1], "GetTaskPushNotificationConfig", json!({"taskId": task, "id": "c1"})).await;
    assert_eq!(r["error"]["code"], -32001, "{r}");
    assert!(r["error"]["message"].as_str().is_some_and(|m| m.contains("c1")), "{r}");
    let r = a2a.rpc(&[V1], "ListTaskPushNotificationConfigs", json!({"taskId": "no-such-task"})).await;
    assert_eq!(r["error"]["code"], -32001, "{r}");

    // Bounded per task.
    for i in 0..10 {
        let r = a2a
            .rpc(
                &[V1],
                "CreateTaskPushNotificationConfig",
                json!({"taskId": task, "id": format!("n{i}"), "url": "https://203.0.113.10/"}),
            )
            .await;
        assert!(r.get("error").is_none(), "{r}");
    }
    let r = a2a
        .rpc(&[V1], "CreateTaskPushNotificationConfig", json!({"taskId": task, "url": "https://203.0.113.10/"}))
        .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(r["error"]["message"].as_str().is_some_and(|m| m.contains("10 push notification configs")), "{r}");
}

#[tokio::test]
async fn each_update_is_posted_in_order_with_the_configured_authentication_and_retried_on_500() {
    let env = env_with(&[]).await;
    let a2a = A2a::new(&env);
    // The first try of the first notification fails: it is sent again, before the next one.
    let (hook, url) = Receiver::start(&[500]).await;
    let (v03_hook, v03_url) = Receiver::start(&[]).await;
    let task = a2a.waiting_task().await;
    let r = a2a
        .rpc(
            &[V1],
            "CreateTaskPushNotificationConfig",
            json!({"taskId": task, "url": url, "token": "tok-1", "authentication": {"scheme": "Bearer", "credentials": "s3cret"}}),
        )
        .await;
    assert!(r.get("error").is_none(), "{r}");
    let r = a2a
        .rpc(
            &[],
            "tasks/pushNotificationConfig/set",
            json!({"taskId": task, "pushNotificationConfig": {"url": v03_url}}),
        )
        .await;
    assert!(r.get("error").is_none(), "{r}");
    a2a.follow_up(&task).await;

    let got = hook.until("the completed update", |v| state(v) == Some("TASK_STATE_COMPLETED")).await;
    let kinds: Vec<String> = got
        .iter()
        .map(|(_, v, _)| {
            state(v)
                .map(String::from)
                .unwrap_or_else(|| v.as_object().and_then(|o| o.keys().next().cloned()).unwrap_or_default())
        })
        .collect();
    assert_eq!(
        kinds,
        ["TASK_STATE_WORKING", "TASK_STATE_WORKING", "artifactUpdate", "TASK_STATE_COMPLETED"],
        "{got:?}"
    );
    for (headers, v, _) in &got {
        assert_eq!(headers["authorization"], "Bearer s3cret");
        assert_eq!(headers["x-a2a-notification-token"], "tok-1");
        assert_eq!(headers["content-type"], "application/a2a+json");
        let update = v.get("statusUpdate").or_else(|| v.get("artifactUpdate")).expect("a StreamResponse");
        assert_eq!(update["taskId"], task.as_str());
    }
    assert!(got[2].1["artifactUpdate"]["artifact"]["parts"][0]["text"].as_str().is_some_and(|t| t.contains("apps")));

    // 0.3: the task itself, on each status change.
    let got = v03_hook.until("the completed task", |v| v["status"]["state"] == "completed").await;
    let states: Vec<&str> = got.iter().filter_map(|(_, v, _)| v["status"]["state"].as_str()).collect();
    assert_eq!(states, ["working", "completed"], "{got:?}");
    assert_eq!(got[1].1["kind"], "task");
    assert_eq!(got[1].1["id"], task.as_str());
    assert_eq!(got[1].0["content-type"], "application/json");

    let metrics = &env.agent.agent.metrics;
    assert_eq!(count(&metrics.push_deliveries, "delivered"), 5);
    assert_eq!(count(&metrics.push_attempts, "5xx"), 1);
    assert_eq!(count(&metrics.push_attempts, "ok"), 5);
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_is_given_up_after_the_set_tries() {
    let env = env_with(&["--a2a-push-attempts=3"]).await;
    let a2a = A2a::new(&env);
    let (hook, url) = Receiver::start(&[503, 503, 503, 400]).await;
    // Sent with the message: the config is the task's from its first update on.
    let r = a2a.send_with_push(&url).await;
    assert_eq!(r["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED", "{r}");
    let metrics = env.agent.agent.metrics.clone();
    common::eventually("the notifications to end", Duration::from_secs(10), || {
        let metrics = metrics.clone();
        async move {
            let failed = count(&metrics.push_deliveries, "failed");
            let delivered = count(&metrics.push_deliveries, "delivered");
            (failed + delivered == 3).then_some(())
        }
    })
    .await;
    // working: three 503s, given up; the artifact: a 400, not retried; completed: delivered.
    let failed = count(&metrics.push_deliveries, "failed");
    assert_eq!(failed, 2);
    assert_eq!(hook.got().len(), 5);
    assert_eq!(state(&hook.got()[4].1), Some("TASK_STATE_COMPLETED"));
}

#[tokio::test]
async fn notifications_without_credentials_carry_a_token_signed_with_the_published_key() {
    let env = env_with(&[]).await;
    let a2a = A2a::new(&env);
    let (hook, url) = Receiver::start(&[]).await;
    let task = a2a.waiting_task().await;
    let r = a2a.rpc(&[V1], "CreateTaskPushNotificationConfig", json!({"taskId": task, "url": url})).await;
    assert!(r.get("error").is_none(), "{r}");
    a2a.follow_up(&task).await;
    let got = hook.until("the completed update", |v| state(v) == Some("TASK_STATE_COMPLETED")).await;

    let card = a2a.rest_get("/.well-known/agent-card.json", &[]).await.json();
    let jwks_url = card["capabilities"]["extensions"]
        .as_array()
        .expect("extensions")
        .iter()
        .find(|e| e["uri"] == "https://gitops-agent.dev/a2a/extensions/push-signature/v1")
        .and_then(|e| e["params"]["jwksUrl"].as_str())
        .expect("the card says where the key is")
        .to_string();
    let jwks: Value = serde_json::from_str(&a2a.http.get(&jwks_url).await.body).expect("JWKS");
    for (headers, _, body) in &got {
        let token = headers["authorization"].to_str().expect("ascii").strip_prefix("Bearer ").expect("bearer");
        let parts: Vec<&str> = token.split('.').collect();
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        let key =
            jwks["keys"].as_array().expect("keys").iter().find(|k| k["kid"] == header["kid"]).expect("key by kid");
        assert_eq!((header["alg"].as_str(), key["crv"].as_str()), (Some("ES256"), Some("P-256")));
        let mut point = vec![4u8];
        for c in ["x", "y"] {
            point.extend(URL_SAFE_NO_PAD.decode(key[c].as_str().expect("coordinate")).expect("b64"));
        }
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("b64");
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the signature verifies with the published key");
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        assert_eq!(claims["aud"], url.as_str());
        assert_eq!(claims["iss"], a2a.base.trim_end_matches('/'));
        assert_eq!(claims["taskId"], task.as_str());
        let digest: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(claims["request_body_sha256"], digest, "the token binds the body it came with");
        let now = jiff::Timestamp::now().as_second();
        assert!(claims["iat"].as_i64().is_some_and(|t| (now - 60..=now).contains(&t)));
        assert!(claims["exp"].as_i64().is_some_and(|t| t > now));
    }
}

#[tokio::test]
async fn webhooks_at_internal_addresses_are_refused() {
    let env = env_with(&[]).await;
    let a2a = A2a::new(&env);
    let task = a2a.waiting_task().await;
    // The machine's own name resolves to a loopback address (Debian's /etc/hosts): only the
    // resolution tells it from a public name.
    let hostname = std::process::Command::new("hostname").output().expect("hostname").stdout;
    let hostname = String::from_utf8_lossy(&hostname).trim().to_string();
    let resolves_to_loopback = tokio::net::lookup_host((hostname.as_str(), 443))
        .await
        .is_ok_and(|mut addrs| addrs.all(|a| a.ip().is_loopback()));
    assert!(resolves_to_loopback, "{hostname} should resolve to a loopback address on this machine");
    let by_name = format!("https://{hostname}:8443/hook");
    for url in [
        by_name.as_str(),
        "https://localhost:8443/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://10.96.0.1/",
        "https://kubernetes.default.svc/",
        "http://hooks.example.com/",
        "http://127.0.0.2/hook",
    ] {
        let r = a2a.rpc(&[V1], "CreateTaskPushNotificationConfig", json!({"taskId": task, "url": url})).await;
        assert_eq!(r["error"]["code"], -32602, "{url}: {r}");
        assert_eq!(r["error"]["data"][1]["fieldViolations"][0]["field"], "params.url", "{url}: {r}");
        let r = a2a
            .rpc(
                &[V1],
                "SendMessage",
                json!({"message": {"role": "ROLE_USER", "parts": [{"text": "x"}]}, "configuration": {"taskPushNotificationConfig": {"url": url}}}),
            )
            .await;
        assert_eq!(
            r["error"]["data"][1]["fieldViolations"][0]["field"], "params.configuration.taskPushNotificationConfig.url",
            "{url}: {r}"
        );
    }
    // Nothing was started for the refused messages.
    let listed = a2a.rpc(&[V1], "ListTasks", json!({})).await;
    assert_eq!(listed["result"]["totalSize"], 1, "{listed}");
}

#[tokio::test]
async fn push_notifications_can_be_turned_off() {
    let env = env_with(&["--a2a-push=false"]).await;
    let a2a = A2a::new(&env);
    let card = a2a.rest_get("/.well-known/agent-card.json", &[]).await.json();
    assert_eq!(card["capabilities"]["pushNotifications"], false);
    let task = a2a.waiting_task().await;
    let r = a2a
        .rpc(&[V1], "CreateTaskPushNotificationConfig", json!({"taskId": task, "url": "https://203.0.113.10/"}))
        .await;
    assert_eq!(r["error"]["code"], -32003, "{r}");
    assert_eq!(a2a.rest_get("/.well-known/jwks.json", &[]).await.status, 404);
}

#[tokio::test]
async fn tls_to_a_webhook_is_verified_against_the_trusted_roots() {
    // The embedded API server serves HTTPS with a certificate of its own CA: as a webhook it
    // answers 404, which means the TLS handshake passed; without its CA trusted it never gets there.
    let env = env_with(&[]).await;
    let dir = std::env::temp_dir().join(format!("push-ca-{}", uuid::Uuid::new_v4()));
    std::fs::write(&dir, env.api.ca_pem.as_deref().expect("TLS")).expect("write CA");
    let trusting = common::start_agent(
        &env,
        vec![
            "--a2a-push-allow-hosts=127.0.0.1".into(),
            format!("--a2a-push-ca-file={}", dir.display()),
            "--a2a-push-attempts=2".into(),
            "--a2a-push-retry-ms=50".into(),
        ],
    )
    .await;
    let url = format!("{}/push-hook", env.api.url);
    for (agent, outcome) in [(&env.agent, "error"), (&trusting, "4xx")] {
        let a2a = A2a::of(agent);
        let r = a2a.send_with_push(&url).await;
        assert!(r.get("error").is_none(), "{r}");
        let metrics = agent.agent.metrics.clone();
        common::eventually(&format!("a {outcome} try"), Duration::from_secs(10), || {
            let metrics = metrics.clone();
            async move { (count(&metrics.push_attempts, outcome) > 0).then_some(()) }
        })
        .await;
    }
    assert_eq!(count(&env.agent.agent.metrics.push_attempts, "4xx"), 0);
    let _ = std::fs::remove_file(&dir);
}
