"""Running the official SDKs' JavaScript clients (the A2A one in a2a-js/, the MCP one in mcp-js/):
a Node >= 20 from scripts/node.sh (the pinned Node 22 under target/conformance, installed on first
use), the client's pinned packages installed with `npm ci` under target/ (node_modules stays out of
the source tree), and the script run there; a test fails saying why when any of it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO_ROOT

NPM_TIMEOUT_SECONDS = 300
JS_TIMEOUT_SECONDS = 180
NODE_MIN_MAJOR = 20  # the SDKs' engines.node


@dataclass(frozen=True)
class JsClient:
    """A client directory of tests/protocol: its files, and a package whose presence in
    node_modules shows the install is there."""

    directory: str
    files: tuple[str, ...]
    package: str
    # The line a script prints when every check passed.
    success: str

    @property
    def source(self) -> Path:
        return Path(__file__).resolve().parent / self.directory

    @property
    def workdir(self) -> Path:
        return REPO_ROOT / "target" / self.directory


def node() -> str:
    """A Node >= NODE_MIN_MAJOR, or the test fails saying why."""
    try:
        found = subprocess.run(
            [str(REPO_ROOT / "scripts" / "node.sh"), str(NODE_MIN_MAJOR)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.fail(f"scripts/node.sh failed: {err}", pytrace=False)
    if found.returncode != 0 or not found.stdout.strip():
        pytest.fail(
            f"the JavaScript SDK clients need Node >= {NODE_MIN_MAJOR}, and scripts/node.sh found none "
            f"(exit {found.returncode}):\n{found.stderr.strip()}",
            pytrace=False,
        )
    return found.stdout.strip().splitlines()[-1]


def install(client: JsClient, node_bin: str) -> Path:
    """Copies the client's files to its work directory, and runs `npm ci` there when the pinned
    packages changed since the last install."""
    workdir = client.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    for name in client.files:
        shutil.copyfile(client.source / name, workdir / name)
    stamp = workdir / ".installed"
    wanted = "".join((client.source / name).read_text() for name in ("package.json", "package-lock.json"))
    installed = stamp.read_text() if stamp.exists() else None
    if installed == wanted and (workdir / "node_modules" / client.package / "package.json").exists():
        return workdir
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(f"npm is needed to install {client.package} ({client.directory}/package-lock.json)", pytrace=False)
    # npm runs on the same Node as the client (its `#!/usr/bin/env node` finds it first).
    env = {**os.environ, "PATH": f"{Path(node_bin).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    stamp.unlink(missing_ok=True)
    try:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`npm ci` in {workdir} took longer than {NPM_TIMEOUT_SECONDS}s", pytrace=False)
    if result.returncode != 0:
        pytest.fail(f"`npm ci` in {workdir} failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    stamp.write_text(wanted)
    return workdir


def _text(output: str | bytes | None) -> str:
    # TimeoutExpired carries bytes even when the run asked for text.
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def run(client: JsClient, script: str, *args: str) -> str:
    """Runs one of the client's scripts; it must exit 0 and print the client's success line."""
    node_bin = node()
    workdir = install(client, node_bin)
    try:
        result = subprocess.run(
            [node_bin, script, *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=JS_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as err:
        output = "\n".join(_text(o) for o in (err.stdout, err.stderr))
        pytest.fail(f"{script} did not finish within {JS_TIMEOUT_SECONDS}s:\n{output}", pytrace=False)
    print(result.stdout)
    assert result.returncode == 0, f"{script} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    assert client.success in result.stdout, result.stdout
    return result.stdout
