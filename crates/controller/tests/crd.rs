//! The checked-in CRD under crds/ is exactly what the API types generate. When this fails, the
//! types changed: run `make crds` and commit the result.

use std::path::Path;

#[test]
fn checked_in_crd_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crds/gitopsagents.agents.gitops.dev.yaml");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-agent-operator"))
        .arg("crd")
        .output()
        .expect("run gitops-agent-operator crd");
    assert!(output.status.success(), "crd failed: {}", String::from_utf8_lossy(&output.stderr));
    let generated = String::from_utf8(output.stdout).expect("utf-8");
    assert!(generated == checked_in, "{} is stale: run `make crds` and commit the result", path.display());
    let copy = path
        .parent()
        .and_then(|p| p.parent())
        .map(|root| root.join("config/crd/bases/gitopsagents.agents.gitops.dev.yaml"))
        .expect("root");
    let copied = std::fs::read_to_string(&copy).unwrap_or_else(|e| panic!("read {}: {e}", copy.display()));
    assert!(copied == checked_in, "{} differs from crds/: run `make crds`", copy.display());
}

#[test]
fn crd_declares_what_kubectl_and_flux_rely_on() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-agent-operator"))
        .args(["crd", "-o", "json"])
        .output()
        .expect("run gitops-agent-operator crd");
    let crd: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(crd["metadata"]["name"], "gitopsagents.agents.gitops.dev");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["shortNames"], serde_json::json!(["gta"]));
    assert_eq!(crd["spec"]["names"]["categories"], serde_json::json!(["gitops"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert!(version["subresources"]["status"].is_object());
    assert_eq!(version["subresources"]["scale"]["specReplicasPath"], ".spec.replicas");
    assert_eq!(version["subresources"]["scale"]["labelSelectorPath"], ".status.selector");
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("printer columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(columns, ["Ready", "Replicas", "URL", "Age"]);
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert!(spec.get("x-kubernetes-preserve-unknown-fields").is_none(), "spec must be structural");
    assert!(spec["x-kubernetes-validations"].as_array().is_some_and(|r| r.len() >= 10));
    assert_eq!(spec["properties"]["readOnly"]["default"], true);
}
