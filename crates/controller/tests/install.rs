//! The install paths: `kubectl apply -k config/default` and the samples apply to the embedded API
//! server, and the operator's ClusterRole holds every permission it grants to agents (Kubernetes
//! refuses to let it grant more than it has).

mod common;

use std::process::Command;

use common::{operator_role, root};
use fake_apiserver::{Config, Listen};
use gitops_agent_controller::render::{Child, OperatorDefaults, render_manifests};
use k8s_openapi::api::rbac::v1::PolicyRule;

fn grants(rules: &[PolicyRule], group: &str, resource: &str, verb: &str) -> bool {
    rules.iter().any(|r| {
        let has =
            |list: &Option<Vec<String>>, v: &str| list.as_ref().is_some_and(|l| l.iter().any(|x| x == v || x == "*"));
        has(&r.api_groups, group) && has(&r.resources, resource) && r.verbs.iter().any(|v| v == verb || v == "*")
    })
}

#[test]
fn the_operator_holds_everything_it_grants_and_gets_secrets_only_by_name() {
    let role = operator_role().rules.unwrap_or_default();
    let mut checked = 0;
    for example in ["everything-enabled", "minimal", "team-scoped", "nkp-production", "fleet"] {
        let text = std::fs::read_to_string(root().join(format!("examples/{example}.yaml"))).expect("example");
        for child in render_manifests(&text, "default", &OperatorDefaults::default()).expect("renders") {
            if let Child::ClusterRole(r) = child {
                for rule in r.rules.unwrap_or_default() {
                    for group in rule.api_groups.clone().unwrap_or_default() {
                        for resource in rule.resources.clone().unwrap_or_default() {
                            // The kubelet mounts kubeconfigs; the agent itself never reads Secrets.
                            assert!(
                                !(group.is_empty() && (resource == "secrets" || resource == "*")),
                                "{example}: an agent role on core {resource}"
                            );
                            for verb in &rule.verbs {
                                assert!(
                                    grants(&role, &group, &resource, verb),
                                    "operator cannot grant {verb} {resource}.{group}"
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 50);
    // Kubeconfig Secrets of spec.clusters are checked one by one, by name; never listed or watched.
    assert!(grants(&role, "", "secrets", "get"), "get secrets (spec.clusters)");
    for verb in ["list", "watch", "create", "patch", "update", "delete"] {
        assert!(!grants(&role, "", "secrets", verb), "the operator must not {verb} secrets");
    }
    assert!(
        grants(&role, "cluster.x-k8s.io", "clusters", "list") && grants(&role, "cluster.x-k8s.io", "clusters", "watch")
    );
    for kind in ["deployments", "services", "serviceaccounts"] {
        let group = if kind == "deployments" { "apps" } else { "" };
        for verb in ["create", "patch", "delete"] {
            assert!(grants(&role, group, kind, verb), "{verb} {kind}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kustomize_install_and_samples_apply_to_the_api_server() {
    let running = fake_apiserver::start(Config::default(), Listen::default()).await.expect("start");
    let dir = std::env::temp_dir().join(format!("gitops-agent-install-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let kubeconfig = dir.join("kubeconfig");
    running.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let root = root();
    tokio::task::spawn_blocking(move || {
        let kubectl = |args: &[&str]| {
            let out = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(args)
                .current_dir(&root)
                .output()
                .expect("kubectl runs");
            assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        kubectl(&["apply", "--server-side", "-k", "config/default"]);
        let deploy = kubectl(&[
            "get",
            "deployment",
            "gitops-agent-operator",
            "-n",
            "gitops-agent-system",
            "-o",
            "jsonpath={.spec.replicas}",
        ]);
        assert_eq!(deploy, "2");
        kubectl(&["get", "clusterrole", "gitops-agent-operator"]);
        kubectl(&["create", "namespace", "gitops-agent"]);
        kubectl(&["create", "namespace", "platform"]);
        kubectl(&["apply", "--server-side", "-k", "config/samples"]);
        let names = kubectl(&["get", "gta", "-A", "-o", "jsonpath={.items[*].metadata.name}"]);
        assert_eq!(names, "minimal production read-only-everything");
    })
    .await
    .expect("install scenario");
}
