//! kubectl, a real client-go program, against the embedded API server: discovery, OpenAPI
//! field-validation probing, server-side apply, tables, CEL refusals, status, wait, scale, logs.

use std::path::PathBuf;
use std::process::{Command, Output};

use fake_apiserver::{Config, Listen, fixtures};

struct Kubectl {
    kubeconfig: PathBuf,
    root: PathBuf,
}

impl Kubectl {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .current_dir(&self.root)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs (install it: apt-get install kubectl)");
        if let Some(input) = stdin {
            child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("stdin");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("kubectl output")
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_works_against_the_embedded_api_server() {
    let running = fake_apiserver::start(Config::default(), Listen::default()).await.expect("start");
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    fixtures::load_dir(&running.server, &root.join("examples/fixtures")).expect("fixtures");
    let dir = std::env::temp_dir().join(format!("fake-apiserver-kubectl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let kubeconfig = dir.join("kubeconfig");
    running.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let k = Kubectl { kubeconfig, root };

    tokio::task::spawn_blocking(move || {
        assert!(k.ok(&["api-resources"]).contains("kustomizations"));
        assert!(k.ok(&["apply", "--server-side", "-f", "crds/"]).contains("serverside-applied"));
        k.ok(&["create", "namespace", "gitops-agent"]);
        k.ok(&["apply", "--server-side", "-f", "examples/gitopsagent.yaml"]);
        let table = k.ok(&["get", "gta", "-A"]);
        assert!(table.contains("READY") && table.contains("gitops-agent"), "{table}");
        let failing = k.ok(&["get", "kustomizations", "-n", "flux-system"]);
        assert!(failing.contains("team-a-apps") && failing.contains("False"), "{failing}");

        let bad = r#"{"apiVersion":"agents.gitops.dev/v1alpha1","kind":"GitOpsAgent","metadata":{"name":"bad","namespace":"gitops-agent"},"spec":{"autoscaling":{"enabled":true,"minReplicas":5,"maxReplicas":2}}}"#;
        let out = k.run(&["apply", "--server-side", "-f", "-"], Some(bad));
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"), "{err}");
        let unknown = r#"{"apiVersion":"agents.gitops.dev/v1alpha1","kind":"GitOpsAgent","metadata":{"name":"bad","namespace":"gitops-agent"},"spec":{"replicaCount":2}}"#;
        let out = k.run(&["apply", "--server-side", "-f", "-"], Some(unknown));
        assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field \"spec.replicaCount\""));

        k.ok(&["patch", "gta", "gitops-agent", "-n", "gitops-agent", "--subresource=status", "--type=merge", "-p",
            r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Verified","message":"ok","lastTransitionTime":"2026-11-25T00:00:00Z"}]}}"#]);
        k.ok(&["wait", "--for=condition=Ready", "gta/gitops-agent", "-n", "gitops-agent", "--timeout=20s"]);
        k.ok(&["scale", "gta/gitops-agent", "-n", "gitops-agent", "--replicas=3"]);
        assert_eq!(k.ok(&["get", "gta", "gitops-agent", "-n", "gitops-agent", "-o", "jsonpath={.spec.replicas}"]), "3");
        assert!(k.ok(&["logs", "-n", "apps", "deploy/podinfo", "--tail=1"]).lines().count() == 1);
        k.ok(&["delete", "gta", "gitops-agent", "-n", "gitops-agent", "--wait=true"]);
        assert!(k.ok(&["get", "gta", "-A"]).is_empty());
    })
    .await
    .expect("kubectl scenario");
}
