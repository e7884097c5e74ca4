#!/usr/bin/env bats
# attacks.bats - adversarial tests, one or more per container-escape CVE class. Each attack runs
# from inside a container (or a hostile image/config) and its effect is checked from the host:
# the runtime binary's hash, host files and sysctls, the host mount table, /proc/PID/status.
#
# Already covered elsewhere (not repeated here): process.bats (CVE-2019-5736 basic
# #!/proc/self/exe and post-exit /proc/PID/exe; CVE-2024-21626 cwd /tmp and cwd /proc/self/fd/7),
# exec.bats (leaked fds in exec, runtime exe without a pid namespace), mounts.bats (tmpfs
# destinations through absolute and ../ symlinks, maskedPaths, sysctl in a new netns),
# cgroups.bats (/sys/fs/cgroup read-only without a user namespace).
# Helpers used inside containers: build/helpers/atk_exe and atk_swap (tests/helpers/atk_*.c).

load helpers

setup() {
    setup_common
    setup_bundle
    for h in atk_exe atk_swap probe; do
        [ -x "$ROOTFS/bin/$h" ] || fail_now "$h missing from the rootfs (make helpers)"
    done
}

teardown() {
    teardown_common
}

# A private copy of the runtime (the target of the CVE-2019-5736 attacks), run with our state root.
use_runtime_copy() {
    RT=$BATS_TEST_TMPDIR/runtime-copy
    cp "$(command -v "$CAPSA")" "$RT"
    chmod 0755 "$RT"
    RT_SUM=$(sha256sum <"$RT")
}

rt() {
    "$RT" --root "$CAPSA_ROOT" "$@"
}

# The hunter's verdict: it ran to the end and never opened an executable for writing.
assert_hunter_failed() {
    local log=$1
    [ -s "$log" ] || fail_now "hunter log $log is empty"
    grep -q '^done ' "$log" || fail_now "hunter did not finish: $(cat "$log")"
    if grep -q '^WROTE' "$log"; then
        fail_now "hunter opened an executable for writing: $(cat "$log")"
    fi
    # Every open for writing was refused (an O_PATH open may succeed: it grants no write).
    if grep '^target' "$log" | grep -qE '(reopen|direct)=ok'; then
        fail_now "an open succeeded: $(grep '^target' "$log")"
    fi
}

# Mount points of the host mount namespace, one per line, sorted.
host_mounts() {
    awk '{ print $5 }' /proc/self/mountinfo | sort
}

# Mount points that appeared since BEFORE (a file from host_mounts) at one of our paths or at a
# system path: nothing a container does may add any of those to the host's table.
new_host_mounts() {
    host_mounts | comm -13 "$1" - | while read -r m; do
        case "$m" in
        "$BATS_TEST_TMPDIR" | "$BATS_TEST_TMPDIR"/* | / | /etc* | /usr* | /bin* | /sbin* | /lib* | \
            /root* | /proc* | /sys* | /dev* | /boot* | /var*) echo "$m" ;;
        esac
    done
}

# A host directory shared with containers through a bind mount at DEST; prints its host path.
shared_dir() {
    local d
    d=$(mktemp -d "$BATS_TEST_TMPDIR/vol.XXXXXX")
    chmod 0777 "$d"
    echo "$d"
}

# The container's sh runs its attack commands, then `sleep 1000`: once that sleep is its child,
# the attack is over and its effect (or its absence) can be read from the host.
attack_done() {
    wait_for pgrep -P "$1" -x sleep
}

bind_json() {
    echo "{\"destination\": \"$1\", \"type\": \"bind\", \"source\": \"$2\", \"options\": [\"rbind\", \"rw\"]}"
}

# ---------------------------------------------------------------------------------------------
# CVE-2019-5736: overwriting the runtime binary through /proc/self/exe.

@test "CVE-2019-5736: a hunter sharing the pid namespace cannot overwrite a runtime re-executed via #!/proc/self/exe or a /proc/self/exe symlink" {
    use_runtime_copy
    vol=$(shared_dir)
    printf '#!/proc/self/exe\n' >"$ROOTFS/bin/evil"
    chmod 0755 "$ROOTFS/bin/evil"
    ln -s /proc/self/exe "$ROOTFS/bin/evillink"
    cp "$BUNDLE/config.json" "$BATS_TEST_TMPDIR/base.json"
    # Container A: the hunter, for 6 s, ignoring the image's own executables.
    update_config ".mounts += [$(bind_json /out "$vol")]
        | .process.args = [\"sh\", \"-c\", \"atk_exe 6 /bin/busybox /bin/probe /bin/atk_swap >/out/hunt.log 2>&1; sleep 1000; : $MARK\"]"
    ctr_create hunter
    rt start hunter
    hpid=$(container_pid hunter)
    # Container B, repeatedly: same pid namespace, its process.args[0] re-executes the runtime.
    for i in $(seq 1 12); do
        for exe in /bin/evil /bin/evillink; do
            jq ".linux.namespaces |= map(if .type == \"pid\" then . + {\"path\": \"/proc/$hpid/ns/pid\"} else . end)
                | .process.args = [\"$exe\", \"$MARK\"]" "$BATS_TEST_TMPDIR/base.json" >"$BUNDLE/config.json"
            rt run --bundle "$BUNDLE" "victim$i" </dev/null >/dev/null 2>&1 || true
            rt delete --force "victim$i" >/dev/null 2>&1 || true
        done
    done
    wait_for grep -q '^done' "$vol/hunt.log"
    cat "$vol/hunt.log"
    [ "$(sha256sum <"$RT")" = "$RT_SUM" ]
    assert_hunter_failed "$vol/hunt.log"
}

@test "CVE-2019-5736: a hunter inside the container cannot overwrite the runtime during capsa exec" {
    use_runtime_copy
    vol=$(shared_dir)
    printf '#!/proc/self/exe\n' >"$ROOTFS/bin/evil"
    chmod 0755 "$ROOTFS/bin/evil"
    update_config ".mounts += [$(bind_json /out "$vol")]
        | .process.args = [\"sh\", \"-c\", \"atk_exe 8 /bin/busybox /bin/probe /bin/atk_swap >/out/hunt.log 2>&1; sleep 1000; : $MARK\"]"
    ctr_create c1
    rt start c1
    # Each exec passes through the runtime inside the container's namespaces; the hunter watches.
    for i in $(seq 1 15); do
        rt exec c1 /bin/evil >/dev/null 2>&1 || true
        rt exec c1 /bin/true >/dev/null 2>&1 || true
        rt exec c1 sh -c 'exec /proc/self/exe' >/dev/null 2>&1 || true
    done
    wait_for grep -q '^done' "$vol/hunt.log"
    cat "$vol/hunt.log"
    [ "$(sha256sum <"$RT")" = "$RT_SUM" ]
    assert_hunter_failed "$vol/hunt.log"
}

# ---------------------------------------------------------------------------------------------
# CVE-2024-21626: a working directory through a leaked host fd.

# Host directories handed to the runtime as fds 3..10; their device:inode pairs go to HOST_IDS.
open_host_dirs() {
    HOST_DIRS=(/ /etc /tmp "$BATS_TEST_TMPDIR" /sys/fs/cgroup /proc /root "$REPO")
    HOST_IDS=$(for d in "${HOST_DIRS[@]}"; do stat -c %d:%i "$d"; done)
}

# The open fds of a process, seen from the host: "0 1 2 ".
fds_of() {
    find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tr '\n' ' '
}

# The process' cwd, seen from the host, is not a host directory and lies in its own root.
assert_cwd_inside() {
    local pid=$1 cwd_id in_root
    cwd_id=$(stat -L -c %d:%i "/proc/$pid/cwd")
    if grep -qx "$cwd_id" <<<"$HOST_IDS"; then
        fail_now "cwd of $pid is a host directory ($cwd_id)"
    fi
    in_root=$(stat -L -c %d:%i "/proc/$pid/root$(readlink "/proc/$pid/cwd")") ||
        fail_now "cwd $(readlink "/proc/$pid/cwd") of $pid is not reachable from its root"
    [ "$cwd_id" = "$in_root" ] || fail_now "cwd of $pid is not the path it names in its root"
}

@test "CVE-2024-21626: process.cwd /proc/self/fd/N (N=3..10) with leaked host dirs fails or stays inside" {
    open_host_dirs
    started=0
    for n in 3 4 5 6 7 8 9 10; do
        update_config ".process.cwd = \"/proc/self/fd/$n\"
            | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
        rc=0
        capsa create --bundle "$BUNDLE" "c$n" </dev/null >"$BATS_TEST_TMPDIR/c$n.out" \
            2>"$BATS_TEST_TMPDIR/c$n.err" 3</ 4</etc 5</tmp 6<"$BATS_TEST_TMPDIR" \
            7</sys/fs/cgroup 8</proc 9</root 10<"$REPO" || rc=$?
        if [ "$rc" -ne 0 ]; then
            # Refused: nothing of it survives.
            run capsa state "c$n"
            [ "$status" -ne 0 ]
            continue
        fi
        capsa start "c$n"
        pid=$(container_pid "c$n")
        assert_cwd_inside "$pid"
        # Only stdio: no host fd reached the container's process.
        [ "$(fds_of "$pid")" = "0 1 2 " ]
        started=$((started + 1))
        capsa delete --force "c$n"
    done
    echo "started with a /proc/self/fd cwd: $started of 8"
    run -1 pgrep -f "$MARK"
}

@test "CVE-2024-21626: exec --cwd /proc/self/fd/N (N=3..10) with leaked host dirs fails or stays inside" {
    open_host_dirs
    run_bg_container c1 "sleep 1000; : $MARK"
    for n in 3 4 5 6 7 8 9 10; do
        rm -f "$BATS_TEST_TMPDIR/e.pid"
        rc=0
        capsa exec --detach --pid-file "$BATS_TEST_TMPDIR/e.pid" --cwd "/proc/self/fd/$n" c1 \
            sh -c "sleep 1000; : $MARK" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/e.err" \
            3</ 4</etc 5</tmp 6<"$BATS_TEST_TMPDIR" 7</sys/fs/cgroup 8</proc 9</root \
            10<"$REPO" || rc=$?
        [ "$rc" -ne 0 ] && continue
        epid=$(cat "$BATS_TEST_TMPDIR/e.pid")
        assert_cwd_inside "$epid"
        [ "$(fds_of "$epid")" = "0 1 2 " ]
        kill -KILL "$epid"
    done
    # A plain exec listing its own fds sees stdio and ls' directory only.
    run capsa exec c1 ls /proc/self/fd 3</ 4</etc 9</root
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | sort -n | tr '\n' ' ')" = "0 1 2 3 " ]
}

# ---------------------------------------------------------------------------------------------
# CVE-2019-16884 / CVE-2023-27561: a fake /proc that would catch the runtime's /proc writes.

# A bundle directory laid out like /proc/self with marker contents.
make_fake_proc() {
    FAKE=$1
    mkdir -p "$FAKE/self/attr/apparmor" "$FAKE/thread-self/attr" "$FAKE/sys/kernel"
    for f in self/oom_score_adj self/attr/current self/attr/exec self/attr/apparmor/exec \
        self/setgroups thread-self/attr/exec sys/kernel/core_pattern; do
        echo fake >"$FAKE/$f"
    done
    FAKE_SUM=$(cd "$FAKE" && find . -type f | sort | xargs sha256sum)
}

fake_unchanged() {
    [ "$(cd "$FAKE" && find . -type f | sort | xargs sha256sum)" = "$FAKE_SUM" ]
}

# Create with process.oomScoreAdj 123: either refused (nothing left) or the real oom_score_adj,
# read from the host, is 123. In both cases the fake files keep their contents.
oom_probe() {
    update_config ".process.oomScoreAdj = 123 | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    rc=0
    ctr_create c1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        capsa start c1
        pid=$(container_pid c1)
        [ "$(cat "/proc/$pid/oom_score_adj")" = 123 ] || fail_now "oom_score_adj not applied"
        capsa delete --force c1
    else
        assert_nothing_left c1
    fi
    fake_unchanged || fail_now "the runtime wrote into the fake /proc"
    echo "create rc=$rc"
}

@test "CVE-2019-16884: a bind of a bundle dir as /proc does not receive the runtime's /proc writes" {
    make_fake_proc "$BUNDLE/fakeproc"
    update_config ".mounts |= map(if .destination == \"/proc\" then
        {\"destination\": \"/proc\", \"type\": \"bind\", \"source\": \"$FAKE\", \"options\": [\"rbind\", \"rw\"]}
        else . end)"
    oom_probe
}

@test "CVE-2019-16884: a tmpfs as /proc does not receive the runtime's /proc writes" {
    make_fake_proc "$BUNDLE/fakeproc"
    update_config '.mounts |= map(if .destination == "/proc" then
        {"destination": "/proc", "type": "tmpfs", "source": "tmpfs"} else . end)'
    oom_probe
}

@test "CVE-2023-27561: /proc in the image as a symlink to a fake proc dir does not redirect the runtime's writes" {
    make_fake_proc "$ROOTFS/fakeproc"
    rmdir "$ROOTFS/proc"
    ln -s /fakeproc "$ROOTFS/proc"
    oom_probe
}

@test "CVE-2023-27561: a bind over /proc/self after the proc mount does not redirect the runtime's writes" {
    make_fake_proc "$BUNDLE/fakeproc"
    update_config ".mounts += [{\"destination\": \"/proc/self\", \"type\": \"bind\",
        \"source\": \"$FAKE/self\", \"options\": [\"rbind\", \"rw\"]}]"
    oom_probe
}

# ---------------------------------------------------------------------------------------------
# CVE-2019-19921 / CVE-2021-30465: mount destinations through symlinks out of the rootfs.

@test "CVE-2019-19921: bind and tmpfs destinations through absolute, ../ and chained symlinks stay inside" {
    hostdir=$(mktemp -d "$BATS_TEST_TMPDIR/hostdir.XXXXXX")
    src=$(mktemp -d "$BATS_TEST_TMPDIR/src.XXXXXX")
    echo canary >"$src/canary"
    ln -s "$hostdir" "$ROOTFS/abs"
    ln -s "../../../../../../../../../../../..$hostdir" "$ROOTFS/rel"
    mkdir -p "$ROOTFS/d"
    ln -s ../rel "$ROOTFS/d/chain"
    host_mounts >"$BATS_TEST_TMPDIR/mounts.before"
    update_config ".mounts += [$(bind_json /abs/b "$src"), $(bind_json /rel/b "$src"),
        $(bind_json /d/chain/c "$src"),
        {\"destination\": \"/abs/t\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},
        {\"destination\": \"/d/chain/t\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}]"
    rc=0
    run_bg_container c1 "sleep 1000; : $MARK" || rc=$?
    if [ "$rc" -eq 0 ]; then
        # The binds happened inside the rootfs: the canary is visible at the resolved-in-root path.
        [ -e "/proc/$PID/root$hostdir/b/canary" ]
        [ -e "/proc/$PID/root$hostdir/c/canary" ]
    fi
    [ -z "$(ls -A "$hostdir")" ]
    run -1 mounts_under "$hostdir"
    [ -z "$(new_host_mounts "$BATS_TEST_TMPDIR/mounts.before")" ]
    [ "$(ls -A "$src")" = canary ]
}

@test "CVE-2021-30465: a container swapping a dir and an escaping symlink cannot redirect another's mounts (50 creates)" {
    vol=$(shared_dir)
    target=$(mktemp -d "$BATS_TEST_TMPDIR/target.XXXXXX")
    mkdir "$vol/a"
    ln -s "$target" "$vol/b"
    ln -s "../../../../../../../../../../../..$target" "$vol/r"
    mkdir "$vol/c"
    host_mounts >"$BATS_TEST_TMPDIR/mounts.before"
    base=$BATS_TEST_TMPDIR/base.json
    cp "$BUNDLE/config.json" "$base"
    # The hostile container swaps a<->b (absolute symlink) and c<->r (../ symlink).
    update_config ".mounts += [$(bind_json /vol "$vol")]
        | .process.args = [\"sh\", \"-c\", \"atk_swap /vol/a /vol/b 60 /vol/stop >/vol/swap1.log 2>&1 & atk_swap /vol/c /vol/r 60 /vol/stop >/vol/swap2.log 2>&1 & wait; sleep 1000; : $MARK\"]"
    ctr_create hostile
    capsa start hostile
    defer "touch '$vol/stop'"
    ok=0
    for i in $(seq 1 50); do
        if [ $((i % 2)) = 0 ]; then d1=/vol/a/m d2=/vol/a; else d1=/vol/c/m d2=/vol/c/n/o; fi
        jq ".mounts += [$(bind_json /vol "$vol"),
                {\"destination\": \"$d1\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"size=128k\"]},
                {\"destination\": \"$d2\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"size=256k\"]}]
            | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]" "$base" >"$BUNDLE/config.json"
        if ctr_create "v$i" >/dev/null 2>&1; then
            ok=$((ok + 1))
            vpid=$(container_pid "v$i")
            # Both tmpfs mounts exist in the victim's own tree: under /vol, or where the symlink
            # leads when resolved inside its root ($ROOTFS$target). mountinfo only lists mounts
            # reachable from the process' root, so an escaped mount would be missing here (the
            # path itself may be a name the swap has turned into a symlink since).
            for sz in 128k 256k; do
                mp=$(awk -v s="size=$sz" 'index($0, s) { print $5 }' "/proc/$vpid/mountinfo")
                [ -n "$mp" ] || fail_now "victim $i: the size=$sz tmpfs is not in its root"
            done
            capsa delete --force "v$i"
        fi
        [ -z "$(ls -A "$target")" ] || fail_now "after victim $i: $target has $(ls -A "$target")"
        if mounts_under "$target"; then
            fail_now "after victim $i: a mount under $target"
        fi
    done
    touch "$vol/stop"
    wait_for test -s "$vol/swap1.log"
    wait_for test -s "$vol/swap2.log"
    echo "victims created: $ok of 50; $(cat "$vol/swap1.log") $(cat "$vol/swap2.log")"
    grep -q '^swaps=[1-9]' "$vol/swap1.log"
    grep -q '^swaps=[1-9]' "$vol/swap2.log"
    [ -z "$(new_host_mounts "$BATS_TEST_TMPDIR/mounts.before")" ]
}

# ---------------------------------------------------------------------------------------------
# CVE-2022-29162 / CVE-2022-27650: inheritable and ambient capabilities.

cap_of() {
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

@test "CVE-2022-29162: default spec: CapInh and CapAmb are 0 in the init and in exec'd processes" {
    run_bg_container c1 "sleep 1000; : $MARK"
    [ "$(cap_of "$PID" CapInh)" = 0000000000000000 ]
    [ "$(cap_of "$PID" CapAmb)" = 0000000000000000 ]
    [ "$(cap_of "$PID" CapEff)" != 0000000000000000 ]
    capsa exec --detach --pid-file "$BATS_TEST_TMPDIR/e.pid" c1 sh -c "sleep 1000; : $MARK"
    epid=$(cat "$BATS_TEST_TMPDIR/e.pid")
    [ "$(cap_of "$epid" CapInh)" = 0000000000000000 ]
    [ "$(cap_of "$epid" CapAmb)" = 0000000000000000 ]
    kill -KILL "$epid"
}

@test "CVE-2022-29162: capabilities without inheritable give CapInh 0; a non-root helper gains none on exec" {
    update_config '.process.capabilities = {"bounding": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN"],
        "effective": ["CAP_CHOWN", "CAP_NET_RAW"], "permitted": ["CAP_CHOWN", "CAP_NET_RAW"]}
        | .process.user = {"uid": 1000, "gid": 1000}'
    run_bg_container c1 "sleep 1000; : $MARK"
    # sh, then sleep: two execs as uid 1000 with nothing inheritable or ambient.
    for k in CapInh CapAmb CapPrm CapEff; do
        [ "$(cap_of "$PID" "$k")" = 0000000000000000 ] || fail_now "init $k = $(cap_of "$PID" "$k")"
    done
    # sh forks sleep when it gets there: wait for it.
    wait_for pgrep -P "$PID" -x sleep
    child=$(pgrep -P "$PID" -x sleep)
    [ "$(cap_of "$child" CapEff)" = 0000000000000000 ]
    [ "$(cap_of "$child" CapInh)" = 0000000000000000 ]
    capsa exec --detach --pid-file "$BATS_TEST_TMPDIR/e.pid" c1 probe caps
    capsa exec --detach --pid-file "$BATS_TEST_TMPDIR/e2.pid" --user 1000:1000 c1 sh -c "sleep 1000; : $MARK"
    epid=$(cat "$BATS_TEST_TMPDIR/e2.pid")
    for k in CapInh CapAmb CapPrm CapEff; do
        [ "$(cap_of "$epid" "$k")" = 0000000000000000 ] || fail_now "exec $k = $(cap_of "$epid" "$k")"
    done
    kill -KILL "$epid"
    # As root, the exec'd process gets no inheritable set either.
    capsa exec --detach --pid-file "$BATS_TEST_TMPDIR/e3.pid" --user 0:0 c1 sh -c "sleep 1000; : $MARK"
    epid=$(cat "$BATS_TEST_TMPDIR/e3.pid")
    [ "$(cap_of "$epid" CapInh)" = 0000000000000000 ]
    [ "$(cap_of "$epid" CapAmb)" = 0000000000000000 ]
    kill -KILL "$epid"
}

# ---------------------------------------------------------------------------------------------
# CVE-2023-25809: /sys/fs/cgroup writable in a user namespace container.

@test "CVE-2023-25809: in a user namespace, /sys/fs/cgroup is read-only and the host cgroup tree is untouched" {
    chown -R 100000:100000 "$ROOTFS"
    update_config ".linux.namespaces += [{\"type\":\"user\"}]
        | .linux.uidMappings = [{\"containerID\":0,\"hostID\":100000,\"size\":65536}]
        | .linux.gidMappings = [{\"containerID\":0,\"hostID\":100000,\"size\":65536}]
        | .process.args = [\"sh\", \"-c\", \"for d in /sys/fs/cgroup /sys/fs/cgroup/*; do mkdir \$d/atk-$MARK && echo MKDIR-OK \$d; echo \$\$ > \$d/cgroup.procs && echo PROCS-OK \$d; done; echo 1 > /sys/fs/cgroup/pids/pids.max && echo WRITE-OK; echo END\"]"
    run capsa run --bundle "$BUNDLE" c1
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *END* ]]
    [[ "$output" != *-OK* ]]
    [ -z "$(find /sys/fs/cgroup -maxdepth 6 -name "atk-$MARK" 2>/dev/null)" ]
}

@test "CVE-2023-25809: rootless user: /sys/fs/cgroup is mounted read-only and no cgroup is made on the host" {
    requires_cmd setpriv useradd
    user=capsa-rootless
    id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user" || skip "no test user"
    uid=$(id -u "$user")
    gid=$(id -g "$user")
    udir=$(mktemp -d /tmp/capsa-atk.XXXXXX)
    defer "rm -rf '$udir'"
    chmod 0755 "$udir"
    cp -a "$ROOTFS_CACHE" "$udir/rootfs"
    cp "$(command -v "$CAPSA")" "$udir/capsa"
    chmod 0755 "$udir/capsa"
    chown -R "$uid:$gid" "$udir"
    as_u() { setpriv --reuid "$uid" --regid "$gid" --init-groups --reset-env env PATH=/usr/bin:/bin "$@"; }
    as_u "$udir/capsa" spec --rootless --bundle "$udir"
    jq ".process.terminal = false | .process.args = [\"sh\", \"-c\", \"grep ' /sys/fs/cgroup' /proc/self/mountinfo | grep -c ' rw,' ; mkdir /sys/fs/cgroup/atk-$MARK && echo MKDIR-OK; for d in /sys/fs/cgroup/*; do mkdir \$d/atk-$MARK 2>/dev/null && echo MKDIR-OK; done; echo END\"]" \
        "$udir/config.json" >"$udir/c.json"
    mv "$udir/c.json" "$udir/config.json"
    chown "$uid:$gid" "$udir/config.json"
    run as_u "$udir/capsa" --root "$udir/state" run --bundle "$udir" r1
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *END* ]]
    [[ "$output" != *MKDIR-OK* ]]
    [ -z "$(find /sys/fs/cgroup -maxdepth 6 -name "atk-$MARK" 2>/dev/null)" ]
}

# ---------------------------------------------------------------------------------------------
# CVE-2025-31133: the image's /dev/null as a symlink to a sensitive procfs file.

@test "CVE-2025-31133: image /dev/null -> core_pattern (no /dev tmpfs): masked paths stay masked, core_pattern unchanged" {
    before=$(cat /proc/sys/kernel/core_pattern)
    defer "echo '$before' > /proc/sys/kernel/core_pattern"
    ln -s /proc/sys/kernel/core_pattern "$ROOTFS/dev/null"
    update_config ".mounts |= map(select(.destination != \"/dev\"))
        | .root.readonly = false
        | .linux.maskedPaths += [\"/proc/sys/kernel/core_pattern\"]
        | .process.args = [\"sh\", \"-c\", \"echo '|/tmp/pwn' > /dev/null; echo '|/tmp/pwn' > /proc/sys/kernel/core_pattern; sleep 1000; : $MARK\"]"
    rc=0
    ctr_create c1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        capsa start c1
        PID=$(container_pid c1)
        attack_done "$PID"
        # Masked paths, read through the container's root from the host, give nothing.
        [ -z "$(head -c 64 "/proc/$PID/root/proc/timer_list")" ]
        [ -z "$(head -c 64 "/proc/$PID/root/proc/kcore" 2>/dev/null)" ]
        # Masked with the real null device (not the image's link), or unreadable: nothing comes.
        [ -z "$(cat "/proc/$PID/root/proc/sys/kernel/core_pattern" 2>/dev/null)" ]
        [ "$(stat -c %F:%t:%T "/proc/$PID/root/proc/sys/kernel/core_pattern")" = "character special file:1:3" ]
        [ "$(stat -c %F:%t:%T "/proc/$PID/root/proc/timer_list")" = "character special file:1:3" ]
    fi
    [ "$(cat /proc/sys/kernel/core_pattern)" = "$before" ]
    # The image's link itself is not replaced by anything the host would follow.
    [ "$(readlink "$ROOTFS/dev/null")" = /proc/sys/kernel/core_pattern ] || [ -c "$ROOTFS/dev/null" ] ||
        [ ! -e "$ROOTFS/dev/null" ]
}

@test "CVE-2025-31133: image /dev/null -> a host file via ../: host file unchanged, masked paths masked" {
    hostfile=$BATS_TEST_TMPDIR/hostfile
    echo precious >"$hostfile"
    ln -s "../../../../../../../../../..$hostfile" "$ROOTFS/dev/null"
    update_config ".mounts |= map(select(.destination != \"/dev\"))
        | .root.readonly = false
        | .process.args = [\"sh\", \"-c\", \"echo pwned > /dev/null; echo pwned > /proc/kcore; sleep 1000; : $MARK\"]"
    rc=0
    ctr_create c1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        capsa start c1
        PID=$(container_pid c1)
        attack_done "$PID"
        # Masked: the null device is bound there (an empty read of a missing file proves nothing).
        [ -c "/proc/$PID/root/proc/timer_list" ]
        [ -z "$(head -c 64 "/proc/$PID/root/proc/timer_list")" ]
        [ -z "$(head -c 64 "/proc/$PID/root/proc/keys" 2>/dev/null)" ]
    fi
    [ "$(cat "$hostfile")" = precious ]
    run -1 mounts_under "$hostfile"
}

@test "CVE-2025-31133: default spec with an image /dev/null symlink: masked paths masked, core_pattern unchanged" {
    before=$(cat /proc/sys/kernel/core_pattern)
    defer "echo '$before' > /proc/sys/kernel/core_pattern"
    ln -s /proc/sys/kernel/core_pattern "$ROOTFS/dev/null"
    run_bg_container c1 "echo '|/tmp/pwn' > /dev/null; sleep 1000; : $MARK"
    attack_done "$PID"
    [ -c "/proc/$PID/root/dev/null" ]
    [ -c "/proc/$PID/root/proc/timer_list" ]
    [ -z "$(head -c 64 "/proc/$PID/root/proc/timer_list")" ]
    [ "$(cat /proc/sys/kernel/core_pattern)" = "$before" ]
}

# ---------------------------------------------------------------------------------------------
# CVE-2025-52565: /dev/console in the image as a symlink out of the way.

console_attack() {
    RECVTTY=$REPO/build/helpers/recvtty
    [ -x "$RECVTTY" ] || fail_now "build/helpers/recvtty not built (make helpers)"
    SOCK=$BATS_TEST_TMPDIR/console.sock
    "$RECVTTY" "$SOCK" >"$BATS_TEST_TMPDIR/tty.out" 2>"$BATS_TEST_TMPDIR/tty.err" &
    RPID=$!
    defer "kill $RPID 2>/dev/null"
    wait_for test -S "$SOCK"
    update_config ".process.terminal = true | .root.readonly = false
        | .process.args = [\"sh\", \"-c\", \"echo '|/tmp/pwn' > /dev/console; sleep 1000; : $MARK\"]"
    rc=0
    ctr_create c1 --console-socket "$SOCK" || rc=$?
    if [ "$rc" -eq 0 ]; then
        capsa start c1
        PID=$(container_pid c1)
        attack_done "$PID"
        # Whatever sits at the link's target inside the container, no pty is mounted there.
        if awk '$5 == "/proc/sys/kernel/core_pattern" || $5 ~ /hostfile/' "/proc/$PID/mountinfo" |
            grep -q .; then
            fail_now "a mount landed on the console link's target"
        fi
    else
        assert_nothing_left c1
    fi
    echo "create rc=$rc"
}

@test "CVE-2025-52565: image /dev/console -> core_pattern (no /dev tmpfs): no pty bound there, host unchanged" {
    before=$(cat /proc/sys/kernel/core_pattern)
    defer "echo '$before' > /proc/sys/kernel/core_pattern"
    ln -s /proc/sys/kernel/core_pattern "$ROOTFS/dev/console"
    # The image's own /dev is used (no tmpfs over it); devpts and its ptmx stay.
    mkdir -p "$ROOTFS/dev/pts"
    ln -s pts/ptmx "$ROOTFS/dev/ptmx"
    update_config '.mounts |= map(select(.destination != "/dev"))'
    console_attack
    [ "$(cat /proc/sys/kernel/core_pattern)" = "$before" ]
}

@test "CVE-2025-52565: image /dev/console -> a host file via ../: host file unchanged and not mounted over" {
    hostfile=$BATS_TEST_TMPDIR/hostfile
    echo precious >"$hostfile"
    ln -s "../../../../../../../../../..$hostfile" "$ROOTFS/dev/console"
    # The image's own /dev is used (no tmpfs over it); devpts and its ptmx stay.
    mkdir -p "$ROOTFS/dev/pts"
    ln -s pts/ptmx "$ROOTFS/dev/ptmx"
    update_config '.mounts |= map(select(.destination != "/dev"))'
    console_attack
    [ "$(cat "$hostfile")" = precious ]
    run -1 mounts_under "$hostfile"
}

@test "CVE-2025-52565: default spec with /dev/console -> core_pattern in the image: host unchanged" {
    before=$(cat /proc/sys/kernel/core_pattern)
    defer "echo '$before' > /proc/sys/kernel/core_pattern"
    ln -s /proc/sys/kernel/core_pattern "$ROOTFS/dev/console"
    console_attack
    [ "$(cat /proc/sys/kernel/core_pattern)" = "$before" ]
}

# ---------------------------------------------------------------------------------------------
# CVE-2025-52881: the runtime's procfs writes redirected by a bind mount over /proc/sys.

@test "CVE-2025-52881: sysctl with a bundle dir bound over /proc/sys/net: writes reach the real procfs, not the fake" {
    fake=$BUNDLE/fakesys
    mkdir -p "$fake/ipv4"
    echo fake >"$fake/ipv4/ip_forward"
    host_before=$(cat /proc/sys/net/ipv4/ip_forward)
    update_config ".linux.sysctl = {\"net.ipv4.ip_forward\": \"1\"}
        | .mounts += [$(bind_json /proc/sys/net "$fake")]
        | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    rc=0
    ctr_create c1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        capsa start c1
        pid=$(container_pid c1)
        # The container's own netns has the value (read from the host through its netns).
        [ "$(nsenter -t "$pid" -n cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
        capsa delete --force c1
    else
        assert_nothing_left c1
    fi
    [ "$(cat "$fake/ipv4/ip_forward")" = fake ]
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_before" ]
}

@test "CVE-2025-52881: sysctl with a bind whose destination reaches /proc/sys/net through an image symlink" {
    fake=$BUNDLE/fakesys
    mkdir -p "$fake/ipv4"
    echo fake >"$fake/ipv4/ip_forward"
    ln -s /proc/sys/net "$ROOTFS/psn"
    host_before=$(cat /proc/sys/net/ipv4/ip_forward)
    update_config ".linux.sysctl = {\"net.ipv4.ip_forward\": \"1\"}
        | .mounts += [$(bind_json /psn "$fake")]
        | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    rc=0
    ctr_create c1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        capsa start c1
        pid=$(container_pid c1)
        [ "$(nsenter -t "$pid" -n cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
        capsa delete --force c1
    else
        assert_nothing_left c1
    fi
    [ "$(cat "$fake/ipv4/ip_forward")" = fake ]
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_before" ]
}

@test "CVE-2025-52881: sysctl with /proc/sys bound from a dir whose entry links to core_pattern: host unchanged" {
    before=$(cat /proc/sys/kernel/core_pattern)
    defer "echo '$before' > /proc/sys/kernel/core_pattern"
    fake=$BUNDLE/fakesys
    mkdir -p "$fake/net/ipv4" "$fake/kernel"
    ln -s /proc/1/root/proc/sys/kernel/core_pattern "$fake/net/ipv4/ip_forward"
    echo fake >"$fake/kernel/domainname"
    host_before=$(cat /proc/sys/net/ipv4/ip_forward)
    update_config ".linux.sysctl = {\"net.ipv4.ip_forward\": \"1\", \"kernel.domainname\": \"atk\"}
        | .linux.readonlyPaths |= map(select(. != \"/proc/sys\"))
        | .mounts += [$(bind_json /proc/sys "$fake")]
        | .process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    rc=0
    ctr_create c1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        capsa start c1
        pid=$(container_pid c1)
        [ "$(nsenter -t "$pid" -n cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
        [ "$(nsenter -t "$pid" -u cat /proc/sys/kernel/domainname)" = atk ]
        capsa delete --force c1
    else
        assert_nothing_left c1
    fi
    [ "$(cat /proc/sys/kernel/core_pattern)" = "$before" ]
    [ "$(cat "$fake/kernel/domainname")" = fake ]
    [ "$(readlink "$fake/net/ipv4/ip_forward")" = /proc/1/root/proc/sys/kernel/core_pattern ]
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_before" ]
}
