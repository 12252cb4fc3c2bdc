"""The operator chart (chart/gitops-agent-operator): lint, CRD identity, RBAC and Deployment as
config/ installs them, hardened pods, a command line the operator binary accepts, bad values refused."""

from __future__ import annotations

import subprocess

import helm_python as helm
import pytest

from helpers import (
    OPERATOR_BIN,
    OPERATOR_CHART,
    OPERATOR_NAMESPACE,
    REPO,
    by_kind,
    check_golden,
    golden_text,
    load_yaml,
    manifests,
    notes,
    render,
)
from security import assert_hardened_pod, assert_no_secret_access

CRD_FILE = "gitopsagents.agents.gitops.dev.yaml"
RELEASE = "gitops-agent-operator"


def render_operator(values=None):
    return render(values, chart=OPERATOR_CHART, name=RELEASE, namespace=OPERATOR_NAMESPACE)


def config_docs(path):
    import yaml

    return [d for d in yaml.safe_load_all((REPO / path).read_text()) if d]


def test_lint_strict():
    report = helm.lint(OPERATOR_CHART, strict=True, namespace=OPERATOR_NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


def test_crd_is_byte_identical_to_crds_dir():
    source = (REPO / "crds" / CRD_FILE).read_bytes()
    assert (OPERATOR_CHART / "crds" / CRD_FILE).read_bytes() == source, (
        "chart/gitops-agent-operator/crds/ is stale: cp crds/*.yaml chart/gitops-agent-operator/crds/"
    )
    # And Helm loads exactly that one CRD, unchanged.
    with helm.Chart.load(OPERATOR_CHART) as chart:
        crds = chart.crds
    assert [c["filename"] for c in crds] == [f"gitops-agent-operator/crds/{CRD_FILE}"]
    assert crds[0]["data"].encode() == source


def test_cluster_role_grants_exactly_what_config_rbac_grants():
    docs = manifests(render_operator())
    config = config_docs("config/rbac/role.yaml") + config_docs("config/rbac/leader_election_role.yaml")
    for kind in ("ClusterRole", "Role"):
        (chart_role,) = by_kind(docs, kind)
        (config_role,) = by_kind(config, kind)
        assert chart_role["rules"] == config_role["rules"], f"{kind} rules differ from config/rbac"
    (binding,) = by_kind(docs, "ClusterRoleBinding")
    (sa,) = by_kind(docs, "ServiceAccount")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": OPERATOR_NAMESPACE}]
    # Kubeconfig Secrets of spec.clusters: `get` by name only, never list or watch.
    assert_no_secret_access(docs, allowed_verbs=frozenset({"get"}))


def test_deployment_matches_config_manager():
    docs = manifests(render_operator())
    (deploy,) = by_kind(docs, "Deployment")
    (config_deploy,) = by_kind(config_docs("config/manager/manager.yaml"), "Deployment")
    spec, config_spec = deploy["spec"], config_deploy["spec"]
    assert spec["replicas"] == config_spec["replicas"] == 2
    assert spec["strategy"] == config_spec["strategy"]
    pod, config_pod = spec["template"]["spec"], config_spec["template"]["spec"]
    assert pod["securityContext"] == config_pod["securityContext"]
    (container,), (config_container,) = pod["containers"], config_pod["containers"]
    for field in ("securityContext", "resources", "ports", "env"):
        assert container[field] == config_container[field], field
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == config_container[probe]["httpGet"], probe
    args = container["args"]
    assert args[0] == "run"
    for flag in config_container["args"][1:]:
        assert flag in args, f"{flag} of config/manager is missing from the chart's operator args"
    assert pod["affinity"]["podAntiAffinity"], "two replicas prefer distinct nodes"
    assert_hardened_pod(deploy)

    (pdb,) = by_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == spec["selector"]
    (service,) = by_kind(docs, "Service")
    assert service["spec"]["ports"][0]["port"] == 8080
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
    assert by_kind(docs, "ServiceMonitor") == []


def test_operator_binary_accepts_the_args():
    """clap parses every flag (names and typed values) before it acts on --help: exit 0 means
    the operator would start with this command line."""
    values = {
        "watchNamespaces": ["team-a", "team-b"],
        "agentImageTag": "0.1.0",
        "verify": False,
        "logFormat": "text",
        "logLevel": "debug",
    }
    for vals in ({}, values, {"leaderElection": {"enabled": False}}):
        (deploy,) = by_kind(manifests(render_operator(vals)), "Deployment")
        args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
        proc = subprocess.run([str(OPERATOR_BIN), *args, "--help"], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"gitops-agent-operator refuses {args}: {proc.stderr}"


def test_service_monitor_and_leader_election_toggles():
    docs = manifests(render_operator({"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}}))
    (monitor,) = by_kind(docs, "ServiceMonitor")
    (service,) = by_kind(docs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    assert all(service["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())

    docs = manifests(render_operator({"leaderElection": {"enabled": False}, "replicaCount": 1}))
    assert by_kind(docs, "Role") == [] and by_kind(docs, "RoleBinding") == []
    (deploy,) = by_kind(docs, "Deployment")
    assert "--leader-election=false" in deploy["spec"]["template"]["spec"]["containers"][0]["args"]


def test_notes_and_golden():
    rendered = render_operator()
    text = notes(rendered)
    assert "kubectl wait --for=condition=Ready gta/" in text
    assert "kubectl apply --server-side -f" in text
    check_golden("operator-default.yaml", golden_text(rendered))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 0}, "at '/replicaCount'"),
        ({"verify": "maybe"}, "at '/verify'"),
        ({"logFormat": "xml"}, "at '/logFormat'"),
        ({"watchNamespaces": ["Team_A"]}, "at '/watchNamespaces/0'"),
        ({"image": {"digest": "sha256:nothex"}}, "at '/image/digest'"),
        ({"metrics": {"serviceMonitor": {"enabled": True, "interval": "often"}}}, "at '/metrics/serviceMonitor/interval'"),
        ({"replicas": 2}, "additional properties 'replicas' not allowed"),
        (
            {"serviceAccount": {"create": False}},
            "serviceAccount.name is required when serviceAccount.create is false",
        ),
        (
            {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}},
            "metrics.serviceMonitor.enabled needs metrics.service.enabled",
        ),
    ],
)
def test_bad_values_are_refused(values, message):
    with pytest.raises(helm.HelmError) as err:
        render_operator(values)
    assert message in str(err.value)


def test_example_values_of_config_manager_image():
    """The chart installs the image config/manager names (same repository, appVersion tag)."""
    (deploy,) = by_kind(manifests(render_operator()), "Deployment")
    (config_deploy,) = by_kind(config_docs("config/manager/manager.yaml"), "Deployment")
    chart_yaml = load_yaml(OPERATOR_CHART / "Chart.yaml")
    image = deploy["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == config_deploy["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":" + chart_yaml["appVersion"])
