#!/usr/bin/env bats
# terminal.bats - process.terminal with --console-socket, served by build/helpers/recvtty.

load helpers

setup() {
    setup_common
    setup_bundle
    RECVTTY=$REPO/build/helpers/recvtty
    [ -x "$RECVTTY" ] || skip "build/helpers/recvtty not built (make helpers)"
    SOCK=$BATS_TEST_TMPDIR/console.sock
}

start_recvtty() {
    "$RECVTTY" "$SOCK" >"$BATS_TEST_TMPDIR/tty.out" 2>"$BATS_TEST_TMPDIR/tty.err" &
    RPID=$!
    defer "kill $RPID 2>/dev/null"
    wait_for 100 test -S "$SOCK"
}

@test "output arrives through the pty, and tty names the console" {
    update_config '.process.terminal = true | .process.args = ["sh", "-c", "echo via-pty; tty"]'
    start_recvtty
    ctr_create c1 --console-socket "$SOCK"
    capsa start c1
    wait_for 100 status_is c1 stopped
    wait "$RPID" || true
    out=$(tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out")
    [[ "$out" == *via-pty* ]]
    [[ "$out" == *"/dev/pts/0"* || "$out" == *"/dev/console"* ]]
    # Nothing went through the runtime's own stdio.
    ! grep -q via-pty "$BATS_TEST_TMPDIR/c1.out"
}

@test "the process sees a terminal on stdin, stdout and stderr" {
    update_config '.process.terminal = true
        | .process.args = ["sh", "-c", "[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty"]'
    start_recvtty
    ctr_create c1 --console-socket "$SOCK"
    capsa start c1
    wait_for 100 status_is c1 stopped
    wait "$RPID" || true
    grep -q all-tty "$BATS_TEST_TMPDIR/tty.out"
}

@test "terminal=true without --console-socket fails clearly" {
    update_config ".process.terminal = true | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    run ctr_create c1
    [ "$status" -ne 0 ]
    [[ "$output" == *console* || "$output" == *terminal* ]]
    assert_nothing_left c1
}
