//! The `render` subcommand as a user runs it: files, stdin, output formats, and refusals.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn operator(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gitops-agent-operator"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gitops-agent-operator");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

#[test]
fn renders_every_example_to_kubernetes_objects() {
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let out = operator(&["render", "-f", path.to_str().expect("utf-8 path"), "-o", "json"], None);
        assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
        let items = list["items"].as_array().expect("items");
        assert!(items.len() >= 2, "{}", path.display());
        for item in items {
            assert!(item["apiVersion"].is_string() && item["kind"].is_string(), "{item}");
            assert!(item["metadata"]["name"].is_string(), "{item}");
        }
    }
}

#[test]
fn reads_standard_input_and_defaults_the_namespace() {
    let manifest = "apiVersion: agents.gitops.dev/v1alpha1\nkind: GitOpsAgent\nmetadata:\n  name: piped\n";
    let out = operator(&["render", "-f", "-", "-n", "team-b"], Some(manifest));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.starts_with("---\n"));
    assert!(text.contains("namespace: team-b"));
    assert!(text.contains("kind: Deployment"));
}

#[test]
fn refuses_an_invalid_spec_with_the_api_servers_message() {
    let manifest = "apiVersion: agents.gitops.dev/v1alpha1\nkind: GitOpsAgent\nmetadata:\n  name: bad\nspec:\n  autoscaling:\n    enabled: true\n    minReplicas: 6\n    maxReplicas: 2\n";
    let out = operator(&["render", "-f", "-"], Some(manifest));
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing is printed for a refused manifest");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GitOpsAgent.agents.gitops.dev \"bad\" is invalid: spec: Invalid value: \"object\": autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"),
        "{err}"
    );
}

#[test]
fn refuses_unreadable_and_malformed_input() {
    let out = operator(&["render", "-f", "does-not-exist.yaml"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read does-not-exist.yaml"));
    let out = operator(&["render", "-f", "-"], Some("a: ["));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid YAML"));
    let out = operator(&["render", "-f", "-"], Some(""));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no GitOpsAgent manifest"));
    let out = operator(&["render", "-f", "-"], Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("expected apiVersion agents.gitops.dev/v1alpha1 and kind GitOpsAgent")
    );
}

#[test]
fn renders_several_documents_in_order() {
    let two = "apiVersion: agents.gitops.dev/v1alpha1\nkind: GitOpsAgent\nmetadata:\n  name: one\n---\napiVersion: agents.gitops.dev/v1alpha1\nkind: GitOpsAgent\nmetadata:\n  name: two\n";
    let out = operator(&["render", "-f", "-", "-o", "json"], Some(two));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let deployments: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["kind"] == "Deployment")
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert_eq!(deployments, ["one", "two"]);
}
