#!/usr/bin/env bash
# Protocol tests: official SDKs as real clients of gitops-agent, against the embedded API server
# with examples/fixtures (one agent for the whole run, started by tests/protocol/conftest.py):
#   * MCP: the MCP Python SDK (`mcp`) over Streamable HTTP and stdio (test_mcp_client.py);
#   * A2A: the A2A Python SDK (`a2a-sdk`) over JSON-RPC, HTTP+JSON and its 0.3 compatibility
#     transport, and the A2A JavaScript SDK (`@a2a-js/sdk`, tests/protocol/a2a-js) over JSON-RPC
#     and HTTP+JSON (test_a2a_client.py).
# Needs the debug binaries (`cargo build --workspace`), python3 with the venv module, and npm: the
# JS client's pinned packages are installed with `npm ci` into target/a2a-js, and it runs on the
# Node 22 that scripts/node.sh installs from npm into target/conformance (shared with
# scripts/mcp-conformance.sh); NODE_BIN overrides that Node.
# Extra arguments go to pytest (e.g. `-k a2a`). PROTOCOL_VENV overrides the venv location.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PROTOCOL_VENV:-target/protocol-venv}"
requirements=tests/protocol/requirements.txt

exec scripts/pytest-venv.sh "$venv" "$requirements" tests/protocol "$@"
