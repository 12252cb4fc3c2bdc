#!/usr/bin/env bash
# make soak: the agent and the operator, release builds, for SOAK_MINUTES (30) each under steady
# churn and repeated faults (crates/bench/src/soak/). Writes bench/results/<date>-soak-<run>.md,
# .json and .png (scripts/soak-plot.py) per run and fails when a run's checks fail.
#
#   make soak                        # both runs, 30 minutes each
#   SOAK=agent SOAK_MINUTES=5 make soak   # one run, shorter
set -euo pipefail
cd "$(dirname "$0")/.."

runs=()
case "${SOAK:-}" in
    "") runs=(agent operator) ;;
    agent | operator) runs=("$SOAK") ;;
    *) echo "SOAK must be agent or operator, not ${SOAK}" >&2; exit 2 ;;
esac

venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import matplotlib' >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check matplotlib==3.11.2
fi

status=0
for run in "${runs[@]}"; do
    SOAK="$run" cargo bench --locked --workspace --bench soak || status=$?
    # A failed run still writes its samples: plot them too.
    latest=$(ls -1 bench/results/*-soak-"$run".json 2>/dev/null | sort | tail -1)
    if [ -n "$latest" ]; then
        "$venv/bin/python" scripts/soak-plot.py "$latest" "${latest%.json}.png"
    fi
done
exit "$status"
