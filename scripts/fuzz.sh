#!/usr/bin/env bash
# Long property-based fuzzing: each property test runs with an unbounded number of cases for
# FUZZ_SECONDS (default 600) and is then stopped; a failure (with proptest's shrunk input) ends
# the run early and is saved in the test's .proptest-regressions file, which every `make test`
# replays. `make test` itself runs each property with its default number of cases (the smoke run).
#
#   scripts/fuzz.sh                    # every target, 10 minutes each, two at a time
#   FUZZ_SECONDS=30 scripts/fuzz.sh    # a quick pass
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-600}"
targets=(
    "gitops-agent-server any_json_is_read_as_a_message_or_refused_with_the_field_named"
    "gitops-agent-server any_text_routes_to_an_offered_skill_with_only_its_parameters"
    "gitops-agent-server secrets_in_log_lines_stay_redacted"
    "gitops-agent-server any_body_at_mcp_or_a2a_gets_a_well_formed_answer"
    "gitops-agent-server any_arguments_to_any_tool_get_an_answer_or_a_parameter_error"
    "gitops-agent-controller every_admitted_spec_renders_into_valid_children"
)
cargo test --locked -q -p gitops-agent-server -p gitops-agent-controller --test properties --no-run || exit 1
dir=target/fuzz
mkdir -p "$dir"
run() {
    local crate=$1 name=$2 started rc
    started=$(date +%s)
    PROPTEST_CASES=1000000000 timeout --signal=INT "$seconds" \
        cargo test --locked -q -p "$crate" --test properties -- --exact "$name" >"$dir/$name.log" 2>&1
    rc=$?
    local took=$(( $(date +%s) - started ))
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 130 ]; then
        echo "$name: no failure in ${took} s"
    else
        echo "$name: FAILED after ${took} s (exit $rc), see $dir/$name.log"
        return 1
    fi
}
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    pids=()
    for t in "${targets[@]:i:2}"; do
        # shellcheck disable=SC2086
        run $t &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
done
exit $status
