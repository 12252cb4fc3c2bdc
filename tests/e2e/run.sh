#!/usr/bin/env bash
# End-to-end suite against a real cluster: whatever KUBECONFIG names (written for kind, run daily).
# Skips, with a message and exit 0, when no cluster is reachable.
#
#   make e2e                                  # the cluster in $KUBECONFIG (or ~/.kube/config)
#   E2E_KIND_CLUSTER=kind E2E_BUILD=1 make e2e # build the images (make image) and load them into kind first
#   make e2e E2E_MODE=local                    # any API server, no nodes: operator and agent run here
#
# Two modes:
#   E2E_MODE=pods (default): the operator and the agents run as pods from the images (kind, or any
#     cluster with nodes that can pull or were loaded with the images).
#   E2E_MODE=local: the operator and the agent run as local processes (target/debug, or
#     E2E_BIN_DIR), each with a token of its own ServiceAccount, so the RBAC the suite installs and
#     the operator renders is what they act with. Nothing here needs a node: it runs against a bare
#     kube-apiserver, and assumes no kube-controller-manager or kubelet (Deployments never report
#     ready: the suite then checks that the GitOpsAgent says so, reason DeploymentNotAvailable,
#     and that the Deployment asks for what the spec says). scripts/e2e-embedded.sh runs this mode
#     against the embedded API server with its Deployment controller off.
#
# What it checks, in a namespace of its own that it deletes at the end:
#   1. the operator installs from config/default and becomes available (2 replicas, leader election;
#      local mode: the CRD and RBAC from config/default, and the operator as its ServiceAccount);
#   2. the Flux fixtures (examples/fixtures: CRDs, objects, their status through the status
#      subresource) load, so the agent has a real GitOps estate to describe;
#   3. a GitOpsAgent becomes Ready (local mode: is reconciled, its children are there, and Ready
#      reports the Deployment's availability); its pods are hardened (non-root, read-only root fs,
#      no capabilities, seccomp RuntimeDefault) and its ServiceAccount cannot read Secrets;
#   4. through a port-forward the agent refuses callers without a token (401 with the MCP
#      challenge), answers a caller only within that caller's RBAC (a ServiceAccount allowed to
#      read HelmReleases in team-b sees only team-b's), and answers MCP (tools/call) and A2A
#      (agent card, SendMessage in words) about the fixture cluster;
#   5. the operator repairs a deleted child and follows a spec change (replicas: 3 ready pods, or
#      in local mode a Deployment asking for 3);
#   6. deleting the GitOpsAgent removes its cluster-scoped RBAC (finalizer).
#
# Environment:
#   E2E_MODE                              pods (default) or local
#   E2E_OPERATOR_IMAGE, E2E_AGENT_IMAGE   images to run (default ghcr.io/gitops-agent/...:<version>)
#   E2E_KIND_CLUSTER                      load the images (target/images/*.oci.tar) into this kind cluster
#   E2E_BUILD=1                           build the images with scripts/image.sh first
#   E2E_BIN_DIR                           local mode: where the binaries are (default target/debug)
#   E2E_TIMEOUT                           seconds to wait for each readiness (default 300)
#   E2E_KEEP=1                            leave everything installed for inspection
set -euo pipefail
cd "$(dirname "$0")/../.."

mode="${E2E_MODE:-pods}"
case "$mode" in
    pods|local) ;;
    *) echo "e2e: E2E_MODE must be pods or local, not $mode" >&2; exit 64 ;;
esac
bin_dir="${E2E_BIN_DIR:-target/debug}"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
operator_image="${E2E_OPERATOR_IMAGE:-ghcr.io/gitops-agent/gitops-agent-operator:$version}"
agent_image="${E2E_AGENT_IMAGE:-ghcr.io/gitops-agent/gitops-agent:$version}"
timeout="${E2E_TIMEOUT:-300}"
ns="gitops-agent-e2e-$(date +%s)"
work=$(mktemp -d)
step() { printf '\n== %s\n' "$*"; }
# On failure, the local processes' logs too (local mode).
fail() {
    printf 'e2e FAILED: %s\n' "$*" >&2
    for f in "$work"/*.log; do
        [ -f "$f" ] && { echo "---- $f" >&2; tail -40 "$f" >&2; }
    done
    exit 1
}

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

if [ "$mode" = local ]; then
    for b in gitops-agent gitops-agent-operator; do
        [ -x "$bin_dir/$b" ] || fail "E2E_MODE=local runs $bin_dir/$b, which is missing: cargo build --workspace (or set E2E_BIN_DIR)"
    done
else
    if [ "${E2E_BUILD:-}" = "1" ]; then
        step "building images"
        scripts/image.sh
    fi
    if [ -n "${E2E_KIND_CLUSTER:-}" ]; then
        step "loading images into kind cluster $E2E_KIND_CLUSTER"
        for image in gitops-agent-operator gitops-agent; do
            kind load image-archive --name "$E2E_KIND_CLUSTER" "target/images/$image.oci.tar"
        done
    fi
fi

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ "${E2E_KEEP:-}" = "1" ]; then
        echo "E2E_KEEP=1: leaving namespace $ns and the operator installed; logs in $work"
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

if [ "$mode" = pods ]; then
    step "1. operator from config/default ($operator_image)"
    kubectl apply --server-side --force-conflicts -k config/default >/dev/null
    kubectl -n gitops-agent-system set image deployment/gitops-agent-operator "*=$operator_image" >/dev/null
    kubectl -n gitops-agent-system set env deployment/gitops-agent-operator "GITOPS_AGENT_IMAGE_TAG=${agent_image##*:}" >/dev/null
    kubectl wait --for condition=established crd/gitopsagents.agents.gitops.dev --timeout=60s >/dev/null
    kubectl -n gitops-agent-system rollout status deployment/gitops-agent-operator --timeout="${timeout}s"
else
    step "1. operator: CRD and RBAC from config/default, $bin_dir/gitops-agent-operator here as its ServiceAccount"
    # Everything but the operator's Deployment, which would need a node.
    kubectl kustomize config/default | python3 -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] != "Deployment"]
print(yaml.safe_dump_all(docs))' | kubectl apply --server-side --force-conflicts -f - >/dev/null
    kubectl wait --for condition=established crd/gitopsagents.agents.gitops.dev --timeout=60s >/dev/null
    sa_kubeconfig gitops-agent-system gitops-agent-operator "$work/operator.kubeconfig"
    # Leader election on, as deployed: the Lease in gitops-agent-system, through its Role.
    KUBECONFIG="$work/operator.kubeconfig" POD_NAMESPACE=gitops-agent-system POD_NAME="e2e-local-$$" \
        "$bin_dir/gitops-agent-operator" run --verify=false --http-addr 127.0.0.1:0 --resync-seconds 30 \
        --log-format text --log-level info >"$work/operator.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 "$timeout"); do
        [ "$(kubectl -n gitops-agent-system get lease gitops-agent-operator -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)" = "e2e-local-$$" ] && break
        kill -0 "${pids[-1]}" 2>/dev/null || fail "the operator exited"
        sleep 1
    done
    [ "$(kubectl -n gitops-agent-system get lease gitops-agent-operator -o jsonpath='{.spec.holderIdentity}')" = "e2e-local-$$" ] \
        || fail "the operator did not take the leader Lease"
    echo "operator: leading (Lease gitops-agent-operator), acting as system:serviceaccount:gitops-agent-system:gitops-agent-operator"
fi

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
if [ "$mode" = pods ]; then
    kubectl -n "$ns" wait --for=condition=Ready gta/gitops-agent --timeout="${timeout}s" \
        || { kubectl -n "$ns" describe gta/gitops-agent; kubectl -n "$ns" get pods -o wide; fail "the GitOpsAgent did not become Ready"; }
else
    # No kubelet is assumed: the operator must have applied every child and said, in Ready, what
    # it knows of the Deployment's availability, for the generation it saw.
    reconciled() {
        kubectl -n "$ns" get gta gitops-agent -o json | python3 -c '
import json, sys
gta = json.load(sys.stdin)
status = gta.get("status", {})
conditions = {c["type"]: c for c in status.get("conditions", [])}
ready = conditions.get("Ready")
assert status.get("observedGeneration") == gta["metadata"]["generation"] and ready, "not reconciled yet"
state, reason, message = ready["status"], ready["reason"], ready.get("message", "")
if state != "True":
    assert reason == "DeploymentNotAvailable", f"Ready=False for another reason: {ready}"
print(f"Ready={state} reason={reason}: {message}")'
    }
    for _ in $(seq 1 "$timeout"); do
        reconciled >/dev/null 2>&1 && break
        sleep 1
    done
    reconciled || { kubectl -n "$ns" describe gta/gitops-agent; fail "the operator did not reconcile the GitOpsAgent"; }
fi
kubectl -n "$ns" get gta,deploy,svc,sa,pdb,networkpolicy
for child in deployment/gitops-agent service/gitops-agent serviceaccount/gitops-agent poddisruptionbudget/gitops-agent networkpolicy/gitops-agent; do
    kubectl -n "$ns" get "$child" >/dev/null || fail "the operator did not create $child"
done
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

if [ "$mode" = local ]; then
    step "4. callers, MCP and A2A ($bin_dir/gitops-agent here, as the agent's ServiceAccount)"
    port=$((20000 + RANDOM % 20000))
    # The agent's own flags as the operator rendered them, but for where it listens.
    KUBECONFIG="$work/agent.kubeconfig" "$bin_dir/gitops-agent" serve --bind-address 127.0.0.1 --port "$port" \
        --metrics-port 0 --auth kubernetes --discovery-seconds 2 --log-level info >"$work/agent.log" 2>&1 &
    pids+=($!)
    base="http://127.0.0.1:$port"
else
    step "4. callers, MCP and A2A (through a port-forward)"
    port=$((20000 + RANDOM % 20000))
    kubectl -n "$ns" port-forward svc/gitops-agent "$port:8080" >/dev/null 2>&1 &
    forward=$!
    base="http://127.0.0.1:$port"
fi
for _ in $(seq 1 $((timeout * 5))); do
    curl -sf "$base/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -sf "$base/readyz" >/dev/null || fail "the agent at $base is not ready"
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
if [ "$mode" = pods ]; then
    kubectl -n "$ns" wait --for=jsonpath='{.status.readyReplicas}'=3 gta/gitops-agent --timeout="${timeout}s" \
        || fail "the agent did not scale to 3 ready replicas"
else
    kubectl -n "$ns" wait --for=jsonpath='{.spec.replicas}'=3 deployment/gitops-agent --timeout="${timeout}s" \
        || fail "the operator did not scale the Deployment to 3 replicas"
fi
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
