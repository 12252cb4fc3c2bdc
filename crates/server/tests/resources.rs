//! MCP resources and completion at a size the fixture cluster does not reach: `resources/list`
//! pages through 1,200 more objects with cursors, each resource once and in URI order, and
//! completion answers 100 values with the total and `hasMore`. (The protocol tests cover each
//! capability through the official SDKs on the fixture cluster.)

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

const BULK: usize = 1_200;

fn kustomization(i: usize) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": format!("app-{i:04}"), "namespace": "bulk"},
        "spec": {"interval": "5m", "path": "./", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "Applied", "lastTransitionTime": "2026-11-24T10:00:00Z"}]}
    })
}

async fn list_page(env: &common::Env, cursor: Option<&str>) -> Value {
    let params = match cursor {
        Some(c) => json!({"cursor": c}),
        None => json!({}),
    };
    env.mcp.request("resources/list", None, params).await
}

#[tokio::test]
async fn resources_page_through_every_object_once_and_completion_is_bounded() {
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    let before = list_page(&env, None).await["result"]["resources"].as_array().expect("resources").len();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bulk"}});
    fake_apiserver::fixtures::put_object(&env.api.server, &namespace).expect("namespace");
    for i in 0..BULK {
        fake_apiserver::fixtures::put_object(&env.api.server, &kustomization(i)).expect("put");
    }
    common::eventually("the agent caches the new objects", Duration::from_secs(30), || async {
        let (_, data) = env.mcp.ok("list_kustomizations", json!({"namespace": "bulk", "limit": 1})).await;
        (data["page"]["total"] == BULK).then_some(())
    })
    .await;

    let mut seen: Vec<String> = Vec::new();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = list_page(&env, cursor.as_deref()).await;
        let result = &page["result"];
        let uris: Vec<String> = result["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| r["uri"].as_str().expect("uri").into())
            .collect();
        pages.push(uris.len());
        seen.extend(uris);
        match result["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, [500, 500, before + BULK - 1000], "pages of 500");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no resource twice");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in URI order across pages");
    assert!(seen.contains(&"flux://local/kustomization/bulk/app-0000".to_string()));
    assert!(seen.contains(&"flux://local/kustomization/bulk/app-1199".to_string()));

    let bad = list_page(&env, Some("not-a-cursor")).await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    assert!(bad["error"]["message"].as_str().is_some_and(|m| m.contains("nextCursor")), "{bad}");

    let complete = |value: &str| {
        json!({
            "ref": {"type": "ref/resource", "uri": "flux://{cluster}/kustomization/{namespace}/{name}"},
            "argument": {"name": "name", "value": value},
            "context": {"arguments": {"namespace": "bulk"}}
        })
    };
    let all = env.mcp.request("completion/complete", None, complete("app-")).await;
    let completion = &all["result"]["completion"];
    assert_eq!(completion["values"].as_array().map(Vec::len), Some(100), "{completion}");
    assert_eq!(completion["values"][0], "app-0000");
    assert_eq!(completion["total"], BULK);
    assert_eq!(completion["hasMore"], true);
    let few = env.mcp.request("completion/complete", None, complete("app-119")).await;
    assert_eq!(few["result"]["completion"]["total"], 10, "{few}");
    assert_eq!(few["result"]["completion"]["hasMore"], false, "{few}");
}
