#!/usr/bin/env bats
# mounts.bats - mounts seen from the host in /proc/<pid>/mountinfo, read-only binds, symlink
# escapes, masked/readonly paths, devices, sysctl, rootfs propagation.

load helpers

setup() {
    setup_common
    setup_bundle
}

# mountinfo line of the container's mount at DEST (as seen by the container's process).
mnt_line() {
    awk -v d="$2" '$5 == d' "/proc/$1/mountinfo" | tail -n1
}

# Options of that mount: per-mount options (field 6) and super options (last field).
mnt_opts() {
    local l
    l=$(mnt_line "$1" "$2")
    [ -n "$l" ] || return 1
    echo "$(awk '{ print $6 }' <<<"$l"),$(awk '{ print $NF }' <<<"$l")"
}

has_opt() { [[ ",$1," == *",$2,"* ]]; }

@test "proc and tmpfs mounts with nosuid,nodev,noexec" {
    update_config '.mounts += [{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=710"]}]'
    run_bg_container c1 "sleep 1000; : $MARK"
    o=$(mnt_opts "$PID" /proc)
    [ "$(awk '$5 == "/proc" { print $9 }' "/proc/$PID/mountinfo" | tail -n1)" = proc ]
    o=$(mnt_opts "$PID" /scratch)
    has_opt "$o" nosuid
    has_opt "$o" nodev
    has_opt "$o" noexec
    has_opt "$o" size=1024k
    has_opt "$o" mode=710
    [ "$(stat -c %a "/proc/$PID/root/scratch")" = 710 ]
}

@test "read-only bind mount: writes fail inside, host file unchanged" {
    host=$(mktemp -d "$BATS_TEST_TMPDIR/ro.XXXXXX")
    echo original >"$host/f"
    update_config ".mounts += [{\"destination\": \"/ro\", \"type\": \"bind\", \"source\": \"$host\",
        \"options\": [\"bind\", \"ro\"]}]
        | .process.args = [\"sh\", \"-c\", \"echo changed > /ro/f && echo WROTE\"]"
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" != *WROTE* ]]
    [ "$(cat "$host/f")" = original ]
}

@test "read-only bind mount shows ro in mountinfo" {
    host=$(mktemp -d "$BATS_TEST_TMPDIR/ro.XXXXXX")
    update_config ".mounts += [{\"destination\": \"/ro\", \"type\": \"bind\", \"source\": \"$host\",
        \"options\": [\"rbind\", \"ro\", \"nosuid\"]}]"
    run_bg_container c1 "sleep 1000; : $MARK"
    o=$(mnt_opts "$PID" /ro)
    [[ "$o" == ro,* ]]
    has_opt "$o" nosuid
}

# capsa-specific: rro (recursive read-only, mount_setattr) is not supported by crun 1.8/runc 1.1.
@test "rro makes submounts read-only" {
    requires_capsa
    host=$(mktemp -d "$BATS_TEST_TMPDIR/rro.XXXXXX")
    mkdir "$host/sub"
    mount -t tmpfs tmpfs "$host/sub"
    defer "umount -l '$host/sub'"
    update_config ".mounts += [{\"destination\": \"/rro\", \"type\": \"bind\", \"source\": \"$host\",
        \"options\": [\"rbind\", \"rro\"]}]
        | .process.args = [\"sh\", \"-c\", \"touch /rro/sub/x && echo WROTE\"]"
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" != *WROTE* ]]
    [ ! -e "$host/sub/x" ]
}

@test "mount destination through an absolute symlink stays inside the rootfs" {
    hostdir=$(mktemp -d "$BATS_TEST_TMPDIR/hostdir.XXXXXX")
    ln -s "$hostdir" "$ROOTFS/evil"
    update_config '.mounts += [{"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"}]
        | .process.args = ["sh", "-c", "touch /evil/x/marker"]'
    capsa run --bundle "$BUNDLE" c1 || true
    # Whether the runtime refused or resolved inside the rootfs, the host dir is untouched.
    [ -z "$(ls -A "$hostdir")" ]
    run -1 mounts_under "$hostdir"
}

@test "mount destination through a ../ symlink stays inside the rootfs" {
    hostdir=$(mktemp -d "$BATS_TEST_TMPDIR/hostdir.XXXXXX")
    # Enough ../ to reach / from the rootfs, then down to the host dir.
    ln -s "../../../../../../../../../../../..$hostdir" "$ROOTFS/evil"
    update_config '.mounts += [{"destination": "/evil/y", "type": "tmpfs", "source": "tmpfs"}]
        | .process.args = ["sh", "-c", "touch /evil/y/marker"]'
    capsa run --bundle "$BUNDLE" c1 || true
    [ -z "$(ls -A "$hostdir")" ]
    run -1 mounts_under "$hostdir"
}

@test "missing mount destinations are created inside the rootfs" {
    update_config '.mounts += [{"destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs"}]'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ -d "$ROOTFS/a/b/c" ]
    [ -n "$(mnt_line "$PID" /a/b/c)" ]
}

@test "root.readonly makes / read-only" {
    update_config '.root.readonly = true
        | .process.args = ["sh", "-c", "touch /newfile && echo WROTE"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" != *WROTE* ]]
    [ ! -e "$ROOTFS/newfile" ]
}

@test "maskedPaths: a masked file reads empty and a masked dir is empty" {
    mkdir -p "$ROOTFS/secretdir"
    echo secret >"$ROOTFS/secretdir/s"
    echo secret >"$ROOTFS/secretfile"
    update_config '.linux.maskedPaths = ["/secretfile", "/secretdir"]
        | .process.args = ["sh", "-c", "cat /secretfile; ls -A /secretdir; echo END"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "$output" = END ]
    # The rootfs itself is not modified.
    [ "$(cat "$ROOTFS/secretfile")" = secret ]
}

@test "readonlyPaths: writes fail" {
    mkdir -p "$ROOTFS/rodir"
    update_config '.linux.readonlyPaths = ["/rodir"]
        | .process.args = ["sh", "-c", "touch /rodir/x && echo WROTE"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" != *WROTE* ]]
    [ ! -e "$ROOTFS/rodir/x" ]
}

@test "linux.devices are created with major, minor, mode and owner" {
    update_config '.linux.devices = [{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3,
        "fileMode": 432, "uid": 1000, "gid": 1000}]'
    run_bg_container c1 "sleep 1000; : $MARK"
    # 432 = 0660; /dev/null's numbers.
    [ "$(stat -c '%F %t:%T %a %u:%g' "/proc/$PID/root/dev/mydev")" = "character special file 1:3 660 1000:1000" ]
}

@test "default devices and /dev links exist" {
    run_bg_container c1 "sleep 1000; : $MARK"
    r=/proc/$PID/root/dev
    for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
        n=${d%%:*}
        mm=${d#*:}
        [ -c "$r/$n" ] || fail_now "/dev/$n missing"
        [ "$(stat -c '%t:%T' "$r/$n")" = "$(printf '%x:%x' "${mm%%:*}" "${mm#*:}")" ] ||
            fail_now "/dev/$n has wrong numbers"
    done
    [ "$(readlink "$r/fd")" = /proc/self/fd ]
    [ "$(readlink "$r/stdin")" = /proc/self/fd/0 ]
    [ "$(readlink "$r/stdout")" = /proc/self/fd/1 ]
    [ "$(readlink "$r/stderr")" = /proc/self/fd/2 ]
    [ -d "$r/pts" ]
    [ -d "$r/shm" ]
}

@test "sysctl in a new network namespace is visible inside" {
    update_config '.linux.sysctl = {"net.ipv4.ip_forward": "1"}
        | .process.args = ["cat", "/proc/sys/net/ipv4/ip_forward"]'
    host_before=$(cat /proc/sys/net/ipv4/ip_forward)
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "$output" = 1 ]
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_before" ]
}

@test "a sysctl that is not namespaced is rejected" {
    before=$(cat /proc/sys/vm/overcommit_memory)
    update_config ".linux.sysctl = {\"vm.overcommit_memory\": \"$(((before + 1) % 2))\"}"
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [ "$(cat /proc/sys/vm/overcommit_memory)" = "$before" ]
    assert_nothing_left c1
}

# A shared host dir bound into the container; then the host mounts a tmpfs below it. Whether that
# mount shows up inside depends on rootfsPropagation. Sets PROP to "seen" or "unseen".
propagation_probe() {
    shared_host_dir
    update_config ".linux.rootfsPropagation = \"$1\"
        | .mounts += [{\"destination\": \"/prop\", \"type\": \"bind\", \"source\": \"$hostdir\",
            \"options\": [\"rbind\"]}]"
    run_bg_container c1 "sleep 1000; : $MARK"
    mount -t tmpfs tmpfs "$hostdir/sub"
    # Propagation is done when mount(2) returns: the container's table is final now, no wait.
    if [ -n "$(mnt_line "$PID" /prop/sub)" ]; then
        PROP=seen
    else
        PROP=unseen
    fi
}

@test "rootfsPropagation rslave: host mounts under a shared bind appear in the container" {
    propagation_probe rslave
    [ "$PROP" = seen ]
}

# capsa-specific: crun 1.8 sets the propagation of / before the bind mounts, so a bind of a shared
# source joins the host's peer group anyway.
@test "rootfsPropagation private: host mounts do not appear in the container" {
    requires_capsa
    propagation_probe private
    [ "$PROP" = unseen ]
}

@test "every mount option features advertises is accepted by the parser" {
    # An option the parser does not know is passed to the filesystem as data, which tmpfs refuses
    # ("Unknown parameter"), and is silently dropped on a bind: one container with one mount per
    # advertised option catches both.
    host=$(mktemp -d "$BATS_TEST_TMPDIR/opts.XXXXXX")
    mapfile -t opts < <("$CAPSA" features | jq -r '.mountOptions[]')
    [ "${#opts[@]}" -gt 10 ]
    m='[]'
    i=0
    for o in "${opts[@]}"; do
        i=$((i + 1))
        case $o in
        bind | rbind)
            m=$(jq --arg o "$o" --arg s "$host" --arg d "/o/$i" \
                '. + [{destination: $d, type: "bind", source: $s, options: [$o]}]' <<<"$m") ;;
        remount)
            # A remount needs a mount to change: the tmpfs made just before.
            m=$(jq --arg d "/o/$i" '. + [{destination: $d, type: "tmpfs", source: "tmpfs"},
                {destination: $d, type: "tmpfs", source: "tmpfs", options: ["remount", "ro"]}]' \
                <<<"$m") ;;
        *)
            m=$(jq --arg o "$o" --arg d "/o/$i" \
                '. + [{destination: $d, type: "tmpfs", source: "tmpfs", options: [$o]}]' <<<"$m") ;;
        esac
    done
    update_config ".mounts += $m"
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(awk '$5 ~ "^/o/" { n++ } END { print n }' "/proc/$PID/mountinfo")" -ge "$i" ]
}

@test "nosymfollow on a bind and a tmpfs: in mountinfo, symlinks under it unfollowable" {
    host=$(mktemp -d "$BATS_TEST_TMPDIR/sym.XXXXXX")
    echo target >"$host/file"
    ln -s file "$host/link"
    update_config ".mounts += [{\"destination\": \"/nsf\", \"type\": \"bind\", \"source\": \"$host\",
        \"options\": [\"rbind\", \"nosymfollow\"]},
        {\"destination\": \"/tnsf\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",
         \"options\": [\"nosymfollow\", \"defaults\"]},
        {\"destination\": \"/sf\", \"type\": \"bind\", \"source\": \"$host\",
         \"options\": [\"rbind\", \"nosymfollow\", \"symfollow\"]}]"
    run_bg_container c1 "sleep 1000; : $MARK"
    # mnt_opts fails when the mount is missing: an empty option list proves nothing.
    o=$(mnt_opts "$PID" /nsf)
    has_opt "$o" nosymfollow
    o=$(mnt_opts "$PID" /tnsf)
    has_opt "$o" nosymfollow
    o=$(mnt_opts "$PID" /sf)
    run -1 has_opt "$o" nosymfollow
    # From the host through the container's root: the lookup crosses the container's mount.
    [ "$(cat "/proc/$PID/root/sf/link")" = target ]
    # The errno by name (the helper prints it), not the host libc's localised message.
    run "$REPO/build/helpers/probe" read "/proc/$PID/root/nsf/link"
    [ "$status" -eq 0 ]
    [ "$output" = ELOOP ]
    # readlink still works: only following is refused.
    [ "$(readlink "/proc/$PID/root/nsf/link")" = file ]
    run capsa exec c1 probe read /nsf/link
    [ "$status" -eq 0 ]
    [ "$output" = ELOOP ]
}

@test "rnosymfollow applies to submounts, rsymfollow clears it" {
    host=$(mktemp -d "$BATS_TEST_TMPDIR/rsym.XXXXXX")
    mkdir "$host/sub"
    mount -t tmpfs tmpfs "$host/sub"
    defer "umount -l '$host/sub'"
    echo target >"$host/sub/file"
    ln -s file "$host/sub/link"
    update_config ".mounts += [{\"destination\": \"/r\", \"type\": \"bind\", \"source\": \"$host\",
        \"options\": [\"rbind\", \"rnosymfollow\"]},
        {\"destination\": \"/rc\", \"type\": \"bind\", \"source\": \"$host\",
         \"options\": [\"rbind\", \"rnosymfollow\", \"rsymfollow\"]}]"
    run_bg_container c1 "sleep 1000; : $MARK"
    o=$(mnt_opts "$PID" /r/sub)
    has_opt "$o" nosymfollow
    o=$(mnt_opts "$PID" /rc/sub)
    run -1 has_opt "$o" nosymfollow
    run "$REPO/build/helpers/probe" read "/proc/$PID/root/r/sub/link"
    [ "$status" -eq 0 ]
    [ "$output" = ELOOP ]
    [ "$(cat "/proc/$PID/root/rc/sub/link")" = target ]
}

@test "atime options per mount show in mountinfo" {
    update_config '.mounts += [
        {"destination": "/a1", "type": "tmpfs", "source": "tmpfs", "options": ["noatime"]},
        {"destination": "/a2", "type": "tmpfs", "source": "tmpfs", "options": ["nodiratime"]},
        {"destination": "/a3", "type": "tmpfs", "source": "tmpfs", "options": ["strictatime"]},
        {"destination": "/a4", "type": "tmpfs", "source": "tmpfs", "options": ["relatime"]}]'
    run_bg_container c1 "sleep 1000; : $MARK"
    o=$(mnt_opts "$PID" /a1)
    has_opt "$o" noatime
    run -1 has_opt "$o" relatime
    o=$(mnt_opts "$PID" /a2)
    has_opt "$o" nodiratime
    # strictatime shows as the absence of both noatime and relatime.
    o=$(mnt_opts "$PID" /a3)
    run -1 has_opt "$o" relatime
    run -1 has_opt "$o" noatime
    o=$(mnt_opts "$PID" /a4)
    has_opt "$o" relatime
}

@test "tmpfs uid, gid, nr_inodes, size and mode show in mountinfo" {
    update_config '.mounts += [{"destination": "/t", "type": "tmpfs", "source": "tmpfs",
        "options": ["uid=1234", "gid=2345", "nr_inodes=4321", "size=2m", "mode=1750"]}]'
    run_bg_container c1 "sleep 1000; : $MARK"
    o=$(mnt_opts "$PID" /t)
    has_opt "$o" uid=1234
    has_opt "$o" gid=2345
    has_opt "$o" nr_inodes=4321
    has_opt "$o" size=2048k
    has_opt "$o" mode=1750
    [ "$(stat -c '%u %g %a' "/proc/$PID/root/t")" = "1234 2345 1750" ]
}
