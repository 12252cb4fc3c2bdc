#!/usr/bin/env bash
# The no-cluster demo: an embedded Kubernetes API server with a realistic Flux cluster, the
# operator reconciling the example GitOpsAgent against it, and the agent server answering MCP
# questions about that cluster's Flux state.
# DEMO_ONCE=1 exits after showing the result (used by CI as a smoke test).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/debug
demo=target/demo
mkdir -p "$demo"
rm -f "$demo/kubeconfig"

echo "== 1. what the operator creates for examples/gitopsagent.yaml (render, no cluster):"
"$bin/gitops-agent-operator" render -f examples/gitopsagent.yaml | grep -E '^(kind|  name):' | paste - - | sed 's/^/   /'

echo "== 2. starting the embedded API server (Flux fixtures, Gateway API/cert-manager/Prometheus CRDs)"
"$bin/fake-apiserver" --crds crds,examples/optional-crds --fixtures examples/fixtures \
    --apply examples/gitopsagent.yaml --kubeconfig "$demo/kubeconfig" >"$demo/apiserver.log" 2>&1 &
apiserver=$!
operator=""
agent=""
cleanup() {
    [ -n "$agent" ] && kill "$agent" 2>/dev/null || true
    [ -n "$operator" ] && kill "$operator" 2>/dev/null || true
    kill "$apiserver" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 300); do
    [ -s "$demo/kubeconfig" ] && break
    if ! kill -0 "$apiserver" 2>/dev/null; then cat "$demo/apiserver.log"; exit 1; fi
    sleep 0.1
done
[ -s "$demo/kubeconfig" ] || { echo "the API server did not start"; cat "$demo/apiserver.log"; exit 1; }
sed 's/^/   /' "$demo/apiserver.log"

echo "== 3. running the operator against it"
KUBECONFIG="$demo/kubeconfig" "$bin/gitops-agent-operator" run --leader-election=false --verify=false \
    --http-addr 127.0.0.1:0 --log-format text --log-level info >"$demo/operator.log" 2>&1 &
operator=$!

export KUBECONFIG="$demo/kubeconfig"
if command -v kubectl >/dev/null 2>&1; then
    kubectl wait --for=condition=Ready gta/gitops-agent -n gitops-agent --timeout=60s
    echo "== 4. the agent and its children"
    kubectl get gta -n gitops-agent
    kubectl get deploy,svc,sa,pdb,networkpolicy,servicemonitor -n gitops-agent
    kubectl get clusterrole,clusterrolebinding -l agents.gitops.dev/agent=gitops-agent
    kubectl describe gta gitops-agent -n gitops-agent | sed -n '/Conditions:/,$p'
    echo "== 5. the Flux state the agent will answer questions about"
    kubectl get kustomizations,helmreleases -A
else
    sleep 5
    echo "(install kubectl to see the result; the operator log is in $demo/operator.log)"
fi

port="${DEMO_AGENT_PORT:-18080}"
echo "== 6. the agent server: MCP at http://127.0.0.1:$port/mcp and A2A at http://127.0.0.1:$port/ (read-only), asked four questions"
"$bin/gitops-agent" serve --kubeconfig "$demo/kubeconfig" --bind-address 127.0.0.1 --port "$port" \
    --metrics-port 0 --log-level info >"$demo/agent.log" 2>&1 &
agent=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    if ! kill -0 "$agent" 2>/dev/null; then cat "$demo/agent.log"; exit 1; fi
    sleep 0.1
done
ask() {
    echo "-- $1 $2"
    scripts/mcp-ask.py "http://127.0.0.1:$port/mcp" "$1" "$2" | sed 's/^/   /'
}
ask get_gitops_status '{}'
ask debug_reconciliation '{"resource_type": "helmrelease", "name": "redis", "namespace": "team-b"}'
ask trace_object '{"kind": "Pod", "name": "api-7c9d8f6b5-qwz8r", "namespace": "team-b"}'
echo "-- A2A, in words: which kustomizations are failing in flux-system?"
scripts/a2a-ask.py "http://127.0.0.1:$port" "which kustomizations are failing in flux-system?" | sed 's/^/   /'

echo
echo "The cluster and the agent stay up until Ctrl-C. Try:"
echo "  scripts/mcp-ask.py http://127.0.0.1:$port/mcp list_kustomizations '{\"status_filter\": \"failed\"}'"
echo "  scripts/a2a-ask.py http://127.0.0.1:$port \"why is helmrelease redis in team-b failing?\""
echo "  curl -s http://127.0.0.1:$port/.well-known/agent-card.json"
echo "  npx @modelcontextprotocol/inspector   # connect to http://127.0.0.1:$port/mcp (Streamable HTTP)"
echo "  export KUBECONFIG=$PWD/$demo/kubeconfig"
echo "  kubectl get gta,deploy -A; kubectl describe gta gitops-agent -n gitops-agent"
echo "  kubectl apply --server-side -f examples/nkp-production.yaml   # watch the operator add the HTTPRoute and Certificate"
echo "Logs: $demo/operator.log, $demo/agent.log, $demo/apiserver.log"
if [ "${DEMO_ONCE:-}" = "1" ]; then
    exit 0
fi
wait "$apiserver"
