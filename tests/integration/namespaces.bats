#!/usr/bin/env bats
# namespaces.bats - new vs host namespaces (compared from the host), joining by path, user
# namespace mappings, hostname/domainname, time namespace offsets.

load helpers

setup() {
    setup_common
    setup_bundle
}

ns_of() { readlink "/proc/$1/ns/$2"; }

@test "each configured namespace is new, the others are the host's" {
    update_config '.linux.namespaces = [{"type":"pid"},{"type":"mount"},{"type":"ipc"},
        {"type":"uts"},{"type":"network"},{"type":"cgroup"}]'
    run_bg_container c1 "sleep 1000; : $MARK"
    for ns in pid mnt ipc uts net cgroup; do
        [ "$(ns_of "$PID" $ns)" != "$(ns_of self $ns)" ] || fail_now "$ns not new"
    done
    [ "$(ns_of "$PID" user)" = "$(ns_of self user)" ]
}

@test "namespaces left out of the config are shared with the host" {
    update_config 'del(.hostname) | .linux.namespaces = [{"type":"mount"}]'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(ns_of "$PID" mnt)" != "$(ns_of self mnt)" ]
    for ns in pid ipc uts net cgroup user; do
        [ "$(ns_of "$PID" $ns)" = "$(ns_of self $ns)" ] || fail_now "$ns not shared"
    done
}

@test "join a network namespace by path (ip netns)" {
    requires_cmd ip
    local nsname=capsa-test-$$-$RANDOM
    ip netns add "$nsname"
    defer "ip netns delete $nsname"
    update_config ".linux.namespaces |= map(select(.type != \"network\"))
        | .linux.namespaces += [{\"type\": \"network\", \"path\": \"/run/netns/$nsname\"}]"
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(ns_of "$PID" net)" = "$(stat -L -c 'net:[%i]' "/run/netns/$nsname")" ]
}

@test "join the uts namespace of another process by path" {
    unshare --uts sh -c "hostname joined-$$; exec sleep 1000 # $MARK" &
    local upid=$!
    defer "kill -KILL $upid 2>/dev/null"
    wait_for eval '[ "$(ns_of '$upid' uts)" != "$(ns_of self uts)" ]'
    update_config "del(.hostname) | .linux.namespaces |= map(select(.type != \"uts\"))
        | .linux.namespaces += [{\"type\": \"uts\", \"path\": \"/proc/$upid/ns/uts\"}]"
    run_bg_container c1 "hostname > /dev/null; sleep 1000; : $MARK"
    [ "$(ns_of "$PID" uts)" = "$(ns_of "$upid" uts)" ]
    [ "$(nsenter -u -t "$PID" hostname)" = "joined-$$" ]
}

@test "user namespace with uid and gid mappings" {
    update_config '.linux.namespaces += [{"type":"user"}]
        | .linux.uidMappings = [{"containerID":0,"hostID":100000,"size":65536}]
        | .linux.gidMappings = [{"containerID":0,"hostID":200000,"size":65536}]'
    # The mapped root must be able to reach the rootfs.
    chown -R 100000:200000 "$ROOTFS"
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(ns_of "$PID" user)" != "$(ns_of self user)" ]
    read -r a b c <"/proc/$PID/uid_map"
    [ "$a $b $c" = "0 100000 65536" ]
    read -r a b c <"/proc/$PID/gid_map"
    [ "$a $b $c" = "0 200000 65536" ]
    # From the host the process runs as the mapped ids.
    grep -E '^Uid:[[:space:]]+100000[[:space:]]' "/proc/$PID/status"
    grep -E '^Gid:[[:space:]]+200000[[:space:]]' "/proc/$PID/status"
}

@test "hostname and domainname are set in the new uts namespace" {
    update_config '.hostname = "box-one" | .domainname = "example.test"'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(nsenter -u -t "$PID" hostname)" = box-one ]
    [ "$(nsenter -u -t "$PID" cat /proc/sys/kernel/domainname)" = example.test ]
    # The host's names are untouched.
    [ "$(hostname)" != box-one ]
}

@test "hostname is visible from inside" {
    update_config '.hostname = "inside-name" | .process.args = ["hostname"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "$output" = inside-name ]
}

# capsa-specific: crun 1.8 fails to set the offsets and runc 1.1 has no time namespace.
@test "time namespace applies the boottime offset" {
    requires_capsa
    [ -e /proc/self/ns/time ] || skip "no time namespace support"
    update_config '.linux.namespaces += [{"type":"time"}]
        | .linux.timeOffsets = {"boottime": {"secs": 864000, "nanosecs": 0}}
        | .process.args = ["cat", "/proc/uptime"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    inside=${output%%.*}
    read -r host _ </proc/uptime
    host=${host%%.*}
    # Ten days ahead of the host (the host uptime is read after, so it can only be larger).
    [ "$inside" -ge 864000 ]
    [ $((inside - host)) -ge 863000 ]
    [ $((inside - host)) -le 864000 ]
}

# capsa-specific: crun 1.8 fails to set the offsets and runc 1.1 has no time namespace.
@test "time namespace applies the monotonic offset (timens_offsets read from the host)" {
    requires_capsa
    [ -e /proc/self/ns/time ] || skip "no time namespace support"
    update_config '.linux.namespaces += [{"type":"time"}]
        | .linux.timeOffsets = {"monotonic": {"secs": 7200, "nanosecs": 5000},
                                "boottime": {"secs": 60, "nanosecs": 0}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(readlink "/proc/$PID/ns/time")" != "$(readlink /proc/self/ns/time)" ]
    grep -Eq '^monotonic +7200 +5000$' "/proc/$PID/timens_offsets"
    grep -Eq '^boottime +60 +0$' "/proc/$PID/timens_offsets"
    # The host's own offsets stay zero.
    grep -Eq '^monotonic +0 +0$' /proc/self/timens_offsets
}

@test "--no-pivot: the process is chrooted into the rootfs and sees no host file" {
    host_marker=$BATS_TEST_TMPDIR/host-marker-$MARK
    touch "$host_marker"
    echo inside >"$ROOTFS/rootfs-marker"
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    ctr_create c1 --no-pivot
    capsa start c1
    PID=$(container_pid c1)
    # The process's root is the rootfs directory itself.
    [ "$(stat -c %d:%i "/proc/$PID/root/rootfs-marker")" = "$(stat -c %d:%i "$ROOTFS/rootfs-marker")" ]
    [ "$(stat -c %i "/proc/$PID/root/")" = "$(stat -c %i "$ROOTFS/")" ]
    run capsa exec c1 sh -c "cat /rootfs-marker; ls $host_marker; cd /../../..; ls"
    [ "$status" -eq 0 ]
    [[ "$output" == *inside* ]]
    [[ "$output" == *"No such file"* ]]
    [[ "$output" == *rootfs-marker* ]]
    # The host's mount table was not touched: no mount of the container shows at the rootfs.
    run -1 mounts_under "$ROOTFS"
}
