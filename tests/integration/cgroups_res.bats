#!/usr/bin/env bats
# cgroups_res.bats - the linux.resources fields cgroups.bats does not read back, on the host's v1
# hierarchies: memory swap, swappiness, disableOOMKiller, reservation, cpu burst, idle, realtime,
# blkio weight and throttles; `ps` with ps options; `update` of one value of a pair and a failed
# update; the events stream's "oom" on v1 (oom_control under_oom). Every value is read back from
# the host's cgroup files, outside the container. The v2 side of the same fields is checked in
# the QEMU guest (tests/v2vm/cgroup-v2.sh, docs/testing-cgroup-v2.md).

load helpers

setup() {
    setup_common
    cg_require_v1
    cg_setup capsa-res
}

teardown() {
    cg_teardown
}

# cgval CONTROLLER FILE: the file's content (fails the test when it cannot be read).
cgval() {
    cat "$(cgfile "$1" "$2")"
}

# expect_val CONTROLLER FILE EXPECTED: with the values in the failure output.
expect_val() {
    local got
    got=$(cgval "$1" "$2") || fail_now "cannot read $(cgfile "$1" "$2")"
    [ "$got" = "$3" ] || fail_now "$(cgfile "$1" "$2"): expected '$3', got '$got'"
}

# The root disk's whole-disk major:minor (a partition cannot be throttled), or the first disk.
root_disk() {
    local d
    d=$(findmnt -n -o MAJ:MIN / 2>/dev/null | tr -d ' ')
    if [ -n "$d" ] && [ -e "/sys/dev/block/$d" ]; then
        [ ! -e "/sys/dev/block/$d/partition" ] || d=$(cat "/sys/dev/block/$d/../dev")
        echo "$d"
        return
    fi
    for d in /sys/block/*; do
        case ${d##*/} in loop* | ram* | zram*) continue ;; esac
        cat "$d/dev"
        return
    done
}

@test "memory swap -> memory.memsw.limit_in_bytes, reservation -> memory.soft_limit_in_bytes" {
    [ -e "$CG/memory/memory.memsw.limit_in_bytes" ] || skip "no swap accounting (memory.memsw.*)"
    update_config '.linux.resources = {"memory": {"limit": 67108864, "swap": 100663296,
        "reservation": 33554432}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    expect_val memory memory.limit_in_bytes 67108864
    # On v1 memsw is memory plus swap, the OCI value as is.
    expect_val memory memory.memsw.limit_in_bytes 100663296
    expect_val memory memory.soft_limit_in_bytes 33554432
}

@test "memory swappiness -> memory.swappiness" {
    [ -e "$CG/memory/memory.swappiness" ] || skip "no memory.swappiness"
    update_config '.linux.resources = {"memory": {"limit": 67108864, "swappiness": 37}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    expect_val memory memory.swappiness 37
}

@test "memory disableOOMKiller -> memory.oom_control oom_kill_disable 1" {
    update_config '.linux.resources = {"memory": {"limit": 67108864, "disableOOMKiller": true}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    grep -qx 'oom_kill_disable 1' "$(cgfile memory memory.oom_control)" ||
        fail_now "oom_control: $(cgval memory memory.oom_control)"
}

@test "cpu burst -> cpu.cfs_burst_us, next to quota and period" {
    [ -e "$CG/cpu/cpu.cfs_burst_us" ] || skip "no cpu.cfs_burst_us"
    update_config '.linux.resources = {"cpu": {"quota": 50000, "period": 100000, "burst": 20000}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    expect_val cpu cpu.cfs_quota_us 50000
    expect_val cpu cpu.cfs_period_us 100000
    expect_val cpu cpu.cfs_burst_us 20000
}

@test "cpu idle -> cpu.idle" {
    [ -e "$CG/cpu/cpu.idle" ] || skip "no cpu.idle"
    update_config '.linux.resources = {"cpu": {"idle": 1}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    expect_val cpu cpu.idle 1
}

@test "cpu realtime runtime and period at a top-level path -> cpu.rt_runtime_us, cpu.rt_period_us" {
    [ -e "$CG/cpu/cpu.rt_runtime_us" ] || skip "no cpu.rt_runtime_us (no RT group scheduling)"
    # A child of the root: the root has realtime time to hand out, a nested parent has 0.
    CGPATH=/capsa-res-$MARK
    update_config ".linux.cgroupsPath = \"$CGPATH\"
        | .linux.resources = {\"cpu\": {\"realtimePeriod\": 100000, \"realtimeRuntime\": 10000}}"
    run_bg_container c1 "sleep 1000; : $MARK"
    expect_val cpu cpu.rt_period_us 100000
    expect_val cpu cpu.rt_runtime_us 10000
}

@test "blkio weight -> blkio.weight or blkio.bfq.weight, else a clear error naming the field" {
    update_config '.linux.resources = {"blockIO": {"weight": 500}}'
    # The root cgroup has no weight files (BFQ shows them in children only): look in a child,
    # the container's parent.
    local probe=$CG/blkio/capsa-res-$MARK f=
    mkdir -p "$probe"
    if [ -e "$probe/blkio.weight" ]; then f=blkio.weight; elif [ -e "$probe/blkio.bfq.weight" ]; then f=blkio.bfq.weight; fi
    if [ -n "$f" ]; then
        run_bg_container c1 "sleep 1000; : $MARK"
        # blkio.bfq.weight reads "default 500".
        [[ "$(cgval blkio $f)" == *500 ]] || fail_now "$f: $(cgval blkio $f)"
        return
    fi
    # This kernel has no weight-based I/O scheduler: create must fail and say which field.
    run ctr_create c1
    [ "$status" -ne 0 ]
    grep -q 'linux.resources.blockIO.weight' "$BATS_TEST_TMPDIR/c1.err" ||
        fail_now "error does not name the field: $(cat "$BATS_TEST_TMPDIR/c1.err")"
    assert_nothing_left c1
    for c in memory pids cpu blkio; do
        [ ! -e "$CG/$c$CGPATH" ] || fail_now "$CG/$c$CGPATH left"
    done
}

@test "blkio throttles for the root disk -> blkio.throttle.{read,write}_{bps,iops}_device" {
    [ -e "$CG/blkio/blkio.throttle.read_bps_device" ] || skip "no blkio throttling"
    local d maj min
    d=$(root_disk)
    [ -n "$d" ] || skip "no block device found"
    maj=${d%%:*} min=${d##*:}
    update_config ".linux.resources = {\"blockIO\": {
        \"throttleReadBpsDevice\": [{\"major\": $maj, \"minor\": $min, \"rate\": 1048576}],
        \"throttleWriteBpsDevice\": [{\"major\": $maj, \"minor\": $min, \"rate\": 2097152}],
        \"throttleReadIOPSDevice\": [{\"major\": $maj, \"minor\": $min, \"rate\": 100}],
        \"throttleWriteIOPSDevice\": [{\"major\": $maj, \"minor\": $min, \"rate\": 200}]}}"
    run_bg_container c1 "sleep 1000; : $MARK"
    expect_val blkio blkio.throttle.read_bps_device "$d 1048576"
    expect_val blkio blkio.throttle.write_bps_device "$d 2097152"
    expect_val blkio blkio.throttle.read_iops_device "$d 100"
    expect_val blkio blkio.throttle.write_iops_device "$d 200"
}

@test "ps ID -o pid,comm passes the options to ps and lists only the container's processes" {
    run_bg_container c1 "sleep 1000 & sleep 1000; : $MARK"
    wait_for bash -c "[ \$(wc -l < $(cgfile pids cgroup.procs)) -ge 3 ]"
    run capsa ps c1 -o pid,comm
    [ "$status" -eq 0 ]
    # Exactly two columns: the default -ef (UID PID PPID ... CMD) would have more.
    [ "$(echo "${lines[0]}" | awk '{print $1 "," $2 "," NF}')" = PID,COMMAND,2 ] ||
        fail_now "header: ${lines[0]}"
    # One line per process of the cgroup (sh and two sleeps), nothing else: not the test's shell.
    local procs p
    procs=$(cat "$(cgfile pids cgroup.procs)")
    [ "${#lines[@]}" -eq $((1 + $(echo "$procs" | wc -l))) ] || fail_now "not only $procs: $output"
    for p in $procs; do
        printf '%s\n' "${lines[@]:1}" | awk -v p="$p" '$1 == p && ($2 == "sh" || $2 == "sleep") { f = 1 } END { exit !f }' ||
            fail_now "pid $p not listed with its command: $output"
    done
}

@test "update --cpu-period alone keeps the quota, --cpu-quota alone keeps the period" {
    update_config '.linux.resources = {"cpu": {"quota": 50000, "period": 100000}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    run capsa update --cpu-period 200000 c1
    [ "$status" -eq 0 ] || fail_now "update --cpu-period: $output"
    expect_val cpu cpu.cfs_period_us 200000
    expect_val cpu cpu.cfs_quota_us 50000
    run capsa update --cpu-quota 30000 c1
    [ "$status" -eq 0 ] || fail_now "update --cpu-quota: $output"
    expect_val cpu cpu.cfs_quota_us 30000
    expect_val cpu cpu.cfs_period_us 200000
}

@test "update --memory-swap alone uses the stored memory limit" {
    [ -e "$CG/memory/memory.memsw.limit_in_bytes" ] || skip "no swap accounting (memory.memsw.*)"
    update_config '.linux.resources = {"memory": {"limit": 67108864, "swap": 134217728}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    run capsa update --memory-swap 268435456 c1
    [ "$status" -eq 0 ] || fail_now "update --memory-swap: $output"
    expect_val memory memory.memsw.limit_in_bytes 268435456
    expect_val memory memory.limit_in_bytes 67108864
    # Lowering swap below the stored limit is impossible (memsw >= memory on v1): refused, and
    # neither value moves.
    run capsa update --memory-swap 33554432 c1
    [ "$status" -ne 0 ] || fail_now "swap below the stored limit accepted: $output"
    expect_val memory memory.memsw.limit_in_bytes 268435456
    expect_val memory memory.limit_in_bytes 67108864
}

@test "a failed update (impossible realtime runtime) leaves cpu shares unchanged" {
    [ -e "$CG/cpu/cpu.rt_runtime_us" ] || skip "no cpu.rt_runtime_us (no RT group scheduling)"
    # Nested under /capsa-res-*: its parent has 0 realtime time, so any runtime is impossible.
    update_config '.linux.resources = {"cpu": {"shares": 512}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    expect_val cpu cpu.shares 512
    run capsa update --cpu-shares 300 --cpu-rt-runtime 50000 c1
    [ "$status" -ne 0 ] || fail_now "impossible update accepted: $output"
    [[ "$output" == *realtimeRuntime* || "$output" == *rt-runtime* || "$output" == *rt_runtime* ]] ||
        fail_now "error does not name the realtime runtime: $output"
    expect_val cpu cpu.shares 512
    expect_val cpu cpu.rt_runtime_us 0
    # The stored config did not take the failed values either: a later update of something
    # else does not bring shares 300 back.
    run capsa update --pids-limit 55 c1
    [ "$status" -eq 0 ] || fail_now "update --pids-limit: $output"
    expect_val pids pids.max 55
    expect_val cpu cpu.shares 512
}

@test "events reports oom on v1 when disableOOMKiller holds a container at its limit" {
    update_config '.linux.resources = {"memory": {"limit": 16777216, "swap": 16777216,
        "disableOOMKiller": true}}'
    # The allocation stops at the limit and waits there (the OOM killer is off): under_oom 1.
    # events notices under_oom turning on after its start: the hog waits for /out/go, made once
    # events has printed its first stats line.
    local out
    out=$(add_host_dir /out)
    run_bg_container c1 "until [ -e /out/go ]; do sleep 0.1; done; x=\$(head -c 100000000 /dev/zero | tr '\\0' a); sleep 1000; : $MARK"
    capsa events --interval 1s c1 >"$BATS_TEST_TMPDIR/events" 2>&1 &
    local evpid=$!
    defer "kill $evpid 2>/dev/null"
    wait_for grep -q '"type":"stats"' "$BATS_TEST_TMPDIR/events"
    touch "$out/go"
    wait_for grep -qx 'under_oom 1' "$(cgfile memory memory.oom_control)" ||
        fail_now "never under_oom: $(cgval memory memory.oom_control)"
    # Nothing was killed: the kernel's own record, read from outside.
    grep -qx 'oom_kill 0' "$(cgfile memory memory.oom_control)" ||
        fail_now "a process was OOM-killed: $(cgval memory memory.oom_control)"
    wait_for grep -q '"type":"oom"' "$BATS_TEST_TMPDIR/events" ||
        fail_now "no oom event: $(head -c 600 "$BATS_TEST_TMPDIR/events")"
    [ "$(container_status c1)" = running ]
}
