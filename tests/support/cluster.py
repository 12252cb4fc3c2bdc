"""The embedded API server (fake-apiserver) as a child process, and kubectl against it; shared by
the examples and image suites.

Binary: $FAKE_APISERVER_BIN, by default target/debug/fake-apiserver (built by
`cargo build --workspace`). kubectl comes from PATH.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from processes import REPO, Process, binary, free_port, spawn, tail  # noqa: F401 (re-exported to the tests)


def kubectl_binary() -> str:
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl is not on PATH (apt-get install kubectl)", pytrace=False)
    return found


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
