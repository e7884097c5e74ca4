#!/bin/bash
# test.sh - install test dependencies, build, run every test, print one summary line.
#
# Steps: scripts/deps.sh --test; make (capsa + static helpers); the unit tests of the normal and
# the ASan/UBSan build (the binaries `make check` builds, run one by one here so that one failing
# binary does not hide the others); the bats integration suite against build/capsa, and again
# against build/asan/capsa with LeakSanitizer (reports to build/test-logs/lsan/) when that exists.
#
# Counting: a unit test case is one cmocka test; each binary's "[  PASSED  ] N test(s)." and
# "[  FAILED  ] N test(s)" lines are summed, and a binary that exits non-zero without reporting
# a failed case (a crash, a sanitizer abort) counts as one failure. A bats test is one TAP line:
# "ok" counts as passed, "not ok" as failed, "# skip" as neither (reported separately). A build step
# that fails counts as one failure. The last line is exactly "N passed, M failed"; the exit
# status is non-zero when M > 0. Logs go to build/test-logs/.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
logs=$repo/build/test-logs
passed=0
failed=0
skipped=0

note() { printf '### %s\n' "$*"; }
fail_step() {
    echo "FAILED: $*"
    failed=$((failed + 1))
}

# deps.sh --test: build and test packages.
if ! "$repo/scripts/deps.sh" --test; then
    fail_step "installing dependencies"
fi
mkdir -p "$logs"

jobs=$(nproc 2>/dev/null || echo 2)
note "make"
make -j"$jobs" all || fail_step "make"

unit_srcs=(tests/unit/test_*.c)
[ -e "${unit_srcs[0]}" ] || unit_srcs=()

# run_unit BIN: run one cmocka binary and add its cases to the counters.
run_unit() {
    local bin=$1 log rc=0 p f
    log=$logs/unit-$(echo "$bin" | tr '/' '_').log
    "$bin" >"$log" 2>&1 </dev/null || rc=$?
    cat "$log"
    p=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$log" | tail -n1)
    f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$log" | tail -n1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAILED: $bin exited $rc without reporting a failed case"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

for variant in release asan; do
    if [ "$variant" = asan ]; then
        dir=build/asan
        note "make asan"
        make -j"$jobs" asan || fail_step "make asan"
    else
        dir=build
    fi
    for src in "${unit_srcs[@]}"; do
        name=$(basename "$src" .c)
        bin=$dir/tests/$name
        if [ "$variant" = release ]; then
            make -j"$jobs" "$bin" || {
                fail_step "building $bin"
                continue
            }
        fi
        if [ ! -x "$bin" ]; then
            fail_step "$bin was not built"
            continue
        fi
        note "unit ($variant): $name"
        run_unit "$bin"
    done
done

# run_bats NAME RUNTIME [ENV...]: run the integration suite and add its TAP results.
run_bats() {
    local name=$1 runtime=$2 log
    shift 2
    log=$logs/bats-$name.tap
    note "integration ($name): CAPSA=$runtime"
    env "$@" CAPSA="$runtime" bats --tap tests/integration </dev/null 2>&1 | tee "$log"
    local ok nok skip plan
    ok=$(grep -cE '^ok [0-9]+' "$log" || true)
    skip=$(grep -cE '^ok [0-9]+ .*# skip' "$log" || true)
    nok=$(grep -cE '^not ok [0-9]+' "$log" || true)
    plan=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$log" | head -n1)
    if [ -z "$plan" ]; then
        fail_step "bats ($name) did not produce a TAP plan"
    elif [ $((ok + nok)) -lt "$plan" ]; then
        # bats died part-way (or a test killed it): the tests never reported are no passes.
        fail_step "bats ($name) reported $((ok + nok)) of the $plan tests it planned"
    fi
    passed=$((passed + ok - skip))
    skipped=$((skipped + skip))
    failed=$((failed + nok))
}

note "make lint (format, layering, banned functions)"
if make lint >"$logs/lint.log" 2>&1; then
    passed=$((passed + 1))
else
    cat "$logs/lint.log"
    fail_step "make lint"
fi

note "static analysis (scripts/static-analysis.sh: cppcheck, clang-tidy)"
if scripts/static-analysis.sh >"$logs/static.log" 2>&1; then
    passed=$((passed + 1))
else
    tail -n 40 "$logs/static.log"
    fail_step "static analysis"
fi

# Fuzzing (tests/fuzz): every checked-in input replayed, then each target fuzzed for a bounded time.
note "fuzz corpus replay (make fuzz-replay)"
if make fuzz-replay >"$logs/fuzz-replay.log" 2>&1; then
    passed=$((passed + 1))
else
    tail -n 30 "$logs/fuzz-replay.log"
    fail_step "make fuzz-replay"
fi
note "bounded fuzzing (scripts/fuzz.sh ${CAPSA_FUZZ_SECONDS:-12} per target)"
scripts/fuzz.sh "${CAPSA_FUZZ_SECONDS:-12}" </dev/null 2>"$logs/fuzz.err" | tee "$logs/fuzz.log"
fok=$(grep -cE '^ok fuzz' "$logs/fuzz.log" || true)
fnok=$(grep -cE '^not ok fuzz' "$logs/fuzz.log" || true)
passed=$((passed + fok))
failed=$((failed + fnok))
[ "$fok" -gt 0 ] || { tail -n 20 "$logs/fuzz.err"; fail_step "scripts/fuzz.sh ran no target"; }

if [ -x build/capsa ]; then
    run_bats release "$repo/build/capsa"
else
    fail_step "build/capsa missing: integration suite not run"
fi
# The ASan/UBSan build runs the suite with LeakSanitizer on: every report (a leak on any path,
# the error paths of badinput and attacks above all) goes to a file of its own instead of the
# command's stderr, and LSAN_OPTIONS=exitcode=0 keeps the exit statuses the tests check; any
# report is one failure, printed here.
run_lsan_check() {
    local dir=$1 reports
    reports=$(grep -lE 'ERROR: (LeakSanitizer|AddressSanitizer)' "$dir"/report.* 2>/dev/null || true)
    if [ -n "$reports" ]; then
        for f in $reports; do
            head -n 30 "$f"
        done
        fail_step "sanitizer reports from the integration suite: $(wc -w <<<"$reports")"
    else
        passed=$((passed + 1))
    fi
}
if [ -x build/asan/capsa ]; then
    lsan_dir=$logs/lsan
    rm -rf "$lsan_dir"
    mkdir -p "$lsan_dir"
    run_bats asan "$repo/build/asan/capsa" ASAN_OPTIONS="detect_leaks=1:log_path=$lsan_dir/report" \
        LSAN_OPTIONS=exitcode=0
    note "LeakSanitizer and ASan reports of the asan integration run"
    run_lsan_check "$lsan_dir"
fi

# OCI runtime-tools conformance suite (tests/oci/, docs/conformance.md): a clean program counts
# as passed, an accepted (listed and justified) failure as skipped, anything else as failed.
run_oci() {
    local log=$logs/oci.tap ok nok acc
    note "OCI conformance (runtime-tools validation) against build/capsa"
    if ! tests/oci/setup.sh >"$logs/oci-setup.log" 2>&1; then
        tail -n 20 "$logs/oci-setup.log"
        fail_step "tests/oci/setup.sh"
        return
    fi
    tests/oci/run.sh "$repo/build/capsa" </dev/null 2>"$logs/oci-run.log" | tee "$log"
    ok=$(grep -c '^ok ' "$log" || true)
    acc=$(grep -c '^not ok .* # TODO accepted' "$log" || true)
    nok=$(grep '^not ok ' "$log" | grep -vc ' # TODO accepted' || true)
    grep -q '^conformance: ' "$log" || fail_step "tests/oci/run.sh printed no summary"
    passed=$((passed + ok))
    skipped=$((skipped + acc))
    failed=$((failed + nok))
}
if [ -x build/capsa ]; then
    run_oci
fi

# run_engine NAME: a real engine (tests/engines/NAME.sh, docs/engines.md) driving build/capsa; it
# installs the engine from Debian and prints TAP. A missing plan counts as one failure.
run_engine() {
    local log=$logs/engine-$1.tap rc ok nok
    note "engine: $1"
    tests/engines/"$1".sh "$repo/build/capsa" </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    ok=$(grep -cE '^ok [0-9]+' "$log" || true)
    nok=$(grep -cE '^not ok [0-9]+' "$log" || true)
    grep -qE '^1\.\.[0-9]+' "$log" || fail_step "engine $1: no TAP plan (exited $rc)"
    passed=$((passed + ok))
    failed=$((failed + nok))
}
if [ -x build/capsa ]; then
    for engine in podman docker containerd buildah; do
        run_engine "$engine"
    done
fi

# run_v2vm NAME: tests/v2vm/NAME.sh in a QEMU guest with pure cgroup v2 (docs/testing-cgroup-v2.md).
run_v2vm() {
    local log=$logs/v2vm-$1.tap rc ok nok
    note "cgroup v2 guest: $1"
    # The io checks of cgroup-v2 need a block device: the cloud kernel has loop as a module,
    # so the guest gets the loop.ko of the kernel run.sh boots (the newest cloud one).
    local kernel files=()
    kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n1)
    kernel=${kernel#/boot/vmlinuz-}
    if [ "$1" = cgroup-v2 ] && [ -n "$kernel" ] && [ -z "${V2VM_KERNEL:-}" ]; then
        for f in /lib/modules/"$kernel"/kernel/drivers/block/loop.ko*; do
            [ -f "$f" ] && files+=("$f")
        done
    fi
    tests/v2vm/run.sh "tests/v2vm/$1.sh" "${files[@]}" </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    ok=$(grep -cE '^ok [0-9]+' "$log" || true)
    nok=$(grep -cE '^not ok [0-9]+' "$log" || true)
    grep -qE '^1\.\.[0-9]+' "$log" || fail_step "v2vm $1: no TAP plan (run.sh exited $rc)"
    passed=$((passed + ok))
    failed=$((failed + nok))
}
if [ -x build/capsa ]; then
    run_v2vm smoke
    run_v2vm cgroup-v2
fi

# run_sdvm NAME: tests/sdvm/NAME.sh in a QEMU guest that boots systemd as PID 1
# (docs/testing-systemd.md): the systemd cgroup driver, with capsa alone, podman and containerd
# (systemd), and checkpoint/restore with CRIU, which works on the guest's Debian kernel (criu).
run_sdvm() { # NAME [run.sh options...]
    local log=$logs/sdvm-$1.tap rc ok nok skip
    note "systemd guest: $1"
    tests/sdvm/run.sh "${@:2}" "tests/sdvm/$1.sh" </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    ok=$(grep -cE '^ok [0-9]+' "$log" || true)
    skip=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log" || true)
    nok=$(grep -cE '^not ok [0-9]+' "$log" || true)
    grep -qE '^1\.\.[0-9]+' "$log" || fail_step "sdvm $1: no TAP plan (run.sh exited $rc)"
    passed=$((passed + ok - skip))
    skipped=$((skipped + skip))
    failed=$((failed + nok))
}
if [ -x build/capsa ]; then
    run_sdvm systemd
    run_sdvm criu --bin build/helpers/recvtty
fi

# The benchmark (bench/README.md) as a smoke run: it must run to the end and print every table for
# every runtime. Its times are never compared with a threshold here (the machine is noisy);
# docs/performance.md has the measured medians and ratios.
run_bench_smoke() {
    local log=$logs/bench.md
    note "benchmark smoke (bench/run.sh --quick)"
    if ! bench/run.sh --quick --no-build </dev/null >"$log" 2>&1; then
        tail -n 30 "$log"
        fail_step "bench/run.sh --quick"
        return
    fi
    local missing=0 t
    # shellcheck disable=SC2016 # literal Markdown headings, backquotes included
    for t in '### `run`' '### `lifecycle`' '### `exec`' '| capsa |' '| crun |'; do
        grep -qF "$t" "$log" || { echo "bench smoke: no '$t' in the output"; missing=1; }
    done
    if [ "$missing" = 0 ]; then
        passed=$((passed + 1))
        grep -E '^\| capsa/crun' "$log" | head -3
    else
        tail -n 30 "$log"
        fail_step "bench smoke output incomplete"
    fi
}
if [ -x build/capsa ] && [ -x bench/run.sh ]; then
    run_bench_smoke
fi

# The vm level's benchmark, one rep (~10 s under TCG): it must run to the end and print both
# tables. Skipped where the vm level cannot run (no QEMU, virtiofsd or cloud kernel).
run_vm_bench_smoke() {
    local log=$logs/bench-vm.md
    note "benchmark smoke (bench/vm.sh --reps 1)"
    if ! bench/vm.sh --reps 1 --no-build </dev/null >"$log" 2>&1; then
        tail -n 30 "$log"
        fail_step "bench/vm.sh --reps 1"
    elif grep -qF '| exec /bin/true |' "$log" && grep -qF '| virtiofsd VmRSS' "$log"; then
        passed=$((passed + 1))
    else
        tail -n 30 "$log"
        fail_step "bench/vm.sh output incomplete"
    fi
}
if [ -x build/capsa-agent ] && [ -x /usr/bin/qemu-system-x86_64 ] && [ -x /usr/lib/qemu/virtiofsd ] &&
    compgen -G '/boot/vmlinuz-*-cloud-amd64' >/dev/null; then
    run_vm_bench_smoke
fi

[ "$skipped" -eq 0 ] || echo "($skipped tests skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
