"""MCP beyond tools, through the official MCP Python SDK (PyPI `mcp`) and TypeScript SDK (npm
`@modelcontextprotocol/sdk`, tests/protocol/mcp-js) as clients: resources (list,
templates, read, subscriptions, list changes), prompts, completion, logging, progress and
cancellation, and the confirmation of changes by elicitation.

Every capability is exercised over Streamable HTTP and over stdio, in both protocol eras: 2025
sessions (`Client(mode="legacy")`: initialize, `logging/setLevel`, `resources/subscribe`,
server-to-client `elicitation/create`) and 2026-07-28 stateless requests (`mode="2026-07-28"`:
`_meta` log level, `subscriptions/listen`, `InputRequiredResult` retried with the answer). The
RBAC tests run against the stack whose API server enforces RBAC, as a caller who may not read
HelmReleases in `team-b`.

Stacks (conftest.py): `writable_servers` (changes allowed, a dead second cluster, /metrics on the
MCP port), `rbac_servers` (caller checks). Run with scripts/protocol-tests.sh.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import anyio
import mcp_types as types
import pytest
import jsclient
from conftest import FIXED_NOW, REPO_ROOT, RbacServers, WritableServers, admin_request, tail
from jsclient import JsClient
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

# The SDK warns that logging and resources/subscribe are deprecated by 2026-07-28: the 2025 era is
# what those calls test.
pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")]

ERAS = ["legacy", "2026-07-28"]
TRANSPORTS = ["http", "stdio"]
TEST_TIMEOUT_SECONDS = 60
INVALID_PARAMS = -32602
RESOURCE_NOT_FOUND = -32002

APPS = "flux://local/kustomization/flux-system/apps"
PODINFO = "flux://local/helmrelease/apps/podinfo"
REDIS = "flux://local/helmrelease/team-b/redis"


# --------------------------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------------------------


@asynccontextmanager
async def connect(
    stack: WritableServers | RbacServers | Any,
    transport: str,
    era: str,
    token: str | None = None,
    **options: Any,
) -> AsyncIterator[Client]:
    """A connected SDK client of the stack's agent over `transport` in protocol era `era`: a 2025
    session, or 2026-07-28 found by `server/discover` (the SDK's default mode)."""
    servers = getattr(stack, "servers", stack)
    mode = "legacy" if era == "legacy" else "auto"
    if transport == "stdio":
        params = StdioServerParameters(
            command=str(servers.agent_bin),
            args=[
                "serve", "--transport", "stdio", "--kubeconfig", str(servers.kubeconfig), "--fixed-now", FIXED_NOW,
                *getattr(stack, "agent_args", []),
            ],
            env={"NO_COLOR": "1"},
            cwd=str(REPO_ROOT),
        )
        log = servers.workdir / f"stdio-{era}.log"
        with log.open("a") as errlog:
            try:
                async with Client(stdio_client(params, errlog=errlog), mode=mode, **options) as client:
                    assert client.session.protocol_version == ("2025-11-25" if era == "legacy" else era)
                    yield client
            except BaseException:
                errlog.flush()
                print(f"stdio server stderr:\n{tail(log)}")
                raise
        return
    if token is None:
        server: Any = servers.mcp_url
    else:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        server = streamable_http_client(servers.mcp_url, http_client=http)
    async with Client(server, mode=mode, **options) as client:
        assert client.session.protocol_version == ("2025-11-25" if era == "legacy" else era)
        yield client


class Notifications:
    """Every server notification a client receives, with when it arrived."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, Any]] = []

    async def __call__(self, message: Any) -> None:
        if isinstance(message, types.ServerNotification):
            self.seen.append((time.monotonic(), getattr(message, "root", message)))

    def of(self, method: str, since: float = 0.0) -> list[tuple[float, Any]]:
        return [(t, n) for t, n in self.seen if n.method == method and t >= since]


@asynccontextmanager
async def subscribed(client: Client, era: str, uris: list[str], list_changed: bool = False) -> AsyncIterator[None]:
    """Subscribes to `uris` (and list changes) the way the era does: `resources/subscribe` on a
    2025 session, one `subscriptions/listen` stream in 2026-07-28."""
    if era == "legacy":
        for uri in uris:
            await client.subscribe_resource(uri)
        yield
        return
    async with client.listen(resource_subscriptions=uris, resources_list_changed=list_changed) as sub:
        assert sub.honored is not None and set(sub.honored.resource_subscriptions or []) == set(uris), sub.honored
        async with anyio.create_task_group() as tg:
            # Drain the typed events; the raw notifications are counted by the message handler.
            async def drain() -> None:
                async for _ in sub:
                    pass

            tg.start_soon(drain)
            yield
            tg.cancel_scope.cancel()


# --------------------------------------------------------------------------------------------
# The fake API server, as its admin
# --------------------------------------------------------------------------------------------


def set_status(kubeconfig: Path, plural_path: str, message: str, ready: str = "False") -> None:
    """Writes a Flux object's Ready condition through its status subresource, as a controller does."""
    condition = {
        "type": "Ready", "status": ready, "reason": "TestChange", "message": message,
        "lastTransitionTime": "2026-11-24T10:00:00Z",
    }
    admin_request(kubeconfig, "PATCH", f"{plural_path}/status", {"status": {"conditions": [condition]}},
                  content_type="application/merge-patch+json")


KUSTOMIZATION_APPS = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps"
HELMRELEASE_PODINFO = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo"
HELMRELEASE_REDIS = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/team-b/helmreleases/redis"


def list_requests(kubeconfig: Path, resource: str) -> int:
    stats = admin_request(kubeconfig, "GET", "/fake/stats", None)
    return stats["requests"].get(f"list {resource}", 0)


def agent_metric(servers: Any, name: str, **labels: str) -> float:
    """A sample of the agent's /metrics (0 when absent)."""
    with urllib.request.urlopen(f"{servers.base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("era", ERAS)
async def test_resources_list_templates_and_read(writable_servers: WritableServers, transport: str, era: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with connect(writable_servers, transport, era) as client:
            caps = client.server_capabilities
            assert caps.resources is not None and caps.resources.subscribe and caps.resources.list_changed, caps
            listed = []
            cursor = None
            while True:
                page = await client.list_resources(cursor=cursor) if cursor else await client.list_resources()
                listed.extend(page.resources)
                cursor = page.next_cursor
                if not cursor:
                    break
            templates = (await client.list_resource_templates()).resource_templates
            read = await client.read_resource(REDIS)
            with pytest.raises(MCPError) as missing:
                await client.read_resource("flux://local/helmrelease/team-b/nope")
            with pytest.raises(MCPError) as bad:
                await client.read_resource("flux://local/deployment/team-b/redis")
    uris = [r.uri for r in listed]
    assert uris == sorted(uris), "resources are listed in URI order"
    assert {APPS, PODINFO, REDIS, "flux://local/summary", "flux://dead/summary"} <= set(uris), uris
    redis = next(r for r in listed if r.uri == REDIS)
    assert redis.name == "team-b/redis" and redis.mime_type == "text/markdown", redis
    assert redis.title == "HelmRelease team-b/redis on local", redis
    assert redis.description and redis.description.startswith(("failed", "stalled")), redis.description
    assert [t.uri_template for t in templates] == [
        "flux://{cluster}/kustomization/{namespace}/{name}",
        "flux://{cluster}/helmrelease/{namespace}/{name}",
        "flux://{cluster}/gitrepository/{namespace}/{name}",
        "flux://{cluster}/ocirepository/{namespace}/{name}",
        "flux://{cluster}/helmrepository/{namespace}/{name}",
        "flux://{cluster}/helmchart/{namespace}/{name}",
        "flux://{cluster}/bucket/{namespace}/{name}",
        "flux://{cluster}/summary",
    ]
    # The same markdown as the get_helmrelease tool, and its JSON.
    markdown, data = read.contents
    assert markdown.mime_type == "text/markdown" and markdown.uri == REDIS
    assert markdown.text.startswith("## HelmRelease `team-b/redis`"), markdown.text
    assert data.mime_type == "application/json"
    detail = json.loads(data.text)
    assert (detail["namespace"], detail["name"], detail["kind"]) == ("team-b", "redis", "HelmRelease"), detail
    assert detail["state"] in ("failed", "stalled"), detail
    code = RESOURCE_NOT_FOUND if era == "legacy" else INVALID_PARAMS
    assert missing.value.error.code == code, missing.value.error
    assert missing.value.error.data == {"uri": "flux://local/helmrelease/team-b/nope"}, missing.value.error
    assert "not found" in missing.value.error.message
    assert bad.value.error.code == INVALID_PARAMS, bad.value.error
    assert '"deployment" is not a Flux kind' in bad.value.error.message, bad.value.error


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("era", ERAS)
async def test_a_status_change_is_one_update_and_a_resync_none(
    writable_servers: WritableServers, transport: str, era: str
) -> None:
    kubeconfig = writable_servers.servers.kubeconfig
    seen = Notifications()
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with connect(writable_servers, transport, era, message_handler=seen) as client:
            async with subscribed(client, era, [APPS]):
                changed = time.monotonic()
                set_status(kubeconfig, KUSTOMIZATION_APPS, f"changed by {transport} {era} at {changed}")
                with anyio.move_on_after(2.0):
                    while not seen.of("notifications/resources/updated", changed):
                        await anyio.sleep(0.02)
                await anyio.sleep(1.0)  # anything else the change caused would arrive by now
                updates = seen.of("notifications/resources/updated", changed)
                assert [n.params.uri for _, n in updates] == [APPS], updates
                assert updates[0][0] - changed < 2.0, f"notified after {updates[0][0] - changed:.2f} s"
                # A resync: every watch is cut and relists (410 Gone), finding what it held.
                lists = list_requests(kubeconfig, "kustomizations.kustomize.toolkit.fluxcd.io")
                admin_request(kubeconfig, "PUT", "/fake/faults", {"dropWatchesAfterMs": 600000, "goneWatches": 100})
                try:
                    resync = time.monotonic()
                    while list_requests(kubeconfig, "kustomizations.kustomize.toolkit.fluxcd.io") <= lists:
                        assert time.monotonic() - resync < 20, "the agent did not relist"
                        await anyio.sleep(0.1)
                    await anyio.sleep(1.5)
                finally:
                    admin_request(kubeconfig, "PUT", "/fake/faults", {})
                assert seen.of("notifications/resources/updated", resync) == [], "a resync with no change notifies nobody"


@pytest.mark.parametrize("era", ERAS)
async def test_list_changed_when_a_flux_crd_goes_and_comes_back(writable_servers: WritableServers, era: str) -> None:
    kubeconfig = writable_servers.servers.kubeconfig
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/buckets.source.toolkit.fluxcd.io"
    crd = admin_request(kubeconfig, "GET", crd_path, None)
    for field in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        crd["metadata"].pop(field, None)
    crd.pop("status", None)
    # Deleting a CRD deletes its objects: they are put back with the CRD.
    buckets = admin_request(kubeconfig, "GET", "/apis/source.toolkit.fluxcd.io/v1/buckets", None)["items"]
    assert buckets, "the fixtures have a Bucket"
    seen = Notifications()
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with connect(writable_servers, "http", era, message_handler=seen) as client:
            async with subscribed(client, era, [APPS], list_changed=True):
                before = {r.uri for r in (await client.list_resources()).resources}
                assert any("/bucket/" in u for u in before), before
                gone = time.monotonic()
                admin_request(kubeconfig, "DELETE", crd_path, None)
                try:
                    while not seen.of("notifications/resources/list_changed", gone):
                        assert time.monotonic() - gone < 10, "no list_changed after the Bucket CRD went"
                        await anyio.sleep(0.05)
                    after = {r.uri for r in (await client.list_resources()).resources}
                    assert not any("/bucket/" in u for u in after), after
                finally:
                    back = time.monotonic()
                    restore_crd(kubeconfig, crd, buckets)
                while not seen.of("notifications/resources/list_changed", back):
                    assert time.monotonic() - back < 10, "no list_changed after the Bucket CRD came back"
                    await anyio.sleep(0.05)
                while not any("/bucket/" in r.uri for r in (await client.list_resources()).resources):
                    assert time.monotonic() - back < 10, "the Bucket did not come back as a resource"
                    await anyio.sleep(0.1)


def restore_crd(kubeconfig: Path, crd: dict, objects: list[dict]) -> None:
    """Creates a CRD again, then its objects with their status."""
    admin_request(kubeconfig, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    plural = crd["spec"]["names"]["plural"]
    version = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
    base = f"/apis/{crd['spec']['group']}/{version}/namespaces"
    deadline = time.monotonic() + 10
    for obj in objects:
        ns, name, status = obj["metadata"]["namespace"], obj["metadata"]["name"], obj.get("status")
        fresh = {k: v for k, v in obj.items() if k != "status"}
        fresh["metadata"] = {k: obj["metadata"][k] for k in ("name", "namespace", "labels", "annotations") if k in obj["metadata"]}
        while True:  # the new CRD is served a moment after it is created
            try:
                admin_request(kubeconfig, "POST", f"{base}/{ns}/{plural}", fresh)
                break
            except urllib.error.HTTPError:
                assert time.monotonic() < deadline, f"{plural} are not served again"
                time.sleep(0.1)
        if status:
            admin_request(kubeconfig, "PATCH", f"{base}/{ns}/{plural}/{name}/status", {"status": status},
                          content_type="application/merge-patch+json")


# --------------------------------------------------------------------------------------------
# Prompts and completion
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("era", ERAS)
async def test_prompts_gather_the_live_state(writable_servers: WritableServers, transport: str, era: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with connect(writable_servers, transport, era) as client:
            prompts = (await client.list_prompts()).prompts
            diagnose = await client.get_prompt(
                "diagnose_flux_object", {"kind": "HelmRelease", "namespace": "team-b", "name": "redis"}
            )
            triage = await client.get_prompt("triage_fleet", {"max_clusters": "2"})
            explain = await client.get_prompt("explain_workload", {"kind": "Deployment", "namespace": "team-b", "name": "api"})
            review = await client.get_prompt("review_reconcile", {"kind": "Kustomization", "namespace": "flux-system", "name": "apps"})
            with pytest.raises(MCPError) as missing_arg:
                await client.get_prompt("diagnose_flux_object", {"kind": "HelmRelease", "namespace": "team-b"})
            with pytest.raises(MCPError) as bad_kind:
                await client.get_prompt("diagnose_flux_object", {"kind": "Deployment", "namespace": "team-b", "name": "x"})
            with pytest.raises(MCPError) as unknown:
                await client.get_prompt("make_coffee", {})
            with pytest.raises(MCPError) as absent:
                await client.get_prompt("diagnose_flux_object", {"kind": "HelmRelease", "namespace": "team-b", "name": "nope"})
    assert [p.name for p in prompts] == ["diagnose_flux_object", "triage_fleet", "explain_workload", "review_reconcile"]
    for p in prompts:
        assert p.description and p.title, p
        for a in p.arguments or []:
            assert a.description, (p.name, a)
    args = {a.name: a.required for a in prompts[0].arguments or []}
    assert args == {"kind": True, "namespace": True, "name": True, "cluster": False}, args
    # The object itself, embedded as its resource; the agent's diagnosis with events; its source; its inventory.
    kinds = [m.content.type for m in diagnose.messages]
    assert all(m.role == "user" for m in diagnose.messages)
    embedded = [m.content.resource for m in diagnose.messages if m.content.type == "resource"]
    assert embedded[0].uri == REDIS and embedded[0].text.startswith("## HelmRelease `team-b/redis`"), embedded[0]
    assert any(r.uri.startswith("flux://local/helmrepository/") for r in embedded), [r.uri for r in embedded]
    text = "\n".join(m.content.text for m in diagnose.messages if m.content.type == "text")
    assert "### The agent's diagnosis, with recent events" in text and "### What it manages (inventory)" in text, kinds
    assert "root cause" in text.lower()
    assert diagnose.description == "Diagnose the Flux HelmRelease `team-b/redis` on cluster `local`"
    triage_text = json.dumps([m.model_dump(mode="json") for m in triage.messages])
    assert "Fleet health" in triage_text and "dead" in triage_text, triage_text[:500]
    explain_text = json.dumps([m.model_dump(mode="json") for m in explain.messages])
    assert "Trace of Deployment" in explain_text, explain_text[:500]
    assert any(m.content.type == "resource" for m in explain.messages), "the managing Kustomization, embedded"
    review_text = review.messages[0].content.text
    assert "Applied revision:" in review_text and "reconcile" in review_text, review_text
    for err, words in (
        (missing_arg, "`name`"),
        (bad_kind, "not a Flux kind"),
        (unknown, "unknown prompt"),
        (absent, "not found"),
    ):
        assert err.value.error.code == INVALID_PARAMS, err.value.error
        assert words in err.value.error.message, err.value.error


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("era", ERAS)
async def test_completion_from_the_cache(writable_servers: WritableServers, transport: str, era: str) -> None:
    prompt = types.PromptReference(type="ref/prompt", name="diagnose_flux_object")
    template = types.ResourceTemplateReference(type="ref/resource", uri="flux://{cluster}/helmrelease/{namespace}/{name}")
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with connect(writable_servers, transport, era) as client:
            kinds = await client.complete(prompt, {"name": "kind", "value": "helm"})
            namespaces = await client.complete(template, {"name": "namespace", "value": ""})
            names = await client.complete(prompt, {"name": "name", "value": "r"}, context_arguments={"kind": "HelmRelease", "namespace": "team-b"})
            clusters = await client.complete(template, {"name": "cluster", "value": ""})
            workloads = await client.complete(
                types.PromptReference(type="ref/prompt", name="explain_workload"),
                {"name": "name", "value": ""},
                context_arguments={"kind": "Deployment", "namespace": "team-b"},
            )
            with pytest.raises(MCPError) as unknown_arg:
                await client.complete(prompt, {"name": "colour", "value": ""})
    assert kinds.completion.values == ["HelmChart", "HelmRelease", "HelmRepository"], kinds.completion
    assert namespaces.completion.values == ["apps", "infra", "monitoring", "team-b"], namespaces.completion
    assert namespaces.completion.total == 4 and namespaces.completion.has_more is False
    assert names.completion.values == ["redis"], names.completion
    assert clusters.completion.values == ["dead", "local"], clusters.completion
    assert "api" in workloads.completion.values, workloads.completion
    assert unknown_arg.value.error.code == INVALID_PARAMS and "colour" in unknown_arg.value.error.message


# --------------------------------------------------------------------------------------------
# Logging, progress, cancellation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("era", ERAS)
async def test_log_messages_only_at_the_level_asked_for(writable_servers: WritableServers, transport: str, era: str) -> None:
    async def fleet_messages(level: str | None) -> list[Any]:
        messages: list[Any] = []

        async def on_log(params: types.LoggingMessageNotificationParams) -> None:
            messages.append(params)

        modern_level = {"log_level": level} if era != "legacy" and level else {}
        async with connect(writable_servers, transport, era, logging_callback=on_log, **modern_level) as client:
            if era == "legacy" and level:
                await client.set_logging_level(level)
            result = await client.call_tool("fleet_health_summary", {})
            assert result.is_error is not True
            await anyio.sleep(0.3)  # a 2025 session's messages travel on its GET stream
        return messages

    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        quiet = await fleet_messages(None)
        told = await fleet_messages("warning")
        above = await fleet_messages("error")
    assert quiet == [], "no messages without the client asking for them"
    assert above == [], "a warning is below the level error"
    assert len(told) == 1, told
    assert told[0].level == "warning" and told[0].logger == "fleet_health_summary", told[0]
    assert "cluster dead:" in told[0].data, told[0].data


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("era", ERAS)
async def test_progress_of_long_calls(writable_servers: WritableServers, transport: str, era: str) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with connect(writable_servers, transport, era) as client:
            listed = await client.call_tool("list_kustomizations", {}, progress_callback=on_progress)
            assert listed.is_error is not True
            listed_updates = list(updates)
            updates.clear()
            await client.call_tool("fleet_health_summary", {}, progress_callback=on_progress)
            fleet_updates = list(updates)
            updates.clear()
    assert [(p, t) for p, t, _ in listed_updates] == [(1.0, 3.0), (2.0, 3.0), (3.0, 3.0)], listed_updates
    assert listed_updates[0][2] == "read 9 Kustomization objects", listed_updates
    assert [(p, t) for p, t, _ in fleet_updates] == [(1.0, 2.0), (2.0, 2.0)], fleet_updates
    assert {m for _, _, m in fleet_updates} == {"cluster local answered", "cluster dead answered"}, fleet_updates


@pytest.mark.parametrize("era", ERAS)
async def test_a_cancelled_call_stops(writable_servers: WritableServers, era: str) -> None:
    servers = writable_servers.servers
    before = agent_metric(servers, "tool_calls_total", tool="get_events", status="cancelled")
    # Every API request now takes 20 s: get_events (which reads the API, not the cache) hangs.
    admin_request(servers.kubeconfig, "PUT", "/fake/faults", {"latencyMs": 20000})
    try:
        with anyio.fail_after(TEST_TIMEOUT_SECONDS):
            async with connect(writable_servers, "http", era) as client:
                with anyio.move_on_after(1.0) as scope:
                    await client.call_tool("get_events", {"namespace": "team-b"})
                assert scope.cancelled_caught, "the call should still be waiting on the API"
                cancelled = time.monotonic()
                while agent_metric(servers, "tool_calls_total", tool="get_events", status="cancelled") <= before:
                    assert time.monotonic() - cancelled < 5, "the agent did not stop the cancelled call"
                    await anyio.sleep(0.1)
    finally:
        admin_request(servers.kubeconfig, "PUT", "/fake/faults", {})


# --------------------------------------------------------------------------------------------
# Elicitation before a change
# --------------------------------------------------------------------------------------------


def suspended(kubeconfig: Path, path: str) -> bool:
    return bool(admin_request(kubeconfig, "GET", path, None).get("spec", {}).get("suspend", False))


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("era", ERAS)
async def test_changes_are_confirmed_through_elicitation(
    writable_servers: WritableServers, transport: str, era: str
) -> None:
    kubeconfig = writable_servers.servers.kubeconfig
    asked: list[types.ElicitRequestParams] = []
    answer = {"action": "accept"}

    async def on_elicit(_context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params)
        if answer["action"] == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action=answer["action"])

    target = {"kind": "HelmRelease", "namespace": "apps", "name": "podinfo"}
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with connect(writable_servers, transport, era, elicitation_callback=on_elicit) as client:
            done = await client.call_tool("suspend", target)
            assert done.is_error is not True, done
            assert suspended(kubeconfig, HELMRELEASE_PODINFO)
            answer["action"] = "decline"
            refused = await client.call_tool("resume", target)
            assert refused.is_error is True, refused
            assert refused.content[0].text == (
                "Resume HelmRelease `apps/podinfo` on cluster `local`: not done, the user declined it"
            ), refused.content[0].text
            assert suspended(kubeconfig, HELMRELEASE_PODINFO), "a declined change is not made"
            answer["action"] = "accept"
            resumed = await client.call_tool("resume", target)
            assert resumed.is_error is not True, resumed
            assert not suspended(kubeconfig, HELMRELEASE_PODINFO)
    assert len(asked) == 3, asked
    first = asked[0]
    assert first.message.startswith("Suspend HelmRelease `apps/podinfo` on cluster `local`?"), first.message
    assert "spec.suspend: true" in first.message and "--auth=none" in first.message, first.message
    schema = first.requested_schema
    schema = schema if isinstance(schema, dict) else schema.model_dump(mode="json", by_alias=True)
    assert schema["properties"]["confirm"]["type"] == "boolean", schema


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("era", ERAS)
async def test_clients_without_elicitation_change_at_once(
    writable_servers: WritableServers, transport: str, era: str
) -> None:
    kubeconfig = writable_servers.servers.kubeconfig
    target = {"kind": "Kustomization", "namespace": "flux-system", "name": "monitoring"}
    path = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/monitoring"
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with connect(writable_servers, transport, era) as client:
            assert (await client.call_tool("suspend", target)).is_error is not True
            assert suspended(kubeconfig, path)
            assert (await client.call_tool("resume", target)).is_error is not True
            assert not suspended(kubeconfig, path)


# --------------------------------------------------------------------------------------------
# Caller scoping (RBAC)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_a_caller_sees_reads_completes_and_hears_only_what_rbac_allows(rbac_servers: RbacServers, era: str) -> None:
    stack = rbac_servers.servers
    token = rbac_servers.tokens["limited"]
    template = types.ResourceTemplateReference(type="ref/resource", uri="flux://{cluster}/helmrelease/{namespace}/{name}")
    seen = Notifications()
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with connect(stack, "http", era, token=token, message_handler=seen) as client:
            uris = {r.uri for r in (await client.list_resources()).resources}
            assert PODINFO in uris and APPS in uris, uris
            assert REDIS not in uris and "flux://local/helmrelease/infra/cert-manager" not in uris, uris
            assert (await client.read_resource(PODINFO)).contents[0].text.startswith("## HelmRelease `apps/podinfo`")
            with pytest.raises(MCPError) as refused:
                await client.read_resource(REDIS)
            assert "may not get helmreleases" in refused.value.error.message, refused.value.error
            namespaces = await client.complete(template, {"name": "namespace", "value": ""})
            assert namespaces.completion.values == ["apps", "monitoring"], namespaces.completion
            names = await client.complete(template, {"name": "name", "value": ""}, context_arguments={"namespace": "team-b"})
            assert names.completion.values == [], names.completion
            with pytest.raises(MCPError) as prompt_refused:
                await client.get_prompt("diagnose_flux_object", {"kind": "HelmRelease", "namespace": "team-b", "name": "redis"})
            assert prompt_refused.value.error.code == INVALID_PARAMS, prompt_refused.value.error
            if era == "legacy":
                with pytest.raises(MCPError) as subscribe_refused:
                    await client.subscribe_resource(REDIS)
                assert "may not get helmreleases" in subscribe_refused.value.error.message
                watched = [PODINFO]
            else:
                # The stream accepts any URI of the agent; what the caller may not read is never sent.
                watched = [PODINFO, REDIS]
            async with subscribed(client, era, watched):
                changed = time.monotonic()
                set_status(stack.kubeconfig, HELMRELEASE_REDIS, f"rbac {era} {changed}")
                set_status(stack.kubeconfig, HELMRELEASE_PODINFO, f"rbac {era} {changed}")
                await anyio.sleep(2.0)
    updated = [n.params.uri for _, n in seen.of("notifications/resources/updated", changed)]
    assert updated == [PODINFO], updated


@pytest.mark.parametrize("era", ERAS)
async def test_the_confirmation_names_the_caller(rbac_servers: RbacServers, era: str) -> None:
    asked: list[str] = []

    async def on_elicit(_context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="cancel")

    target = {"kind": "Kustomization", "namespace": "flux-system", "name": "apps"}
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with connect(rbac_servers.servers, "http", era, token=rbac_servers.tokens["editor"], elicitation_callback=on_elicit) as client:
            result = await client.call_tool("reconcile", target)
    assert result.is_error is True and "not done, the user dismissed the question" in result.content[0].text, result
    assert len(asked) == 1 and "Requested by system:serviceaccount:callers:editor." in asked[0], asked


# --------------------------------------------------------------------------------------------
# The TypeScript SDK (@modelcontextprotocol/sdk), 2025 sessions
# --------------------------------------------------------------------------------------------

MCP_JS = JsClient(
    directory="mcp-js",
    files=("package.json", "package-lock.json", "capabilities-test.mjs"),
    package="@modelcontextprotocol/sdk",
    success="all MCP JS SDK checks passed",
)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_js_sdk_capabilities(writable_servers: WritableServers, transport: str) -> None:
    servers = writable_servers.servers
    if transport == "http":
        jsclient.run(MCP_JS, "capabilities-test.mjs", "http", servers.mcp_url)
    else:
        jsclient.run(
            MCP_JS,
            "capabilities-test.mjs",
            "stdio",
            str(servers.agent_bin),
            "serve", "--transport", "stdio", "--kubeconfig", str(servers.kubeconfig), "--fixed-now", FIXED_NOW,
            *writable_servers.agent_args,
        )
