#!/usr/bin/env bats
# rootless.bats - capsa run by an unprivileged user: a user namespace with the user's own id
# mapped (or ranges through newuidmap/newgidmap), no cgroups, `spec --rootless` that works.

load helpers

USERNAME=capsa-rootless

setup() {
    setup_common
    requires_cmd setpriv useradd
    if ! id "$USERNAME" >/dev/null 2>&1; then
        useradd --create-home --shell /bin/sh "$USERNAME" || skip "cannot create a test user"
    fi
    UID_=$(id -u "$USERNAME")
    GID_=$(id -g "$USERNAME")
    # useradd may have granted ranges already; otherwise grant one.
    grep -q "^$USERNAME:" /etc/subuid 2>/dev/null || echo "$USERNAME:300000:65536" >>/etc/subuid
    grep -q "^$USERNAME:" /etc/subgid 2>/dev/null || echo "$USERNAME:300000:65536" >>/etc/subgid
    SUBUID=$(awk -F: -v u="$USERNAME" '$1 == u {print $2; exit}' /etc/subuid)
    SUBGID=$(awk -F: -v u="$USERNAME" '$1 == u {print $2; exit}' /etc/subgid)
    # The user needs a bundle it owns, on a path it can walk.
    UDIR=$(mktemp -d /tmp/capsa-rootless.XXXXXX)
    chmod 0755 "$UDIR"
    defer "rm -rf '$UDIR'"
    BUNDLE=$UDIR/bundle
    ROOTFS=$BUNDLE/rootfs
    mkdir -p "$BUNDLE"
    cp -a "$ROOTFS_CACHE" "$ROOTFS"
    chown -R "$UID_:$GID_" "$UDIR"
    UROOT=$UDIR/state
    # The runtime binary must be reachable by the user (CI clones may sit in root-only dirs).
    RT=$UDIR/capsa
    cp "$(command -v "$CAPSA")" "$RT"
    chmod 0755 "$RT"
    as_user "$RT" spec --rootless --bundle "$BUNDLE"
    update_config '.process.terminal = false | .process.args = ["/bin/true"]'
    chown "$UID_:$GID_" "$BUNDLE/config.json"
}

teardown() {
    as_user "$RT" --root "$UROOT" list -q 2>/dev/null | while read -r id; do
        as_user "$RT" --root "$UROOT" delete --force "$id" >/dev/null 2>&1 || true
    done
    teardown_common
}

as_user() {
    setpriv --reuid "$UID_" --regid "$GID_" --init-groups --reset-env \
        env HOME="/home/$USERNAME" PATH=/usr/bin:/bin "$@"
}

urt() {
    as_user "$RT" --root "$UROOT" "$@"
}

@test "rootless: spec --rootless runs as root of a user namespace mapped to the user" {
    update_config '.process.args = ["sh", "-c", "id -u; cat /proc/self/uid_map; touch /tmp/made"]
        | .root.readonly = false'
    chown "$UID_:$GID_" "$BUNDLE/config.json"
    run urt run --bundle "$BUNDLE" r1
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 0 ]
    [[ "${lines[1]}" =~ ^\ *0\ +$UID_\ +1$ ]]
    # What root made inside belongs to the user outside.
    [ "$(stat -c %u "$ROOTFS/tmp/made")" = "$UID_" ]
}

@test "rootless: create, start, state, kill, delete as the user, no cgroup made" {
    update_config ".process.args = [\"sleep\", \"1000\"]"
    chown "$UID_:$GID_" "$BUNDLE/config.json"
    urt create --bundle "$BUNDLE" r2 </dev/null >/dev/null 2>&1
    run urt state r2
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .status)" = created ]
    pid=$(echo "$output" | jq -r .pid)
    urt start r2
    [ "$(urt state r2 | jq -r .status)" = running ]
    # The process runs as the user on the host.
    [ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = "$UID_" ]
    # No cgroup was made: the process stays in the cgroups of the shell that started it, and no
    # cgroup directory below them is named after the container (the default path is the id, next
    # to the caller's cgroup: below the test's own, helpers.bash).
    diff "/proc/$pid/cgroup" /proc/self/cgroup
    [ "${#TEST_CG_DIRS[@]}" -gt 0 ]
    [ -z "$(find "${TEST_CG_DIRS[@]}" -mindepth 1 -type d -name r2 -print -quit)" ]
    urt kill r2 KILL
    wait_for bash -c "[ \"\$(setpriv --reuid $UID_ --regid $GID_ --init-groups $RT --root $UROOT state r2 | jq -r .status)\" = stopped ]"
    urt delete r2
    run urt state r2
    [ "$status" -ne 0 ]
}

@test "rootless: id ranges through newuidmap/newgidmap" {
    requires_cmd newuidmap newgidmap
    update_config ".linux.uidMappings = [{\"containerID\": 0, \"hostID\": $UID_, \"size\": 1},
                                        {\"containerID\": 1, \"hostID\": $SUBUID, \"size\": 65536}]
        | .linux.gidMappings = [{\"containerID\": 0, \"hostID\": $GID_, \"size\": 1},
                                {\"containerID\": 1, \"hostID\": $SUBGID, \"size\": 65536}]
        | .root.readonly = false
        | .process.user = {\"uid\": 1, \"gid\": 1}
        | .process.args = [\"sh\", \"-c\", \"cat /proc/self/uid_map; touch /tmp/byuser1\"]"
    chown "$UID_:$GID_" "$BUNDLE/config.json"
    run urt run --bundle "$BUNDLE" r3
    [ "$status" -eq 0 ]
    [[ "$output" == *"$SUBUID"* ]]
    [ "$(stat -c %u:%g "$ROOTFS/tmp/byuser1")" = "$SUBUID:$SUBGID" ]
}

@test "rootless: a range the user was not granted fails clearly and leaves nothing" {
    requires_cmd newuidmap
    update_config ".linux.uidMappings = [{\"containerID\": 0, \"hostID\": 0, \"size\": 1}]"
    chown "$UID_:$GID_" "$BUNDLE/config.json"
    run urt run --bundle "$BUNDLE" r4
    [ "$status" -ne 0 ]
    [[ "$output" == *uidMappings* ]]
    # A failing list would print nothing too: its status first.
    run urt list -q
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "rootless: another user's state directory is refused" {
    d=$(mktemp -d /tmp/capsa-foreign.XXXXXX)
    defer "rm -rf '$d'"
    chmod 0777 "$d"
    chown nobody "$d"
    run as_user "$RT" --root "$d" run --bundle "$BUNDLE" r5
    [ "$status" -ne 0 ]
    [[ "$output" == *"owned by uid"* ]]
}
