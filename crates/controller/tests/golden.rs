//! Golden files: the exact children rendered for each example GitOpsAgent. A changed output fails
//! until the golden file is updated on purpose: `UPDATE_GOLDEN=1 cargo nextest run golden`.

mod common;

use std::path::Path;

use common::root;
use gitops_agent_controller::render::{OperatorDefaults, render_manifests, to_yaml};

fn check_golden(example: &str) {
    let input = root().join("examples").join(format!("{example}.yaml"));
    let text = std::fs::read_to_string(&input).unwrap_or_else(|e| panic!("read {}: {e}", input.display()));
    let defaults = OperatorDefaults { image_tag: "1.0.0".into(), operator_namespace: None };
    let children = render_manifests(&text, "default", &defaults).unwrap_or_else(|e| panic!("{example}: {e}"));
    let rendered = to_yaml(&children).expect("serializes");
    let again = to_yaml(&render_manifests(&text, "default", &defaults).expect("renders")).expect("serializes");
    assert_eq!(rendered, again, "{example}: rendering twice must give identical output");

    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{example}.yaml"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &rendered).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|e| panic!("read {}: {e} (create it with UPDATE_GOLDEN=1)", golden.display()));
    if rendered != expected {
        let first_diff = rendered
            .lines()
            .zip(expected.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}: rendered {a:?}, golden {b:?}", i + 1))
            .unwrap_or_else(|| "lengths differ".into());
        panic!(
            "{example}: render output differs from {} ({first_diff}); update with UPDATE_GOLDEN=1 if intended",
            golden.display()
        );
    }
}

#[test]
fn minimal() {
    check_golden("minimal");
}

#[test]
fn typical() {
    check_golden("gitopsagent");
}

#[test]
fn nkp_production_values() {
    check_golden("nkp-production");
}

#[test]
fn everything_enabled() {
    check_golden("everything-enabled");
}

#[test]
fn everything_disabled() {
    check_golden("everything-disabled");
}

#[test]
fn team_scoped() {
    check_golden("team-scoped");
}

#[test]
fn fleet() {
    check_golden("fleet");
}

#[test]
fn every_example_has_a_golden_test() {
    let mut examples: Vec<String> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    examples.sort();
    let goldens: Vec<String> = [
        "everything-disabled",
        "everything-enabled",
        "fleet",
        "gitopsagent",
        "minimal",
        "nkp-production",
        "team-scoped",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(examples, goldens, "add a golden test for each GitOpsAgent example");
}
