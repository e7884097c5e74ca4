#!/usr/bin/env bats
# attrs.bats - process attributes read back from the host: linux.personality
# (/proc/PID/personality), process.ioPriority (ionice -p), process.scheduler (chrt -p and the nice
# value in /proc/PID/stat).

load helpers

setup() {
    setup_common
    setup_bundle
}

# Field N of /proc/PID/stat (the command name, field 2, may hold spaces: count after it).
stat_field() {
    local s
    s=$(cat "/proc/$1/stat")
    s=${s##*) }
    awk -v n="$(($2 - 2))" '{ print $n }' <<<"$s"
}

@test "linux.personality LINUX32 shows in /proc/PID/personality" {
    update_config '.linux.personality = {"domain": "LINUX32"}'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(cat "/proc/$PID/personality")" = 00000008 ]
    # And not on the runtime's side: the host shell keeps the default.
    [ "$(cat /proc/self/personality)" = 00000000 ]
    # Inside, uname -m answers for a 32-bit personality: what the host's own linux32 answers
    # (i686 on x86_64, armv8l on arm64).
    requires_cmd setarch
    run capsa exec c1 uname -m
    [ "$status" -eq 0 ]
    [ "$output" = "$(setarch linux32 uname -m)" ]
    [ "$output" != "$(uname -m)" ]
}

@test "linux.personality LINUX keeps the default" {
    update_config '.linux.personality = {"domain": "LINUX"}'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(cat "/proc/$PID/personality")" = 00000000 ]
}

@test "process.ioPriority best-effort 6 and idle show in ionice -p" {
    requires_cmd ionice
    update_config '.process.ioPriority = {"class": "IOPRIO_CLASS_BE", "priority": 6}'
    run_bg_container attrs-io1 "sleep 1000; : $MARK"
    [ "$(ionice -p "$PID")" = "best-effort: prio 6" ]
    capsa delete --force attrs-io1
    update_config '.process.ioPriority = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}'
    run_bg_container attrs-io2 "sleep 1000; : $MARK"
    [ "$(ionice -p "$PID")" = idle ]
}

@test "process.scheduler SCHED_BATCH with nice shows in chrt -p and /proc/PID/stat" {
    requires_cmd chrt
    update_config '.process.scheduler = {"policy": "SCHED_BATCH", "nice": 7}'
    run_bg_container c1 "sleep 1000; : $MARK"
    run chrt -p "$PID"
    [ "$status" -eq 0 ]
    [[ "$output" == *"policy: SCHED_BATCH"* ]] || fail_now "$output"
    [ "$(stat_field "$PID" 19)" = 7 ]
}

@test "process.scheduler SCHED_IDLE shows in chrt -p" {
    requires_cmd chrt
    update_config '.process.scheduler = {"policy": "SCHED_IDLE"}'
    run_bg_container c1 "sleep 1000; : $MARK"
    run chrt -p "$PID"
    [ "$status" -eq 0 ]
    [[ "$output" == *"policy: SCHED_IDLE"* ]] || fail_now "$output"
}

@test "process.scheduler SCHED_FIFO priority 12 (root) shows in chrt -p" {
    requires_cmd chrt
    update_config '.process.scheduler = {"policy": "SCHED_FIFO", "priority": 12}'
    # With RT group scheduling a cpu cgroup has real-time time only when given some, and the
    # test's own cgroup (helpers.bash) has none: probe the host from the top cgroup, and give the
    # container a budget in a cgroup right below it. Without RT group scheduling (no such file,
    # or cgroup v2) no budget is needed, nor accepted.
    if [ -e /sys/fs/cgroup/cpu/cpu.rt_runtime_us ]; then
        (echo "$BASHPID" >/sys/fs/cgroup/cpu/cgroup.procs && chrt -f 12 true) 2>/dev/null ||
            skip "this host refuses SCHED_FIFO"
        update_config ".linux.cgroupsPath = \"/capsa-rt-$MARK\"
            | .linux.resources.cpu.realtimePeriod = 1000000
            | .linux.resources.cpu.realtimeRuntime = 10000"
    else
        chrt -f 12 true 2>/dev/null || skip "this host refuses SCHED_FIFO"
    fi
    run_bg_container c1 "sleep 1000; : $MARK"
    run chrt -p "$PID"
    [ "$status" -eq 0 ]
    [[ "$output" == *"policy: SCHED_FIFO"* ]] || fail_now "$output"
    [[ "$output" == *"priority: 12"* ]] || fail_now "$output"
}
