"""Observability assets: the Grafana dashboards (chart/*/files/dashboards/) and the PrometheusRules
of both charts.

Every metric they query must be one our binaries export, with the labels they use. The exported
names come from the real binaries: the embedded API server with the Flux fixtures, `gitops-agent
serve` scraped after a tool call, and `gitops-agent-operator run` scraped after it reconciled a
GitOpsAgent and failed a few reconciles (API faults injected). A second test ties the scrape to
the `registry.register` calls in crates/*/src/metrics.rs, so a metric added there without a scrape
that shows it fails here. Expressions are parsed with a real PromQL parser (PyPI promql-parser).
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import helm_python as helm
import promql_parser as promql
import pytest

from helpers import (
    AGENT_CHART,
    NAMESPACE,
    OPERATOR_CHART,
    OPERATOR_NAMESPACE,
    REPO,
    by_kind,
    check_golden,
    golden_text,
    manifests,
    render,
)
from live import binary, free_port, http_get, mcp_tool_call, scrape, spawn, start_cluster

AGENT_DASHBOARD = AGENT_CHART / "files" / "dashboards" / "gitops-agent.json"
OPERATOR_DASHBOARD = OPERATOR_CHART / "files" / "dashboards" / "gitops-agent-operator.json"
OPERATOR_RELEASE = "gitops-agent-operator"

# Labels Prometheus (and the Prometheus Operator's ServiceMonitor relabelling) puts on every
# scraped series: they are not in our exposition but selecting on them is right.
TARGET_LABELS = {"namespace", "job", "pod", "instance", "service", "endpoint", "container"}

AGENT_ALERTS = {
    "GitOpsAgentHighErrorRate",
    "GitOpsAgentHighLatency",
    "GitOpsAgentToolCallsFailing",
    "GitOpsAgentKubernetesAPIErrors",
    "GitOpsAgentPushNotificationsFailing",
    "GitOpsAgentNotReady",
    "GitOpsAgentDown",
}
OPERATOR_ALERTS = {
    "GitOpsAgentReconcileFailing",
    "GitOpsAgentReconcileSlow",
    "GitOpsAgentOperatorNoLeader",
    "GitOpsAgentOperatorDown",
}

OBSERVABILITY_ON = {"mcpServer": {"metrics": {"prometheusRule": {"enabled": True}, "dashboard": {"enabled": True}}}}
OPERATOR_OBSERVABILITY_ON = {"metrics": {"prometheusRule": {"enabled": True}, "dashboard": {"enabled": True}}}


def render_operator(values: dict[str, Any] | None = None) -> dict[str, str]:
    return render(values, chart=OPERATOR_CHART, name=OPERATOR_RELEASE, namespace=OPERATOR_NAMESPACE)


# ---------------------------------------------------------------------------------------------
# What the binaries export


def sample_names(types: dict[str, str]) -> set[str]:
    """Sample names of metric families, as prometheus-client writes them: counters get _total,
    histograms _bucket, _sum and _count, gauges keep their name."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    return {name + suffix for name, kind in types.items() for suffix in suffixes[kind]}


@pytest.fixture(scope="module")
def exported() -> Iterator[dict[str, dict]]:
    """{"agent": Exposition, "operator": Exposition} scraped from the running binaries."""
    with tempfile.TemporaryDirectory(prefix="gitops-agent-metrics-") as tmp:
        workdir = Path(tmp)
        started = []
        try:
            cluster = start_cluster(workdir, "--crds", "crds", "--fixtures", "examples/fixtures", "--apply", "examples/minimal.yaml")
            started.append(cluster.process)

            port, metrics_port, operator_port = free_port(), free_port(), free_port()
            agent = spawn(
                "gitops-agent",
                [str(binary("GITOPS_AGENT_BIN", "target/debug/gitops-agent")), "serve", "--kubeconfig", str(cluster.kubeconfig),
                 "--bind-address", "127.0.0.1", f"--port={port}", f"--metrics-port={metrics_port}"],
                workdir,
            )
            started.append(agent)
            agent.wait_until("/readyz 200", lambda: http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200)
            answer = mcp_tool_call(f"http://127.0.0.1:{port}/mcp", "get_gitops_status")
            assert "result" in answer and not answer["result"].get("isError"), answer

            operator = spawn(
                "gitops-agent-operator",
                [str(binary("GITOPS_AGENT_OPERATOR_BIN", "target/debug/gitops-agent-operator")), "run",
                 f"--http-addr=127.0.0.1:{operator_port}", "--verify=false", "--lease-namespace=gitops-agent",
                 "--resync-seconds=1", "--log-format=text"],
                workdir,
                env={"KUBECONFIG": str(cluster.kubeconfig)},
            )
            started.append(operator)
            operator_metrics = f"http://127.0.0.1:{operator_port}/metrics"

            def reconciled(result: str) -> bool:
                status, _ = http_get(operator_metrics)
                return status == 200 and scrape(operator_metrics).value("gitops_agent_operator_reconciles_total", result=result) > 0

            operator.wait_until("a successful reconcile", lambda: reconciled("success"))
            # Failed reconciles: every API request answers 500 until one reconcile has failed.
            cluster.set_faults({"errorRate": 1.0, "errorCode": 500})
            try:
                operator.wait_until("a failed reconcile", lambda: reconciled("error"), timeout=30)
            finally:
                cluster.set_faults({})
            # The agent's Kubernetes API counters and the tool call are in by now.
            yield {"agent": scrape(f"http://127.0.0.1:{metrics_port}/metrics"), "operator": scrape(operator_metrics)}
        finally:
            for process in reversed(started):
                process.stop()


def registered_names(source: Path) -> set[str]:
    text = source.read_text()
    prefix = re.search(r'Registry::with_prefix\("([^"]+)"\)', text)
    names = set(re.findall(r'registry\.register\(\s*"([^"]+)"', text))
    assert names, f"no registry.register calls in {source}"
    return {f"{prefix.group(1)}_{n}" if prefix else n for n in names}


@pytest.mark.parametrize(("binary_name", "source"), [("agent", "crates/server/src/metrics.rs"), ("operator", "crates/controller/src/metrics.rs")])
def test_scrape_shows_every_registered_metric(exported, binary_name, source):
    exposition = exported[binary_name]
    assert set(exposition.types) == registered_names(REPO / source), (
        f"the {binary_name}'s /metrics families differ from the registry.register calls in {source}"
    )
    assert set(exposition.samples) == sample_names(exposition.types), "every family has samples in the scrape"


# ---------------------------------------------------------------------------------------------
# PromQL of the dashboards and rules


def grafana_to_promql(expr: str) -> str:
    """Grafana's variables as PromQL: $__rate_interval a duration, the others a regex/value."""
    expr = re.sub(r"\$__rate_interval|\$\{__rate_interval\}|\$__interval|\$\{__interval\}", "5m", expr)
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "x", expr)


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names in its matchers) of every vector selector of a PromQL expression."""
    try:
        ast = promql.parse(expr)
    except ValueError as err:
        raise AssertionError(f"not valid PromQL ({err}): {expr}") from err
    found: list[tuple[str, set[str]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql.VectorSelector):
            assert node.name, f"a selector without a metric name: {expr}"
            found.append((node.name, {m.name for m in node.matchers.matchers}))

    promql.walk(ast, visit)
    return found


def grouping_labels(expr: str) -> set[str]:
    labels: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)

    promql.walk(promql.parse(expr), visit)
    return labels


def check_expression(expr: str, exported: dict[str, Any], where: str) -> set[str]:
    """Asserts every metric of `expr` is exported with the labels `expr` uses; returns the metrics."""
    known = {**exported["agent"].samples, **exported["operator"].samples}
    used = selectors(expr)
    assert used, f"{where}: no metric in {expr}"
    available = set(TARGET_LABELS)
    for name, labels in used:
        assert name in known, f"{where}: {name} is not exported by gitops-agent or gitops-agent-operator ({expr})"
        assert labels <= known[name] | TARGET_LABELS, f"{where}: {name} has no label {sorted(labels - known[name] - TARGET_LABELS)}"
        available |= known[name]
    missing = grouping_labels(expr) - available
    assert not missing, f"{where}: groups by {sorted(missing)}, which no metric of the expression carries: {expr}"
    return {name for name, _ in used}


def dashboard_queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", grafana_to_promql(target["expr"])
    for var in board["templating"]["list"]:
        if var["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)", var["definition"])
        assert match, f"variable {var['name']}: expected label_values(selector, label), got {var['definition']}"
        assert var["query"]["query"] == var["definition"]
        yield f"variable {var['name']}", grafana_to_promql(match.group(1))


def rule_expressions(docs: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for rule_doc in by_kind(docs, "PrometheusRule"):
        for group in rule_doc["spec"]["groups"]:
            for rule in group["rules"]:
                yield rule["alert"], rule["expr"]


@pytest.mark.parametrize("path", [AGENT_DASHBOARD, OPERATOR_DASHBOARD], ids=["agent", "operator"])
def test_dashboard_queries_use_only_exported_metrics(exported, path):
    board = json.loads(path.read_text())
    used: set[str] = set()
    for where, expr in dashboard_queries(board):
        used |= check_expression(expr, exported, where)
    expected = exported["agent" if path == AGENT_DASHBOARD else "operator"]
    # Every exported family is on the dashboard.
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used}
    assert set(expected.types) <= families, f"families missing from {path.name}: {sorted(set(expected.types) - families)}"


def test_rules_use_only_exported_metrics(exported):
    agent = manifests(render(OBSERVABILITY_ON, mode="deployment"))
    operator = manifests(render_operator(OPERATOR_OBSERVABILITY_ON))
    seen = set()
    for docs in (agent, operator):
        for alert, expr in rule_expressions(docs):
            check_expression(expr, exported, f"alert {alert}")
            seen.add(alert)
    assert seen == AGENT_ALERTS | OPERATOR_ALERTS


def test_the_guides_alert_is_there_unchanged_in_meaning():
    """GitOpsAgentHighErrorRate: the NKP guide's alert, rate(http_requests_total{status=~"5.."}[5m]) > 0.1 for 5m."""
    (rule_doc,) = by_kind(manifests(render(OBSERVABILITY_ON, mode="deployment")), "PrometheusRule")
    (rule,) = [r for g in rule_doc["spec"]["groups"] for r in g["rules"] if r["alert"] == "GitOpsAgentHighErrorRate"]
    assert rule["for"] == "5m"
    assert rule["annotations"]["summary"] == "High error rate on GitOps agent"
    ast = promql.parse(rule["expr"])
    assert isinstance(ast, promql.BinaryExpr) and str(ast.rhs) == "0.1"
    [(name, _)] = selectors(rule["expr"])
    assert name == "http_requests_total"
    assert 'status=~"5.."' in rule["expr"] and "[5m]" in rule["expr"]


# ---------------------------------------------------------------------------------------------
# Dashboards: structure


@pytest.mark.parametrize("path", [AGENT_DASHBOARD, OPERATOR_DASHBOARD], ids=["agent", "operator"])
def test_dashboard_structure(path):
    board = json.loads(path.read_text())
    assert board["uid"] == path.stem and board["title"] and board["schemaVersion"] >= 36
    names = [v["name"] for v in board["templating"]["list"]]
    assert names == ["datasource", "namespace", "job", "pod"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat"}, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and panel.get("description"), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            # Every panel follows the namespace/job/pod variables.
            for var in ("$namespace", "$job", "$pod"):
                assert var in target["expr"], f"{panel['title']}: {target['expr']} ignores {var}"
    # Panels do not overlap.
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        pos = panel["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))


def test_agent_dashboard_covers_what_the_guide_asks():
    """Request rate/latency/errors, tool calls by tool, status and protocol, K8s API calls, cache."""
    exprs = " ".join(t["expr"] for p in json.loads(AGENT_DASHBOARD.read_text())["panels"] for t in p.get("targets", []))
    for needle in ("http_requests_total", "http_request_duration_seconds_bucket", 'status=~"5.."', "sum by (tool)",
                   "sum by (status, protocol)", "k8s_api_calls_total", "cache_objects", "cache_ready"):
        assert needle in exprs, needle


# ---------------------------------------------------------------------------------------------
# The charts ship them behind toggles


def test_off_by_default():
    for docs in (manifests(render({}, mode=m)) for m in ("deployment", "gitopsagent", "mcpserver")):
        assert not by_kind(docs, "PrometheusRule") and not by_kind(docs, "ConfigMap")
    docs = manifests(render_operator())
    assert not by_kind(docs, "PrometheusRule") and not by_kind(docs, "ConfigMap")


@pytest.mark.parametrize("mode", ["deployment", "gitopsagent", "mcpserver"])
def test_agent_chart_ships_dashboard_and_rules(mode):
    values = copy.deepcopy(OBSERVABILITY_ON)
    values["mcpServer"]["metrics"]["prometheusRule"]["labels"] = {"release": "kube-prometheus-stack"}
    values["mcpServer"]["metrics"]["dashboard"]["namespace"] = "monitoring"
    docs = manifests(render(values, mode=mode))
    (config_map,) = by_kind(docs, "ConfigMap")
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["gitops-agent.json"]) == json.loads(AGENT_DASHBOARD.read_text())
    (rule,) = by_kind(docs, "PrometheusRule")
    assert rule["metadata"]["namespace"] == NAMESPACE
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == AGENT_ALERTS
    # The selector is the job a ServiceMonitor gives the agent's metrics Service.
    services = [s for s in by_kind(docs, "Service") if any(p["name"] == "metrics" for p in s["spec"]["ports"])]
    job = services[0]["metadata"]["name"] if services else "gitops-agent"  # gitopsagent: the operator's Service <name>
    assert job == ("gitops-agent-metrics" if mode == "mcpserver" else "gitops-agent")
    for r in alerts.values():
        assert f'job="{job}"' in r["expr"] and f'namespace="{NAMESPACE}"' in r["expr"], r["expr"]
        assert r["labels"]["severity"] in {"warning", "critical"}
        for label in re.findall(r"\$labels\.([a-z_]+)", json.dumps(r["annotations"])):
            assert label in grouping_labels(r["expr"]), f"{r['alert']}: annotation uses $labels.{label}, which the expression drops"
    report = helm.lint(AGENT_CHART, {**values, "deploymentMode": mode}, strict=True, namespace=NAMESPACE)
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == [], report


def test_rule_thresholds_and_selector_are_values():
    values = {"mcpServer": {"metrics": {"prometheusRule": {
        "enabled": True, "selector": 'cluster="prod", job="agents"', "errorRateThreshold": 0.5, "latencyThresholdSeconds": 4}}}}
    (rule,) = by_kind(manifests(render(values)), "PrometheusRule")
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert alerts["GitOpsAgentHighErrorRate"].endswith("> 0.5")
    assert alerts["GitOpsAgentHighLatency"].endswith("> 4")
    assert all('cluster="prod", job="agents"' in e and "namespace=" not in e for e in alerts.values())
    for expr in alerts.values():
        promql.parse(expr)


def test_operator_chart_ships_dashboard_and_rules():
    values = copy.deepcopy(OPERATOR_OBSERVABILITY_ON)
    values["metrics"]["prometheusRule"]["labels"] = {"release": "prom"}
    docs = manifests(render_operator(values))
    (config_map,) = by_kind(docs, "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["gitops-agent-operator.json"]) == json.loads(OPERATOR_DASHBOARD.read_text())
    (rule,) = by_kind(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prom"
    (service,) = by_kind(docs, "Service")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == OPERATOR_ALERTS
    for r in alerts.values():
        assert f'job="{service["metadata"]["name"]}"' in r["expr"], r["expr"]
        for label in re.findall(r"\$labels\.([a-z_]+)", json.dumps(r["annotations"])):
            assert label in grouping_labels(r["expr"]), r["alert"]
    report = helm.lint(OPERATOR_CHART, values, strict=True, namespace=OPERATOR_NAMESPACE)
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == [], report


def test_goldens():
    agent = render(OBSERVABILITY_ON, mode="deployment")
    check_golden("observability-agent.yaml", golden_text({k: v for k, v in agent.items() if k.endswith("prometheusrule.yaml")}))
    operator = render_operator(OPERATOR_OBSERVABILITY_ON)
    check_golden("observability-operator.yaml", golden_text({k: v for k, v in operator.items() if k.endswith("prometheusrule.yaml")}))


@pytest.mark.parametrize(
    ("chart", "values", "message"),
    [
        ("agent", {"mcpServer": {"metrics": {"enabled": False, "prometheusRule": {"enabled": True}}}},
         "mcpServer.metrics.prometheusRule.enabled needs mcpServer.metrics.enabled"),
        ("agent", {"mcpServer": {"metrics": {"prometheusRule": {"errorRateThreshold": 0}}}}, "at '/mcpServer/metrics/prometheusRule/errorRateThreshold'"),
        ("agent", {"mcpServer": {"metrics": {"prometheusRule": {"selector": "job=agents"}}}}, "at '/mcpServer/metrics/prometheusRule/selector'"),
        ("agent", {"mcpServer": {"metrics": {"dashboard": {"namespace": "Monitoring"}}}}, "at '/mcpServer/metrics/dashboard/namespace'"),
        ("agent", {"mcpServer": {"metrics": {"dashboard": {"folder": "x"}}}}, "additional properties 'folder' not allowed"),
        ("operator", {"metrics": {"service": {"enabled": False}, "prometheusRule": {"enabled": True}}},
         "metrics.prometheusRule.enabled needs metrics.service.enabled"),
        ("operator", {"metrics": {"prometheusRule": {"reconcileDurationThresholdSeconds": -1}}}, "at '/metrics/prometheusRule/reconcileDurationThresholdSeconds'"),
        ("operator", {"metrics": {"dashboard": {"labels": {"grafana_dashboard": 1}}}}, "at '/metrics/dashboard/labels/grafana_dashboard'"),
    ],
)
def test_bad_values_are_refused(chart, values, message):
    with pytest.raises(helm.HelmError) as err:
        render_operator(values) if chart == "operator" else render(values)
    assert message in str(err.value)
