#!/usr/bin/env bats
# seccomp.bats - linux.seccomp: errno and kill actions, unknown syscall names, argument filters, a
# default-deny allowlist, flags, the user-notification listener, and capsa's lazy libseccomp.

load helpers

setup() {
    setup_common
    setup_bundle
    # A writable root, so that a denied mkdir is seccomp's doing (not EROFS). SIGSYS dumps core
    # by default: keep the kill tests from leaving cores behind.
    update_config '.root.readonly = false
        | .process.rlimits = [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]'
}

# set_seccomp 'JSON': the linux.seccomp section.
set_seccomp() {
    update_config ".linux.seccomp = $1"
}

# deny_mkdir ACTION [ERRNO]: everything allowed but mkdir/mkdirat (which one busybox's libc
# uses depends on the architecture), which get ACTION.
deny_mkdir() {
    local extra=
    [ -n "${2:-}" ] && extra=", \"errnoRet\": $2"
    set_seccomp "{\"defaultAction\": \"SCMP_ACT_ALLOW\",
        \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"$1\"$extra}]}"
}

@test "seccomp: errnoRet 1 makes mkdir fail with EPERM" {
    deny_mkdir SCMP_ACT_ERRNO 1
    update_config '.process.args = ["mkdir", "/tmp/x"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" == *"Operation not permitted"* ]]
    [ ! -e "$ROOTFS/tmp/x" ]
}

@test "seccomp: errnoRet 38 makes mkdir fail with ENOSYS" {
    deny_mkdir SCMP_ACT_ERRNO 38
    update_config '.process.args = ["mkdir", "/tmp/x"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" == *"Function not implemented"* ]]
    [ ! -e "$ROOTFS/tmp/x" ]
}

@test "seccomp: SCMP_ACT_ERRNO without errnoRet means EPERM; other syscalls still work" {
    deny_mkdir SCMP_ACT_ERRNO
    update_config '.process.args = ["sh", "-c", "echo ok > /tmp/file; cat /tmp/file; mkdir /tmp/x"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" == *ok* ]]
    [[ "$output" == *"Operation not permitted"* ]]
    [ -f "$ROOTFS/tmp/file" ]
    [ ! -e "$ROOTFS/tmp/x" ]
}

@test "seccomp: SCMP_ACT_KILL kills the process with SIGSYS (exit 159)" {
    deny_mkdir SCMP_ACT_KILL
    update_config '.process.args = ["mkdir", "/tmp/x"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 159 ]
    [ ! -e "$ROOTFS/tmp/x" ]
}

@test "seccomp: SCMP_ACT_KILL_PROCESS kills the whole process with SIGSYS" {
    deny_mkdir SCMP_ACT_KILL_PROCESS
    update_config '.process.args = ["mkdir", "/tmp/x"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 159 ]
    [ ! -e "$ROOTFS/tmp/x" ]
}

@test "seccomp: unknown syscall names are skipped, the rest of the rule applies" {
    set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["capsa_no_such_syscall", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
    update_config '.process.args = ["sh", "-c", "echo running; mkdir /tmp/x"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" == *running* ]]
    [[ "$output" == *"Operation not permitted"* ]]
    [ ! -e "$ROOTFS/tmp/x" ]
    # capsa warns about the name it skipped, as runc does.
    if is_capsa; then
        [[ "$output" == *capsa_no_such_syscall* ]]
    fi
}

@test "seccomp: argument filter denies personality(0xffffffff) only" {
    [ -x "$ROOTFS/bin/sysprobe" ] || skip "needs build/helpers/sysprobe (make helpers)"
    set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]}]}'
    update_config '.process.args = ["sh", "-c",
        "sysprobe personality 0xffffffff; sysprobe personality 0; sysprobe getpid"]'
    run capsa run --bundle "$BUNDLE" c1
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = EPERM ]
    [[ "${lines[1]}" == "ok "* ]]
    [[ "${lines[2]}" == "ok "* ]]
}

@test "seccomp: SCMP_CMP_MASKED_EQ and several conditions on one argument" {
    [ -x "$ROOTFS/bin/sysprobe" ] || skip "needs build/helpers/sysprobe (make helpers)"
    # Two conditions on index 0 become two rules (either denies), as in runc;
    # MASKED_EQ: value is the mask, valueTwo the datum.
    set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
         "args": [{"index": 0, "value": 4369, "op": "SCMP_CMP_EQ"},
                  {"index": 0, "value": 8738, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 16,
         "args": [{"index": 0, "value": 16711680, "valueTwo": 524288, "op": "SCMP_CMP_MASKED_EQ"}]}]}'
    update_config '.process.args = ["sh", "-c",
        "sysprobe personality 0x1111; sysprobe personality 0x2222; sysprobe personality 0x0800ff"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = EACCES ]
    [ "${lines[1]}" = EACCES ]
    [ "${lines[2]}" = EBUSY ]
}

# What busybox sh, echo, cat and ls need, plus what a runtime does between
# installing the filter and execve (credentials, capabilities, fds).
ALLOWLIST='[
  "access", "arch_prctl", "brk", "capget", "capset", "chdir", "clock_getres", "clock_gettime",
  "clock_nanosleep", "clone", "clone3", "close", "close_range", "dup", "dup2", "dup3", "execve",
  "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fchdir", "fchown", "fcntl",
  "fork", "fstat", "fstatfs", "futex", "getcwd", "getdents", "getdents64", "getegid", "geteuid",
  "getgid", "getgroups", "getpgid", "getpgrp", "getpid", "getppid", "getrandom", "getresgid",
  "getresuid", "getrlimit", "getsid", "gettid", "gettimeofday", "getuid", "ioctl", "kill",
  "lseek", "lstat", "madvise", "mmap", "mprotect", "mremap", "munmap", "nanosleep",
  "newfstatat", "open", "openat", "openat2", "pipe", "pipe2", "poll", "ppoll", "prctl",
  "pread64", "prlimit64", "pselect6", "pwrite64", "read", "readlink", "readlinkat", "readv",
  "restart_syscall", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigreturn",
  "rt_sigsuspend", "rt_sigtimedwait", "sched_getaffinity", "sched_yield", "select",
  "set_robust_list", "set_tid_address", "setgid", "setgroups", "setpgid", "setresgid",
  "setresuid", "setsid", "setuid", "sigaltstack", "stat", "statfs", "statx", "sysinfo",
  "tgkill", "time", "times", "umask", "uname", "vfork", "wait4", "waitid", "write", "writev"]'

@test "seccomp: defaultAction SCMP_ACT_ERRNO with an allowlist for busybox sh" {
    set_seccomp "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [
        {\"names\": $ALLOWLIST, \"action\": \"SCMP_ACT_ALLOW\"}]}"
    update_config '.process.args = ["sh", "-c", "echo hello; cat /etc/hostname; ls /bin/busybox; mkdir /tmp/x"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [ "${lines[0]}" = hello ]
    [ "${lines[1]}" = capsa ]
    [ "${lines[2]}" = /bin/busybox ]
    [[ "$output" == *"Operation not permitted"* ]]
    [ ! -e "$ROOTFS/tmp/x" ]
}

@test "seccomp: defaultErrnoRet is what denied syscalls return" {
    set_seccomp "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38, \"syscalls\": [
        {\"names\": $ALLOWLIST, \"action\": \"SCMP_ACT_ALLOW\"}]}"
    update_config '.process.args = ["mkdir", "/tmp/x"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" == *"Function not implemented"* ]]
}

@test "seccomp: flags TSYNC, LOG, SPEC_ALLOW and action SCMP_ACT_LOG" {
    set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_LOG"},
                     {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
    update_config '.process.args = ["sh", "-c", "echo alive; mkdir /tmp/x"]'
    run capsa run --bundle "$BUNDLE" c1
    # runc 1.1 (Debian 12) predates linux.seccomp.flags.
    if ! is_capsa && [[ "$output" == *"flags are not yet supported"* ]]; then
        skip "the runtime under test lacks linux.seccomp.flags"
    fi
    [ "$status" -ne 0 ]
    [[ "$output" == *alive* ]]
    [[ "$output" == *"Operation not permitted"* ]]
}

@test "seccomp: without noNewPrivileges the filter still goes in (as a non-root user)" {
    set_seccomp "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [
        {\"names\": $ALLOWLIST, \"action\": \"SCMP_ACT_ALLOW\"}]}"
    update_config '.process.noNewPrivileges = false | .process.user = {"uid": 1000, "gid": 1000}
        | .process.args = ["sh", "-c", "id -u; grep -E \"^(NoNewPrivs|Seccomp):\" /proc/self/status; mkdir /tmp/x"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" == *1000* ]]
    echo "$output" | grep -E '^NoNewPrivs:[[:space:]]+0$'
    echo "$output" | grep -E '^Seccomp:[[:space:]]+2$'
    [[ "$output" == *"Operation not permitted"* ]]
    [ ! -e "$ROOTFS/tmp/x" ]
}

@test "seccomp: the filter holds in the running container (/proc/PID/status)" {
    deny_mkdir SCMP_ACT_ERRNO
    run_bg_container c1 "sleep 1000; : $MARK"
    grep -E '^Seccomp:[[:space:]]+2$' "/proc/$PID/status"
    grep -E '^Seccomp_filters:[[:space:]]+1$' "/proc/$PID/status"
}

@test "seccomp: SCMP_ACT_NOTIFY sends the state and the listener fd to listenerPath" {
    local listener=$REPO/build/helpers/seccomp_listener
    [ -x "$listener" ] || skip "needs build/helpers/seccomp_listener (make helpers)"
    local sock=$BATS_TEST_TMPDIR/agent.sock out=$BATS_TEST_TMPDIR/agent.json
    local log=$BATS_TEST_TMPDIR/agent.log
    : >"$log"
    "$listener" "$sock" "$out" "$log" 2>"$BATS_TEST_TMPDIR/agent.err" &
    local lpid=$!
    defer "kill -KILL $lpid 2>/dev/null"
    wait_for 50 test -S "$sock"
    update_config ".linux.seccomp = {\"defaultAction\": \"SCMP_ACT_ALLOW\",
        \"listenerPath\": \"$sock\", \"listenerMetadata\": \"capsa-test-metadata\",
        \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}"
    update_config '.process.args = ["sh", "-c", "mkdir /tmp/x && echo made"]'
    # A runtime that mishandles the listener leaves mkdir blocked: bound the wait.
    run timeout 60 "$CAPSA" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1 </dev/null
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *made* ]]
    # The listener answered with CONTINUE: the directory really exists.
    [ -d "$ROOTFS/tmp/x" ]
    wait_for 50 pid_gone "$lpid"
    cat "$BATS_TEST_TMPDIR/agent.err" >&2 || true
    [ "$(jq -r '.fds | join(",")' "$out")" = seccompFd ]
    [ "$(jq -r .metadata "$out")" = capsa-test-metadata ]
    [ "$(jq -r .state.id "$out")" = c1 ]
    [ "$(jq -r .state.bundle "$out")" = "$BUNDLE" ]
    [ "$(jq -r '.pid > 0' "$out")" = true ]
    [ -n "$(jq -r .ociVersion "$out")" ]
    grep -q '^nr=' "$log"
}

@test "seccomp: SCMP_ACT_NOTIFY without listenerPath is refused" {
    set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" == *listenerPath* ]]
    assert_nothing_left c1
}

# capsa-specific: libseccomp is dlopen'ed only when a container has a seccomp section.
@test "seccomp: the release binary loads no shared library (libseccomp is linked in)" {
    requires_capsa
    requires_cmd readelf
    # ASan builds are dynamic by necessity; the release build is a static PIE.
    if readelf -d "$CAPSA" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
        skip "sanitizer build"
    fi
    run readelf -lW "$CAPSA"
    [ "$status" -eq 0 ]
    [[ "$output" != *INTERP* ]]
    run readelf -dW "$CAPSA"
    [[ "$output" != *NEEDED* ]]
}
