"""Protocol tests: a 2026-07-28 confirmation of a change that starts on one agent replica and is
answered on another, as it is behind a Service that spreads a client's requests over the pods.

The client's retry carries the sealed `requestState` the first replica gave. The other replica
accepts it only when both read the same key from `GITOPS_AGENT_REQUEST_STATE_KEY`, the variable
the operator and the chart fill from `confirmationKeySecretRef`. Raw HTTP, because an SDK
retries on the connection it asked on.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import _stack, admin_request, another_replica

VERSION = "2026-07-28"
KEY_VARIABLE = "GITOPS_AGENT_REQUEST_STATE_KEY"
TARGET = {"kind": "HelmRelease", "namespace": "apps", "name": "podinfo"}
TARGET_PATH = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo"
INVALID_PARAMS = -32602


@dataclasses.dataclass
class Replicas:
    a: str
    b: str
    kubeconfig: Path


@pytest.fixture(params=["shared key", "a key each"])
def replicas(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Replicas]:
    key = secrets.token_urlsafe(32)
    if request.param == "shared key":
        monkeypatch.setenv(KEY_VARIABLE, key)
    else:
        monkeypatch.delenv(KEY_VARIABLE, raising=False)
    writable = ["--read-only=false"]
    with _stack(tmp_path, [], writable) as b, another_replica(b, tmp_path, writable) as (a, _):
        yield Replicas(a=a.mcp_url, b=b.mcp_url, kubeconfig=b.kubeconfig)


def call_tool(url: str, name: str, arguments: dict, elicitation: bool, **retry: Any) -> dict:
    """One stateless 2026-07-28 `tools/call`; the JSON-RPC response, from JSON or an event stream."""
    capabilities = {"elicitation": {"form": {}}} if elicitation else {}
    params = {
        "name": name,
        "arguments": arguments,
        "_meta": {"io.modelcontextprotocol/protocolVersion": VERSION, "io.modelcontextprotocol/clientCapabilities": capabilities},
        **retry,
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": VERSION,
        "mcp-method": "tools/call",
        "mcp-name": name,
    }
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        if "text/event-stream" not in response.headers.get("content-type", ""):
            return json.loads(text)
    messages = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and line[5:].strip()]
    (answer,) = [m for m in messages if m.get("id") == 1]
    return answer


def suspended(kubeconfig: Path) -> bool:
    return bool(admin_request(kubeconfig, "GET", TARGET_PATH, None).get("spec", {}).get("suspend", False))


def test_a_confirmation_asked_on_one_replica_is_answered_on_the_other(replicas: Replicas, request: pytest.FixtureRequest) -> None:
    shared = request.node.callspec.params["replicas"] == "shared key"
    assert not suspended(replicas.kubeconfig), "the fixture's HelmRelease is not suspended"
    asked = call_tool(replicas.a, "suspend", TARGET, elicitation=True)
    result = asked["result"]
    assert result["resultType"] == "input_required", asked
    assert "confirm" in result["inputRequests"], result
    assert not suspended(replicas.kubeconfig), "nothing changes before the answer"
    answer = {"inputResponses": {"confirm": {"action": "accept", "content": {"confirm": True}}}, "requestState": result["requestState"]}
    retried = call_tool(replicas.b, "suspend", TARGET, elicitation=True, **answer)
    try:
        if shared:
            assert "error" not in retried and retried["result"].get("isError") is not True, retried
            assert suspended(replicas.kubeconfig), "the other replica made the change"
        else:
            assert retried.get("error", {}).get("code") == INVALID_PARAMS, retried
            assert not suspended(replicas.kubeconfig), "a state the replica cannot verify changes nothing"
            # The same answer on the replica that asked is accepted: only the key differs.
            again = call_tool(replicas.a, "suspend", TARGET, elicitation=True, **answer)
            assert "error" not in again and again["result"].get("isError") is not True, again
            assert suspended(replicas.kubeconfig)
    finally:
        call_tool(replicas.b, "resume", TARGET, elicitation=False)
    assert not suspended(replicas.kubeconfig)
