#!/usr/bin/env bats
# propagation.bats - mounts travelling between the container and the host: rshared
# rootfsPropagation and a per-mount "shared" bind carry a mount made inside the container out to
# the host (Kubernetes' Bidirectional), while the container's own mounts (its rootfs, /proc, /dev)
# never reach the host; and readonlyPaths adds read-only and nothing else.

load helpers

setup() {
    setup_common
    setup_bundle
}

teardown() {
    teardown_common
}

# The container mounts a tmpfs at /bidir/sub and keeps running; was it seen on the host?
# shellcheck disable=SC2154 # hostdir is set by shared_host_dir (helpers.bash)
container_mounts_into_bidir() {
    run_bg_container c1 "mount -t tmpfs none /bidir/sub && touch /bidir/sub/made-inside; sleep 1000; : $MARK"
    wait_for test -e "$hostdir/sub/made-inside"
}

@test "rootfsPropagation rshared: a mount made inside a shared bind reaches the host" {
    shared_host_dir
    update_config ".linux.rootfsPropagation = \"rshared\"
        | .process.capabilities.bounding += [\"CAP_SYS_ADMIN\"]
        | .process.capabilities.effective += [\"CAP_SYS_ADMIN\"]
        | .process.capabilities.permitted += [\"CAP_SYS_ADMIN\"]
        | .mounts += [{\"destination\": \"/bidir\", \"type\": \"bind\", \"source\": \"$hostdir\",
            \"options\": [\"rbind\"]}]"
    container_mounts_into_bidir
    findmnt -n "$hostdir/sub" >/dev/null
    # The container's own mounts stay in the container: nothing appeared under its rootfs.
    run -1 mounts_under "$ROOTFS"
}

@test "a per-mount shared bind is shared in the container's mountinfo" {
    shared_host_dir
    update_config ".mounts += [{\"destination\": \"/bidir\", \"type\": \"bind\", \"source\": \"$hostdir\",
            \"options\": [\"rbind\", \"rshared\"]}]"
    run_bg_container c1 "sleep 1000; : $MARK"
    line=$(awk '$5 == "/bidir"' "/proc/$PID/mountinfo")
    [[ "$line" == *" shared:"* ]] || fail_now "not shared: $line"
}

@test "the default rslave root: a mount made inside does not reach the host" {
    shared_host_dir
    update_config ".process.capabilities.bounding += [\"CAP_SYS_ADMIN\"]
        | .process.capabilities.effective += [\"CAP_SYS_ADMIN\"]
        | .process.capabilities.permitted += [\"CAP_SYS_ADMIN\"]
        | .mounts += [{\"destination\": \"/bidir\", \"type\": \"bind\", \"source\": \"$hostdir\",
            \"options\": [\"rbind\"]}]
        | .process.args = [\"sh\", \"-c\", \"mount -t tmpfs none /bidir/sub && touch /bidir/sub/made-inside && echo MOUNTED\"]"
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "$output" = MOUNTED ]
    [ ! -e "$hostdir/sub/made-inside" ]
    run ! findmnt -n "$hostdir/sub"
}

@test "readonlyPaths: programs under the path still run, masked files under it still read empty" {
    mkdir -p "$ROOTFS/rodir"
    cp "$ROOTFS/bin/busybox" "$ROOTFS/rodir/echo" # busybox runs the applet named like itself
    echo secret >"$ROOTFS/rodir/secret"
    update_config '.linux.readonlyPaths = ["/rodir"] | .linux.maskedPaths = ["/rodir/secret"]
        | .process.args = ["sh", "-c", "/rodir/echo RAN; cat /rodir/secret; echo END; touch /rodir/x || echo RO"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'RAN\nEND\ntouch: /rodir/x: Read-only file system\nRO')" ]
    [ "$(cat "$ROOTFS/rodir/secret")" = secret ]
    [ ! -e "$ROOTFS/rodir/x" ]
}
