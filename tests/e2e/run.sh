#!/usr/bin/env bash
# End-to-end suite against a real cluster: whatever KUBECONFIG names (written for kind, run daily).
# Skips, with a message and exit 0, when no cluster is reachable.
#
#   make e2e                                  # the cluster in $KUBECONFIG (or ~/.kube/config)
#   E2E_KIND_CLUSTER=kind E2E_BUILD=1 make e2e # build the images (docker/podman) and load them into kind first
#
# What it checks, in a namespace of its own that it deletes at the end:
#   1. the operator installs from config/default and becomes available (2 replicas, leader election);
#   2. the Flux fixtures (examples/fixtures: CRDs, objects, their status through the status
#      subresource) load, so the agent has a real GitOps estate to describe;
#   3. a GitOpsAgent becomes Ready; its pods are hardened (non-root, read-only root fs, no
#      capabilities, seccomp RuntimeDefault) and its ServiceAccount cannot read Secrets;
#   4. through a port-forward the agent refuses callers without a token (401 with the MCP
#      challenge), answers a caller only within that caller's RBAC (a ServiceAccount allowed to
#      read HelmReleases in team-b sees only team-b's), and answers MCP (tools/call) and A2A
#      (agent card, SendMessage in words) about the fixture cluster;
#   5. the operator repairs a deleted child and follows a spec change (replicas);
#   6. deleting the GitOpsAgent removes its cluster-scoped RBAC (finalizer).
#
# Environment:
#   E2E_OPERATOR_IMAGE, E2E_AGENT_IMAGE   images to run (default ghcr.io/gitops-agent/...:<version>)
#   E2E_KIND_CLUSTER                      load the images into this kind cluster
#   E2E_BUILD=1                           build the images with scripts/image.sh first
#   E2E_TIMEOUT                           seconds to wait for each readiness (default 300)
#   E2E_KEEP=1                            leave everything installed for inspection
#   E2E_AGENT_URL                         talk to the agent at this URL instead of through a
#                                         port-forward (scripts/e2e-embedded.sh: no pods run there)
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
operator_image="${E2E_OPERATOR_IMAGE:-ghcr.io/gitops-agent/gitops-agent-operator:$version}"
agent_image="${E2E_AGENT_IMAGE:-ghcr.io/gitops-agent/gitops-agent:$version}"
timeout="${E2E_TIMEOUT:-300}"
ns="gitops-agent-e2e-$(date +%s)"
work=$(mktemp -d)
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'e2e FAILED: %s\n' "$*" >&2; exit 1; }

if ! command -v kubectl >/dev/null 2>&1; then
    echo "e2e: skipped — kubectl is not installed"
    exit 0
fi
if ! python3 -c 'import yaml' >/dev/null 2>&1; then
    fail "python3 with PyYAML is needed to load the fixtures' status (apt-get install python3-yaml)"
fi
if ! kubectl version --request-timeout=5s >/dev/null 2>&1; then
    echo "e2e: skipped — no reachable Kubernetes cluster (KUBECONFIG=${KUBECONFIG:-~/.kube/config}); create one with 'kind create cluster' and run again"
    exit 0
fi
server_minor=$(kubectl version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["minor"].rstrip("+"))')
if [ "$server_minor" -lt 33 ]; then
    fail "the cluster runs Kubernetes 1.$server_minor; gitops-agent needs 1.33 or newer"
fi

if [ "${E2E_BUILD:-}" = "1" ]; then
    step "building images"
    scripts/image.sh
fi
if [ -n "${E2E_KIND_CLUSTER:-}" ]; then
    step "loading images into kind cluster $E2E_KIND_CLUSTER"
    kind load docker-image --name "$E2E_KIND_CLUSTER" "$operator_image" "$agent_image"
fi

cleanup() {
    if [ "${E2E_KEEP:-}" = "1" ]; then
        echo "E2E_KEEP=1: leaving namespace $ns and the operator installed"
        return
    fi
    if [ -n "${forward:-}" ]; then kill "$forward" 2>/dev/null || true; fi
    kubectl -n team-b delete role,rolebinding "e2e-viewer-$ns" --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# A kubeconfig that authenticates with a ServiceAccount's token only (no client certificate), so
# the API server answers as that ServiceAccount: sa_kubeconfig <namespace> <name> <file>.
sa_kubeconfig() {
    local token
    token=$(kubectl -n "$1" create token "$2" --duration=10m)
    kubectl config view --minify --raw -o json | python3 -c '
import json, sys
cluster = json.load(sys.stdin)["clusters"][0]
print(json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": [cluster],
    "users": [{"name": "sa", "user": {"token": sys.argv[1]}}],
    "contexts": [{"name": "sa", "context": {"cluster": cluster["name"], "user": "sa"}}],
    "current-context": "sa"}))' "$token" >"$3"
}

step "1. operator from config/default ($operator_image)"
kubectl apply --server-side --force-conflicts -k config/default >/dev/null
kubectl -n gitops-agent-system set image deployment/gitops-agent-operator "*=$operator_image" >/dev/null
kubectl -n gitops-agent-system set env deployment/gitops-agent-operator "GITOPS_AGENT_IMAGE_TAG=${agent_image##*:}" >/dev/null
kubectl wait --for condition=established crd/gitopsagents.agents.gitops.dev --timeout=60s >/dev/null
kubectl -n gitops-agent-system rollout status deployment/gitops-agent-operator --timeout="${timeout}s"

step "2. Flux fixtures (CRDs, objects, status)"
kubectl apply --server-side -f examples/fixtures/crds/ >/dev/null
kubectl wait --for condition=established crd --all --timeout=60s >/dev/null
kubectl apply --server-side --force-conflicts -f examples/fixtures/objects/ >/dev/null
# A real API server drops status on create: write it through the status subresource, as the
# Flux controllers would.
python3 - <<'PY'
import glob, json, subprocess, yaml
for path in sorted(glob.glob("examples/fixtures/objects/*.yaml")):
    for doc in yaml.safe_load_all(open(path)):
        if not doc or "status" not in doc or doc["kind"] in ("Pod", "Event", "Namespace"):
            continue
        meta = doc["metadata"]
        cmd = ["kubectl", "patch", doc["kind"].lower() + "." + doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else doc["kind"].lower(),
               meta["name"], "--subresource=status", "--type=merge", "-p", json.dumps({"status": doc["status"]})]
        if meta.get("namespace"):
            cmd += ["-n", meta["namespace"]]
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
PY

step "3. a GitOpsAgent in $ns becomes Ready"
kubectl create namespace "$ns" >/dev/null
repo="${agent_image%:*}"
tag="${agent_image##*:}"
kubectl apply --server-side -f - >/dev/null <<YAML
apiVersion: agents.gitops.dev/v1alpha1
kind: GitOpsAgent
metadata:
  name: gitops-agent
  namespace: $ns
spec:
  replicas: 2
  image:
    repository: $repo
    tag: "$tag"
YAML
kubectl -n "$ns" wait --for=condition=Ready gta/gitops-agent --timeout="${timeout}s" \
    || { kubectl -n "$ns" describe gta/gitops-agent; kubectl -n "$ns" get pods -o wide; fail "the GitOpsAgent did not become Ready"; }
kubectl -n "$ns" get gta,deploy,svc,pdb,networkpolicy
pod_json=$(kubectl -n "$ns" get deploy gitops-agent -o json)
python3 - "$pod_json" <<'PY' || fail "the agent pod is not hardened"
import json, sys
spec = json.loads(sys.argv[1])["spec"]["template"]["spec"]
pod = spec.get("securityContext", {})
for c in spec["containers"]:
    sc = c.get("securityContext", {})
    assert sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem"
    assert sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation"
    assert sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities"
    assert (sc.get("runAsNonRoot") or pod.get("runAsNonRoot")) is True, "runAsNonRoot"
    assert (sc.get("seccompProfile") or pod.get("seccompProfile", {})).get("type") == "RuntimeDefault", "seccomp"
print("pod security: ok")
PY
sa_kubeconfig "$ns" gitops-agent "$work/agent.kubeconfig"
as_agent() { KUBECONFIG="$work/agent.kubeconfig" kubectl "$@"; }
# `kubectl auth can-i` prints yes or no, then the authorizer's reason if it gave one.
can_agent() { as_agent auth can-i "$@" 2>/dev/null | head -1 | cut -d' ' -f1 || true; }
[ "$(can_agent get secrets -A)" = "no" ] || fail "the agent's ServiceAccount can read Secrets"
as_agent get secrets -n "$ns" >/dev/null 2>&1 && fail "the agent's ServiceAccount listed Secrets with its own token"
[ "$(can_agent list kustomizations.kustomize.toolkit.fluxcd.io -A)" = "yes" ] || fail "the agent cannot list Kustomizations"
[ "$(can_agent patch kustomizations.kustomize.toolkit.fluxcd.io -A)" = "no" ] || fail "a read-only agent may patch Kustomizations"
[ "$(can_agent create tokenreviews.authentication.k8s.io)" = "yes" ] || fail "the agent cannot review its callers' tokens"
echo "RBAC: no Secrets (its own token is refused), reads Flux, no writes, reviews callers: ok"

step "4. callers, MCP and A2A (${E2E_AGENT_URL:-through a port-forward})"
if [ -n "${E2E_AGENT_URL:-}" ]; then
    base="${E2E_AGENT_URL%/}"
else
    port=$((20000 + RANDOM % 20000))
    kubectl -n "$ns" port-forward svc/gitops-agent "$port:8080" >/dev/null 2>&1 &
    forward=$!
    base="http://127.0.0.1:$port"
fi
for _ in $(seq 1 50); do
    curl -sf "$base/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
unset GITOPS_AGENT_TOKEN
challenge=$(curl -s -D - -o /dev/null -X POST -H 'content-type: application/json' -d '{}' "$base/mcp")
grep -q '^HTTP/[0-9.]* 401' <<<"$challenge" || fail "a call without a token was not refused with 401: $challenge"
grep -qi '^www-authenticate: Bearer .*resource_metadata=' <<<"$challenge" || fail "no MCP authorization challenge: $challenge"
curl -sf "$base/.well-known/oauth-protected-resource/mcp" | grep -q '"bearer_methods_supported"' \
    || fail "no protected-resource metadata"
kubectl -n "$ns" create serviceaccount e2e-viewer >/dev/null
kubectl apply --server-side -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: e2e-viewer-$ns, namespace: team-b}
rules:
  - {apiGroups: [helm.toolkit.fluxcd.io], resources: [helmreleases], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-viewer-$ns, namespace: team-b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-viewer-$ns}
subjects:
  - {kind: ServiceAccount, name: e2e-viewer, namespace: $ns}
YAML
GITOPS_AGENT_TOKEN=$(kubectl -n "$ns" create token e2e-viewer --duration=10m)
export GITOPS_AGENT_TOKEN
answer=$(scripts/mcp-ask.py "$base/mcp" get_helmreleases '{}') || fail "MCP get_helmreleases as e2e-viewer failed: $answer"
grep -q 'redis' <<<"$answer" || fail "the viewer does not see team-b's HelmRelease: $answer"
grep -q 'podinfo' <<<"$answer" && fail "the viewer sees HelmReleases outside team-b: $answer"
answer=$(scripts/mcp-ask.py "$base/mcp" list_kustomizations '{"namespace": "flux-system"}' 2>&1) \
    && fail "the viewer listed Kustomizations it may not read: $answer"
grep -q 'may not list kustomizations' <<<"$answer" || fail "the refusal does not say why: $answer"
echo "callers: 401 without a token, each caller within their own RBAC: ok"
# A caller who may read what the agent reads: the agent's own ServiceAccount.
GITOPS_AGENT_TOKEN=$(kubectl -n "$ns" create token gitops-agent --duration=10m)
answer=$(scripts/mcp-ask.py "$base/mcp" list_kustomizations '{"namespace": "flux-system"}') \
    || fail "MCP list_kustomizations failed: $answer"
grep -q 'infrastructure' <<<"$answer" || fail "MCP answer does not list the fixture Kustomizations: $answer"
echo "MCP: ok"
card=$(curl -sf "$base/.well-known/agent-card.json") || fail "no agent card"
grep -q '"get-gitops-status"' <<<"$card" || fail "the agent card lacks the get-gitops-status skill"
grep -q '"httpAuthSecurityScheme"' <<<"$card" || fail "the agent card does not declare the bearer scheme"
answer=$(scripts/a2a-ask.py "$base" "why is helmrelease redis in team-b failing?") \
    || fail "A2A SendMessage failed: $answer"
grep -q 'skill debug-reconciliation' <<<"$answer" || fail "A2A routed the question elsewhere: $answer"
echo "A2A: ok"
unset GITOPS_AGENT_TOKEN
if [ -n "${forward:-}" ]; then kill "$forward" 2>/dev/null || true; fi

step "5. the operator repairs and follows the spec"
kubectl -n "$ns" delete service gitops-agent --wait=true >/dev/null
for _ in $(seq 1 60); do
    kubectl -n "$ns" get service gitops-agent >/dev/null 2>&1 && break
    sleep 1
done
kubectl -n "$ns" get service gitops-agent >/dev/null || fail "the deleted Service was not recreated"
kubectl -n "$ns" patch gta gitops-agent --type=merge -p '{"spec":{"replicas":3}}' >/dev/null
kubectl -n "$ns" wait --for=jsonpath='{.status.readyReplicas}'=3 gta/gitops-agent --timeout="${timeout}s" \
    || fail "the agent did not scale to 3 ready replicas"
echo "repair and scale: ok"

step "6. deleting the GitOpsAgent removes its cluster-scoped RBAC"
role="gitops-agent-$ns-gitops-agent"
for r in "$role" "$role-auth"; do
    kubectl get clusterrole "$r" >/dev/null || fail "ClusterRole $r missing before deletion"
done
kubectl -n "$ns" delete gta gitops-agent --wait=true --timeout="${timeout}s" >/dev/null
for r in "$role" "$role-auth"; do
    kubectl get clusterrole "$r" >/dev/null 2>&1 && fail "ClusterRole $r outlived its GitOpsAgent"
done
echo "cleanup: ok"

printf '\ne2e: all checks passed against %s\n' "$(kubectl config current-context 2>/dev/null || echo 'the cluster')"
