#!/usr/bin/env bats
# kill.bats - signal names and numbers, unknown signals, killing stopped containers.

load helpers

setup() {
    setup_common
    setup_bundle
    OUT=$(add_host_dir /out)
}

# Container whose init traps TERM and records it on the host side.
start_trapper() {
    run_bg_container "$1" "trap 'echo term > /out/got; exit 0' TERM; touch /out/ready; while :; do sleep 0.1; done; : $MARK"
    wait_for test -e "$OUT/ready"
}

@test "kill with TERM" {
    start_trapper c1
    run capsa kill c1 TERM
    [ "$status" -eq 0 ]
    wait_for status_is c1 stopped
    [ "$(cat "$OUT/got")" = term ]
}

@test "kill with SIGTERM" {
    start_trapper c1
    run capsa kill c1 SIGTERM
    [ "$status" -eq 0 ]
    wait_for status_is c1 stopped
    [ "$(cat "$OUT/got")" = term ]
}

@test "kill with 15" {
    start_trapper c1
    run capsa kill c1 15
    [ "$status" -eq 0 ]
    wait_for status_is c1 stopped
    [ "$(cat "$OUT/got")" = term ]
}

@test "kill without a signal sends TERM" {
    start_trapper c1
    run capsa kill c1
    [ "$status" -eq 0 ]
    wait_for status_is c1 stopped
    [ "$(cat "$OUT/got")" = term ]
}

@test "kill with KILL stops a process that ignores TERM" {
    run_bg_container c1 "trap '' TERM; sleep 1000; : $MARK"
    capsa kill c1 TERM
    # TERM is ignored: still running after the signal was delivered.
    [ "$(container_status c1)" = running ]
    run capsa kill c1 KILL
    [ "$status" -eq 0 ]
    wait_for status_is c1 stopped
    wait_for pid_gone "$PID"
}

@test "kill of a created container with KILL stops it" {
    ctr_create c1
    pid=$(container_pid c1)
    run capsa kill c1 KILL
    [ "$status" -eq 0 ]
    wait_for status_is c1 stopped
    wait_for pid_gone "$pid"
}

@test "out-of-range signal numbers are rejected and the container keeps running" {
    start_trapper c1
    for sig in 999 -1 65; do
        run capsa kill c1 "$sig"
        [ "$status" -ne 0 ] || fail_now "signal '$sig' accepted"
    done
    [ "$(container_status c1)" = running ]
    [ ! -e "$OUT/got" ]
}

# capsa-specific: crun 1.8 accepts unknown signal names (runc rejects them, as capsa does).
@test "unknown signal names are rejected and the container keeps running" {
    requires_capsa
    start_trapper c1
    for sig in FOO SIGFOO SIG; do
        run capsa kill c1 "$sig"
        [ "$status" -ne 0 ] || fail_now "signal '$sig' accepted"
    done
    [ "$(container_status c1)" = running ]
    [ ! -e "$OUT/got" ]
}

@test "kill of a stopped container fails" {
    update_config '.process.args = ["true"]'
    ctr_create c1
    capsa start c1
    wait_for status_is c1 stopped
    run capsa kill c1 TERM
    [ "$status" -ne 0 ]
}

@test "kill --all of a stopped container whose cgroup is gone succeeds" {
    # systemd removes a scope's cgroup with its last process, and containerd's shim still sends
    # kill --all KILL to the stopped container: nothing is left, so that is a success.
    update_config '.process.args = ["true"]'
    ctr_create c1
    capsa start c1
    wait_for status_is c1 stopped
    local dirs d
    dirs=$(jq -r '.cgroup' "$CAPSA_ROOT/c1/state.json" | awk '{print $3}')
    [ -n "$dirs" ] || fail_now "no cgroup in state.json"
    for d in $dirs; do
        rmdir "$d" || fail_now "rmdir $d"
    done
    run capsa kill --all c1 KILL
    [ "$status" -eq 0 ] || fail_now "kill --all: $output"
    run capsa kill c1 KILL
    [ "$status" -ne 0 ]
    if is_capsa; then [[ "$output" == *"container not running"* ]] || fail_now "kill: $output"; fi
    capsa delete c1
    for d in $dirs; do
        [ ! -e "$d" ] || fail_now "$d came back"
    done
}

@test "kill of an unknown container fails" {
    run capsa kill nosuch TERM
    [ "$status" -ne 0 ]
}

@test "kill --all reaches every process of the container, kill alone only the init" {
    # sh is pid 1 of its pid namespace: without a handler it ignores TERM.
    # Its two children do not, so only --all stops them (and then sh).
    run_bg_container c1 "sleep 1000 & sleep 1000 & wait; : $MARK"
    wait_for bash -c "[ \$(pgrep -c -P $PID -x sleep) -eq 2 ]"
    kids=$(pgrep -P "$PID" -x sleep)
    # No sleep after the signal: the kernel drops a TERM for a pid-namespace init without a
    # handler when it is sent, so once kill has returned nothing more can happen.
    capsa kill c1 TERM
    [ "$(pgrep -c -P "$PID" -x sleep)" -eq 2 ]
    [ "$(container_status c1)" = running ]
    run capsa kill --all c1 TERM
    [ "$status" -eq 0 ]
    wait_for status_is c1 stopped
    # The children by their own pids: once the init is gone, "children of $PID" finds nothing
    # whatever happened to them.
    local k
    for k in $kids; do
        wait_for pid_gone "$k" || fail_now "child $k of the init survived kill --all"
    done
}
