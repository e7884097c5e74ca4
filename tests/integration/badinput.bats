#!/usr/bin/env bats
# badinput.bats - bad configs, ids and bundles: each must fail with a message that names the
# field or path, exit non-zero, and leave NOTHING on the host (no state, no cgroup, no mount, no
# process). Cases already in lifecycle.bats (truncated JSON, missing bundle, "", "..", ".", "a/b",
# 300-char ids, relative mount destination) and mounts.bats (symlinked destinations) are not
# repeated; the ones here add the other shapes of bad input.

load helpers

CG=/sys/fs/cgroup

setup() {
    setup_common
    setup_bundle
    # Both the process and the cgroup carry the marker, so leftovers can be found by it.
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]
        | .linux.cgroupsPath = \"/capsa-test-$MARK/c1\""
    awk '{ print $5 }' /proc/self/mountinfo | sort >"$BATS_TEST_TMPDIR/mounts.before"
}

teardown() {
    teardown_common
    local rc=$?
    rmdir $CG/*/capsa-test-"$MARK"/* $CG/*/capsa-test-"$MARK" 2>/dev/null || true
    return $rc
}

# assert_clean [ID]: nothing of a failed create is left on the host: no state dir under --root,
# no cgroup dir named after the id or the test's marker in any hierarchy, no new mount in the host
# mountinfo (other bats runs' dirs and network namespaces aside: suites of other checkouts may run
# at the same time), no process carrying the marker.
assert_clean() {
    local id=${1:-} d new left
    left=$(ls -A "$CAPSA_ROOT")
    [ -z "$left" ] || { fail_now "state left under --root: $left"; return 1; }
    for d in "$CG"/*/; do
        # The test's parent dir may be there (a runtime makes parents and need not remove them);
        # a container cgroup below it may not. find also walks the cgroups of other suites
        # running on the host, which may vanish under it (status 1): what it prints is the answer.
        left=$(find "$d" -mindepth 1 -maxdepth 3 -type d -path "*$MARK*/*" -print -quit 2>/dev/null || true)
        [ -z "$left" ] || { fail_now "cgroup left: $left"; return 1; }
        if [[ "$id" =~ ^[A-Za-z0-9_.-]{3,}$ ]]; then
            left=$(find "$d" -maxdepth 3 -type d -name "$id" -print -quit 2>/dev/null || true)
            [ -z "$left" ] || { fail_now "cgroup named after $id left: $left"; return 1; }
        fi
    done
    new=$(comm -13 "$BATS_TEST_TMPDIR/mounts.before" <(awk '{ print $5 }' /proc/self/mountinfo | sort) |
        awk -v own="$BATS_RUN_TMPDIR" '(index($0, "/tmp/bats-run-") != 1 || index($0, own) == 1) &&
            index($0, "/run/netns/") != 1')
    [ -z "$new" ] || { fail_now "new host mounts: $new"; return 1; }
    left=$(pgrep -af "$MARK" || true)
    [ -z "$left" ] || { fail_now "process left: $left"; return 1; }
}

# bad_create ID PATTERN...: create must fail, leave nothing, and its error must contain every
# PATTERN (literally). Returns 1 with the reason on stderr, so loops can go on and report all.
bad_create() {
    local id=$1 p bad=0
    shift
    run ctr_create "$id"
    echo "create '$id': status $status: $output" >&2
    if [ "$status" -eq 0 ]; then
        echo "FAIL: create '$id' succeeded" >&2
        bad=1
        capsa delete --force "$id" >/dev/null 2>&1 || true
    fi
    for p in "$@"; do
        [[ "$output" == *"$p"* ]] || { echo "FAIL: error of '$id' lacks '$p': $output" >&2; bad=1; }
    done
    assert_clean "$id" || bad=1
    return $bad
}

# A fresh config.json from the saved good one, edited by jq EXPR.
with_config() {
    jq "$1" "$BATS_TEST_TMPDIR/good.json" >"$BUNDLE/config.json"
}

save_good() {
    cp "$BUNDLE/config.json" "$BATS_TEST_TMPDIR/good.json"
}

@test "broken JSON in several shapes is rejected naming config.json" {
    local c=0 doc bad=0
    for doc in '' 'not json' '[1, 2]' '"a string"' '{"ociVersion": "1.0.2"} trailing' \
        '{"ociVersion": "1.0.2",}' $'{"ociVersion": "1.0\x01.2"}'; do
        c=$((c + 1))
        printf '%s' "$doc" >"$BUNDLE/config.json"
        bad_create "b$c" config.json || bad=1
    done
    [ "$bad" = 0 ]
}

@test "wrong types name the field" {
    save_good
    local expr field c=0 bad=0
    while IFS='|' read -r expr field; do
        c=$((c + 1))
        with_config "$expr"
        bad_create "t$c" "$field" || bad=1
    done <<'EOF'
.ociVersion = 1|ociVersion
.process.args = "sh"|process.args
.process.env = [1]|process.env
.process.user.uid = "root"|process.user.uid
.process.user.uid = -1|process.user.uid
.root.path = 5|root.path
.root = "rootfs"|root
.mounts = {}|mounts
.mounts[0].destination = true|mounts[0].destination
.linux.namespaces = [{"type": 7}]|namespaces
.linux.resources.memory.limit = "lots"|memory.limit
.linux.resources.pids.limit = 1.5|pids.limit
.hostname = ["a"]|hostname
.process.terminal = "no"|process.terminal
EOF
    [ "$bad" = 0 ]
}

@test "missing required fields name the field" {
    save_good
    with_config 'del(.ociVersion)'
    bad_create m1 ociVersion
    with_config 'del(.root)'
    bad_create m2 root
    with_config 'del(.root.path)'
    bad_create m3 root.path
    # process is needed only to run (runtime-spec: create may go without it, start may not).
    with_config 'del(.process)'
    run capsa run --bundle "$BUNDLE" m4 </dev/null
    [ "$status" -ne 0 ]
    [[ "$output" == *process* ]]
    assert_clean m4
    ctr_create m4b
    run capsa start m4b
    [ "$status" -ne 0 ]
    [[ "$output" == *process* ]]
    capsa delete --force m4b
    assert_clean m4b
    with_config 'del(.process.cwd)'
    bad_create m5 process.cwd
    with_config 'del(.process.args)'
    bad_create m6 process.args
}

@test "absurd resource values are refused naming the field" {
    save_good
    local expr field c=0 bad=0
    while IFS='|' read -r expr field; do
        c=$((c + 1))
        with_config "$expr"
        bad_create "r$c" "$field" || bad=1
    done <<'EOF'
.linux.resources.memory.limit = -12345|memory
.linux.resources.memory.limit = 100000000000000000000000|memory.limit
.linux.resources.memory.limit = 4096|memory
.linux.resources.pids.limit = -5|pids
.linux.resources.pids.limit = 99999999999999999999|pids.limit
.linux.resources.cpu.shares = -1|cpu.shares
.linux.resources.cpu.quota = 100000000000000000000|cpu.quota
.linux.resources.cpu.period = 5|cpu.period
.linux.resources.cpu.cpus = "0-99999"|cpu
EOF
    [ "$bad" = 0 ]
}

@test "linux.intelRdt is refused naming it, not ignored (no resctrl support)" {
    save_good
    with_config '.linux.intelRdt = {"closID": "capsa", "l3CacheSchema": "L3:0=ff"}'
    bad_create rdt "linux.intelRdt"
}

@test "10 000 mounts are refused naming mounts" {
    save_good
    with_config '.mounts += [range(10000) | {destination: "/m/\(.)", type: "tmpfs", source: "tmpfs"}]'
    bad_create many mounts
}

@test "1 MB strings are refused naming the field" {
    save_good
    head -c 1100000 /dev/zero | tr '\0' a >"$BATS_TEST_TMPDIR/big"
    jq --rawfile s "$BATS_TEST_TMPDIR/big" '.hostname = $s' "$BATS_TEST_TMPDIR/good.json" >"$BUNDLE/config.json"
    bad_create s1 hostname
    jq --rawfile s "$BATS_TEST_TMPDIR/big" '.process.env += ["X=" + $s]' "$BATS_TEST_TMPDIR/good.json" >"$BUNDLE/config.json"
    bad_create s2 process.env
    jq --rawfile s "$BATS_TEST_TMPDIR/big" '.mounts += [{destination: ("/" + $s), type: "tmpfs", source: "tmpfs"}]' \
        "$BATS_TEST_TMPDIR/good.json" >"$BUNDLE/config.json"
    bad_create s3 destination
    # A hostname under the parser's limit but over the kernel's (64) is refused too.
    with_config '.hostname = ("h" * 200)'
    bad_create s4 hostname
}

@test "deeply nested JSON is refused without crashing" {
    {
        printf '{"ociVersion": "1.0.2", "annotations": {}, "x": '
        head -c 100000 /dev/zero | tr '\0' '['
        head -c 100000 /dev/zero | tr '\0' ']'
        printf '}'
    } >"$BUNDLE/config.json"
    bad_create deep config.json
}

@test "a mount destination with .. cannot leave the rootfs" {
    hostdir=$(mktemp -d "$BATS_TEST_TMPDIR/hostdir.XXXXXX")
    save_good
    with_config ".mounts += [{\"destination\": \"/../../../../../../../..$hostdir/x\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}]
        | .process.args = [\"sh\", \"-c\", \"touch $hostdir/x/marker; : $MARK\"]"
    run capsa run --bundle "$BUNDLE" dd1 </dev/null
    echo "$output"
    # Refused naming the destination, or resolved inside the rootfs: the host dir stays empty.
    if [ "$status" -ne 0 ]; then
        [[ "$output" == *destination* || "$output" == *..* ]]
    fi
    [ -z "$(ls -A "$hostdir")" ]
    run -1 mounts_under "$hostdir"
    capsa delete --force dd1 >/dev/null 2>&1 || true
    assert_clean dd1
}

@test "a mount destination that is a symlink to a host path is not followed out" {
    hostdir=$(mktemp -d "$BATS_TEST_TMPDIR/hostdir.XXXXXX")
    # The destination itself (not a parent) is the symlink.
    ln -s "$hostdir" "$ROOTFS/escape"
    save_good
    with_config ".mounts += [{\"destination\": \"/escape\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}]
        | .process.args = [\"sh\", \"-c\", \"touch /escape/marker; : $MARK\"]"
    run capsa run --bundle "$BUNDLE" sl1 </dev/null
    echo "$output"
    # Refused naming the destination, or mounted inside the rootfs: the host dir stays empty.
    if [ "$status" -ne 0 ]; then
        [[ "$output" == */escape* ]]
    fi
    [ -z "$(ls -A "$hostdir")" ]
    run -1 mounts_under "$hostdir"
    capsa delete --force sl1 >/dev/null 2>&1 || true
    assert_clean sl1
}

@test "relative paths where absolute ones are required are refused naming the field" {
    save_good
    with_config '.process.cwd = "tmp"'
    bad_create p1 process.cwd
    with_config '.linux.devices = [{"path": "dev/mydev", "type": "c", "major": 1, "minor": 3}]'
    bad_create p2 devices
    with_config '.linux.maskedPaths = ["proc/kcore"]'
    bad_create p3 maskedPaths
    with_config '.linux.readonlyPaths = ["proc/sys"]'
    bad_create p4 readonlyPaths
}

@test "ids with control characters or spaces are rejected naming the id" {
    local id
    for id in $'a\nb' $'a\tb' $'\x01x' $'x\x7f' 'a b' $'\e[31mred'; do
        run ctr_create "$id"
        [ "$status" -ne 0 ] || fail_now "id $(printf %q "$id") accepted"
        [[ "$output" == *id* || "$output" == *ID* ]] || fail_now "no mention of the id: $output"
        assert_clean
    done
}

@test "a rootfs that does not exist is refused naming the path" {
    save_good
    with_config '.root.path = "no-such-rootfs"'
    bad_create nr1 no-such-rootfs
    # A root.path that is a file, not a directory.
    touch "$BUNDLE/afile"
    with_config '.root.path = "afile"'
    bad_create nr2 afile
}

@test "a bundle whose config.json is a directory or unreadable is refused" {
    rm "$BUNDLE/config.json"
    mkdir "$BUNDLE/config.json"
    bad_create cj1 config.json
    rmdir "$BUNDLE/config.json"
    ln -s /nonexistent/config "$BUNDLE/config.json"
    bad_create cj2 config.json
}
