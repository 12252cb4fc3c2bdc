"""Shared helpers of the chart tests: Helm through helm-python-sdk, the operator's `render`, goldens.

Helm is real: `helm_python` binds to libhelm_c, the C ABI over Helm's Go SDK, so loading, schema
validation, rendering and linting are Helm's own code, not a re-implementation.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
AGENT_CHART = REPO / "chart" / "gitops-agent"
OPERATOR_CHART = REPO / "chart" / "gitops-agent-operator"
GOLDEN = HERE / "golden"
SCENARIO_DIR = HERE / "values"

OPERATOR_BIN = Path(os.environ.get("GITOPS_AGENT_OPERATOR_BIN", REPO / "target/debug/gitops-agent-operator"))
SERVER_BIN = Path(os.environ.get("GITOPS_AGENT_BIN", REPO / "target/debug/gitops-agent"))

RELEASE = "gitops-agent"
NAMESPACE = "gitops-agent"
OPERATOR_NAMESPACE = "gitops-agent-system"
MODES = ("deployment", "gitopsagent", "mcpserver")


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Values layered as `helm -f a.yaml -f b.yaml` layers them (maps merge, the rest replaces)."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def scenario_values(name: str, mode: str | None = None) -> dict[str, Any]:
    """Values of a named scenario: a shipped values file, a layering of them, or a test file.

    For mcpserver mode, what reaches the server only from a Secret through its environment is left
    out (extraEnv entries without a plain value, a2a.confirmationKeySecretRef): a kmcp MCPServer
    cannot carry it and the chart refuses it there (tests check that)."""
    values = _scenario_values(name)
    if mode == "mcpserver":
        if values.get("extraEnv"):
            values["extraEnv"] = [e for e in values["extraEnv"] if "value" in e]
        values.get("a2a", {}).pop("confirmationKeySecretRef", None)
    return values


def _scenario_values(name: str) -> dict[str, Any]:
    shipped = {
        "default": [],
        "enterprise": ["values-enterprise.yaml"],
        "nkp-traefik": ["values-nkp-traefik.yaml"],
        "nkp-kong": ["values-nkp-kong.yaml"],
        "enterprise+nkp-traefik": ["values-enterprise.yaml", "values-nkp-traefik.yaml"],
    }
    if name in shipped:
        values: dict[str, Any] = {}
        for file in shipped[name]:
            values = deep_merge(values, load_yaml(AGENT_CHART / file))
        return values
    return load_yaml(SCENARIO_DIR / f"{name}.yaml")


@lru_cache(maxsize=None)
def _chart(path: str) -> helm.Chart:
    return helm.Chart.load(path)


def render(
    values: dict[str, Any] | None = None,
    *,
    chart: Path = AGENT_CHART,
    mode: str | None = None,
    name: str = RELEASE,
    namespace: str = NAMESPACE,
) -> dict[str, str]:
    """Renders a chart offline with Helm; returns template path -> text (NOTES.txt included)."""
    values = copy.deepcopy(values or {})
    if mode is not None:
        values["deploymentMode"] = mode
    return _chart(str(chart)).render(values, name=name, namespace=namespace)


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """The Kubernetes objects of a render, in template order."""
    docs: list[dict[str, Any]] = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(rendered[path]) if d)
    return docs


def notes(rendered: dict[str, str]) -> str:
    return next((text for path, text in rendered.items() if path.endswith("NOTES.txt")), "")


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return (obj["kind"], meta.get("namespace") or "", meta["name"])


def operator_render(agents: list[dict[str, Any]], image_tag: str) -> list[dict[str, Any]]:
    """`gitops-agent-operator render` of GitOpsAgent documents: admission (defaults, schema, CEL)
    as the API server would, then the children. Fails the test with the operator's message."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump_all(agents, f, sort_keys=False)
        f.flush()
        proc = subprocess.run(
            [str(OPERATOR_BIN), "render", "-f", f.name, "-o", "json", "--image-tag", image_tag],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise AssertionError(f"gitops-agent-operator render refused the chart's GitOpsAgent:\n{proc.stderr}")
    return json.loads(proc.stdout)["items"]


# Labels that say who manages an object, not what it is: Helm's and the operator's own.
BOOKKEEPING_LABELS = {
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
    "agents.gitops.dev/agent",
    "agents.gitops.dev/agent-namespace",
}


def normalized(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without bookkeeping: manager labels, and the operator's config-hash annotation
    (the chart needs none: the pod template itself changes with the configuration)."""
    obj = copy.deepcopy(obj)

    def strip(meta: dict[str, Any] | None) -> None:
        if meta and "labels" in meta:
            meta["labels"] = {k: v for k, v in meta["labels"].items() if k not in BOOKKEEPING_LABELS}

    strip(obj.get("metadata"))
    template = (obj.get("spec") or {}).get("template", {}).get("metadata")
    if template:
        strip(template)
        annotations = template.get("annotations") or {}
        annotations.pop("agents.gitops.dev/config-hash", None)
        if not annotations:
            template.pop("annotations", None)
    return obj


def diff(a: Any, b: Any, a_name: str, b_name: str) -> str:
    left = yaml.safe_dump(a, sort_keys=True).splitlines()
    right = yaml.safe_dump(b, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(left, right, a_name, b_name, lineterm=""))


def golden_text(rendered: dict[str, str]) -> str:
    """A render as one stable text: each manifest under its template path, NOTES.txt last."""
    parts = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt") or not rendered[path].strip():
            continue
        parts.append(f"---\n# Source: {path}\n{rendered[path].strip()}\n")
    text = "".join(parts)
    note = notes(rendered).strip("\n")
    if note:
        text += "---\n# NOTES.txt\n" + "".join(f"#{' ' if line else ''}{line}\n" for line in note.splitlines())
    return text


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"{path} is missing: regenerate with UPDATE_GOLDEN=1 scripts/chart-tests.sh"
    expected = path.read_text()
    if text != expected:
        delta = "\n".join(
            difflib.unified_diff(expected.splitlines(), text.splitlines(), f"golden/{name}", "rendered", lineterm="")
        )
        raise AssertionError(
            f"rendered output differs from {path.relative_to(REPO)} "
            f"(if intended, regenerate with UPDATE_GOLDEN=1 scripts/chart-tests.sh and review the diff):\n{delta}"
        )
