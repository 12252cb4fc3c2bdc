#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance) against gitops-agent
# serving the fixture cluster (fake-apiserver + examples/fixtures), once per spec version.
#
#   cargo build --workspace && scripts/mcp-conformance.sh
#
# Prints per version the scenarios passed and the checks passed out of all checks, writes the suite's full output
# to target/conformance/results-<version>.txt (and its per-check JSON to
# target/conformance/results-<version>/), and exits non-zero if any check fails that is not
# listed in EXPECTED_FAILURES below.
#
# Environment:
#   GITOPS_AGENT_BIN, FAKE_APISERVER_BIN   binaries (default target/debug/gitops-agent, target/debug/fake-apiserver)
#   CONFORMANCE_SPEC_VERSIONS              versions to run (default "2026-07-28 2025-11-25 2025-06-18")
#   CONFORMANCE_PORT                       port of the agent under test (default 18181)
#   CONFORMANCE_NODE                       a Node >= 22 binary to use instead of the pinned npm one
#
# Needs npm (to install the pinned packages into target/conformance on first use) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

# The suite's `latest` tag (0.1.x) does not know 2026-07-28; it needs Node >= 22, installed from
# npm (node-<os>-<arch>) so the system Node is left alone.
CONFORMANCE_VERSION=0.2.0-alpha.12
NODE_VERSION=22.23.3

# The checks expected to fail, one per line as scenario:check-id, each because it calls one of the
# suite's own fixtures (test_* tools and prompts, test:// resources, json_schema_2020_12_tool),
# which a production server does not ship. Listed per check, not per scenario: every other check
# of the same scenario (wire-schema-valid included) must pass. A listed check that starts passing
# is reported, so the list cannot go stale silently.
EXPECTED_FAILURES='
# --- tools the suite calls by name (all versions)
tools-call-simple-text:tools-call-simple-text                     # test_simple_text
tools-call-image:tools-call-image                                 # test_image_content
tools-call-audio:tools-call-audio                                 # test_audio_content
tools-call-embedded-resource:tools-call-embedded-resource         # test_embedded_resource
tools-call-mixed-content:tools-call-mixed-content                 # test_multiple_content_types
tools-call-error:tools-call-error                                 # test_error_handling
tools-call-with-progress:tools-call-with-progress                 # test_tool_with_progress (our progress: tests/protocol)
tools-call-with-logging:tools-call-with-logging                   # test_tool_with_logging (our logging: tests/protocol)
tools-call-sampling:tools-call-sampling                           # test_sampling
tools-call-elicitation:tools-call-elicitation                     # test_elicitation (our elicitation: tests/protocol)
elicitation-sep1034-defaults:elicitation-sep1034-general          # test_elicitation_sep1034_defaults
elicitation-sep1330-enums:elicitation-sep1330-general             # test_elicitation_sep1330_enums
json-schema-2020-12:json-schema-2020-12-tool-found                # json_schema_2020_12_tool
# --- prompts and resources the suite reads by name (ours are diagnose_flux_object... and flux://)
prompts-get-simple:prompts-get-simple                             # prompt test_simple_prompt
prompts-get-with-args:prompts-get-with-args                       # prompt test_prompt_with_arguments
prompts-get-embedded-resource:prompts-get-embedded-resource       # prompt test_prompt_with_embedded_resource
prompts-get-with-image:prompts-get-with-image                     # prompt test_prompt_with_image
completion-complete:completion-complete                           # completes prompt test_prompt_with_arguments; an unknown prompt is -32602, as the spec says
resources-read-text:resources-read-text                           # test://static-text
resources-read-binary:resources-read-binary                       # test://static-binary
resources-templates-read:resources-templates-read                 # test://template/123/data
resources-subscribe:resources-subscribe                           # subscribes to test://watched-resource, not a URI of ours: -32602
resources-unsubscribe:resources-unsubscribe                       # subscribes to test://watched-resource first
# --- 2026-07-28 multi round-trip fixtures (our confirmation round trip: tests/protocol)
input-required-result-basic-elicitation:sep-2322-elicitation-incomplete       # test_input_required_result_elicitation
input-required-result-basic-sampling:sep-2322-sampling-incomplete             # test_input_required_result_sampling
input-required-result-basic-list-roots:sep-2322-list-roots-incomplete         # test_input_required_result_list_roots
input-required-result-request-state:sep-2322-request-state-incomplete         # test_input_required_result_request_state
input-required-result-multiple-input-requests:sep-2322-multiple-inputs-incomplete # test_input_required_result_multiple_inputs
input-required-result-multi-round:sep-2322-multi-round-r1                     # test_input_required_result_multi_round
input-required-result-non-tool-request:sep-2322-non-tool-incomplete           # prompt test_input_required_result_prompt
input-required-result-result-type:sep-2322-result-type-included               # test_input_required_result_elicitation
input-required-result-tampered-state:sep-2322-reject-tampered-state           # test_input_required_result_tampered_state
input-required-result-capability-check:sep-2322-respect-client-capabilities   # test_input_required_result_capabilities
# --- 2026-07-28 stateless checks that need the diagnostic tools of the suite
server-stateless:sep-2575-server-rejects-undeclared-capability          # test_missing_capability
server-stateless:sep-2575-missing-capability-http-400                   # test_missing_capability
server-stateless:sep-2575-http-server-no-independent-requests-on-stream # test_streaming_elicitation
server-stateless:sep-2575-server-no-log-without-loglevel                # test_logging_tool
'

agent_bin=${GITOPS_AGENT_BIN:-target/debug/gitops-agent}
apiserver_bin=${FAKE_APISERVER_BIN:-target/debug/fake-apiserver}
versions=${CONFORMANCE_SPEC_VERSIONS:-2026-07-28 2025-11-25 2025-06-18}
port=${CONFORMANCE_PORT:-18181}
dir=target/conformance
run="$dir/run"

for bin in "$agent_bin" "$apiserver_bin"; do
    [ -x "$bin" ] || { echo "error: $bin not found; run cargo build --workspace first" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "error: curl is needed" >&2; exit 2; }

# --- 1. the pinned suite and Node 22 ------------------------------------------------------------
pkg_version() { # the "version" of an installed package.json, or nothing
    [ -f "$1" ] && sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' "$1" | head -n1
}
cli="$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
wanted=()
if [ "$(pkg_version "$dir/node_modules/@modelcontextprotocol/conformance/package.json")" != "$CONFORMANCE_VERSION" ]; then
    wanted+=("@modelcontextprotocol/conformance@$CONFORMANCE_VERSION")
fi
if [ -n "${CONFORMANCE_NODE:-}" ]; then
    node=$CONFORMANCE_NODE
else
    case "$(uname -m)" in
        x86_64 | amd64) arch=x64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) echo "error: no node-<os>-$(uname -m) package; set CONFORMANCE_NODE to a Node >= 22" >&2; exit 2 ;;
    esac
    node_pkg="node-$(uname -s | tr '[:upper:]' '[:lower:]')-$arch"
    node="$dir/node_modules/$node_pkg/bin/node"
    if [ "$(pkg_version "$dir/node_modules/$node_pkg/package.json")" != "$NODE_VERSION" ] || [ ! -x "$node" ]; then
        wanted+=("$node_pkg@$NODE_VERSION")
    fi
fi
if [ ${#wanted[@]} -gt 0 ]; then
    command -v npm >/dev/null || { echo "error: npm is needed to install ${wanted[*]}" >&2; exit 2; }
    echo "installing ${wanted[*]} into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --save-exact --no-audit --no-fund --loglevel=error "${wanted[@]}" >/dev/null
fi
node_major=$("$node" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 22 ] || { echo "error: $node is Node $node_major; the suite needs >= 22" >&2; exit 2; }
[ -f "$cli" ] || { echo "error: $cli missing after install" >&2; exit 2; }

# --- 2. fake-apiserver with the fixture cluster, and the agent under test ------------------------
mkdir -p "$run"
rm -f "$run/kubeconfig"
if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
    echo "error: something already listens on 127.0.0.1:$port (set CONFORMANCE_PORT)" >&2
    exit 2
fi
apiserver="" agent=""
cleanup() {
    [ -n "$agent" ] && kill "$agent" 2>/dev/null || true
    [ -n "$apiserver" ] && kill "$apiserver" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$apiserver_bin" --fixtures examples/fixtures --kubeconfig "$run/kubeconfig" >"$run/apiserver.log" 2>&1 &
apiserver=$!
for _ in $(seq 1 300); do
    [ -s "$run/kubeconfig" ] && break
    kill -0 "$apiserver" 2>/dev/null || break
    sleep 0.1
done
[ -s "$run/kubeconfig" ] || { echo "error: fake-apiserver did not start:" >&2; cat "$run/apiserver.log" >&2; exit 1; }

"$agent_bin" serve --kubeconfig "$run/kubeconfig" --bind-address 127.0.0.1 --port "$port" \
    --metrics-port 0 --log-format text >"$run/agent.log" 2>&1 &
agent=$!
ready=""
for _ in $(seq 1 300); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/readyz")" = 200 ]; then
        ready=1
        break
    fi
    kill -0 "$agent" 2>/dev/null || break
    sleep 0.1
done
[ -n "$ready" ] || { echo "error: gitops-agent did not become ready:" >&2; tail -n 50 "$run/agent.log" >&2; exit 1; }

# --- 3. the suite, once per version, judged against EXPECTED_FAILURES ----------------------------
# Reads the per-scenario checks.json the suite writes with -o; a scenario fails when one of its
# checks has status FAILURE (the suite's own rule).
cat >"$dir/evaluate.mjs" <<'EOF'
import { readdirSync, readFileSync, existsSync } from 'node:fs';
const [outDir, version] = process.argv.slice(2);
const allowed = new Set(); // "scenario:check-id"
for (const line of process.env.EXPECTED_FAILURES.split('\n')) {
  const entry = line.replace(/#.*/, '').trim();
  if (entry) allowed.add(entry);
}
const results = [];
for (const name of readdirSync(outDir).sort()) {
  const m = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(name);
  const file = `${outDir}/${name}/checks.json`;
  if (!m || !existsSync(file)) continue;
  results.push({ scenario: m[1], checks: JSON.parse(readFileSync(file, 'utf8')) });
}
if (results.length === 0) {
  console.log(`conformance ${version}: no scenario results in ${outDir}`);
  process.exit(1);
}
const count = (status) => results.reduce((n, r) => n + r.checks.filter((c) => c.status === status).length, 0);
const total = results.reduce((n, r) => n + r.checks.length, 0);
const passed = results.filter((r) => !r.checks.some((c) => c.status === 'FAILURE')).length;
const failed = count('FAILURE');
console.log(`conformance ${version}: ${passed}/${results.length} scenarios passed; ${count('SUCCESS')}/${total} checks passed, ` +
  `${failed} failed, ${count('WARNING')} warnings, ${count('SKIPPED') + count('INFO')} skipped or informational`);
let unexpected = 0;
for (const { scenario, checks } of results) {
  for (const c of checks.filter((c) => c.status === 'FAILURE' && !allowed.has(`${scenario}:${c.id}`))) {
    unexpected++;
    console.log(`  UNEXPECTED FAILURE ${scenario}:${c.id}: ${c.errorMessage ?? c.description}`);
  }
  for (const c of checks.filter((c) => c.status === 'SUCCESS' && allowed.has(`${scenario}:${c.id}`))) {
    console.log(`  note: ${scenario}:${c.id} now passes; drop it from EXPECTED_FAILURES`);
  }
}
console.log(`  ${failed - unexpected} expected failure(s) (checks that call the suite's own fixtures), ${unexpected} unexpected`);
process.exit(unexpected > 0 ? 1 : 0);
EOF

status=0
for version in $versions; do
    out="$dir/results-$version"
    rm -rf "$out"
    rc=0
    "$node" "$cli" server --url "http://127.0.0.1:$port/mcp" --suite all --spec-version "$version" \
        --output-dir "$out" >"$out.txt" 2>&1 || rc=$?
    echo "(conformance CLI exit code: $rc)" >>"$out.txt"
    if ! EXPECTED_FAILURES="$EXPECTED_FAILURES" "$node" "$dir/evaluate.mjs" "$out" "$version" | tee -a "$out.txt"; then
        status=1
        echo "  details: $out.txt (check JSON in $out/)"
    fi
    if ! kill -0 "$agent" 2>/dev/null; then
        echo "error: gitops-agent exited during the $version run:" >&2
        tail -n 50 "$run/agent.log" >&2
        exit 1
    fi
done
exit "$status"
