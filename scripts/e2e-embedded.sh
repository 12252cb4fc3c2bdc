#!/usr/bin/env bash
# Runs the end-to-end suite (tests/e2e/run.sh) against the embedded API server, so it cannot rot
# where no real cluster is reachable (CI). The embedded server runs no pods, so: RBAC is enforced
# by the embedded server itself (--rbac); the operator runs here as a process (its in-cluster
# Deployment from config/default is applied but has no pods); the agent the suite talks to runs
# here too, with caller authentication on, against the same API server (E2E_AGENT_URL instead of a
# port-forward). Everything else — kubectl flows, the operator's work, tokens, RBAC — is real.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/debug
dir=target/e2e-embedded
rm -rf "$dir"
mkdir -p "$dir"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
logs() { for f in "$dir"/*.log; do echo "---- $f"; tail -40 "$f"; done; }

"$bin/fake-apiserver" --rbac --crds crds,examples/optional-crds --ready-after-ms 100 \
    --kubeconfig "$dir/kubeconfig" >"$dir/apiserver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
    [ -s "$dir/kubeconfig" ] && break
    sleep 0.1
done
[ -s "$dir/kubeconfig" ] || { logs; echo "the embedded API server did not start"; exit 1; }
export KUBECONFIG="$PWD/$dir/kubeconfig"

"$bin/gitops-agent-operator" run --leader-election=false --verify=false --http-addr 127.0.0.1:0 \
    --log-format text --log-level info >"$dir/operator.log" 2>&1 &
pids+=($!)
port=$((20000 + RANDOM % 20000))
"$bin/gitops-agent" serve --kubeconfig "$KUBECONFIG" --bind-address 127.0.0.1 --port "$port" \
    --metrics-port 0 --auth kubernetes --discovery-seconds 1 --log-level info >"$dir/agent.log" 2>&1 &
pids+=($!)

if ! E2E_AGENT_URL="http://127.0.0.1:$port" E2E_TIMEOUT=60 tests/e2e/run.sh; then
    logs
    exit 1
fi
