#!/usr/bin/env bats
# compat.bats - behaviours users meet that runc and crun share: loopback up in a new network
# namespace, procfs/sysfs refused on a symlink, unknown capabilities skipped, HOME from
# /etc/passwd, cwd made before the root goes read-only, hooks with the runtime's environment,
# sysctl rules, kill 0, a read-only /dev with submounts, --no-pivot without a bare /proc, the
# terminal owned by the process user, ps of a stopped container, device access strings.

load helpers

setup() {
    setup_common
    setup_bundle
}

@test "a new network namespace has lo up: the host sees it UP, a connection to 127.0.0.1 inside works" {
    requires_cmd ip nsenter
    out=$(add_host_dir /out)
    run_bg_container c1 "sleep 1000 | nc -l -p 7777 >/out/got & sleep 1000; : $MARK"
    run nsenter -t "$PID" -n ip -o link show lo
    [ "$status" -eq 0 ]
    [[ "$output" == *"<LOOPBACK,UP,LOWER_UP>"* ]]
    # A connection to the listener inside the container, over the container's loopback; what it
    # received lands in a host directory.
    wait_for 100 capsa exec c1 sh -c 'echo hi-over-lo | nc 127.0.0.1 7777' 2>/dev/null
    wait_for 100 grep -q hi-over-lo "$out/got"
}

@test "a joined network namespace keeps its loopback as it was (down)" {
    requires_cmd ip
    local nsname=capsa-compat-$$-$RANDOM
    ip netns add "$nsname"
    defer "ip netns delete $nsname"
    update_config ".linux.namespaces |= map(select(.type != \"network\"))
        | .linux.namespaces += [{\"type\": \"network\", \"path\": \"/run/netns/$nsname\"}]"
    run_bg_container c1 "sleep 1000; : $MARK"
    run ip -n "$nsname" -o link show lo
    [ "$status" -eq 0 ]
    [[ "$output" != *",UP"* ]]
}

@test "/proc as a symlink in the image is refused, naming the mount, and nothing is left" {
    mkdir "$ROOTFS/fakeproc"
    rmdir "$ROOTFS/proc"
    ln -s /fakeproc "$ROOTFS/proc"
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    run ctr_create c1
    [ "$status" -ne 0 ]
    # runc's wording, which capsa keeps and completes with the mount (crun 1.8 words it otherwise).
    if is_capsa; then
        [[ "$output" == *"must be mounted on ordinary directory"* ]]
        [[ "$output" == *"proc on /proc"* ]]
    fi
    assert_nothing_left c1
    # Nothing was mounted on the link's target either.
    [ -z "$(ls -A "$ROOTFS/fakeproc")" ]
}

@test "/sys as a symlink, or a /proc that is a file, is refused the same way" {
    mkdir "$ROOTFS/fakesys"
    rmdir "$ROOTFS/sys"
    ln -s fakesys "$ROOTFS/sys"
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    run ctr_create c1
    [ "$status" -ne 0 ]
    if is_capsa; then
        [[ "$output" == *"must be mounted on ordinary directory"* ]]
        [[ "$output" == *"sysfs on /sys"* && "$output" == *"is a symlink"* ]]
    fi
    assert_nothing_left c1
    rm "$ROOTFS/sys"
    mkdir "$ROOTFS/sys"
    rmdir "$ROOTFS/proc"
    : >"$ROOTFS/proc"
    run ctr_create c1
    [ "$status" -ne 0 ]
    if is_capsa; then [[ "$output" == *"must be mounted on ordinary directory"* ]]; fi
    if is_capsa; then [[ "$output" == *"proc on /proc"* && "$output" == *"not a directory"* ]]; fi
    assert_nothing_left c1
}

@test "unknown capability names in the config are warned about and skipped, the known ones apply" {
    update_config '.process.capabilities.bounding = ["CAP_KILL", "CAP_UNKNOWN", "UNKNOWN_CAP"]
        | .process.capabilities.permitted = ["CAP_KILL", "CAP_UNKNOWN"]
        | .process.capabilities.effective = ["CAP_KILL"]'
    run_bg_container c1 "sleep 1000; : $MARK"
    # CAP_KILL is 5: exactly that bit, seen from the host.
    [ "$(awk '/^CapBnd:/ { print $2 }' "/proc/$PID/status")" = 0000000000000020 ]
    [ "$(awk '/^CapPrm:/ { print $2 }' "/proc/$PID/status")" = 0000000000000020 ]
    # A warning names each one (runc: "ignoring unknown or unavailable capabilities: [...]";
    # crun 1.8 skips them silently).
    if is_capsa; then
        grep -q 'bounding\[1\]: ignoring unknown capability "CAP_UNKNOWN"' "$BATS_TEST_TMPDIR/c1.err"
        grep -q 'bounding\[2\]: ignoring unknown capability "UNKNOWN_CAP"' "$BATS_TEST_TMPDIR/c1.err"
    fi
}

@test "exec --cap with an unknown name warns and runs with the known ones" {
    update_config '.process.noNewPrivileges = false'
    run_bg_container c1 "sleep 1000; : $MARK"
    run capsa exec --cap CAP_SYS_ADMIN --cap CAP_NOSUCH c1 grep '^CapEff:' /proc/self/status
    [ "$status" -eq 0 ]
    if is_capsa; then [[ "$output" == *'ignoring unknown capability "CAP_NOSUCH"'* ]]; fi
    eff=$(awk '/^CapEff:/ { print $2 }' <<<"$output")
    [ $((0x$eff & (1 << 21))) -ne 0 ]
}

# HOME of a process, read from the host in /proc/PID/environ.
home_of() {
    tr '\0' '\n' <"/proc/$1/environ" | sed -n 's/^HOME=//p'
}

@test "without HOME in its env the process gets its uid's home from the image's /etc/passwd, or /" {
    # An empty HOME counts as none for capsa and runc (crun 1.8 keeps it).
    local envs='"PATH=/bin:/usr/bin"'
    if is_capsa; then envs+=', "HOME="'; fi
    update_config ".process.env = [$envs] | .process.user = {\"uid\": 1000, \"gid\": 1000}"
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(home_of "$PID")" = /home/user ]
    # exec: as root of the container, then as a uid without an entry.
    "$CAPSA" --root "$CAPSA_ROOT" exec c1 sh -c "sleep 1000; : $MARK" </dev/null >/dev/null 2>&1 &
    xpid=$!
    # The exec'd process is the child of `capsa exec`; once it runs sleep it has executed.
    wait_for 100 bash -c "pgrep -x sleep -P \$(pgrep -P $xpid) >/dev/null"
    [ "$(home_of "$(pgrep -P $xpid)")" = /home/user ]
    # shellcheck disable=SC2016 # expanded inside the container
    run capsa exec --user 0 c1 sh -c 'echo "[$HOME]"'
    [ "$status" -eq 0 ]
    [ "$output" = "[/root]" ]
    # shellcheck disable=SC2016 # expanded inside the container
    run capsa exec --user 4242 c1 sh -c 'echo "[$HOME]"'
    [ "$status" -eq 0 ]
    [ "$output" = "[/]" ]
    capsa kill c1 KILL
}

@test "a HOME in the config is kept, and a missing /etc/passwd gives /" {
    update_config '.process.env = ["PATH=/bin:/usr/bin", "HOME=/custom"]'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(home_of "$PID")" = /custom ]
    capsa delete --force c1
    rm "$ROOTFS/etc/passwd"
    update_config '.process.env = ["PATH=/bin:/usr/bin"] | .process.user = {"uid": 1000, "gid": 1000}'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(home_of "$PID")" = / ]
}

@test "a missing process.cwd is created even with a read-only root (crun's base config)" {
    update_config '.root.readonly = true | .process.cwd = "/doesnotexist/sub"
        | .process.user = {"uid": 1000, "gid": 1000}'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(readlink "/proc/$PID/cwd")" = /doesnotexist/sub ]
    [ -d "$ROOTFS/doesnotexist/sub" ]
    # The root is still read-only.
    run capsa exec c1 touch /newfile
    [ "$status" -ne 0 ]
    [ ! -e "$ROOTFS/newfile" ]
}

@test "a hook without env runs with the runtime's environment, one with env gets only that" {
    out=$(mktemp -d "$BATS_TEST_TMPDIR/hk.XXXXXX")
    update_config ".hooks = {\"prestart\": [
        {\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo \\\"\$COMPAT_VAR|\$PATH\\\" > $out/noenv\"]},
        {\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo \\\"\$COMPAT_VAR|\$ONLY\\\" > $out/env\"],
         \"env\": [\"ONLY=this\"]}]}"
    COMPAT_VAR=inherited ctr_create c1
    [ "$(cat "$out/noenv")" = "inherited|$PATH" ]
    [ "$(cat "$out/env")" = "|this" ]
}

@test "sysctl kernel.hostname is refused even with a uts namespace; kernel.domainname needs one" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]
        | .linux.sysctl = {\"kernel.hostname\": \"from-sysctl\"}"
    run ctr_create c1
    [ "$status" -ne 0 ]
    [[ "$output" == *kernel.hostname* ]]
    assert_nothing_left c1
    host_domain=$(cat /proc/sys/kernel/domainname)
    update_config 'del(.hostname) | .linux.namespaces |= map(select(.type != "uts"))
        | .linux.sysctl = {"kernel.domainname": "compat-test"}'
    run ctr_create c1
    [ "$status" -ne 0 ]
    [[ "$output" == *kernel.domainname* ]]
    assert_nothing_left c1
    [ "$(cat /proc/sys/kernel/domainname)" = "$host_domain" ]
}

@test "sysctl net.* with a joined network namespace that is the runtime's own is refused" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]
        | .linux.namespaces |= map(select(.type != \"network\"))
        | .linux.namespaces += [{\"type\": \"network\", \"path\": \"/proc/$$/ns/net\"}]
        | .linux.sysctl = {\"net.ipv4.ip_forward\": \"$(cat /proc/sys/net/ipv4/ip_forward)\"}"
    run ctr_create c1
    [ "$status" -ne 0 ]
    [[ "$output" == *net.ipv4.ip_forward* ]]
    assert_nothing_left c1
}

@test "kill accepts signal 0: success while the container runs, an error once it stopped (not with --all)" {
    run_bg_container c1 "sleep 1000; : $MARK"
    run capsa kill c1 0
    [ "$status" -eq 0 ]
    [ "$(container_status c1)" = running ]
    kill -0 "$PID"
    run capsa kill --all c1 0
    [ "$status" -eq 0 ]
    [ "$(container_status c1)" = running ]
    capsa kill c1 KILL
    wait_for 100 status_is c1 stopped
    run capsa kill c1 0
    [ "$status" -ne 0 ]
    # runc's words, which containerd's shim looks for ("already finished", not a failure)
    if is_capsa; then [[ "$output" == *"container not running"* ]]; fi
    run capsa kill --all c1 0
    [ "$status" -eq 0 ]
}

# mount options (field 6) of the mount at $2 in /proc/$1/mountinfo
mnt_opts() {
    awk -v p="$2" '$5 == p { o = $6 } END { print o }' "/proc/$1/mountinfo"
}

@test "a read-only /dev still gets its submounts and devices; it is read-only at the end" {
    update_config '.mounts |= map(if .destination == "/dev" then .options += ["ro"] else . end)'
    run_bg_container c1 "sleep 1000; : $MARK"
    [[ ",$(mnt_opts "$PID" /dev)," == *,ro,* ]]
    for sub in /dev/pts /dev/shm /dev/mqueue; do
        [ -n "$(mnt_opts "$PID" $sub)" ] || fail_now "$sub not mounted"
    done
    [ -c "/proc/$PID/root/dev/null" ]
    run capsa exec c1 touch /dev/newfile
    [ "$status" -ne 0 ]
}

@test "a read-only tmpfs keeps mounts made below it and tmpcopyup's copy" {
    mkdir -p "$ROOTFS/data/keep"
    echo kept >"$ROOTFS/data/keep/file"
    update_config '.mounts += [{"destination": "/data", "type": "tmpfs", "source": "tmpfs",
            "options": ["ro", "tmpcopyup", "mode=755"]},
        {"destination": "/data/sub", "type": "tmpfs", "source": "tmpfs", "options": ["rw"]}]'
    run_bg_container c1 "sleep 1000; : $MARK"
    [[ ",$(mnt_opts "$PID" /data)," == *,ro,* ]]
    [[ ",$(mnt_opts "$PID" /data/sub)," == *,rw,* ]]
    [ "$(cat "/proc/$PID/root/data/keep/file")" = kept ]
}

@test "--no-pivot: a user namespace inside cannot mount a fresh procfs (no bare /proc left)" {
    update_config '.process.args = ["unshare", "-mrpf", "sh", "-c",
            "echo in-userns; mount -t proc none /proc && echo mounted"]
        | .process.capabilities.bounding += ["CAP_SETFCAP"]
        | .process.capabilities.permitted += ["CAP_SETFCAP"]'
    run capsa run --no-pivot --bundle "$BUNDLE" c1
    # The user namespace was made (the refusal is the mount's), and the mount was refused.
    [[ "$output" == *in-userns* ]]
    [[ "$output" != *mounted* ]]
    [[ "$output" == *"permission denied"* ]]
    [ "$status" -ne 0 ]
    # The host's /proc and /sys are untouched.
    grep -qE '^[^ ]+ [^ ]+ [^ ]+ / /proc ' /proc/self/mountinfo
    grep -qE '^[^ ]+ [^ ]+ [^ ]+ / /sys ' /proc/self/mountinfo
}

@test "the terminal of a process running as a non-root uid is owned by that uid (run and exec --tty)" {
    RECVTTY=$REPO/build/helpers/recvtty
    [ -x "$RECVTTY" ] || skip "build/helpers/recvtty not built (make helpers)"
    SOCK=$BATS_TEST_TMPDIR/console.sock
    "$RECVTTY" "$SOCK" >"$BATS_TEST_TMPDIR/tty.out" 2>"$BATS_TEST_TMPDIR/tty.err" &
    defer "kill $! 2>/dev/null"
    wait_for 100 test -S "$SOCK"
    out=$(add_host_dir /out)
    update_config ".process.terminal = true | .process.user = {\"uid\": 1000, \"gid\": 1000}
        | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    ctr_create c1 --console-socket "$SOCK"
    capsa start c1
    pid=$(container_pid c1)
    # From the host: the pty on the init's stdin belongs to uid 1000 (the group stays tty's).
    [ "$(stat -L -c %u "/proc/$pid/fd/0")" = 1000 ]
    # exec --tty: a new pty each time (served by recvtty too); the process writes its owner to a
    # host directory.
    for u in 1000 0; do
        "$RECVTTY" "$SOCK.$u" >/dev/null 2>&1 &
        defer "kill $! 2>/dev/null"
        wait_for 100 test -S "$SOCK.$u"
        capsa exec -d --tty --console-socket "$SOCK.$u" --user $u c1 \
            sh -c "stat -c %u /proc/self/fd/0 >/out/u$u.tmp; mv /out/u$u.tmp /out/u$u"
        wait_for 100 test -e "$out/u$u"
    done
    [ "$(cat "$out/u1000")" = 1000 ]
    # Root's terminal stays root's.
    [ "$(cat "$out/u0")" = 0 ]
}

@test "ps of a container whose init has exited lists nothing and succeeds (runc)" {
    run_bg_container c1 "sleep 1000; : $MARK"
    run capsa ps --format json c1
    [ "$status" -eq 0 ]
    echo "$output" | jq -e "index($PID) != null"
    capsa kill c1 KILL
    wait_for 100 status_is c1 stopped
    run capsa ps --format json c1
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq length)" -eq 0 ]
    run capsa ps c1
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *PID* ]]
    [ "${#lines[@]}" -eq 1 ]
    # An unknown container is still an error.
    run capsa ps nosuch
    [ "$status" -ne 0 ]
}

@test "device access strings as runc reads them: any order, repeats, other letters ignored" {
    # Major 240 has no driver: an allowed open fails with ENXIO, a denied one with EPERM first.
    update_config '.linux.resources.devices = [{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 240, "minor": 0, "access": "wwra"}]
        | .linux.devices = [{"path": "/dev/test240", "type": "c", "major": 240, "minor": 0, "fileMode": 438}]
        | .process.args = ["sh", "-c", "cat /dev/test240"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" != *"not permitted"* ]]
    [[ "$output" == *"No such device"* ]]
    # Only letters that mean nothing: capsa allows nothing (runc 1.1 fails the create: its own
    # check of the cgroup it wrote does not match).
    if is_capsa; then
        update_config '.linux.resources.devices[1].access = "ax"'
        run capsa run --bundle "$BUNDLE" c2
        [ "$status" -ne 0 ]
        [[ "$output" == *"not permitted"* ]]
    fi
    # An empty string is refused, as runc does, naming the field.
    update_config '.linux.resources.devices[1].access = ""'
    run capsa run --bundle "$BUNDLE" c3
    [ "$status" -ne 0 ]
    if is_capsa; then [[ "$output" == *"linux.resources.devices[1].access"* ]]; fi
    assert_nothing_left c3
}
