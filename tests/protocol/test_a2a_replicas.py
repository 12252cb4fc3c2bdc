"""Protocol tests: two agent replicas sharing a real Redis task store (Debian's `redis-server`),
with the official Python SDK (`a2a-sdk`) as the client, over JSON-RPC and HTTP+JSON. Replica A
runs a task that cannot finish (every API request is held for a minute, through the embedded API
server's /fake/faults), the client follows it by subscribing on replica B, and A is killed as a
pod is: B's subscription ends with the task failed and the reason, and GetTask on B says the same,
instead of the task staying working for ever.
"""

from __future__ import annotations

import dataclasses
import signal
import socket
import uuid
from pathlib import Path
from typing import Iterator

import anyio
import pytest
from a2a.helpers import new_data_part
from a2a.types import (
    GetTaskRequest,
    Message,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    SubscribeToTaskRequest,
)
from conftest import Servers, _stack, admin_request, another_replica
from processes import Process, free_port, spawn
from test_a2a_client import TEST_TIMEOUT_SECONDS, a2a_client, binding, kinds, state  # noqa: F401 (binding: the fixture)

pytestmark = pytest.mark.anyio

# A running task whose replica has renewed no claim for this long is taken for abandoned.
LEASE_SECONDS = 2
# The pod logs skill reads the API server, where the fault holds every request.
SLOW_CALL = {"skill": "get-pod-logs", "arguments": {"pod_name": "api-7c9d8f6b5-qwz8r", "namespace": "team-b"}}


@dataclasses.dataclass
class Replicas:
    a: Servers
    b: Servers
    a_process: Process
    kubeconfig: Path


def _redis(workdir: Path) -> tuple[Process, str]:
    port = free_port()
    redis = spawn(
        "redis-server",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        workdir,
    )

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    redis.wait_until("a listening port", listening, timeout=20)
    return redis, f"redis://127.0.0.1:{port}/0"


def _set_faults(kubeconfig: Path, faults: dict) -> None:
    admin_request(kubeconfig, "PUT", "/fake/faults", faults)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Replicas]:
    redis, store = _redis(tmp_path)
    shared = ["--task-store", store, "--task-runner-lease-seconds", str(LEASE_SECONDS)]
    try:
        with _stack(tmp_path, [], shared) as b, another_replica(b, tmp_path, shared) as (a, a_process):
            try:
                yield Replicas(a=a, b=b, a_process=a_process, kubeconfig=b.kubeconfig)
            finally:
                _set_faults(b.kubeconfig, {})
    finally:
        redis.stop()


async def test_a_task_whose_replica_is_killed_fails_with_the_reason_on_the_other(replicas: Replicas, binding: str) -> None:
    message = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[new_data_part(SLOW_CALL)])
    _set_faults(replicas.kubeconfig, {"latencyMs": 60_000})
    with anyio.fail_after(TEST_TIMEOUT_SECONDS):
        async with a2a_client(replicas.a, binding, streaming=False) as (on_a, _):
            sent = [
                e
                async for e in on_a.send_message(
                    SendMessageRequest(message=message, configuration=SendMessageConfiguration(return_immediately=True))
                )
            ]
        assert kinds(sent) == ["task"], sent
        task_id = sent[0].task.id
        async with a2a_client(replicas.b, binding) as (on_b, _):
            # B reads the task A runs from Redis.
            while state(await on_b.get_task(GetTaskRequest(id=task_id))) != "TASK_STATE_WORKING":
                await anyio.sleep(0.1)
            subscription = on_b.subscribe(SubscribeToTaskRequest(id=task_id))
            first = await anext(subscription)
            assert state(first.task) == "TASK_STATE_WORKING", first
            # Past a lease, A's renewed claim keeps the task working.
            await anyio.sleep(LEASE_SECONDS + 1)
            assert state(await on_b.get_task(GetTaskRequest(id=task_id))) == "TASK_STATE_WORKING"

            replicas.a_process.proc.send_signal(signal.SIGKILL)
            replicas.a_process.proc.wait(timeout=10)
            rest = [event async for event in subscription]
            task = await on_b.get_task(GetTaskRequest(id=task_id))
    assert kinds(rest)[-1:] == ["status_update"], rest
    end = rest[-1].status_update.status
    assert state(rest[-1].status_update) == "TASK_STATE_FAILED", end
    reason = " ".join(p.text for p in end.message.parts)
    assert "stopped before it finished" in reason and "send the message again" in reason, reason
    assert state(task) == "TASK_STATE_FAILED", task.status
