#!/usr/bin/env bats
# hooks.bats - each hook kind runs at its point of the lifecycle, gets the state on stdin, its
# args and env; failing and hanging hooks.

load helpers

setup() {
    setup_common
    setup_bundle
    # startContainer (and createContainer) hooks run in the container's mount namespace, so the
    # hook dir is bind-mounted at the same path inside.
    HK=$BATS_TEST_TMPDIR/hk
    mkdir -p "$HK"
    update_config ".mounts += [{\"destination\": \"$HK\", \"type\": \"bind\", \"source\": \"$HK\",
        \"options\": [\"rbind\", \"rw\"]}]"
    LOG=$HK/hooks.log
    : >"$LOG"
    # Each hook appends its kind, saves its stdin, args and env.
    HOOK=$HK/hook.sh
    cat >"$HOOK" <<HOOKEOF
#!/bin/sh
kind=\$1
cat > "$HK/state.\$kind.json"
echo "\$@" > "$HK/args.\$kind"
echo "\$HOOKVAR" > "$HK/env.\$kind"
echo "\$kind" >> "$LOG"
HOOKEOF
    chmod +x "$HOOK"
}

hook_json() { # KIND
    jq -n --arg p "$HOOK" --arg k "$1" '{path: $p, args: [$p, $k, "extra"], env: ["HOOKVAR=v-\($k)"]}'
}

add_all_hooks() {
    local k expr=''
    for k in prestart createRuntime createContainer startContainer poststart poststop; do
        expr+=" | .hooks.$k = [$(hook_json "$k" | jq -c .)]"
    done
    update_config ".${expr}"
}

@test "hooks run in order at create, start and delete" {
    add_all_hooks
    update_config '.process.args = ["sh", "-c", "sleep 1000"]'
    ctr_create c1
    [ "$(tr '\n' ' ' <"$LOG")" = "prestart createRuntime createContainer " ]
    capsa start c1
    wait_for eval "[ \$(wc -l <'$LOG') -ge 5 ]"
    # startContainer runs in the container and poststart in the runtime: no order between them.
    [ "$(head -n3 "$LOG" | tr '\n' ' ')" = "prestart createRuntime createContainer " ]
    [ "$(sed -n 4,5p "$LOG" | sort | tr '\n' ' ')" = "poststart startContainer " ]
    capsa delete --force c1
    [ "$(wc -l <"$LOG")" -eq 6 ]
    [ "$(tail -n1 "$LOG")" = poststop ]
}

@test "hooks receive the state on stdin, their args and env" {
    add_all_hooks
    update_config '.process.args = ["sh", "-c", "sleep 1000"]'
    ctr_create c1
    pid=$(container_pid c1)
    for k in prestart createRuntime; do
        f=$HK/state.$k.json
        [ "$(jq -r .id "$f")" = c1 ]
        [ "$(jq -r .pid "$f")" = "$pid" ]
        [ "$(jq -r .bundle "$f")" = "$BUNDLE" ]
        [ "$(jq -r .status "$f")" = creating ] || [ "$(jq -r .status "$f")" = created ]
        [ "$(cat "$HK/args.$k")" = "$k extra" ]
        [ "$(cat "$HK/env.$k")" = "v-$k" ]
    done
    capsa start c1
    wait_for test -e "$HK/state.poststart.json"
    [ "$(jq -r .id "$HK/state.poststart.json")" = c1 ]
    [ "$(jq -r .pid "$HK/state.poststart.json")" = "$pid" ]
    capsa delete --force c1
    [ "$(jq -r .id "$HK/state.poststop.json")" = c1 ]
    [ "$(jq -r .status "$HK/state.poststop.json")" = stopped ]
}

@test "a failing prestart hook fails create and leaves nothing" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]
        | .hooks.prestart = [{\"path\": \"/bin/false\"}]"
    run ctr_create c1
    [ "$status" -ne 0 ]
    assert_nothing_left c1
}

@test "a hook that exceeds its timeout is killed and create fails" {
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]
        | .hooks.createRuntime = [{\"path\": \"/bin/sh\",
            \"args\": [\"sh\", \"-c\", \"echo \$\$ > $BATS_TEST_TMPDIR/hookpid; exec sleep 1000\"],
            \"timeout\": 1}]"
    run ctr_create c1
    [ "$status" -ne 0 ]
    assert_nothing_left c1
    hp=$(cat "$BATS_TEST_TMPDIR/hookpid")
    wait_for pid_gone "$hp"
}

@test "a failing poststop hook does not stop delete" {
    update_config '.hooks.poststop = [{"path": "/bin/false"}] | .process.args = ["true"]'
    ctr_create c1
    capsa start c1
    wait_for status_is c1 stopped
    # The spec: a failing poststop hook is logged, and the lifecycle goes on as if it had passed.
    run capsa delete c1
    [ "$status" -eq 0 ]
    run capsa state c1
    [ "$status" -ne 0 ]
    [ -z "$(ls -A "$CAPSA_ROOT")" ]
}

# The spec: createContainer hooks run before pivot_root, their path resolved in the runtime
# namespace. A hook that exists only on the host (CDI and GPU hooks do) must run; and it may
# still write into the rootfs of a read-only-root container (the root goes read-only after it).
@test "createContainer: a host-only hook path runs, before the root is made read-only" {
    hostonly=$(mktemp -d /tmp/capsa-hook.XXXXXX)
    defer "rm -rf '$hostonly'"
    cat >"$hostonly/hook.sh" <<HOOKEOF
#!/bin/sh
touch "$ROOTFS/made-by-hook"
readlink /proc/self/ns/mnt > "$hostonly/mntns"
HOOKEOF
    chmod +x "$hostonly/hook.sh"
    update_config ".root.readonly = true
        | .hooks.createContainer = [{\"path\": \"$hostonly/hook.sh\"}]
        | .process.args = [\"sh\", \"-c\", \"ls /made-by-hook; sleep 1000; : $MARK\"]"
    ctr_create c1
    [ -e "$ROOTFS/made-by-hook" ]
    PID=$(container_pid c1)
    # ... and it ran in the container's mount namespace, not the runtime's.
    [ "$(cat "$hostonly/mntns")" = "$(readlink "/proc/$PID/ns/mnt")" ]
    [ "$(cat "$hostonly/mntns")" != "$(readlink /proc/self/ns/mnt)" ]
}
