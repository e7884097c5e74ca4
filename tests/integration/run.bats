#!/usr/bin/env bats
# run.bats - `run`: exit codes, stdio, --detach, signal forwarding.

load helpers

setup() {
    setup_common
    setup_bundle
}

@test "run returns the container's exit code 0" {
    update_config '.process.args = ["true"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    # run deletes the container once it exits.
    run capsa state c1
    [ "$status" -ne 0 ]
}

@test "run returns the container's exit code 42" {
    update_config '.process.args = ["sh", "-c", "exit 42"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 42 ]
}

@test "run returns 143 when the process dies of SIGTERM" {
    # Host pid namespace: a pid-namespace init ignores signals it has no handler for.
    update_config '.linux.namespaces |= map(select(.type != "pid"))
        | .process.args = ["sh", "-c", "kill -TERM $$; sleep 10"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 143 ]
}

@test "run returns 137 when the container is killed with SIGKILL" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    "$CAPSA" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1 &
    rpid=$!
    defer "kill -KILL $rpid 2>/dev/null"
    wait_for status_is c1 running
    capsa kill c1 KILL
    rc=0
    wait "$rpid" || rc=$?
    [ "$rc" -eq 137 ]
}

@test "stdout and stderr reach the caller separately" {
    update_config '.process.args = ["sh", "-c", "echo to-out; echo to-err >&2"]'
    capsa run --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/o" 2>"$BATS_TEST_TMPDIR/e"
    [ "$(cat "$BATS_TEST_TMPDIR/o")" = to-out ]
    grep -qx to-err "$BATS_TEST_TMPDIR/e"
    run -1 grep -q to-err "$BATS_TEST_TMPDIR/o"
}

@test "stdin reaches the container" {
    update_config '.process.args = ["sh", "-c", "read line; echo got:$line"]'
    run capsa run --bundle "$BUNDLE" c1 <<<"hello"
    [ "$status" -eq 0 ]
    [ "$output" = got:hello ]
}

@test "run --detach returns at once and leaves the container running" {
    out=$(add_host_dir /out)
    update_config ".process.args = [\"sh\", \"-c\", \"echo up > /out/up; sleep 1000; : $MARK\"]"
    # Not under `run`: the detached container inherits stdout and would hold its pipe open.
    capsa run --detach --bundle "$BUNDLE" c1 </dev/null >"$BATS_TEST_TMPDIR/o" 2>&1
    [ "$(container_status c1)" = running ]
    wait_for test -s "$out/up"
    pid=$(container_pid c1)
    kill -0 "$pid"
}

@test "SIGTERM sent to the run process reaches the container" {
    out=$(add_host_dir /out)
    update_config '.process.args = ["sh", "-c",
        "trap \"echo trapped > /out/t; exit 7\" TERM; touch /out/ready; while :; do sleep 0.1; done"]'
    "$CAPSA" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1 &
    rpid=$!
    defer "kill -KILL $rpid 2>/dev/null"
    wait_for test -e "$out/ready"
    kill -TERM "$rpid"
    rc=0
    wait "$rpid" || rc=$?
    [ "$(cat "$out/t")" = trapped ]
    [ "$rc" -eq 7 ]
}

@test "SIGTSTP, SIGTTIN and SIGTTOU sent to run reach the container and do not stop run" {
    out=$(add_host_dir /out)
    update_config '.process.args = ["sh", "-c",
        "for s in TSTP TTIN TTOU; do trap \"echo $s >> /out/got\" $s; done; touch /out/ready;
         while [ ! -e /out/stop ]; do sleep 0.1; done; exit 3"]'
    "$CAPSA" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1 &
    rpid=$!
    defer "kill -KILL $rpid 2>/dev/null; touch $out/stop"
    wait_for test -e "$out/ready"
    for s in TSTP TTIN TTOU; do
        kill -"$s" "$rpid"
        wait_for grep -qx "$s" "$out/got"
        # Not stopped: a stopped run could neither forward nor reap.
        [ "$(awk '/^State:/ { print $2 }' "/proc/$rpid/status")" != T ]
    done
    touch "$out/stop"
    rc=0
    wait "$rpid" || rc=$?
    [ "$rc" -eq 3 ]
}

@test "SIGWINCH reaches a container without a terminal" {
    out=$(add_host_dir /out)
    update_config '.process.args = ["sh", "-c",
        "trap \"echo winch > /out/w\" WINCH; touch /out/ready;
         while [ ! -e /out/w ] && [ ! -e /out/stop ]; do sleep 0.1; done"]'
    "$CAPSA" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1 &
    rpid=$!
    defer "kill -KILL $rpid 2>/dev/null"
    wait_for test -e "$out/ready"
    kill -WINCH "$rpid"
    # Bounded: without forwarding the container would loop forever.
    wait_for test -e "$out/w" || touch "$out/stop"
    rc=0
    wait "$rpid" || rc=$?
    [ "$rc" -eq 0 ]
    [ "$(cat "$out/w")" = winch ]
}

@test "run --keep leaves the stopped container: state says stopped, delete removes it" {
    out=$(add_host_dir /out)
    update_config '.process.args = ["sh", "-c", "echo ran > /out/ran; exit 4"]'
    run capsa run --keep --bundle "$BUNDLE" c1
    [ "$status" -eq 4 ]
    [ "$(cat "$out/ran")" = ran ]
    run capsa state c1
    [ "$status" -eq 0 ] || fail_now "state after run --keep: $output"
    [ "$(jq -r .status <<<"$output")" = stopped ]
    [ "$(capsa list -q)" = c1 ]
    capsa delete c1
    run capsa state c1
    [ "$status" -ne 0 ]
    # A failing list would print nothing too: its status first.
    run capsa list -q
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}
