#!/usr/bin/env bats
# vm_agent.bats - the vm level's guest agent (build/capsa-agent) run on the host with
# --no-init, its channel one end of a socketpair driven by tests/helpers/vm_client.py (which
# prints one line per reply and per process exit). The effects are checked from outside: the
# state root the agent was given, /proc, the cgroup directories.

load helpers

setup() {
    setup_common
    setup_bundle
    requires_cmd python3
    AGENT=$REPO/build/capsa-agent
    [ -x "$AGENT" ] || fail_now "agent not found: $AGENT (run make)"
    CID=vma$$r$RANDOM
}

# vm STEP...: the client, with an agent on this test's state root.
vm() {
    python3 "$REPO/tests/helpers/vm_client.py" "$AGENT" --no-init --root "$CAPSA_ROOT" \
        --work "$BATS_TEST_TMPDIR/agent" -- "$@"
}

# has LINE: the client printed exactly this line.
has() {
    grep -qxF -- "$1" <<<"$output" || fail_now "no line \"$1\" in: $output"
}

@test "vm agent: HELLO, create and start; the container's stdout comes back with exit 0" {
    update_config '.process.args = ["echo", "hi"]'
    run vm create "$CID" 1 "$BUNDLE" host "[ -d '$CAPSA_ROOT/$CID' ]" start "$CID" wait 1 \
        delete "$CID"
    [ "$status" -eq 0 ]
    has "hello version=1 magic=ok"
    # The created container is in the state root the agent was given.
    has "host 0"
    has "ok START pid=0"
    has "out 1 hi"
    has "exit 1 exited 0"
    has "ok DELETE pid=0"
    has "agent exit 0"
    [ -z "$(ls -A "$CAPSA_ROOT")" ]
}

@test "vm agent: exit status and stderr" {
    update_config '.process.args = ["sh", "-c", "echo oops >&2; exit 3"]'
    run vm create "$CID" 1 "$BUNDLE" start "$CID" wait 1 delete "$CID"
    [ "$status" -eq 0 ]
    has "err 1 oops"
    has "exit 1 exited 3"
    has "ok DELETE pid=0"
}

@test "vm agent: SIGNAL TERM ends a sleeping container by signal 15; its process is gone" {
    # Without a pid namespace of its own: the init of one ignores TERM (no handler), whoever
    # sends it, and this test is about the signal reaching the process.
    update_config '.linux.namespaces |= map(select(.type != "pid"))'
    update_config '.process.args = ["sleep", "1000"]'
    run vm create "$CID" 1 "$BUNDLE" start "$CID" host 'kill -0 "$PID_1"' \
        signal "$CID" 1 15 wait 1 host '[ ! -e "/proc/$PID_1" ]' delete "$CID"
    [ "$status" -eq 0 ]
    has "ok SIGNAL pid=0"
    has "exit 1 signaled 15"
    # Alive before the signal, gone once EXIT came.
    [ "$(grep -c '^host 0$' <<<"$output")" -eq 2 ]
}

@test "vm agent: EXEC of a second process while the first runs (stdin relayed, a tty)" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    ns=$BATS_TEST_TMPDIR/ns
    run vm create "$CID" 1 "$BUNDLE" start "$CID" \
        exec "$CID" 2 '{"args": ["sh", "-c", "readlink /proc/self/ns/mnt; cat"], "cwd": "/"}' \
        stdin 2 piped eof 2 wait 2 host "readlink /proc/\$PID_1/ns/mnt >'$ns'" \
        exec "$CID" 3 '{"args": ["sh", "-c", "tty; exit 5"], "cwd": "/"}' tty wait 3 \
        signal "$CID" all 9 wait 1 delete "$CID"
    [ "$status" -eq 0 ]
    # The exec'd process is in the init's mount namespace, got its stdin and ended.
    has "out 2 $(cat "$ns")"
    grep -qx piped <<<"$output"
    has "exit 2 exited 0"
    has "out 3 /dev/pts/0"
    has "exit 3 exited 5"
    has "exit 1 signaled 9"
    run ! pgrep -f "$MARK"
}

@test "vm agent: a malformed frame gets ERROR, the channel closes, no container is left" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    # A header announcing 16 MiB: refused from its length alone.
    run vm create "$CID" 1 "$BUNDLE" start "$CID" host "cat /proc/\$PID_1/cgroup >'$BATS_TEST_TMPDIR/cg'" \
        raw 0000000107090000000000 closed
    [ "$status" -eq 0 ]
    has "ok START pid=0"
    has "error id=9 errno=90 vm protocol: frame length 16777216 exceeds 1048576"
    has "closed"
    has "agent exit 0"
    assert_nothing_left "$CID"
    assert_cgroups_gone "$BATS_TEST_TMPDIR/cg"
}

# assert_cgroups_gone FILE: no directory of the /proc/PID/cgroup lines in FILE exists.
assert_cgroups_gone() {
    local h ctrls path mnt n=0
    while IFS=: read -r h ctrls path; do
        [[ "$ctrls" != name=* ]] || continue
        mnt=$(cg_mount "$ctrls")
        [ -n "$mnt" ] || continue
        [ "$path" != / ] || continue
        [ ! -d "$mnt$path" ] || fail_now "cgroup left: $mnt$path (hierarchy $h)"
        n=$((n + 1))
    done <"$1"
    [ "$n" -gt 0 ] || fail_now "no cgroup line in $1"
}

@test "vm agent: DELETE leaves no cgroup and no state directory" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    run vm create "$CID" 1 "$BUNDLE" start "$CID" host "cat /proc/\$PID_1/cgroup >'$BATS_TEST_TMPDIR/cg'" \
        signal "$CID" all 9 wait 1 delete "$CID" host "[ ! -e '$CAPSA_ROOT/$CID' ]"
    [ "$status" -eq 0 ]
    has "exit 1 signaled 9"
    has "ok DELETE pid=0"
    # The state directory was gone right after DELETE, before the channel closed.
    has "host 0"
    # Deleted containers are forgotten: what is checked here is DELETE's work alone.
    assert_cgroups_gone "$BATS_TEST_TMPDIR/cg"
    assert_nothing_left "$CID"
}

@test "vm agent: a bad request gets ERROR naming the problem, and nothing is made" {
    echo '{"ociVersion": ' >"$BUNDLE/config.json"
    run vm create "$CID" 1 "$BUNDLE" create "../x" 2 "$BUNDLE" start nosuch
    [ "$status" -eq 0 ]
    grep -q '^error CREATE errno=22 config: line' <<<"$output"
    has 'error CREATE errno=22 container id "../x": invalid'
    grep -q '^error START errno=' <<<"$output"
    has "agent exit 0"
    assert_nothing_left "$CID"
}
