#!/usr/bin/env bats
# exec.bats - `exec`: another process in a created or running container: output and exit status,
# namespaces, cgroup, process flags, --process, --detach, refusals, terminal, fd hygiene, signals.

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
    [ "$status" -eq 0 ]
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
    [ "$status" -eq 0 ]
    [ "$output" = "1001 5" ]
}

@test "exec --cap adds a capability, --no-new-privs sets NoNewPrivs" {
    update_config '.process.noNewPrivileges = false'
    start_c1
    run capsa exec "$CID" grep -E '^(CapEff|NoNewPrivs):' /proc/self/status
    [ "$status" -eq 0 ]
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
    [ "$status" -eq 0 ]
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
    wait_for status_is "$CID" stopped
    run capsa exec "$CID" echo never
    [ "$status" -ne 0 ]
    [[ "$output" == *stopped* ]]
    [[ "$output" != *never* ]]
}

@test "exec into a paused container fails" {
    start_c1
    # Probe the host, not capsa: with a freezer, a failed pause is a failure.
    [ -d /sys/fs/cgroup/freezer ] || [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] ||
        [ -e /sys/fs/cgroup/unified/cgroup.controllers ] || skip "no freezer on this host"
    capsa pause "$CID"
    defer "capsa resume $CID"
    run capsa exec "$CID" echo never
    [ "$status" -ne 0 ]
    [[ "$output" == *"container $CID is paused"* ]]
    capsa resume "$CID"
    run capsa exec "$CID" echo again
    [ "$status" -eq 0 ]
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
    wait_for test -S "$SOCK"
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
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | sort -n | tr '\n' ' ')" = "0 1 2 3 4 " ]
}

@test "SIGTERM to capsa exec reaches the exec'd process" {
    out_dir=$(add_host_dir /out)
    start_c1
    "$CAPSA" --root "$CAPSA_ROOT" exec "$CID" sh -c \
        "trap 'echo got-term; exit 7' TERM; touch /out/ready; while :; do sleep 0.1; done; : $MARK" \
        >"$BATS_TEST_TMPDIR/out" 2>&1 &
    epid=$!
    wait_for test -e "$out_dir/ready"
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
    # Refused with an errno (a missing probe or a wrong path would print something else).
    [[ "${lines[0]}" =~ ^E[A-Z]+$ ]]
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

# start_listener MODE COUNT: the seccomp test agent on $SOCK; the Nth state message goes to
# $AGENT_OUT (N = 1) or $AGENT_OUT.N.
start_listener() {
    LISTENER=$REPO/build/helpers/seccomp_listener
    [ -x "$LISTENER" ] || skip "needs build/helpers/seccomp_listener (make helpers)"
    SOCK=$BATS_TEST_TMPDIR/agent.sock
    AGENT_OUT=$BATS_TEST_TMPDIR/agent.json
    "$LISTENER" "$SOCK" "$AGENT_OUT" "$BATS_TEST_TMPDIR/agent.log" "$@" \
        2>"$BATS_TEST_TMPDIR/agent.err" &
    LPID=$!
    defer "kill -KILL $LPID 2>/dev/null"
    wait_for test -S "$SOCK"
}

@test "exec: a notify filter's message carries the exec'd pid, and the init's in state.pid" {
    start_listener continue 2
    update_config ".root.readonly = false | .linux.seccomp = {\"defaultAction\": \"SCMP_ACT_ALLOW\",
        \"listenerPath\": \"$SOCK\",
        \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}"
    start_c1
    [ "$(jq -r .pid "$AGENT_OUT")" = "$PID" ]
    run timeout -k 5 120 "$CAPSA" --root "$CAPSA_ROOT" exec --pid-file "$BATS_TEST_TMPDIR/pid" \
        "$CID" mkdir /tmp/x
    echo "$output"
    [ "$status" -eq 0 ]
    [ -d "$ROOTFS/tmp/x" ]
    epid=$(cat "$BATS_TEST_TMPDIR/pid")
    [ "$epid" != "$PID" ]
    [ "$(jq -r .pid "$AGENT_OUT.2")" = "$epid" ]
    [ "$(jq -r .state.pid "$AGENT_OUT.2")" = "$PID" ]
    [ "$(jq -r .state.id "$AGENT_OUT.2")" = "$CID" ]
}

@test "exec: with noNewPrivileges, notify rules on the runtime's own calls do not block it" {
    start_listener hold 2
    update_config ".process.noNewPrivileges = true | .linux.seccomp = {
        \"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"$SOCK\", \"syscalls\": [{\"names\":
        [\"setresuid\", \"setresgid\", \"setgroups\", \"capset\", \"fchdir\"],
        \"action\": \"SCMP_ACT_NOTIFY\"}]} | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    ctr_create "$CID"
    # The agent never answers: a notified call made by the runtime would hang start or exec (-k:
    # the init of a pid namespace ignores the forwarded SIGTERM).
    run timeout -k 5 120 "$CAPSA" --root "$CAPSA_ROOT" start "$CID"
    [ "$status" -eq 0 ]
    run timeout -k 5 120 "$CAPSA" --root "$CAPSA_ROOT" exec "$CID" echo ran
    [ "$status" -eq 0 ]
    [ "$output" = ran ]
    [ -s "$AGENT_OUT.2" ]
}

@test "exec: with noNewPrivileges, a kill rule on the runtime's own calls spares it" {
    update_config '.process.noNewPrivileges = true | .linux.seccomp = {
        "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["capset", "setresuid",
        "setresgid", "setgroups", "fchdir", "mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]}'
    start_c1
    run capsa exec "$CID" echo ran
    [ "$status" -eq 0 ]
    [ "$output" = ran ]
    run capsa exec --user 1000:1000 --cwd /tmp "$CID" echo ran-as-1000
    [ "$status" -eq 0 ]
    [ "$output" = ran-as-1000 ]
    # The filter is in the exec'd process.
    run capsa exec "$CID" sysprobe mkdir /tmp/x
    [ "$status" -eq 159 ]
}

# capsa-specific wording; runc warns as well, in its own words.
@test "exec: unknown syscall names in the container's filter are reported" {
    requires_capsa
    update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["capsa_no_such_syscall", "mkdir"], "action": "SCMP_ACT_ERRNO"}]}'
    start_c1
    run capsa exec "$CID" echo ran
    [ "$status" -eq 0 ]
    [[ "$output" == *capsa_no_such_syscall* ]]
    [[ "$output" == *ran* ]]
}

@test "exec --user UID keeps the configured gid; --additional-gids adds to the configured ones" {
    update_config '.process.user = {"uid": 0, "gid": 7, "additionalGids": [20]}'
    start_c1
    run capsa exec --user 1000 "$CID" sh -c 'id -u; id -g; id -G'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 1000 ]
    [ "${lines[1]}" = 7 ]
    [[ " ${lines[2]} " == *" 20 "* ]]
    run capsa exec --additional-gids 5 "$CID" id -G
    [ "$status" -eq 0 ]
    [[ " $output " == *" 20 "* ]]
    [[ " $output " == *" 5 "* ]]
    run capsa exec --user 1000:1001 "$CID" id -g
    [ "$status" -eq 0 ]
    [ "$output" = 1001 ]
}

@test "exec --ignore-paused on a running container runs as usual; --cgroup of a missing sub-cgroup is refused, not ignored" {
    start_c1
    run -0 capsa exec --ignore-paused "$CID" echo ran
    [ "$output" = ran ] || fail_now "$output"
    run capsa exec --cgroup nosub "$CID" echo never
    [ "$status" -ne 0 ] || fail_now "exec with a missing sub-cgroup succeeded"
    [[ "$output" == *"--cgroup nosub"*"does not exist"* ]] || fail_now "$output"
    [[ "$output" != *never* ]]
}

@test "exec joins the container's user namespace" {
    update_config '.linux.namespaces += [{"type":"user"}]
        | .linux.uidMappings = [{"containerID":0,"hostID":100000,"size":65536}]
        | .linux.gidMappings = [{"containerID":0,"hostID":200000,"size":65536}]'
    chown -R 100000:200000 "$ROOTFS"
    start_c1
    [ "$(readlink "/proc/$PID/ns/user")" != "$(readlink /proc/self/ns/user)" ]
    run capsa exec "$CID" readlink /proc/self/ns/user
    [ "$status" -eq 0 ]
    [ "$output" = "$(readlink "/proc/$PID/ns/user")" ]
    run capsa exec "$CID" sh -c 'id -u; cat /proc/self/uid_map'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 0 ]
    [[ "${lines[1]}" == *100000* ]]
}

@test "exec: the container's rlimits apply to the exec'd process" {
    update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]'
    start_c1
    run capsa exec "$CID" sh -c 'grep "Max open files" /proc/self/limits'
    [ "$status" -eq 0 ]
    [[ "$output" == *"321"*"654"* ]]
}

@test "exec --apparmor and --process-label are refused without the LSM" {
    [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" != Y ] ||
        skip "AppArmor is enabled here"
    [ ! -d /sys/fs/selinux ] || skip "SELinux is enabled here"
    start_c1
    run capsa exec --apparmor x "$CID" echo never
    [ "$status" -ne 0 ]
    [[ "$output" == *AppArmor* ]]
    [[ "$output" != *never* ]]
    run capsa exec --process-label x "$CID" echo never
    [ "$status" -ne 0 ]
    [[ "$output" == *SELinux* ]]
    [[ "$output" != *never* ]]
}
