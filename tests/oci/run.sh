#!/bin/bash
# run.sh RUNTIME [PROGRAM...] - run the OCI runtime-tools validation programs against RUNTIME.
#
# Needs root and tests/oci/setup.sh done first. RUNTIME is any runtime with a runc-style CLI and
# --root (build/capsa, /usr/bin/crun, /usr/bin/runc). Without PROGRAM arguments all 58 run.
#
# stdout, one line per program, then the summary as the last line:
#   ok PROGRAM
#   not ok PROGRAM (N failed checks) # TODO accepted: 2 3      every failure is in accepted-failures
#   not ok PROGRAM (N failed checks, unexpected: 5 exit)       at least one failure is not
#   conformance: N clean programs of 58, M checks passed, K failed
# stderr: progress, and the run directory holding each program's TAP, stderr and exit status.
# Exit status: 0 when every failure is accepted, 1 when one is not, 2 on usage/setup errors.
#
# How a program runs: cwd = a run dir holding runtimetest and rootfs-amd64.tar.gz (the programs
# read both from cwd); TMPDIR = a fresh per-program dir (bundles are made there); RUNTIME = a
# wrapper running "RUNTIME --root <run>/state", so every container in that root is this run's;
# `timeout` as a hang guard. After each program: `delete -f` of every container left in the root,
# removal of the fixed cgroups the suite uses (see cleanup_cgroups) and of the bundles.
#
# Counting, per program, from its top-level TAP (runtimetest's inner checks are printed at top
# level by the programs that run it once, so each of those counts):
#   passed = "ok" lines (a "# SKIP" is an ok line);
#   failed = "not ok" lines except "# TODO" ones, each known by its check number, plus these
#            failures with a name instead of a number:
#     plan     the plan announced more checks than were printed (counts the shortfall);
#     exit     no check was printed and the program exited non-zero or printed an "error"
#              diagnostic (the hook programs report only that way), or every printed check
#              passed and the program then exited non-zero (util.Fatal); counts 1;
#     timeout  the program was killed by the hang guard; counts 1.
#   A program printing no check and exiting 0 with no error counts as 1 passed (the *_fail
#   programs pass silently).
# accepted-failures.txt lists "PROGRAM#CHECK reason" (CHECK = a number, plan, exit or timeout) or
# "PROGRAM reason" (any failure of it). "PROGRAM#CHECK {text} reason" accepts the failure only when
# the program's TAP or stderr contains text: the hook programs report every kind of failure as
# "exit", and the text pins the one known kind. "PROGRAM#CHECK [lacks FEATURE] ..." accepts it
# only on a host that lacks FEATURE, probed here (see host_lacks): a failure caused by a missing
# kernel feature is accepted by that cause wherever the feature is missing, and is a failure
# where it is present. A program is accepted when all its failures are.
#
# Environment: CAPSA_OCI_DIR (/var/tmp/capsa-oci), CAPSA_OCI_TIMEOUT (seconds per program, 120),
# CAPSA_OCI_ACCEPTED (the accepted-failures file), CAPSA_OCI_KEEP=1 (keep bundles and state).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OCI_DIR=${CAPSA_OCI_DIR:-/var/tmp/capsa-oci}
TIMEOUT=${CAPSA_OCI_TIMEOUT:-120}
ACCEPTED=${CAPSA_OCI_ACCEPTED:-$HERE/accepted-failures.txt}
KEEP=${CAPSA_OCI_KEEP:-0}
BIN=$OCI_DIR/bin
KEEP_RUNS=5

say() { printf '[oci] %s\n' "$*" >&2; }
usage() {
    echo "usage: $0 RUNTIME [PROGRAM...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h | --help) usage ;; esac
[ "$(id -u)" = 0 ] || {
    say "must run as root"
    exit 2
}
runtime=$(command -v -- "$1" 2>/dev/null) || {
    say "runtime not found: $1"
    exit 2
}
runtime=$(realpath -s -- "$runtime")
shift
if [ ! -x "$BIN/runtimetest" ] || [ ! -f "$BIN/rootfs-amd64.tar.gz" ]; then
    say "$BIN is not set up: run $HERE/setup.sh first"
    exit 2
fi
[ -f "$ACCEPTED" ] || {
    say "missing $ACCEPTED"
    exit 2
}

programs=()
if [ $# -gt 0 ]; then
    for p in "$@"; do
        [ -x "$BIN/validation/$p" ] || {
            say "unknown program: $p"
            exit 2
        }
        programs+=("$p")
    done
else
    for f in "$BIN"/validation/*; do
        [ -f "$f" ] && [ -x "$f" ] && programs+=("${f##*/}")
    done
fi
[ "${#programs[@]}" -gt 0 ] || {
    say "no programs in $BIN/validation: run $HERE/setup.sh"
    exit 2
}
total_programs=${#programs[@]}

# The cgroup programs use fixed cgroup paths, so two runs on one host would collide: serialize.
mkdir -p "$OCI_DIR/runs"
exec 9>"$OCI_DIR/run.lock"
if ! flock -w 1800 9; then
    say "another run holds $OCI_DIR/run.lock"
    exit 2
fi

# Keep the newest few run directories only.
find "$OCI_DIR/runs" -mindepth 1 -maxdepth 1 -type d | sort | head -n -$((KEEP_RUNS - 1)) |
    while read -r old; do rm -rf --one-file-system "$old"; done

RUN=$OCI_DIR/runs/$(date +%Y%m%dT%H%M%S)-$$
mkdir -p "$RUN"/{work,tmp,logs,state} || exit 2
STATE=$RUN/state
cp "$BIN/runtimetest" "$BIN/rootfs-amd64.tar.gz" "$RUN/work/" || exit 2
printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$(printf '%q' "$runtime")" "$(printf '%q' "$STATE")" \
    >"$RUN/runtime"
chmod 755 "$RUN/runtime"
CLEANLOG=$RUN/logs/cleanup.log

# fd 9 (the lock) is closed for everything the runtime starts: a container process that kept it
# would block the next run.
rt() { timeout -k 5 30 "$runtime" --root "$STATE" "$@" 9>&-; }

cleanup_containers() {
    # Every container in the private root was made by this run. Ask the runtime, and also read
    # the state dir directly in case `list` is what is broken.
    local id
    { rt list -q 2>/dev/null; find "$STATE" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'; } |
        sort -u | while read -r id; do
        [ -n "$id" ] || continue
        echo "after $1: delete -f $id" >>"$CLEANLOG"
        rt delete -f "$id" >>"$CLEANLOG" 2>&1 || true
    done
}

# The suite's fixed cgroups (runtime-tools cgroups package): AbsCgroupPath "/cgrouptest" under
# each hierarchy, RelCgroupPath "testdir/cgrouptest/container" under the caller's cgroup (and
# under the root, for runtimes that resolve it there). Runtimes remove the leaf on delete but not
# the parents. Children are listed before parents so that rmdir can work bottom-up.
cgroup_paths() {
    local mnt base
    awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo | sort -u |
        while read -r mnt; do
            echo "$mnt/cgrouptest"
            { echo /; cut -d: -f3- /proc/self/cgroup; } | sort -u | while read -r base; do
                base=${base%/}
                printf '%s\n' "$mnt$base/testdir/cgrouptest/container" \
                    "$mnt$base/testdir/cgrouptest" "$mnt$base/testdir"
            done
        done | awk '!seen[$0]++'
}
cleanup_cgroups() {
    # rmdir only succeeds on an empty cgroup without children, so a cgroup another user might
    # hold is never taken away. Processes still inside one (a runtime that failed to kill on
    # delete -f) are killed first: these names belong to the suite, and the lock above makes
    # this run its only user on the host.
    local d pid
    cgroup_paths | while read -r d; do
        [ -d "$d" ] || continue
        if [ -s "$d/cgroup.procs" ]; then
            while read -r pid; do
                echo "after $1: kill -9 $pid left in $d" >>"$CLEANLOG"
                kill -9 "$pid" 2>/dev/null || true
            done <"$d/cgroup.procs"
            sleep 0.2
        fi
        rmdir -- "$d" 2>/dev/null && echo "after $1: rmdir $d" >>"$CLEANLOG"
    done
    return 0
}

remove_tree() {
    # Lazily unmount whatever a misbehaving runtime left mounted below $1 (deepest first), then
    # delete without crossing into another file system.
    local m
    [ -e "$1" ] || return 0
    awk -v p="$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$1" 2>/dev/null || true
}

# score TAPFILE RC -> "PASSED FAILED IDS": IDS is a comma-separated list of failed checks
# (numbers, or plan/exit/timeout), "-" when none. See the counting rules at the top.
score() {
    awk -v rc="$2" '
        /^ok([ \t]|$)/ { ok++; next }
        /^not ok([ \t]|$)/ {
            if ($0 ~ /#[ \t]*[Tt][Oo][Dd][Oo]/) { todo++; next }
            nok++; ids = ids "," $3; next
        }
        /^1\.\.[0-9]+/ { sub(/^1\.\./, ""); plan += $0 + 0; hasplan = 1; next }
        /^    "error": / { errdiag++ }
        END {
            seen = ok + nok + todo
            if (hasplan && plan > seen) { nok += plan - seen; ids = ids ",plan" }
            timedout = (rc == 124 || rc == 137)
            if (timedout) { nok++; ids = ids ",timeout" }
            else if (seen == 0 && (rc != 0 || errdiag > 0)) { nok++; ids = ids ",exit" }
            else if (seen > 0 && rc != 0 && nok == 0) { nok++; ids = ids ",exit" }
            else if (seen == 0) ok = 1
            if (ids == "") ids = ",-"
            printf "%d %d %s\n", ok, nok, substr(ids, 2)
        }' "$1"
}

# accepted_entries [PROGRAM] -> "PROGRAM^_ID^_FEATURE^_TEXT" per accepted-failures entry of
# PROGRAM (or all): ID is the check ("*" = any), FEATURE the one of [lacks FEATURE] ("" = any
# host), TEXT the {text} the program's output must contain ("" = no condition). ^_ is the unit
# separator: unlike a tab it is not IFS whitespace, so read keeps the empty fields.
accepted_entries() {
    awk -v p="${1:-}" '
        /^[ \t]*(#|$)/ { next }
        {
            split($1, a, "#")
            if (p != "" && a[1] != p) next
            rest = substr($0, length($1) + 1)
            sub(/^[ \t]+/, "", rest)
            feature = ""
            if (index(rest, "[lacks ") == 1) {
                # An unclosed bracket gives a feature no probe knows: run.sh stops on it.
                e = index(rest, "]")
                if (e == 0) e = length(rest) + 1
                feature = substr(rest, 8, e - 8)
                if (feature == "") feature = "?"
                rest = substr(rest, e + 1)
                sub(/^[ \t]+/, "", rest)
            }
            text = ""
            if (match(rest, /^\{[^}]*\}/)) text = substr(rest, 2, RLENGTH - 2)
            printf "%s\037%s\037%s\037%s\n", a[1], (a[2] == "" ? "*" : a[2]), feature, text
        }' "$ACCEPTED"
}

# v1_mount CONTROLLER: the mount point of the cgroup v1 hierarchy holding CONTROLLER, if any.
v1_mount() {
    awk -v c="$1" '$0 ~ / - cgroup / {
            n = split($NF, o, ",")
            for (i = 1; i <= n; i++) if (o[i] == c) { print $5; exit }
        }' /proc/self/mountinfo
}

# probe_lacks FEATURE: 0 when this host lacks FEATURE, 1 when it has it, 2 for an unknown name.
#   v1:CTRL                   CTRL is not mounted as a cgroup v1 controller
#   v1file:CTRL/FILE[,FILE]   CTRL is a v1 controller whose new child cgroups have none of the
#                             FILEs (the BFQ weight files show in children only)
#   v1limit:CTRL/FILE         CTRL is a v1 controller where a limit written to FILE in a new
#                             child cgroup does not read back (the kernel ignores the file)
#   apparmor                  AppArmor is not enabled
#   cap:CAP_NAME              CAP_NAME is not in this process' capability bounding set
probe_lacks() {
    local mnt d f rc=1 ctrl one files
    case "$1" in
    v1:?*)
        [ -z "$(v1_mount "${1#v1:}")" ]
        return
        ;;
    v1file:?*/?* | v1limit:?*/?*)
        ctrl=${1#*:}
        ctrl=${ctrl%%/*}
        mnt=$(v1_mount "$ctrl")
        [ -n "$mnt" ] || return 1
        d=$mnt/capsa-oci-probe-$$
        mkdir "$d" 2>/dev/null || return 1
        f=${1#*/}
        case "$1" in
        v1file:*)
            rc=0
            IFS=, read -r -a files <<<"$f"
            for one in "${files[@]}"; do [ ! -e "$d/$one" ] || rc=1; done
            ;;
        v1limit:*)
            # 8 MiB, a page multiple: a kernel that applies the limit reads it back as is.
            if ! echo 8388608 >"$d/$f" 2>/dev/null || [ "$(cat "$d/$f" 2>/dev/null)" != 8388608 ]; then
                rc=0
            fi
            ;;
        esac
        rmdir "$d"
        return "$rc"
        ;;
    apparmor)
        [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" != Y ]
        return
        ;;
    cap:CAP_?*)
        local bit bnd
        bit=$(cap_bit "${1#cap:}") || return 2
        bnd=$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)
        ((((16#$bnd >> bit) & 1) == 0))
        return
        ;;
    esac
    return 2
}

# cap_bit CAP_NAME: its number (linux/capability.h).
cap_bit() {
    local names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
        LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
        SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
        SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
        MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF
        CHECKPOINT_RESTORE) i
    for i in "${!names[@]}"; do
        [ "CAP_${names[$i]}" = "$1" ] && echo "$i" && return 0
    done
    return 1
}

# host_lacks FEATURE: probe_lacks, asked once per run (the answers go to info.txt).
declare -A LACKS=()
host_lacks() {
    if [ -z "${LACKS[$1]:-}" ]; then
        local rc=0
        probe_lacks "$1" || rc=$?
        LACKS[$1]=$rc
    fi
    [ "${LACKS[$1]}" = 0 ]
}

# is_accepted PROGRAM ID ENTRIES: an entry for ID (or "*") that applies to this host (no
# FEATURE, or one the host lacks) and whose text, if any, occurs in the program's TAP or stderr.
is_accepted() {
    local prog id feature text
    while IFS=$'\037' read -r prog id feature text; do
        [ "$id" = "*" ] || [ "$id" = "$2" ] || continue
        [ -z "$feature" ] || host_lacks "$feature" || continue
        [ -z "$text" ] && return 0
        grep -qF -- "$text" "$RUN/logs/$1.tap" "$RUN/logs/$1.stderr" && return 0
    done <<<"$3"
    return 1
}

# applies_here ENTRIES: one of the entries applies to this host (for the "stale" note).
applies_here() {
    local prog id feature text
    while IFS=$'\037' read -r prog id feature text; do
        [ -n "$prog" ] || continue
        [ -z "$feature" ] || host_lacks "$feature" || continue
        return 0
    done <<<"$1"
    return 1
}

final_cleanup() {
    cleanup_containers run
    cleanup_cgroups run
    if [ "$KEEP" != 1 ]; then
        remove_tree "$RUN/tmp"
        remove_tree "$RUN/work"
        remove_tree "$STATE"
    fi
}
trap 'final_cleanup; exit 130' INT TERM

# Stale fixed cgroups from an interrupted earlier run would make the cgroup programs fail.
cleanup_cgroups start

# Every [lacks FEATURE] of the accepted failures, probed once now: an unknown name is a typo.
host_features=""
while IFS=$'\037' read -r _ _ feature _; do
    [ -n "$feature" ] || continue
    case " $host_features " in *" $feature "*) continue ;; esac
    host_lacks "$feature" || true
    if [ "${LACKS[$feature]}" = 2 ]; then
        say "$ACCEPTED: unknown feature in [lacks $feature]"
        final_cleanup
        exit 2
    fi
    host_features+=" $feature"
    say "host $([ "${LACKS[$feature]}" = 0 ] && echo lacks || echo has) $feature"
done < <(accepted_entries)

{
    echo "runtime: $runtime"
    echo "version: $("$runtime" --version 2>&1 | head -n1)"
    echo "kernel: $(uname -r)"
    echo "timeout: $TIMEOUT"
    for f in $host_features; do
        echo "host $([ "${LACKS[$f]}" = 0 ] && echo lacks || echo has): $f"
    done
    echo "started: $(date -Is)"
} >"$RUN/info.txt"
say "runtime $runtime, ${#programs[@]} programs, logs in $RUN"

# result LINE: stdout, and a copy in the run directory next to the logs.
result() {
    echo "$1"
    echo "$1" >>"$RUN/results.txt"
}

clean=0 passed=0 failed=0 unexpected=0 t0=$SECONDS
for p in "${programs[@]}"; do
    mkdir -p "$RUN/tmp/$p"
    start=$SECONDS
    (cd "$RUN/work" &&
        exec env TMPDIR="$RUN/tmp/$p" RUNTIME="$RUN/runtime" \
            timeout -k 10 "$TIMEOUT" "$BIN/validation/$p") \
        </dev/null >"$RUN/logs/$p.tap" 2>"$RUN/logs/$p.stderr" 9>&-
    rc=$?
    echo "$rc" >"$RUN/logs/$p.rc"
    cleanup_containers "$p"
    cleanup_cgroups "$p"
    [ "$KEEP" = 1 ] || remove_tree "$RUN/tmp/$p"

    read -r ok nok ids < <(score "$RUN/logs/$p.tap" "$rc")
    passed=$((passed + ok))
    failed=$((failed + nok))
    say "$p: $ok passed, $nok failed (${ids}), rc=$rc, $((SECONDS - start))s"
    acc=$(accepted_entries "$p")
    if [ "$nok" -eq 0 ]; then
        clean=$((clean + 1))
        result "ok $p"
        if [ -n "$acc" ] && applies_here "$acc"; then
            say "note: $p passed; its accepted-failures entries for this host may be stale"
        fi
        continue
    fi
    new=()
    IFS=, read -r -a list <<<"$ids"
    for id in "${list[@]}"; do
        is_accepted "$p" "$id" "$acc" || new+=("$id")
    done
    if [ "${#new[@]}" -eq 0 ]; then
        result "not ok $p ($nok failed checks) # TODO accepted: ${ids//,/ }"
    else
        unexpected=$((unexpected + 1))
        result "not ok $p ($nok failed checks, unexpected: ${new[*]})"
    fi
done
trap - INT TERM
final_cleanup
{
    echo "finished: $(date -Is)"
    echo "seconds: $((SECONDS - t0))"
    echo "clean: $clean/$total_programs; checks: $passed passed, $failed failed"
    echo "programs with unexpected failures: $unexpected"
} >>"$RUN/info.txt"
say "$((SECONDS - t0))s; $unexpected program(s) with unexpected failures; logs in $RUN"
result "conformance: $clean clean programs of $total_programs, $passed checks passed, $failed failed"
[ "$unexpected" -eq 0 ]
