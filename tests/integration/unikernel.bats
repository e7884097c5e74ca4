#!/usr/bin/env bats
# unikernel.bats - the unikernel isolation level (annotation capsa.isolation=unikernel): the example
# unikernels of uk/examples (built by `make unikernels` into build/uk/) run through `capsa run` and
# the effect is checked from the host: console output, the bytes of the block file, ping replies
# through a TAP device in a test network namespace, SIGSYS for every forbidden system call,
# malformed images refused with nothing left behind. capsa-specific.

load helpers

UK=$REPO/build/uk

setup() {
    setup_common
    requires_capsa
    for u in hello blk net forbidden; do
        [ -f "$UK/$u.spt" ] || fail_now "missing $UK/$u.spt (make unikernels)"
    done
    setup_bundle
}

teardown() {
    teardown_common
}

# uk_bundle IMAGE [ARGS...]: the bundle runs build/uk/IMAGE.spt at the unikernel level.
uk_bundle() {
    local img=$1
    shift
    cp "$UK/$img.spt" "$ROOTFS/$img.spt"
    local args
    args=$(printf '%s\n' "/$img.spt" "$@" | jq -R . | jq -s .)
    update_config ".process.args = $args
        | .annotations = {\"capsa.isolation\": \"unikernel\"}"
}

# uk_net NETNS IFNAME: join the test network namespace, grant /dev/net/tun and the net device
# "service0" as the TAP interface IFNAME the init creates there.
uk_net() {
    update_config ".linux.namespaces = [.linux.namespaces[] | select(.type != \"network\")]
        + [{\"type\": \"network\", \"path\": \"/var/run/netns/$1\"}]
        | .linux.devices += [{\"path\": \"/dev/net/tun\", \"type\": \"c\", \"major\": 10,
            \"minor\": 200, \"fileMode\": 438}]
        | .linux.resources.devices += [{\"allow\": true, \"type\": \"c\", \"major\": 10,
            \"minor\": 200, \"access\": \"rwm\"}]
        | .annotations[\"capsa.unikernel.net.service0\"] = \"$2\""
}

@test "unikernel: hello prints through the console and exits 0" {
    uk_bundle hello "$MARK" two
    run capsa run --bundle "$BUNDLE" uk-hello
    [ "$status" -eq 0 ]
    [[ "$output" == *"Hello from a capsa unikernel"* ]]
    [[ "$output" == *"$MARK two"* ]]
    # run deleted it: nothing left.
    assert_nothing_left uk-hello
}

@test "unikernel: the block example reads and writes the granted file (checked on the host)" {
    requires_cmd gcc
    uk_bundle blk
    head -c 16384 /dev/urandom >"$ROOTFS/disk.img"
    # The default spec's root is read-only: the block file must be writable.
    update_config '.annotations["capsa.unikernel.block.storage"] = "/disk.img" | .root.readonly = false'
    # The expected checksum, computed on the host: FNV-1a 64 over the whole file.
    cat >"$BATS_TEST_TMPDIR/fnv.c" <<'EOF'
#include <stdio.h>
#include <stdint.h>
int main(void) { uint64_t h = 14695981039346656037ULL; int c;
  while ((c = getchar()) != EOF) { h ^= (uint8_t)c; h *= 1099511628211ULL; }
  printf("0x%016llx\n", (unsigned long long)h); return 0; }
EOF
    gcc -O2 -o "$BATS_TEST_TMPDIR/fnv" "$BATS_TEST_TMPDIR/fnv.c"
    want=$("$BATS_TEST_TMPDIR/fnv" <"$ROOTFS/disk.img")
    run capsa run --bundle "$BUNDLE" uk-blk
    [ "$status" -eq 0 ]
    [[ "$output" == *"blk: 32 blocks of 512 bytes, sum $want"* ]]
    # The write landed in the last block of the host file.
    tail -c 512 "$ROOTFS/disk.img" | head -c 12 | grep -q "capsa-blk-ok"
}

@test "unikernel: the net example answers ping through a TAP device in its network namespace" {
    requires_cmd ip ping
    ns=capsauk$$$RANDOM
    ip netns add "$ns"
    defer "ip netns del $ns"
    uk_bundle net ip=10.77.0.2 count=3
    uk_net "$ns" tapuk0
    capsa create --bundle "$BUNDLE" uk-net
    capsa start uk-net
    wait_for 50 ip netns exec "$ns" ip link show tapuk0
    ip netns exec "$ns" ip addr add 10.77.0.1/24 dev tapuk0
    ip netns exec "$ns" ip link set tapuk0 up
    run ip netns exec "$ns" ping -c 3 -W 5 10.77.0.2
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"3 received"* ]]
    # count=3: the unikernel exits after three replies.
    wait_for 50 status_is uk-net stopped
    capsa delete uk-net
}

@test "unikernel: exec is refused, state/ps/events/kill/delete work on a running unikernel" {
    requires_cmd ip
    ns=capsauk$$$RANDOM
    ip netns add "$ns"
    defer "ip netns del $ns"
    uk_bundle net ip=10.77.1.2 "$MARK"
    uk_net "$ns" tapuk1
    capsa create --bundle "$BUNDLE" uk-run
    capsa start uk-run
    wait_for 50 ip netns exec "$ns" ip link show tapuk1
    [ "$(container_status uk-run)" = running ]
    run capsa exec uk-run /bin/true
    [ "$status" -ne 0 ]
    [[ "$output" == *"unikernel isolation level"* ]]
    capsa state uk-run | jq -e '.annotations["capsa.isolation"] == "unikernel"'
    pid=$(container_pid uk-run)
    # The tender's lock-down, from the host: seccomp filter mode, no_new_privs, fds.
    grep -q '^Seccomp:[[:space:]]*2' "/proc/$pid/status"
    grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status"
    run capsa ps --format json uk-run
    [[ "$output" == *"$pid"* ]]
    # events: the unikernel is accounted in its cgroup like any container process.
    run capsa events --stats uk-run
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.data.pids.current >= 1'
    capsa kill uk-run KILL
    wait_for 50 pid_gone "$pid"
    capsa delete uk-run
    assert_nothing_left uk-run
}

@test "unikernel: every forbidden system call is killed by SIGSYS and reported" {
    for sc in open socket execve mmap clone getpid write2 blkwrite-wrongfd; do
        uk_bundle forbidden "$sc"
        run capsa run --bundle "$BUNDLE" "uk-f-$sc"
        echo "$sc: status $status: $output"
        [ "$status" -eq 159 ] || fail_now "$sc: expected SIGSYS (159), got $status"
        [[ "$output" != *survived* ]] || fail_now "$sc: the unikernel survived"
        [[ "$output" == *SIGSYS* ]] || fail_now "$sc: capsa did not report SIGSYS"
    done
    # The control: nothing forbidden, exit 0.
    uk_bundle forbidden none
    run capsa run --bundle "$BUNDLE" uk-f-none
    [ "$status" -eq 0 ]
    [[ "$output" == *ok* ]]
}

@test "unikernel: malformed images are refused naming the problem, nothing left" {
    requires_cmd readelf
    uk_bundle hello
    cp "$UK/hello.spt" "$BATS_TEST_TMPDIR/good"
    size=$(stat -c %s "$BATS_TEST_TMPDIR/good")
    # truncated at several points, not an ELF, a host dynamic executable
    head -c 64 "$BATS_TEST_TMPDIR/good" >"$BATS_TEST_TMPDIR/trunc64"
    # cut inside the last loadable segment's file bytes
    local off fsz end=0
    while read -r off fsz; do
        [ $((off + fsz)) -gt "$end" ] && end=$((off + fsz))
    done < <(readelf -lW "$BATS_TEST_TMPDIR/good" | awk '$1 == "LOAD" { print $2, $5 }')
    [ "$end" -gt 1 ] && [ "$end" -le "$size" ]
    head -c $((end - 1)) "$BATS_TEST_TMPDIR/good" >"$BATS_TEST_TMPDIR/trunchalf"
    echo "not an elf" >"$BATS_TEST_TMPDIR/text"
    cp "$(readlink -f /bin/ls)" "$BATS_TEST_TMPDIR/hostls"
    # wrong machine: e_machine (offset 18) set to EM_AARCH64 (183)
    cp "$BATS_TEST_TMPDIR/good" "$BATS_TEST_TMPDIR/arm"
    printf '\xb7\x00' | dd of="$BATS_TEST_TMPDIR/arm" bs=1 seek=18 conv=notrunc status=none
    for bad in trunc64 trunchalf text hostls arm; do
        cp "$BATS_TEST_TMPDIR/$bad" "$ROOTFS/hello.spt"
        run capsa run --bundle "$BUNDLE" "uk-bad-$bad"
        echo "$bad: $output"
        [ "$status" -ne 0 ] || fail_now "$bad: accepted"
        [[ "$output" == *"unikernel image /hello.spt"* ]] || fail_now "$bad: message"
        assert_nothing_left "uk-bad-$bad"
    done
}

@test "unikernel: an unknown isolation level and ungranted devices are refused clearly" {
    uk_bundle hello
    update_config '.annotations["capsa.isolation"] = "hypervisor"'
    run capsa run --bundle "$BUNDLE" uk-lvl
    [ "$status" -ne 0 ]
    [[ "$output" == *"capsa.isolation"*"hypervisor"* ]]
    assert_nothing_left uk-lvl
    # blk declares "storage": running it without the grant names the annotation to add.
    uk_bundle blk
    run capsa run --bundle "$BUNDLE" uk-nogrant
    [ "$status" -ne 0 ]
    [[ "$output" == *"capsa.unikernel.block.storage"* ]]
    assert_nothing_left uk-nogrant
    # ...and a grant hello does not declare is refused too.
    uk_bundle hello
    : >"$ROOTFS/disk.img"
    update_config '.annotations["capsa.unikernel.block.extra"] = "/disk.img" | .root.readonly = false'
    run capsa run --bundle "$BUNDLE" uk-extra
    [ "$status" -ne 0 ]
    [[ "$output" == *"\"extra\" is granted but the unikernel does not declare it"* ]]
    assert_nothing_left uk-extra
}
