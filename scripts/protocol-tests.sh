#!/usr/bin/env bash
# MCP protocol tests: the official MCP Python SDK as a real client of gitops-agent, over
# Streamable HTTP and stdio, against the embedded API server with examples/fixtures.
# Needs the debug binaries (`cargo build --workspace`) and python3 with the venv module.
# Extra arguments go to pytest. PROTOCOL_VENV overrides the venv location.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PROTOCOL_VENV:-target/protocol-venv}"
requirements=tests/protocol/requirements.txt

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# Reinstall only when requirements.txt changed since the last install.
stamp="$venv/.requirements.installed"
if ! cmp -s "$requirements" "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

set +e
"$venv/bin/python" -m pytest -q -o cache_dir=target/protocol-pytest-cache tests/protocol "$@"
status=$?
set -e
exit "$status"
