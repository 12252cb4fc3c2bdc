#!/usr/bin/env bash
# Chart tests: real Helm (helm-python-sdk embeds Helm's Go SDK) lints and renders chart/gitops-agent
# (every deploymentMode with the default, enterprise, NKP and predecessor values) and
# chart/gitops-agent-operator; checks the security checklist, values-schema refusals, kmcp's
# MCPServer API, golden files, and that deployment mode equals `gitops-agent-operator render` of
# the chart's GitOpsAgent. Needs the debug binaries (`cargo build --workspace`) and python3 with
# the venv module. Extra arguments go to pytest. CHART_VENV overrides the venv location;
# UPDATE_GOLDEN=1 rewrites tests/chart/golden/.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CHART_VENV:-target/chart-venv}"
requirements=tests/chart/requirements.txt

for bin in target/debug/gitops-agent target/debug/gitops-agent-operator; do
    if [ ! -x "${GITOPS_AGENT_BIN:-$bin}" ] && [ ! -x "$bin" ]; then
        echo "chart-tests: $bin is missing; build it first (cargo build --workspace)" >&2
        exit 1
    fi
done

exec scripts/pytest-venv.sh "$venv" "$requirements" tests/chart "$@"
