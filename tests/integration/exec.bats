#!/usr/bin/env bats
# exec.bats - `exec`: another process in a created or running container: output and exit status,
# namespaces, cgroup, process flags, --process, --detach, refusals, terminal, fd hygiene, signals.
# shellcheck disable=SC2016 # single-quoted commands expand inside the container, on purpose

load helpers

setup() {
    setup_common
    setup_bundle
    # A unique id: the default cgroup path is the id, shared with other suites running at once.
    CID=exec$$r$RANDOM
}

# A running container $CID (sleep), $PID its init.
start_c1() {
    run_bg_container "$CID" "sleep 1000; : $MARK"
}

@test "exec: stdout and exit status" {
    start_c1
    run capsa exec "$CID" echo hello
    [ "$status" -eq 0 ]
    [ "$output" = hello ]
    run capsa exec "$CID" sh -c 'exit 42'
    [ "$status" -eq 42 ]
    # Killed by a signal: 128+N.
    run capsa exec "$CID" sh -c 'kill -KILL $$'
    [ "$status" -eq 137 ]
}

@test "exec joins every namespace of the init" {
    update_config '.linux.namespaces += [{"type": "cgroup"}] | .linux.namespaces |= unique_by(.type)'
    start_c1
    for ns in pid mnt net ipc uts cgroup; do
        run capsa exec "$CID" readlink "/proc/self/ns/$ns"
        [ "$status" -eq 0 ]
        [ "$output" = "$(readlink "/proc/$PID/ns/$ns")" ]
    done
    # Its pid namespace view: the init is pid 1, and the hostname is the container's.
    run capsa exec "$CID" sh -c 'cat /proc/1/cmdline | tr "\0" " "; hostname'
    [[ "$output" == *"sleep 1000"* ]]
    [[ "$output" == *capsa-test* ]]
}

@test "exec'd process is in the container's cgroup" {
    start_c1
    run capsa exec "$CID" cat /proc/self/cgroup
    [ "$status" -eq 0 ]
    capsa exec --detach --pid-file "$BATS_TEST_TMPDIR/pid" "$CID" sh -c "sleep 1000; : $MARK" \
        </dev/null >/dev/null 2>&1
    epid=$(cat "$BATS_TEST_TMPDIR/pid")
    # Every hierarchy line of the exec'd process matches the init's.
    diff <(sort "/proc/$PID/cgroup") <(sort "/proc/$epid/cgroup")
}

@test "exec --env, --cwd, --user" {
    start_c1
    run capsa exec --env FOO=bar --env PATH=/bin:/sbin --cwd /tmp --user 1000:1000 "$CID" \
        sh -c 'echo "$FOO|$PATH|$(pwd)|$(id -u)|$(id -g)"'
    [ "$status" -eq 0 ]
    [ "$output" = "bar|/bin:/sbin|/tmp|1000|1000" ]
    run capsa exec --user 1000:1001 --additional-gids 5 "$CID" id -G
    [ "$output" = "1001 5" ]
}

@test "exec --cap adds a capability, --no-new-privs sets NoNewPrivs" {
    update_config '.process.noNewPrivileges = false'
    start_c1
    run capsa exec "$CID" grep -E '^(CapEff|NoNewPrivs):' /proc/self/status
    [[ "$output" == *"NoNewPrivs:"*0* ]]
    base=$(awk '/^CapEff:/ { print $2 }' <<<"$output")
    # CAP_SYS_ADMIN = 21 is not in the default set.
    [ $((0x$base & (1 << 21))) -eq 0 ]
    run capsa exec --cap CAP_SYS_ADMIN --no-new-privs "$CID" grep -E '^(CapEff|NoNewPrivs):' /proc/self/status
    [ "$status" -eq 0 ]
    eff=$(awk '/^CapEff:/ { print $2 }' <<<"$output")
    [ $((0x$eff)) -eq $((0x$base | (1 << 21))) ]
    grep -E '^NoNewPrivs:[[:space:]]+1$' <<<"$output"
}

@test "exec --process FILE" {
    start_c1
    cat >"$BATS_TEST_TMPDIR/proc.json" <<'EOF'
{"args": ["sh", "-c", "echo $X:$(pwd):$(id -u)"], "cwd": "/etc", "env": ["X=from-file"],
 "user": {"uid": 1000, "gid": 1000}}
EOF
    run capsa exec --process "$BATS_TEST_TMPDIR/proc.json" "$CID"
    [ "$status" -eq 0 ]
    [ "$output" = "from-file:/etc:1000" ]
    echo '{"args": ["true"], "cwd": "/"' >"$BATS_TEST_TMPDIR/bad.json"
    run capsa exec --process "$BATS_TEST_TMPDIR/bad.json" "$CID"
    [ "$status" -ne 0 ]
}

@test "exec --detach --pid-file: the process runs in the container" {
    start_c1
    # Not through `run`: the detached process keeps the output pipe open.
    capsa exec --detach --pid-file "$BATS_TEST_TMPDIR/pid" "$CID" sh -c "sleep 1000; : $MARK" \
        </dev/null >/dev/null 2>&1
    epid=$(cat "$BATS_TEST_TMPDIR/pid")
    kill -0 "$epid"
    [ "$(readlink "/proc/$epid/ns/pid")" = "$(readlink "/proc/$PID/ns/pid")" ]
    [ "$(readlink "/proc/$epid/ns/mnt")" = "$(readlink "/proc/$PID/ns/mnt")" ]
    [ "$(stat -L -c %d:%i "/proc/$epid/root")" = "$(stat -L -c %d:%i "/proc/$PID/root")" ]
    # A process of the container: listed by ps, and killed with it.
    run capsa ps "$CID"
    [[ "$output" == *" $epid "* ]]
}

@test "exec into a created container works" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    ctr_create "$CID"
    [ "$(container_status "$CID")" = created ]
    run capsa exec "$CID" echo in-created
    [ "$status" -eq 0 ]
    [ "$output" = in-created ]
}

@test "exec into a stopped container fails" {
    update_config '.process.args = ["true"]'
    ctr_create "$CID"
    capsa start "$CID"
    wait_for 100 status_is "$CID" stopped
    run capsa exec "$CID" echo never
    [ "$status" -ne 0 ]
    [[ "$output" == *stopped* ]]
    [[ "$output" != *never* ]]
}

@test "exec into a paused container fails" {
    start_c1
    capsa pause "$CID" || skip "no freezer here"
    defer "capsa resume $CID"
    run capsa exec "$CID" echo never
    [ "$status" -ne 0 ]
    [[ "$output" == *"container $CID is paused"* ]]
    capsa resume "$CID"
    run capsa exec "$CID" echo again
    [ "$output" = again ]
}

@test "exec of a missing command fails with the child's error" {
    start_c1
    run capsa exec "$CID" /no/such/binary
    [ "$status" -ne 0 ]
    [[ "$output" == */no/such/binary* ]]
    run capsa exec --cwd /no/such/dir "$CID" true
    [ "$status" -ne 0 ]
    [[ "$output" == */no/such/dir* ]]
}

@test "exec -t with --console-socket" {
    RECVTTY=$REPO/build/helpers/recvtty
    [ -x "$RECVTTY" ] || skip "build/helpers/recvtty not built (make helpers)"
    SOCK=$BATS_TEST_TMPDIR/console.sock
    start_c1
    "$RECVTTY" "$SOCK" >"$BATS_TEST_TMPDIR/tty.out" 2>"$BATS_TEST_TMPDIR/tty.err" &
    RPID=$!
    defer "kill $RPID 2>/dev/null"
    wait_for 100 test -S "$SOCK"
    run capsa exec -t --console-socket "$SOCK" "$CID" sh -c '[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty; tty'
    [ "$status" -eq 0 ]
    wait "$RPID" || true
    out=$(tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out")
    [[ "$out" == *all-tty* ]]
    [[ "$out" == *"/dev/pts/"* ]]
    # Nothing came through the runtime's own stdio.
    [[ "$output" != *all-tty* ]]
}

@test "no host fds leak into the exec'd process" {
    start_c1
    run capsa exec "$CID" ls /proc/self/fd 3>/dev/null 4</etc/hostname 7</
    [ "$status" -eq 0 ]
    # 0 1 2 and ls' own directory fd.
    [ "$(echo "$output" | sort -n | tr '\n' ' ')" = "0 1 2 3 " ]
    run capsa exec --preserve-fds 1 "$CID" ls /proc/self/fd 3</etc/hostname
    [ "$(echo "$output" | sort -n | tr '\n' ' ')" = "0 1 2 3 4 " ]
}

@test "SIGTERM to capsa exec reaches the exec'd process" {
    out_dir=$(add_host_dir /out)
    start_c1
    "$CAPSA" --root "$CAPSA_ROOT" exec "$CID" sh -c \
        "trap 'echo got-term; exit 7' TERM; touch /out/ready; while :; do sleep 0.1; done; : $MARK" \
        >"$BATS_TEST_TMPDIR/out" 2>&1 &
    epid=$!
    wait_for 100 test -e "$out_dir/ready"
    kill -TERM "$epid"
    rc=0
    wait "$epid" || rc=$?
    [ "$rc" -eq 7 ]
    grep -q got-term "$BATS_TEST_TMPDIR/out"
}

# capsa-specific: the runtime is non-dumpable and runs from a read-only bind of itself, so a
# process of the container (here one sharing the host pid namespace) cannot write to it.
@test "the exec'd process cannot open the runtime's /proc/<pid>/exe for writing" {
    requires_capsa
    update_config '.linux.namespaces |= map(select(.type != "pid"))'
    start_c1
    run capsa exec "$CID" sh -c 'probe write /proc/$PPID/exe; cat /proc/$PPID/comm'
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" != ok ]]
}

@test "exec: the container's seccomp filter applies to exec'd processes" {
    update_config '.root.readonly = false | .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
    run_bg_container sce1 "sleep 1000; : $MARK"
    run capsa exec sce1 mkdir /tmp/notallowed
    [ "$status" -ne 0 ]
    [[ "$output" == *"not permitted"* ]]
    [ ! -e "$ROOTFS/tmp/notallowed" ]
    run capsa exec sce1 touch /tmp/allowed
    [ "$status" -eq 0 ]
}
