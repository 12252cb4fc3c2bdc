#!/usr/bin/env bash
# Examples tests: the Flux GitOps layout in examples/flux parses, every kustomize base and overlay
# builds (`kubectl kustomize`), the Flux objects follow Flux's documented API, the HelmReleases'
# values render with our charts (real Helm through helm-python-sdk), and everything applies to the
# embedded API server (Flux CRDs from examples/fixtures/crds, the GitOpsAgent CRD with its CEL
# rules) where the operator turns every agent Ready. Needs the debug binaries
# (`cargo build --workspace`), kubectl, and python3 with the venv module. Extra arguments go to
# pytest. EXAMPLES_VENV overrides the venv location.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${EXAMPLES_VENV:-target/examples-venv}"
requirements=tests/examples/requirements.txt

for bin in target/debug/fake-apiserver target/debug/gitops-agent-operator; do
    if [ ! -x "$bin" ]; then
        echo "examples-tests: $bin is missing; build it first (cargo build --workspace)" >&2
        exit 1
    fi
done
if ! command -v kubectl >/dev/null 2>&1; then
    echo "examples-tests: kubectl is missing (apt-get install kubectl)" >&2
    exit 1
fi

exec scripts/pytest-venv.sh "$venv" "$requirements" tests/examples "$@"
