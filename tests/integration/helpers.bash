#!/bin/bash
# helpers.bash - shared setup for the bats integration suite (sourced by every *.bats file).
#
# The runtime under test is $CAPSA (default build/capsa); any runc-compatible binary works, so the
# suite can be checked against crun/runc: `CAPSA=/usr/bin/crun bats tests/integration`.
# Every command gets a private --root under $BATS_TEST_TMPDIR; nothing touches /run/capsa.
# Tests marked "capsa-specific" call requires_capsa and skip for other runtimes.

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
CAPSA=${CAPSA:-$REPO/build/capsa}
ROOTFS_CACHE=${CAPSA_TEST_ROOTFS:-$REPO/build/test-rootfs}
# Commands registered with defer run in teardown, last first.
DEFERRED=()
# `run !` and `run -N` (bats >= 1.5) check the status themselves: a bare `! cmd` does not
# (scripts/check-tests.sh).
bats_require_minimum_version 1.5.0

is_capsa() {
    "$CAPSA" --version 2>/dev/null | grep -q capsa
}

# Skip a test that checks capsa behaviour other runtimes do not share.
requires_capsa() {
    is_capsa || skip "capsa-specific (runtime under test: $CAPSA)"
}

requires_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "needs $c"
    done
}

# The runtime with the private state root.
capsa() {
    "$CAPSA" --root "$CAPSA_ROOT" "$@"
}

# defer CMD...: run CMD (one string, eval'd) in teardown, whatever the test outcome.
defer() {
    DEFERRED+=("$1")
}

# Build the cached busybox rootfs once per run (and again when the helpers change). A lock keeps
# parallel bats jobs from racing on it.
ensure_rootfs() {
    mkdir -p "$(dirname "$ROOTFS_CACHE")"
    (
        flock 9
        local stamp=$ROOTFS_CACHE/.capsa-test-stamp stale=0 h
        [ -f "$stamp" ] || stale=1
        for h in "$REPO"/build/helpers/*; do
            [ -f "$h" ] || continue
            [ "$h" -nt "$stamp" ] && stale=1
        done
        [ "$stale" = 0 ] && exit 0
        rm -rf "$ROOTFS_CACHE"
        "$REPO/scripts/mkrootfs.sh" "$ROOTFS_CACHE" >&2
        touch "$stamp"
    ) 9>"$ROOTFS_CACHE.lock"
}

# Common per-test setup: private root, cached rootfs. Each file's setup() calls this.
setup_common() {
    [ "$(id -u)" = 0 ] || skip "integration tests need root"
    [ -x "$CAPSA" ] || [ -x "$(command -v "$CAPSA" 2>/dev/null)" ] ||
        fail_now "runtime not found: $CAPSA (run make, or set CAPSA)"
    CAPSA_ROOT=$BATS_TEST_TMPDIR/state
    mkdir -p "$CAPSA_ROOT"
    ensure_rootfs
    # Unique marker for this test: used in container args so that pgrep -f finds stray processes.
    MARK="capsamark$$x$RANDOM$RANDOM"
    cg_enter_private
}

# --- cgroups of the test's own ------------------------------------------------------------------
# A container without linux.cgroupsPath gets the cgroup ID next to its caller's (runc's rule):
# /c1 for every suite running on this host at once, so a test of one checkout could block or kill
# another's container. So each test runs in cgroups of its own, TEST_CG below its caller's in
# every v1 hierarchy, and on cgroup v2 (where the container goes beside its caller) in a leaf
# TEST_CG/t when the caller sits in the v2 root. cg_leave_private (teardown) moves it back, kills
# what the test left in them, and fails the test if a container's cgroup was left below.

# cg_mount CTRLS: the mount point of the v1 hierarchy holding CTRLS ("" = the cgroup2 mount).
cg_mount() {
    awk -v c="$1" '{
        for (i = 7; $i != "-"; i++) continue
        fs = $(i + 1); n = split($(i + 3), o, ","); m = split(c, w, ","); k = 0
        if (c == "" && fs == "cgroup2") { print $5; exit }
        if (c == "" || fs != "cgroup") next
        for (j = 1; j <= m; j++) for (l = 1; l <= n; l++) if (o[l] == w[j]) k++
        if (k == m) { print $5; exit }
    }' /proc/self/mountinfo
}

cg_enter_private() {
    local hier ctrls path mnt d cgs
    # A snapshot: /proc/self/cgroup changes as the loop moves this process.
    cgs=$(cat /proc/self/cgroup)
    TEST_CG=capsa-bats-$BASHPID-$RANDOM
    TEST_CG_HOME=()
    TEST_CG_DIRS=()
    while IFS=: read -r hier ctrls path; do
        [[ "$ctrls" != name=* ]] || continue
        mnt=$(cg_mount "$ctrls")
        if [ -z "$mnt" ] || [ ! -w "$mnt$path" ]; then continue; fi
        path=${path%/}
        d=$mnt$path/$TEST_CG
        if [ "$hier" = 0 ]; then
            # v2: a process-free parent for the containers, the test in a leaf below it.
            [ -z "$path" ] || continue
            mkdir -p "$d/t" || continue
            TEST_CG_DIRS+=("$d")
            d=$d/t
        else
            mkdir "$d" || continue
            TEST_CG_DIRS+=("$d")
            if [ -e "$d/cpuset.cpus" ]; then
                cat "$mnt$path/cpuset.cpus" >"$d/cpuset.cpus"
                cat "$mnt$path/cpuset.mems" >"$d/cpuset.mems"
            fi
        fi
        echo "$BASHPID" >"$d/cgroup.procs" && TEST_CG_HOME+=("$mnt$path")
    done <<<"$cgs"
}

cg_leave_private() {
    local home d p rc=0 left
    for home in "${TEST_CG_HOME[@]}"; do
        echo "$BASHPID" >"$home/cgroup.procs" || rc=1
    done
    for d in "${TEST_CG_DIRS[@]}"; do
        # What the test started and left (a helper, a background sleep) dies with it.
        cat "$d"/cgroup.procs "$d"/t/cgroup.procs 2>/dev/null | while read -r p; do
            [ "$p" = "$BASHPID" ] || [ "$p" = $$ ] || kill -KILL "$p" 2>/dev/null || true
        done
        [ ! -d "$d/t" ] || wait_for rmdir "$d/t" 2>/dev/null || rc=1
        left=$(find "$d" -mindepth 1 -type d -printf '%P ' 2>/dev/null)
        if [ -n "$left" ]; then
            echo "teardown: cgroups left in $d: $left" >&2
            find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
            rc=1
        fi
        wait_for rmdir "$d" 2>/dev/null || rc=1
    done
    TEST_CG_DIRS=()
    TEST_CG_HOME=()
    return "$rc"
}

fail_now() {
    echo "$*" >&2
    return 1
}

# setup_bundle [DIR]: fresh bundle with a copy of the rootfs and a config.json from `spec`,
# terminal=false and args /bin/true. Sets $BUNDLE and $ROOTFS.
# shellcheck disable=SC2120 # DIR is optional: most callers take the default
setup_bundle() {
    BUNDLE=${1:-$BATS_TEST_TMPDIR/bundle}
    ROOTFS=$BUNDLE/rootfs
    mkdir -p "$BUNDLE"
    # A copy, not a bind: some tests modify the rootfs.
    cp -a "$ROOTFS_CACHE" "$ROOTFS"
    rm -f "$ROOTFS/.capsa-test-stamp"
    "$CAPSA" spec --bundle "$BUNDLE" || fail_now "$CAPSA spec failed"
    update_config '.process.terminal = false | .process.args = ["/bin/true"]
        | .hostname = "capsa-test"'
}

# update_config 'JQ EXPR' [BUNDLE]: edit config.json in place.
update_config() {
    local b=${2:-$BUNDLE}
    jq "$1" "$b/config.json" >"$b/config.json.new" && mv "$b/config.json.new" "$b/config.json"
}

# Bind-mount a fresh host directory at DEST inside the container; prints the host path.
# Usage: host_dir=$(add_host_dir /out)
add_host_dir() {
    local dest=$1 d
    d=$(mktemp -d "$BATS_TEST_TMPDIR/host.XXXXXX")
    chmod 0777 "$d"
    update_config ".mounts += [{\"destination\": \"$dest\", \"type\": \"bind\",
        \"source\": \"$d\", \"options\": [\"rbind\", \"rw\"]}]"
    echo "$d"
}

container_status() {
    capsa state "$1" 2>/dev/null | jq -r .status
}

# The host pid of the container's init; fails (and prints nothing) when state does.
container_pid() {
    local st pid
    st=$(capsa state "$1") || return 1
    pid=$(jq -r .pid <<<"$st")
    [[ "$pid" =~ ^[1-9][0-9]*$ ]] || fail_now "state of $1 has no pid: $st"
    echo "$pid"
}

# wait_for CMD...: poll CMD 0.1 s apart until it succeeds (waits for an effect; no timing
# asserts). The bound, $CAPSA_TEST_WAIT seconds (default 120), only turns a hang into a
# failure: a slow or loaded machine must never fail a test. A leading number (the old
# "N polls" argument) is accepted and ignored.
wait_for() {
    [[ "$1" =~ ^[0-9]+$ ]] && shift
    local end=$((SECONDS + ${CAPSA_TEST_WAIT:-120}))
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}

# Whether capsa's vm level would use KVM here (level/vm/qemu.c capsa_vmm_kvm_available): /dev/kvm
# opens read-write and the CPU advertises vmx or svm (some hypervisors give their guests a
# /dev/kvm without them, on which guests fail).
kvm_usable() {
    [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo
}

status_is() {
    [ "$(container_status "$1")" = "$2" ]
}

# A process is gone when it no longer exists or is a zombie waiting for its reaper (the runtime
# does not own the reaping of a container's init: it was reparented when create returned).
pid_gone() {
    local st
    [[ "$1" =~ ^[1-9][0-9]*$ ]] || fail_now "pid_gone: not a pid: '$1'"
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
    [ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# ctr_create ID [create flags...]: create from $BUNDLE. The container's stdio goes to
# $BATS_TEST_TMPDIR/ID.out and ID.err, never to a pipe: with terminal=false the init inherits the
# runtime's stdio, and a `run` capturing it would wait forever for EOF.
ctr_create() {
    local id=$1 rc=0 f
    shift
    f=$id
    [[ "$f" =~ ^[A-Za-z0-9_.-]{1,64}$ && "$f" != . && "$f" != .. ]] || f=odd-id
    capsa create --bundle "$BUNDLE" "$@" "$id" </dev/null >"$BATS_TEST_TMPDIR/$f.out" \
        2>"$BATS_TEST_TMPDIR/$f.err" || rc=$?
    [ "$rc" -eq 0 ] || cat "$BATS_TEST_TMPDIR/$f.err"
    return "$rc"
}

# Create and start a container running CMD (via sh -c), wait until it is running; sets $PID.
run_bg_container() {
    local id=$1
    shift
    update_config ".process.args = [\"sh\", \"-c\", $(jq -n --arg s "$*" '$s')]"
    ctr_create "$id" || return 1
    capsa start "$id" || return 1
    # shellcheck disable=SC2034 # read by the test files
    PID=$(container_pid "$id") || return 1
}

# True if any mount under PATH exists in the host mount namespace.
mounts_under() {
    awk -v p="$1" '$5 == p || index($5, p "/") == 1 { found = 1 } END { exit !found }' \
        /proc/self/mountinfo
}

# Assert that nothing of a failed create survives: no state, no process, no mount.
assert_nothing_left() {
    local id=$1
    run capsa state "$id"
    # shellcheck disable=SC2154 # set by bats' run
    [ "$status" -ne 0 ] || fail_now "state of $id still exists"
    [ -z "$(ls -A "$CAPSA_ROOT")" ] || fail_now "state root not empty: $(ls -A "$CAPSA_ROOT")"
    ! pgrep -f "$MARK" >/dev/null || fail_now "process with marker $MARK still alive"
    if [ -n "${ROOTFS:-}" ]; then
        ! mounts_under "$ROOTFS" || fail_now "mounts left under $ROOTFS"
    fi
}

teardown_common() {
    local i id rc=0 p
    for ((i = ${#DEFERRED[@]} - 1; i >= 0; i--)); do
        eval "${DEFERRED[$i]}" || true
    done
    if [ -n "${CAPSA_ROOT:-}" ]; then
        for id in $(capsa list -q 2>/dev/null); do
            capsa delete --force "$id" >/dev/null 2>&1 || true
        done
        # Whatever a test did, no process carrying its marker may outlive it.
        if [ -n "${MARK:-}" ] && pgrep -f "$MARK" >/dev/null; then
            for p in $(pgrep -f "$MARK"); do
                kill -KILL "$p" 2>/dev/null || true
            done
            echo "teardown: killed stray processes with marker $MARK" >&2
            rc=1
        fi
        if [ -n "$(capsa list -q 2>/dev/null)" ]; then
            echo "teardown: containers left in $CAPSA_ROOT" >&2
            rc=1
        fi
        if [ -n "${ROOTFS:-}" ] && mounts_under "$ROOTFS"; then
            echo "teardown: mounts left under $ROOTFS" >&2
            rc=1
        fi
    fi
    cg_leave_private || rc=1
    return "$rc"
}

setup() {
    setup_common
}

teardown() {
    teardown_common
}

# --- per-test v1 cgroups (cgroups.bats, cgroups_res.bats, promises.bats) ---
CG=/sys/fs/cgroup

# cg_setup PREFIX: a bundle whose cgroupsPath is private to this test, /PREFIX-$MARK/c1 (CGPATH),
# so that the host side can find (and miss) its directories, and files running side by side
# never share one.
cg_setup() {
    CG_PREFIX=$1
    CGPATH=/$1-$MARK/c1
    setup_bundle
    update_config ".linux.cgroupsPath = \"$CGPATH\""
}

# cg_require_v1: skip unless the host has v1 hierarchies (a pure v2 host is tests/v2vm's).
cg_require_v1() {
    [ "$(stat -f -c %T "$CG")" != cgroup2fs ] || skip "pure cgroup v2 host: see tests/v2vm"
    [ -d "$CG/memory" ] || skip "no v1 memory hierarchy"
}

# cg_teardown: teardown_common, then the parents cg_setup's path made (delete removes only the
# container's own cgroup).
cg_teardown() {
    teardown_common
    local rc=$?
    rmdir "$CG"/*/"$CG_PREFIX-$MARK" 2>/dev/null || true
    return $rc
}

# cgfile CONTROLLER FILE: path of FILE in the container's cgroup on the v1 hierarchy.
cgfile() {
    echo "$CG/$1$CGPATH/$2"
}

# shared_host_dir: hostdir, a fresh host directory with a sub/ directory, made a shared mount of
# its own (unmounted at teardown); for tests of propagation between host and container.
shared_host_dir() {
    hostdir=$(mktemp -d "$BATS_TEST_TMPDIR/shared.XXXXXX")
    mkdir "$hostdir/sub"
    mount --bind "$hostdir" "$hostdir"
    defer "umount -R '$hostdir' 2>/dev/null"
    mount --make-shared "$hostdir"
}
