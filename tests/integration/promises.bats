#!/usr/bin/env bats
# promises.bats - the isolation promises a runtime makes, checked from the host where an effect is
# visible there: masked/read-only paths, dropped capabilities, no_new_privs against setuid, a
# read-only /proc/sys, unreachable host devices, fd hygiene from the host, OOM and fork-bomb
# containment, forced cleanup of stubborn or half-created containers, concurrent create.
# Scenarios already covered elsewhere are not repeated here (see mounts.bats, process.bats,
# cgroups.bats, kill.bats, lifecycle.bats); these tests add the host-side half of each promise.

load helpers

setup() {
    setup_common
    cg_setup capsa-test
}

teardown() {
    cg_teardown
}

# Fail unless no directory of cgroup path $1 exists in any hierarchy (v1 controllers and unified).
assert_no_cgroup() {
    local h
    for h in "$CG"/*/; do
        [ ! -e "$h${1#/}" ] || fail_now "cgroup dir $h${1#/} left"
    done
}

# Mount points of the host mount namespace (field 5 of mountinfo), sorted.
host_mounts() {
    awk '{ print $5 }' /proc/self/mountinfo | sort
}

# Mount points in $1 (an earlier host_mounts) that are new now, ignoring other bats runs' dirs.
new_mounts() {
    comm -13 "$1" <(host_mounts) |
        awk -v own="$BATS_RUN_TMPDIR" 'index($0, "/tmp/bats-run-") != 1 || index($0, own) == 1'
}

@test "masked and read-only paths: writes fail or vanish, reads are empty, host files unchanged" {
    mkdir -p "$ROOTFS/secretdir" "$ROOTFS/rodir"
    echo secret >"$ROOTFS/secretdir/s"
    echo secret >"$ROOTFS/secretfile"
    echo original >"$ROOTFS/rodir/f"
    echo original >"$ROOTFS/rofile"
    update_config '.linux.maskedPaths = ["/secretfile", "/secretdir"]
        | .linux.readonlyPaths = ["/rodir", "/rofile"]
        | .process.args = ["sh", "-c", "echo evil > /secretfile; echo M1=$(cat /secretfile);
            echo M2=$(touch /secretdir/new 2>&1 && echo ok); echo M3=$(ls -A /secretdir | tr -d \"\\n\");
            echo R1=$(probe write /rodir/f); echo R2=$(touch /rodir/new 2>&1 && echo ok);
            echo R3=$(probe write /rofile); echo R4=$(cat /rodir/f)
            echo evil > /rofile; echo evil > /rodir/f; rm -f /rofile /rodir/f; true"]'
    run capsa run --bundle "$BUNDLE" c1
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"M1="$'\n'* ]]
    [[ "$output" != *"M2=ok"* ]]
    [[ "$output" == *"M3="$'\n'* ]]
    [[ "$output" == *"R1=EROFS"* ]]
    [[ "$output" == *"R2=touch: /rodir/new: Read-only file system"* ]]
    [[ "$output" == *"R3=EROFS"* ]]
    [[ "$output" == *"R4=original"* ]]
    # The host's files are untouched and nothing was added.
    [ "$(cat "$ROOTFS/secretfile")" = secret ]
    [ "$(ls -A "$ROOTFS/secretdir")" = s ]
    [ "$(cat "$ROOTFS/rodir/f")" = original ]
    [ "$(ls -A "$ROOTFS/rodir")" = f ]
    [ "$(cat "$ROOTFS/rofile")" = original ]
}

@test "only CAP_NET_BIND_SERVICE kept: all five sets read from the host, CAP_CHOWN really gone" {
    OUT=$(add_host_dir /out)
    update_config '.process.capabilities = {"bounding": ["CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_NET_BIND_SERVICE"], "permitted": ["CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_NET_BIND_SERVICE"], "ambient": ["CAP_NET_BIND_SERVICE"]}'
    touch "$ROOTFS/owned"
    run_bg_container c1 "chown 1000 /owned 2>/dev/null && touch /out/chowned; touch /out/ready; sleep 1000; : $MARK"
    wait_for test -e "$OUT/ready"
    local s
    for s in CapBnd CapPrm CapEff CapInh CapAmb; do
        [ "$(awk "/^$s:/ { print \$2 }" "/proc/$PID/status")" = 0000000000000400 ] ||
            fail_now "$s is $(awk "/^$s:/ { print \$2 }" "/proc/$PID/status")"
    done
    # Root inside without CAP_CHOWN cannot give a file away: the host sees the owner unchanged.
    [ ! -e "$OUT/chowned" ]
    [ "$(stat -c %u "$ROOTFS/owned")" = 0 ]
}

@test "no_new_privs: a setuid-root helper does not gain root (and does without no_new_privs)" {
    [ -x "$ROOTFS/bin/prm_setuid" ] || fail_now "prm_setuid missing from the rootfs (make helpers)"
    chown 0:0 "$ROOTFS/bin/prm_setuid"
    chmod 4755 "$ROOTFS/bin/prm_setuid"
    update_config '.process.user = {"uid": 1000, "gid": 1000} | .process.noNewPrivileges = true
        | .process.args = ["sh", "-c", "grep NoNewPrivs /proc/self/status; prm_setuid"]'
    run capsa run --bundle "$BUNDLE" c1
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" =~ NoNewPrivs:[[:space:]]+1 ]]
    [[ "$output" == *"ruid=1000 euid=1000"* ]]
    [[ "$output" != *"setuid0=ok"* ]]
    # Control: the same binary does become root without no_new_privs, so the check above can fail.
    update_config '.process.noNewPrivileges = false'
    run capsa run --bundle "$BUNDLE" c2
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ruid=1000 euid=0"* ]]
}

@test "/proc/sys is read-only inside: a write fails and the host value is unchanged" {
    f=/proc/sys/vm/overcommit_memory
    before=$(cat $f)
    new=$(((before + 1) % 2))
    # Should the write get through, put the host back.
    defer "echo $before > $f"
    update_config ".process.args = [\"sh\", \"-c\", \"probe write $f; echo $new > $f && echo WROTE; cat $f\"]"
    run capsa run --bundle "$BUNDLE" c1
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = EROFS ]
    [[ "$output" != *WROTE* ]]
    [ "$(cat $f)" = "$before" ]
}

@test "host block device: mknod with CAP_MKNOD may work, opening the node must fail" {
    # The root filesystem's disk, or failing that (a virtual root) any block device of the host.
    local mm
    mm=$(stat -c '%Hd:%Ld' /)
    if [ "${mm%%:*}" = 0 ] || [ ! -e "/sys/dev/block/$mm" ]; then
        mm=$(find /sys/dev/block -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n1)
    fi
    [ -n "$mm" ] || skip "no block device on the host"
    update_config ".process.capabilities.bounding += [\"CAP_MKNOD\"]
        | .process.capabilities.effective += [\"CAP_MKNOD\"]
        | .process.capabilities.permitted += [\"CAP_MKNOD\"]
        | .process.args = [\"sh\", \"-c\", \"mknod /tmp/disk b ${mm%%:*} ${mm#*:} && echo MKNOD-OK;
            echo READ=\$(probe read /tmp/disk); echo WRITE=\$(probe write /tmp/disk); true\"]"
    run capsa run --bundle "$BUNDLE" c1
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *READ=* && "$output" == *WRITE=* ]]
    [[ "$output" != *READ=ok* ]]
    [[ "$output" != *WRITE=ok* ]]
    # When the node was made, the devices cgroup (not a missing node) is what refused it.
    if [[ "$output" == *MKNOD-OK* ]]; then
        [[ "$output" == *READ=EPERM* ]]
    fi
}

@test "only stdio and --preserve-fds fds are open in the container, seen from the host" {
    OUT=$(add_host_dir /out)
    echo x >"$BATS_TEST_TMPDIR/three"
    update_config ".process.args = [\"sh\", \"-c\", \"probe fds > /out/fds; sleep 1000; : $MARK\"]"
    ctr_create c1 --preserve-fds 1 3<"$BATS_TEST_TMPDIR/three" 4</etc/hostname 5</etc/passwd
    capsa start c1
    PID=$(container_pid c1)
    wait_for test -s "$OUT/fds"
    # Inside: 0 1 2 and the preserved 3.
    [ "$(awk '{ print $1 }' "$OUT/fds" | sort -n | tr '\n' ' ')" = "0 1 2 3 " ]
    grep -q "^3 -> $BATS_TEST_TMPDIR/three" "$OUT/fds"
    # From the host, on the running process: the same set, nothing of the runtime's.
    [ "$(find "/proc/$PID/fd" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tr '\n' ' ')" = "0 1 2 3 " ]
    [ "$(readlink "/proc/$PID/fd/3")" = "$BATS_TEST_TMPDIR/three" ]
}

@test "memory limit: the hog is OOM-killed (137), capsa survives, state and delete work" {
    update_config '.linux.resources = {"memory": {"limit": 33554432, "swap": 33554432}}
        | .process.args = ["prm_alloc", "512"]'
    run capsa run --bundle "$BUNDLE" c1
    echo "$output"
    [ "$status" -eq 137 ]
    [[ "$output" != *survived* ]]
    # 137 could also be capsa dying of SIGKILL: but only a live capsa deletes the container.
    run capsa state c1
    [ "$status" -ne 0 ]
    assert_no_cgroup "$CGPATH"
    [ -z "$(ls -A "$CAPSA_ROOT")" ]

    # Now with create/start: the kill is in the container's cgroup, the runtime still answers.
    ctr_create c1
    capsa start c1
    wait_for status_is c1 stopped
    # (v1 memory.failcnt stays 0 on this kernel; oom_kill counts kills in this cgroup.)
    [ "$(awk '/^oom_kill / { print $2 }' "$(cgfile memory memory.oom_control)")" -ge 1 ]
    [ "$(cat "$(cgfile memory memory.max_usage_in_bytes)")" -le 33554432 ]
    [[ "$(cat "$BATS_TEST_TMPDIR/c1.out")" != *survived* ]]
    run capsa state c1
    [ "$status" -eq 0 ]
    [ "$(jq -r .status <<<"$output")" = stopped ]
    run capsa delete c1
    [ "$status" -eq 0 ]
    assert_no_cgroup "$CGPATH"
    [ -z "$(ls -A "$CAPSA_ROOT")" ]
    # The host (this shell, the test's parent processes) was not touched by the OOM killer.
    kill -0 $$ "$PPID"
}

@test "fork bomb: pids.current stays at the limit and delete --force removes every process" {
    update_config '.linux.resources = {"pids": {"limit": 20}}'
    run_bg_container c1 "sh -c 'while :; do sleep 1000 & done' 2>/dev/null; exec sleep 1000 # $MARK"
    wait_for bash -c "[ \$(awk '/max/ {print \$2}' $(cgfile pids pids.events)) -gt 0 ]"
    [ "$(cat "$(cgfile pids pids.current)")" -le 20 ]
    pids=$(cat "$(cgfile pids cgroup.procs)")
    [ "$(wc -w <<<"$pids")" -ge 10 ]
    run capsa delete --force c1
    [ "$status" -eq 0 ]
    local p
    for p in $pids; do
        wait_for pid_gone "$p" || fail_now "pid $p of the bomb survived delete --force"
    done
    assert_no_cgroup "$CGPATH"
    [ -z "$(ls -A "$CAPSA_ROOT")" ]
}

@test "a process ignoring SIGTERM: kill KILL and delete --force remove pid, cgroups and state" {
    OUT=$(add_host_dir /out)
    run_bg_container c1 "trap '' TERM; touch /out/ready; while :; do sleep 1; done; : $MARK"
    wait_for test -e "$OUT/ready"
    capsa kill c1 TERM
    sleep 0.3
    kill -0 "$PID"
    [ "$(container_status c1)" = running ]
    run capsa kill c1 KILL
    [ "$status" -eq 0 ]
    run capsa delete --force c1
    [ "$status" -eq 0 ]
    wait_for pid_gone "$PID"
    run -1 pgrep -f "$MARK"
    assert_no_cgroup "$CGPATH"
    [ -z "$(ls -A "$CAPSA_ROOT")" ]
    run capsa state c1
    [ "$status" -ne 0 ]
}

@test "capsa SIGKILLed in the middle of create: delete --force cleans up completely" {
    HK=$BATS_TEST_TMPDIR/hk
    mkdir -p "$HK"
    # The hook says where it is and then blocks, so create is stuck with the init half set up.
    printf '#!/bin/sh\necho $$ > %s/hookpid\ntouch %s/ready\nexec sleep 1000\n' "$HK" "$HK" >"$HK/hook"
    chmod +x "$HK/hook"
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]
        | .hooks.createRuntime = [{\"path\": \"$HK/hook\"}]"
    host_mounts >"$BATS_TEST_TMPDIR/mounts.before"
    "$CAPSA" --root "$CAPSA_ROOT" create --bundle "$BUNDLE" c1 </dev/null \
        >"$BATS_TEST_TMPDIR/create.out" 2>&1 &
    cpid=$!
    defer "kill -KILL $cpid 2>/dev/null"
    wait_for test -e "$HK/ready" || fail_now "hook never ran: $(cat "$BATS_TEST_TMPDIR/create.out")"
    hookpid=$(cat "$HK/hookpid")
    defer "kill -KILL $hookpid 2>/dev/null"
    # Every process of the container (in its cgroup) and every descendant of capsa but the hook.
    ctr_pids=$(cat "$(cgfile pids cgroup.procs)" 2>/dev/null || true)
    desc=$(pgrep -P "$cpid" || true)
    kill -KILL "$cpid"
    wait "$cpid" 2>/dev/null || true
    kill -KILL "$hookpid"
    wait_for pid_gone "$hookpid"
    [ -n "$ctr_pids" ] || fail_now "no container process in $CGPATH at hook time"

    run capsa delete --force c1
    echo "delete --force: status $status: $output"
    [ "$status" -eq 0 ]
    local p
    for p in $ctr_pids $desc; do
        [ "$p" = "$hookpid" ] && continue
        wait_for pid_gone "$p" || fail_now "pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) left"
    done
    assert_no_cgroup "$CGPATH"
    [ -z "$(ls -A "$CAPSA_ROOT")" ] || fail_now "state left: $(ls -A "$CAPSA_ROOT")"
    left=$(new_mounts "$BATS_TEST_TMPDIR/mounts.before")
    [ -z "$left" ] || fail_now "mounts left on the host: $left"
}

@test "8 concurrent creates of one id: one succeeds, the others say already exists, nothing left" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    local i
    for i in 1 2 3 4 5 6 7 8; do
        (
            rc=0
            "$CAPSA" --root "$CAPSA_ROOT" create --bundle "$BUNDLE" same </dev/null \
                >"$BATS_TEST_TMPDIR/cc.$i.out" 2>"$BATS_TEST_TMPDIR/cc.$i.err" || rc=$?
            echo "$rc" >"$BATS_TEST_TMPDIR/cc.$i.rc"
        ) &
    done
    wait
    ok=0
    for i in 1 2 3 4 5 6 7 8; do
        if [ "$(cat "$BATS_TEST_TMPDIR/cc.$i.rc")" = 0 ]; then
            ok=$((ok + 1))
        else
            grep -q "already exists" "$BATS_TEST_TMPDIR/cc.$i.err" ||
                fail_now "loser $i: $(cat "$BATS_TEST_TMPDIR/cc.$i.err")"
        fi
    done
    [ "$ok" -eq 1 ]
    [ "$(container_status same)" = created ]
    pid=$(container_pid same)
    # Only the winner's init is in the cgroup: the losers made no process there.
    [ "$(cat "$(cgfile pids cgroup.procs)")" = "$pid" ]
    run capsa delete --force same
    [ "$status" -eq 0 ]
    wait_for pid_gone "$pid"
    run -1 pgrep -f "$MARK"
    assert_no_cgroup "$CGPATH"
    [ -z "$(ls -A "$CAPSA_ROOT")" ]
}
