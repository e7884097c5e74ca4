#!/usr/bin/env bats
# cgroups.bats - resources read back from the host's cgroup files, OOM kill, pids limit,
# update, pause/resume, ps, events, kill --all, exec --cgroup and --ignore-paused, cleanup at
# delete. Written for this machine's layout (v1 controllers, v2 at /sys/fs/cgroup/unified); a
# pure v2 host is covered by the QEMU guest suite in tests/v2vm/ (docs/testing-cgroup-v2.md).

load helpers

setup() {
    setup_common
    cg_require_v1
    cg_setup capsa-test
}

teardown() {
    cg_teardown
}

@test "memory, cpu, pids and cpuset limits are written to the v1 cgroup files" {
    update_config '.linux.resources = {"memory": {"limit": 67108864, "reservation": 33554432},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(cat "$(cgfile memory memory.limit_in_bytes)")" = 67108864 ]
    [ "$(cat "$(cgfile memory memory.soft_limit_in_bytes)")" = 33554432 ]
    [ "$(cat "$(cgfile cpu cpu.shares)")" = 512 ]
    [ "$(cat "$(cgfile cpu cpu.cfs_quota_us)")" = 50000 ]
    [ "$(cat "$(cgfile cpu cpu.cfs_period_us)")" = 100000 ]
    [ "$(cat "$(cgfile cpuset cpuset.cpus)")" = 0 ]
    [ "$(cat "$(cgfile pids pids.max)")" = 42 ]
    # The init is in every hierarchy's cgroup before it ran user code.
    for c in memory cpu pids cpuset freezer devices; do
        grep -qx "$PID" "$(cgfile "$c" cgroup.procs)" || fail_now "$PID not in $c"
    done
}

@test "the name=systemd hierarchy is joined, shown inside and removed at delete (runc's fs driver)" {
    [ -d "$CG/systemd" ] && grep -q ':name=systemd:' /proc/self/cgroup ||
        skip "no name=systemd hierarchy here"
    update_config 'if any(.mounts[]; .destination == "/sys/fs/cgroup") then . else
        .mounts += [{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}] end'
    run_bg_container c1 "sleep 1000; : $MARK"
    grep -qx "[0-9]*:name=systemd:$CGPATH" "/proc/$PID/cgroup" ||
        fail_now "init not in name=systemd $CGPATH: $(cat "/proc/$PID/cgroup")"
    grep -qx "$PID" "$CG/systemd$CGPATH/cgroup.procs" || fail_now "$PID not in $CG/systemd$CGPATH"
    # Inside, as on the host: /sys/fs/cgroup/systemd, the container's own directory.
    run capsa exec c1 cat /sys/fs/cgroup/systemd/cgroup.procs
    [ "$status" -eq 0 ] || fail_now "exec: $output"
    [[ "$output" == *1* ]] || fail_now "the container's name=systemd cgroup.procs: $output"
    capsa kill c1 KILL
    wait_for status_is c1 stopped
    capsa delete c1
    [ ! -e "$CG/systemd$CGPATH" ] || fail_now "$CG/systemd$CGPATH left behind"
}

# The page size is the host's (x86 and arm64 with 4k pages have 2MB ones): probe it.
requires_2mb_pages() {
    [ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] || skip "no 2MB huge pages on this host"
}

@test "hugetlb on the hybrid v2 hierarchy gets hugetlb.2MB.max" {
    grep -qw hugetlb "$CG/unified/cgroup.controllers" 2>/dev/null || skip "no hugetlb on v2 here"
    requires_2mb_pages
    update_config '.linux.resources = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(cat "$CG/unified$CGPATH/hugetlb.2MB.max")" = 4194304 ]
    grep -qx "$PID" "$CG/unified$CGPATH/cgroup.procs"
}

# The same limit where hugetlb is a v1 controller (the usual hybrid layout; not this VM's).
@test "hugetlb on a v1 hierarchy gets hugetlb.2MB.limit_in_bytes" {
    if [ ! -d "$CG/hugetlb" ] || ! grep -q " - cgroup .*hugetlb" /proc/self/mountinfo; then
        skip "no v1 hugetlb here"
    fi
    requires_2mb_pages
    update_config '.linux.resources = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(cat "$(cgfile hugetlb hugetlb.2MB.limit_in_bytes)")" = 4194304 ]
    grep -qx "$PID" "$(cgfile hugetlb cgroup.procs)"
}

@test "a memory-hungry container is OOM-killed and the kill is counted" {
    update_config '.linux.resources = {"memory": {"limit": 16777216, "swap": 16777216}}
        | .process.args = ["sh", "-c", "x=$(head -c 100000000 /dev/zero | tr \"\\\\0\" a); echo survived"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 137 ]
    [[ "$output" != *survived* ]]
}

@test "events reports an OOM kill" {
    update_config '.linux.resources = {"memory": {"limit": 16777216, "swap": 16777216}}'
    out=$(add_host_dir /out)
    # events counts the OOMs after its start: the hog waits for /out/go, made once events has
    # printed its first stats line (so it has read the counters before the OOM).
    run_bg_container c1 "until [ -e /out/go ]; do sleep 0.1; done; x=\$(head -c 100000000 /dev/zero | tr '\\0' a); sleep 1000; : $MARK"
    capsa events --interval 1s c1 >"$BATS_TEST_TMPDIR/events" 2>&1 &
    evpid=$!
    defer "kill $evpid 2>/dev/null"
    wait_for grep -q '"type":"stats"' "$BATS_TEST_TMPDIR/events"
    touch "$out/go"
    wait_for grep -q '"type":"oom"' "$BATS_TEST_TMPDIR/events"
}

@test "a fork bomb stops at the pids limit and the host is unharmed" {
    update_config '.linux.resources = {"pids": {"limit": 20}}'
    # The inner shell forks until it cannot and dies; the init then execs (no fork needed).
    run_bg_container c1 "sh -c 'while :; do sleep 1000 & done' 2>/dev/null; exec sleep 1000 # $MARK"
    wait_for bash -c "[ \$(awk '/max/ {print \$2}' $(cgfile pids pids.events)) -gt 0 ]"
    [ "$(cat "$(cgfile pids pids.current)")" -le 20 ]
    [ "$(cat "$(cgfile pids pids.current)")" -ge 15 ]
    [ "$(container_status c1)" = running ]
}

@test "update changes memory, cpu and pids values" {
    update_config '.linux.resources = {"memory": {"limit": 67108864}, "pids": {"limit": 50}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    run capsa update --memory 128m --cpu-shares 256 --pids-limit 77 c1
    [ "$status" -eq 0 ]
    [ "$(cat "$(cgfile memory memory.limit_in_bytes)")" = 134217728 ]
    [ "$(cat "$(cgfile cpu cpu.shares)")" = 256 ]
    [ "$(cat "$(cgfile pids pids.max)")" = 77 ]
    echo '{"cpu": {"quota": 20000, "period": 100000}}' >"$BATS_TEST_TMPDIR/res.json"
    run capsa update --resources "$BATS_TEST_TMPDIR/res.json" c1
    [ "$status" -eq 0 ]
    [ "$(cat "$(cgfile cpu cpu.cfs_quota_us)")" = 20000 ]
    run bash -c "echo '{\"pids\": {\"limit\": 33}}' | $CAPSA --root $CAPSA_ROOT update --resources - c1"
    [ "$status" -eq 0 ]
    [ "$(cat "$(cgfile pids pids.max)")" = 33 ]
}

@test "update rejects bad input naming the field, values unchanged" {
    update_config '.linux.resources = {"pids": {"limit": 50}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    run capsa update --memory lots c1
    [ "$status" -ne 0 ]
    [[ "$output" == *memory* ]]
    echo '{"pids": {"limit": "many"}}' >"$BATS_TEST_TMPDIR/res.json"
    run capsa update --resources "$BATS_TEST_TMPDIR/res.json" c1
    [ "$status" -ne 0 ]
    [[ "$output" == *pids.limit* ]]
    [ "$(cat "$(cgfile pids pids.max)")" = 50 ]
}

@test "pause freezes the container (no progress) and resume thaws it" {
    OUT=$(add_host_dir /out)
    run_bg_container c1 "i=0; while :; do i=\$((i+1)); echo \$i > /out/n; sleep 0.05; done; : $MARK"
    wait_for test -s "$OUT/n"
    run capsa pause c1
    [ "$status" -eq 0 ]
    [ "$(container_status c1)" = paused ]
    # Either freezer may do it: v2 cgroup.freeze (also on the hybrid unified hierarchy) or v1.
    [ "$(cat "$CG/unified$CGPATH/cgroup.freeze" 2>/dev/null)" = 1 ] ||
        [ "$(cat "$(cgfile freezer freezer.state)")" = FROZEN ]
    a=$(cat "$OUT/n")
    sleep 0.5
    [ "$(cat "$OUT/n")" = "$a" ]
    run capsa resume c1
    [ "$status" -eq 0 ]
    [ "$(container_status c1)" = running ]
    wait_for bash -c "[ \$(cat $OUT/n) -gt $a ]"
}

@test "ps lists the container's processes in json and table form" {
    run_bg_container c1 "sleep 1000 & sleep 1000; : $MARK"
    wait_for bash -c "[ \$(wc -l < $(cgfile pids cgroup.procs)) -ge 2 ]"
    run capsa ps --format json c1
    [ "$status" -eq 0 ]
    echo "$output" | jq -e "index($PID) != null"
    [ "$(echo "$output" | jq length)" -ge 2 ]
    run capsa ps c1
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *PID* ]]
    [[ "$output" == *"sleep 1000"* ]]
}

@test "events --stats prints cpu, memory and pids statistics" {
    update_config '.linux.resources = {"pids": {"limit": 30}}'
    run_bg_container c1 "sleep 1000; : $MARK"
    run capsa events --stats c1
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.type == "stats" and .id == "c1"'
    echo "$output" | jq -e '.data.memory.usage.usage > 0'
    echo "$output" | jq -e '.data.pids.current >= 1 and .data.pids.limit == 30'
    echo "$output" | jq -e '.data.cpu.usage.total > 0'
}

@test "kill --all signals every process in the cgroup, even without a pid namespace" {
    update_config 'del(.hostname) | .linux.namespaces |= map(select(.type != "pid" and .type != "uts"))'
    run_bg_container c1 "sleep 1000 & sleep 1000 & wait; : $MARK"
    wait_for bash -c "[ \$(wc -l < $(cgfile pids cgroup.procs)) -ge 3 ]"
    run capsa kill --all c1 KILL
    [ "$status" -eq 0 ]
    wait_for bash -c "[ ! -s $(cgfile pids cgroup.procs) ]"
}

@test "delete removes the cgroup, including sub-cgroups the container made" {
    run_bg_container c1 "sleep 1000; : $MARK"
    mkdir "$(cgfile memory sub)" "$(cgfile pids sub)"
    capsa kill c1 KILL
    wait_for status_is c1 stopped
    run capsa delete c1
    [ "$status" -eq 0 ]
    for c in memory pids cpu freezer devices cpuset blkio; do
        [ ! -e "$CG/$c$CGPATH" ] || fail_now "$CG/$c$CGPATH left"
    done
    [ ! -e "$CG/unified$CGPATH" ]
}

@test "device rules: a device outside the allowed set cannot be opened inside" {
    # Major 240 is reserved for local use: no driver, so an allowed open fails with ENXIO,
    # while the device cgroup refuses a denied one with EPERM before the driver is asked.
    update_config '.linux.resources.devices = [{"allow": false, "access": "rwm"}]
        | .linux.devices = [{"path": "/dev/test240", "type": "c", "major": 240, "minor": 0, "fileMode": 438}]
        | .process.args = ["sh", "-c", "cat /dev/test240; echo x > /dev/null && echo null-ok"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [[ "$output" == *null-ok* ]]
    [[ "$output" == *"not permitted"* ]]
    # The same with a rule allowing it: the driver answers instead (so the check above can fail).
    update_config '.linux.resources.devices += [{"allow": true, "type": "c", "major": 240, "minor": 0, "access": "rw"}]'
    run capsa run --bundle "$BUNDLE" c2
    [ "$status" -eq 0 ]
    [[ "$output" != *"not permitted"* ]]
    [[ "$output" == *"No such device"* ]]
}

@test "a resource the kernel cannot take fails create naming it and leaves no cgroup" {
    [ ! -e "$CG/net_cls" ] || skip "net_cls is mounted here"
    update_config '.linux.resources = {"network": {"classID": 1048577}}'
    run ctr_create c1
    [ "$status" -ne 0 ]
    grep -q network "$BATS_TEST_TMPDIR/c1.err"
    assert_nothing_left c1
    for c in memory pids cpu; do
        [ ! -e "$CG/$c$CGPATH" ] || fail_now "$CG/$c$CGPATH left"
    done
}

@test "the container's /sys/fs/cgroup shows its own cgroup, read-only, not the host's tree" {
    update_config '.linux.resources = {"memory": {"limit": 33554432}, "pids": {"limit": 12}}
        | .process.args = ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; ls /sys/fs/cgroup/memory | grep -c capsa-test; echo 5 > /sys/fs/cgroup/pids/pids.max || echo refused"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 33554432 ]
    [ "${lines[1]}" = 12 ]
    # No host cgroup directory (like the test's own parent) is visible.
    [ "${lines[2]}" = 0 ]
    [[ "$output" == *refused* ]]
}

# The first user code already runs in the container's cgroups: the process reads its own
# /proc/self/cgroup as its first action (no cgroup namespace, so the full paths show).
@test "the user process starts inside the container's cgroup on every hierarchy" {
    update_config '.linux.namespaces |= map(select(.type != "cgroup"))
        | .process.args = ["cat", "/proc/self/cgroup"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    for ctrl in memory pids cpu freezer devices; do
        line=$(printf '%s\n' "$output" | grep -E "^[0-9]+:([a-z_,]*,)?$ctrl(,[a-z_,]*)?:") ||
            fail_now "no $ctrl line in: $output"
        [ "${line##*:}" = "$CGPATH" ] || fail_now "$ctrl: expected $CGPATH, got $line"
    done
    if grep -q hugetlb "$CG/unified/cgroup.controllers" 2>/dev/null; then
        line=$(printf '%s\n' "$output" | grep -E '^0::') || fail_now "no v2 line in: $output"
        [ "${line#0::}" = "$CGPATH" ] || fail_now "v2: expected $CGPATH, got $line"
    fi
}

# The container's cgroup directories on every hierarchy it has (v1 controllers and v2 unified).
cg_dirs() {
    local d
    for d in "$CG"/*"$CGPATH"; do
        [ -d "$d" ] && echo "$d"
    done
}

@test "exec --cgroup runs the process in an existing sub-cgroup, or per controller; a missing one, '..' or an unknown controller is refused" {
    run_bg_container c1 "sleep 1000; : $MARK"
    local d
    for d in $(cg_dirs); do
        mkdir -p "$d/sub"
        # A v1 cpuset takes no task before it has CPUs and memory nodes.
        if [ -f "$d/cpuset.cpus" ]; then
            cat "$d/cpuset.cpus" >"$d/sub/cpuset.cpus"
            cat "$d/cpuset.mems" >"$d/sub/cpuset.mems"
        fi
    done
    mkdir "$(cgfile memory msub)"
    capsa exec -d --pid-file "$BATS_TEST_TMPDIR/p1" --cgroup sub c1 sh -c "sleep 1000; : $MARK"
    local p1 p2
    p1=$(cat "$BATS_TEST_TMPDIR/p1")
    for d in $(cg_dirs); do
        grep -qx "$p1" "$d/sub/cgroup.procs" || fail_now "$p1 not in $d/sub"
    done
    # Per controller: memory's sub-cgroup, the container's own cgroup elsewhere.
    capsa exec -d --pid-file "$BATS_TEST_TMPDIR/p2" --cgroup memory:msub c1 sh -c "sleep 1000; : $MARK"
    p2=$(cat "$BATS_TEST_TMPDIR/p2")
    grep -qx "$p2" "$(cgfile memory msub/cgroup.procs)" || fail_now "$p2 not in memory's msub"
    grep -qx "$p2" "$(cgfile pids cgroup.procs)" || fail_now "$p2 not in the container's pids cgroup"
    # Refusals, each naming the problem; no process is left from them.
    run capsa exec --cgroup nosuch c1 true
    [ "$status" -ne 0 ] && [[ "$output" == *"--cgroup nosuch: sub-cgroup"*"does not exist"* ]] ||
        fail_now "missing sub-cgroup: $output"
    run capsa exec --cgroup ../x c1 true
    [ "$status" -ne 0 ] && [[ "$output" == *'no "..":'* ]] || fail_now "..: $output"
    run capsa exec --cgroup nosuchctl:sub c1 true
    [ "$status" -ne 0 ] && [[ "$output" == *"no cgroup of the container has these controllers"* ]] ||
        fail_now "unknown controller: $output"
    run capsa exec --cgroup /sub c1 true
    [ "$status" -ne 0 ] && [[ "$output" == *"relative to the container's cgroup"* ]] ||
        fail_now "absolute path: $output"
    # delete removes the sub-cgroups with the container's.
    capsa delete -f c1
    for d in $(cg_dirs); do
        fail_now "cgroup left: $d"
    done
}

@test "exec into a paused container is refused, naming --ignore-paused; with it the process starts at resume" {
    update_config '.root.readonly = false'
    run_bg_container c1 "sleep 1000; : $MARK"
    capsa pause c1
    run capsa exec c1 true
    [ "$status" -ne 0 ] && [[ "$output" == *"is paused"*"--ignore-paused"* ]] || fail_now "$output"
    capsa exec --ignore-paused c1 sh -c 'echo ran >/ip.txt' &
    local bg=$!
    sleep 1
    [ ! -e "$ROOTFS/ip.txt" ] || fail_now "the process ran in a paused container"
    # The waiting exec holds no lock: resume goes through.
    capsa resume c1
    wait "$bg" || fail_now "exec --ignore-paused failed"
    [ "$(cat "$ROOTFS/ip.txt")" = ran ] || fail_now "the process did not run after resume"
}
