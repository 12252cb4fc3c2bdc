//! Each semantic the embedded API server promises, driven through kube-rs over HTTPS exactly as
//! our controller and server use it (never through internal calls).

use std::time::Duration;

use fake_apiserver::{Config, FaultConfig, Listen, Running, User};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Discovery, ResourceExt};
use serde_json::{Value, json};

async fn cluster() -> (Running, Client) {
    cluster_with(Config::default()).await
}

async fn cluster_with(config: Config) -> (Running, Client) {
    let running = fake_apiserver::start(config, Listen::default()).await.expect("start fake API server");
    let client = running.client().await.expect("client");
    let ns: Api<Namespace> = Api::all(client.clone());
    for name in ["team-a", "team-b"] {
        ns.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns"))
            .await
            .expect("create namespace");
    }
    (running, client)
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn cm(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}))
        .expect("configmap")
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}
    })
}

async fn install_gitopsagent_crd(client: &Client) {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../crds/gitopsagents.agents.gitops.dev.yaml"))
            .expect("read CRD");
    let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).expect("parse CRD");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch("gitopsagents.agents.gitops.dev", &PatchParams::apply("test").force(), &Patch::Apply(&crd))
        .await
        .expect("apply CRD");
}

fn gta_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("agents.gitops.dev", "v1alpha1", "GitOpsAgent"),
        "gitopsagents",
    );
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn gta(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent", "metadata": {"name": name}, "spec": spec}))
        .expect("gitopsagent")
}

#[tokio::test]
async fn discovery_lists_builtins_and_new_crds() {
    let (_s, client) = cluster().await;
    let discovery = Discovery::new(client.clone()).run().await.expect("discovery");
    assert!(discovery.has_group("apps"));
    assert!(!discovery.has_group("agents.gitops.dev"));
    install_gitopsagent_crd(&client).await;
    let discovery = Discovery::new(client.clone()).run().await.expect("discovery");
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("agents.gitops.dev", "v1alpha1", "GitOpsAgent"))
        .expect("gta served");
    assert_eq!(ar.plural, "gitopsagents");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(caps.subresources.iter().any(|(r, _)| r.plural.ends_with("status")) || !caps.subresources.is_empty());
    // The aggregated form (one request for all groups) agrees with the legacy walk.
    let aggregated = Discovery::new(client.clone()).run_aggregated().await.expect("aggregated discovery");
    let (ar, caps) = aggregated
        .resolve_gvk(&GroupVersionKind::gvk("agents.gitops.dev", "v1alpha1", "GitOpsAgent"))
        .expect("gta served");
    assert_eq!((ar.plural.as_str(), caps.scope), ("gitopsagents", kube::discovery::Scope::Namespaced));
    assert!(
        aggregated
            .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
            .is_some_and(|(_, c)| c.scope == kube::discovery::Scope::Cluster)
    );
    let version = client.apiserver_version().await.expect("version");
    assert_eq!(version.major, "1");
}

#[tokio::test]
async fn objects_get_uid_timestamps_and_one_resource_version_counter() {
    let (_s, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let a = cms.create(&PostParams::default(), &cm("a", json!({}))).await.expect("create");
    let b = cms.create(&PostParams::default(), &cm("b", json!({}))).await.expect("create");
    assert!(a.metadata.uid.is_some() && a.metadata.creation_timestamp.is_some());
    let (ra, rb): (u64, u64) =
        (a.resource_version().unwrap().parse().unwrap(), b.resource_version().unwrap().parse().unwrap());
    assert!(rb > ra, "one global counter: {ra} then {rb}");
    // A stale resourceVersion conflicts.
    let mut stale = a.clone();
    stale.data = Some([("k".to_string(), "changed".to_string())].into());
    cms.replace("a", &PostParams::default(), &stale).await.expect("first replace");
    let err = api_error(cms.replace("a", &PostParams::default(), &stale).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(err.message.contains("the object has been modified"), "{}", err.message);
    let err = api_error(cms.get("missing").await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert_eq!(err.message, "configmaps \"missing\" not found");
    let err = api_error(cms.create(&PostParams::default(), &cm("a", json!({}))).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    let err = api_error(
        Api::<ConfigMap>::namespaced(client, "nowhere")
            .create(&PostParams::default(), &cm("x", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 404);
    assert!(err.message.contains("namespaces \"nowhere\" not found"));
}

#[tokio::test]
async fn generation_moves_on_spec_changes_only() {
    let (_s, client) = cluster().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "team-a");
    let pp = PatchParams::apply("test");
    let d = deploys.patch("web", &pp, &Patch::Apply(deployment("web"))).await.expect("apply");
    assert_eq!(d.metadata.generation, Some(1));
    let d = deploys
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})))
        .await
        .expect("label");
    assert_eq!(d.metadata.generation, Some(1), "metadata changes do not bump generation");
    let d = deploys
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 3}})))
        .await
        .expect("scale");
    assert_eq!(d.metadata.generation, Some(2));
    let d = deploys
        .patch_status("web", &PatchParams::default(), &Patch::Merge(json!({"status": {"replicas": 3}})))
        .await
        .expect("status");
    assert_eq!(d.metadata.generation, Some(2), "status changes do not bump generation");
    // Status sent to the main resource is ignored; spec sent to status is ignored.
    let d = deploys
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"status": {"replicas": 99}})))
        .await
        .expect("patch");
    assert_eq!(d.status.and_then(|s| s.replicas), Some(3));
}

#[tokio::test]
async fn unchanged_writes_do_not_bump_the_resource_version() {
    let (_s, client) = cluster().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "team-a");
    let pp = PatchParams::apply("test");
    let a = deploys.patch("web", &pp, &Patch::Apply(deployment("web"))).await.expect("apply");
    let b = deploys.patch("web", &pp, &Patch::Apply(deployment("web"))).await.expect("apply again");
    assert_eq!(a.resource_version(), b.resource_version());
}

#[tokio::test]
async fn list_filters_by_labels_and_fields_and_pages() {
    let (_s, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    for i in 0..7 {
        let tier = if i % 2 == 0 { "front" } else { "back" };
        cms.create(&PostParams::default(), &cm(&format!("cm-{i}"), json!({"tier": tier, "idx": i.to_string()})))
            .await
            .expect("create");
    }
    let names = |l: Vec<ConfigMap>| l.iter().map(|c| c.name_any()).collect::<Vec<_>>();
    let front = cms.list(&ListParams::default().labels("tier=front")).await.expect("list");
    assert_eq!(names(front.items), ["cm-0", "cm-2", "cm-4", "cm-6"]);
    let set = cms.list(&ListParams::default().labels("idx in (1,2),tier!=front")).await.expect("list");
    assert_eq!(names(set.items), ["cm-1"]);
    let by_name = cms.list(&ListParams::default().fields("metadata.name=cm-3")).await.expect("list");
    assert_eq!(names(by_name.items), ["cm-3"]);
    let err = api_error(cms.list(&ListParams::default().fields("data.k=v")).await.unwrap_err());
    assert_eq!(err.code, 400);
    // Paging: 3 + 3 + 1, with continue tokens and remaining counts.
    let mut all = Vec::new();
    let mut lp = ListParams::default().limit(3);
    loop {
        let page = cms.list(&lp).await.expect("page");
        all.extend(names(page.items.clone()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => lp = lp.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(all.len(), 7);
    let all_ns: Api<ConfigMap> = Api::all(client);
    assert_eq!(all_ns.list(&ListParams::default().labels("tier")).await.expect("list").items.len(), 7);
}

#[tokio::test]
async fn watch_streams_changes_resumes_and_expires() {
    let (server, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let start = cms.list(&ListParams::default()).await.expect("list").metadata.resource_version.expect("rv");
    let mut stream = cms.watch(&WatchParams::default().timeout(10), &start).await.expect("watch").boxed();
    cms.create(&PostParams::default(), &cm("w", json!({}))).await.expect("create");
    cms.patch("w", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "2"}}))).await.expect("patch");
    cms.delete("w", &DeleteParams::default()).await.expect("delete");
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match stream.try_next().await.expect("event").expect("stream open") {
            WatchEvent::Added(_) => kinds.push("ADDED"),
            WatchEvent::Modified(_) => kinds.push("MODIFIED"),
            WatchEvent::Deleted(_) => kinds.push("DELETED"),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
    // Resuming from the start replays the history.
    let replay: Vec<_> = cms
        .watch(&WatchParams::default().timeout(1), &start)
        .await
        .expect("watch")
        .take(3)
        .try_collect()
        .await
        .expect("replay");
    assert_eq!(replay.len(), 3);
    // After compaction an old resourceVersion is 410 Gone.
    server.server.with_store(|st| st.compact());
    let mut gone = cms.watch(&WatchParams::default().timeout(1), &start).await.expect("watch").boxed();
    match gone.try_next().await.expect("event") {
        Some(WatchEvent::Error(e)) => assert_eq!(e.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test]
async fn reflectors_sync_and_follow_through_kube_runtime() {
    let (_s, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    cms.create(&PostParams::default(), &cm("before", json!({}))).await.expect("create");
    let (reader, writer) = kube::runtime::reflector::store();
    let stream = watcher(cms.clone(), watcher::Config::default().labels("").any_semantic())
        .reflect(writer)
        .applied_objects()
        .boxed();
    let handle = tokio::spawn(async move { stream.take(2).try_collect::<Vec<_>>().await });
    reader.wait_until_ready().await.expect("synced");
    cms.create(&PostParams::default(), &cm("after", json!({}))).await.expect("create");
    let seen =
        tokio::time::timeout(Duration::from_secs(10), handle).await.expect("in time").expect("join").expect("stream");
    let names: Vec<String> = seen.iter().map(|c| c.name_any()).collect();
    assert_eq!(names, ["before", "after"]);
    assert_eq!(reader.state().len(), 2);
}

#[tokio::test]
async fn watch_with_streaming_initial_events_ends_with_a_bookmark() {
    let (_s, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    cms.create(&PostParams::default(), &cm("x", json!({}))).await.expect("create");
    let stream = watcher(cms, watcher::Config::default().streaming_lists()).default_backoff().take(3);
    let events: Vec<_> = tokio::time::timeout(Duration::from_secs(10), stream.try_collect::<Vec<_>>())
        .await
        .expect("in time")
        .expect("events");
    assert!(matches!(events.last(), Some(watcher::Event::InitDone)), "{events:?}");
}

#[tokio::test]
async fn server_side_apply_tracks_owners_conflicts_and_removals() {
    let (_s, client) = cluster().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "team-a");
    let d = deploys.patch("web", &PatchParams::apply("alice"), &Patch::Apply(deployment("web"))).await.expect("apply");
    let managers: Vec<(String, String)> = d
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.manager.unwrap_or_default(), m.operation.unwrap_or_default()))
        .collect();
    assert!(managers.contains(&("alice".into(), "Apply".into())), "{managers:?}");

    let mut other = deployment("web");
    other["spec"]["replicas"] = json!(5);
    let err = api_error(deploys.patch("web", &PatchParams::apply("bob"), &Patch::Apply(&other)).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains("conflict with \"alice\"") && err.message.contains(".spec.replicas"),
        "{}",
        err.message
    );
    let d = deploys.patch("web", &PatchParams::apply("bob").force(), &Patch::Apply(&other)).await.expect("forced");
    assert_eq!(d.spec.as_ref().and_then(|s| s.replicas), Some(5));

    // A label alice stops applying is removed; one bob also applies survives.
    let mut with_labels = deployment("web");
    with_labels["metadata"]["labels"] = json!({"a": "1", "b": "2"});
    deploys.patch("web", &PatchParams::apply("alice").force(), &Patch::Apply(&with_labels)).await.expect("apply");
    let d = deploys
        .patch("web", &PatchParams::apply("alice").force(), &Patch::Apply(deployment("web")))
        .await
        .expect("apply");
    assert!(d.labels().get("a").is_none() && d.labels().get("b").is_none(), "{:?}", d.labels());
    // Apply without a field manager is refused.
    let err =
        api_error(deploys.patch("web", &PatchParams::default(), &Patch::Apply(deployment("web"))).await.unwrap_err());
    assert_eq!(err.code, 422);
}

#[tokio::test]
async fn merge_json_and_strategic_patches() {
    let (_s, client) = cluster().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "team-a");
    deploys
        .create(&PostParams::default(), &serde_json::from_value(deployment("web")).expect("d"))
        .await
        .expect("create");
    let d = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1"}]}}}}),
            ),
        )
        .await
        .expect("strategic");
    let containers: Vec<String> =
        d.spec.unwrap().template.spec.unwrap().containers.into_iter().map(|c| c.name).collect();
    assert_eq!(containers, ["c", "sidecar"], "strategic merge keeps existing containers");
    let d = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::<()>::Json(
                serde_json::from_value(json!([{"op": "replace", "path": "/spec/replicas", "value": 4}]))
                    .expect("patch"),
            ),
        )
        .await
        .expect("json patch");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(4));
    let err = api_error(
        deploys
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::<()>::Json(
                    serde_json::from_value(json!([{"op": "remove", "path": "/spec/nope"}])).expect("patch"),
                ),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 400);
}

#[tokio::test]
async fn built_in_validation_and_defaults() {
    let (_s, client) = cluster().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "team-a");
    let mut bad = deployment("bad");
    bad["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "missing", "mountPath": "/x"}]);
    let err =
        api_error(deploys.create(&PostParams::default(), &serde_json::from_value(bad).expect("d")).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message.contains("spec.template.spec.containers[0].volumeMounts[0].name: Not found"),
        "{}",
        err.message
    );
    let d = deploys
        .create(&PostParams::default(), &serde_json::from_value(deployment("ok")).expect("d"))
        .await
        .expect("create");
    let pod = d.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod.containers[0].termination_message_path.as_deref(), Some("/dev/termination-log"));
    let mut moved = deployment("ok");
    moved["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
    moved["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let err = api_error(deploys.patch("ok", &PatchParams::apply("t").force(), &Patch::Apply(moved)).await.unwrap_err());
    assert!(err.message.contains("field is immutable"), "{}", err.message);
}

#[tokio::test]
async fn crds_default_prune_and_enforce_cel() {
    let (_s, client) = cluster().await;
    install_gitopsagent_crd(&client).await;
    let agents = gta_api(&client, "team-a");
    let a = agents.create(&PostParams::default(), &gta("agent", json!({}))).await.expect("create");
    assert_eq!(a.data["spec"]["readOnly"], true);
    assert_eq!(a.data["spec"]["service"]["port"], 8080);

    let err = api_error(
        agents
            .create(
                &PostParams::default(),
                &gta("bad", json!({"autoscaling": {"enabled": true, "minReplicas": 6, "maxReplicas": 2}})),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message.contains("GitOpsAgent.agents.gitops.dev \"bad\" is invalid")
            && err.message.contains("autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"),
        "{}",
        err.message
    );
    let err = api_error(agents.create(&PostParams::default(), &gta("bad", json!({"replicas": -1}))).await.unwrap_err());
    assert!(err.message.contains("spec.replicas in body should be greater than or equal to 0"), "{}", err.message);

    // Unknown fields: dropped by default, refused under strict field validation.
    let pruned =
        agents.create(&PostParams::default(), &gta("loose", json!({"replicaCount": 3}))).await.expect("create");
    assert!(pruned.data["spec"].get("replicaCount").is_none());
    let strict = PatchParams::apply("t").validation_strict();
    let err = api_error(
        agents.patch("strict", &strict, &Patch::Apply(gta("strict", json!({"replicaCount": 3})))).await.unwrap_err(),
    );
    assert_eq!(err.code, 400);
    assert!(err.message.contains("unknown field \"spec.replicaCount\""), "{}", err.message);
}

#[tokio::test]
async fn custom_resources_have_status_and_scale_subresources() {
    let (_s, client) = cluster().await;
    install_gitopsagent_crd(&client).await;
    let agents = gta_api(&client, "team-a");
    agents.create(&PostParams::default(), &gta("agent", json!({}))).await.expect("create");
    let a = agents
        .patch_status(
            "agent",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 2, "selector": "app=x"}})),
        )
        .await
        .expect("status");
    assert_eq!(a.metadata.generation, Some(1));
    let scale = agents.get_scale("agent").await.expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    assert_eq!(scale.status.map(|s| s.selector), Some(Some("app=x".into())));
    agents
        .patch_scale("agent", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 4}})))
        .await
        .expect("scale");
    let a = agents.get("agent").await.expect("get");
    assert_eq!(a.data["spec"]["replicas"], 4);
    assert_eq!(a.metadata.generation, Some(2));
}

#[tokio::test]
async fn finalizers_hold_deletion_and_gc_cascades() {
    let (_s, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let owner = cms.create(&PostParams::default(), &cm("owner", json!({}))).await.expect("owner");
    let mut child = cm("child", json!({}));
    child.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.uid().expect("uid"),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    cms.create(&PostParams::default(), &child).await.expect("child");
    let mut held = cm("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &held).await.expect("held");

    let pending = cms.delete("held", &DeleteParams::default()).await.expect("delete");
    let pending = pending.left().expect("object returned while finalizers hold it");
    assert!(pending.metadata.deletion_timestamp.is_some());
    cms.patch("held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await
        .expect("release");
    assert_eq!(api_error(cms.get("held").await.unwrap_err()).code, 404);

    cms.delete("owner", &DeleteParams::default()).await.expect("delete owner");
    for _ in 0..100 {
        if cms.get_opt("child").await.expect("get").is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("dependent was not garbage-collected");
}

#[tokio::test]
async fn deleting_a_namespace_removes_what_it_holds() {
    let (_s, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-b");
    cms.create(&PostParams::default(), &cm("x", json!({}))).await.expect("create");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.delete("team-b", &DeleteParams::default()).await.expect("delete ns");
    let err = api_error(cms.create(&PostParams::default(), &cm("y", json!({}))).await.unwrap_err());
    assert_eq!(err.code, 403, "{}", err.message);
    for _ in 0..100 {
        if namespaces.get_opt("team-b").await.expect("get").is_none() {
            assert!(
                Api::<ConfigMap>::all(client.clone())
                    .list(&ListParams::default())
                    .await
                    .expect("list")
                    .items
                    .iter()
                    .all(|c| c.namespace().as_deref() != Some("team-b"))
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("namespace was not finalized");
}

#[tokio::test]
async fn deployments_become_ready() {
    let (_s, client) = cluster().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "team-a");
    deploys.patch("web", &PatchParams::apply("t"), &Patch::Apply(deployment("web"))).await.expect("apply");
    let cond = kube::runtime::conditions::is_deployment_completed();
    tokio::time::timeout(Duration::from_secs(10), kube::runtime::wait::await_condition(deploys.clone(), "web", cond))
        .await
        .expect("in time")
        .expect("condition");
    let d = deploys.get("web").await.expect("get");
    assert_eq!(d.status.as_ref().and_then(|s| s.ready_replicas), Some(2));
    assert_eq!(d.status.and_then(|s| s.observed_generation), Some(1));
}

#[tokio::test]
async fn rbac_limits_service_accounts_and_reviews_answer_from_it() {
    let (running, client) = cluster_with(Config { rbac: true, ..Config::default() }).await;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "team-a");
    sas.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "agent"}})).expect("sa"))
        .await
        .expect("sa");
    let roles: Api<Role> = Api::namespaced(client.clone(), "team-a");
    roles
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "reader"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]})).expect("role"))
        .await
        .expect("role");
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), "team-a");
    bindings
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "reader"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "agent", "namespace": "team-a"}]}))
            .expect("binding"),
        )
        .await
        .expect("binding");
    Api::<Secret>::namespaced(client.clone(), "team-a")
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"p": "x"}})).expect("secret"),
        )
        .await
        .expect("secret");
    // stringData is write-only: merged into data (base64), never returned.
    let stored = Api::<Secret>::namespaced(client.clone(), "team-a").get("s").await.expect("get secret");
    assert_eq!(stored.data.and_then(|d| d.get("p").map(|b| b.0.clone())), Some(b"x".to_vec()));
    assert!(stored.string_data.is_none(), "stringData is not stored");
    assert_eq!(stored.type_.as_deref(), Some("Opaque"));

    let token = running.server.auth.issue_token(User::service_account("team-a", "agent"));
    let agent = running.client_for(&token).await.expect("client");
    Api::<ConfigMap>::namespaced(agent.clone(), "team-a").list(&ListParams::default()).await.expect("allowed");
    let err = api_error(Api::<Secret>::namespaced(agent.clone(), "team-a").get("s").await.unwrap_err());
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        "secrets \"s\" is forbidden: User \"system:serviceaccount:team-a:agent\" cannot get resource \"secrets\" in API group \"\" in the namespace \"team-a\""
    );
    assert_eq!(
        api_error(
            Api::<ConfigMap>::namespaced(agent.clone(), "team-b").list(&ListParams::default()).await.unwrap_err()
        )
        .code,
        403
    );
    let stranger = running.client_for("not-a-token").await.expect("client");
    let err =
        api_error(Api::<ConfigMap>::namespaced(stranger, "team-a").list(&ListParams::default()).await.unwrap_err());
    assert_eq!(err.code, 401);

    // TokenReview and SubjectAccessReview answer from the same tokens and rules.
    let tr: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("authentication.k8s.io", "v1", "TokenReview"),
            "tokenreviews",
        ),
    );
    let review: DynamicObject = serde_json::from_value(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {}, "spec": {"token": token}})).expect("tr");
    let out = tr.create(&PostParams::default(), &review).await.expect("token review");
    assert_eq!(out.data["status"]["authenticated"], true);
    assert_eq!(out.data["status"]["user"]["username"], "system:serviceaccount:team-a:agent");
    let sar: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("authorization.k8s.io", "v1", "SubjectAccessReview"),
            "subjectaccessreviews",
        ),
    );
    let ask = |ns: &str, resource: &str| {
        serde_json::from_value::<DynamicObject>(
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {},
            "spec": {"user": "system:serviceaccount:team-a:agent", "groups": ["system:serviceaccounts"],
                     "resourceAttributes": {"namespace": ns, "verb": "list", "resource": resource}}}),
        )
        .expect("sar")
    };
    assert_eq!(
        sar.create(&PostParams::default(), &ask("team-a", "configmaps")).await.expect("sar").data["status"]["allowed"],
        true
    );
    assert_eq!(
        sar.create(&PostParams::default(), &ask("team-b", "configmaps")).await.expect("sar").data["status"]["allowed"],
        false
    );
    assert_eq!(
        sar.create(&PostParams::default(), &ask("team-a", "secrets")).await.expect("sar").data["status"]["allowed"],
        false
    );
}

#[tokio::test]
async fn faults_are_injected_and_counted() {
    let (running, _) = cluster().await;
    let client = running.client_without_retries().await.expect("client");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    running.server.set_faults(FaultConfig {
        error_rate: 1.0,
        error_code: 429,
        retry_after_secs: 2,
        ..Default::default()
    });
    let err = api_error(cms.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (429, "TooManyRequests"));
    assert_eq!(err.details.map(|d| d.retry_after_seconds), Some(2));
    running.server.set_faults(FaultConfig { outage_ms: 60_000, ..Default::default() });
    assert_eq!(api_error(cms.list(&ListParams::default()).await.unwrap_err()).code, 503);
    running.server.set_faults(FaultConfig { gone_watches: 1, ..Default::default() });
    let mut w = cms.watch(&WatchParams::default().timeout(1), "0").await.expect("watch").boxed();
    assert!(matches!(w.try_next().await.expect("event"), Some(WatchEvent::Error(e)) if e.code == 410));
    running.server.set_faults(FaultConfig::default());

    let before = running.stats();
    cms.list(&ListParams::default()).await.expect("list");
    cms.create(&PostParams::default(), &cm("counted", json!({}))).await.expect("create");
    let delta = running.stats().since(&before);
    assert_eq!(delta.count("list", "configmaps"), 1);
    assert_eq!(delta.count("create", "configmaps"), 1);
    assert_eq!(delta.writes, 1);
}

#[tokio::test]
async fn events_are_one_storage_in_two_versions() {
    let (_s, client) = cluster().await;
    let core: Api<Event> = Api::namespaced(client.clone(), "team-a");
    core.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "e1"}, "involvedObject": {"kind": "Kustomization", "name": "apps", "namespace": "team-a"},
            "reason": "BuildFailed", "message": "kustomize build failed", "type": "Warning", "count": 3})).expect("event"),
    )
    .await
    .expect("create");
    let new: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), "team-a");
    let e = new.get("e1").await.expect("events.k8s.io view");
    assert_eq!(e.note.as_deref(), Some("kustomize build failed"));
    assert_eq!(e.regarding.and_then(|r| r.name).as_deref(), Some("apps"));
    let listed = core.list(&ListParams::default().fields("involvedObject.name=apps,type=Warning")).await.expect("list");
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn pod_logs_come_from_stored_text() {
    let (running, client) = cluster().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "x:1"}]}}),
        )
        .expect("pod"),
    )
    .await
    .expect("pod");
    running.server.set_pod_log("team-a", "p", "app", "one\ntwo\nthree\n");
    let logs = pods.logs("p", &kube::api::LogParams { tail_lines: Some(2), ..Default::default() }).await.expect("logs");
    assert_eq!(logs, "two\nthree\n");
}

#[tokio::test]
async fn watches_are_dropped_and_latency_added_on_request() {
    let (running, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    running.server.set_faults(FaultConfig { drop_watches_after_ms: 200, ..Default::default() });
    let started = std::time::Instant::now();
    let events: Vec<_> = cms.watch(&WatchParams::default().timeout(30), "0").await.expect("watch").collect().await;
    assert!(events.is_empty(), "{events:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "the watch was not dropped");
    running.server.set_faults(FaultConfig { latency_ms: 300, ..Default::default() });
    let started = std::time::Instant::now();
    cms.list(&ListParams::default()).await.expect("list");
    assert!(started.elapsed() >= Duration::from_millis(300), "latency was not added");
}

#[tokio::test]
async fn foreground_and_orphan_deletion() {
    let (_s, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let make_child = |name: &str, owner: &ConfigMap| {
        let mut child = cm(name, json!({}));
        child.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: owner.name_any(),
            uid: owner.uid().expect("uid"),
            ..Default::default()
        }]);
        child
    };
    let owner = cms.create(&PostParams::default(), &cm("fg-owner", json!({}))).await.expect("owner");
    cms.create(&PostParams::default(), &make_child("fg-child", &owner)).await.expect("child");
    cms.delete("fg-owner", &DeleteParams::foreground()).await.expect("delete");
    let orphan_owner = cms.create(&PostParams::default(), &cm("or-owner", json!({}))).await.expect("owner");
    cms.create(&PostParams::default(), &make_child("or-child", &orphan_owner)).await.expect("child");
    cms.delete("or-owner", &DeleteParams::orphan()).await.expect("delete");
    for _ in 0..100 {
        let fg_done = cms.get_opt("fg-owner").await.expect("get").is_none()
            && cms.get_opt("fg-child").await.expect("get").is_none();
        let orphaned = cms.get_opt("or-owner").await.expect("get").is_none()
            && cms.get_opt("or-child").await.expect("get").is_some_and(|c| c.owner_references().is_empty());
        if fg_done && orphaned {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("foreground deletion or orphaning did not complete");
}
