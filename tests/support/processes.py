"""Processes the Python test suites (tests/protocol, tests/chart, tests/examples) start: the
debug binaries, a free port, a log tail for failure messages, and a started process that can be
waited on and stopped. scripts/pytest-venv.sh puts this folder on PYTHONPATH. Standard library
and pytest only, since every suite has its own venv."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]


def binary(env_var: str, default: str) -> Path:
    """$env_var, else `default` below the repository root; the test fails if it cannot run."""
    path = Path(os.environ.get(env_var) or default)
    if not path.is_absolute():
        path = REPO / path
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is not an executable file: build it with `cargo build --workspace` or set ${env_var}", pytrace=False)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for failure messages."""
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
    """Starts `args` from the repository root, its output in workdir/<name>.log."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, "NO_COLOR": "1", **(env or {})})
    return Process(name, proc, log)
