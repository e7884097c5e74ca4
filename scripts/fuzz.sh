#!/usr/bin/env bash
# fuzz.sh - bounded fuzzing of every libFuzzer target in tests/fuzz (CI and
# by hand). Usage: scripts/fuzz.sh [SECONDS]   (per target, default 60)
#
# Builds the targets (make fuzz-build), then fuzzes each one for SECONDS,
# starting from its checked-in corpus tests/fuzz/corpus/<target>/ and adding
# new inputs only to the scratch corpus build/fuzz/corpus/<target>/ (the
# repository corpus is never written). Crashes, leaks, timeouts and
# out-of-memory inputs are saved in build/fuzz/crashes/. Prints one TAP-like
# line per target and exits 1 if any target found something.
set -euo pipefail

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Until the top Makefile includes fuzz.mk, name it explicitly (fuzz.mk
# guards against being read twice).
"${MAKE:-make}" --no-print-directory -f Makefile -f tests/fuzz/fuzz.mk fuzz-build >&2

fuzzdir=$root/build/fuzz
crashes=$fuzzdir/crashes
mkdir -p "$crashes"

failed=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    target=${name#fuzz_}
    bin=$fuzzdir/$target
    seeds=$root/tests/fuzz/corpus/$target
    scratch=$fuzzdir/corpus/$target
    # -jobs=1 runs the fuzzing in one worker process that logs to
    # ./fuzz-0.log: give each target its own working directory for it.
    work=$fuzzdir/work/$target
    mkdir -p "$scratch" "$work"
    rm -f "$work"/fuzz-*.log
    args=(-max_total_time="$seconds" -jobs=1 -rss_limit_mb=2048 -timeout=10
        -print_final_stats=1 -artifact_prefix="$crashes/$target-")
    dict=tests/fuzz/$target.dict
    case $target in
    spec | seccomp | resources | state | process | json) dict=tests/fuzz/json.dict ;;
    esac
    if [[ -f $dict ]]; then
        args+=(-dict="$root/$dict")
    fi
    log=$fuzzdir/fuzz-$target.log
    rc=0
    # The scratch corpus comes first: libFuzzer writes new inputs only there.
    (cd "$work" && "$bin" "${args[@]}" "$scratch" "$seeds") >"$log" 2>&1 || rc=$?
    if [[ -f $work/fuzz-0.log ]]; then
        cat "$work/fuzz-0.log" >>"$log"
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2 || true)
    if ((rc == 0)) && ! grep -qE '^==[0-9]+==ERROR|runtime error:|^SUMMARY: ' "$log"; then
        echo "ok fuzz $target (${execs:-0} execs, cov ${cov:-?})"
    else
        echo "not ok fuzz $target (exit $rc; see $log and $crashes/$target-*)"
        grep -E '^SUMMARY: |runtime error:|check failed' "$log" | head -n 3 | sed 's/^/#   /' || true
        failed=1
    fi
done
exit "$failed"
