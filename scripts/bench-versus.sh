#!/usr/bin/env bash
# Side-by-side benchmark: gitops-agent against the peer MCP server kubernetes-mcp-server (Go),
# installed here from npm (pinned), on the same embedded API server. Writes
# bench/results/<date>-versus.md (tables), <date>-versus.json (figures) and <date>-versus.png
# (throughput and p99 against data-set size), and prints the tables.
#
# Environment: BENCH_SIZES, BENCH_CONCURRENCY, BENCH_SECONDS (see crates/bench/src/versus.rs),
# PEER_BIN to use another peer binary.
set -euo pipefail
cd "$(dirname "$0")/.."

PEER_VERSION=0.0.67
case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "no kubernetes-mcp-server build for $(uname -m)" >&2; exit 1 ;;
esac
if [ -z "${PEER_BIN:-}" ]; then
    peer_dir=target/peer
    PEER_BIN="$PWD/$peer_dir/node_modules/kubernetes-mcp-server-linux-$arch/bin/kubernetes-mcp-server-linux-$arch"
    if [ ! -x "$PEER_BIN" ]; then
        mkdir -p "$peer_dir"
        npm install --prefix "$peer_dir" --no-audit --no-fund --no-save "kubernetes-mcp-server-linux-$arch@$PEER_VERSION" >/dev/null
    fi
fi
export PEER_BIN
"$PEER_BIN" --version

cargo bench --locked --workspace --bench versus

venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import matplotlib' >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check matplotlib==3.11.2
fi
latest=$(ls -1 bench/results/*-versus.json | sort | tail -1)
"$venv/bin/python" scripts/bench-plot.py "$latest" "${latest%.json}.png"
