#!/usr/bin/env bash
# Runs the end-to-end suite (tests/e2e/run.sh) in its local mode (E2E_MODE=local: operator and
# agent as processes here, each as its own ServiceAccount) against the embedded API server, so it
# cannot rot where no real cluster is reachable (CI). The embedded server enforces RBAC (--rbac)
# and plays a bare kube-apiserver: no Deployment controller reports pods ready
# (--no-deployment-controller), so the suite relies on nothing a real API server without
# kube-controller-manager and kubelets would not do. The fixtures load through kubectl, as on kind.
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

"$bin/fake-apiserver" --rbac --no-deployment-controller --crds examples/optional-crds \
    --kubeconfig "$dir/kubeconfig" >"$dir/apiserver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
    [ -s "$dir/kubeconfig" ] && break
    sleep 0.1
done
[ -s "$dir/kubeconfig" ] || { tail -40 "$dir/apiserver.log"; echo "the embedded API server did not start"; exit 1; }

if ! KUBECONFIG="$PWD/$dir/kubeconfig" E2E_MODE=local E2E_BIN_DIR="$bin" E2E_TIMEOUT=60 tests/e2e/run.sh; then
    echo "---- $dir/apiserver.log"
    tail -40 "$dir/apiserver.log"
    exit 1
fi
