"""Protocol tests: A2A push notifications through the official Python SDK (`a2a-sdk`), over
JSON-RPC and HTTP+JSON, with a webhook receiver on 127.0.0.1 (an address the session's agent
allows with --a2a-push-allow-hosts): config create/get/list/delete, what the receiver gets (each
update in order, the config's token and credentials, a retry after a 500), the agent's signed
token verified against its published JWKS with PyJWT, refused webhook addresses, and configs
private to the caller who owns the task (the RBAC stack). The JavaScript SDK's turn is
tests/protocol/a2a-js/push-test.mjs, run from test_a2a_client.py.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import anyio
import httpx
import jwt
import pytest
from a2a.helpers import new_data_part, new_text_part
from a2a.types import (
    AuthenticationInfo,
    DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest,
    InvalidParamsError,
    ListTaskPushNotificationConfigsRequest,
    Message,
    Role,
    TaskNotFoundError,
    TaskPushNotificationConfig,
)
from conftest import RbacServers, Servers
from test_a2a_client import (
    JSONRPC,
    LOG_ARGUMENTS,
    TEST_TIMEOUT_SECONDS,
    VAGUE_QUESTION,
    a2a_client,
    binding,  # noqa: F401 (the fixture)
    collect,
    kinds,
    state,
    user_message,
)

pytestmark = pytest.mark.anyio

PUSH_SIGNATURE_EXTENSION = "https://gitops-agent.dev/a2a/extensions/push-signature/v1"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook: records every POST, answers from `answers` first, then 200."""

    url: str
    got: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def until(self, done, timeout: float = 15) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = list(self.got)
            if any(done(r.json()) for r in got):
                return got
            time.sleep(0.05)
        pytest.fail(f"the webhook did not get what it waited for in {timeout}s; got {[r.body for r in self.got]}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            r = holder[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            r.got.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            status = r.answers.pop(0) if r.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


def update_state(v: dict) -> str | None:
    return v.get("statusUpdate", {}).get("status", {}).get("state")


async def waiting_task(client) -> str:
    """A task waiting for input (the logs skill needs a pod): it runs, and notifies, on the follow-up."""
    asked = await collect(client, user_message(new_text_part(VAGUE_QUESTION)))
    return asked[0].task.id


async def follow_up(client, task_id: str) -> None:
    message = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, task_id=task_id, parts=[new_data_part(LOG_ARGUMENTS)])
    events = await collect(client, message)
    assert kinds(events)[-1] == "status_update" and state(events[-1].status_update) == "TASK_STATE_COMPLETED", events


async def test_push_config_crud_and_delivery(servers: Servers, binding: str, receiver: Receiver) -> None:
    receiver.answers = [500]  # the first try of the first update fails: it is sent again
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding) as (client, _):
            task_id = await waiting_task(client)
            config = TaskPushNotificationConfig(
                task_id=task_id,
                id="hook",
                url=receiver.url,
                token="tok-1",
                authentication=AuthenticationInfo(scheme="Bearer", credentials="s3cret"),
            )
            created = await client.create_task_push_notification_config(config)
            assert (created.id, created.task_id, created.url, created.token) == ("hook", task_id, receiver.url, "tok-1")
            got = await client.get_task_push_notification_config(GetTaskPushNotificationConfigRequest(task_id=task_id, id="hook"))
            assert got.authentication.scheme == "Bearer" and got.authentication.credentials == "s3cret", got
            listed = await client.list_task_push_notification_configs(ListTaskPushNotificationConfigsRequest(task_id=task_id))
            assert [c.id for c in listed.configs] == ["hook"], listed
            await follow_up(client, task_id)
            notes = await anyio.to_thread.run_sync(lambda: receiver.until(lambda v: update_state(v) == "TASK_STATE_COMPLETED"))
            await client.delete_task_push_notification_config(DeleteTaskPushNotificationConfigRequest(task_id=task_id, id="hook"))
            # Deleting again is fine; reading it is not.
            await client.delete_task_push_notification_config(DeleteTaskPushNotificationConfigRequest(task_id=task_id, id="hook"))
            with pytest.raises(TaskNotFoundError):
                await client.get_task_push_notification_config(GetTaskPushNotificationConfigRequest(task_id=task_id, id="hook"))
    seen = [update_state(n.json()) or next(iter(n.json())) for n in notes]
    assert seen == ["TASK_STATE_WORKING", "TASK_STATE_WORKING", "artifactUpdate", "TASK_STATE_COMPLETED"], seen
    for n in notes:
        assert n.headers["authorization"] == "Bearer s3cret", n.headers
        assert n.headers["x-a2a-notification-token"] == "tok-1", n.headers
        assert n.headers["content-type"] == "application/a2a+json", n.headers
        update = n.json().get("statusUpdate") or n.json()["artifactUpdate"]
        assert update["taskId"] == task_id
    logs = notes[2].json()["artifactUpdate"]["artifact"]["parts"][0]["text"]
    assert "[REDACTED]" in logs and "hunter2" not in logs, logs


async def test_push_token_verifies_against_the_published_jwks(servers: Servers, receiver: Receiver) -> None:
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, JSONRPC) as (client, _):
            task_id = await waiting_task(client)
            # No credentials: the agent signs each notification itself.
            await client.create_task_push_notification_config(TaskPushNotificationConfig(task_id=task_id, url=receiver.url))
            await follow_up(client, task_id)
        notes = await anyio.to_thread.run_sync(lambda: receiver.until(lambda v: update_state(v) == "TASK_STATE_COMPLETED"))
        async with httpx.AsyncClient(timeout=TEST_TIMEOUT_SECONDS) as http:
            card = (await http.get(f"{servers.base_url}/.well-known/agent-card.json")).json()
            extension = next(e for e in card["capabilities"]["extensions"] if e["uri"] == PUSH_SIGNATURE_EXTENSION)
            jwks = (await http.get(extension["params"]["jwksUrl"])).json()
    assert len(notes) == 3, [n.body for n in notes]
    for n in notes:
        scheme, _, token = n.headers["authorization"].partition(" ")
        assert scheme == "Bearer", n.headers
        header = jwt.get_unverified_header(token)
        key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
        claims = jwt.decode(
            token,
            jwt.PyJWK(key).key,
            algorithms=["ES256"],
            audience=receiver.url,
            issuer=servers.base_url,
            options={"require": ["iat", "exp", "jti"]},
        )
        assert claims["taskId"] == task_id, claims
        assert claims["request_body_sha256"] == hashlib.sha256(n.body).hexdigest(), claims
        assert abs(time.time() - claims["iat"]) < 120, claims
        # Another body under the same token does not pass as this one.
        assert claims["request_body_sha256"] != hashlib.sha256(n.body + b" ").hexdigest()
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, jwt.PyJWK(key).key, algorithms=["ES256"], audience="https://someone-else.example/hook")


async def test_webhooks_at_internal_addresses_are_refused(servers: Servers, binding: str) -> None:
    own_name = socket.gethostname()
    assert all(info[4][0].startswith("127.") or info[4][0] == "::1" for info in socket.getaddrinfo(own_name, 443)), (
        f"{own_name} should resolve to a loopback address on this machine"
    )
    # (127.0.0.1 itself is the receivers' host, allowed on this agent.)
    refused = [
        "https://[::1]/hook",  # loopback
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        f"https://{own_name}:8443/hook",  # a name that resolves to loopback
        "https://localhost/hook",
        "http://203.0.113.10/hook",  # plain http to a host nobody allowed
    ]
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, binding) as (client, _):
            task_id = await waiting_task(client)
            for url in refused:
                with pytest.raises(InvalidParamsError) as raised:
                    await client.create_task_push_notification_config(TaskPushNotificationConfig(task_id=task_id, url=url))
                assert "webhook URL" in raised.value.message, (url, raised.value.message)
            listed = await client.list_task_push_notification_configs(ListTaskPushNotificationConfigsRequest(task_id=task_id))
    assert list(listed.configs) == [], listed


async def test_push_configs_are_private_to_the_tasks_owner(rbac_servers: RbacServers) -> None:
    servers = rbac_servers.servers
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(servers, JSONRPC, token=rbac_servers.tokens["viewer"]) as (viewer, _):
            task_id = (await collect(viewer, user_message(new_text_part("list the kustomizations in flux-system"))))[0].task.id
            await viewer.create_task_push_notification_config(
                TaskPushNotificationConfig(task_id=task_id, id="mine", url="https://203.0.113.10/hook")
            )
        async with a2a_client(servers, JSONRPC, token=rbac_servers.tokens["editor"]) as (editor, _):
            with pytest.raises(TaskNotFoundError):
                await editor.get_task_push_notification_config(GetTaskPushNotificationConfigRequest(task_id=task_id, id="mine"))
            with pytest.raises(TaskNotFoundError):
                await editor.list_task_push_notification_configs(ListTaskPushNotificationConfigsRequest(task_id=task_id))
            with pytest.raises(TaskNotFoundError):
                await editor.create_task_push_notification_config(
                    TaskPushNotificationConfig(task_id=task_id, url="https://203.0.113.11/hook")
                )
        async with a2a_client(servers, JSONRPC, token=rbac_servers.tokens["viewer"]) as (viewer, _):
            mine = await viewer.list_task_push_notification_configs(ListTaskPushNotificationConfigsRequest(task_id=task_id))
    assert [c.url for c in mine.configs] == ["https://203.0.113.10/hook"], mine
