//! Behaviour of render that golden files alone would not explain: security defaults, least
//! privilege, ownership, and how spec changes show up in the children.

use gitops_agent_api::{GitOpsAgent, GitOpsAgentSpec, admit};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::{Value, json};

use super::{Child, OperatorDefaults, render};

fn agent(spec: Value) -> GitOpsAgent {
    let mut agent = admit(&json!({
        "apiVersion": "agents.gitops.dev/v1alpha1",
        "kind": "GitOpsAgent",
        "metadata": {"name": "agent", "namespace": "gitops-agent"},
        "spec": spec,
    }))
    .expect("valid spec");
    agent.metadata.uid = Some("0b7c1a52-4c5e-4a43-9d7e-6a4f0f6f3c11".into());
    agent
}

fn children(spec: Value) -> Vec<Child> {
    render(&agent(spec), &OperatorDefaults::default()).expect("renders")
}

fn deployment(children: &[Child]) -> &Deployment {
    children
        .iter()
        .find_map(|c| match c {
            Child::Deployment(d) => Some(d),
            _ => None,
        })
        .expect("a Deployment")
}

fn pod(d: &Deployment) -> &PodSpec {
    d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("pod spec")
}

fn container(d: &Deployment) -> &Container {
    &pod(d).containers[0]
}

fn args_of(children: &[Child]) -> Vec<String> {
    container(deployment(children)).args.clone().unwrap_or_default()
}

fn rules(children: &[Child]) -> Vec<PolicyRule> {
    children
        .iter()
        .filter_map(|c| match c {
            Child::ClusterRole(r) => r.rules.clone(),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn the_pod_is_hardened_by_default() {
    let all = children(json!({}));
    let d = deployment(&all);
    let psc = pod(d).security_context.as_ref().expect("pod security context");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(65532));
    assert_eq!(psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()), Some("RuntimeDefault"));
    let sc = container(d).security_context.as_ref().expect("container security context");
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.privileged, Some(false));
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.capabilities.as_ref().and_then(|c| c.drop.clone()), Some(vec!["ALL".to_string()]));
    assert_eq!(sc.seccomp_profile.as_ref().map(|s| s.type_.as_str()), Some("RuntimeDefault"));
    // A writable /tmp, since the root filesystem is read-only.
    assert!(container(d).volume_mounts.as_ref().is_some_and(|m| m.iter().any(|m| m.mount_path == "/tmp")));
    let args = container(d).args.clone().unwrap_or_default();
    assert!(args.contains(&"--read-only=true".to_string()), "{args:?}");
}

#[test]
fn overriding_one_security_field_keeps_the_other_defaults() {
    let all = children(json!({"securityContext": {"runAsUser": 10001}, "podSecurityContext": {"fsGroup": 2000}}));
    let d = deployment(&all);
    let sc = container(d).security_context.as_ref().expect("security context");
    assert_eq!(sc.run_as_user, Some(10001));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.capabilities.as_ref().and_then(|c| c.drop.clone()), Some(vec!["ALL".to_string()]));
    let psc = pod(d).security_context.as_ref().expect("pod security context");
    assert_eq!(psc.fs_group, Some(2000));
    assert_eq!(psc.run_as_non_root, Some(true));
}

#[test]
fn read_only_rbac_grants_only_reads_and_never_secrets() {
    let all = children(json!({}));
    let rules = rules(&all);
    assert!(!rules.is_empty());
    for rule in &rules {
        let resources = rule.resources.clone().unwrap_or_default();
        if is_review_rule(rule) {
            continue;
        }
        assert!(
            !resources
                .iter()
                .any(|r| r == "secrets" || (r == "*" && rule.api_groups.as_deref() == Some(&["".to_string()]))),
            "{rule:?}"
        );
        for verb in &rule.verbs {
            assert!(["get", "list", "watch"].contains(&verb.as_str()), "write verb {verb} in {rule:?}");
        }
        assert!(rule.non_resource_urls.is_none());
    }
    // Logs are read with `get` on the subresource, nothing more.
    let logs = rules.iter().find(|r| r.resources.as_ref().is_some_and(|r| r.contains(&"pods/log".to_string())));
    assert_eq!(logs.map(|r| r.verbs.clone()), Some(vec!["get".to_string()]));
}

#[test]
fn writable_agents_may_patch_flux_objects_only() {
    let rules = rules(&children(json!({"readOnly": false})));
    let patch: Vec<&PolicyRule> = rules.iter().filter(|r| r.verbs.contains(&"patch".to_string())).collect();
    assert!(!patch.is_empty());
    for rule in patch {
        let group = rule.api_groups.as_ref().and_then(|g| g.first()).cloned().unwrap_or_default();
        assert!(group.ends_with(".toolkit.fluxcd.io"), "patch outside Flux: {rule:?}");
        assert_eq!(rule.verbs, vec!["patch".to_string()]);
    }
}

/// The rule that lets the agent check its callers: `create` on one review kind, nothing else.
fn is_review_rule(rule: &PolicyRule) -> bool {
    let reviews = [("authentication.k8s.io", "tokenreviews"), ("authorization.k8s.io", "subjectaccessreviews")];
    let group = rule.api_groups.as_ref().and_then(|g| g.first()).cloned().unwrap_or_default();
    let resources = rule.resources.clone().unwrap_or_default();
    let is_review = resources.len() == 1 && reviews.contains(&(group.as_str(), resources[0].as_str()));
    if is_review {
        assert_eq!(rule.verbs, vec!["create".to_string()], "{rule:?}");
    }
    is_review
}

#[test]
fn rbac_follows_the_enabled_tools() {
    let only_events = children(json!({"tools": {"enabled": ["get_events"]}, "auth": {"mode": "None"}}));
    let rules = rules(&only_events);
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].resources, Some(vec!["events".to_string()]));
    let none = children(json!({"tools": {"enabled": ["list_contexts"]}, "auth": {"mode": "None"}}));
    assert!(!none.iter().any(|c| matches!(c, Child::ClusterRole(_) | Child::ClusterRoleBinding(_))));
}

#[test]
fn checking_callers_adds_review_rights_and_nothing_else() {
    let checked = rules(&children(json!({"tools": {"enabled": ["list_contexts"]}})));
    assert_eq!(checked.len(), 2, "{checked:?}");
    assert!(checked.iter().all(is_review_rule), "{checked:?}");
    let open = rules(&children(json!({"auth": {"mode": "None"}})));
    assert!(!open.iter().any(is_review_rule), "no reviews without caller checks");
    let agent = children(json!({"auth": {"issuers": ["https://oidc.example.com"], "audiences": ["gitops-agent"]}}));
    let args = args_of(&agent);
    for expected in ["--auth=kubernetes", "--auth-issuers=https://oidc.example.com", "--auth-audiences=gitops-agent"] {
        assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
    }
    let args = args_of(&children(json!({"auth": {"mode": "None"}})));
    assert!(
        args.contains(&"--auth=none".to_string()) && args.contains(&"--allow-unauthenticated".to_string()),
        "{args:?}"
    );
}

#[test]
fn namespaced_agents_bind_per_namespace() {
    let all = children(json!({"watchNamespaces": ["gitops-agent", "team-a"]}));
    let bindings: Vec<(&str, Option<&str>)> =
        all.iter().filter(|c| matches!(c, Child::RoleBinding(_))).map(|c| (c.name(), c.namespace())).collect();
    assert_eq!(
        bindings,
        [
            ("gitops-agent-gitops-agent-agent", Some("gitops-agent")),
            ("gitops-agent-gitops-agent-agent", Some("team-a"))
        ]
    );
    // Cluster-scoped kinds (policies, constraint templates, namespaces) still need a cluster binding.
    assert!(all.iter().any(|c| matches!(c, Child::ClusterRoleBinding(b) if b.metadata.name.as_deref() == Some("gitops-agent-gitops-agent-agent-cluster"))));
}

#[test]
fn namespaced_children_in_the_agents_namespace_are_owned_and_others_are_labelled() {
    let all = children(json!({"watchNamespaces": ["team-a"], "tls": {"enabled": true, "issuerRef": {"name": "ca"}},
        "httpRoute": {"enabled": true, "hostnames": ["a.example.com"], "parentRefs": [{"name": "gw"}]}}));
    for child in &all {
        let json = child.to_json();
        let owners = json.pointer("/metadata/ownerReferences").and_then(Value::as_array);
        let labels = json.pointer("/metadata/labels").expect("labels");
        assert_eq!(labels["agents.gitops.dev/agent"], "agent", "{}", child.display_name());
        assert_eq!(labels["agents.gitops.dev/agent-namespace"], "gitops-agent", "{}", child.display_name());
        if child.namespace() == Some("gitops-agent") {
            let owner = &owners.expect("owned")[0];
            assert_eq!(owner["kind"], "GitOpsAgent");
            assert_eq!(owner["controller"], true);
            assert_eq!(owner["uid"], "0b7c1a52-4c5e-4a43-9d7e-6a4f0f6f3c11");
        } else {
            assert!(owners.is_none(), "{} cannot be owned across namespaces", child.display_name());
        }
    }
}

#[test]
fn autoscaling_leaves_replicas_to_the_hpa() {
    let all = children(json!({"autoscaling": {"enabled": true}}));
    assert_eq!(deployment(&all).spec.as_ref().and_then(|s| s.replicas), None);
    assert!(all.iter().any(|c| matches!(c, Child::HorizontalPodAutoscaler(_))));
    let fixed = children(json!({"replicas": 3}));
    assert_eq!(deployment(&fixed).spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert!(!fixed.iter().any(|c| matches!(c, Child::HorizontalPodAutoscaler(_))));
}

#[test]
fn several_replicas_spread_across_nodes_and_one_does_not() {
    let two = children(json!({"replicas": 2}));
    let p = pod(deployment(&two));
    assert!(
        p.topology_spread_constraints
            .as_ref()
            .is_some_and(|t| t.iter().any(|t| t.topology_key == "kubernetes.io/hostname"))
    );
    assert!(p.affinity.as_ref().and_then(|a| a.pod_anti_affinity.as_ref()).is_some());
    let one = children(json!({"replicas": 1, "pdb": {"enabled": false}}));
    let p = pod(deployment(&one));
    assert!(p.topology_spread_constraints.is_none());
    assert!(p.affinity.is_none());
}

fn config_hash(all: &[Child]) -> String {
    deployment(all)
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get("agents.gitops.dev/config-hash").cloned())
        .expect("config hash")
}

#[test]
fn the_config_hash_changes_with_the_server_config_only() {
    let base = config_hash(&children(json!({})));
    assert_eq!(base, config_hash(&children(json!({}))));
    assert_ne!(base, config_hash(&children(json!({"logLevel": "debug"}))));
    assert_ne!(base, config_hash(&children(json!({"image": {"tag": "9.9.9"}}))));
    assert_eq!(base, config_hash(&children(json!({"replicas": 5}))));
}

#[test]
fn extra_env_replaces_builtins_instead_of_duplicating_them() {
    let all = children(json!({"extraEnv": [{"name": "POD_NAME", "value": "fixed"}, {"name": "EXTRA", "value": "1"}]}));
    let env = container(deployment(&all)).env.clone().unwrap_or_default();
    let names: Vec<&str> = env.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["POD_NAME", "POD_NAMESPACE", "EXTRA"]);
    assert_eq!(env[0].value.as_deref(), Some("fixed"));
}

#[test]
fn the_image_tag_defaults_to_the_operators_version_and_a_digest_pins_it() {
    let d = OperatorDefaults { image_tag: "2.3.4".into(), operator_namespace: None };
    let image = |spec: Value| {
        let all = render(&agent(spec), &d).expect("renders");
        container(deployment(&all)).image.clone().unwrap_or_default()
    };
    assert_eq!(image(json!({})), "ghcr.io/gitops-agent/gitops-agent:2.3.4");
    assert_eq!(image(json!({"image": {"tag": "1.0.0"}})), "ghcr.io/gitops-agent/gitops-agent:1.0.0");
    let digest = format!("sha256:{}", "a".repeat(64));
    assert_eq!(image(json!({"image": {"digest": digest}})), format!("ghcr.io/gitops-agent/gitops-agent@{digest}"));
}

#[test]
fn disabled_optional_children_are_not_rendered() {
    let kinds = |spec: Value| children(spec).iter().map(Child::kind).collect::<Vec<_>>();
    let all = kinds(json!({"metrics": {"serviceMonitor": {"enabled": true}}, "autoscaling": {"enabled": true}}));
    assert!(all.contains(&"ServiceMonitor".to_string()) && all.contains(&"HorizontalPodAutoscaler".to_string()));
    let bare = kinds(json!({"pdb": {"enabled": false}, "networkPolicy": {"enabled": false}, "rbac": {"create": false},
        "serviceAccount": {"create": false, "name": "existing"}}));
    assert_eq!(bare, ["Service", "Deployment"]);
}

#[test]
fn render_never_panics_on_a_default_spec_without_metadata() {
    let bare = GitOpsAgent::new("x", GitOpsAgentSpec::default());
    let all = render(&bare, &OperatorDefaults::default()).expect("renders");
    assert!(all.iter().all(|c| c.namespace().is_none_or(|ns| ns == "default")));
    let mut nameless = bare;
    nameless.metadata.name = None;
    assert!(render(&nameless, &OperatorDefaults::default()).is_err());
}

fn service(children: &[Child]) -> &k8s_openapi::api::core::v1::Service {
    children
        .iter()
        .find_map(|c| match c {
            Child::Service(s) => Some(s),
            _ => None,
        })
        .expect("a Service")
}

#[test]
fn in_memory_a2a_tasks_pin_clients_to_a_pod_only_with_several_replicas() {
    let affinity = |spec: Value| service(&children(spec)).spec.as_ref().and_then(|s| s.session_affinity.clone());
    assert_eq!(affinity(json!({})), Some("ClientIP".into()), "two replicas by default");
    assert_eq!(affinity(json!({"replicas": 1})), None);
    assert_eq!(affinity(json!({"replicas": 1, "autoscaling": {"enabled": true}})), Some("ClientIP".into()));
    let redis = json!({"a2a": {"taskStore": {"type": "Redis", "redis": {"url": "redis://redis.cache:6379/2"}}}});
    assert_eq!(affinity(redis.clone()), None);
    let all = children(redis);
    let args = container(deployment(&all)).args.clone().unwrap_or_default();
    assert!(args.contains(&"--task-store=redis://redis.cache:6379/2".to_string()), "{args:?}");
    assert!(!args.iter().any(|a| a.starts_with("--task-max") || a.starts_with("--task-ttl")), "defaults stay implicit");
}

#[test]
fn a_redis_url_with_a_password_stays_in_its_secret() {
    let all = children(json!({"a2a": {"taskStore": {"type": "Redis", "maxTasks": 5000, "ttlSeconds": 600,
        "redis": {"urlSecretRef": {"name": "redis-url", "key": "url"}}}}}));
    let c = container(deployment(&all));
    let env = c.env.clone().unwrap_or_default();
    let store = env.iter().find(|e| e.name == "GITOPS_AGENT_TASK_STORE").expect("env");
    let secret = store.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()).expect("secretKeyRef");
    assert_eq!((secret.name.as_str(), secret.key.as_str()), ("redis-url", "url"));
    let args = c.args.clone().unwrap_or_default();
    assert!(
        args.contains(&"--task-max=5000".to_string()) && args.contains(&"--task-ttl-seconds=600".to_string()),
        "{args:?}"
    );
    assert!(!args.iter().any(|a| a.starts_with("--task-store")));
}

#[test]
fn every_replica_gets_the_confirmation_key_from_its_secret() {
    let env_of = |spec| container(deployment(&children(spec))).env.clone().unwrap_or_default();
    let env = env_of(json!({"readOnly": false, "confirmationKeySecretRef": {"name": "confirm-key", "key": "key"}}));
    let key = env.iter().find(|e| e.name == "GITOPS_AGENT_REQUEST_STATE_KEY").expect("the key's variable");
    let secret = key.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()).expect("secretKeyRef");
    assert_eq!((secret.name.as_str(), secret.key.as_str()), ("confirm-key", "key"));
    assert!(key.value.is_none(), "the key stays in its Secret");
    let unset = env_of(json!({"readOnly": false}));
    assert!(!unset.iter().any(|e| e.name == "GITOPS_AGENT_REQUEST_STATE_KEY"), "unset: each pod makes its own");
}

#[test]
fn bad_task_store_specs_are_refused_with_the_field_named() {
    for (spec, words) in [
        (json!({"a2a": {"taskStore": {"type": "Redis"}}}), "exactly one of a2a.taskStore.redis.url"),
        (json!({"a2a": {"taskStore": {"type": "Memory", "redis": {"url": "redis://r:6379"}}}}), "only read when"),
        (json!({"a2a": {"taskStore": {"type": "Redis", "redis": {"url": "redis://user:pw@r:6379"}}}}), "url"),
        (json!({"a2a": {"taskStore": {"ttlSeconds": 5}}}), "ttlSeconds"),
    ] {
        let err = admit(&json!({
            "apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent",
            "metadata": {"name": "agent", "namespace": "gitops-agent"}, "spec": spec,
        }))
        .expect_err("refused");
        assert!(err.to_string().contains(words), "{spec}: {err}");
    }
}

#[test]
fn push_notifications_are_on_by_default_and_their_key_is_a_read_only_file() {
    let default_args = args_of(&children(json!({})));
    assert!(!default_args.iter().any(|a| a.starts_with("--a2a-push")), "defaults stay implicit: {default_args:?}");
    let all = children(json!({"a2a": {"pushNotifications": {"allowHosts": ["orchestrator.agents.svc", "10.0.0.7"],
        "signingKeySecretRef": {"name": "push-key", "key": "tls.key"}}}}));
    let args = args_of(&all);
    assert!(args.contains(&"--a2a-push-allow-hosts=orchestrator.agents.svc,10.0.0.7".to_string()), "{args:?}");
    assert!(args.contains(&"--a2a-push-signing-key=/etc/gitops-agent/push/signing-key.pem".to_string()), "{args:?}");
    let volume = pod(deployment(&all)).volumes.iter().flatten().find(|v| v.name == "push-signing-key").expect("volume");
    let secret = volume.secret.as_ref().expect("a Secret volume");
    assert_eq!(secret.secret_name.as_deref(), Some("push-key"));
    let item = &secret.items.as_ref().expect("items")[0];
    assert_eq!((item.key.as_str(), item.path.as_str(), item.mode), ("tls.key", "signing-key.pem", Some(0o440)));
    let mounts = container(deployment(&all)).volume_mounts.clone().unwrap_or_default();
    let mount = mounts.iter().find(|m| m.name == "push-signing-key").expect("mount");
    assert_eq!((mount.mount_path.as_str(), mount.read_only), ("/etc/gitops-agent/push", Some(true)));

    let off = children(json!({"a2a": {"pushNotifications": {"enabled": false,
        "signingKeySecretRef": {"name": "push-key", "key": "tls.key"}}}}));
    assert!(args_of(&off).contains(&"--a2a-push=false".to_string()));
    assert!(
        !pod(deployment(&off)).volumes.iter().flatten().any(|v| v.name == "push-signing-key"),
        "no key without pushes"
    );
    let err = admit(&json!({
        "apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent",
        "metadata": {"name": "agent", "namespace": "gitops-agent"},
        "spec": {"a2a": {"pushNotifications": {"allowHosts": ["http://x"]}}},
    }))
    .expect_err("a URL is not a host");
    assert!(err.to_string().contains("allowHosts"), "{err}");
}

#[test]
fn the_network_policy_admits_the_operator_that_verifies_the_agent() {
    let defaults = OperatorDefaults { operator_namespace: Some("gitops-agent-system".into()), ..Default::default() };
    let all = render(&agent(json!({})), &defaults).expect("renders");
    let np = all
        .iter()
        .find_map(|c| match c {
            Child::NetworkPolicy(n) => Some(n),
            _ => None,
        })
        .expect("a NetworkPolicy");
    let text = serde_json::to_string(&np.spec).expect("json");
    assert!(text.contains("gitops-agent-system"), "{text}");
}

#[test]
fn the_network_policy_lets_the_agent_reach_its_redis_task_store() {
    let egress_ports = |spec: Value| -> Vec<i32> {
        children(spec)
            .iter()
            .find_map(|c| match c {
                Child::NetworkPolicy(n) => Some(n.clone()),
                _ => None,
            })
            .and_then(|n| n.spec)
            .and_then(|s| s.egress)
            .unwrap_or_default()
            .iter()
            .flat_map(|r| r.ports.clone().unwrap_or_default())
            .filter_map(|p| match p.port {
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => Some(n),
                _ => None,
            })
            .collect()
    };
    assert!(!egress_ports(json!({})).contains(&6379));
    let url = json!({"a2a": {"taskStore": {"type": "Redis", "redis": {"url": "redis://redis.cache:6380/1"}}}});
    assert!(egress_ports(url).contains(&6380));
    let secret =
        json!({"a2a": {"taskStore": {"type": "Redis", "redis": {"urlSecretRef": {"name": "r", "key": "url"}}}}});
    assert!(egress_ports(secret).contains(&6379));
}

fn volume<'a>(children: &'a [Child], name: &str) -> Option<&'a k8s_openapi::api::core::v1::Volume> {
    pod(deployment(children)).volumes.as_ref()?.iter().find(|v| v.name == name)
}

#[test]
fn without_clusters_the_agent_gets_no_clusters_directory() {
    for spec in [json!({}), json!({"clusters": {}}), json!({"clusters": {"local": true}})] {
        let all = children(spec);
        assert!(volume(&all, "clusters").is_none());
        assert!(!args_of(&all).iter().any(|a| a.starts_with("--clusters-dir") || a.starts_with("--local-cluster")));
    }
}

#[test]
fn cluster_targets_are_projected_read_only_one_file_per_cluster() {
    let all = children(json!({"clusters": {"targets": [
        {"name": "prod-us", "secretRef": {"name": "us-admin", "key": "kubeconfig"}},
        {"name": "prod-eu"},
    ]}}));
    let projected = volume(&all, "clusters").and_then(|v| v.projected.as_ref()).expect("projected volume");
    /// Secret, key, file, mode, optional.
    type Source = (String, String, String, Option<i32>, Option<bool>);
    let sources: Vec<Source> = projected
        .sources
        .iter()
        .flatten()
        .filter_map(|s| s.secret.as_ref())
        .flat_map(|s| {
            s.items.iter().flatten().map(|i| (s.name.clone(), i.key.clone(), i.path.clone(), i.mode, s.optional))
        })
        .collect();
    assert_eq!(
        sources,
        [
            ("prod-eu-kubeconfig".into(), "value".into(), "prod-eu".into(), Some(0o440), Some(false)),
            ("us-admin".into(), "kubeconfig".into(), "prod-us".into(), Some(0o440), Some(false)),
        ],
        "sorted by cluster; the file name is the cluster name; owner and group (fsGroup) may read"
    );
    let d = deployment(&all);
    assert_eq!(
        pod(d).security_context.as_ref().and_then(|s| s.fs_group),
        Some(gitops_agent_api::spec::NONROOT_ID),
        "the agent reads group-readable kubeconfigs through its fsGroup"
    );
    let mount = container(d).volume_mounts.iter().flatten().find(|m| m.name == "clusters").expect("mounted");
    assert_eq!((mount.mount_path.as_str(), mount.read_only), ("/etc/gitops-agent/clusters", Some(true)));
    let args = args_of(&all);
    assert!(args.contains(&"--clusters-dir=/etc/gitops-agent/clusters".to_string()), "{args:?}");
    assert!(!args.iter().any(|a| a.starts_with("--local-cluster")), "local is the server's default");
}

#[test]
fn local_false_is_passed_to_the_server() {
    let args = args_of(&children(json!({"clusters": {"local": false, "targets": [{"name": "a"}]}})));
    assert!(args.contains(&"--local-cluster=false".to_string()), "{args:?}");
    assert!(args.contains(&"--clusters-dir=/etc/gitops-agent/clusters".to_string()), "{args:?}");
}

#[test]
fn the_operator_mounts_only_the_kubeconfigs_it_found() {
    use super::{MountedKubeconfig, render_with};
    let agent = agent(json!({"clusters": {"targets": [{"name": "a"}], "selector": {"matchLabels": {"env": "prod"}}}}));
    let found = [
        MountedKubeconfig { cluster: "capi-2".into(), secret: "capi-2-kubeconfig".into(), key: "value".into() },
        MountedKubeconfig { cluster: "capi-1".into(), secret: "capi-1-kubeconfig".into(), key: "value".into() },
    ];
    let all = render_with(&agent, &OperatorDefaults::default(), &found).expect("renders");
    let secrets: Vec<String> = volume(&all, "clusters")
        .and_then(|v| v.projected.as_ref())
        .and_then(|p| p.sources.as_ref())
        .expect("sources")
        .iter()
        .filter_map(|s| s.secret.as_ref().map(|s| s.name.clone()))
        .collect();
    assert_eq!(secrets, ["capi-1-kubeconfig", "capi-2-kubeconfig"], "target a's Secret was not found: not mounted");
    // Nothing found yet: the directory is still there (empty), so the pod template and flags stay
    // put while clusters come and go.
    let none = render_with(&agent, &OperatorDefaults::default(), &[]).expect("renders");
    let projected = volume(&none, "clusters").and_then(|v| v.projected.as_ref()).expect("projected");
    assert_eq!(projected.sources.as_deref().map(<[_]>::len), Some(0));
    assert!(args_of(&none).contains(&"--clusters-dir=/etc/gitops-agent/clusters".to_string()));
}
