#!/usr/bin/env bats
# vm_level.bats - the vm isolation level through the CLI: capsa.isolation=vm (or --isolation vm)
# runs the container's workload in a QEMU microvm whose guest agent builds the container inside
# it. Under TCG here (--allow-tcg, or allow_tcg = true in $CAPSA_CONFIG): the machine has no
# /dev/kvm. Each boot takes seconds, so the file boots two VMs: one `run`, one
# create/start/kill/delete. Effects are checked from the host: the output relayed from the
# guest, a file the guest wrote in the shared rootfs, the QEMU and virtiofsd processes in the
# container's cgroup, and nothing left after delete. capsa-specific.

load helpers

# The reason the file cannot run here, or nothing.
vm_missing() {
    [ -x /usr/bin/qemu-system-x86_64 ] || { echo "needs qemu-system-x86"; return; }
    [ -x /usr/lib/qemu/virtiofsd ] || { echo "needs virtiofsd (qemu-system-common)"; return; }
    [ -x "$REPO/build/capsa-agent" ] || { echo "needs $REPO/build/capsa-agent (make)"; return; }
    compgen -G '/boot/vmlinuz-*-cloud-amd64' >/dev/null || { echo "needs linux-image-cloud-amd64"; return; }
    # The sanitizer build re-executes itself through its protected copy, so it cannot find
    # capsa-agent next to the path it was started as; the release pass covers the level.
    if readelf -d "$CAPSA" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
        echo "the ASan build of capsa cannot find capsa-agent next to itself (covered by the release pass)"
    fi
}

setup() {
    setup_common
    local why
    why=$(vm_missing)
    [ -z "$why" ] || skip "$why"
    cg_setup vmlevel
    # The guest writes into its rootfs.
    update_config '.root.readonly = false'
    CID=vml$$r$RANDOM
}

teardown() {
    cg_teardown
}

# The processes of this test's VMs: QEMU and virtiofsd carry the state directory in their
# arguments (a zombie has none: it is gone).
vm_procs() {
    pgrep -f "$CAPSA_ROOT/" || true
}

no_vm_procs() {
    [ -z "$(vm_procs)" ]
}

@test "vm level: run prints the guest's output, under the guest's kernel, exits with its status, writes the shared rootfs" {
    update_config '.annotations["capsa.isolation"] = "vm"'
    update_config '.process.args = ["sh", "-c", "echo hi; uname -r; echo from-guest >/guest.txt; exit 3"]'
    run capsa --allow-tcg run --bundle "$BUNDLE" "$CID" </dev/null
    [ "$status" -eq 3 ] || fail_now "status $status: $output"
    [ "${lines[0]}" = hi ] || fail_now "no hi first: $output"
    # The guest's kernel, not the host's.
    [ -n "${lines[1]}" ] || fail_now "no uname -r line: $output"
    [ "${lines[1]}" != "$(uname -r)" ] || fail_now "uname -r is the host's: $output"
    # The file the guest wrote is in the host's rootfs (the virtio-fs share).
    [ "$(cat "$ROOTFS/guest.txt")" = from-guest ]
    # run deleted the container: no VMM, no virtiofsd, no state, no cgroup.
    wait_for no_vm_procs || fail_now "left running: $(vm_procs)"
    [ -z "$(ls -A "$CAPSA_ROOT")" ] || fail_now "state left: $(ls -A "$CAPSA_ROOT")"
    [ ! -e "$(cgfile pids "")" ] || fail_now "cgroup left: $(cgfile pids "")"
}

@test "vm level: without KVM and without --allow-tcg, create fails naming why and leaves nothing" {
    [ ! -e /dev/kvm ] || skip "this host has /dev/kvm"
    update_config '.annotations["capsa.isolation"] = "vm"'
    run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"needs KVM"* ]] || fail_now "no reason given: $output"
    [[ "$output" == *"--allow-tcg"* ]] || fail_now "no way out named: $output"
    assert_nothing_left "$CID"
    [ -z "$(vm_procs)" ] || fail_now "left running: $(vm_procs)"
    [ ! -e "$(cgfile pids "")" ] || fail_now "cgroup left: $(cgfile pids "")"
}

@test "vm level: create/start/state/kill/delete (--isolation vm, allow_tcg from the config file); exec refused; nothing left" {
    echo "allow_tcg = true" >"$BATS_TEST_TMPDIR/capsa.conf"
    export CAPSA_CONFIG=$BATS_TEST_TMPDIR/capsa.conf
    # sh is PID 1 of the guest container's pid namespace: only a trapped TERM reaches it.
    update_config ".process.args = [\"sh\", \"-c\", \"trap 'exit 7' TERM; echo $MARK; while :; do sleep 1; done\"]"
    # 128 MiB of guest RAM: the host cgroup holds that plus the VMM's stated overhead (192 MiB).
    update_config '.linux.resources.memory = {"limit": 134217728}'
    local out=$BATS_TEST_TMPDIR/$CID.out
    capsa --isolation vm create --bundle "$BUNDLE" "$CID" </dev/null >"$out" 2>&1 ||
        fail_now "create: $(cat "$out")"
    [ "$(container_status "$CID")" = created ]
    local helper
    helper=$(jq -r .helperPid "$CAPSA_ROOT/$CID/state.json")
    [ "$(jq -r .isolation "$CAPSA_ROOT/$CID/state.json")" = vm ]
    # The VMM runs, in the container's cgroup, with virtiofsd.
    kill -0 "$helper"
    grep -qx "$helper" "$(cgfile pids cgroup.procs)" || fail_now "qemu $helper not in the cgroup"
    [ "$(wc -l <"$(cgfile pids cgroup.procs)")" -ge 3 ] # the init, QEMU, virtiofsd
    [ "$(cat "$(cgfile memory memory.limit_in_bytes)")" -eq $(((128 + 192) * 1048576)) ]
    capsa --isolation vm start "$CID"
    [ "$(container_status "$CID")" = running ]
    local pid
    pid=$(container_pid "$CID")
    # The workload runs in the guest: its marker is on no host process.
    wait_for grep -q "$MARK" "$out"
    run ! pgrep -f "$MARK"
    run capsa exec "$CID" true
    [ "$status" -ne 0 ]
    [[ "$output" == *"vm isolation level"* ]] || fail_now "exec: $output"
    # kill reaches the guest's workload through the stand-in init.
    capsa kill "$CID" TERM
    wait_for status_is "$CID" stopped
    pid_gone "$pid"
    capsa delete "$CID"
    wait_for no_vm_procs || fail_now "left running: $(vm_procs)"
    pid_gone "$helper"
    [ ! -e "$CAPSA_ROOT/$CID" ]
    [ ! -e "$(cgfile pids "")" ] || fail_now "cgroup left: $(cgfile pids "")"
}

@test "vm level: features lists it; an unknown level's error names it" {
    run capsa features
    [ "$status" -eq 0 ]
    [[ "$(jq -r '.annotations["io.github.capsa.isolation"]' <<<"$output")" == *vm* ]] ||
        fail_now "features: $output"
    update_config '.annotations["capsa.isolation"] = "nope"'
    run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"native, interpose, unikernel, vm"* ]] || fail_now "$output"
}

@test "vm level: allow_tcg in \$CAPSA_CONFIG takes true or false, and an error names a bad value" {
    update_config '.annotations["capsa.isolation"] = "vm"'
    printf 'allow_tcg = maybe\n' >"$BATS_TEST_TMPDIR/capsa.conf"
    CAPSA_CONFIG=$BATS_TEST_TMPDIR/capsa.conf run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"$BATS_TEST_TMPDIR/capsa.conf"*allow_tcg*maybe* ]] || fail_now "$output"
    assert_nothing_left "$CID"
    [ ! -e /dev/kvm ] || skip "this host has /dev/kvm"
    printf 'allow_tcg = false\n' >"$BATS_TEST_TMPDIR/capsa.conf"
    CAPSA_CONFIG=$BATS_TEST_TMPDIR/capsa.conf run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"needs KVM"* ]] || fail_now "$output"
    assert_nothing_left "$CID"
}
