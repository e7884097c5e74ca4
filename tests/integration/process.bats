#!/usr/bin/env bats
# process.bats - the container process as seen from the host: args, env, cwd, ids, umask, caps,
# no_new_privs, rlimits, oom_score_adj, fd hygiene, and the CVE-2024-21626 / CVE-2019-5736 checks.

load helpers

setup() {
    setup_common
    setup_bundle
}

@test "args, env and cwd" {
    mkdir -p "$ROOTFS/work/dir"
    update_config '.process.args = ["sh", "-c", "echo $1:$FOO:$(pwd)", "argv0", "first"]
        | .process.env = ["PATH=/bin", "FOO=bar baz"] | .process.cwd = "/work/dir"'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "$output" = "first:bar baz:/work/dir" ]
}

@test "user uid, gid and additionalGids (from the host)" {
    update_config '.process.user = {"uid": 1000, "gid": 1001, "additionalGids": [5, 7]}'
    run_bg_container c1 "sleep 1000; : $MARK"
    grep -E '^Uid:[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000$' "/proc/$PID/status"
    grep -E '^Gid:[[:space:]]+1001[[:space:]]+1001[[:space:]]+1001[[:space:]]+1001$' "/proc/$PID/status"
    groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$PID/status" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
    [[ "$groups" == *"5 "* && "$groups" == *"7 "* ]]
}

@test "umask" {
    update_config '.process.user.umask = 23 | .process.args = ["sh", "-c", "umask"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "$output" = 0027 ]
}

@test "capabilities: all five sets as configured" {
    update_config '.process.capabilities = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]}'
    run_bg_container c1 "sleep 1000; : $MARK"
    # CHOWN=0, KILL=5, NET_BIND_SERVICE=10. Ambient caps are added to effective/permitted at exec.
    [ "$(awk '/^CapBnd:/ { print $2 }' "/proc/$PID/status")" = 0000000000000421 ]
    [ "$(awk '/^CapPrm:/ { print $2 }' "/proc/$PID/status")" = 0000000000000421 ]
    [ "$(awk '/^CapEff:/ { print $2 }' "/proc/$PID/status")" = 0000000000000421 ]
    [ "$(awk '/^CapInh:/ { print $2 }' "/proc/$PID/status")" = 0000000000000420 ]
    [ "$(awk '/^CapAmb:/ { print $2 }' "/proc/$PID/status")" = 0000000000000400 ]
}

@test "noNewPrivileges" {
    update_config '.process.noNewPrivileges = true'
    run_bg_container c1 "sleep 1000; : $MARK"
    grep -E '^NoNewPrivs:[[:space:]]+1$' "/proc/$PID/status"
}

@test "noNewPrivileges false" {
    update_config '.process.noNewPrivileges = false'
    run_bg_container c1 "sleep 1000; : $MARK"
    grep -E '^NoNewPrivs:[[:space:]]+0$' "/proc/$PID/status"
}

@test "rlimits" {
    update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]'
    run_bg_container c1 "sleep 1000; : $MARK"
    grep -E '^Max open files +123 +456 +files' "/proc/$PID/limits"
    grep -E '^Max core file size +0 +0 +bytes' "/proc/$PID/limits"
}

@test "oomScoreAdj" {
    update_config '.process.oomScoreAdj = 123'
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(cat "/proc/$PID/oom_score_adj")" = 123 ]
}

# runc checks the program at create: an engine's create step fails, not its start.
@test "a program that cannot be executed fails at create" {
    requires_capsa
    printf 'echo hi\n' >"$ROOTFS/noexec.sh"
    chmod 644 "$ROOTFS/noexec.sh"
    for prog in /bin /noexec.sh; do
        update_config ".process.args = [\"$prog\"]"
        run ctr_create c1
        [ "$status" -ne 0 ]
        [[ "$output" == *"exec: \"$prog\": permission denied"* ]]
        assert_nothing_left c1
    done
}

# Whether this shell (and so capsa) has CAP_SYS_RESOURCE (bit 24) in its effective set.
has_sys_resource() {
    local eff
    eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
    (( (16#$eff >> 24) & 1 ))
}

# What the host forbids gets an error that says why (issue 5: engines ask for ulimits and
# oom_score_adj values a host without CAP_SYS_RESOURCE in its bounding set cannot grant).
@test "an rlimit above the runtime's hard limit fails naming the limit and the capability" {
    requires_capsa
    hard=$(ulimit -Hn)
    [ "$hard" != unlimited ] || skip "no hard RLIMIT_NOFILE to exceed"
    if has_sys_resource; then
        skip "the runtime has CAP_SYS_RESOURCE here: raising the hard limit is allowed"
    fi
    update_config ".process.rlimits = [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 64, \"hard\": $((hard + 1))}]
        | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    run ctr_create c1
    [ "$status" -ne 0 ]
    [[ "$output" == *"process.rlimits[0]"*"$((hard + 1))"*"current hard limit $hard"*CAP_SYS_RESOURCE* ]]
    assert_nothing_left c1
}

@test "an oomScoreAdj below the runtime's own fails naming the capability" {
    requires_capsa
    if has_sys_resource; then
        skip "the runtime has CAP_SYS_RESOURCE here: lowering oom_score_adj is allowed"
    fi
    update_config ".process.oomScoreAdj = -1000 | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    run ctr_create c1
    [ "$status" -ne 0 ]
    [[ "$output" == *"process.oomScoreAdj -1000"*CAP_SYS_RESOURCE* ]]
    assert_nothing_left c1
}

# capsa-specific: this host has no AppArmor; capsa refuses a profile it cannot apply.
@test "apparmorProfile on a host without AppArmor fails clearly" {
    requires_capsa
    if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
        skip "AppArmor is enabled here"
    fi
    update_config ".process.apparmorProfile = \"capsa-test\" | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    run ctr_create c1
    [ "$status" -ne 0 ]
    [[ "$output" == *[Aa]pp[Aa]rmor* ]]
    assert_nothing_left c1
}

@test "no host fds leak into the container" {
    update_config '.process.args = ["probe", "fds"]'
    run capsa run --bundle "$BUNDLE" c1 3>/dev/null 4>/dev/null 5</etc/hostname
    [ "$status" -eq 0 ]
    fds=$(awk '{ print $1 }' <<<"$output" | sort -n | tr '\n' ' ')
    [ "$fds" = "0 1 2 " ]
}

@test "--preserve-fds passes the given fds" {
    update_config '.process.args = ["probe", "fds"]'
    echo x >"$BATS_TEST_TMPDIR/three"
    echo x >"$BATS_TEST_TMPDIR/four"
    run capsa run --preserve-fds 2 --bundle "$BUNDLE" c1 3<"$BATS_TEST_TMPDIR/three" \
        4<"$BATS_TEST_TMPDIR/four" 5</etc/hostname
    [ "$status" -eq 0 ]
    fds=$(awk '{ print $1 }' <<<"$output" | sort -n | tr '\n' ' ')
    [ "$fds" = "0 1 2 3 4 " ]
    [[ "$output" == *"3 -> $BATS_TEST_TMPDIR/three"* ]]
    [[ "$output" == *"4 -> $BATS_TEST_TMPDIR/four"* ]]
}

@test "cwd of the container process is inside the container (CVE-2024-21626)" {
    update_config '.process.cwd = "/tmp"'
    run_bg_container c1 "sleep 1000; : $MARK"
    # readlink shows the path relative to the process's root, so compare the objects themselves:
    # cwd must be the rootfs' /tmp and the root the bundle's rootfs, by device and inode.
    [ "$(stat -L -c %d:%i "/proc/$PID/cwd")" = "$(stat -c %d:%i "$ROOTFS/tmp")" ]
    [ "$(stat -L -c %d:%i "/proc/$PID/root")" = "$(stat -c %d:%i "$ROOTFS")" ]
    [ "$(stat -L -c %d:%i "/proc/$PID/cwd")" != "$(stat -c %d:%i /tmp)" ]
}

@test "cwd pointing at a leaked fd path is refused or stays inside (CVE-2024-21626)" {
    update_config '.process.cwd = "/proc/self/fd/7" | .process.args = ["sh", "-c", "ls .. >/dev/null; pwd"]'
    run capsa run --bundle "$BUNDLE" c1 7</
    # Either the runtime fails, or the cwd resolved inside the container (not the host's /).
    if [ "$status" -eq 0 ]; then
        [[ "$output" != /* ]] || [[ "$output" == /proc/* ]]
    fi
}

# capsa-specific where crun's behaviour differs: the runtime binary must not be writable from the
# container (CVE-2019-5736). We run a copy of the runtime and check its hash afterwards.
@test "the runtime binary cannot be overwritten through /proc/self/exe (CVE-2019-5736)" {
    rt=$BATS_TEST_TMPDIR/runtime-copy
    cp "$(command -v "$CAPSA")" "$rt"
    before=$(sha256sum <"$rt")
    printf '#!/proc/self/exe\n' >"$ROOTFS/bin/evil"
    chmod +x "$ROOTFS/bin/evil"
    update_config '.process.args = ["sh", "-c",
        "for p in /proc/[0-9]*; do echo x > $p/exe 2>/dev/null; done; /proc/self/exe --version; /bin/evil; probe write /proc/self/exe; for i in 1 2 3; do for p in /proc/[0-9]*; do echo x > $p/exe 2>/dev/null; done; done; true"]'
    "$rt" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1 </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1 || true
    ctr_create c2
    "$rt" --root "$CAPSA_ROOT" start c2 || true
    wait_for status_is c2 stopped
    [ "$(sha256sum <"$rt")" = "$before" ]
}

# capsa-specific: capsa protects itself by running from a read-only bind of its binary, so even
# a process holding /proc/<pid>/exe of the runtime cannot open it for writing once it has exited.
@test "the runtime's /proc/<pid>/exe refuses writes even after the runtime exits (CVE-2019-5736)" {
    requires_capsa
    rt=$BATS_TEST_TMPDIR/runtime-copy
    cp "$(command -v "$CAPSA")" "$rt"
    before=$(sha256sum <"$rt")
    out=$(add_host_dir /out)
    # The container runs until the test says so: the runtime's exe is opened while it runs.
    update_config '.process.args = ["sh", "-c", "until [ -e /out/go ]; do sleep 0.1; done"]'
    "$rt" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1 &
    runpid=$!
    defer "touch '$out/go'"
    wait_for status_is c1 running
    exec {held}<"/proc/$runpid/exe"
    touch "$out/go"
    wait "$runpid"
    # The executable is no longer running: only the read-only mount stops the write now. The
    # helper opens the held file for writing and prints the errno by name.
    run "$REPO/build/helpers/probe" write "/proc/self/fd/$held"
    exec {held}<&-
    [ "$status" -eq 0 ]
    [ "$output" = EROFS ]
    [ "$(sha256sum <"$rt")" = "$before" ]
}
