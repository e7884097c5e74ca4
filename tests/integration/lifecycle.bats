#!/usr/bin/env bats
# lifecycle.bats - create/start/state/delete, ID validation, failed creates leave nothing, list.

load helpers

setup() {
    setup_common
    setup_bundle
}

@test "create does not run user code; start does; exit -> stopped; delete removes state" {
    out=$(add_host_dir /out)
    update_config '.process.args = ["sh", "-c", "touch /out/started; while [ ! -e /out/go ]; do sleep 0.1; done"]'
    run ctr_create c1
    [ "$status" -eq 0 ]
    [ "$(container_status c1)" = created ]
    pid=$(container_pid c1)
    [ "$pid" -gt 0 ]
    kill -0 "$pid"
    # The init process exists but the user command has not run yet.
    [ ! -e "$out/started" ]
    [ -d "$CAPSA_ROOT/c1" ] || [ -n "$(ls -A "$CAPSA_ROOT")" ]

    run capsa start c1
    [ "$status" -eq 0 ]
    wait_for test -e "$out/started"
    [ "$(container_status c1)" = running ]

    touch "$out/go"
    wait_for status_is c1 stopped
    pid_gone "$pid"

    run capsa delete c1
    [ "$status" -eq 0 ]
    run capsa state c1
    [ "$status" -ne 0 ]
    [ -z "$(ls -A "$CAPSA_ROOT")" ]
}

@test "state reports id, pid, bundle, status, ociVersion" {
    ctr_create c1
    run capsa state c1
    [ "$status" -eq 0 ]
    [ "$(jq -r .id <<<"$output")" = c1 ]
    [ "$(jq -r .status <<<"$output")" = created ]
    [ "$(jq -r .bundle <<<"$output")" = "$BUNDLE" ]
    [ -n "$(jq -r .ociVersion <<<"$output")" ]
    pid=$(jq -r .pid <<<"$output")
    # The pid is a real process on the host.
    [ -d "/proc/$pid" ]
}

@test "delete of a running container without --force fails and keeps it" {
    run_bg_container c1 "sleep 1000; : $MARK"
    run capsa delete c1
    [ "$status" -ne 0 ]
    kill -0 "$PID"
    [ "$(container_status c1)" = running ]
}

@test "delete --force kills a running container" {
    run_bg_container c1 "sleep 1000; : $MARK"
    kill -0 "$PID"
    run capsa delete --force c1
    [ "$status" -eq 0 ]
    wait_for pid_gone "$PID"
    run -1 pgrep -f "$MARK"
    run capsa state c1
    [ "$status" -ne 0 ]
}

@test "delete --force of a created container kills its init" {
    ctr_create c1
    pid=$(container_pid c1)
    kill -0 "$pid"
    run capsa delete --force c1
    [ "$status" -eq 0 ]
    wait_for pid_gone "$pid"
    [ -z "$(ls -A "$CAPSA_ROOT")" ]
}

@test "second create of the same id fails and leaves the first intact" {
    ctr_create c1
    pid=$(container_pid c1)
    run ctr_create c1
    [ "$status" -ne 0 ]
    [ "$(container_status c1)" = created ]
    [ "$(container_pid c1)" = "$pid" ]
    kill -0 "$pid"
}

@test "invalid container ids are rejected and nothing is created" {
    for id in 'a/b' '..' '.' '' "$(printf 'x%.0s' {1..300})"; do
        run ctr_create "$id"
        [ "$status" -ne 0 ] || fail_now "id '$id' accepted"
        [ -z "$(ls -A "$CAPSA_ROOT")" ] || fail_now "state left for id '$id'"
    done
    run -1 mounts_under "$ROOTFS"
}

@test "create with a missing bundle fails cleanly" {
    BUNDLE=$BATS_TEST_TMPDIR/nope
    run ctr_create c1
    [ "$status" -ne 0 ]
    [[ "$output" == *nope* || "$output" == *config.json* || "$output" == *"No such file"* ]]
    assert_nothing_left c1
}

@test "create with a malformed config.json fails naming the problem" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    printf '{"ociVersion": "1.0.2", "process": ' >"$BUNDLE/config.json"
    run ctr_create c1
    [ "$status" -ne 0 ]
    [[ "$output" == *config.json* || "$output" == *JSON* || "$output" == *json* ]]
    assert_nothing_left c1
}

# capsa-specific: crun and runc 1.1 accept a relative destination and treat it as absolute;
# runtime-spec 1.1 says it MUST be absolute.
@test "create with a relative mount destination fails and leaves nothing" {
    requires_capsa
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]
        | .mounts += [{\"destination\": \"relative/dir\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}]"
    run ctr_create c1
    [ "$status" -ne 0 ]
    [[ "$output" == *relative* || "$output" == *absolute* || "$output" == *destination* ]]
    assert_nothing_left c1
}

@test "pid-file holds the container pid" {
    ctr_create c1 --pid-file "$BATS_TEST_TMPDIR/pid"
    [ -s "$BATS_TEST_TMPDIR/pid" ]
    [ "$(cat "$BATS_TEST_TMPDIR/pid")" = "$(container_pid c1)" ]
}

@test "list shows containers in table, json and -q formats" {
    ctr_create one
    ctr_create two
    run capsa list
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *ID* ]]
    [[ "$output" == *one*created* ]]
    [[ "$output" == *two*created* ]]

    run capsa list -q
    [ "$status" -eq 0 ]
    [ "$(sort <<<"$output" | tr '\n' ' ')" = "one two " ]

    run capsa list --format json
    [ "$status" -eq 0 ]
    [ "$(jq -r '.[].id' <<<"$output" | sort | tr '\n' ' ')" = "one two " ]
    [ "$(jq -r '.[] | select(.id == "one") | .status' <<<"$output")" = created ]
    [ "$(jq -r '.[] | select(.id == "one") | .bundle' <<<"$output")" = "$BUNDLE" ]
}

@test "list of an empty root prints no containers" {
    run capsa list -q
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "concurrent creates of one id: exactly one succeeds" {
    local i ok=0
    for i in $(seq 1 10); do
        (ctr_create same >/dev/null 2>&1 && touch "$BATS_TEST_TMPDIR/ok.$i") &
    done
    wait
    ok=$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'ok.*' | wc -l)
    [ "$ok" -eq 1 ]
    [ "$(container_status same)" = created ]
    [ "$(capsa list -q | wc -l)" -eq 1 ]
}
