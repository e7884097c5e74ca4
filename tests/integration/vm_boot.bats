#!/usr/bin/env bats
# vm_boot.bats - the vm level's host side (src/lib/level/vm/: kernel choice, initramfs, the QEMU
# microvm backend), driven without the CLI by build/tests/vmboot with build/helpers/vmping as the
# guest's /init. One boot for the whole file (setup_file, under TCG here: the machine has no
# /dev/kvm): while the guest waits for the host, the test looks at the running QEMU and virtiofsd
# from outside (/proc/PID/status, mountinfo, root, namespaces); then the guest writes into the
# share and powers off. The tests check what the guest reported over the agent channel, the file
# it wrote, the jail, the teardown, and the refusal to boot without KVM unless TCG is allowed.
# capsa-specific.

load helpers

VMBOOT=$REPO/build/tests/vmboot
VMPING=$REPO/build/helpers/vmping

# The reason the file cannot run here, or nothing.
vm_missing() {
    [ "$(id -u)" = 0 ] || { echo "needs root"; return; }
    if [ ! -x "$VMBOOT" ] || [ ! -x "$VMPING" ]; then
        echo "needs $VMBOOT and $VMPING (make)"
        return
    fi
    [ -x /usr/bin/qemu-system-x86_64 ] || { echo "needs qemu-system-x86"; return; }
    [ -x /usr/lib/qemu/virtiofsd ] || { echo "needs virtiofsd (qemu-system-common)"; return; }
    compgen -G '/boot/vmlinuz-*-cloud-amd64' >/dev/null || echo "needs linux-image-cloud-amd64"
}

setup_file() {
    local why d=$BATS_FILE_TMPDIR
    why=$(vm_missing)
    [ -z "$why" ] || return 0
    mkdir -p "$d/share" "$d/state" "$d/cache"
    chmod 0700 "$d/state"
    echo "hello-$RANDOM$RANDOM" >"$d/share/hello.txt"
    # A host file outside the share, and the guest's ways towards it: a symlink to / and "..".
    echo "host-secret-$RANDOM$RANDOM" >"$d/secret"
    echo "$d/secret" >"$d/share/probe.txt"
    ln -s / "$d/share/up"
    mkfifo "$d/hold"
    "$VMBOOT" --allow-tcg --cache "$d/cache" --hold "$d/hold" "$VMPING" "$d/share" "$d/state" \
        >"$d/out" 2>"$d/err" &
    echo $! >"$d/driver.pid"
    # Until the guest has spoken (or the driver gave up); wait_for's bound only turns a hang
    # into a failure.
    wait_for eval "grep -q '^guest: ' '$d/out' || ! kill -0 $! 2>/dev/null" || true
    local qemu fsd
    qemu=$(sed -n 's/^vmm-pid //p' "$d/out")
    fsd=$(sed -n 's/^fsd-pid //p' "$d/out")
    if [ -n "$qemu" ] && [ -n "$fsd" ]; then
        # The running VMM and daemon, seen from the host.
        cat "/proc/$qemu/status" >"$d/qemu.status" 2>/dev/null || true
        cat "/proc/$qemu/mountinfo" >"$d/qemu.mountinfo" 2>/dev/null || true
        ls -A "/proc/$qemu/root/" >"$d/qemu.root" 2>/dev/null || true
        ls -A "/proc/$qemu/root/etc/" >"$d/qemu.etc" 2>/dev/null || true
        local f
        for f in "/proc/$qemu/fd/"*; do readlink "$f"; done >"$d/qemu.fds" 2>/dev/null || true
        local ns
        for ns in mnt pid net ipc uts cgroup; do
            echo "$ns $(readlink "/proc/$qemu/ns/$ns") $(readlink "/proc/self/ns/$ns")"
        done >"$d/qemu.ns" 2>/dev/null || true
        ls -A "$d/state" >"$d/state.running"
    fi
    # Let the guest finish (the fifo opens once the driver reads it), then wait for the driver.
    echo go >"$d/hold" &
    local rc=0
    wait "$(cat "$d/driver.pid")" || rc=$?
    echo "$rc" >"$d/driver.rc"
}

teardown_file() {
    local p
    p=$(cat "$BATS_FILE_TMPDIR/driver.pid" 2>/dev/null) || return 0
    kill -KILL "$p" 2>/dev/null || true
}

setup() {
    local why
    why=$(vm_missing)
    [ -z "$why" ] || skip "$why"
    D=$BATS_FILE_TMPDIR
    [ -s "$D/out" ] || fail_now "the driver printed nothing; stderr: $(cat "$D/err")"
}

guest_line() {
    sed -n 's/^guest: //p' "$D/out"
}

# field NAME: NAME=VALUE from the guest's line.
field() {
    guest_line | tr ' ' '\n' | sed -n "s/^$1=//p"
}

@test "vm: the guest's line arrives over the agent channel, from a kernel that is not the host's" {
    guest_line | grep -q '^VMPING ' || fail_now "no line from the guest: $(cat "$D/out" "$D/err")"
    local rel
    rel=$(field release)
    [ -n "$rel" ]
    [ "$rel" != "$(uname -r)" ]
    # The kernel the driver chose (the newest /boot cloud kernel) is the one that ran.
    grep -q "^kernel /boot/vmlinuz-$rel $rel\$" "$D/out"
    # It read the share: the file the host put there.
    [ "$(field hello)" = "$(cat "$D/share/hello.txt")" ]
}

@test "vm: a file written in the guest appears in the host's shared directory" {
    [ "$(cat "$D/share/from-guest.txt")" = "written in the guest" ]
}

@test "vm: a symlink to / and a .. path in the share do not reach host files" {
    # The host file exists and the guest knew its path.
    [ -s "$D/secret" ]
    [ "$(cat "$D/share/probe.txt")" = "$D/secret" ]
    [ "$(readlink "$D/share/up")" = / ]
    local up dotdot
    up=$(field up)
    dotdot=$(field dotdot)
    [ -n "$up" ]
    [ -n "$dotdot" ]
    [ "$up" != "$(cat "$D/secret")" ]
    [ "$dotdot" != "$(cat "$D/secret")" ]
    [[ "$up" == error:* ]]
    [[ "$dotdot" == error:* ]]
}

@test "vm: QEMU runs with no capability, no_new_privs and a seccomp filter" {
    [ -s "$D/qemu.status" ] || fail_now "QEMU's status was not captured"
    grep -Eq '^CapEff:[[:space:]]+0000000000000000$' "$D/qemu.status"
    grep -Eq '^CapPrm:[[:space:]]+0000000000000000$' "$D/qemu.status"
    grep -Eq '^CapBnd:[[:space:]]+0000000000000000$' "$D/qemu.status"
    grep -Eq '^CapAmb:[[:space:]]+0000000000000000$' "$D/qemu.status"
    grep -Eq '^NoNewPrivs:[[:space:]]+1$' "$D/qemu.status"
    # 2: a seccomp filter (QEMU's -sandbox).
    grep -Eq '^Seccomp:[[:space:]]+2$' "$D/qemu.status"
}

@test "vm: QEMU sees only its jail: own namespaces, a root of /usr, the images and a few devices" {
    [ -s "$D/qemu.ns" ] || fail_now "QEMU's namespaces were not captured"
    local ns mine host
    while read -r ns mine host; do
        [ "$mine" != "$host" ] || fail_now "QEMU shares the host's $ns namespace"
    done <"$D/qemu.ns"
    # Its root holds nothing but these (lib, lib64, bin, sbin are the host's /usr symlinks).
    local e
    while read -r e; do
        case "$e" in
        dev | etc | usr | vm | lib | lib64 | bin | sbin) ;;
        *) fail_now "unexpected entry in QEMU's root: $e" ;;
        esac
    done <"$D/qemu.root"
    grep -qx vm "$D/qemu.root"
    grep -qx usr "$D/qemu.root"
    [ "$(cat "$D/qemu.etc")" = ld.so.cache ]
    # No host directory but /usr is mounted there: not the share, not the state directory.
    run ! grep -Eq " ($D/share|$D/state)" "$D/qemu.mountinfo"
    # Everything but / and /usr is a single file (the images and device nodes), read-only
    # where it is not a device.
    local mp opts n=0
    while read -r mp opts; do
        n=$((n + 1))
        case "$mp" in
        / | /usr | /vm/kernel | /vm/initrd | /etc/ld.so.cache)
            [[ ",$opts," == *,ro,* ]] || fail_now "$mp is not read-only in QEMU's jail: $opts"
            ;;
        /dev/null | /dev/urandom | /dev/kvm) ;;
        *) fail_now "unexpected mount in QEMU's jail: $mp" ;;
        esac
    done < <(awk '{ print $5, $6 }' "$D/qemu.mountinfo")
    [ "$n" -ge 5 ]
    # Its fds: /dev/null, the console log, sockets (QMP, agent, virtiofsd) and what QEMU made
    # itself (eventfds, the guest RAM memfd): no other host file.
    [ -s "$D/qemu.fds" ]
    local l
    while read -r l; do
        case "$l" in
        /dev/null | "$D/state/console.log" | socket:* | anon_inode:* | /memfd:*) ;;
        *) fail_now "QEMU holds an unexpected fd: $l" ;;
        esac
    done <"$D/qemu.fds"
}

@test "vm: after power-off QEMU and virtiofsd are gone and the state directory is empty" {
    [ "$(cat "$D/driver.rc")" = 0 ] || fail_now "driver failed: $(cat "$D/err")"
    grep -qx 'vmm-status 0' "$D/out"
    local qemu fsd
    qemu=$(sed -n 's/^vmm-pid //p' "$D/out")
    fsd=$(sed -n 's/^fsd-pid //p' "$D/out")
    pid_gone "$qemu"
    pid_gone "$fsd"
    # While it ran, the state directory held the agent and QMP sockets and the console log (the
    # virtiofsd socket path was removed once QEMU was connected); now nothing.
    [ "$(sort "$D/state.running" | tr '\n' ' ')" = "agent.sock console.log qmp.sock " ]
    [ -z "$(ls -A "$D/state")" ]
}

@test "vm: without KVM the boot is refused unless TCG is allowed; the initramfs is reused" {
    if kvm_usable; then skip "this host has a usable KVM"; fi
    # The boot of setup_file built the initramfs into the fresh cache.
    grep -q 'rebuilt=1$' "$D/out"
    mkdir -p "$D/state2"
    run "$VMBOOT" --cache "$D/cache" "$VMPING" "$D/share" "$D/state2"
    [ "$status" -eq 1 ]
    [[ "$output" == *"needs KVM"* ]]
    [[ "$output" == *"/dev/kvm"* ]]
    [[ "$output" == *"--allow-tcg"* ]]
    # Nothing was started or left.
    [[ "$output" != *vmm-pid* ]]
    [ -z "$(ls -A "$D/state2")" ]
    # The second use found the image in the cache.
    [[ "$output" == *"rebuilt=0"* ]]
}

@test "vm: a VMM that fails to start leaves no process and no file behind" {
    [ -d "/lib/modules/$(field release)" ] || skip "no module tree for $(field release)"
    # A "kernel" named like the real one (so its modules resolve) that QEMU cannot load.
    mkdir -p "$D/badk" "$D/state3" "$D/share3"
    head -c 4096 /dev/zero >"$D/badk/vmlinuz-$(field release)"
    run "$VMBOOT" --allow-tcg --kernel "$D/badk/vmlinuz-$(field release)" --cache "$D/cache" \
        "$VMPING" "$D/share3" "$D/state3"
    [ "$status" -eq 1 ]
    [[ "$output" == *"QEMU did not come up"* ]]
    [[ "$output" != *vmm-pid* ]]
    # virtiofsd had started (it serves share3): it is gone, and so are the sockets and the log.
    run ! pgrep -f "source=$D/share3,"
    [ -z "$(ls -A "$D/state3")" ]
}
