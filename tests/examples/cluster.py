"""The embedded API server (fake-apiserver) and the operator as child processes, and kubectl
against them.

Binaries: $FAKE_APISERVER_BIN and $GITOPS_AGENT_OPERATOR_BIN, by default under target/debug
(built by `cargo build --workspace`). kubectl comes from PATH.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def binary(env_var: str, default: str) -> Path:
    path = Path(os.environ.get(env_var) or REPO / default)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is not an executable file: build it with `cargo build --workspace` or set ${env_var}", pytrace=False)
    return path


def kubectl_binary() -> str:
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl is not on PATH (apt-get install kubectl)", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def wait_until(self, what: str, ready: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode} before {what}:\n{tail(self.log)}", pytrace=False)
            if ready():
                return
            time.sleep(0.1)
        pytest.fail(f"{self.name}: no {what} within {timeout:.0f}s:\n{tail(self.log)}", pytrace=False)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def spawn(name: str, args: list[str], workdir: Path, env: dict[str, str] | None = None) -> Process:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, "NO_COLOR": "1", **(env or {})})
    return Process(name, proc, log)


@dataclass
class Kubectl:
    kubeconfig: Path

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [kubectl_binary(), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
        if check:
            assert proc.returncode == 0, f"kubectl {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}"
        return proc

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        return self.run(*args, stdin=stdin).stdout


def kubeconfig_complete(path: Path) -> bool:
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(config, dict) and bool(config.get("current-context")) and bool(config.get("users"))


def start_api_server(workdir: Path, *args: str) -> tuple[Process, Kubectl]:
    kubeconfig = workdir / "kubeconfig"
    process = spawn(
        "fake-apiserver",
        [str(binary("FAKE_APISERVER_BIN", "target/debug/fake-apiserver")), "--kubeconfig", str(kubeconfig), *args],
        workdir,
    )
    process.wait_until("a kubeconfig", lambda: kubeconfig.exists() and kubeconfig_complete(kubeconfig), timeout=30)
    kubectl = Kubectl(kubeconfig)
    process.wait_until("an answer to kubectl", lambda: kubectl.run("get", "--raw", "/readyz", check=False).returncode == 0, timeout=30)
    return process, kubectl
