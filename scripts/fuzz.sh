#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo-fuzz (libFuzzer) of everything that parses outside input:
# the targets are fuzz/fuzz_targets/*.rs (their doc comments say what each one checks).
#
# For each target: first every input of its corpus (fuzz/corpus/<target>/, seeds and the inputs
# of crashes found and fixed) is run once as a regression test, then libFuzzer explores for
# FUZZ_SECONDS with the target's dictionary (fuzz/dict/<target>.dict when there is one). New
# inputs go to target/fuzz/corpus/<target>/ (kept between runs, never committed by the script);
# a crash leaves its input in target/fuzz/artifacts/<target>/ and fails the run.
#
#   scripts/fuzz.sh                          # CI: every target, 10 s each after its corpus
#   FUZZ_SECONDS=600 FUZZ_JOBS=2 scripts/fuzz.sh   # make fuzz: long runs, two at a time
#   scripts/fuzz.sh mcp_body redaction       # some targets
#   FUZZ_RESULTS=bench/results/x.md scripts/fuzz.sh   # also write the table there
#   FUZZ_BUILD=dev scripts/fuzz.sh           # CI: fuzz/Cargo.toml's dev profile, a shorter build
#   FUZZ_BUILD_ONLY=1 scripts/fuzz.sh        # build the targets and stop (CI builds them early)
#   FUZZ_NEW_CRASH_FAILS=0 scripts/fuzz.sh   # CI: a corpus input that fails fails the run; a new crash is reported
#
# The stable toolchain builds the targets: cargo-fuzz passes `-Z` flags, which RUSTC_BOOTSTRAP=1
# lets a stable compiler accept. No sanitizer (`-s none`): the code under test has no `unsafe`
# but two pointer-free allocator calls (crates/memory: mallopt, malloc_trim), and without
# AddressSanitizer the build is shorter and runs faster; panics (the targets' checks
# are assertions), timeouts and memory blow-ups are what libFuzzer reports.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-10}"
jobs="${FUZZ_JOBS:-1}"
export RUSTC_BOOTSTRAP=1
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
flags=(--sanitizer none --fuzz-dir fuzz)
case "${FUZZ_BUILD:-release}" in
    release) ;;
    dev) flags+=(--dev) ;;
    *) echo "FUZZ_BUILD must be release or dev, not ${FUZZ_BUILD}" >&2; exit 2 ;;
esac

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
# The fuzz workspace pins the main workspace's versions.
cp Cargo.lock fuzz/Cargo.lock
started=$(date +%s)
cargo fuzz build "${flags[@]}"
echo "fuzz: built ${#targets[@]} targets in $(( $(date +%s) - started )) s"
if [ -n "${FUZZ_BUILD_ONLY:-}" ]; then
    exit 0
fi

out=target/fuzz
mkdir -p "$out"

# Why a target failed, printed after the table: CI keeps only what the script prints, not target/.
# libFuzzer's progress lines and cargo-fuzz's own backtrace are left out; what remains ends with
# the panic and the input, or with cargo-fuzz naming the signal that killed the target.
explain() {
    local t=$1 rc=$2 log=$3
    {
        echo "fuzz: $t exited $rc; the end of $log:"
        grep -v -E '^(INFO|WARNING): |^#[0-9]+' "$log" | sed '/^Stack backtrace:/,$d' | tail -n 40 || true
    } >"$out/$t.why"
}

# One target: its corpus as regression inputs, then FUZZ_SECONDS of fuzzing. Prints one table row.
run() {
    local t=$1 seeds="fuzz/corpus/$1" work="$out/corpus/$1" artifacts="$out/artifacts/$1/" log="$out/$1.log"
    mkdir -p "$seeds" "$work" "$artifacts"
    local dict=()
    [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
    local replayed
    replayed=$(find "$seeds" -type f | wc -l)
    local rc=0
    cargo fuzz run "${flags[@]}" "$t" "$seeds" -- -runs=0 -timeout=30 "-artifact_prefix=$artifacts" >"$log.replay" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "| $t | corpus replay FAILED (exit $rc, $replayed inputs): see $log.replay | | | | |"
        explain "$t" "$rc" "$log.replay"
        return 1
    fi
    cargo fuzz run "${flags[@]}" "$t" "$work" "$seeds" -- "-max_total_time=$seconds" -timeout=30 \
        -rss_limit_mb=4096 -print_final_stats=1 "-artifact_prefix=$artifacts" "${dict[@]}" >"$log" 2>&1 || rc=$?
    local execs cov features corpus
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corpus=$(find "$work" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        echo "| $t | $replayed | ${execs:-?} | $(( ${execs:-0} / (seconds > 0 ? seconds : 1) )) | ${cov:-?} | ${features:-?} | $corpus | no crash |"
    else
        echo "| $t | $replayed | ${execs:-?} | | ${cov:-?} | ${features:-?} | $corpus | CRASH (exit $rc): input in $artifacts, log $log |"
        explain "$t" "$rc" "$log"
        # A replayed corpus input that fails is a regression and always fails the run; a new
        # input found in a short smoke is reported (FUZZ_NEW_CRASH_FAILS=0, CI) so that which
        # inputs a 10 s exploration happens to reach does not decide whether CI is green.
        [ "${FUZZ_NEW_CRASH_FAILS:-1}" = 0 ] && echo "fuzz: NEW CRASH in $t (not a regression): $(ls "$artifacts" | head -3)" >&2 && return 0
        return 1
    fi
}

header="| target | corpus inputs replayed | executions | executions/s | coverage (edges) | features | new corpus | result |
|---|---|---|---|---|---|---|---|"
rows="$out/rows"
: >"$rows"
rm -f "$out"/*.why
status=0
for ((i = 0; i < ${#targets[@]}; i += jobs)); do
    pids=()
    for t in "${targets[@]:i:jobs}"; do
        (run "$t" >"$out/$t.row") &
        pids+=($!)
    done
    for p in "${pids[@]}"; do
        wait "$p" || status=1
    done
    for t in "${targets[@]:i:jobs}"; do
        cat "$out/$t.row" >>"$rows"
    done
done
table="$header
$(cat "$rows")"
echo "fuzz: ${seconds} s per target, $(nproc) CPUs, $(( $(date +%s) - started )) s in all"
echo "$table"
for t in "${targets[@]}"; do
    [ -f "$out/$t.why" ] && cat "$out/$t.why" >&2
done
if [ -n "${FUZZ_RESULTS:-}" ]; then
    printf '## Fuzzing (%s, %s s per target, %s at a time, %s CPUs)\n\n%s\n' "$(date +%Y-%m-%d)" "$seconds" "$jobs" "$(nproc)" "$table" >"$FUZZ_RESULTS"
    echo "fuzz: wrote $FUZZ_RESULTS"
fi
exit "$status"
