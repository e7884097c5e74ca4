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
    wait_for test -S "$SOCK"
}

@test "output arrives through the pty, and tty names the console" {
    update_config '.process.terminal = true | .process.args = ["sh", "-c", "echo via-pty; tty"]'
    start_recvtty
    ctr_create c1 --console-socket "$SOCK"
    capsa start c1
    wait_for status_is c1 stopped
    wait "$RPID" || true
    out=$(tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out")
    [[ "$out" == *via-pty* ]]
    [[ "$out" == *"/dev/pts/0"* || "$out" == *"/dev/console"* ]]
    # Nothing went through the runtime's own stdio.
    run -1 grep -q via-pty "$BATS_TEST_TMPDIR/c1.out"
}

@test "the process sees a terminal on stdin, stdout and stderr" {
    update_config '.process.terminal = true
        | .process.args = ["sh", "-c", "[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty"]'
    start_recvtty
    ctr_create c1 --console-socket "$SOCK"
    capsa start c1
    wait_for status_is c1 stopped
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

# Drive `capsa run` in the foreground on a pty of our own (python3's pty module), with a window
# size set on it, and collect everything the container writes to its terminal.
run_on_pty() {
    python3 - "$@" <<'PY'
import fcntl, os, pty, struct, sys, termios
rows, cols = 33, 97
pid, master = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(st))
PY
}

@test "foreground run relays a pty: output arrives, tty is a pts, stty size follows the outer pty" {
    requires_cmd python3
    update_config '.process.terminal = true
        | .process.args = ["sh", "-c", "echo via-relay; tty; stty size; [ -t 0 ] && echo stdin-tty; exit 5"]'
    run run_on_pty "$CAPSA" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1
    [ "$status" -eq 5 ] || fail_now "status $status: $output"
    [[ "$output" == *via-relay* ]]
    [[ "$output" =~ /dev/pts/[0-9]+ ]]
    [[ "$output" == *"33 97"* ]] || fail_now "window size not relayed: $output"
    [[ "$output" == *stdin-tty* ]]
    # run deleted the container once it exited.
    run capsa state c1
    [ "$status" -ne 0 ]
}
