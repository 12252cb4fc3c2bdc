"""The images `make image` built (target/images/), and podman to run them.

Each test starts the image's own entrypoint from the image's own root filesystem, as uid 65532 with
a read-only root filesystem, no capabilities, no privilege escalation and podman's default seccomp
profile (what RuntimeDefault is on a node), on the host network so that it reaches the embedded
API server on loopback (tests/support/cluster.py).

On this machine podman needs two settings, written to target/image-tests/containers.conf: the
runtime runc, since crun refuses the hybrid cgroup v1/v2 hierarchy here ("cgroups in hybrid mode
not supported, drop all controllers from cgroupv2"), and rlimits no higher than the process's own
hard limits, since podman's defaults exceed them and the sandbox lacks CAP_SYS_RESOURCE
("setrlimit `RLIMIT_NOFILE`: Operation not permitted"). Neither changes what the image runs.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from processes import REPO

IMAGES = REPO / "target" / "images"
WORK = REPO / "target" / "image-tests"


def images_built() -> list[dict[str, Any]]:
    summary = IMAGES / "images.json"
    if not summary.is_file():
        pytest.fail(f"{summary} is missing: build the images with `make image` first", pytrace=False)
    return json.loads(summary.read_text())


@pytest.fixture(scope="session")
def images() -> dict[str, dict[str, Any]]:
    """The images.json entries by image title (gitops-agent, gitops-agent-operator)."""
    return {i["labels"]["org.opencontainers.image.title"]: i for i in images_built()}


def containers_conf() -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 16384)
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 4096)
    lines = ["[containers]", f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]']
    if shutil.which("runc"):
        lines += ["[engine]", 'runtime = "runc"']
    path = WORK / "containers.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


# The hardening every container here runs with, as the rendered pods ask for it.
HARDENED = [
    "--user", "65532:65532",
    "--read-only",
    "--read-only-tmpfs=false",
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
    "--tmpfs", "/tmp:rw,size=64m,mode=1777",
    "--network", "host",
]


@dataclass
class Podman:
    env: dict[str, str]

    def run(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["podman", *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=timeout, cwd=REPO)
        if check:
            assert proc.returncode == 0, f"podman {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def start(self, name: str, image: str, *args: str, mounts: list[str] = (), env: dict[str, str] | None = None) -> str:
        """Starts `image` detached as container `name` with the hardened flags; returns its id."""
        extra = [f"--volume={m}" for m in mounts] + [f"--env={k}={v}" for k, v in (env or {}).items()]
        self.run("rm", "--force", "--ignore", name)
        return self.run("run", "--detach", "--name", name, *HARDENED, *extra, image, *args).stdout.strip()

    def inspect(self, name: str) -> dict[str, Any]:
        return json.loads(self.run("inspect", name).stdout)[0]

    def logs(self, name: str) -> str:
        proc = self.run("logs", name, check=False)
        return (proc.stdout + proc.stderr)[-4000:]

    def wait_until(self, name: str, what: str, ready, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.inspect(name)["State"]
            if not state.get("Running"):
                pytest.fail(f"container {name} stopped (exit {state.get('ExitCode')}) before {what}:\n{self.logs(name)}", pytrace=False)
            if ready():
                return
            time.sleep(0.2)
        pytest.fail(f"container {name}: no {what} within {timeout:.0f}s:\n{self.logs(name)}", pytrace=False)


@pytest.fixture(scope="session")
def podman() -> Iterator[Podman]:
    if not shutil.which("podman"):
        pytest.fail("podman is not installed (apt-get install podman runc): the images are run with it", pytrace=False)
    env = {**os.environ, "CONTAINERS_CONF": str(containers_conf())}
    yield Podman(env)


def process_status(pid: int) -> dict[str, str]:
    """/proc/<pid>/status of a container's process, as the host sees it."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def root_mount_options(pid: int) -> list[str]:
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/":
            return fields[5].split(",")
    raise AssertionError(f"no root mount in /proc/{pid}/mountinfo")


def http(url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> tuple[int | None, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (OSError, ValueError):
        return None, ""


def mcp_tools_list(url: str, token: str | None = None) -> list[dict[str, Any]]:
    """A stateless MCP 2026-07-28 tools/list; the tools of the answer."""
    version = "2026-07-28"
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": version,
        "mcp-method": "tools/list",
    }
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/list",
        "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {}}},
    }
    status, text = http(url, body, headers)
    assert status == 200, f"tools/list at {url}: HTTP {status}: {text[:500]}"
    answer = json.loads(text)
    assert "result" in answer, f"tools/list at {url}: {answer}"
    return answer["result"]["tools"]
