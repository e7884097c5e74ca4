#!/usr/bin/env bats
# plumbing.bats - behaviours of the runtime's own plumbing that users meet (issue 12): the
# container process is a session leader without the caller's terminal (TIOCSTI), systemd socket
# activation (LISTEN_FDS), bind sources a user namespace's root cannot reach, --debug lines from
# inside the container's setup in text and JSON, and job-control signals sent to `exec`.

load helpers

setup() {
    setup_common
    setup_bundle
}

teardown() {
    teardown_common
}

# Field N of /proc/PID/stat (after the command name, which may hold spaces).
stat_field() {
    awk -v n="$2" '{ sub(/^.*\) /, ""); print $(n - 2) }' "/proc/$1/stat"
}

@test "the container process leads a session of its own, without the caller's terminal" {
    requires_cmd script
    out=$(add_host_dir /out)
    update_config '.process.args = ["sh", "-c",
        "probe tiocsti \"echo INJECTED\n\" > /out/sti; touch /out/ready; sleep 1000"]'
    # capsa runs with a real pty as its stdio (script's), and the container inherits it.
    script -qfec "$CAPSA --root $CAPSA_ROOT run --bundle $BUNDLE c1; : $MARK" /dev/null \
        </dev/null >"$BATS_TEST_TMPDIR/typescript" 2>&1 &
    spid=$!
    defer "kill -KILL $spid 2>/dev/null"
    wait_for 100 test -e "$out/ready"
    PID=$(container_pid c1)
    # From the host: the process is its session's leader and has no controlling terminal
    # (tty_nr, field 7, is 0), although its stdin is a pty.
    [ "$(stat_field "$PID" 6)" = "$PID" ]
    [ "$(stat_field "$PID" 7)" = 0 ]
    [[ "$(readlink "/proc/$PID/fd/0")" == /dev/pts/* ]]
    # So TIOCSTI cannot push input into the caller's terminal.
    result=$(cat "$out/sti")
    [ "$result" = EPERM ] || [ "$result" = EIO ]
    capsa kill c1 KILL
    wait "$spid" || true
}

@test "an exec'd process leads a session of its own too" {
    run_bg_container c1 "sleep 1000; : $MARK"
    capsa exec --detach --pid-file "$BATS_TEST_TMPDIR/epid" c1 sh -c "sleep 1000; : $MARK" \
        </dev/null >/dev/null 2>&1
    epid=$(cat "$BATS_TEST_TMPDIR/epid")
    [ "$(stat_field "$epid" 6)" = "$epid" ]
    [ "$(stat_field "$epid" 7)" = 0 ]
}

@test "LISTEN_FDS: socket-activation fds reach the container, LISTEN_FDS and LISTEN_PID are set" {
    update_config '.process.args = ["sh", "-c",
        "echo fds=$LISTEN_FDS pid=$LISTEN_PID self=$$; cat <&3; cat <&4; probe fds"]'
    echo first >"$BATS_TEST_TMPDIR/l3"
    echo second >"$BATS_TEST_TMPDIR/l4"
    # LISTEN_PID names the process that runs capsa: exec keeps the shell's pid.
    run env CAPSA="$CAPSA" CAPSA_ROOT="$CAPSA_ROOT" BUNDLE="$BUNDLE" bash -c \
        'export LISTEN_FDS=2 LISTEN_PID=$$; exec "$CAPSA" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1' \
        3<"$BATS_TEST_TMPDIR/l3" 4<"$BATS_TEST_TMPDIR/l4" 5</etc/hostname
    [ "$status" -eq 0 ]
    [[ "$output" == *"fds=2 pid=1 self=1"* ]]
    [[ "$output" == *first*second* ]]
    fds=$(grep -E '^[0-9]+ -> ' <<<"$output" | awk '{ print $1 }' | sort -n | tr '\n' ' ')
    [ "$fds" = "0 1 2 3 4 " ]
}

@test "LISTEN_FDS for another process (a stale LISTEN_PID) passes nothing" {
    update_config '.process.args = ["sh", "-c", "echo fds=${LISTEN_FDS:-none}; probe fds"]'
    run env LISTEN_FDS=1 LISTEN_PID=1 "$CAPSA" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1 \
        3</etc/hostname
    [ "$status" -eq 0 ]
    [[ "$output" == *"fds=none"* ]]
    fds=$(grep -E '^[0-9]+ -> ' <<<"$output" | awk '{ print $1 }' | sort -n | tr '\n' ' ')
    [ "$fds" = "0 1 2 " ]
}

@test "LISTEN_FDS with --preserve-fds: the listen fds come first, the preserved ones after" {
    update_config '.process.args = ["sh", "-c", "echo fds=$LISTEN_FDS; probe fds"]'
    run env CAPSA="$CAPSA" CAPSA_ROOT="$CAPSA_ROOT" BUNDLE="$BUNDLE" bash -c \
        'export LISTEN_FDS=1 LISTEN_PID=$$
         exec "$CAPSA" --root "$CAPSA_ROOT" run --preserve-fds 1 --bundle "$BUNDLE" c1' \
        3</etc/hostname 4</etc/hostname 5</etc/hostname
    [ "$status" -eq 0 ]
    [[ "$output" == *"fds=1"* ]]
    fds=$(grep -E '^[0-9]+ -> ' <<<"$output" | awk '{ print $1 }' | sort -n | tr '\n' ' ')
    [ "$fds" = "0 1 2 3 4 " ]
}

@test "user namespace: a bind source the container's root cannot reach still mounts" {
    update_config '.linux.namespaces += [{"type":"user"}]
        | .linux.uidMappings = [{"containerID":0,"hostID":100000,"size":65536}]
        | .linux.gidMappings = [{"containerID":0,"hostID":100000,"size":65536}]'
    chown -R 100000:100000 "$ROOTFS"
    # The source's parent is root's only: uid 100000 cannot walk through it.
    private=$(mktemp -d "$BATS_TEST_TMPDIR/private.XXXXXX")
    chmod 0700 "$private"
    mkdir "$private/src"
    echo reached >"$private/src/file"
    chmod 0755 "$private/src"
    chmod 0644 "$private/src/file"
    update_config ".mounts += [{\"destination\": \"/data\", \"type\": \"bind\",
        \"source\": \"$private/src\", \"options\": [\"rbind\", \"ro\"]}]"
    update_config '.process.args = ["cat", "/data/file"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "$output" = reached ]
}

@test "--debug logs the steps of create, the cgroup, the hooks, the init's own steps and mounts" {
    requires_capsa
    update_config '.hooks = {"prestart": [{"path": "/bin/true"}],
        "createContainer": [{"path": "/bin/true"}]}'
    run "$CAPSA" --root "$CAPSA_ROOT" --debug --log "$BATS_TEST_TMPDIR/log" \
        run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    log=$BATS_TEST_TMPDIR/log
    grep -q 'level=debug msg="create c1: bundle ' "$log"
    grep -q 'msg="create c1: init pid [0-9]*"' "$log"
    grep -q 'msg="create c1: cgroup /sys/fs/cgroup/' "$log"
    # Lines from inside: the init's steps and each mount it made.
    grep -q 'msg="container init: init: root changed to ' "$log"
    grep -q 'msg="container init: mounts\[0\]: proc proc on /proc"' "$log"
    grep -q 'msg="container init: init: process /bin/true ready"' "$log"
    grep -q 'msg="create c1: prestart hook #0: /bin/true"' "$log"
    grep -q 'msg="container init: init: createContainer hook #0: /bin/true"' "$log"
    # Without --debug, none of them.
    rm -f "$log"
    run "$CAPSA" --root "$CAPSA_ROOT" --log "$log" run --bundle "$BUNDLE" c2
    [ "$status" -eq 0 ]
    run grep -c 'level=debug' "$log"
    [ "$status" -eq 1 ]
    [ "$output" = 0 ]
}

@test "--debug --log-format json: every line, the init's included, is one JSON object" {
    requires_capsa
    run "$CAPSA" --root "$CAPSA_ROOT" --debug --log "$BATS_TEST_TMPDIR/log" --log-format json \
        run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    log=$BATS_TEST_TMPDIR/log
    # jq fails on a line that is not JSON; each must be an object with level, msg and time.
    jq -se 'length > 0 and all(.[]; (.level | type) == "string" and (.msg | type) == "string"
        and (.time | type) == "string")' "$log" >/dev/null
    [ "$(jq -r 'select(.msg | startswith("container init: mounts[")) | .level' "$log" |
        sort -u)" = debug ]
}

@test "SIGTSTP, SIGTTIN and SIGTTOU sent to exec reach the process and do not stop exec" {
    out=$(add_host_dir /out)
    run_bg_container c1 "sleep 1000; : $MARK"
    "$CAPSA" --root "$CAPSA_ROOT" exec c1 sh -c \
        "for s in TSTP TTIN TTOU; do trap \"echo \$s >> /out/got\" \$s; done
         touch /out/ready; while [ ! -e /out/stop ]; do sleep 0.1; done; exit 3" \
        </dev/null >/dev/null 2>&1 &
    epid=$!
    defer "kill -KILL $epid 2>/dev/null"
    wait_for 100 test -e "$out/ready"
    for s in TSTP TTIN TTOU; do
        kill -"$s" "$epid"
        wait_for 100 grep -qx "$s" "$out/got"
        # Not stopped: a stopped exec could neither forward nor reap.
        [ "$(awk '/^State:/ { print $2 }' "/proc/$epid/status")" != T ]
    done
    touch "$out/stop"
    rc=0
    wait "$epid" || rc=$?
    [ "$rc" -eq 3 ]
}

# capsa-specific: the runtime moves its own image onto the read-only bind of its binary instead
# of re-executing from it; then no mapping may still refer to the writable path, or a process
# holding /proc/<pid>/map_files/<range> could write the binary once the runtime has exited.
@test "no mapping of the running runtime refers to its writable binary (map_files, CVE-2019-5736)" {
    requires_capsa
    rt=$BATS_TEST_TMPDIR/runtime-copy
    cp "$(command -v "$CAPSA")" "$rt"
    before=$(sha256sum <"$rt")
    ino=$(stat -c %i "$rt")
    out=$(add_host_dir /out)
    update_config '.process.args = ["sh", "-c", "until [ -e /out/go ]; do sleep 0.1; done"]'
    "$rt" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1 &
    runpid=$!
    defer "touch '$out/go'"
    wait_for status_is c1 running
    # Every mapping of the binary's inode, held open (read-only) while the runtime runs.
    ranges=$(awk -v ino="$ino" '$5 == ino { print $1 }' "/proc/$runpid/maps")
    [ -n "$ranges" ]
    held=()
    for r in $ranges; do
        exec {fd}<"/proc/$runpid/map_files/$r"
        held+=("$fd")
    done
    touch "$out/go"
    wait "$runpid"
    for fd in "${held[@]}"; do
        run "$REPO/build/helpers/probe" write "/proc/self/fd/$fd"
        exec {fd}<&-
        [ "$status" -eq 0 ]
        [ "$output" = EROFS ]
    done
    [ "$(sha256sum <"$rt")" = "$before" ]
}
