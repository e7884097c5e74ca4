#!/usr/bin/env bats
# checkpoint.bats - checkpoint and restore on this host: the refusals and failures, each leaving
# the container (checkpoint) or nothing (restore) behind. Debian 12's CRIU does not work on this
# kernel, so the RPC exchange is played by a fake criu (a script speaking the protobuf of
# CRIU's swrk service: a version, then a failure with a message). CRIU itself, with real dumps
# and restores, podman included, is tested in the systemd guest (tests/sdvm/criu.sh).

load helpers

setup() {
    setup_common
    setup_bundle
    requires_capsa
    # shellcheck disable=SC2016 # the script's own variables
    # fake criu: swrk 3; answers VERSION with 3.17.0 and any other request (by its type, the
    # request's first field) with success = false and cr_errmsg "fake failure".
    FAKE=$BATS_TEST_TMPDIR/fake-criu
    cat >"$FAKE" <<'EOF'
#!/bin/bash
[ "$1" = swrk ] && [ "$2" = 3 ] || exit 2
req=$(dd bs=65536 count=1 <&3 2>/dev/null | od -An -tx1 -N2 | tr -d ' \n')
reply=$(mktemp)
case "$req" in
080a) printf '\x08\x0a\x10\x01\x52\x04\x08\x03\x10\x11' >"$reply" ;;
08??) printf "\\x08\\x${req#08}\\x10\\x00\\x4a\\x0cfake failure" >"$reply" ;;
*) exit 3 ;;
esac
# One write, one SOCK_SEQPACKET message (printf may write in pieces).
dd bs=65536 count=1 if="$reply" 2>/dev/null >&3
rm -f "$reply"
EOF
    chmod 0755 "$FAKE"
}

# A container that runs until killed.
start_sleeper() {
    run_bg_container "$1" "sleep 1000; : $MARK"
}

@test "checkpoint --help and restore --help list runc's flags" {
    run capsa checkpoint --help
    [ "$status" -eq 0 ]
    for f in --image-path --work-path --parent-path --leave-running --tcp-established \
        --file-locks --pre-dump --manage-cgroups-mode --external --lazy-pages; do
        [[ $output == *"$f"* ]] || fail_now "checkpoint --help lacks $f"
    done
    run capsa restore --help
    [ "$status" -eq 0 ]
    for f in --image-path --work-path --bundle --detach --pid-file --console-socket \
        --manage-cgroups-mode --external --lazy-pages; do
        [[ $output == *"$f"* ]] || fail_now "restore --help lacks $f"
    done
}

@test "features says checkpoint is built in" {
    run capsa features
    [ "$status" -eq 0 ]
    [ "$(jq -r '.annotations["io.github.capsa.checkpoint.enabled"]' <<<"$output")" = true ]
}

@test "checkpoint with a missing criu: a clear error, the container runs on, no image dir" {
    start_sleeper c1
    run capsa --criu /nonexistent/criu checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
    [ "$status" -ne 0 ]
    [[ $output == *"criu not found"*"/nonexistent/criu"* ]] || fail_now "$output"
    [ "$(container_status c1)" = running ]
    kill -0 "$PID"
    [ ! -e "$BATS_TEST_TMPDIR/img" ]
}

@test "checkpoint that criu fails: its message, the container runs on, no image dir left" {
    start_sleeper c1
    run capsa --criu "$FAKE" checkpoint --image-path "$BATS_TEST_TMPDIR/img" \
        --work-path "$BATS_TEST_TMPDIR/work" c1
    [ "$status" -ne 0 ]
    [[ $output == *"criu dump failed: fake failure"* ]] || fail_now "$output"
    [ "$(container_status c1)" = running ]
    kill -0 "$PID"
    [ ! -e "$BATS_TEST_TMPDIR/img" ]
    # The work directory is the user's, for the log: it stays.
    [ -d "$BATS_TEST_TMPDIR/work" ]
}

@test "checkpoint refuses a created container, a missing one, bad flags" {
    update_config '.process.args = ["sleep", "1000"]'
    ctr_create c1
    run capsa --criu "$FAKE" checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
    [ "$status" -ne 0 ]
    [[ $output == *"c1 is created"*"running or paused"* ]] || fail_now "$output"
    [ ! -e "$BATS_TEST_TMPDIR/img" ]
    run capsa --criu "$FAKE" checkpoint --image-path "$BATS_TEST_TMPDIR/img" nosuch
    [ "$status" -ne 0 ]
    [[ $output == *nosuch* ]] || fail_now "$output"
    capsa start c1
    run capsa --criu "$FAKE" checkpoint --manage-cgroups-mode bogus --image-path "$BATS_TEST_TMPDIR/img" c1
    [ "$status" -ne 0 ]
    [[ $output == *"--manage-cgroups-mode"*bogus* ]] || fail_now "$output"
    run capsa --criu "$FAKE" checkpoint --parent-path /abs --image-path "$BATS_TEST_TMPDIR/img" c1
    [ "$status" -ne 0 ]
    [[ $output == *"--parent-path /abs"*relative* ]] || fail_now "$output"
    run capsa checkpoint --bundle x c1
    [ "$status" -ne 0 ]
    [[ $output == *"unknown option --bundle"* ]] || fail_now "$output"
    [ "$(container_status c1)" = running ]
}

@test "restore without a checkpoint: an error naming the path, nothing made" {
    run capsa --criu "$FAKE" restore -d --image-path "$BATS_TEST_TMPDIR/none" --bundle "$BUNDLE" r1
    [ "$status" -ne 0 ]
    [[ $output == *"--image-path $BATS_TEST_TMPDIR/none"* ]] || fail_now "$output"
    assert_nothing_left r1
    mkdir "$BATS_TEST_TMPDIR/empty"
    run capsa --criu "$FAKE" restore -d --image-path "$BATS_TEST_TMPDIR/empty" --bundle "$BUNDLE" r1
    [ "$status" -ne 0 ]
    [[ $output == *"no checkpoint there"* ]] || fail_now "$output"
    assert_nothing_left r1
}

@test "restore with a missing criu: a clear error, nothing made" {
    mkdir "$BATS_TEST_TMPDIR/img" && : >"$BATS_TEST_TMPDIR/img/inventory.img"
    run capsa --criu /nonexistent/criu restore -d --image-path "$BATS_TEST_TMPDIR/img" \
        --bundle "$BUNDLE" r1
    [ "$status" -ne 0 ]
    [[ $output == *"criu not found"* ]] || fail_now "$output"
    assert_nothing_left r1
}

@test "restore that criu fails: its message, no state, cgroup, mount or process left" {
    mkdir "$BATS_TEST_TMPDIR/img" && : >"$BATS_TEST_TMPDIR/img/inventory.img"
    run capsa --criu "$FAKE" restore -d --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" r1
    [ "$status" -ne 0 ]
    [[ $output == *"criu restore failed: fake failure"* ]] || fail_now "$output"
    assert_nothing_left r1
    # The rootfs bind mount CRIU would restore into is gone with the state directory (teardown
    # also fails the test if the container's cgroup was left).
    ! grep -q criu-root /proc/self/mountinfo || fail_now "criu-root mount left"
}

@test "restore of a bundle at another isolation level is refused, nothing made" {
    mkdir "$BATS_TEST_TMPDIR/img" && : >"$BATS_TEST_TMPDIR/img/inventory.img"
    update_config '.annotations["capsa.isolation"] = "interpose"'
    run capsa --criu "$FAKE" restore -d --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" r1
    [ "$status" -ne 0 ]
    [[ $output == *"native level only"* ]] || fail_now "$output"
    assert_nothing_left r1
}
