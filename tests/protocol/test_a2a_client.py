"""Protocol tests: the official A2A SDKs as real clients of gitops-agent's A2A server.

* Python: PyPI `a2a-sdk` (`ClientFactory` + `ClientConfig` from `a2a.client`). Most tests run
  twice, over the JSON-RPC binding (`POST /`) and over HTTP+JSON (`/message:send`, `/tasks/...`,
  chosen with `supported_protocol_bindings=['HTTP+JSON']`); a few use the SDK's A2A 0.3
  compatibility transport (`message/send`, `tasks/get`, ... with `A2A-Version: 0.3`).
* JavaScript: npm `@a2a-js/sdk`, through tests/protocol/a2a-js/client-test.mjs. Its pinned
  dependencies are installed with `npm ci` into target/a2a-js (outside the source tree) and it runs
  on the Node that scripts/node.sh finds or installs (Node >= 20; the test fails without one).

Every client talks to the one agent of conftest.py's session fixture, serving examples/fixtures,
except the extended agent card tests: they need callers who differ, so they use the
`rbac_servers` stack (RBAC enforced, `--auth=kubernetes`) with a viewer's and an editor's token,
through the Python SDK and tests/protocol/a2a-js/extended-card-test.mjs.
The Python tests also check what the SDK sent (an httpx event hook records the requests: JSON-RPC
method or HTTP+JSON path, and A2A-Version), so a client that silently fell back to another binding
or protocol version would fail. Run with scripts/protocol-tests.sh.
"""

from __future__ import annotations

import json
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import anyio
import httpx
import pytest
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.helpers import get_data_parts, get_text_parts, new_data_part, new_text_part
from a2a.types import (
    AgentCard,
    Artifact,
    CancelTaskRequest,
    GetExtendedAgentCardRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
    TaskNotCancelableError,
    TaskNotFoundError,
    TaskState,
    UnsupportedOperationError,
)
import jsclient
from conftest import RbacServers, Servers
from jsclient import JsClient
from google.protobuf.json_format import MessageToDict

# Upper bound for any one test's A2A exchanges, so that a hung server fails the test.
TEST_TIMEOUT_SECONDS = 60
# The JavaScript client: installing its packages, and running all its checks.

JSONRPC = "JSONRPC"
HTTP_JSON = "HTTP+JSON"
MUTATING_SKILLS = {"reconcile", "suspend", "resume"}

# The question both as an explicit skill call (a data part) and in words, and what the fixture
# cluster answers: the failing Kustomizations of flux-system.
SKILL_REQUEST = {
    "skill": "list-kustomizations",
    "arguments": {"namespace": "flux-system", "status_filter": "failed"},
}
QUESTION = "which kustomizations are failing in flux-system?"
FAILING_KUSTOMIZATIONS = ["team-a-apps", "team-b-apps", "team-b-dashboards"]
KUSTOMIZATIONS_IN_FLUX_SYSTEM = 9
# A question that names a skill but not its required arguments: the task waits for input, and a
# follow-up on the task supplies them. The fixture log of this pod has password=hunter2.
VAGUE_QUESTION = "show me the logs"
LOG_ARGUMENTS = {"pod_name": "api-7c9d8f6b5-qwz8r", "namespace": "team-b"}

pytestmark = pytest.mark.anyio


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@dataclass
class Sent:
    """One HTTP request the SDK made."""

    method: str
    path: str
    a2a_version: str | None
    # The JSON-RPC method, for JSON-RPC requests.
    rpc: str | None = None


@dataclass
class Wire:
    requests: list[Sent] = field(default_factory=list)

    def calls(self) -> list[str]:
        """`SendMessage` for JSON-RPC, `POST /message:send` for HTTP+JSON; card fetches left out."""
        return [r.rpc or f"{r.method} {r.path}" for r in self.requests if "/.well-known/" not in r.path]


def _recorder(wire: Wire):
    async def record(request: httpx.Request) -> None:
        rpc = None
        if request.method == "POST" and request.content:
            try:
                body = json.loads(request.content)
            except ValueError:
                body = None
            if isinstance(body, dict) and body.get("jsonrpc") == "2.0":
                rpc = body.get("method")
        wire.requests.append(Sent(request.method, request.url.path, request.headers.get("A2A-Version"), rpc))

    return record


@asynccontextmanager
async def a2a_client(
    servers: Servers,
    binding: str = JSONRPC,
    *,
    streaming: bool = True,
    card: AgentCard | None = None,
    card_path: str | None = None,
    token: str | None = None,
) -> AsyncIterator[tuple[Client, Wire]]:
    """An SDK client for the agent (from its served card, `card_path`, or a given `card`),
    sending `token` as its bearer token, and the record of what it sends."""
    wire = Wire()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        timeout=TEST_TIMEOUT_SECONDS, headers=headers, event_hooks={"request": [_recorder(wire)]}
    ) as http:
        config = ClientConfig(streaming=streaming, supported_protocol_bindings=[binding], httpx_client=http)
        factory = ClientFactory(config)
        if card is not None:
            client = factory.create(card)
        else:
            client = await factory.create_from_url(servers.base_url, relative_card_path=card_path)
        try:
            yield client, wire
        finally:
            await client.close()


def user_message(part: Part, context_id: str | None = None) -> Message:
    return Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[part], context_id=context_id)


def skill_message(context_id: str | None = None) -> Message:
    return user_message(new_data_part(SKILL_REQUEST), context_id)


async def collect(client: Client, message: Message) -> list[StreamResponse]:
    return [event async for event in client.send_message(SendMessageRequest(message=message))]


def kinds(events: list[StreamResponse]) -> list[str]:
    return [event.WhichOneof("payload") or "(empty)" for event in events]


def state(task_or_event: Any) -> str:
    return TaskState.Name(task_or_event.status.state)


async def completed_task(client: Client, message: Message) -> Task:
    """Sends with a client made with streaming=False: the one answer is the finished task."""
    events = await collect(client, message)
    assert kinds(events) == ["task"], events
    task = events[0].task
    assert state(task) == "TASK_STATE_COMPLETED", task.status
    return task


def check_answer(artifact: Artifact, *, media_types: bool = True) -> dict[str, Any]:
    """The answer artifact: the tool's markdown and its structured data. Returns the data."""
    texts = get_text_parts(artifact.parts)
    data = get_data_parts(artifact.parts)
    assert len(texts) == 1 and len(data) == 1, artifact
    markdown, answer = texts[0], data[0]
    if media_types:  # 1.0 parts carry a media type; 0.3 text and data parts have none
        assert [p.media_type for p in artifact.parts] == ["text/markdown", "application/json"], artifact
    assert markdown.lstrip().startswith("#") and "\n|---" in markdown, markdown
    for name in FAILING_KUSTOMIZATIONS:
        assert name in markdown, markdown
    assert sorted(item["name"] for item in answer["items"]) == FAILING_KUSTOMIZATIONS, answer
    assert {item["state"] for item in answer["items"]} == {"failed"}, answer
    assert answer["namespace"] == "flux-system"
    assert answer["statusFilter"] == "failed"
    # google.protobuf.Value holds numbers as doubles: 3.0 == 3.
    assert answer["page"]["total"] == len(FAILING_KUSTOMIZATIONS), answer["page"]
    assert answer["summary"]["failed"] == len(FAILING_KUSTOMIZATIONS), answer["summary"]
    assert answer["summary"]["total"] == KUSTOMIZATIONS_IN_FLUX_SYSTEM, answer["summary"]
    return answer


def expected_call(binding: str, op: str, task_id: str = "") -> str:
    """The request an operation makes on each binding."""
    jsonrpc = {
        "send": "SendMessage",
        "stream": "SendStreamingMessage",
        "get": "GetTask",
        "cancel": "CancelTask",
        "list": "ListTasks",
        "subscribe": "SubscribeToTask",
    }
    rest = {
        "send": "POST /message:send",
        "stream": "POST /message:stream",
        "get": f"GET /tasks/{task_id}",
        "cancel": f"POST /tasks/{task_id}:cancel",
        "list": "GET /tasks",
        "subscribe": f"POST /tasks/{task_id}:subscribe",
    }
    return (jsonrpc if binding == JSONRPC else rest)[op]


def check_wire(wire: Wire, binding: str, *ops: tuple[str, str]) -> None:
    """The operations (op, task id) were made, in this order, on `binding` with A2A 1.0."""
    expected = [expected_call(binding, op, task_id) for op, task_id in ops]
    assert wire.calls() == expected, wire.requests
    for sent in wire.requests:
        assert sent.a2a_version == "1.0", sent
        if binding == JSONRPC and sent.rpc:
            assert (sent.method, sent.path) == ("POST", "/"), sent


@pytest.fixture(params=[JSONRPC, HTTP_JSON])
def binding(request: pytest.FixtureRequest) -> str:
    return request.param


# --------------------------------------------------------------------------------------------
# A2A 1.0, JSON-RPC and HTTP+JSON
# --------------------------------------------------------------------------------------------


async def test_agent_card(servers: Servers, binding: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding) as (client, wire):
            # Without capabilities.extendedAgentCard this is the card create_from_url resolved.
            card = await client.get_extended_agent_card(GetExtendedAgentCardRequest())
    assert [(r.method, r.path) for r in wire.requests] == [("GET", "/.well-known/agent-card.json")], wire.requests
    check_wire(wire, binding)
    assert card.name == "gitops-agent"
    assert card.capabilities.streaming is True
    assert card.capabilities.push_notifications is True
    assert card.capabilities.extended_agent_card is False
    skills = [skill.id for skill in card.skills]
    assert {"get-gitops-status", "list-kustomizations", "get-pod-logs"} <= set(skills), skills
    assert len(set(skills)) == len(skills), f"duplicate skill ids: {skills}"
    # Read-only is the default: the mutating skills are not offered.
    assert not MUTATING_SKILLS & set(skills), skills
    for skill in card.skills:
        assert skill.name and skill.description, skill
    interfaces = {(i.protocol_binding, i.protocol_version, i.url) for i in card.supported_interfaces}
    assert (JSONRPC, "1.0", servers.base_url) in interfaces, interfaces
    assert (HTTP_JSON, "1.0", servers.base_url) in interfaces, interfaces


async def test_send_message(servers: Servers, binding: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding, streaming=False) as (client, wire):
            task = await completed_task(client, skill_message())
    check_wire(wire, binding, ("send", ""))
    assert task.id and task.context_id
    assert len(task.artifacts) == 1, task.artifacts
    check_answer(task.artifacts[0])
    assert MessageToDict(task.metadata).get("skill") == "list-kustomizations", task.metadata


async def test_send_message_streaming(servers: Servers, binding: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding, streaming=True) as (client, wire):
            events = await collect(client, skill_message())
    check_wire(wire, binding, ("stream", ""))
    assert kinds(events) == ["task", "status_update", "artifact_update", "status_update"], events
    task, working, artifact, completed = events
    task_id = task.task.id
    assert task_id and task.task.context_id
    assert state(task.task) in {"TASK_STATE_SUBMITTED", "TASK_STATE_WORKING"}, task.task.status
    assert state(working.status_update) == "TASK_STATE_WORKING", working
    assert state(completed.status_update) == "TASK_STATE_COMPLETED", completed
    for update in (working.status_update, artifact.artifact_update, completed.status_update):
        assert (update.task_id, update.context_id) == (task_id, task.task.context_id), update
    check_answer(artifact.artifact_update.artifact)


async def test_get_task(servers: Servers, binding: str) -> None:
    message = skill_message()
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding, streaming=True) as (client, wire):
            events = await collect(client, message)
            task_id = events[0].task.id
            task = await client.get_task(GetTaskRequest(id=task_id))
    check_wire(wire, binding, ("stream", ""), ("get", task_id))
    assert task.id == task_id
    assert state(task) == "TASK_STATE_COMPLETED", task.status
    assert len(task.artifacts) == 1, task.artifacts
    check_answer(task.artifacts[0])
    # The history holds the user's message.
    assert message.message_id in [m.message_id for m in task.history], task.history


async def test_cancel_completed_task_is_not_cancelable(servers: Servers, binding: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding, streaming=False) as (client, wire):
            task = await completed_task(client, skill_message())
            with pytest.raises(TaskNotCancelableError) as raised:
                await client.cancel_task(CancelTaskRequest(id=task.id))
            after = await client.get_task(GetTaskRequest(id=task.id))
    check_wire(wire, binding, ("send", ""), ("cancel", task.id), ("get", task.id))
    assert task.id in raised.value.message, raised.value
    assert state(after) == "TASK_STATE_COMPLETED", after.status


async def test_get_unknown_task_is_not_found(servers: Servers, binding: str) -> None:
    unknown = f"no-such-task-{uuid.uuid4()}"
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding) as (client, wire):
            with pytest.raises(TaskNotFoundError) as raised:
                await client.get_task(GetTaskRequest(id=unknown))
    check_wire(wire, binding, ("get", unknown))
    assert unknown in raised.value.message, raised.value


async def test_text_question_routes_to_the_skill(servers: Servers, binding: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding, streaming=False) as (client, wire):
            asked = await completed_task(client, user_message(new_text_part(QUESTION)))
            called = await completed_task(client, skill_message())
    check_wire(wire, binding, ("send", ""), ("send", ""))
    # The question in words picks the same skill and arguments as the explicit data part.
    assert MessageToDict(asked.metadata).get("skill") == "list-kustomizations", asked.metadata
    assert check_answer(asked.artifacts[0]) == check_answer(called.artifacts[0])


async def test_list_tasks(servers: Servers, binding: str) -> None:
    context_id = str(uuid.uuid4())  # a context of this test's own: other tests' tasks stay out
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding, streaming=False) as (client, wire):
            first = await completed_task(client, skill_message(context_id))
            second = await completed_task(client, user_message(new_text_part(QUESTION), context_id))
            listed = await client.list_tasks(ListTasksRequest(context_id=context_id))
            page1 = await client.list_tasks(ListTasksRequest(context_id=context_id, page_size=1))
            page2 = await client.list_tasks(
                ListTasksRequest(context_id=context_id, page_size=1, page_token=page1.next_page_token)
            )
            with_artifacts = await client.list_tasks(ListTasksRequest(context_id=context_id, include_artifacts=True))
            failed = await client.list_tasks(
                ListTasksRequest(context_id=context_id, status=TaskState.TASK_STATE_FAILED)
            )
    check_wire(wire, binding, ("send", ""), ("send", ""), *[("list", "")] * 5)
    assert (first.context_id, second.context_id) == (context_id, context_id)
    ids = {first.id, second.id}
    assert {t.id for t in listed.tasks} == ids, listed
    assert (listed.total_size, listed.page_size, listed.next_page_token) == (2, 2, ""), listed
    assert {state(t) for t in listed.tasks} == {"TASK_STATE_COMPLETED"}, listed
    assert all(t.context_id == context_id for t in listed.tasks), listed
    assert not any(t.artifacts for t in listed.tasks), "artifacts are listed only with includeArtifacts"
    # Two pages of one task each.
    assert (len(page1.tasks), page1.page_size, page1.total_size) == (1, 1, 2), page1
    assert page1.next_page_token, page1
    assert (len(page2.tasks), page2.next_page_token) == (1, ""), page2
    assert {page1.tasks[0].id, page2.tasks[0].id} == ids
    assert all(len(t.artifacts) == 1 for t in with_artifacts.tasks), with_artifacts
    for t in with_artifacts.tasks:
        check_answer(t.artifacts[0])
    assert (list(failed.tasks), failed.total_size) == ([], 0), failed


async def test_input_required_follow_up_and_subscribe(servers: Servers, binding: str) -> None:
    follow_up_id = str(uuid.uuid4())
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding, streaming=True) as (client, wire):
            asked = await collect(client, user_message(new_text_part(VAGUE_QUESTION)))
            task_id = asked[0].task.id
            subscription = client.subscribe(SubscribeToTaskRequest(id=task_id))
            # The subscription's first event is the task as it is: once it is here, the
            # subscriber is registered and sees everything the follow-up causes.
            subscribed = [await anext(subscription)]
            follow_up = Message(
                message_id=follow_up_id, role=Role.ROLE_USER, task_id=task_id, parts=[new_data_part(LOG_ARGUMENTS)]
            )
            answered = await collect(client, follow_up)
            subscribed += [event async for event in subscription]
            task = await client.get_task(GetTaskRequest(id=task_id))
    check_wire(wire, binding, ("stream", ""), ("subscribe", task_id), ("stream", ""), ("get", task_id))
    # The first turn stops at input-required and says what is missing.
    assert kinds(asked) == ["task", "status_update", "status_update"], asked
    waiting = asked[-1].status_update.status
    assert TaskState.Name(waiting.state) == "TASK_STATE_INPUT_REQUIRED", waiting
    assert waiting.message.role == Role.ROLE_AGENT, waiting.message
    assert "pod_name" in " ".join(get_text_parts(waiting.message.parts)), waiting.message
    # The follow-up on the same task runs the skill; the subscriber sees the same events.
    expected = ["task", "status_update", "artifact_update", "status_update"]
    for events in (answered, subscribed):
        assert kinds(events) == expected, events
        assert events[0].task.id == task_id
        assert state(events[0].task) == "TASK_STATE_INPUT_REQUIRED", events[0].task.status
        assert state(events[1].status_update) == "TASK_STATE_WORKING", events[1]
        assert state(events[3].status_update) == "TASK_STATE_COMPLETED", events[3]
        logs = "\n".join(get_text_parts(events[2].artifact_update.artifact.parts))
        assert "[REDACTED]" in logs and "hunter2" not in logs, logs
    assert state(task) == "TASK_STATE_COMPLETED", task.status
    history = [m.message_id for m in task.history]
    assert follow_up_id in history and len(history) >= 2, task.history


async def test_cancel_input_required_task(servers: Servers, binding: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding, streaming=True) as (client, wire):
            asked = await collect(client, user_message(new_text_part(VAGUE_QUESTION)))
            task_id = asked[0].task.id
            assert state(asked[-1].status_update) == "TASK_STATE_INPUT_REQUIRED", asked
            canceled = await client.cancel_task(CancelTaskRequest(id=task_id))
            after = await client.get_task(GetTaskRequest(id=task_id))
            # A canceled task takes no more messages.
            follow_up = Message(
                message_id=str(uuid.uuid4()), role=Role.ROLE_USER, task_id=task_id, parts=[new_data_part(LOG_ARGUMENTS)]
            )
            with pytest.raises(UnsupportedOperationError):
                await collect(client, follow_up)
    check_wire(wire, binding, ("stream", ""), ("cancel", task_id), ("get", task_id), ("stream", ""))
    assert (canceled.id, state(canceled)) == (task_id, "TASK_STATE_CANCELED"), canceled
    assert state(after) == "TASK_STATE_CANCELED", after.status


# --------------------------------------------------------------------------------------------
# A2A 0.3: the SDK's compatibility JSON-RPC transport
# --------------------------------------------------------------------------------------------


@asynccontextmanager
async def v03_client(servers: Servers, card_source: str, *, streaming: bool) -> AsyncIterator[tuple[Client, Wire]]:
    """A client whose card offers JSON-RPC only as A2A 0.3, so the SDK picks its 0.3 transport:
    the served card cut down to its 0.3 interface, or the predecessor card (`url`,
    `protocolVersion: 0.3.0`), which the SDK's card parser upgrades."""
    if card_source == "served-card":
        async with httpx.AsyncClient(timeout=TEST_TIMEOUT_SECONDS) as http:
            card = await A2ACardResolver(http, servers.base_url).get_agent_card()
        legacy = [i for i in card.supported_interfaces if i.protocol_version == "0.3"]
        assert [(i.protocol_binding, i.url) for i in legacy] == [(JSONRPC, servers.base_url)], card.supported_interfaces
        del card.supported_interfaces[:]
        card.supported_interfaces.extend(legacy)
        async with a2a_client(servers, JSONRPC, streaming=streaming, card=card) as client_and_wire:
            yield client_and_wire
    else:
        predecessor = "/.well-known/agent.json"
        async with a2a_client(servers, JSONRPC, streaming=streaming, card_path=predecessor) as client_and_wire:
            yield client_and_wire


def check_v03_wire(wire: Wire, *methods: str) -> None:
    assert wire.calls() == list(methods), wire.requests
    for sent in wire.requests:
        if sent.rpc:
            assert (sent.method, sent.path, sent.a2a_version) == ("POST", "/", "0.3"), sent


@pytest.fixture(params=["served-card", "predecessor-card"])
def card_source(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_v03_send_get_and_cancel(servers: Servers, card_source: str) -> None:
    unknown = f"no-such-task-{uuid.uuid4()}"
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with v03_client(servers, card_source, streaming=False) as (client, wire):
            task = await completed_task(client, skill_message())
            got = await client.get_task(GetTaskRequest(id=task.id))
            with pytest.raises(TaskNotCancelableError):
                await client.cancel_task(CancelTaskRequest(id=task.id))
            with pytest.raises(TaskNotFoundError):
                await client.get_task(GetTaskRequest(id=unknown))
            asked = await completed_task(client, user_message(new_text_part(QUESTION)))
    check_v03_wire(wire, "message/send", "tasks/get", "tasks/cancel", "tasks/get", "message/send")
    assert len(task.artifacts) == 1, task.artifacts
    answer = check_answer(task.artifacts[0], media_types=False)
    assert (got.id, state(got)) == (task.id, "TASK_STATE_COMPLETED"), got
    check_answer(got.artifacts[0], media_types=False)
    assert check_answer(asked.artifacts[0], media_types=False) == answer


async def test_v03_stream(servers: Servers, card_source: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with v03_client(servers, card_source, streaming=True) as (client, wire):
            events = await collect(client, skill_message())
    check_v03_wire(wire, "message/stream")
    assert kinds(events) == ["task", "status_update", "artifact_update", "status_update"], events
    task_id = events[0].task.id
    assert state(events[1].status_update) == "TASK_STATE_WORKING", events[1]
    assert state(events[3].status_update) == "TASK_STATE_COMPLETED", events[3]
    assert {events[i].status_update.task_id for i in (1, 3)} == {task_id}
    check_answer(events[2].artifact_update.artifact, media_types=False)


# --------------------------------------------------------------------------------------------
# The JavaScript SDK (@a2a-js/sdk), both bindings
# --------------------------------------------------------------------------------------------

A2A_JS = JsClient(
    directory="a2a-js",
    files=("package.json", "package-lock.json", "checks.mjs", "client-test.mjs", "extended-card-test.mjs", "push-test.mjs"),
    package="@a2a-js/sdk",
    success="all A2A JS SDK checks passed",
)


# --------------------------------------------------------------------------------------------
# The authenticated extended agent card (RBAC enforced, callers checked)
# --------------------------------------------------------------------------------------------

CLUSTERS_EXTENSION = "https://gitops-agent.dev/a2a/extensions/clusters/v1"


async def test_extended_card_lists_what_each_caller_may_use(rbac_servers: RbacServers, binding: str) -> None:
    servers = rbac_servers.servers
    cards: dict[str, AgentCard] = {}
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with httpx.AsyncClient(timeout=TEST_TIMEOUT_SECONDS) as anonymous:
            public = await A2ACardResolver(anonymous, servers.base_url).get_agent_card()
        for who in ("viewer", "editor"):
            async with a2a_client(servers, binding, token=rbac_servers.tokens[who]) as (client, wire):
                cards[who] = await client.get_extended_agent_card(GetExtendedAgentCardRequest())
            expected = "GetExtendedAgentCard" if binding == JSONRPC else "GET /extendedAgentCard"
            assert wire.calls() == [expected], wire.requests
            assert [r.a2a_version for r in wire.requests if "/.well-known/" not in r.path] == ["1.0"], wire.requests
    assert public.capabilities.extended_agent_card is True
    everything = {s.id for s in public.skills}
    viewer = {s.id for s in cards["viewer"].skills}
    editor = {s.id for s in cards["editor"].skills}
    assert MUTATING_SKILLS <= everything, everything
    # Patching Kustomizations and HelmReleases is all that sets the editor apart.
    assert editor - viewer == MUTATING_SKILLS, (editor, viewer)
    assert {"list-kustomizations", "get-helmreleases", "list-sources"} <= viewer, viewer
    # Neither may read pods, events or Cluster API objects: those skills are left out.
    assert not {"get-pod-logs", "get-events", "list-machines"} & editor, editor
    for who, card in cards.items():
        extension = next((e for e in card.capabilities.extensions if e.uri == CLUSTERS_EXTENSION), None)
        assert extension is not None, card.capabilities.extensions
        clusters = MessageToDict(extension.params)["clusters"]
        assert len(clusters) == 1 and clusters[0]["default"] is True, clusters
        assert set(clusters[0]["skills"]) == {s.id for s in card.skills}, (who, clusters)


async def test_extended_card_needs_a_token(rbac_servers: RbacServers) -> None:
    base = rbac_servers.servers.base_url
    async with httpx.AsyncClient(timeout=TEST_TIMEOUT_SECONDS) as http:
        rest = await http.get(f"{base}/extendedAgentCard", headers={"A2A-Version": "1.0"})
        rpc = await http.post(
            f"{base}/",
            json={"jsonrpc": "2.0", "id": 1, "method": "GetExtendedAgentCard", "params": {}},
            headers={"A2A-Version": "1.0"},
        )
    assert rest.status_code == 401, rest.text
    assert rpc.status_code == 401, rpc.text
    assert rest.headers["www-authenticate"].startswith("Bearer "), rest.headers


def test_js_sdk_extended_card(rbac_servers: RbacServers) -> None:
    jsclient.run(A2A_JS, "extended-card-test.mjs", rbac_servers.servers.base_url, rbac_servers.tokens["viewer"], rbac_servers.tokens["editor"])


def test_js_sdk_client(servers: Servers) -> None:
    jsclient.run(A2A_JS, "client-test.mjs", servers.base_url)


def test_js_sdk_push_notifications(servers: Servers) -> None:
    jsclient.run(A2A_JS, "push-test.mjs", servers.base_url)
