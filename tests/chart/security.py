"""The seed guide's security checklist, asserted on rendered objects."""

from __future__ import annotations

from typing import Any


def _effective(container_ctx: dict[str, Any], pod_ctx: dict[str, Any], field: str) -> Any:
    """A container field falls back to the pod's, as the kubelet resolves it."""
    if field in container_ctx:
        return container_ctx[field]
    return pod_ctx.get(field)


def assert_hardened_container(where: str, container_ctx: dict[str, Any] | None, pod_ctx: dict[str, Any] | None) -> None:
    c = container_ctx or {}
    p = pod_ctx or {}
    assert _effective(c, p, "runAsNonRoot") is True, f"{where}: runAsNonRoot"
    assert c.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
    assert "ALL" in ((c.get("capabilities") or {}).get("drop") or []), f"{where}: capabilities.drop ALL"
    assert not (c.get("capabilities") or {}).get("add"), f"{where}: no added capabilities"
    assert c.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation false"
    assert c.get("privileged") in (None, False), f"{where}: not privileged"
    seccomp = _effective(c, p, "seccompProfile") or {}
    assert seccomp.get("type") == "RuntimeDefault", f"{where}: seccomp RuntimeDefault"
    user = _effective(c, p, "runAsUser")
    assert user is None or user != 0, f"{where}: not uid 0"


def assert_hardened_pod(obj: dict[str, Any]) -> None:
    """Every container of a Deployment (or any pod template), or of a kmcp MCPServer."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    if kind == "MCPServer":
        d = obj["spec"]["deployment"]
        assert_hardened_container(f"MCPServer {name}", d.get("securityContext"), d.get("podSecurityContext"))
        for sidecar in d.get("sidecars") or []:
            assert_hardened_container(f"MCPServer {name} sidecar {sidecar['name']}", sidecar.get("securityContext"), d.get("podSecurityContext"))
        return
    pod = obj["spec"]["template"]["spec"]
    containers = pod["containers"] + pod.get("initContainers", [])
    assert containers, f"{kind} {name} has no containers"
    for c in containers:
        assert_hardened_container(f"{kind} {name} container {c['name']}", c.get("securityContext"), pod.get("securityContext"))
        assert c.get("resources", {}).get("limits") and c["resources"].get("requests"), f"{kind} {name}: resources"
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), f"{kind} {name}: host namespaces"


def assert_no_secret_access(docs: list[dict[str, Any]], allowed_verbs: frozenset[str] = frozenset()) -> None:
    """No Role or ClusterRole rule reaches Secrets: not by name, nor by a wildcard over core kinds,
    nor by wildcard verbs. `allowed_verbs` are the exceptions on Secrets (the operator may `get`
    a kubeconfig Secret by name; nobody may list or watch them)."""
    for doc in docs:
        if doc.get("kind") not in ("Role", "ClusterRole"):
            continue
        for rule in doc.get("rules") or []:
            where = f"{doc['kind']} {doc['metadata']['name']} rule {rule}"
            resources = rule.get("resources") or []
            groups = rule.get("apiGroups") or []
            if "secrets" in resources:
                extra = set(rule.get("verbs") or []) - allowed_verbs
                assert not extra, f"{where}: grants Secrets ({sorted(extra)})"
            assert not ({"", "*"} & set(groups) and "*" in resources), f"{where}: wildcard over core kinds"
            assert "*" not in groups, f"{where}: wildcard API group"
            assert "*" not in (rule.get("verbs") or []), f"{where}: wildcard verbs"
            assert not rule.get("nonResourceURLs"), f"{where}: non-resource URLs"
