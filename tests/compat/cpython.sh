#!/bin/bash
# tests/compat/cpython.sh - compatibility of the interpose level, measured with CPython's own
# regression tests: the Debian python3.11 interpreter, its standard library and its test package
# (libpython3.11-testsuite) copied into a rootfs, then `python3 -m test -v TESTS` run in a
# container at the native level, at the interpose level and under runsc; per-test results
# (ok, FAIL, ERROR, skipped) compared (tests/compat/cpython_report.py). See docs/interpose.md,
# "Compatibility, measured". Run as root; a few minutes per level (runsc: longer).
#
# usage: tests/compat/cpython.sh [--levels L[,L..]] [--tests "test_a test_b ..."] [--out FILE]
#                                [--keep DIR] [--timeout S] [--ignore PATTERN]...
#   --levels   native interpose vm runsc (default: native interpose runsc; runsc only when
#              installed; vm under TCG without /dev/kvm, with 4 times the timeout)
#   --tests    the test modules (default below)
#   --out      the Markdown report to FILE too
#   --keep     keep each level's log (LEVEL.log) and results (LEVEL.tsv) in DIR
#   --timeout  per test module, passed to regrtest (default 300 s; runsc: 4 times that); the
#              whole run of a level is stopped after 4 times its module timeout
#   --ignore   a regrtest --ignore pattern for every level (tests whose names match are not run),
#              besides '*VSOCK*' (below); repeatable
# The rootfs is cached in build/compat/cpython-rootfs (made again when python3.11 or this script
# changes).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=/usr/bin/python3.11
PYLIB=/usr/lib/python3.11
TESTS="test_os test_posix test_shutil test_tempfile test_fileio test_stat test_glob test_pathlib
test_socket test_select test_signal test_subprocess"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
die() {
    echo "cpython.sh: $*" >&2
    exit 1
}
note() { echo "note: $*" >&2; }

levels="native interpose runsc" outfile="" keep="" timeout=300 ignores=('*VSOCK*')
while [ $# -gt 0 ]; do
    case $1 in
    --levels) [ $# -ge 2 ] || usage; levels=${2//,/ }; shift 2 ;;
    --tests) [ $# -ge 2 ] || usage; TESTS=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; outfile=$2; shift 2 ;;
    --keep) [ $# -ge 2 ] || usage; keep=$2; shift 2 ;;
    --timeout) [ $# -ge 2 ] || usage; timeout=$2; shift 2 ;;
    --ignore) [ $# -ge 2 ] || usage; ignores+=("$2"); shift 2 ;;
    -h | --help) usage ;;
    *) echo "cpython.sh: unknown option $1" >&2; usage ;;
    esac
done
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout: not a positive number: $timeout"
for l in $levels; do
    case $l in native | interpose | vm | runsc) ;; *) die "--levels: unknown level $l" ;; esac
done
for t in $TESTS; do
    [[ $t =~ ^test_[a-z0-9_]+$ ]] || die "--tests: not a test module name: $t"
done
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$PY" ] || die "$PY not found (apt-get install python3.11)"
[ -d "$PYLIB/test" ] || die "$PYLIB/test not found (apt-get install libpython3.11-testsuite)"
for t in jq ldd make timeout; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done
for p in outfile keep; do
    case ${!p} in '' | /*) ;; *) printf -v "$p" '%s' "$PWD/${!p}" ;; esac
done

# 1. The rootfs: busybox (sh and the commands test_subprocess runs), the interpreter, the
# libraries of it and of every extension module, the standard library with its test package.
make -C "$repo" -j2 build/capsa >/dev/null || die "make build/capsa failed"
cache=$repo/build/compat/cpython-rootfs
stamp="$(dpkg-query -W -f '${Version}' python3.11 libpython3.11-testsuite 2>/dev/null | xargs) $(sha256sum "$0" | cut -c1-16)"
if [ "$(cat "$cache/.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "building the rootfs in $cache ..." >&2
    rm -rf "$cache"
    mkdir -p "$cache"
    "$repo/scripts/mkrootfs.sh" "$cache" >/dev/null
    mkdir -p "$cache/usr/lib"
    cp -a "$PYLIB" "$cache/usr/lib/"
    cp -L "$PY" "$cache/usr/bin/python3.11"
    ln -sfn python3.11 "$cache/usr/bin/python3"
    # shellcheck disable=SC2016 # the awk program's $ are awk's
    for f in "$PY" "$PYLIB"/lib-dynload/*.so; do ldd "$f"; done |
        awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
        while read -r lib; do
            cp -L --parents "$lib" "$cache/"
        done
    chroot "$cache" /usr/bin/python3.11 -c 'import ssl, sqlite3, ctypes, decimal, socket' ||
        die "the interpreter does not start in $cache"
    echo "$stamp" >"$cache/.stamp"
fi

work=$(mktemp -d /tmp/capsa-cpython.XXXXXX)
states=$work/state
prefix=py$$x$RANDOM
declare -A RT=()
rt() { # LEVEL ARGS...
    local -a cmd
    read -ra cmd <<<"${RT[$1]}"
    "${cmd[@]}" --root "$states/$1" "${@:2}"
}
cleanup() {
    local rc=$? l id
    set +e
    for l in "${!RT[@]}"; do
        for id in $(rt "$l" list 2>/dev/null | awk -v p="$prefix" 'index($1, p) == 1 { print $1 }'); do
            rt "$l" delete --force "$id" >/dev/null 2>&1 ||
                echo "cpython.sh: could not delete $l container $id" >&2
        done
    done
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a private copy: other builds may replace build/capsa during the run
cp "$repo/build/capsa" "$work/capsa"
# (the vm level's guest agent is looked up next to capsa)
[ ! -x "$repo/build/capsa-agent" ] || cp "$repo/build/capsa-agent" "$work/capsa-agent"
sel=()
for l in $levels; do
    case $l in
    native | interpose) RT[$l]=$work/capsa ;;
    vm)
        if [ ! -x "$work/capsa-agent" ] || [ ! -x /usr/bin/qemu-system-x86_64 ]; then
            note "vm: needs build/capsa-agent and qemu-system-x86: skipped"
            continue
        fi
        # Software emulation where there is no /dev/kvm: functional results only.
        RT[$l]="$work/capsa --allow-tcg"
        ;;
    runsc)
        if ! command -v runsc >/dev/null; then
            note "runsc not installed: skipped"
            continue
        fi
        RT[$l]="$(command -v runsc) --network=none --platform=ptrace"
        ;;
    esac
    sel+=("$l")
    mkdir -p "$states/$l"
done
[ ${#sel[@]} -gt 0 ] || die "no level to run"

# 2. One container per level, on a copy of the rootfs (the tests write to it), the same
# config.json but for the level's annotation. The VSOCK tests are ignored: on a VM with a vsock
# device they wait for a peer that never answers, at every level.
(cd "$work" && "$work/capsa" spec) || die "capsa spec failed"
ign_json=$(printf '%s\n' "${ignores[@]}" | jq -R '["--ignore", .]' | jq -cs 'add')
# shellcheck disable=SC2086 # TESTS is a list of words
tests_json=$(printf '%s\n' $TESTS | jq -R . | jq -cs .)
declare -A DUR=()
for l in "${sel[@]}"; do
    t=$timeout
    [ "$l" != runsc ] && [ "$l" != vm ] || t=$((timeout * 4))
    args=$(jq -cn --arg t "$t" --argjson ign "$ign_json" --argjson tests "$tests_json" \
        '["/usr/bin/python3.11", "-m", "test", "-v", "-j1", "--timeout", $t] + $ign + $tests')
    ann='{}'
    [ "$l" != interpose ] || ann='{"capsa.isolation": "interpose"}'
    [ "$l" != vm ] || ann='{"capsa.isolation": "vm"}'
    b=$work/b-$l
    mkdir -p "$b"
    echo "copying the rootfs for $l ..." >&2
    cp -a "$cache" "$b/rootfs"
    jq --argjson args "$args" --argjson ann "$ann" --arg root "$b/rootfs" \
        '.ociVersion = "1.0.2-dev" | .process.terminal = false | .process.args = $args |
         .process.cwd = "/tmp" | .root.path = $root | .root.readonly = false | .annotations = $ann |
         .process.env = ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/root", "LANG=C.UTF-8",
                         "PYTHONDONTWRITEBYTECODE=1"] | .hostname = "capsa-compat"' \
        "$work/config.json" >"$b/config.json"
    # The guest's RAM (the vm level sizes the VM from the memory limit).
    if [ "$l" = vm ]; then
        jq '.linux.resources.memory = {"limit": 1073741824}' "$b/config.json" >"$b/config.json.new"
        mv "$b/config.json.new" "$b/config.json"
    fi
    echo "running the tests at $l ($(wc -w <<<"$TESTS") modules) ..." >&2
    t0=$SECONDS
    rc=0
    read -ra cmd <<<"${RT[$l]}"
    timeout -k 30 $((t * 4)) "${cmd[@]}" --root "$states/$l" run --bundle "$b" "$prefix-$l" \
        </dev/null >"$work/$l.log" 2>&1 || rc=$?
    DUR[$l]="$((SECONDS - t0)) s, exit status $rc"
    rt "$l" delete --force "$prefix-$l" >/dev/null 2>&1 || true
    rm -rf "$b/rootfs"
    "$PY" "$repo/tests/compat/cpython_report.py" parse "$work/$l.log" >"$work/$l.tsv"
    if [ -n "$keep" ]; then
        mkdir -p "$keep"
        cp "$work/$l.log" "$work/$l.tsv" "$keep/"
    fi
done

report() {
    local l
    echo "## CPython's regression tests (python3.11 -m test), per level ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "- kernel $(uname -r), $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- git commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD -- src include 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "- python3.11 $(dpkg-query -W -f '${Version}' python3.11), libpython3.11-testsuite $(dpkg-query -W -f '${Version}' libpython3.11-testsuite)"
    # shellcheck disable=SC2001 # one substitution per line
    echo "- modules: $(sed 's/\s\+/ /g' <<<"$TESTS"); ignored (regrtest --ignore): ${ignores[*]}; per-module timeout ${timeout} s (runsc $((timeout * 4)) s)"
    for l in "${sel[@]}"; do
        if [ "$l" = runsc ]; then
            echo "- $l ($(runsc --version 2>&1 | head -1), ${RT[$l]#* }): ${DUR[$l]}"
        else
            echo "- $l: ${DUR[$l]}"
        fi
    done
    echo
    local files=()
    for l in "${sel[@]}"; do files+=("$l=$work/$l.tsv"); done
    "$PY" "$repo/tests/compat/cpython_report.py" table "${files[@]}"
}
if [ -n "$outfile" ]; then
    report | tee "$outfile"
else
    report
fi
