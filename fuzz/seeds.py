#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/seed-*) from the repository's
examples, fixtures and the controller's proptest regression case, so libFuzzer starts from inputs
that reach deep states instead of from nothing. Deterministic: running it again rewrites the same
files. Inputs libFuzzer found and that were fixed live next to them as crash-* files (kept by
hand, never written here).

    python3 fuzz/seeds.py
"""
import json
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"

META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}


def write(target: str, name: str, data: bytes) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data)


def j(v) -> bytes:
    return json.dumps(v, separators=(",", ":")).encode()


def tool_names() -> list[str]:
    """The tools in ToolName::ALL's order (as_str lists them in it), so a seed's first byte picks
    the tool the seed was written for."""
    text = (ROOT / "crates/api/src/tools.rs").read_text()
    names = list(dict.fromkeys(re.findall(r'Self::\w+ => "([a-z_]+)"', text)))
    if not names:
        raise SystemExit("no tool names found in crates/api/src/tools.rs")
    return names


ARGS = {
    "namespace": "flux-system", "name": "apps", "status_filter": "failed", "limit": 5, "offset": 0,
    "resource_type": "kustomization", "kind": "Kustomization", "api_version": "v1", "container": "manager",
    "tail_lines": 20, "cluster": "local", "label_selector": "app=web", "field_selector": "status.phase=Running",
}


def mcp() -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
            "capabilities": {}, "clientInfo": {"name": "seed", "version": "1"}}}
    bodies = {
        "initialize": init,
        "tools-list": {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": META}},
        "ping": {"jsonrpc": "2.0", "id": "p", "method": "ping"},
        "initialized": {"jsonrpc": "2.0", "method": "notifications/initialized"},
        "unknown-method": {"jsonrpc": "2.0", "id": 3, "method": "resources/list", "params": {"cursor": "x"}},
        "discover": {"jsonrpc": "2.0", "id": 4, "method": "server/discover", "params": {"_meta": META}},
    }
    for tool in tool_names()[:8]:
        bodies[f"call-{tool}"] = {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                                  "params": {"name": tool, "arguments": {"namespace": "flux-system"}, "_meta": META}}
    for name, body in bodies.items():
        for mode in (0, 1):
            write("mcp_body", f"{name}-{mode}", bytes([mode]) + j(body))
    write("mcp_body", "batch-1", b"\x01" + j([bodies["ping"], bodies["tools-list"]]))


def a2a() -> None:
    data = {"messageId": "m", "role": "ROLE_USER", "parts": [{"data": {"skill": "get-gitops-status", "arguments": {}}}]}
    text = {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "list failing kustomizations in flux-system"}]}
    legacy = {"messageId": "m", "role": "user", "parts": [{"kind": "text", "text": "flux health summary"}]}
    rpc = {
        "send": (0, {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": data}}),
        "stream": (0, {"jsonrpc": "2.0", "id": 1, "method": "SendStreamingMessage", "params": {"message": text}}),
        "get-task": (0, {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "t", "historyLength": 2}}),
        "list-tasks": (0, {"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {"pageSize": 2}}),
        "cancel": (0, {"jsonrpc": "2.0", "id": 1, "method": "CancelTask", "params": {"id": "t"}}),
        "legacy-send": (1, {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": legacy}}),
        "legacy-get": (1, {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "t"}}),
        "rest-send": (2, {"message": data}),
        "rest-stream": (3, {"message": text}),
        "rest-cancel": (4, {}),
        "rest-get": (6, {}),
        "rest-push": (7, {"url": "https://hooks.example.com/a2a", "token": "x"}),
        "push-create": (0, {"jsonrpc": "2.0", "id": 1, "method": "CreateTaskPushNotificationConfig",
                            "params": {"taskId": "t", "id": "c", "url": "https://hooks.example.com/a2a", "token": "x",
                                       "authentication": {"scheme": "Bearer", "credentials": "c"}}}),
        "push-list": (0, {"jsonrpc": "2.0", "id": 1, "method": "ListTaskPushNotificationConfigs",
                          "params": {"taskId": "t", "pageSize": 1, "pageToken": "1"}}),
        "push-set-v03": (1, {"jsonrpc": "2.0", "id": 1, "method": "tasks/pushNotificationConfig/set",
                             "params": {"taskId": "t", "pushNotificationConfig": {
                                 "url": "https://169.254.169.254/", "authentication": {"schemes": ["Basic"]}}}}),
        "send-with-push": (0, {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {
            "message": data, "configuration": {"taskPushNotificationConfig": {"url": "https://203.0.113.9/hook"}}}}),
    }
    for name, (mode, body) in rpc.items():
        write("a2a_body", name, bytes([mode]) + b"task-1\x00" + j(body))


def tool_arguments() -> None:
    names = tool_names()
    for i, tool in enumerate(names):
        write("tool_arguments", f"{tool}-empty", bytes([i]) + b"{}")
        args = {k: v for k, v in ARGS.items() if k in ("namespace", "name", "limit", "status_filter")}
        write("tool_arguments", f"{tool}-typical", bytes([i]) + j(args))
        write("tool_arguments", f"{tool}-a2a", bytes([i | 0x80]) + j(args))
    write("tool_arguments", "all-keys", b"\x00" + j(ARGS))


def skill_routing() -> None:
    texts = [
        "list failing kustomizations in flux-system", "flux health summary", "status of helmreleases in team-a",
        "why is kustomization apps in flux-system not ready", "show events in default", "list git repositories",
        "trace deployment web in shop", "reconcile kustomization apps in flux-system", "logs of pod api-1 in shop",
        "fleet health", "what can you do", "", "get kustomization infra namespace flux-system limit 5",
    ]
    for i, t in enumerate(texts):
        write("skill_routing", f"text-{i:02}", t.encode())


def redaction() -> None:
    cases = [
        ("level=info msg=", "ghp0123456789abcdefghijklmnopqrstu", " done"),
        ('{"headers":{"authorization":"', "eyJhbGciOiJSUzI1NiJ9payload0123456789", '"}}'),
        ("clone https://", "tok3nValue0123456789abcdefghij", "@github.com/org/repo.git"),
        ("", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""),
    ]
    for i, (p, s, x) in enumerate(cases):
        write("redaction", f"case-{i}", f"{p}\0{s}\0{x}".encode())


def render() -> None:
    for f in sorted((ROOT / "examples").glob("*.yaml")):
        write("render", f.stem, f.read_bytes())
    # The controller's proptest regression case, as the manifest it shrank to.
    write("render", "proptest-regression-1", j({
        "apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent",
        "metadata": {"name": "a00-0-00a--aa-0a-aaa-0-0--aaa00aa-0--a0aa0aa", "namespace": "team-a",
                     "uid": "0b7c1a52-4c5e-4a43-9d7e-6a4f0f6f3c11"},
        "spec": {"a2a": {"taskStore": {}}, "autoscaling": {"enabled": False, "maxReplicas": 1, "minReplicas": 1},
                 "metrics": {"enabled": False, "port": 1024, "serviceMonitor": {"enabled": False}},
                 "networkPolicy": {"enabled": False}, "pdb": {"enabled": False}, "rbac": {"create": True},
                 "readOnly": False, "replicas": 0, "tools": {"disabled": [], "enabled": []},
                 "tracing": {"enabled": False, "endpoint": "http://otel-collector.monitoring:4317"},
                 "watchNamespaces": []}}))


def kubeconfig() -> None:
    base = {
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": "https://10.0.0.1:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "admin", "user": {"token": "abcdefghijklmnopqrstuvwxyz012345"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin", "namespace": "flux-system"}}],
    }
    write("kubeconfig", "token", yaml.safe_dump(base).encode())
    basic = json.loads(json.dumps(base))
    basic["users"][0]["user"] = {"username": "u", "password": "pAssw0rdpAssw0rdpAssw0rd"}
    write("kubeconfig", "basic", yaml.safe_dump(basic).encode())
    missing = json.loads(json.dumps(base))
    missing["current-context"] = "nowhere"
    write("kubeconfig", "missing-context", yaml.safe_dump(missing).encode())
    write("kubeconfig", "broken", b"apiVersion: v1\nusers:\n- name: a\n  user:\n    token: abcdefghijklmnopqrstuvwxyz012345\n  bad: [\n")


def fixture_objects() -> list[dict]:
    out = []
    for f in sorted((ROOT / "examples/fixtures/objects").glob("*.yaml")):
        out.extend(d for d in yaml.safe_load_all(f.read_text()) if isinstance(d, dict))
    return out


def patches() -> None:
    objs = fixture_objects()
    deployments = [o for o in objs if o.get("kind") == "Deployment"][:2]
    kustomizations = [o for o in objs if o.get("kind") == "Kustomization"][:2]
    for i, o in enumerate(kustomizations):
        write("json_merge_patch", f"kustomization-{i}", j(o) + b"\0" + j({"spec": {"suspend": True, "path": None}}))
        write("strategic_merge_patch", f"kustomization-{i}", j(o) + b"\0" + j({"metadata": {"labels": {"a": "b"}}}))
    for i, d in enumerate(deployments):
        smp = {"spec": {"template": {"spec": {"containers": [{"name": "x", "image": "y:1"}],
                                              "$setElementOrder/containers": [{"name": "x"}]}}}}
        write("strategic_merge_patch", f"deployment-{i}", j(d) + b"\0" + j(smp))
        write("json_merge_patch", f"deployment-{i}", j(d) + b"\0" + j({"spec": {"replicas": 3}}))
        config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": d["metadata"]["name"],
                  "labels": {"team": "a"}}, "spec": {"replicas": 2, "template": {"spec": {"containers": [
                      {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}}
        for mode in (0, 1, 6):
            write("server_side_apply", f"deployment-{i}-{mode}", bytes([mode]) + j(d) + b"\0" + j(config))
    write("server_side_apply", "empty-live", b"\x00{}\0" + j({"metadata": {"name": "a"}, "spec": {"x": [1, 2]}}))


def main() -> None:
    mcp()
    a2a()
    tool_arguments()
    skill_routing()
    redaction()
    render()
    kubeconfig()
    patches()
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} inputs")


if __name__ == "__main__":
    main()
