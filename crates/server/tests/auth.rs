//! Caller authentication and RBAC scoping (`--auth=kubernetes`) against the embedded API server
//! with RBAC enforced: 401s with the MCP authorization spec's challenge, protected-resource
//! metadata, answers limited to what each caller's own RBAC allows (cache reads and direct API
//! reads), writes needing the caller's own `patch`, A2A tasks private to their caller.

mod common;

use fake_apiserver::auth::User;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde_json::{Value, json};

use common::{Env, Mcp};

const ISSUER: &str = "https://issuer.example.com";

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
    PolicyRule {
        api_groups: strings(groups),
        resources: strings(resources),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..PolicyRule::default()
    }
}

fn user(name: &str) -> Subject {
    Subject {
        kind: "User".into(),
        name: name.into(),
        api_group: Some("rbac.authorization.k8s.io".into()),
        ..Subject::default()
    }
}

const READ: &[&str] = &["get", "list", "watch"];
const FLUX: &[&str] = &["helm.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "source.toolkit.fluxcd.io"];

/// An agent with `--auth=kubernetes` and three users: `dev` may read Flux objects and events in
/// `team-b` only, `viewer` may read Flux objects everywhere but change nothing, `operator` may
/// also patch HelmReleases in `team-b`.
async fn start() -> (Env, [String; 3]) {
    let env = common::start(common::Options {
        fixtures: true,
        rbac: true,
        extra_args: vec!["--auth=kubernetes".into(), "--read-only=false".into(), format!("--auth-issuers={ISSUER}")],
    })
    .await;
    let client = env.api.client().await.expect("admin client");
    let pp = PostParams::default();
    let meta = |name: &str, ns: Option<&str>| ObjectMeta {
        name: Some(name.into()),
        namespace: ns.map(str::to_string),
        ..ObjectMeta::default()
    };
    let roles: Api<Role> = Api::namespaced(client.clone(), "team-b");
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), "team-b");
    let team_reader = Role {
        metadata: meta("flux-reader", Some("team-b")),
        rules: Some(vec![rule(FLUX, &["*"], READ), rule(&[""], &["events"], READ)]),
    };
    roles.create(&pp, &team_reader).await.expect("role");
    let patcher = Role {
        metadata: meta("helmrelease-patcher", Some("team-b")),
        rules: Some(vec![rule(&["helm.toolkit.fluxcd.io"], &["helmreleases"], &["patch"])]),
    };
    roles.create(&pp, &patcher).await.expect("role");
    let bind = |name: &str, role: &str, who: &str| RoleBinding {
        metadata: meta(name, Some("team-b")),
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "Role".into(), name: role.into() },
        subjects: Some(vec![user(who)]),
    };
    bindings.create(&pp, &bind("dev-reads", "flux-reader", "dev")).await.expect("binding");
    bindings.create(&pp, &bind("operator-patches", "helmrelease-patcher", "operator")).await.expect("binding");
    let cluster_roles: Api<ClusterRole> = Api::all(client.clone());
    cluster_roles
        .create(
            &pp,
            &ClusterRole {
                metadata: meta("flux-viewer", None),
                rules: Some(vec![rule(FLUX, &["*"], READ)]),
                ..ClusterRole::default()
            },
        )
        .await
        .expect("cluster role");
    let cluster_bindings: Api<ClusterRoleBinding> = Api::all(client);
    cluster_bindings
        .create(
            &pp,
            &ClusterRoleBinding {
                metadata: meta("flux-viewers", None),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "ClusterRole".into(),
                    name: "flux-viewer".into(),
                },
                subjects: Some(vec![user("viewer"), user("operator")]),
            },
        )
        .await
        .expect("cluster binding");
    let auth = &env.api.server.auth;
    let tokens = [
        auth.issue_token(User::new("dev", &[])),
        auth.issue_token(User::new("viewer", &[])),
        auth.issue_token(User::new("operator", &[])),
    ];
    (env, tokens)
}

fn namespaces(structured: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = structured[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {structured}"))
        .iter()
        .filter_map(|r| r["namespace"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[tokio::test]
async fn callers_without_a_valid_token_get_the_mcp_challenge() {
    let (env, _) = start().await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", env.agent.url());

    let none = env.mcp.post(&[], &init).await;
    assert_eq!(none.status, 401, "{}", none.body);
    let challenge = none.headers.get("www-authenticate").and_then(|h| h.to_str().ok()).expect("WWW-Authenticate");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")), "{challenge}");
    assert!(!challenge.contains("invalid_token"), "no token is not an invalid token: {challenge}");

    let bad = env.mcp.with_token("not-a-token").post(&[], &init).await;
    assert_eq!(bad.status, 401);
    let challenge = bad.headers.get("www-authenticate").and_then(|h| h.to_str().ok()).expect("WWW-Authenticate");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(bad.json()["error"], "invalid_token");

    // A2A needs the token too; the cards are public and declare the scheme.
    let a2a = Mcp::new(format!("{}/", env.agent.url()));
    let send = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "flux health"}]}}});
    assert_eq!(a2a.post(&[("a2a-version", "1.0")], &send).await.status, 401);
    assert_eq!(a2a.get(&format!("{}/tasks", env.agent.url())).await.status, 401);
    let card = a2a.get(&format!("{}/.well-known/agent-card.json", env.agent.url())).await;
    assert_eq!(card.status, 200);
    let card = card.json();
    assert_eq!(card["securitySchemes"]["kubernetes"]["httpAuthSecurityScheme"]["scheme"], "Bearer");
    assert_eq!(card["securityRequirements"], json!([{"schemes": {"kubernetes": {"list": []}}}]));
    let old = a2a.get(&format!("{}/.well-known/agent.json", env.agent.url())).await.json();
    assert_eq!(old["securitySchemes"]["kubernetes"]["scheme"], "bearer");
    assert_eq!(old["security"], json!([{"kubernetes": []}]));

    // RFC 9728 metadata names the resource and the issuer.
    let meta = a2a.get(&metadata_url).await;
    assert_eq!(meta.status, 200, "{}", meta.body);
    let meta = meta.json();
    assert_eq!(meta["resource"], format!("{}/mcp", env.agent.url()));
    assert_eq!(meta["authorization_servers"], json!([ISSUER]));
    assert_eq!(meta["bearer_methods_supported"], json!(["header"]));

    // Health endpoints stay open for probes.
    assert_eq!(a2a.get(&format!("{}/readyz", env.agent.url())).await.status, 200);
}

#[tokio::test]
async fn each_caller_sees_only_what_their_own_rbac_allows() {
    let (env, [dev, viewer, _]) = start().await;
    let (dev, viewer) = (env.mcp.with_token(&dev), env.mcp.with_token(&viewer));

    let (_, all) = viewer.ok("get_helmreleases", json!({})).await;
    assert_eq!(namespaces(&all, "items"), ["apps", "infra", "monitoring", "team-b"]);
    let (markdown, mine) = dev.ok("get_helmreleases", json!({})).await;
    assert_eq!(namespaces(&mine, "items"), ["team-b"], "{markdown}");

    // Asking for one namespace the caller may not list is refused, as kubectl would.
    let r = dev.call("get_helmreleases", json!({"namespace": "apps"})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    let text = r["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("dev may not list helmreleases.helm.toolkit.fluxcd.io in namespace \"apps\""), "{text}");

    // A named object in a namespace the caller cannot read is refused, not shown.
    let r = dev.call("get_helmrelease", json!({"name": "podinfo", "namespace": "apps"})).await;
    let text = r["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(
        text.contains("dev may not get helmreleases.helm.toolkit.fluxcd.io \"podinfo\" in namespace \"apps\""),
        "{text}"
    );

    // Direct API reads (events, pod logs) are checked too.
    let (_, events) = dev.ok("get_events", json!({"namespace": "team-b"})).await;
    assert!(events.is_object());
    let r = dev.call("get_events", json!({"namespace": "flux-system"})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(r["result"]["content"][0]["text"].as_str().unwrap_or_default().contains("dev may not list events"), "{r}");
    let r = viewer.call("get_pod_logs", json!({"namespace": "team-a", "pod_name": "web-0"})).await;
    assert_eq!(r["result"]["isError"], true, "the viewer has no access to pods: {r}");

    // Cluster-wide views follow the same rule.
    let (_, health) = dev.ok("flux_health_summary", json!({})).await;
    let (_, full) = viewer.ok("flux_health_summary", json!({})).await;
    assert_ne!(health, full, "the summary counts only what each caller can see");
}

/// A caller who may list some Flux kinds in a namespace and not others gets the ones they may, with
/// the rest named, from the tools that cover several kinds; one who may list none of them there
/// is refused, as before.
#[tokio::test]
async fn several_kinds_answer_with_what_the_caller_may_list_and_name_the_rest() {
    let (env, [dev, viewer, _]) = start().await;
    let admin = env.api.client().await.expect("admin client");
    let pp = PostParams::default();
    let meta =
        |name: &str| ObjectMeta { name: Some(name.into()), namespace: Some("team-b".into()), ..ObjectMeta::default() };
    Api::<Role>::namespaced(admin.clone(), "team-b")
        .create(
            &pp,
            &Role {
                metadata: meta("helmrelease-reader"),
                rules: Some(vec![rule(&["helm.toolkit.fluxcd.io"], &["helmreleases"], READ)]),
            },
        )
        .await
        .expect("role");
    Api::<RoleBinding>::namespaced(admin, "team-b")
        .create(
            &pp,
            &RoleBinding {
                metadata: meta("releases-reads"),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "Role".into(),
                    name: "helmrelease-reader".into(),
                },
                subjects: Some(vec![user("releases")]),
            },
        )
        .await
        .expect("binding");
    let releases = env.mcp.with_token(&env.api.server.auth.issue_token(User::new("releases", &[])));
    let team_b = json!({"namespace": "team-b"});

    let (markdown, health) = releases.ok("flux_health_summary", team_b.clone()).await;
    assert_eq!(health["totals"]["total"], 1, "team-b's one HelmRelease: {health}");
    let forbidden = health["forbidden"].as_array().expect("the kinds left out");
    assert!(forbidden.contains(&json!("Kustomization")) && forbidden.contains(&json!("GitRepository")), "{health}");
    assert!(!forbidden.contains(&json!("HelmRelease")), "{health}");
    assert!(markdown.contains("Not shown: your access does not allow listing Kustomization,"), "{markdown}");
    assert!(markdown.contains("in namespace `team-b`"), "{markdown}");

    let (_, status) = releases.ok("get_gitops_status", team_b.clone()).await;
    assert_eq!(status["forbidden"], json!(["Kustomization", "GitRepository"]), "{status}");
    assert_eq!(status["kinds"][0]["kind"], "HelmRelease", "{status}");

    let (_, fleet) = releases.ok("fleet_health_summary", team_b.clone()).await;
    assert_eq!(fleet["clusters"][0]["forbidden"], health["forbidden"], "{fleet}");

    // Every source kind is refused there: the refusal is the answer.
    let r = releases.call("list_sources", team_b.clone()).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    let text = r["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("releases may not list"), "{text}");
    let r = env.mcp.with_token(&dev).call("flux_health_summary", json!({"namespace": "apps"})).await;
    assert_eq!(r["result"]["isError"], true, "dev may list nothing in apps: {r}");

    // Nothing left out, nothing said.
    let (markdown, full) = env.mcp.with_token(&viewer).ok("flux_health_summary", team_b).await;
    assert!(full.get("forbidden").is_none(), "{full}");
    assert!(!markdown.contains("Not shown"), "{markdown}");
}

/// 2025 clients open a session once and call tools in it: every call still runs as the caller
/// whose token came with that request.
#[tokio::test]
async fn calls_inside_an_mcp_session_run_as_the_caller_of_each_request() {
    let (env, [dev, viewer, _]) = start().await;
    let as_dev = env.mcp.with_token(&dev);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
        "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let opened = as_dev.post(&[], &init).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let session = opened.headers.get("mcp-session-id").and_then(|h| h.to_str().ok()).expect("session").to_string();
    let headers = [("mcp-session-id", session.as_str()), ("mcp-protocol-version", "2025-06-18")];
    as_dev.post(&headers, &json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_helmreleases", "arguments": {}}});
    let r = as_dev.post(&headers, &call).await.json();
    assert_eq!(namespaces(&r["result"]["structuredContent"], "items"), ["team-b"], "{r}");
    // The same session with another caller's token answers for that caller.
    let r = env.mcp.with_token(&viewer).post(&headers, &call).await.json();
    assert_eq!(
        namespaces(&r["result"]["structuredContent"], "items"),
        ["apps", "infra", "monitoring", "team-b"],
        "{r}"
    );
    // And without a token, not at all.
    assert_eq!(env.mcp.post(&headers, &call).await.status, 401);
}

#[tokio::test]
async fn changes_need_the_callers_own_patch_permission() {
    let (env, [_, viewer, operator]) = start().await;
    let target = json!({"kind": "HelmRelease", "name": "redis", "namespace": "team-b"});

    let r = env.mcp.with_token(&viewer).call("reconcile", target.clone()).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    let text = r["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("viewer may not patch helmreleases.helm.toolkit.fluxcd.io \"redis\""), "{text}");

    let (markdown, _) = env.mcp.with_token(&operator).ok("reconcile", target).await;
    assert!(markdown.to_lowercase().contains("reconcil"), "{markdown}");
    let api = env.api.client().await.expect("client");
    let hr: Api<kube::api::DynamicObject> = Api::namespaced_with(
        api,
        "team-b",
        &kube::discovery::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "helm.toolkit.fluxcd.io",
            "v2",
            "HelmRelease",
        )),
    );
    let redis = hr.get("redis").await.expect("redis");
    assert!(redis.metadata.annotations.unwrap_or_default().contains_key("reconcile.fluxcd.io/requestedAt"));
}

#[tokio::test]
async fn a2a_tasks_belong_to_the_caller_who_started_them() {
    let (env, [dev, viewer, _]) = start().await;
    let base = env.agent.url();
    let as_dev = Mcp::new(format!("{base}/")).with_token(&dev);
    let as_viewer = Mcp::new(format!("{base}/")).with_token(&viewer);
    let send = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"messageId": "m", "role": "ROLE_USER",
        "parts": [{"data": {"skill": "get-helmreleases", "arguments": {}}}]}}});
    let r = as_dev.post(&[("a2a-version", "1.0")], &send).await.json();
    let task = &r["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{r}");
    let items = &task["artifacts"][0]["parts"][1]["data"];
    assert_eq!(namespaces(items, "items"), ["team-b"], "A2A calls run with the caller's RBAC too");
    let id = task["id"].as_str().expect("id");

    let get = |id: &str| json!({"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": id}});
    assert_eq!(as_dev.post(&[("a2a-version", "1.0")], &get(id)).await.json()["result"]["id"], id);
    let other = as_viewer.post(&[("a2a-version", "1.0")], &get(id)).await.json();
    assert_eq!(other["error"]["code"], -32001, "another caller's task is not found: {other}");
    let url = format!("{base}/tasks");
    assert_eq!(
        as_dev.get_with(&url, &[("a2a-version", "1.0")]).await.json()["tasks"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        as_viewer.get_with(&url, &[("a2a-version", "1.0")]).await.json()["tasks"].as_array().map(Vec::len),
        Some(0)
    );
}

#[tokio::test]
async fn no_auth_on_a_reachable_address_is_refused_unless_asked_for() {
    let env = common::start(common::Options { fixtures: false, ..Default::default() }).await;
    let refused = common::try_start_agent(&env, vec!["--bind-address=0.0.0.0".into(), "--auth=none".into()]).await;
    let err = refused.err().expect("refused").to_string();
    assert!(err.contains("refusing to serve without authentication on 0.0.0.0:0"), "{err}");
    assert!(err.contains("--allow-unauthenticated"), "{err}");
    let allowed = common::try_start_agent(
        &env,
        vec!["--bind-address=0.0.0.0".into(), "--auth=none".into(), "--allow-unauthenticated".into()],
    )
    .await;
    assert!(allowed.is_ok());
    // Without --auth, a reachable address authenticates.
    let default = common::start_agent(&env, vec!["--bind-address=0.0.0.0".into()]).await;
    let a = Mcp::new(format!("http://127.0.0.1:{}/mcp", default.addr.port())).post(&[], &json!({})).await;
    assert_eq!(a.status, 401);
}

/// The skill ids of a card, sorted.
fn skill_ids(card: &Value) -> Vec<String> {
    let mut ids: Vec<String> = card["skills"]
        .as_array()
        .unwrap_or_else(|| panic!("no skills in {card}"))
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

fn extension<'a>(card: &'a Value, uri: &str) -> &'a Value {
    card["capabilities"]["extensions"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["uri"] == uri))
        .unwrap_or_else(|| panic!("no extension {uri} in {card}"))
}

const CLUSTERS: &str = "https://gitops-agent.dev/a2a/extensions/clusters/v1";
const SCHEMAS: &str = "https://gitops-agent.dev/a2a/extensions/skill-arguments/v1";

#[tokio::test]
async fn the_extended_card_lists_the_skills_and_clusters_each_caller_may_use() {
    let (env, [dev, viewer, operator]) = start().await;
    let nobody = env.api.server.auth.issue_token(User::new("nobody", &[]));
    let base = env.agent.url();
    let anonymous = Mcp::new(format!("{base}/"));
    let public = anonymous.get(&format!("{base}/.well-known/agent-card.json")).await.json();
    assert_eq!(public["capabilities"]["extendedAgentCard"], true, "{public}");
    let old = anonymous.get(&format!("{base}/.well-known/agent.json")).await.json();
    assert_eq!(old["supportsAuthenticatedExtendedCard"], true, "{old}");
    assert_eq!(anonymous.get(&format!("{base}/extendedAgentCard")).await.status, 401);

    let get_card = json!({"jsonrpc": "2.0", "id": 1, "method": "GetExtendedAgentCard", "params": {}});
    let card_of = |token: &str| {
        let client = Mcp::new(format!("{base}/")).with_token(token);
        let body = get_card.clone();
        async move {
            let answer = client.post(&[("a2a-version", "1.0")], &body).await.json();
            answer.get("result").cloned().unwrap_or_else(|| panic!("no card: {answer}"))
        }
    };
    let (as_dev, as_viewer, as_operator, as_nobody) =
        (card_of(&dev).await, card_of(&viewer).await, card_of(&operator).await, card_of(&nobody).await);
    let (dev_skills, viewer_skills, operator_skills) =
        (skill_ids(&as_dev), skill_ids(&as_viewer), skill_ids(&as_operator));
    let has = |skills: &[String], id: &str| skills.iter().any(|s| s == id);

    // Patching HelmReleases in team-b is what makes the mutating skills usable.
    for id in ["reconcile", "suspend", "resume"] {
        assert!(has(&operator_skills, id), "{id} missing for operator: {operator_skills:?}");
        assert!(!has(&viewer_skills, id), "{id} offered to viewer: {viewer_skills:?}");
        assert!(!has(&dev_skills, id), "{id} offered to dev: {dev_skills:?}");
        assert!(has(&skill_ids(&public), id), "the public card lists every offered skill");
    }
    // Reading Flux objects in one namespace is enough for the Flux skills; events need their own grant.
    for id in ["list-kustomizations", "get-helmreleases", "list-sources"] {
        assert!(has(&dev_skills, id) && has(&viewer_skills, id), "{id}: dev {dev_skills:?} viewer {viewer_skills:?}");
    }
    assert!(has(&dev_skills, "get-events") && !has(&viewer_skills, "get-events"), "{dev_skills:?} {viewer_skills:?}");
    // Nobody here may read pods, logs or Cluster API objects.
    for id in ["get-pod-logs", "list-machines", "get-cluster-status"] {
        assert!(!has(&operator_skills, id), "{id} offered to operator: {operator_skills:?}");
    }
    assert_eq!(viewer_skills.len() + 3, operator_skills.len(), "viewer {viewer_skills:?} operator {operator_skills:?}");

    // The schema extension follows the skills.
    let mut schemas: Vec<String> =
        extension(&as_viewer, SCHEMAS)["params"]["skills"].as_object().expect("schemas").keys().cloned().collect();
    schemas.sort();
    assert_eq!(schemas, viewer_skills);

    // One cluster, which each of them may see with exactly its skills; a caller with no grants
    // sees no cluster and keeps only the skills that read nothing from one.
    let clusters = &extension(&as_operator, CLUSTERS)["params"]["clusters"];
    assert_eq!(clusters.as_array().map(Vec::len), Some(1), "{clusters}");
    assert_eq!(clusters[0]["default"], true, "{clusters}");
    let mut on_cluster: Vec<String> = clusters[0]["skills"]
        .as_array()
        .expect("skills")
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    on_cluster.sort();
    assert_eq!(on_cluster, operator_skills);
    assert_eq!(extension(&as_nobody, CLUSTERS)["params"]["clusters"], json!([]), "{as_nobody}");
    assert_eq!(skill_ids(&as_nobody), ["get-current-context", "list-contexts"]);

    // The HTTP+JSON binding and the 0.3 method give the same skills (0.3 in its own card shape).
    let rest = Mcp::new(format!("{base}/"))
        .with_token(&operator)
        .get_with(&format!("{base}/extendedAgentCard"), &[("a2a-version", "1.0")])
        .await
        .json();
    assert_eq!(skill_ids(&rest), operator_skills);
    let v03 = json!({"jsonrpc": "2.0", "id": 2, "method": "agent/getAuthenticatedExtendedCard"});
    let v03 = Mcp::new(format!("{base}/")).with_token(&operator).post(&[], &v03).await.json();
    let v03 = &v03["result"];
    assert_eq!(v03["protocolVersion"], "0.3.0", "{v03}");
    assert_eq!(skill_ids(v03), operator_skills);
}
