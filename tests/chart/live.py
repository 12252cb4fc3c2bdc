"""Real processes for the metric-name checks: the embedded API server (fake-apiserver), the agent
server (`gitops-agent serve`) and the operator (`gitops-agent-operator run`), and a scrape of
their /metrics.

Binaries: $FAKE_APISERVER_BIN, $GITOPS_AGENT_BIN, $GITOPS_AGENT_OPERATOR_BIN, by default under
target/debug (built by `cargo build --workspace`).
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from processes import REPO, Process, binary, free_port, spawn, tail  # noqa: F401 (re-exported to the tests)


def http_get(url: str, context: ssl.SSLContext | None = None, headers: dict[str, str] | None = None) -> tuple[int | None, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (OSError, ValueError):
        return None, ""


@dataclass
class Cluster:
    """The embedded API server and how to talk to it as its admin."""

    process: Process
    kubeconfig: Path
    server: str = ""
    token: str = ""
    context: ssl.SSLContext | None = None

    def load(self) -> bool:
        try:
            config = yaml.safe_load(self.kubeconfig.read_text())
            cluster = config["clusters"][0]["cluster"]
            self.token = config["users"][0]["user"]["token"]
            self.server = cluster["server"]
            self.context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
            return bool(config.get("current-context"))
        except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
            return False

    def get(self, path: str) -> tuple[int | None, str]:
        return http_get(self.server + path, self.context, {"Authorization": f"Bearer {self.token}"})

    def set_faults(self, faults: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.server + "/fake/faults",
            data=json.dumps(faults).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5, context=self.context) as response:
            assert response.status == 200


def start_cluster(workdir: Path, *extra: str) -> Cluster:
    kubeconfig = workdir / "kubeconfig"
    process = spawn(
        "fake-apiserver",
        [str(binary("FAKE_APISERVER_BIN", "target/debug/fake-apiserver")), "--kubeconfig", str(kubeconfig), *extra],
        workdir,
    )
    cluster = Cluster(process, kubeconfig)
    process.wait_until("a kubeconfig", lambda: kubeconfig.exists() and cluster.load(), timeout=30)
    process.wait_until("an answer on /readyz", lambda: cluster.get("/readyz")[0] == 200, timeout=30)
    return cluster


@dataclass
class Exposition:
    """A Prometheus text exposition: family types (# TYPE) and sample names with their labels."""

    types: dict[str, str] = field(default_factory=dict)
    samples: dict[str, set[str]] = field(default_factory=dict)
    values: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def value(self, name: str, **labels: str) -> float:
        return sum(v for n, l, v in self.values if n == name and all(l.get(k) == x for k, x in labels.items()))


LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> Exposition:
    out = Exposition()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            out.types[name] = kind.strip()
            continue
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        assert match, f"not an exposition line: {line!r}"
        name, labels = match.group(1), dict(LABEL.findall(match.group(3) or ""))
        out.samples.setdefault(name, set()).update(labels)
        out.values.append((name, labels, float(match.group(4))))
    return out


def scrape(url: str) -> Exposition:
    status, body = http_get(url)
    assert status == 200, f"GET {url}: {status} {body[:200]}"
    return parse_exposition(body)


def mcp_tool_call(url: str, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """One stateless MCP tools/call (2026-07-28, no session), as scripts/mcp-ask.py sends it."""
    version = "2026-07-28"
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": tool,
            "arguments": arguments or {},
            "_meta": {"io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {}},
        },
    }
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": version,
            "mcp-method": "tools/call",
            "mcp-name": tool,
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())
