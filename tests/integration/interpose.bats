#!/usr/bin/env bats
# interpose.bats - the interpose isolation level (docs/interpose.md), checked from the host:
# how a container comes to run at it, its supervisor (invisible from the container, and the
# container dies with it), the calls its filter refuses, the path policy (hidden, read-only,
# no way out of the rootfs, the audit log), the caller's identity in brokered calls, a
# check-then-use race, the files served from the cgroup, exec and the lifecycle commands, and
# one container's flood of brokered calls beside another's.
#
# Every test is capsa-specific: the level, its annotations and its supervisor are capsa's.
# Where a policy path must be reachable in the container's mount namespace for a test to be able
# to fail (a path that is also masked or mounted read-only would be refused by the kernel
# whatever the supervisor did), the test creates it from the host after start: a policy path
# that did not exist at create is not masked, so only the supervisor stands in the way, and the
# test checks through /proc/PID/root that the kernel's view does show it.

load helpers

setup() {
    setup_common
    requires_capsa
    cg_setup ip
    CID=ip$$r$RANDOM
    update_config '.root.readonly = false
        | .annotations["capsa.isolation"] = "interpose"'
}

teardown() {
    cg_teardown
}

# --- helpers of this file ---

# state_get ID FIELD: a field of the container's state.json.
state_get() {
    jq -r ".$2" "$CAPSA_ROOT/$1/state.json"
}

# proc_gone PID: the process does not exist, is a zombie, or is exiting (PF_EXITING). The last
# is the supervisor's case: as PID 1 of a pid namespace its exit waits until every process of
# that namespace has been reaped, and on this host PID 1 reaps the container's init late.
proc_gone() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    [ -n "$s" ] || return 0
    s=${s##*) }
    # shellcheck disable=SC2086 # split the fields on purpose
    set -- $s
    # $1: state (field 3), $7: flags (field 9).
    [ "$1" = Z ] || [ "$1" = X ] || [ $(($7 & 0x4)) -ne 0 ]
}

# test_supers: the live capsa-interpose processes this test started: those in its cgroups (a
# supervisor starts in its creator's, which are the test's: helpers.bash, cg_enter_private) or in
# a container cgroup below cg_setup's prefix.
test_supers() {
    local p
    for p in $(pgrep -x capsa-interpose); do
        if grep -qE "/($TEST_CG|$CG_PREFIX-$MARK)(/|\$)" "/proc/$p/cgroup" 2>/dev/null &&
            ! proc_gone "$p"; then
            echo "$p"
        fi
    done
}

# assert_no_super: no supervisor of this test is alive.
assert_no_super() {
    local left
    left=$(test_supers)
    [ -z "$left" ] || fail_now "capsa-interpose processes left: $left"
}

# assert_no_cgroup: no container cgroup below cg_setup's prefix (ip-$MARK) in any hierarchy, at
# its root or below the caller's cgroup (the prefix itself is the test's: cg_teardown).
assert_no_cgroup() {
    local left
    left=$(find "$CG" -maxdepth 6 -type d -path "*/$CG_PREFIX-$MARK/*" 2>/dev/null)
    [ -z "$left" ] || fail_now "cgroups left: $left"
}

# assert_super_of ID: the container's recorded supervisor is alive, named capsa-interpose, PID 1
# of a pid namespace of its own, and the container's init is one pid namespace further down.
assert_super_of() {
    local id=$1 h pid self_lv init_ns super_ns
    [ "$(state_get "$id" isolation)" = interpose ] ||
        fail_now "state.json isolation: $(state_get "$id" isolation)"
    h=$(state_get "$id" helperPid)
    pid=$(container_pid "$id")
    [[ "$h" =~ ^[1-9][0-9]*$ ]] || fail_now "state.json helperPid: $h"
    [ "$(cat "/proc/$h/comm")" = capsa-interpose ] || fail_now "pid $h is $(cat "/proc/$h/comm")"
    if proc_gone "$h"; then fail_now "the supervisor $h is gone"; fi
    [ "$(state_get "$id" helperStart)" = "$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$h/stat")" ] ||
        fail_now "helperStart does not match pid $h's start time"
    self_lv=$(awk '/^NSpid:/ { print NF - 1 }' /proc/self/status)
    super_ns=$(awk '/^NSpid:/ { print NF - 1 " " $NF }' "/proc/$h/status")
    init_ns=$(awk '/^NSpid:/ { print NF - 1 " " $NF }' "/proc/$pid/status")
    [ "$super_ns" = "$((self_lv + 1)) 1" ] || fail_now "supervisor NSpid levels/pid: $super_ns"
    [ "$init_ns" = "$((self_lv + 2)) 1" ] || fail_now "init NSpid levels/pid: $init_ns"
}

# ip_create ID [GLOBAL OPTIONS...]: create from $BUNDLE with global options before `create`;
# the container's stdio goes to files (ctr_create's reason).
ip_create() {
    local id=$1 rc=0
    shift
    "$CAPSA" --root "$CAPSA_ROOT" "$@" create --bundle "$BUNDLE" "$id" </dev/null \
        >"$BATS_TEST_TMPDIR/$id.out" 2>"$BATS_TEST_TMPDIR/$id.err" || rc=$?
    [ "$rc" -eq 0 ] || cat "$BATS_TEST_TMPDIR/$id.err"
    return "$rc"
}

# run_ip_container ID 'SH CODE': create and start at the level, wait until running; sets PID and
# SUPER (the supervisor's host pid).
run_ip_container() {
    run_bg_container "$@" || return 1
    SUPER=$(state_get "$1" helperPid)
}

# ipops_expect FILE 'EXPECTED LINES': FILE (the ipops output) is exactly those lines.
ipops_expect() {
    local got
    got=$(cat "$1")
    [ "$got" = "$2" ] || fail_now "$(printf 'ipops results differ:\n--- got\n%s\n--- expected\n%s' "$got" "$2")"
}

# --- 1. choosing the level ---

@test "interpose: the annotation selects the level: state.json says so, and a supervisor runs" {
    run_ip_container "$CID" "sleep 1000; : $MARK"
    assert_super_of "$CID"
    grep -qx "$PID" "$(cgfile pids cgroup.procs)" || fail_now "the init is not in the container's cgroup"
    # A native container says native and starts none.
    update_config 'del(.annotations["capsa.isolation"]) | .linux.cgroupsPath = "'"/ip-$MARK/n1"'"'
    run_bg_container "${CID}n" "sleep 1000; : $MARK"
    [ "$(state_get "${CID}n" isolation)" = native ]
    [ "$(state_get "${CID}n" helperPid)" = null ] || [ "$(state_get "${CID}n" helperPid)" = 0 ] ||
        fail_now "a native container has helperPid $(state_get "${CID}n" helperPid)"
    [ "$(test_supers)" = "$SUPER" ] || fail_now "supervisors: $(test_supers), expected only $SUPER"
}

@test "interpose: the supervisor holds none of the runtime's fds, whatever fds create was given" {
    # containerd's shim runs create with two more fds open (3, 4): the supervisor once kept the
    # runtime's fd of an unused slot, the locked state directory, and start waited on its lock.
    update_config '.process.args = ["sh", "-c", "sleep 1000; : '"$MARK"'"]'
    "$CAPSA" --root "$CAPSA_ROOT" create --bundle "$BUNDLE" "$CID" 3</dev/null 4</dev/null
    local super fd t
    super=$(state_get "$CID" helperPid)
    for fd in /proc/"$super"/fd/*; do
        t=$(readlink "$fd") || continue
        case $t in
        "$CAPSA_ROOT/$CID/audit.jsonl") ;;
        "$CAPSA_ROOT"*) fail_now "the supervisor holds $t (fd ${fd##*/})" ;;
        esac
    done
    run timeout 120 "$CAPSA" --root "$CAPSA_ROOT" start "$CID"
    [ "$status" -eq 0 ]
    [ "$(container_status "$CID")" = running ]
    capsa delete --force "$CID"
}

@test "interpose: an unknown level is refused naming the annotation and the known levels; nothing is left" {
    update_config '.annotations["capsa.isolation"] = "bogus"
        | .process.args = ["sh", "-c", "sleep 1000; : '"$MARK"'"]'
    run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *annotations.capsa.isolation* ]]
    [[ "$output" == *'"bogus"'* ]]
    [[ "$output" == *native* && "$output" == *interpose* && "$output" == *unikernel* ]]
    assert_nothing_left "$CID"
    [ ! -e "$CAPSA_ROOT/$CID" ]
    assert_no_cgroup
    assert_no_super
}

@test "interpose: a create that fails after the supervisor started leaves nothing" {
    update_config '.mounts += [{"destination": "/x", "type": "bind",
            "source": "/nonexistent-'"$MARK"'", "options": ["rbind"]}]
        | .process.args = ["sh", "-c", "sleep 1000; : '"$MARK"'"]'
    run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *nonexistent-"$MARK"* ]]
    assert_nothing_left "$CID"
    assert_no_cgroup
    wait_for assert_no_super
}

@test "interpose: --isolation interpose selects it without the annotation; later commands need no flag" {
    update_config 'del(.annotations["capsa.isolation"]) | .process.args = ["sh", "-c", "sleep 1000; : '"$MARK"'"]'
    ip_create "$CID" --isolation interpose
    capsa start "$CID"
    assert_super_of "$CID"
    SUPER=$(state_get "$CID" helperPid)
    # delete acts on the level recorded in state.json, whatever entry it is called through.
    capsa kill "$CID" KILL
    wait_for status_is "$CID" stopped
    capsa delete "$CID"
    [ ! -e "$CAPSA_ROOT/$CID" ]
    wait_for proc_gone "$SUPER"
}

@test "interpose: a binary named capsa-interpose selects it" {
    update_config 'del(.annotations["capsa.isolation"]) | .process.args = ["sh", "-c", "sleep 1000; : '"$MARK"'"]'
    mkdir "$BATS_TEST_TMPDIR/bin"
    ln -s "$(readlink -f "$CAPSA")" "$BATS_TEST_TMPDIR/bin/capsa-interpose"
    "$BATS_TEST_TMPDIR/bin/capsa-interpose" --root "$CAPSA_ROOT" create --bundle "$BUNDLE" "$CID" \
        </dev/null >"$BATS_TEST_TMPDIR/c.out" 2>"$BATS_TEST_TMPDIR/c.err" ||
        fail_now "create through capsa-interpose: $(cat "$BATS_TEST_TMPDIR/c.err")"
    capsa start "$CID"
    assert_super_of "$CID"
}

@test "interpose: \$CAPSA_CONFIG with isolation = interpose selects it; --isolation overrides it" {
    update_config 'del(.annotations["capsa.isolation"]) | .process.args = ["sh", "-c", "sleep 1000; : '"$MARK"'"]'
    printf '# the default level\n\n  isolation = interpose  # for this test\n' >"$BATS_TEST_TMPDIR/capsa.conf"
    CAPSA_CONFIG=$BATS_TEST_TMPDIR/capsa.conf ip_create "$CID"
    capsa start "$CID"
    assert_super_of "$CID"
    update_config '.linux.cgroupsPath = "'"/ip-$MARK/n1"'"'
    CAPSA_CONFIG=$BATS_TEST_TMPDIR/capsa.conf ip_create "${CID}n" --isolation native
    [ "$(state_get "${CID}n" isolation)" = native ]
}

@test "interpose: an unknown key or a bad value in \$CAPSA_CONFIG is an error naming it" {
    update_config 'del(.annotations["capsa.isolation"]) | .process.args = ["sh", "-c", "sleep 1000; : '"$MARK"'"]'
    printf 'isolaton = interpose\n' >"$BATS_TEST_TMPDIR/capsa.conf"
    CAPSA_CONFIG=$BATS_TEST_TMPDIR/capsa.conf run ip_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"$BATS_TEST_TMPDIR/capsa.conf"* ]]
    [[ "$output" == *isolaton* ]]
    assert_nothing_left "$CID"
    assert_no_cgroup
    assert_no_super
    printf 'isolation = sandboxed\n' >"$BATS_TEST_TMPDIR/capsa.conf"
    CAPSA_CONFIG=$BATS_TEST_TMPDIR/capsa.conf run ip_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *sandboxed* && "$output" == *interpose* ]]
    assert_nothing_left "$CID"
    assert_no_super
    # A configuration file that was asked for and is missing is an error too.
    CAPSA_CONFIG=$BATS_TEST_TMPDIR/missing.conf run ip_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"$BATS_TEST_TMPDIR/missing.conf"* ]]
    assert_nothing_left "$CID"
}

@test "interpose: with interpose the default, the annotation may not lower it to native" {
    update_config '.annotations["capsa.isolation"] = "native" | .process.args = ["sh", "-c", "sleep 1000; : '"$MARK"'"]'
    run ip_create "$CID" --isolation interpose
    [ "$status" -ne 0 ]
    [[ "$output" == *annotations.capsa.isolation* ]]
    [[ "$output" == *"may not lower"* ]]
    assert_nothing_left "$CID"
    assert_no_cgroup
    assert_no_super
    # The same default with the annotation interpose (or none) is fine.
    update_config '.annotations["capsa.isolation"] = "interpose"'
    ip_create "$CID" --isolation interpose
    [ "$(state_get "$CID" isolation)" = interpose ]
}

@test "interpose: features lists interpose among the isolation levels" {
    run capsa features
    [ "$status" -eq 0 ]
    levels=$(jq -r '.annotations["io.github.capsa.isolation"]' <<<"$output")
    [[ ",$levels," == *,interpose,* ]] || fail_now "io.github.capsa.isolation: $levels"
    [[ ",$levels," == *,native,* ]] || fail_now "io.github.capsa.isolation: $levels"
}

@test "interpose: a config without a new pid namespace is refused clearly; nothing is left" {
    update_config '.linux.namespaces |= map(select(.type != "pid"))
        | .process.args = ["sh", "-c", "sleep 1000; : '"$MARK"'"]'
    run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *linux.namespaces* && "$output" == *"pid namespace"* && "$output" == *interpose* ]]
    assert_nothing_left "$CID"
    assert_no_cgroup
    assert_no_super
    # Nor one joined by path.
    update_config '.linux.namespaces += [{"type": "pid", "path": "/proc/1/ns/pid"}]'
    run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"pid namespace"* ]]
    assert_nothing_left "$CID"
    assert_no_super
}

# --- 2. the supervisor: invisible, and the container dies with it ---

@test "interpose: the supervisor is invisible from the container: ps and /proc show only its processes" {
    OUT=$(add_host_dir /out)
    # Builtins only (read, a glob), so that the listing holds no transient process of its own.
    # The listing waits for the sleep child to have executed sleep.
    run_ip_container "$CID" "sleep 1000 & c=; until [ \"\$c\" = sleep ]; do read -r c < /proc/\$!/comm; done
        for p in /proc/[0-9]*; do read -r c < \$p/comm; echo \${p#/proc/} \$c; done > /out/procs; ps -o pid,comm > /out/ps; touch /out/done; wait; : $MARK"
    wait_for test -e "$OUT/done"
    # From the host, the processes of the container's pid namespace: the init and its sleep.
    ns=$(readlink "/proc/$PID/ns/pid")
    spid=$(pgrep -P "$PID" -x sleep)
    [ "$(readlink "/proc/$spid/ns/pid")" = "$ns" ]
    [ "$(readlink "/proc/$SUPER/ns/pid")" != "$ns" ]
    inner=$(awk '/^NSpid:/ { print $NF }' "/proc/$spid/status")
    [ "$(cat "$OUT/procs")" = "$(printf '1 sh\n%s sleep' "$inner")" ] ||
        fail_now "pids seen inside: $(cat "$OUT/procs")"
    run ! grep -q capsa-interpose "$OUT/ps"
    grep -qw sleep "$OUT/ps"
    # The supervisor is there all along, from the host.
    [ "$(cat "/proc/$SUPER/comm")" = capsa-interpose ]
}

@test "interpose: SIGKILL to the supervisor kills the container; delete then leaves nothing" {
    run_ip_container "$CID" "sleep 1000; : $MARK"
    spid=$(pgrep -P "$PID" -x sleep) || spid=
    sock=$(readlink "/proc/$SUPER/fd/4")
    [[ "$sock" =~ ^socket:\[([0-9]+)\]$ ]] || fail_now "fd 4 of the supervisor: $sock"
    ino=${BASH_REMATCH[1]}
    grep -q " $ino " /proc/net/unix || fail_now "socket $ino not in /proc/net/unix"
    mapfile -t cgdirs < <(state_get "$CID" cgroup | awk 'NF == 3 { print $3 }')
    [ "${#cgdirs[@]}" -gt 0 ]
    kill -KILL "$SUPER"
    wait_for pid_gone "$PID"
    [ -z "$spid" ] || wait_for pid_gone "$spid"
    wait_for status_is "$CID" stopped
    capsa delete "$CID"
    [ ! -e "$CAPSA_ROOT/$CID" ]
    wait_for proc_gone "$SUPER"
    assert_no_super
    for d in "${cgdirs[@]}"; do
        [ ! -d "$d" ] || fail_now "cgroup left: $d"
    done
    run ! grep -q " $ino " /proc/net/unix
}

@test "interpose: delete of a running container ends its supervisor" {
    run_ip_container "$CID" "sleep 1000; : $MARK"
    capsa delete --force "$CID"
    [ ! -e "$CAPSA_ROOT/$CID" ]
    wait_for pid_gone "$PID"
    wait_for proc_gone "$SUPER"
    assert_no_super
    assert_no_cgroup
}

# --- 3. the refused families ---

# probe_run LEVEL: run ipprobe in a container at LEVEL; its output in $output.
probe_run() {
    update_config '.annotations["capsa.isolation"] = "'"$1"'" | .process.args = ["/bin/ipprobe"]'
    run capsa run --bundle "$BUNDLE" "$CID$1" </dev/null
    [ "$status" -eq 0 ] || fail_now "ipprobe at $1: status $status: $output"
    capsa delete --force "$CID$1" 2>/dev/null || true
}

# docs_errno CALL: the errno docs/interpose.md's table gives the refused CALL.
docs_errno() {
    awk -F'|' -v c="$1" '/^<!-- syscall table/ { t = 1 } t && $2 ~ "^ " c " $" && $4 ~ /refused/ {
        gsub(/ /, "", $5); print $5 }' "$REPO/docs/interpose.md"
}

@test "interpose: the refused families get the errno docs/interpose.md states; native refuses fewer" {
    probe_run interpose
    ip_out=$output
    declare -A got
    while read -r name res; do got[$name]=$res; done <<<"$ip_out"
    # The calls of the table's refused class, with the errno it states.
    for c in io_uring_setup bpf perf_event_open userfaultfd keyctl add_key request_key ptrace \
        process_vm_readv kcmp pidfd_getfd unshare setns mount umount2 pivot_root chroot fsopen \
        fsmount open_tree move_mount kexec_load kexec_file_load init_module finit_module \
        delete_module reboot open_by_handle_at name_to_handle_at swapon syslog iopl modify_ldt \
        settimeofday clock_settime adjtimex sethostname fanotify_init clone3; do
        want=$(docs_errno "$c")
        [ -n "$want" ] || fail_now "docs/interpose.md gives no errno for $c"
        [ "${got[$c]:-}" = "$want" ] || fail_now "$c: got '${got[$c]:-}', docs say $want"
    done
    # The argument checks' answers (the table of argument checks).
    [ "${got[socket_packet]}" = EAFNOSUPPORT ]
    [ "${got[socket_raw]}" = EPERM ]
    [ "${got[socket_sock_packet]}" = EPERM ]
    [ "${got[socket_sctp]}" = EPROTONOSUPPORT ]
    [ "${got[socket_netlink_audit]}" = EPROTONOSUPPORT ]
    [ "${got[ioctl_tiocsti]}" = EPERM ]
    [ "${got[ioctl_setflags]}" = ENOTTY ]
    [ "${got[clone_newuser]}" = EPERM ]
    [ "${got[personality_exec]}" = EPERM ]
    [ "${got[prctl_io_flusher]}" = EINVAL ]
    [ "${got[seccomp_listener]}" = EBUSY ]
    [ "${got[process_madvise]}" = ENOSYS ]
    [ "${got[x32]}" = "killed SIGSYS" ]
    # Controls: allowed at the level.
    [ "${got[getppid]}" = ok ]
    [ "${got[clone]}" = ok ]

    # At native, the same probes are not refused this way: interpose is what refuses them.
    probe_run native
    declare -A nat
    while read -r name res; do nat[$name]=$res; done <<<"$output"
    [ "${nat[unshare]}" = ok ]      # unshare(0)
    [ "${nat[setns]}" = EBADF ]     # setns(-1, 0)
    [ "${nat[ioctl_tiocsti]}" = ENOTTY ] # on a pipe
    for c in clone3 x32 socket_packet chroot; do
        [ "${nat[$c]:-}" != "${got[$c]}" ] || fail_now "$c: ${got[$c]} at native too"
    done
    n_ip=$(grep -cE ' (EPERM|ENOSYS|EAFNOSUPPORT|killed SIGSYS)$' <<<"$ip_out")
    n_nat=$(grep -cE ' (EPERM|ENOSYS|EAFNOSUPPORT|killed SIGSYS)$' <<<"$output")
    [ "$n_nat" -lt "$n_ip" ] || fail_now "refused: $n_nat at native, $n_ip at interpose"
}

# --- 4. the path policy ---

@test "interpose: a hidden path cannot be reached: direct, symlinks, .., hard link, rename, relative" {
    OUT=$(add_host_dir /out)
    SECRET=SECRET-$MARK
    ln -s /etc/secret-hidden "$ROOTFS/tmp/lnk"
    ln -s ../etc/secret-hidden "$ROOTFS/tmp/rel"
    echo visible >"$ROOTFS/etc/visible"
    update_config '.annotations["capsa.interpose.hidden"] = "/etc/secret-hidden"'
    run_ip_container "$CID" "while [ ! -e /out/go ]; do sleep 0.1; done
        ipops read /etc/secret-hidden read /tmp/lnk read /tmp/rel read /etc/../etc/secret-hidden \
            read /tmp/../../../etc/secret-hidden read //etc//secret-hidden read /etc/./secret-hidden \
            stat /etc/secret-hidden access /etc/secret-hidden \
            symlink /etc/secret-hidden /tmp/mylnk read /tmp/mylnk \
            link /etc/secret-hidden /tmp/hl rename /etc/secret-hidden /tmp/moved \
            unlink /etc/secret-hidden chmod /etc/secret-hidden 666 read /etc/visible > /out/res
        cd /etc && ipops read secret-hidden read ./secret-hidden > /out/rel
        touch /out/done; sleep 1000; : $MARK"
    # Created now, so that it is not masked: the kernel's view of the container shows it.
    echo "$SECRET" >"$ROOTFS/etc/secret-hidden"
    [ "$(cat "/proc/$PID/root/etc/secret-hidden")" = "$SECRET" ]
    touch "$OUT/go"
    wait_for test -e "$OUT/done"
    ipops_expect "$OUT/res" "ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ok
ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ok visible"
    ipops_expect "$OUT/rel" "ENOENT
ENOENT"
    # Untouched, and no other name for it was made.
    [ "$(cat "$ROOTFS/etc/secret-hidden")" = "$SECRET" ]
    [ ! -e "$ROOTFS/tmp/hl" ]
    [ ! -e "$ROOTFS/tmp/moved" ]
    run ! grep -rq "$SECRET" "$OUT"
    # The audit log has the refusals, as JSON lines.
    python3 -c '
import json, sys
want = {"/etc/secret-hidden", "/tmp/lnk", "/etc/../etc/secret-hidden"}
seen = set()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("decision") == "refused" and e.get("syscall") in ("open", "openat") \
            and e.get("reason") == "hidden path" and e.get("path") in want:
        seen.add(e["path"])
sys.exit(0 if seen == want else "audit: refused opens of %s, expected %s" % (sorted(seen), sorted(want)))
' "$CAPSA_ROOT/$CID/audit.jsonl"
}

@test "interpose: a hidden path that exists at create is refused too (ENOENT, not the mask's empty file)" {
    echo "SECRET-$MARK" >"$ROOTFS/etc/secret-hidden"
    update_config '.annotations["capsa.interpose.hidden"] = "/etc/secret-hidden"'
    run_ip_container "$CID" "sleep 1000; : $MARK"
    run capsa exec "$CID" ipops read /etc/secret-hidden stat /etc/secret-hidden
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'ENOENT\nENOENT')" ]
    [ "$(cat "$ROOTFS/etc/secret-hidden")" = "SECRET-$MARK" ]
}

@test "interpose: a directory above a hidden or read-only path cannot be renamed away or replaced" {
    OUT=$(add_host_dir /out)
    mkdir -p "$ROOTFS/data/other" "$ROOTFS/srv" "$ROOTFS/tmp/empty" "$ROOTFS/tmp/full"
    echo x >"$ROOTFS/tmp/full/x"
    update_config '.annotations["capsa.interpose.hidden"] = "/data/secret"
        | .annotations["capsa.interpose.readonly"] = "/srv/ro"'
    run_ip_container "$CID" "while [ ! -e /out/go ]; do sleep 0.1; done
        ipops rename /data /data2 read /data2/secret rename /srv /srv2 append /srv2/ro/f \
            rename /tmp/empty /srv rename /tmp/full /data rename /data/other /data/other2 \
            rename /tmp/full /tmp/full2 read /data/secret append /srv/ro/f > /out/res
        touch /out/done; sleep 1000; : $MARK"
    # Made after start: not masked nor mounted read-only, only the policy names them.
    echo "SECRET-$MARK" >"$ROOTFS/data/secret"
    mkdir "$ROOTFS/srv/ro"
    echo "orig-$MARK" >"$ROOTFS/srv/ro/f"
    [ "$(cat "/proc/$PID/root/data/secret")" = "SECRET-$MARK" ]
    touch "$OUT/go"
    wait_for test -e "$OUT/done"
    ipops_expect "$OUT/res" "EPERM
ENOENT
EPERM
ENOENT
EPERM
EPERM
ok
ok
ENOENT
EROFS"
    [ "$(cat "$ROOTFS/data/secret")" = "SECRET-$MARK" ]
    [ "$(cat "$ROOTFS/srv/ro/f")" = "orig-$MARK" ]
    [ ! -e "$ROOTFS/data2" ]
    [ ! -e "$ROOTFS/srv2" ]
    run ! grep -rq "SECRET-$MARK" "$OUT"
}

@test "interpose: creating through a symlink to nothing creates its target, policy and rootfs kept" {
    OUT=$(add_host_dir /out)
    HOSTF=$BATS_TEST_TMPDIR/hostnew
    ln -s /tmp/abs-target "$ROOTFS/tmp/dangling"
    ln -s rel-target "$ROOTFS/tmp/dangrel"
    ln -s /etc/secret-hidden "$ROOTFS/tmp/tohidden"
    ln -s /ro/new "$ROOTFS/tmp/toro"
    ln -s "$HOSTF" "$ROOTFS/tmp/tohost"
    # The host path's directory exists in the rootfs too: the target can be made there.
    mkdir -p "$ROOTFS$(dirname "$HOSTF")"
    ln -s loopb "$ROOTFS/tmp/loopa"
    ln -s loopa "$ROOTFS/tmp/loopb"
    mkdir "$ROOTFS/ro"
    update_config '.annotations["capsa.interpose.hidden"] = "/etc/secret-hidden"
        | .annotations["capsa.interpose.readonly"] = "/ro"'
    run_ip_container "$CID" "cd /tmp && ipops put /tmp/dangling put dangrel put tohidden \
            put toro put tohost put loopa create /tmp/dangling > /out/res
        touch /out/done; sleep 1000; : $MARK"
    wait_for test -e "$OUT/done"
    ipops_expect "$OUT/res" "ok
ok
ENOENT
EROFS
ok
ELOOP
EEXIST"
    [ -f "$ROOTFS/tmp/abs-target" ]
    [ -L "$ROOTFS/tmp/dangling" ]
    [ -f "$ROOTFS/tmp/rel-target" ]
    [ ! -e "$ROOTFS/etc/secret-hidden" ]
    [ ! -e "$ROOTFS/ro/new" ]
    # The absolute target is the rootfs's, never the host's.
    [ -f "$ROOTFS$HOSTF" ]
    [ ! -e "$HOSTF" ]
}

@test "interpose: /proc/self, /proc/mounts, /proc/net and /dev/fd name the caller's own" {
    OUT=$(add_host_dir /out)
    run_ip_container "$CID" "ipops read /proc/mounts read /proc/self/mounts read /proc/net/dev \
            read /proc/thread-self/comm read /proc/self/comm stat /dev/fd stat /dev/stdout \
            read /proc/selfx > /out/res
        touch /out/done; sleep 1000; : $MARK"
    wait_for test -e "$OUT/done"
    # /proc/PID/mounts shows the mounts from PID's root: what the container sees.
    m1=$(head -n1 "/proc/$PID/mounts" | cut -c1-200)
    n1=$(head -n1 "/proc/$PID/net/dev" | cut -c1-200)
    ipops_expect "$OUT/res" "ok $m1
ok $m1
ok $n1
ok ipops
ok ipops
ok
ok
ENOENT"
}

# ro_ops DIR: every modifying call on DIR/f, and on names in DIR, then a read of DIR/f.
ro_ops() {
    local d=$1
    echo "ipops write $d/f append $d/f otrunc $d/f trunc $d/f chmod $d/f 777 chown $d/f 1000 1000 \
        utime $d/f unlink $d/f rename $d/f /tmp/out rename /tmp/in $d/in create $d/new \
        mkdir $d/newdir rmdir $d/sub link /tmp/in $d/lnk symlink /x $d/sl link $d/f /tmp/hl \
        read $d/f"
}

RO_EXPECTED="EROFS
EROFS
EROFS
EROFS
EROFS
EROFS
EROFS
EROFS
EROFS
EROFS
EROFS
EROFS
EROFS
EROFS
EROFS
EPERM"

@test "interpose: a read-only path: no write, truncate, rename in or out, chmod, unlink; host file unchanged" {
    OUT=$(add_host_dir /out)
    # /ro exists at create (also mounted read-only); /late is made after start (the supervisor
    # alone keeps it read-only).
    mkdir -p "$ROOTFS/ro/sub"
    echo "orig-$MARK" >"$ROOTFS/ro/f"
    echo in >"$ROOTFS/tmp/in"
    update_config '.annotations["capsa.interpose.readonly"] = "/ro:/late"'
    run_ip_container "$CID" "while [ ! -e /out/go ]; do sleep 0.1; done
        $(ro_ops /ro) > /out/ro
        $(ro_ops /late) > /out/late
        touch /out/done; sleep 1000; : $MARK"
    mkdir -p "$ROOTFS/late/sub"
    echo "orig-$MARK" >"$ROOTFS/late/f"
    touch -d '2001-02-03 04:05:06' "$ROOTFS/ro/f" "$ROOTFS/late/f"
    run ! awk -v p="$ROOTFS/late" '$5 == "/late" || $5 == p { f = 1 } END { exit !f }' "/proc/$PID/mountinfo"
    before_ro=$(stat -c '%s %Y %a %u %g %i' "$ROOTFS/ro/f"; sha256sum <"$ROOTFS/ro/f"; ls -a "$ROOTFS/ro")
    before_late=$(stat -c '%s %Y %a %u %g %i' "$ROOTFS/late/f"; sha256sum <"$ROOTFS/late/f"; ls -a "$ROOTFS/late")
    touch "$OUT/go"
    wait_for test -e "$OUT/done"
    ipops_expect "$OUT/ro" "$RO_EXPECTED
ok orig-$MARK"
    ipops_expect "$OUT/late" "$RO_EXPECTED
ok orig-$MARK"
    [ "$(stat -c '%s %Y %a %u %g %i' "$ROOTFS/ro/f"; sha256sum <"$ROOTFS/ro/f"; ls -a "$ROOTFS/ro")" = "$before_ro" ]
    [ "$(stat -c '%s %Y %a %u %g %i' "$ROOTFS/late/f"; sha256sum <"$ROOTFS/late/f"; ls -a "$ROOTFS/late")" = "$before_late" ]
    [ -e "$ROOTFS/tmp/in" ]
    [ ! -e "$ROOTFS/tmp/out" ]
    [ ! -e "$ROOTFS/tmp/hl" ]
    # The supervisor refused them (the audit log), not only the read-only mount.
    python3 -c '
import json, sys
n = sum(1 for line in open(sys.argv[1])
        for e in [json.loads(line)]
        if e.get("decision") == "refused" and e.get("reason") == "read-only path"
        and e.get("path", "").startswith("/late/"))
sys.exit(0 if n >= 10 else "audit: %d refusals under /late" % n)
' "$CAPSA_ROOT/$CID/audit.jsonl"
}

@test "interpose: symlinks and .. never leave the rootfs; the host file is untouched" {
    OUT=$(add_host_dir /out)
    HOSTF=$BATS_TEST_TMPDIR/hostsecret
    echo "HOST-$MARK" >"$HOSTF"
    touch -d '2001-02-03 04:05:06' "$HOSTF"
    [ ! -e "$ROOTFS$HOSTF" ]
    ln -s "$HOSTF" "$ROOTFS/esc"
    ln -s "../../../../../../../../../../..$HOSTF" "$ROOTFS/esc2"
    ln -s "$(dirname "$HOSTF")" "$ROOTFS/escdir"
    before=$(stat -c '%s %Y %a %u %g %i' "$HOSTF")
    run_ip_container "$CID" "ipops read /esc read /esc2 read /../../../..$HOSTF read /escdir/hostsecret \
            stat /esc append /esc chmod /esc 777 trunc /escdir/hostsecret \
            unlink /escdir/hostsecret rename /escdir/hostsecret /tmp/got link /esc /tmp/hl \
            > /out/res
        touch /out/done; sleep 1000; : $MARK"
    wait_for test -e "$OUT/done"
    ipops_expect "$OUT/res" "ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ENOENT
ok"
    [ "$(cat "$HOSTF")" = "HOST-$MARK" ]
    [ "$(stat -c '%s %Y %a %u %g %i' "$HOSTF")" = "$before" ]
    [ ! -e "$ROOTFS/tmp/got" ]
    # link(2) does not follow a symlink: the new name is the symlink itself, inside the rootfs.
    [ "$(stat -c '%i %F' "$ROOTFS/tmp/hl")" = "$(stat -c '%i %F' "$ROOTFS/esc")" ]
}

# --- 5. the caller's identity ---

@test "interpose: a uid 1000 workload: root's 0600 file EACCES, its own readable, creations owned by it, umask applied" {
    OUT=$(add_host_dir /out)
    echo "ROOT-$MARK" >"$ROOTFS/etc/rootonly"
    chown 0:0 "$ROOTFS/etc/rootonly"
    chmod 0600 "$ROOTFS/etc/rootonly"
    echo mine >"$ROOTFS/home/user/mine"
    chown 1000:1000 "$ROOTFS/home/user/mine"
    chmod 0600 "$ROOTFS/home/user/mine"
    update_config '.process.user = {"uid": 1000, "gid": 1000, "umask": 63}'
    run_ip_container "$CID" "ipops read /etc/rootonly access /etc/rootonly read /home/user/mine \
            create /home/user/new mkdir /home/user/newdir create /etc/byuser > /out/res
        umask 027; ipops create /home/user/new027 > /out/res027
        touch /out/done; sleep 1000; : $MARK"
    wait_for test -e "$OUT/done"
    ipops_expect "$OUT/res" "EACCES
EACCES
ok mine
ok
ok
EACCES"
    ipops_expect "$OUT/res027" ok
    [ "$(stat -c '%u %g %a' "$ROOTFS/home/user/new")" = "1000 1000 600" ]
    [ "$(stat -c '%u %g %a' "$ROOTFS/home/user/newdir")" = "1000 1000 700" ]
    [ "$(stat -c '%u %g %a' "$ROOTFS/home/user/new027")" = "1000 1000 640" ]
    [ ! -e "$ROOTFS/etc/byuser" ]
    [ "$(cat "$ROOTFS/etc/rootonly")" = "ROOT-$MARK" ]
    run ! grep -rq "ROOT-$MARK" "$OUT"
}

@test "interpose: a process that changes its ids between two brokered calls is served with the new ones" {
    echo "ROOT-$MARK" >"$ROOTFS/etc/rootonly"
    chmod 0600 "$ROOTFS/etc/rootonly"
    update_config '.process.capabilities.bounding += ["CAP_SETUID", "CAP_SETGID"]
        | .process.capabilities.effective += ["CAP_SETUID", "CAP_SETGID"]
        | .process.capabilities.permitted += ["CAP_SETUID", "CAP_SETGID"]'
    run_ip_container "$CID" "ipops read /etc/rootonly setid 1000 read /etc/rootonly create /tmp/after \
        > /tmp/res; sleep 1000; : $MARK"
    wait_for test -s "$ROOTFS/tmp/res"
    ipops_expect "$ROOTFS/tmp/res" "ok ROOT-$MARK
ok
EACCES
ok"
    [ "$(stat -c '%u %g' "$ROOTFS/tmp/after")" = "1000 1000" ]
}

@test "interpose: a container in its own user namespace is served, through the fetcher only it needs" {
    update_config '.linux.namespaces += [{"type":"user"}]
        | .linux.uidMappings = [{"containerID":0,"hostID":100000,"size":65536}]
        | .linux.gidMappings = [{"containerID":0,"hostID":200000,"size":65536}]'
    chown -R 100000:200000 "$ROOTFS"
    run_ip_container "$CID" "ipops create /tmp/byinit read /etc/hostname > /tmp/res; sleep 1000; : $MARK"
    wait_for test -s "$ROOTFS/tmp/res"
    [ "$(head -n1 "$ROOTFS/tmp/res")" = ok ]
    [ "$(stat -c '%u %g' "$ROOTFS/tmp/byinit")" = "100000 200000" ]
    # The supervisor has left the host's user namespace; its fetcher has not.
    [ "$(readlink "/proc/$SUPER/ns/user")" = "$(readlink "/proc/$PID/ns/user")" ]
    fetcher=$(pgrep -P "$SUPER" -x capsa-ip-fetch) || fail_now "no fetcher under supervisor $SUPER"
    [ "$(readlink "/proc/$fetcher/ns/user")" = "$(readlink /proc/self/ns/user)" ]
    # An exec'd process's listener goes the same way.
    run capsa exec "$CID" ipops create /tmp/byexec
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
    [ "$(stat -c '%u %g' "$ROOTFS/tmp/byexec")" = "100000 200000" ]
}

@test "interpose: without a user namespace of its own the supervisor takes the listeners itself: no fetcher" {
    run_ip_container "$CID" "sleep 1000; : $MARK"
    run capsa exec "$CID" ipops create /tmp/byexec
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
    run pgrep -P "$SUPER" -x capsa-ip-fetch
    [ "$status" -ne 0 ]
}

@test "interpose: a unix socket's server sees the brokered connect's caller, not the supervisor's root" {
    OUT=$(add_host_dir /out)
    # A root server in the container that would trust SO_PEERCRED.
    run_ip_container "$CID" "ipops peer /tmp/srv.sock > /out/peer; touch /out/done; sleep 1000; : $MARK"
    wait_for test -S "$ROOTFS/tmp/srv.sock"
    run capsa exec --user 1000:1000 "$CID" ipops connect /tmp/srv.sock
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
    wait_for test -e "$OUT/done"
    [ "$(cat "$OUT/peer")" = "ok uid=1000 gid=1000" ] || fail_now "the server saw: $(cat "$OUT/peer")"
}

# --- 6. a check-then-use race ---

@test "interpose: flipping the path buffer during open never reads the hidden file" {
    OUT=$(add_host_dir /out)
    echo allowed-content >"$ROOTFS/tmp/allowed"
    update_config '.annotations["capsa.interpose.hidden"] = "/etc/secret-hidden"'
    run_ip_container "$CID" "while [ ! -e /out/go ]; do sleep 0.1; done
        ipracer 20000 /tmp/allowed /etc/secret-hidden SECRET-$MARK > /out/race 2>&1; echo \$? > /out/rc
        sleep 1000; : $MARK"
    echo "SECRET-$MARK" >"$ROOTFS/etc/secret-hidden"
    # Not masked: a race won would read it.
    [ "$(cat "/proc/$PID/root/etc/secret-hidden")" = "SECRET-$MARK" ]
    touch "$OUT/go"
    wait_for test -s "$OUT/rc"
    cat "$OUT/race"
    read -r _ opens _ allowed _ refused _ other _ leaked <"$OUT/race"
    [ "$leaked" -eq 0 ]
    [ "$allowed" -gt 0 ]
    [ "$refused" -gt 0 ]
    [ "$opens" -ge 20000 ]
    [ "$((allowed + refused + other))" -eq "$opens" ]
    [ "$(cat "$OUT/rc")" = 0 ]
}

# --- 7. files served from the cgroup ---

@test "interpose: /proc/meminfo MemTotal is the memory limit" {
    update_config '.linux.resources.memory = {"limit": 67108864}'
    run_ip_container "$CID" "sleep 1000; : $MARK"
    [ "$(cat "$(cgfile memory memory.limit_in_bytes)")" = 67108864 ]
    run capsa exec "$CID" sh -c 'grep "^MemTotal:" /proc/meminfo'
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^MemTotal:\ +65536\ kB$ ]] || fail_now "inside: $output"
    # The host's own file says otherwise: the container's is served.
    run -1 grep -qE '^MemTotal: +65536 kB$' /proc/meminfo
}

@test "interpose: with one CPU in the cpuset, cpu/online is 0 and one CPU is listed" {
    online=$(cat /sys/devices/system/cpu/online)
    [ "$(nproc --all)" -ge 2 ] || skip "the host has one CPU"
    # The last CPU of the host, so that the container's "0" is a renumbering, not a copy.
    last=${online##*[,-]}
    update_config '.linux.resources.cpu = {"cpus": "'"$last"'"}'
    run_ip_container "$CID" "sleep 1000; : $MARK"
    [ "$(cat "$(cgfile cpuset cpuset.cpus)")" = "$last" ]
    run capsa exec "$CID" sh -c 'cat /sys/devices/system/cpu/online; grep -c "^processor" /proc/cpuinfo; grep -c "^cpu[0-9]" /proc/stat; nproc'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '0\n1\n1\n1')" ] || fail_now "inside: $output"
}

# --- 8. exec and the lifecycle commands ---

@test "interpose: an exec'd process is brokered too: a hidden path is invisible to it" {
    update_config '.annotations["capsa.interpose.hidden"] = "/etc/secret-hidden"'
    run_ip_container "$CID" "sleep 1000; : $MARK"
    echo "SECRET-$MARK" >"$ROOTFS/etc/secret-hidden"
    [ "$(cat "/proc/$PID/root/etc/secret-hidden")" = "SECRET-$MARK" ]
    run capsa exec "$CID" ipops read /etc/secret-hidden read /etc/passwd
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'ENOENT\nok root:x:0:0:root:/root:/bin/sh')" ]
    run capsa exec "$CID" cat /etc/secret-hidden
    [ "$status" -ne 0 ]
    [[ "$output" != *SECRET* ]]
    # A detached exec'd process carries the filter (seccomp mode 2) and is served.
    capsa exec --detach --pid-file "$BATS_TEST_TMPDIR/epid" "$CID" sh -c "sleep 1000; : $MARK" \
        </dev/null >/dev/null 2>&1
    epid=$(cat "$BATS_TEST_TMPDIR/epid")
    [ "$(awk '/^Seccomp:/ { print $2 }' "/proc/$epid/status")" = 2 ]
    run capsa exec --user 1000:1000 "$CID" ipops create /tmp/by1000
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
    [ "$(stat -c %u "$ROOTFS/tmp/by1000")" = 1000 ]
}

@test "interpose: exec --tty works, and its process is brokered" {
    RECVTTY=$REPO/build/helpers/recvtty
    [ -x "$RECVTTY" ] || skip "build/helpers/recvtty not built (make helpers)"
    SOCK=$BATS_TEST_TMPDIR/console.sock
    update_config '.annotations["capsa.interpose.hidden"] = "/etc/secret-hidden"'
    run_ip_container "$CID" "sleep 1000; : $MARK"
    echo "SECRET-$MARK" >"$ROOTFS/etc/secret-hidden"
    "$RECVTTY" "$SOCK" >"$BATS_TEST_TMPDIR/tty.out" 2>"$BATS_TEST_TMPDIR/tty.err" &
    RPID=$!
    defer "kill $RPID 2>/dev/null"
    wait_for test -S "$SOCK"
    run capsa exec -t --console-socket "$SOCK" "$CID" sh -c '[ -t 0 ] && [ -t 1 ] && echo all-tty; tty; ipops read /etc/secret-hidden'
    [ "$status" -eq 0 ]
    wait "$RPID" || true
    out=$(tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out")
    [[ "$out" == *all-tty* ]]
    [[ "$out" == *"/dev/pts/"* ]]
    [[ "$out" == *ENOENT* ]]
    [[ "$out" != *SECRET* ]]
}

@test "interpose: kill stops the container and its supervisor goes" {
    run_ip_container "$CID" "sleep 1000; : $MARK"
    capsa kill "$CID" KILL
    wait_for pid_gone "$PID"
    wait_for status_is "$CID" stopped
    # Every listener hung up: the supervisor ends by itself.
    wait_for proc_gone "$SUPER"
}

@test "interpose: pause freezes the container, resume thaws it, and brokered calls go on" {
    OUT=$(add_host_dir /out)
    run_ip_container "$CID" "i=0; while :; do i=\$((i+1)); echo \$i > /out/n; sleep 0.05; done; : $MARK"
    wait_for test -s "$OUT/n"
    run capsa pause "$CID"
    [ "$status" -eq 0 ]
    [ "$(container_status "$CID")" = paused ]
    [ "$(cat "$CG/unified$CGPATH/cgroup.freeze" 2>/dev/null)" = 1 ] ||
        [ "$(cat "$(cgfile freezer freezer.state)")" = FROZEN ]
    a=$(cat "$OUT/n")
    sleep 0.5
    [ "$(cat "$OUT/n")" = "$a" ]
    run capsa resume "$CID"
    [ "$status" -eq 0 ]
    [ "$(container_status "$CID")" = running ]
    wait_for bash -c "[ \$(cat $OUT/n) -gt $a ]"
    run capsa exec "$CID" ipops stat /out/n
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
}

@test "interpose: events --stats reports cpu, memory and pids" {
    update_config '.linux.resources = {"pids": {"limit": 30}}'
    run_ip_container "$CID" "sleep 1000; : $MARK"
    run capsa events --stats "$CID"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg id "$CID" '.type == "stats" and .id == $id'
    echo "$output" | jq -e '.data.memory.usage.usage > 0'
    echo "$output" | jq -e '.data.pids.current >= 1 and .data.pids.limit == 30'
    echo "$output" | jq -e '.data.cpu.usage.total > 0'
}

# --- 9. one container's flood beside another ---

@test "interpose: a flood of brokered calls in one container does not stall another's supervisor" {
    OUT=$(add_host_dir /out)
    update_config '.linux.cgroupsPath = "'"/ip-$MARK/a"'"'
    # Four loops of stat() ([ -e ] is a builtin: one brokered call per turn, no fork).
    run_ip_container "${CID}a" "for i in 1 2 3 4; do (while :; do [ -e /etc/passwd ]; done) & done
        touch /out/flooding; wait; : $MARK"
    SUPER_A=$SUPER
    wait_for test -e "$OUT/flooding"
    update_config '.linux.cgroupsPath = "'"/ip-$MARK/b"'"'
    run_ip_container "${CID}b" "sleep 1000; : $MARK"
    [ "$SUPER" != "$SUPER_A" ]
    busy=$(awk '{ print $1 }' "/proc/$SUPER_A/schedstat")
    # timeout only turns a hang into a failure.
    run timeout 600 "$CAPSA" --root "$CAPSA_ROOT" exec "${CID}b" sh -c 'cat /etc/passwd; ipops stat /etc/hostname create /tmp/made'
    [ "$status" -eq 0 ]
    [[ "$output" == *root:x:0:0* ]]
    [[ "$output" == *$'\nok\nok' ]]
    [ -e "$ROOTFS/tmp/made" ]
    # The flood went on meanwhile: its loops are alive and its supervisor kept serving.
    [ "$(pgrep -c -P "$(container_pid "${CID}a")")" -ge 4 ]
    [ "$(awk '{ print $1 }' "/proc/$SUPER_A/schedstat")" -gt "$busy" ]
}
