"""The agent chart (chart/gitops-agent) in its three modes.

One source of truth: the chart maps values to a GitOpsAgent spec once; `gitopsagent` mode prints
it, `deployment` mode renders the operator's children from it. The agreement tests feed the
chart's GitOpsAgent to the real `gitops-agent-operator render` (which admits it as the API server
would: defaults, schema, CEL rules) and require the chart's deployment-mode objects to be the
operator's, field for field, apart from who manages them (labels) and the operator's config hash.
"""

from __future__ import annotations

import copy
import json
import subprocess

import helm_python as helm
import jsonschema
import pytest
import yaml

from helpers import (
    AGENT_CHART,
    HERE,
    MODES,
    NAMESPACE,
    REPO,
    SERVER_BIN,
    by_kind,
    check_golden,
    diff,
    golden_text,
    key,
    load_yaml,
    manifests,
    normalized,
    notes,
    operator_render,
    render,
    scenario_values,
)
from security import assert_hardened_container, assert_hardened_pod, assert_no_secret_access

SHIPPED = ["default", "enterprise", "nkp-traefik", "nkp-kong", "enterprise+nkp-traefik"]
SCENARIOS = SHIPPED + ["predecessor", "everything", "team-scoped"]
GOLDEN_SCENARIOS = ["default", "enterprise", "nkp-traefik", "nkp-kong", "predecessor"]
PROBE_KEYS = ("livenessProbe", "readinessProbe", "startupProbe")
APP_VERSION = load_yaml(AGENT_CHART / "Chart.yaml")["appVersion"]
CATALOGUE = load_yaml(AGENT_CHART / "files" / "tools.yaml")["tools"]
KMCP_SCHEMA = json.loads((HERE / "mcpserver.schema.json").read_text())


def docs_of(scenario: str, mode: str) -> list[dict]:
    return manifests(render(scenario_values(scenario, mode), mode=mode))


def agent_of(values: dict) -> dict:
    (agent,) = manifests(render(values, mode="gitopsagent"))
    assert agent["kind"] == "GitOpsAgent"
    return agent


def container_args(docs: list[dict]) -> list[str]:
    for d in docs:
        if d["kind"] == "Deployment":
            return d["spec"]["template"]["spec"]["containers"][0]["args"]
        if d["kind"] == "MCPServer":
            return d["spec"]["deployment"]["args"]
    raise AssertionError("no Deployment or MCPServer rendered")


def assert_agrees_with_operator(values: dict, label: str) -> list[dict]:
    """Chart deployment mode == operator render of the chart's gitopsagent mode, for these values."""
    chart = {key(d): normalized(d) for d in manifests(render(values, mode="deployment"))}
    operator = {key(d): normalized(d) for d in operator_render([agent_of(values)], APP_VERSION)}
    assert sorted(chart) == sorted(operator), (
        f"{label}: the chart renders {sorted(set(chart) - set(operator))} that the operator does not, "
        f"and misses {sorted(set(operator) - set(chart))}"
    )
    for k in sorted(chart):
        assert chart[k] == operator[k], f"{label}: {k} differs from the operator's:\n{diff(operator[k], chart[k], 'operator', 'chart')}"
    return list(operator.values())


# ---------------------------------------------------------------------------------------------
# Helm: lint and render every mode with the shipped and test values


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_strict(scenario, mode):
    values = copy.deepcopy(scenario_values(scenario, mode))
    values["deploymentMode"] = mode
    report = helm.lint(AGENT_CHART, values, strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


REVIEW_RULES = [
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_security_checklist(scenario, mode):
    values = scenario_values(scenario, mode)
    docs = docs_of(scenario, mode)
    assert_no_secret_access(docs)
    read_only = values.get("a2a", {}).get("readOnly", True)
    if mode == "gitopsagent":
        (agent,) = docs
        spec = agent["spec"]
        assert_hardened_container("GitOpsAgent spec", spec["securityContext"], spec["podSecurityContext"])
        assert spec["readOnly"] is read_only
        assert spec["rbac"]["create"] and spec["networkPolicy"]["enabled"]
        return
    workloads = by_kind(docs, "Deployment") + by_kind(docs, "MCPServer")
    assert len(workloads) == 1
    assert_hardened_pod(workloads[0])
    assert f"--read-only={str(read_only).lower()}" in container_args(docs)
    for role in by_kind(docs, "ClusterRole"):
        if role["metadata"]["name"].endswith("-auth"):
            assert role["rules"] == REVIEW_RULES, "checking callers needs review creation, nothing more"
            continue
        verbs = {v for rule in role["rules"] for v in rule["verbs"]}
        assert verbs <= ({"get", "list", "watch"} | (set() if read_only else {"patch"})), role["metadata"]["name"]
    auth_roles = [r for r in by_kind(docs, "ClusterRole") if r["metadata"]["name"].endswith("-auth")]
    if values.get("auth", {}).get("mode", "Kubernetes") == "Kubernetes":
        assert "--auth=kubernetes" in container_args(docs) and len(auth_roles) == 1
    else:
        assert "--auth=none" in container_args(docs) and not auth_roles
    assert by_kind(docs, "NetworkPolicy"), "networkPolicy is on by default"
    for deploy in by_kind(docs, "Deployment"):
        container = deploy["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"] and container["readinessProbe"], "health probes"
    if scenario in SHIPPED:  # the guide's HA checklist
        replicas = values.get("replicaCount", 2)
        assert replicas >= 2
        assert by_kind(docs, "PodDisruptionBudget")
        for deploy in by_kind(docs, "Deployment"):
            pod = deploy["spec"]["template"]["spec"]
            assert pod["affinity"]["podAntiAffinity"] and pod["topologySpreadConstraints"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_golden(scenario, mode):
    rendered = render(scenario_values(scenario, mode), mode=mode)
    check_golden(f"{scenario}-{mode}.yaml", golden_text(rendered))


# ---------------------------------------------------------------------------------------------
# One source of truth: the chart's deployment mode == the operator's render of its GitOpsAgent


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_deployment_mode_equals_operator_render_of_gitopsagent_mode(scenario):
    values = copy.deepcopy(scenario_values(scenario))
    for probe in PROBE_KEYS:  # deployment-mode-only values (the operator sets its own probes)
        values.pop(probe, None)
    children = assert_agrees_with_operator(values, scenario)
    for deploy in by_kind(children, "Deployment"):
        assert_hardened_pod(deploy)
    assert_no_secret_access(children)


@pytest.mark.parametrize("redis", [{"url": "redis://redis.cache:6379/1"}, {"urlSecretRef": {"name": "redis-url", "key": "url"}}])
def test_a2a_task_store_in_redis_agrees_with_the_operator_and_drops_session_affinity(redis):
    values = {"a2a": {"taskStore": {"type": "Redis", "redis": redis, "maxTasks": 5000}}}
    children = assert_agrees_with_operator(values, f"redis {redis}")
    (service,) = by_kind(children, "Service")
    assert "sessionAffinity" not in service["spec"]
    (deploy,) = by_kind(children, "Deployment")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert "--task-max=5000" in container["args"]
    memory = {key(d): d for d in manifests(render({}, mode="deployment"))}
    (service,) = [d for k, d in memory.items() if k[0] == "Service"]
    assert service["spec"]["sessionAffinity"] == "ClientIP", "two replicas keeping tasks in memory"


def test_a_shared_confirmation_key_comes_from_its_secret_as_the_operator_renders_it():
    """Every replica gets the same key from the Secret, through the kubelet: the agent's own
    ServiceAccount still reads no Secret."""
    ref = {"name": "confirm-key", "key": "key"}
    values = {"a2a": {"readOnly": False, "confirmationKeySecretRef": ref}}
    assert agent_of(values)["spec"]["confirmationKeySecretRef"] == ref
    children = assert_agrees_with_operator(values, "confirmation key")
    (deploy,) = by_kind(children, "Deployment")
    env = {e["name"]: e for e in deploy["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GITOPS_AGENT_REQUEST_STATE_KEY"] == {"name": "GITOPS_AGENT_REQUEST_STATE_KEY", "valueFrom": {"secretKeyRef": ref}}
    assert_no_secret_access(children)
    (default,) = by_kind(manifests(render({"a2a": {"readOnly": False}}, mode="deployment")), "Deployment")
    names = [e["name"] for e in default["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "GITOPS_AGENT_REQUEST_STATE_KEY" not in names, "unset: each pod makes its own"


def test_chart_defaults_are_the_crd_defaults():
    """The GitOpsAgent of the chart's default values and `spec: {}` (every default from the CRD)
    render to the same children."""
    agent = agent_of({})
    bare = {"apiVersion": agent["apiVersion"], "kind": "GitOpsAgent", "metadata": {"name": agent["metadata"]["name"], "namespace": NAMESPACE}, "spec": {}}
    from_chart = {key(d): normalized(d) for d in operator_render([agent], APP_VERSION)}
    from_crd = {key(d): normalized(d) for d in operator_render([bare], APP_VERSION)}
    assert from_chart == from_crd, "chart defaults differ from the GitOpsAgent CRD's"


def test_rbac_of_every_tool_agrees_with_operator():
    """Each tool alone (mutating ones with readOnly false), whole-cluster and namespace-scoped:
    the chart's roles from files/tools.yaml equal the operator's from crates/api/src/tools.rs."""
    cases = []
    for tool in CATALOGUE:
        for scoped in (False, True):
            name = f"t{len(cases)}"
            values = {
                "fullnameOverride": name,
                "tools": {"enabled": [tool["name"]]},
                "a2a": {"readOnly": not tool.get("mutating", False)},
            }
            if scoped:
                values["watchNamespaces"] = ["team-a", NAMESPACE]
            cases.append((f"{tool['name']}{' (watchNamespaces)' if scoped else ''}", name, values))
    agents = [agent_of(values) for _, _, values in cases]
    rbac_kinds = ("ClusterRole", "ClusterRoleBinding", "RoleBinding")
    operator = [normalized(d) for d in operator_render(agents, APP_VERSION) if d["kind"] in rbac_kinds]
    for label, name, values in cases:
        chart = sorted((normalized(d) for d in manifests(render(values, mode="deployment")) if d["kind"] in rbac_kinds), key=key)
        theirs = sorted((d for d in operator if d["metadata"]["name"].startswith(f"gitops-agent-{NAMESPACE}-{name}")
                         and d["metadata"]["name"] in (f"gitops-agent-{NAMESPACE}-{name}", f"gitops-agent-{NAMESPACE}-{name}-cluster", f"gitops-agent-{NAMESPACE}-{name}-auth")), key=key)
        assert chart == theirs, f"{label}:\n{diff(theirs, chart, 'operator', 'chart')}"


def test_tool_catalogue_matches_crd_schema_and_server():
    names = [t["name"] for t in CATALOGUE]
    crd = load_yaml(REPO / "crds" / "gitopsagents.agents.gitops.dev.yaml")
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert names == spec["tools"]["properties"]["enabled"]["items"]["enum"], "files/tools.yaml vs the CRD's tool names"
    schema = json.loads((AGENT_CHART / "values.schema.json").read_text())
    assert names == schema["definitions"]["toolName"]["enum"], "values.schema.json vs files/tools.yaml"
    proc = subprocess.run([str(SERVER_BIN), "tools"], capture_output=True, text=True, check=True)
    served = json.loads(proc.stdout)
    assert names == [t["name"] for t in served], "files/tools.yaml vs `gitops-agent tools`"
    for tool, live in zip(CATALOGUE, served):
        assert tool.get("mutating", False) is (not live["readOnly"]), tool["name"]
    for tool in CATALOGUE:
        for reads in tool["reads"] + tool.get("patches", []):
            for r in reads:
                assert "secrets" not in r["resources"] and "configmaps" not in r["resources"], tool["name"]


# ---------------------------------------------------------------------------------------------
# The server's command line


def serve_flags() -> set[str]:
    proc = subprocess.run([str(SERVER_BIN), "serve", "--help"], capture_output=True, text=True, check=True)
    return {word.rstrip(",").split("=")[0] for word in proc.stdout.split() if word.startswith("--")}


@pytest.mark.parametrize("mode", ["deployment", "mcpserver"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_server_accepts_the_args(scenario, mode):
    """Every flag exists in `gitops-agent serve --help`, and clap parses the whole command line
    (names and typed values) before it acts on a trailing --help: exit 0 means it would start."""
    args = container_args(docs_of(scenario, mode))
    assert args[0] == "serve"
    known = serve_flags()
    for arg in args[1:]:
        assert arg.split("=")[0] in known, f"gitops-agent serve has no {arg}"
    proc = subprocess.run([str(SERVER_BIN), *args, "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"gitops-agent refuses {args}: {proc.stderr}"
    tools = next((a.split("=", 1)[1].split(",") for a in args if a.startswith("--tools=")), [])
    assert set(tools) <= {t["name"] for t in CATALOGUE}


# ---------------------------------------------------------------------------------------------
# Fleet: explicit kubeconfig targets (no CAPI selector in the chart: Helm cannot follow Clusters)

FLEET = {"clusters": {"local": False, "targets": [
    {"name": "prod-us", "secretRef": {"name": "us-admin", "key": "kubeconfig"}},
    {"name": "prod-eu"},
]}}
FLEET_SOURCES = [
    {"secret": {"name": "prod-eu-kubeconfig", "items": [{"key": "value", "path": "prod-eu", "mode": 0o440}], "optional": False}},
    {"secret": {"name": "us-admin", "items": [{"key": "kubeconfig", "path": "prod-us", "mode": 0o440}], "optional": False}},
]


def pod_volumes_and_mounts(docs: list[dict]) -> tuple[list[dict], list[dict]]:
    for d in docs:
        if d["kind"] == "Deployment":
            pod = d["spec"]["template"]["spec"]
            return pod["volumes"], pod["containers"][0]["volumeMounts"]
        if d["kind"] == "MCPServer":
            return d["spec"]["deployment"]["volumes"], d["spec"]["deployment"]["volumeMounts"]
    raise AssertionError("no Deployment or MCPServer rendered")


def test_fleet_targets_agree_with_the_operator():
    children = assert_agrees_with_operator(copy.deepcopy(FLEET), "fleet")
    assert_no_secret_access(children)
    assert agent_of(copy.deepcopy(FLEET))["spec"]["clusters"] == {"local": False, "targets": [
        {"name": "prod-us", "secretRef": {"name": "us-admin", "key": "kubeconfig"}},
        {"name": "prod-eu"},
    ]}


@pytest.mark.parametrize("mode", ["deployment", "mcpserver"])
def test_fleet_targets_are_projected_one_kubeconfig_per_cluster(mode):
    docs = manifests(render(copy.deepcopy(FLEET), mode=mode))
    args = container_args(docs)
    assert "--clusters-dir=/etc/gitops-agent/clusters" in args and "--local-cluster=false" in args
    volumes, mounts = pod_volumes_and_mounts(docs)
    (clusters,) = [v for v in volumes if v["name"] == "clusters"]
    assert clusters["projected"]["sources"] == FLEET_SOURCES, "sorted by cluster; file name = cluster name"
    assert {"name": "clusters", "mountPath": "/etc/gitops-agent/clusters", "readOnly": True} in mounts
    # Without targets nothing changes: no volume, no flags.
    plain = manifests(render({"clusters": {"local": True, "targets": []}}, mode=mode))
    assert not any(a.startswith(("--clusters-dir", "--local-cluster")) for a in container_args(plain))
    assert all(v["name"] != "clusters" for v in pod_volumes_and_mounts(plain)[0])


@pytest.mark.parametrize("mode", MODES)
def test_fleet_golden(mode):
    check_golden(f"fleet-{mode}.yaml", golden_text(render(copy.deepcopy(FLEET), mode=mode)))


@pytest.mark.parametrize("mode", ["deployment", "mcpserver"])
def test_server_accepts_the_fleet_flags(mode):
    if "--clusters-dir" not in serve_flags():
        pytest.skip("this gitops-agent has no --clusters-dir yet (the server half of the fleet feature)")
    args = container_args(manifests(render(copy.deepcopy(FLEET), mode=mode)))
    proc = subprocess.run([str(SERVER_BIN), *args, "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"gitops-agent refuses {args}: {proc.stderr}"


# ---------------------------------------------------------------------------------------------
# mcpserver mode: kmcp's real MCPServer API


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_mcpserver_matches_kmcp_api(scenario):
    values = scenario_values(scenario, "mcpserver")
    docs = docs_of(scenario, "mcpserver")
    (server,) = by_kind(docs, "MCPServer")
    jsonschema.validate(server, KMCP_SCHEMA)
    spec = server["spec"]
    name = server["metadata"]["name"]
    assert spec["transportType"] == "http"
    assert spec["httpTransport"] == {"targetPort": spec["deployment"]["port"], "path": "/mcp"}
    assert f"--port={spec['deployment']['port']}" in spec["deployment"]["args"]

    # The same server as deployment mode runs (the port is the one both modes listen on).
    deployment_docs = manifests(render(values, mode="deployment"))
    assert spec["deployment"]["args"] == container_args(deployment_docs)
    (deploy,) = by_kind(deployment_docs, "Deployment")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert spec["deployment"]["image"] == container["image"]
    assert spec["deployment"]["securityContext"] == container["securityContext"]
    assert spec["deployment"]["resources"] == container["resources"]
    plain_env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert spec["deployment"].get("env", {}) == plain_env

    # The chart's children of an MCPServer select kmcp's pods (labelled with the server's name),
    # and no pod label of ours may change kmcp's selector labels.
    kmcp_pods = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
    assert not set(kmcp_pods) & set(spec["deployment"].get("labels", {}))
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for obj in by_kind(docs, kind):
            selector = obj["spec"]["selector" if kind == "PodDisruptionBudget" else "podSelector"]["matchLabels"]
            assert selector == kmcp_pods, kind
    for hpa in by_kind(docs, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    sa_name = (values.get("serviceAccount") or {}).get("name") or name
    assert spec["deployment"]["serviceAccountName"] == sa_name
    for binding in by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": NAMESPACE}]
    metrics = (values.get("mcpServer") or {}).get("metrics") or {}
    services = by_kind(docs, "Service")
    if metrics.get("enabled", True):
        (service,) = services
        assert service["metadata"]["name"] == f"{name}-metrics"
        assert service["spec"]["selector"] == kmcp_pods
        for monitor in by_kind(docs, "ServiceMonitor"):
            assert all(service["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    else:
        assert services == []
    for route in by_kind(docs, "HTTPRoute"):  # kmcp's Service is named after the server
        assert route["spec"]["rules"][0]["backendRefs"] == [{"name": name, "port": spec["deployment"]["port"]}]


def test_mcpserver_refuses_env_it_cannot_carry():
    values = {"extraEnv": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}
    with pytest.raises(helm.HelmError) as err:
        render(values, mode="mcpserver")
    assert "a kmcp MCPServer takes environment variables as name: value pairs only" in str(err.value)
    render(values, mode="deployment")
    operator_render([agent_of(values)], APP_VERSION)


# ---------------------------------------------------------------------------------------------
# Values compatibility with the predecessor chart


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_values_schema_accepts_shipped_and_predecessor_values(scenario):
    with helm.Chart.load(AGENT_CHART) as chart:
        chart.validate_schema(scenario_values(scenario))


def test_predecessor_values_keep_working():
    values = scenario_values("predecessor")
    spec = agent_of(values)["spec"]
    assert spec["httpRoute"]["hostnames"] == ["gitops-agent.nkp.example.com"]
    assert spec["tls"]["issuerRef"] == {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}
    assert spec["tls"]["createClusterIssuer"]["enabled"] is False
    assert spec["autoscaling"]["targetMemoryUtilizationPercentage"] == 80
    # The predecessor's default egress rule (any address on 443) is the API server egress the
    # NetworkPolicy already has: it neither narrows it nor adds an all-ports peer.
    assert "apiServerCIDRs" not in spec["networkPolicy"] and "egressTo" not in spec["networkPolicy"]
    # Probes of a predecessor values file apply in deployment mode, as written.
    (deploy,) = by_kind(manifests(render(values, mode="deployment")), "Deployment")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"] == values["livenessProbe"]
    # Values a mode cannot carry are named in NOTES, not silently dropped.
    gitopsagent_notes = notes(render(values, mode="gitopsagent"))
    assert "livenessProbe is ignored in deploymentMode gitopsagent" in gitopsagent_notes
    assert "mcpServer.a2a.agentCard is ignored" in gitopsagent_notes
    assert "kmcp writes spec.deployment.replicas" in notes(render(values, mode="mcpserver"))


def test_predecessor_egress_rules_map_to_api_server_cidrs():
    rule = {"to": [{"ipBlock": {"cidr": "10.96.0.1/32"}}], "ports": [{"protocol": "TCP", "port": 443}]}
    peers_rule = {"to": [{"namespaceSelector": {"matchLabels": {"team": "obs"}}}]}
    spec = agent_of({"networkPolicy": {"egressTo": [rule, peers_rule]}})["spec"]
    assert spec["networkPolicy"]["apiServerCIDRs"] == ["10.96.0.1/32"]
    assert spec["networkPolicy"]["egressTo"] == peers_rule["to"]
    assert_agrees_with_operator({"networkPolicy": {"egressTo": [rule, peers_rule]}}, "egress rules")


def test_read_write_agent_gets_patch_on_flux_only():
    docs = manifests(render({"a2a": {"readOnly": False}}, mode="deployment"))
    (role,) = [r for r in by_kind(docs, "ClusterRole") if not r["metadata"]["name"].endswith("-auth")]
    patch = [r for r in role["rules"] if "patch" in r["verbs"]]
    assert {g for r in patch for g in r["apiGroups"]} == {
        "kustomize.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "source.toolkit.fluxcd.io",
    }
    assert "--read-only=false" in container_args(docs)


def test_open_agents_get_no_review_rights_and_say_so_on_the_command_line():
    docs = manifests(render({"auth": {"mode": "None"}}, mode="deployment"))
    assert not [r for r in by_kind(docs, "ClusterRole") if r["metadata"]["name"].endswith("-auth")]
    args = container_args(docs)
    assert "--auth=none" in args and "--allow-unauthenticated" in args
    checked = manifests(render({"auth": {"issuers": ["https://oidc.example.com"], "audiences": ["gitops-agent"]}}, mode="deployment"))
    args = container_args(checked)
    assert "--auth-issuers=https://oidc.example.com" in args and "--auth-audiences=gitops-agent" in args


# ---------------------------------------------------------------------------------------------
# NOTES and bad values


def test_notes_tell_how_to_reach_the_endpoints():
    text = notes(render({}, mode="deployment"))
    for endpoint in ("/mcp", "/.well-known/agent-card.json", "/health", "/readyz", ":9090/metrics", "kubectl port-forward"):
        assert endpoint in text, endpoint
    routed = notes(render(scenario_values("nkp-traefik")))
    assert "https://gitops-agent.nkp.example.com/mcp" in routed
    assert "kubectl wait --for=condition=Ready gta/gitops-agent" in routed
    assert "kubectl get mcpserver gitops-agent" in notes(render({}, mode="mcpserver"))
    assert "kubectl create token" in text and 'Authorization: Bearer $TOKEN' in text
    assert "acts with the agent's permissions" in notes(render({"auth": {"mode": "None"}}, mode="deployment"))


BAD_VALUES = [
    # values.schema.json
    ({"deploymentMode": "kagent"}, "at '/deploymentMode': value must be one of 'gitopsagent', 'deployment', 'mcpserver'"),
    ({"replicaCount": "two"}, "at '/replicaCount': got string, want integer"),
    ({"auth": {"mode": "OIDC"}}, "at '/auth/mode': value must be one of 'Kubernetes', 'None'"),
    ({"a2a": {"logLevel": "verbose"}}, "at '/a2a/logLevel': value must be one of 'debug', 'info', 'warn', 'error'"),
    ({"a2a": {"readOnly": "yes"}}, "at '/a2a/readOnly': got string, want boolean"),
    ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
    ({"service": {"type": "ExternalName"}}, "at '/service/type'"),
    ({"httpRoute": {"hostname": "Not A Host"}}, "at '/httpRoute/hostname'"),
    ({"tls": {"acmeEmail": "nobody"}}, "at '/tls/acmeEmail'"),
    ({"tls": {"createClusterIssuer": {"enabled": True}}}, "at '/tls/createClusterIssuer': got object, want boolean"),
    ({"mcpServer": {"tracing": {"endpoint": "otel:4317"}}}, "at '/mcpServer/tracing/endpoint'"),
    ({"mcpServer": {"autoscaling": {"maxReplicas": 0}}}, "at '/mcpServer/autoscaling/maxReplicas'"),
    ({"mcpServer": {"pdb": {"minAvailable": "half"}}}, "at '/mcpServer/pdb/minAvailable'"),
    ({"mcpServer": {"metrics": {"path": "metrics"}}}, "at '/mcpServer/metrics/path'"),
    ({"tools": {"enabled": ["delete_everything"]}}, "at '/tools/enabled/0'"),
    ({"watchNamespaces": ["a", "a"]}, "at '/watchNamespaces'"),
    ({"fullnameOverride": "Agent"}, "at '/fullnameOverride'"),
    ({"networkPolicy": {"ingressFrom": [{"namespace": "x"}]}}, "at '/networkPolicy/ingressFrom/0'"),
    ({"replicas": 3}, "additional properties 'replicas' not allowed"),
    # cross-field rules, worded as the GitOpsAgent CRD's
    ({"mcpServer": {"autoscaling": {"enabled": True, "minReplicas": 6, "maxReplicas": 3}}},
     "mcpServer.autoscaling.minReplicas must be less than or equal to mcpServer.autoscaling.maxReplicas"),
    ({"httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}]}}, "httpRoute.enabled needs at least one hostname"),
    ({"httpRoute": {"enabled": True, "hostname": "a.example.com"}}, "httpRoute.enabled needs at least one entry in httpRoute.parentRefs"),
    ({"tls": {"enabled": True}}, "tls.enabled needs tls.secretName (an existing certificate Secret) or tls.clusterIssuer"),
    ({"tls": {"enabled": True, "clusterIssuer": "le"}}, "so they need httpRoute.enabled"),
    ({"tls": {"createClusterIssuer": True}}, "tls.createClusterIssuer needs tls.enabled and tls.clusterIssuer"),
    ({"tls": {"enabled": True, "clusterIssuer": "le", "createClusterIssuer": True},
      "httpRoute": {"enabled": True, "hostname": "a.example.com", "parentRefs": [{"name": "gw"}]}},
     "tls.createClusterIssuer needs tls.acmeEmail for ACME, or tls.selfSigned: true"),
    ({"tls": {"clusterIssuer": "a", "issuer": "b"}}, "tls.clusterIssuer and tls.issuer are exclusive"),
    ({"mcpServer": {"tracing": {"enabled": True}}}, "mcpServer.tracing.enabled needs mcpServer.tracing.endpoint"),
    ({"mcpServer": {"tracing": {"enabled": True, "endpoint": "http://otel:99999"}}}, "is not a number from 1 to 65535"),
    ({"mcpServer": {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}}},
     "mcpServer.metrics.serviceMonitor.enabled needs mcpServer.metrics.enabled"),
    ({"mcpServer": {"metrics": {"port": 8080}}}, "mcpServer.metrics.port must differ from service.port and a2a.port"),
    ({"tools": {"enabled": ["get_events"], "disabled": ["get_events"]}}, "tools.enabled and tools.disabled must not name the same tool"),
    ({"a2a": {"readOnly": False}, "rbac": {"create": False}}, "a2a.readOnly: false grants write access"),
    ({"serviceAccount": {"create": False}}, "serviceAccount.create: false needs serviceAccount.name"),
    ({"deploymentMode": "gitopsagent", "service": {"port": 80}}, "service.port (80) and a2a.port (8080) differ"),
    ({"service": {"targetPort": 9000}}, "service.targetPort (9000) must equal a2a.port (8080)"),
    ({"a2a": {"baseURL": "https://other.example.com"},
      "httpRoute": {"enabled": True, "hostname": "a.example.com", "parentRefs": [{"name": "gw"}]}},
     "a2a.baseURL (https://other.example.com) differs from the public URL the HTTPRoute gives (http://a.example.com"),
    ({"networkPolicy": {"egressTo": [{"to": [{"podSelector": {}}], "ports": [{"port": 5432}]}]}},
     "networkPolicy.egressTo[0] is an egress rule with ports"),
    ({"a2a": {"taskStore": {"type": "Redis"}}}, "a2a.taskStore.type Redis needs exactly one of a2a.taskStore.redis.url and a2a.taskStore.redis.urlSecretRef"),
    ({"a2a": {"taskStore": {"type": "Redis", "redis": {"url": "redis://user:pw@redis:6379"}}}}, "at '/a2a/taskStore/redis/url'"),
    ({"a2a": {"taskStore": {"type": "Memory", "redis": {"url": "redis://redis:6379"}}}}, "a2a.taskStore.redis is only read when a2a.taskStore.type is Redis"),
    ({"deploymentMode": "mcpserver", "a2a": {"taskStore": {"type": "Redis", "redis": {"urlSecretRef": {"name": "r", "key": "url"}}}}},
     "which a kmcp MCPServer cannot carry"),
    ({"a2a": {"confirmationKeySecretRef": {"name": "confirm-key"}}}, "a2a.confirmationKeySecretRef needs both name and key"),
    ({"a2a": {"confirmationKeySecretRef": {"name": "confirm-key", "key": "key", "optional": True}}},
     "additional properties 'optional' not allowed"),
    ({"deploymentMode": "mcpserver", "a2a": {"confirmationKeySecretRef": {"name": "confirm-key", "key": "key"}}},
     "a2a.confirmationKeySecretRef needs an environment variable from a Secret, which a kmcp MCPServer cannot carry"),
    ({"clusters": {"targets": [{"name": "a"}, {"name": "a"}]}}, "clusters.targets must not name a cluster twice"),
    ({"clusters": {"targets": [{"name": "local"}]}}, "at '/clusters/targets/0/name'"),
    ({"clusters": {"targets": [{"name": "Prod"}]}}, "at '/clusters/targets/0/name'"),
    ({"clusters": {"targets": [{"name": "a", "secretRef": {"name": "s", "namespace": "other"}}]}},
     "additional properties 'namespace' not allowed"),
    ({"clusters": {"local": False}}, "clusters needs at least one source"),
    ({"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}, "additional properties 'selector' not allowed"),
    ({"fullnameOverride": ""}, None),  # fine: a control row
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[str(i) for i in range(len(BAD_VALUES))])
def test_bad_values_are_refused_with_a_clear_message(values, message):
    if message is None:
        render(values)
        return
    with pytest.raises(helm.HelmError) as err:
        render(values)
    assert message in str(err.value)


def test_long_release_names_are_cut_to_a_valid_agent_name():
    name = "a-very-long-release-name-for-the-gitops-agent-of-the-platform-team"
    (agent,) = manifests(render({}, mode="gitopsagent", name=name))
    assert len(agent["metadata"]["name"]) <= 47
    operator_render([agent], APP_VERSION)
