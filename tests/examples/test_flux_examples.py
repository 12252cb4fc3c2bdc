"""The Flux GitOps layout in examples/flux: it parses, every kustomize base and overlay builds,
the Flux objects follow Flux's documented API (helm.toolkit.fluxcd.io/v2,
kustomize.toolkit.fluxcd.io/v1, source.toolkit.fluxcd.io/v1), the HelmReleases' values render
with our charts (real Helm through helm-python-sdk, values.schema.json included), and everything
applies to the embedded API server loaded with the Flux CRDs of examples/fixtures/crds and our
GitOpsAgent CRD — which admits GitOpsAgents with the CRD's schema, defaults and CEL rules as a
real API server does. Then the operator reconciles the applied agents until each is Ready, which
is what the Flux Kustomizations' health checks wait for.

Run with scripts/examples-tests.sh.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import helm_python as helm
import jsonschema
import pytest
import yaml

from cluster import REPO, Kubectl, binary, kubectl_binary, spawn, start_api_server

FLUX = REPO / "examples" / "flux"
CHARTS = {"gitops-agent-operator": REPO / "chart" / "gitops-agent-operator", "gitops-agent": REPO / "chart" / "gitops-agent"}
ENVS = ("dev", "prod")
FLUX_GROUPS = ("kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "source.toolkit.fluxcd.io")
GTA = "agents.gitops.dev/v1alpha1"
# Tenant namespaces the fleet's agents live in or read: the tenants' own setup creates them.
TENANT_NAMESPACES = ("team-a", "team-a-staging", "team-b")


# ---------------------------------------------------------------------------------------------
# Files and builds


def yaml_files() -> list[Path]:
    return sorted(FLUX.rglob("*.yaml"))


def kustomize_dirs() -> list[Path]:
    return sorted(p.parent for p in FLUX.rglob("kustomization.yaml"))


def docs_of(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@lru_cache(maxsize=None)
def build(directory: Path) -> tuple[dict[str, Any], ...]:
    proc = subprocess.run([kubectl_binary(), "kustomize", str(directory)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"kubectl kustomize {directory.relative_to(REPO)}:\n{proc.stderr}"
    return tuple(d for d in yaml.safe_load_all(proc.stdout) if d)


def cluster_kustomizations(env: str) -> list[dict[str, Any]]:
    docs = [d for f in sorted((FLUX / "clusters" / env).glob("*.yaml")) for d in docs_of(f)]
    assert docs and all(d["kind"] == "Kustomization" and d["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1" for d in docs)
    return docs


def path_of(kustomization: dict[str, Any]) -> Path:
    return (FLUX / kustomization["spec"]["path"]).resolve()


def env_builds(env: str) -> list[tuple[dict[str, Any], tuple[dict[str, Any], ...]]]:
    """(Flux Kustomization, what it applies) for each Kustomization of a cluster, in dependency order."""
    ordered, done = [], set()
    pending = cluster_kustomizations(env)
    while pending:
        ready = [k for k in pending if {d["name"] for d in k["spec"].get("dependsOn", [])} <= done]
        assert ready, f"clusters/{env}: dependsOn cycle or unknown name among {[k['metadata']['name'] for k in pending]}"
        for k in ready:
            ordered.append((k, build(path_of(k))))
            done.add(k["metadata"]["name"])
            pending.remove(k)
    return ordered


def all_objects() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of the layout: the cluster entry points, each build, and files no build lists."""
    built = set()
    for directory in kustomize_dirs():
        for doc in build(directory):
            yield f"{directory.relative_to(FLUX)} (built)", doc
        built |= {(directory / r).resolve() for r in yaml.safe_load((directory / "kustomization.yaml").read_text()).get("resources", [])}
    for path in yaml_files():
        if path.name != "kustomization.yaml" and path.resolve() not in built:
            for doc in docs_of(path):
                yield str(path.relative_to(FLUX)), doc


def test_every_yaml_file_parses_into_kubernetes_objects():
    files = yaml_files()
    assert len(files) >= 20
    for path in files:
        docs = docs_of(path)
        assert docs, f"{path} is empty"
        for doc in docs:
            assert isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"), f"{path}: not a Kubernetes object"
            if doc["kind"] != "Kustomization" or doc["apiVersion"] != "kustomize.config.k8s.io/v1beta1":
                assert doc.get("metadata", {}).get("name"), f"{path}: {doc['kind']} without a name"


def test_no_deprecated_flux_api_versions():
    for path in yaml_files():
        text = path.read_text()
        for deprecated in ("helm.toolkit.fluxcd.io/v2beta", "kustomize.toolkit.fluxcd.io/v1beta", "source.toolkit.fluxcd.io/v1beta"):
            assert deprecated not in text, f"{path.relative_to(REPO)} uses {deprecated}*"


@pytest.mark.parametrize("directory", kustomize_dirs(), ids=lambda d: str(d.relative_to(FLUX)))
def test_kustomize_builds(directory):
    docs = build(directory)
    assert docs
    names = [(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), f"duplicates in {directory}"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace"), f"{doc['kind']}/{doc['metadata']['name']} names no namespace"


def test_overlays_change_what_they_say():
    def agent(env):
        (gta,) = [d for d in build(FLUX / "agents" / "overlays" / env) if d["kind"] == "GitOpsAgent"]
        return gta["spec"]

    dev, prod = agent("dev"), agent("prod")
    assert dev["replicas"] == 1 and dev["readOnly"] is False and dev["pdb"] == {"enabled": False}
    assert prod["autoscaling"]["enabled"] and prod["autoscaling"]["minReplicas"] >= 2 and prod["readOnly"] is True
    assert prod["a2a"]["taskStore"]["type"] == "Redis"
    assert prod["a2a"]["taskStore"]["redis"] == {"urlSecretRef": {"name": "gitops-agent-redis", "key": "url"}}
    assert prod["httpRoute"]["enabled"] and prod["tls"]["enabled"] and prod["metrics"]["serviceMonitor"]["enabled"]

    def operator_values(env):
        (hr,) = [d for d in build(FLUX / "infrastructure" / "gitops-agent-operator" / "overlays" / env) if d["kind"] == "HelmRelease"]
        return hr["spec"]

    assert operator_values("dev")["values"]["replicaCount"] == 1
    assert operator_values("dev")["chart"]["spec"]["version"] == "0.1.x"
    prod_values = operator_values("prod")
    assert prod_values["chart"]["spec"]["version"] == "0.1.0", "prod pins an exact chart version"
    assert prod_values["values"]["metrics"]["prometheusRule"]["enabled"]


def test_fleet_agents_differ_in_scope_and_tools():
    fleet = build(FLUX / "fleet")
    agents = {d["metadata"]["name"]: d["spec"] for d in fleet if d["kind"] == "GitOpsAgent"}
    assert set(agents) == {"team-a-agent", "team-b-agent"}
    assert agents["team-a-agent"]["watchNamespaces"] == ["team-a", "team-a-staging"]
    assert agents["team-b-agent"]["watchNamespaces"] == ["team-b"]
    assert agents["team-a-agent"]["tools"]["enabled"] and agents["team-b-agent"]["tools"]["disabled"] == ["get_pod_logs"]
    platform = rendered_agents(fleet)
    assert [a["metadata"]["name"] for a in platform] == ["platform-agent"]
    spec = platform[0]["spec"]
    assert "watchNamespaces" not in spec and spec["readOnly"] is False and "reconcile" in spec["tools"]["enabled"]


# ---------------------------------------------------------------------------------------------
# Flux's API, written from its documentation (fields of the versions we use)

DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"}
NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 253}
REF = {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {"name": NAME, "namespace": NAME}}
REMEDIATION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "retries": {"type": "integer"},
        "ignoreTestFailures": {"type": "boolean"},
        "remediateLastFailure": {"type": "boolean"},
        "strategy": {"enum": ["rollback", "uninstall"]},
    },
}
CRDS_POLICY = {"enum": ["Skip", "Create", "CreateReplace"]}


def spec_schema(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "metadata": {"type": "object", "required": ["name", "namespace"], "properties": {"name": NAME, "namespace": NAME}},
            "spec": {"type": "object", "required": required, "additionalProperties": False, "properties": properties},
        },
    }


FLUX_SCHEMAS = {
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): spec_schema(
        ["interval", "path", "prune", "sourceRef"],
        {
            "interval": DURATION, "retryInterval": DURATION, "timeout": DURATION,
            "path": {"type": "string", "pattern": r"^\./"},
            "prune": {"type": "boolean"}, "wait": {"type": "boolean"}, "force": {"type": "boolean"}, "suspend": {"type": "boolean"},
            "sourceRef": {"type": "object", "required": ["kind", "name"], "additionalProperties": False, "properties": {
                "kind": {"enum": ["GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"]}, "name": NAME, "namespace": NAME, "apiVersion": {"type": "string"}}},
            "dependsOn": {"type": "array", "items": REF},
            "healthChecks": {"type": "array", "items": {"type": "object", "required": ["kind", "name"], "additionalProperties": False, "properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "name": NAME, "namespace": NAME}}},
            "healthCheckExprs": {"type": "array"}, "targetNamespace": NAME, "serviceAccountName": NAME,
            "commonMetadata": {"type": "object"}, "patches": {"type": "array"}, "images": {"type": "array"},
            "postBuild": {"type": "object"}, "decryption": {"type": "object"}, "components": {"type": "array"},
            "namePrefix": {"type": "string"}, "nameSuffix": {"type": "string"}, "kubeConfig": {"type": "object"},
            "deletionPolicy": {"enum": ["MirrorPrune", "Delete", "WaitForTermination", "Orphan"]},
        },
    ),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"): spec_schema(
        ["interval", "chart"],
        {
            "interval": DURATION, "timeout": DURATION, "releaseName": NAME, "targetNamespace": NAME, "storageNamespace": NAME,
            "chart": {"type": "object", "required": ["spec"], "additionalProperties": False, "properties": {
                "metadata": {"type": "object"},
                "spec": {"type": "object", "required": ["chart", "sourceRef"], "additionalProperties": False, "properties": {
                    "chart": {"type": "string"}, "version": {"type": "string"}, "interval": DURATION,
                    "reconcileStrategy": {"enum": ["ChartVersion", "Revision"]},
                    "sourceRef": {"type": "object", "required": ["kind", "name"], "additionalProperties": False, "properties": {
                        "kind": {"enum": ["HelmRepository", "GitRepository", "Bucket"]}, "name": NAME, "namespace": NAME, "apiVersion": {"type": "string"}}},
                    "valuesFiles": {"type": "array"}, "ignoreMissingValuesFiles": {"type": "boolean"}, "verify": {"type": "object"}}}}},
            "install": {"type": "object", "additionalProperties": False, "properties": {
                "crds": CRDS_POLICY, "remediation": REMEDIATION, "createNamespace": {"type": "boolean"}, "timeout": DURATION,
                "disableWait": {"type": "boolean"}, "disableWaitForJobs": {"type": "boolean"}, "disableHooks": {"type": "boolean"},
                "disableOpenAPIValidation": {"type": "boolean"}, "replace": {"type": "boolean"}, "skipCRDs": {"type": "boolean"}}},
            "upgrade": {"type": "object", "additionalProperties": False, "properties": {
                "crds": CRDS_POLICY, "remediation": REMEDIATION, "cleanupOnFail": {"type": "boolean"}, "force": {"type": "boolean"},
                "preserveValues": {"type": "boolean"}, "timeout": DURATION, "disableWait": {"type": "boolean"},
                "disableWaitForJobs": {"type": "boolean"}, "disableHooks": {"type": "boolean"}, "disableOpenAPIValidation": {"type": "boolean"}}},
            "driftDetection": {"type": "object", "additionalProperties": False, "properties": {
                "mode": {"enum": ["enabled", "warn", "disabled"]}, "ignore": {"type": "array"}}},
            "values": {"type": "object"}, "valuesFrom": {"type": "array"}, "dependsOn": {"type": "array", "items": REF},
            "maxHistory": {"type": "integer"}, "serviceAccountName": NAME, "suspend": {"type": "boolean"},
            "test": {"type": "object"}, "rollback": {"type": "object"}, "uninstall": {"type": "object"},
            "postRenderers": {"type": "array"}, "persistentClient": {"type": "boolean"}, "kubeConfig": {"type": "object"},
        },
    ),
    ("source.toolkit.fluxcd.io/v1", "HelmRepository"): spec_schema(
        ["url"],
        {
            "url": {"type": "string", "pattern": r"^(https?|oci)://"}, "type": {"enum": ["default", "oci"]}, "interval": DURATION,
            "timeout": DURATION, "provider": {"enum": ["generic", "aws", "azure", "gcp"]}, "secretRef": REF, "certSecretRef": REF,
            "passCredentials": {"type": "boolean"}, "insecure": {"type": "boolean"}, "suspend": {"type": "boolean"}, "accessFrom": {"type": "object"},
        },
    ),
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): spec_schema(
        ["url"],
        {
            "url": {"type": "string", "pattern": r"^(https?|ssh)://"}, "interval": DURATION, "timeout": DURATION,
            "ref": {"type": "object", "additionalProperties": False, "properties": {
                "branch": {"type": "string"}, "tag": {"type": "string"}, "semver": {"type": "string"}, "name": {"type": "string"}, "commit": {"type": "string"}}},
            "ignore": {"type": "string"}, "secretRef": REF, "recurseSubmodules": {"type": "boolean"}, "include": {"type": "array"},
            "verify": {"type": "object"}, "proxySecretRef": REF, "provider": {"type": "string"}, "sparseCheckout": {"type": "array"},
            "suspend": {"type": "boolean"},
        },
    ),
}


def test_flux_objects_follow_the_documented_api():
    seen = set()
    for where, doc in all_objects():
        group = doc["apiVersion"].split("/")[0]
        if group not in FLUX_GROUPS:
            continue
        schema = FLUX_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
        assert schema, f"{where}: {doc['apiVersion']} {doc['kind']} is not a kind this layout should use"
        try:
            jsonschema.validate(doc, schema)
        except jsonschema.ValidationError as err:
            raise AssertionError(f"{where}: {doc['kind']}/{doc['metadata']['name']}: {err.message} at {list(err.absolute_path)}") from None
        seen.add(doc["kind"])
    assert seen == {"Kustomization", "HelmRelease", "HelmRepository", "GitRepository"}


@pytest.mark.parametrize("env", ENVS)
def test_cluster_entry_points(env):
    """clusters/<env>: paths that build, dependsOn that exists, health checks on applied objects."""
    names = {k["metadata"]["name"] for k in cluster_kustomizations(env)}
    assert {"gitops-agent-operator", "gitops-agents"} <= names
    for kustomization, objects in env_builds(env):
        spec = kustomization["spec"]
        assert kustomization["metadata"]["namespace"] == "flux-system"
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}, "the repository flux bootstrap creates"
        assert (path_of(kustomization) / "kustomization.yaml").is_file(), spec["path"]
        assert str(path_of(kustomization)).endswith(("/" + env, "fleet")), f"{spec['path']} is not the {env} overlay"
        if kustomization["metadata"]["name"] != "gitops-agent-operator":
            assert spec["dependsOn"] == [{"name": "gitops-agent-operator"}], "agents wait for the operator (and its CRD)"
            assert spec["healthChecks"], "agents are health-checked"
        else:
            assert spec["wait"] is True
        present = {(d["apiVersion"], d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in objects}
        present |= {(a["apiVersion"], a["kind"], a["metadata"]["namespace"], a["metadata"]["name"]) for a in rendered_agents(objects)}
        for check in spec.get("healthChecks", []):
            key = (check["apiVersion"], check["kind"], check["namespace"], check["name"])
            assert key in present, f"{kustomization['metadata']['name']}: health check on {key}, which {spec['path']} does not create"
        if kustomization["metadata"]["name"] != "gitops-agent-operator":
            agents = {k for k in present if k[1] == "GitOpsAgent"}
            checked = {(c["apiVersion"], c["kind"], c["namespace"], c["name"]) for c in spec["healthChecks"]}
            assert agents <= checked, f"agents without a health check: {agents - checked}"


# ---------------------------------------------------------------------------------------------
# HelmReleases against our charts


def version_matches(constraint: str, version: str) -> bool:
    if re.fullmatch(r"\d+\.\d+\.\d+", constraint):
        return constraint == version
    if m := re.fullmatch(r"(\d+)\.(\d+)\.x", constraint):
        return version.split(".")[:2] == [m.group(1), m.group(2)]
    raise AssertionError(f"unsupported version constraint in the examples: {constraint}")


def helm_render(release: dict[str, Any]) -> dict[str, str]:
    spec = release["spec"]
    chart = spec["chart"]["spec"]["chart"]
    assert chart in CHARTS, f"HelmRelease {release['metadata']['name']} installs chart {chart}, which is not ours"
    loaded = helm.Chart.load(CHARTS[chart])
    version = loaded.metadata["version"]
    assert version_matches(spec["chart"]["spec"].get("version", "*"), version), (
        f"HelmRelease {release['metadata']['name']} asks for {chart} {spec['chart']['spec'].get('version')}; the chart is {version}"
    )
    loaded.validate_schema(spec.get("values", {}))
    return loaded.render(copy.deepcopy(spec.get("values", {})), name=spec.get("releaseName", release["metadata"]["name"]), namespace=release["metadata"]["namespace"])


def rendered(objects) -> list[dict[str, Any]]:
    out = []
    for release in (d for d in objects if d["kind"] == "HelmRelease"):
        for path, text in sorted(helm_render(release).items()):
            if not path.endswith("NOTES.txt"):
                out.extend(d for d in yaml.safe_load_all(text) if d)
    return out


def rendered_agents(objects) -> list[dict[str, Any]]:
    """GitOpsAgents that helm-controller would create from the HelmReleases among `objects`."""
    return [d for d in rendered(objects) if d["kind"] == "GitOpsAgent"]


def test_helm_releases_render_with_our_charts():
    releases = [(where, d) for where, d in all_objects() if d["kind"] == "HelmRelease"]
    assert {d["spec"]["chart"]["spec"]["chart"] for _, d in releases} == set(CHARTS)
    for where, release in releases:
        try:
            docs = rendered([release])
        except helm.HelmError as err:
            raise AssertionError(f"{where}: HelmRelease {release['metadata']['name']}: the chart refuses its values: {err}") from None
        kinds = {d["kind"] for d in docs}
        if release["spec"]["chart"]["spec"]["chart"] == "gitops-agent-operator":
            assert "Deployment" in kinds and "ClusterRole" in kinds
        else:
            assert kinds >= {"GitOpsAgent", "PrometheusRule", "ConfigMap"}, kinds


def test_operator_upgrades_carry_the_crd():
    """Helm never upgrades CRDs; helm-controller does with upgrade.crds: CreateReplace."""
    for env in ENVS:
        (release,) = [d for d in build(FLUX / "infrastructure" / "gitops-agent-operator" / "overlays" / env) if d["kind"] == "HelmRelease"]
        assert release["spec"]["install"]["crds"] == "Create" and release["spec"]["upgrade"]["crds"] == "CreateReplace"


# ---------------------------------------------------------------------------------------------
# The embedded API server


@pytest.fixture(params=ENVS)
def env_cluster(request) -> Iterator[tuple[str, Kubectl, Path]]:
    """A fresh API server per environment, with the Flux CRDs, our CRD and the optional APIs the
    prod agent's children use (Gateway API, cert-manager, Prometheus Operator)."""
    with tempfile.TemporaryDirectory(prefix=f"gitops-agent-flux-{request.param}-") as tmp:
        workdir = Path(tmp)
        process, kubectl = start_api_server(
            workdir, "--crds", "examples/fixtures/crds", "--crds", "crds", "--apply", "examples/optional-crds/optional-apis.yaml"
        )
        try:
            yield request.param, kubectl, workdir
        finally:
            process.stop()


def apply_built(kubectl: Kubectl, objects, *extra: str) -> None:
    kubectl("apply", "--server-side", "--field-manager=kustomize-controller", *extra, "-f", "-", stdin=yaml.safe_dump_all(list(objects)))


def test_everything_applies_and_every_agent_turns_ready(env_cluster):
    env, kubectl, workdir = env_cluster
    # flux bootstrap creates flux-system; the tenants' namespaces exist before their agents.
    kubectl("create", "namespace", "flux-system")
    for ns in TENANT_NAMESPACES:
        kubectl("create", "namespace", ns)

    # What the flux-system Kustomization applies from clusters/<env>.
    kubectl("apply", "--server-side", "-f", f"examples/flux/clusters/{env}/")
    applied = kubectl("get", "kustomizations.kustomize.toolkit.fluxcd.io", "-n", "flux-system", "-o", "jsonpath={.items[*].metadata.name}").split()
    assert set(applied) == {k["metadata"]["name"] for k in cluster_kustomizations(env)}

    # What each of those Kustomizations applies, in dependsOn order, as kustomize-controller does:
    # namespaces first, then a server-side dry run of the rest (the API server validates), then
    # the rest for real.
    expected_agents = set()
    for kustomization, objects in env_builds(env):
        namespaces = [d for d in objects if d["kind"] == "Namespace"]
        rest = [d for d in objects if d["kind"] != "Namespace"]
        if namespaces:
            apply_built(kubectl, namespaces)
        apply_built(kubectl, rest, "--dry-run=server")
        apply_built(kubectl, rest)
        # What helm-controller then installs from the HelmReleases: the GitOpsAgents (the other
        # kinds of the charts are Helm's and need no admission by our CRD).
        agents = rendered_agents(objects)
        if agents:
            apply_built(kubectl, agents)
        for check in kustomization["spec"].get("healthChecks", []):
            if check["kind"] == "GitOpsAgent":
                expected_agents.add(f"{check['namespace']}/{check['name']}")
    releases = kubectl("get", "helmreleases.helm.toolkit.fluxcd.io", "-A", "-o", "jsonpath={.items[*].metadata.name}").split()
    assert "gitops-agent-operator" in releases

    listed = json.loads(kubectl("get", "gitopsagents.agents.gitops.dev", "-A", "-o", "json"))["items"]
    assert {f"{a['metadata']['namespace']}/{a['metadata']['name']}" for a in listed} == expected_agents
    by_name = {a["metadata"]["name"]: a["spec"] for a in listed}
    # The API server filled in the CRD's defaults.
    main = by_name["gitops-agent"]
    assert main["service"]["port"] == 8080 and main["securityContext"]["readOnlyRootFilesystem"] is True
    if env == "prod":
        store = main["a2a"]["taskStore"]
        assert store["type"] == "Redis" and store["redis"]["urlSecretRef"]["name"] == "gitops-agent-redis"
        assert store["maxTasks"] == 20000
        assert by_name["platform-agent"]["a2a"]["taskStore"]["redis"]["url"].startswith("redis://")
        assert by_name["team-b-agent"]["a2a"]["taskStore"]["type"] == "Memory"
    else:
        assert main["replicas"] == 1 and main["a2a"]["taskStore"] == {"type": "Memory", "maxTasks": 1000, "ttlSeconds": 3600}

    # The operator reconciles them; Ready is what the Flux health checks wait for.
    operator = spawn(
        "gitops-agent-operator",
        [str(binary("GITOPS_AGENT_OPERATOR_BIN", "target/debug/gitops-agent-operator")), "run", "--leader-election=false",
         "--verify=false", "--http-addr=127.0.0.1:0", "--log-format=text", "--discovery-seconds=5"],
        workdir,
        env={"KUBECONFIG": str(kubectl.kubeconfig)},
    )
    try:
        waited = kubectl.run("wait", "--for=condition=Ready", "gitopsagents.agents.gitops.dev", "--all", "-A", "--timeout=90s", check=False)
        assert waited.returncode == 0, f"{waited.stderr}\n{kubectl('get', 'gitopsagents.agents.gitops.dev', '-A', '-o', 'yaml')}"
        if env == "prod":
            kubectl("get", "httproute.gateway.networking.k8s.io/gitops-agent", "certificate.cert-manager.io/gitops-agent-tls",
                    "servicemonitor.monitoring.coreos.com/gitops-agent", "-n", "gitops-agent")
            deploy = json.loads(kubectl("get", "deployment", "gitops-agent", "-n", "gitops-agent", "-o", "json"))
            env_vars = {e["name"]: e for e in deploy["spec"]["template"]["spec"]["containers"][0].get("env", [])}
            assert env_vars["GITOPS_AGENT_TASK_STORE"]["valueFrom"]["secretKeyRef"] == {"name": "gitops-agent-redis", "key": "url"}
            bindings = kubectl("get", "rolebindings", "-A", "-l", "agents.gitops.dev/agent=team-a-agent",
                               "-o", "jsonpath={.items[*].metadata.namespace}").split()
            assert sorted(bindings) == ["team-a", "team-a-staging"]
    finally:
        operator.stop()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s["a2a"]["taskStore"].pop("redis"),
         "a2a.taskStore.type Redis needs exactly one of a2a.taskStore.redis.url and a2a.taskStore.redis.urlSecretRef"),
        (lambda s: s["httpRoute"].pop("parentRefs"), "httpRoute.enabled needs at least one entry in httpRoute.parentRefs"),
        (lambda s: s["autoscaling"].update(minReplicas=9), "autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"),
        (lambda s: s.update(readOnly="yes"), "spec.readOnly"),
    ],
    ids=["redis-without-url", "route-without-gateway", "autoscaling-bounds", "bad-type"],
)
def test_the_api_server_refuses_a_broken_prod_agent(mutate, message, tmp_path):
    """The dry run Flux does before applying catches a broken edit of the overlay with the CRD's message."""
    (agent,) = [d for d in build(FLUX / "agents" / "overlays" / "prod") if d["kind"] == "GitOpsAgent"]
    broken = copy.deepcopy(agent)
    mutate(broken["spec"])
    process, kubectl = start_api_server(tmp_path, "--crds", "crds")
    try:
        kubectl("create", "namespace", "gitops-agent")
        proc = kubectl.run("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(broken), check=False)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr
        ok = kubectl.run("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(agent), check=False)
        assert ok.returncode == 0, ok.stderr
    finally:
        process.stop()


def test_readme_describes_the_layout():
    text = (FLUX / "README.md").read_text()
    tree = text.split("## Layout", 1)[1].split("```")[1]
    for directory in kustomize_dirs():
        for part in directory.relative_to(FLUX).parts:
            assert f"{part}/" in tree, f"the layout in README.md does not show {directory.relative_to(FLUX)}"
    for env in ENVS:
        for path in sorted((FLUX / "clusters" / env).glob("*.yaml")):
            assert path.name in text, path.name
    assert "flux bootstrap" in text
