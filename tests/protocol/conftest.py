"""Shared by the protocol tests: one fake API server and one gitops-agent for the whole session.

The session-scoped `servers` fixture starts the embedded Kubernetes API server (`fake-apiserver`)
with the Flux fixtures of examples/fixtures, then `gitops-agent serve` against it over HTTP, which
serves MCP at /mcp and A2A at / (JSON-RPC), /message:send ... (HTTP+JSON) and
/.well-known/agent-card.json. test_mcp_client.py (the MCP Python SDK) and test_a2a_client.py (the
A2A Python and JavaScript SDKs) are clients of that one agent. The `rbac_servers` fixture starts a
second pair whose API server enforces RBAC (tests/protocol/rbac.yaml) and whose agent checks each
caller's token, for what differs by caller (the A2A extended agent card).

Binaries: $GITOPS_AGENT_BIN and $FAKE_APISERVER_BIN, by default target/debug/gitops-agent and
target/debug/fake-apiserver under the repository root (build them with `cargo build --workspace`).
Run with scripts/protocol-tests.sh.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import pytest
from processes import Process, binary, free_port, spawn, tail

REPO_ROOT = Path(__file__).resolve().parents[2]
# The agent's clock for ages and durations in answers, so that they match the fixtures.
FIXED_NOW = "2026-11-24T10:30:00Z"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _kubeconfig_endpoint(kubeconfig: Path) -> tuple[str, ssl.SSLContext | None] | None:
    """The API server URL and a TLS context trusting its CA, once the kubeconfig is complete."""
    try:
        text = kubeconfig.read_text()
    except OSError:
        return None
    server = re.search(r"^\s*server:\s*(\S+)\s*$", text, re.MULTILINE)
    if not server or not re.search(r"^current-context:", text, re.MULTILINE):
        return None  # not written completely yet
    url = server.group(1).strip("'\"")
    if not url.startswith("https://"):
        return url, None
    ca = re.search(r"^\s*certificate-authority-data:\s*(\S+)\s*$", text, re.MULTILINE)
    if not ca:
        return None
    context = ssl.create_default_context(cadata=base64.b64decode(ca.group(1)).decode())
    return url, context


def _http_status(url: str, context: ssl.SSLContext | None = None) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, ValueError):
        return None


def _wait_until(what: str, proc: subprocess.Popen[bytes], log: Path, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode} before it was ready:\n{tail(log)}", pytrace=False)
        if ready():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} was not ready after {timeout:.0f}s:\n{tail(log)}", pytrace=False)


@dataclass
class Servers:
    agent_bin: Path
    kubeconfig: Path
    # MCP Streamable HTTP endpoint: http://127.0.0.1:PORT/mcp
    mcp_url: str
    workdir: Path
    # The agent's base URL, http://127.0.0.1:PORT: A2A clients fetch the card below it and the
    # card's interfaces point back at it.
    base_url: str


@contextmanager
def _stack(workdir: Path, apiserver_args: list[str], agent_args: list[str], metrics: bool = False) -> Iterator[Servers]:
    """The embedded API server with examples/fixtures (plus `apiserver_args`), then the agent
    against it (plus `agent_args`, and /metrics on its port if `metrics`); both stopped on exit."""
    agent_bin = binary("GITOPS_AGENT_BIN", "target/debug/gitops-agent")
    apiserver_bin = binary("FAKE_APISERVER_BIN", "target/debug/fake-apiserver")
    kubeconfig = workdir / "kubeconfig"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        api_log = workdir / "fake-apiserver.log"
        with api_log.open("wb") as out:
            apiserver = subprocess.Popen(
                [str(apiserver_bin), "--fixtures", "examples/fixtures", "--kubeconfig", str(kubeconfig), *apiserver_args],
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append(apiserver)

        def apiserver_ready() -> bool:
            endpoint = _kubeconfig_endpoint(kubeconfig)
            return endpoint is not None and _http_status(endpoint[0] + "/readyz", endpoint[1]) == 200

        _wait_until("fake-apiserver", apiserver, api_log, apiserver_ready, timeout=60)

        # A port picked here can be taken before the agent binds it: try a few.
        for attempt in range(3):
            port = free_port()
            agent_log = workdir / f"gitops-agent-{attempt}.log"
            with agent_log.open("wb") as out:
                agent = subprocess.Popen(
                    [
                        str(agent_bin), "serve",
                        "--kubeconfig", str(kubeconfig),
                        "--bind-address", "127.0.0.1",
                        "--port", str(port),
                        # /metrics on the MCP port itself when asked for, else off.
                        "--metrics-port", str(port if metrics else 0),
                        "--fixed-now", FIXED_NOW,
                        "--log-format", "text",
                        *agent_args,
                    ],
                    cwd=REPO_ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "NO_COLOR": "1"},
                )
            procs.append(agent)
            # The process must be alive as well as answering: another listener on the same port
            # would otherwise pass for ours.
            readyz = f"http://127.0.0.1:{port}/readyz"
            try:
                _wait_until("gitops-agent", agent, agent_log, lambda: _http_status(readyz) == 200, timeout=90)
                break
            except pytest.fail.Exception:
                if agent.poll() is not None and "Address already in use" in tail(agent_log) and attempt < 2:
                    continue
                raise
        base_url = f"http://127.0.0.1:{port}"
        yield Servers(
            agent_bin=agent_bin,
            kubeconfig=kubeconfig,
            mcp_url=f"{base_url}/mcp",
            workdir=workdir,
            base_url=base_url,
        )
    finally:
        for proc in reversed(procs):
            _stop(proc)


@contextmanager
def another_replica(stack: Servers, workdir: Path, agent_args: list[str]) -> Iterator[tuple[Servers, Process]]:
    """A second agent (plus `agent_args`) on the API server of `stack`, as another pod of one
    Deployment: its endpoints and its process, stopped on exit."""
    port = free_port()
    process = spawn(
        "replica-a",
        [
            str(stack.agent_bin), "serve",
            "--kubeconfig", str(stack.kubeconfig),
            "--bind-address", "127.0.0.1",
            "--port", str(port),
            "--metrics-port", "0",
            "--fixed-now", FIXED_NOW,
            *agent_args,
        ],
        workdir,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        process.wait_until("/readyz", lambda: _http_status(f"{base}/readyz") == 200, timeout=90)
        yield replace(stack, base_url=base, mcp_url=f"{base}/mcp"), process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    # Webhooks on 127.0.0.1 are the push notification tests' receivers.
    with _stack(tmp_path_factory.mktemp("protocol"), [], ["--a2a-push-allow-hosts=127.0.0.1"]) as stack:
        yield stack


@dataclass
class RbacServers:
    """A stack whose API server enforces RBAC and whose agent checks callers (`--auth=kubernetes`,
    mutating tools on), with a token for each ServiceAccount of tests/protocol/rbac.yaml."""

    servers: Servers
    tokens: dict[str, str]


def admin_request(
    kubeconfig: Path, method: str, path: str, body: dict | None, content_type: str = "application/json"
) -> dict:
    """A request to the fake API server as its admin (the kubeconfig's token); the answer's JSON."""
    endpoint = _kubeconfig_endpoint(kubeconfig)
    admin = re.search(r"^\s*token:\s*(\S+)\s*$", kubeconfig.read_text(), re.MULTILINE)
    assert endpoint is not None and admin is not None, "the fake API server's kubeconfig has no URL or token"
    url, context = endpoint
    request = urllib.request.Request(
        f"{url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {admin.group(1)}", "Content-Type": content_type},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return json.load(response)


def _service_account_token(kubeconfig: Path, namespace: str, name: str) -> str:
    """A token for a ServiceAccount (TokenRequest, as `kubectl create token` sends)."""
    token_request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"
    return admin_request(kubeconfig, "POST", path, token_request)["status"]["token"]


@pytest.fixture(scope="session")
def rbac_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RbacServers]:
    rbac = str(REPO_ROOT / "tests/protocol/rbac.yaml")
    with _stack(
        tmp_path_factory.mktemp("protocol-rbac"),
        ["--rbac", "--apply", rbac],
        ["--auth=kubernetes", "--read-only=false", "--a2a-push-allow-hosts=127.0.0.1"],
    ) as stack:
        tokens = {
            name: _service_account_token(stack.kubeconfig, "callers", name) for name in ("viewer", "editor", "limited")
        }
        yield RbacServers(servers=stack, tokens=tokens)


# A cluster of the fleet that never answers (a closed port), for what an agent says about one.
DEAD_CLUSTER_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
  - name: dead
    cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
  - name: dead
    user: {token: not-a-real-token}
contexts:
  - name: dead
    context: {cluster: dead, user: dead}
current-context: dead
"""


@dataclass
class WritableServers:
    """A stack whose agent may change Flux objects (`--read-only=false`, no caller checks), looks
    for CRDs every second, serves /metrics on its MCP port, and has a second cluster in its fleet,
    `dead`, that never answers. `agent_args` start the same agent over stdio."""

    servers: Servers
    agent_args: list[str]


@pytest.fixture(scope="session")
def writable_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WritableServers]:
    workdir = tmp_path_factory.mktemp("protocol-writable")
    clusters = workdir / "clusters"
    clusters.mkdir()
    (clusters / "dead").write_text(DEAD_CLUSTER_KUBECONFIG)
    common = ["--read-only=false", "--discovery-seconds", "1", "--clusters-dir", str(clusters), "--cluster-timeout-seconds", "2"]
    with _stack(workdir, [], common, metrics=True) as stack:
        yield WritableServers(servers=stack, agent_args=common)
