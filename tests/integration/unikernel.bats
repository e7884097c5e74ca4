#!/usr/bin/env bats
# unikernel.bats - the unikernel isolation level (annotation capsa.isolation=unikernel): the example
# unikernels of uk/examples (built by `make unikernels` into build/uk/) run through `capsa run` and
# the effect is checked from the host: console output, the bytes of the block file, ping replies
# through a TAP device in a test network namespace, SIGSYS for every forbidden system call and
# for raw block I/O outside the device (the file unchanged), the fault report, the device options
# (sector size, MTU, MAC, a handed-in TAP fd, block devices, 63 devices), malformed images and
# settings refused with nothing left behind. capsa-specific.

load helpers

UK=$REPO/build/uk

setup() {
    setup_common
    requires_capsa
    for u in hello blk blkraw net forbidden fault many; do
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

# fnv_sum FILE: the checksum the blk example prints, computed on the host: FNV-1a 64 over the file.
fnv_sum() {
    if [ ! -x "$BATS_TEST_TMPDIR/fnv" ]; then
        cat >"$BATS_TEST_TMPDIR/fnv.c" <<'FNV'
#include <stdio.h>
#include <stdint.h>
int main(void) { uint64_t h = 14695981039346656037ULL; int c;
  while ((c = getchar()) != EOF) { h ^= (uint8_t)c; h *= 1099511628211ULL; }
  printf("0x%016llx\n", (unsigned long long)h); return 0; }
FNV
        gcc -O2 -o "$BATS_TEST_TMPDIR/fnv" "$BATS_TEST_TMPDIR/fnv.c"
    fi
    "$BATS_TEST_TMPDIR/fnv" <"$1"
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
    want=$(fnv_sum "$ROOTFS/disk.img")
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
    [ "$status" -eq 0 ]
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
    [ "$end" -gt 1 ]
    [ "$end" -le "$size" ]
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
    head -c 512 /dev/zero >"$ROOTFS/disk.img"
    update_config '.annotations["capsa.unikernel.block.extra"] = "/disk.img" | .root.readonly = false'
    run capsa run --bundle "$BUNDLE" uk-extra
    [ "$status" -ne 0 ]
    [[ "$output" == *"\"extra\" is granted but the unikernel does not declare it"* ]]
    assert_nothing_left uk-extra
}

# uk_block NAME FILE: grant the block device NAME as FILE (inside the rootfs, made writable).
uk_block() {
    update_config ".annotations[\"capsa.unikernel.block.$1\"] = \"$2\" | .root.readonly = false"
}

# uk_args ARGS...: replace the unikernel's command line (the image stays).
uk_args() {
    local args
    args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
    update_config ".process.args = [.process.args[0]] + $args"
}

@test "unikernel: raw block I/O outside the device, or not one sector, is killed and changes nothing" {
    uk_bundle blkraw
    head -c 65536 /dev/urandom >"$ROOTFS/disk.img"
    uk_block storage /disk.img
    cp "$ROOTFS/disk.img" "$BATS_TEST_TMPDIR/orig"
    sum=$(sha256sum <"$ROOTFS/disk.img")
    # Each makes the raw pread64/pwrite64 itself, past the library's checks: past the end (which
    # grew the file before), far past it, larger or smaller than a sector, unaligned, negative,
    # and with the upper half of the offset or of the size set.
    for t in past-end far read-past-end big small unaligned negative high size-high; do
        uk_args "$t"
        run capsa run --bundle "$BUNDLE" "uk-raw-$t"
        echo "$t: status $status: $output"
        [[ "$output" == *"blkraw: trying $t"* ]] || fail_now "$t: the guest did not get to the call"
        [ "$status" -eq 159 ] || fail_now "$t: expected SIGSYS (159), got $status"
        [[ "$output" != *survived* ]] || fail_now "$t: the unikernel survived"
        [[ "$output" == *"killed by SIGSYS"* ]] || fail_now "$t: capsa did not report SIGSYS"
        [ "$(stat -c %s "$ROOTFS/disk.img")" -eq 65536 ] || fail_now "$t: the file changed size"
        [ "$(sha256sum <"$ROOTFS/disk.img")" = "$sum" ] || fail_now "$t: the file changed"
        assert_nothing_left "uk-raw-$t"
    done
    # The controls: one sector at the last offset is allowed both ways, and the write lands there.
    uk_args read-last
    run capsa run --bundle "$BUNDLE" uk-raw-read-last
    [ "$status" -eq 0 ]
    [[ "$output" == *"blkraw: ok read-last (rc 512)"* ]]
    uk_args last
    run capsa run --bundle "$BUNDLE" uk-raw-last
    [ "$status" -eq 0 ]
    [[ "$output" == *"blkraw: ok last (rc 512)"* ]]
    [ "$(stat -c %s "$ROOTFS/disk.img")" -eq 65536 ]
    [ "$(tail -c 512 "$ROOTFS/disk.img" | tr -d X | wc -c)" -eq 0 ]
    cmp -n 65024 "$ROOTFS/disk.img" "$BATS_TEST_TMPDIR/orig"
}

@test "unikernel: a block file that is not a whole number of sectors is refused, not rounded down" {
    uk_bundle blk
    uk_block storage /disk.img
    # 256 bytes (was silently a 0-byte device), 0 bytes, and 1000 bytes (was 512).
    for size in 256 0 1000; do
        head -c "$size" /dev/urandom >"$ROOTFS/disk.img"
        run capsa run --bundle "$BUNDLE" "uk-odd-$size"
        echo "$size: status $status: $output"
        [ "$status" -ne 0 ] || fail_now "$size: accepted"
        [[ "$output" == *"capsa.unikernel.block.storage"*"/disk.img: its size, $size bytes, is not a whole number of 512-byte sectors"* ]] ||
            fail_now "$size: message"
        [[ "$output" != *"blk:"* ]] || fail_now "$size: the unikernel ran"
        [ "$(stat -c %s "$ROOTFS/disk.img")" -eq "$size" ] || fail_now "$size: the file changed"
        assert_nothing_left "uk-odd-$size"
    done
    # A whole number of 512-byte sectors that is not one of 4096-byte sectors.
    head -c 6144 /dev/urandom >"$ROOTFS/disk.img"
    update_config '.annotations["capsa.unikernel.block-sector-size.storage"] = "4096"'
    run capsa run --bundle "$BUNDLE" uk-odd-4k
    [ "$status" -ne 0 ]
    [[ "$output" == *"its size, 6144 bytes, is not a whole number of 4096-byte sectors"* ]]
    assert_nothing_left uk-odd-4k
}

@test "unikernel: block-sector-size sets the sector size the guest sees and the filter enforces" {
    requires_cmd gcc
    uk_bundle blk
    head -c 16384 /dev/urandom >"$ROOTFS/disk.img"
    uk_block storage /disk.img
    update_config '.annotations["capsa.unikernel.block-sector-size.storage"] = "4096"'
    want=$(fnv_sum "$ROOTFS/disk.img")
    run capsa run --bundle "$BUNDLE" uk-4k
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"blk: 4 blocks of 4096 bytes, sum $want"* ]]
    # The stamp went to the start of the last 4096-byte block.
    [ "$(tail -c 4096 "$ROOTFS/disk.img" | head -c 14)" = "capsa-blk-ok 4" ]
    # The filter pins the new size: half a sector (2048, a whole number of 512-byte sectors) is
    # killed, one sector at the last offset is not.
    cp "$UK/blkraw.spt" "$ROOTFS/blkraw.spt"
    update_config '.process.args = ["/blkraw.spt", "small"]'
    run capsa run --bundle "$BUNDLE" uk-4k-small
    [ "$status" -eq 159 ]
    [[ "$output" == *"trying small (size 2048 at 0)"* ]]
    [[ "$output" != *survived* ]]
    update_config '.process.args = ["/blkraw.spt", "last"]'
    run capsa run --bundle "$BUNDLE" uk-4k-last
    [ "$status" -eq 0 ]
    [[ "$output" == *"ok last (rc 4096)"* ]]
    # Sizes Solo5 refuses too (not a power of two, under 512, over what the manifest holds), and a
    # setting for a device that is not granted, are refused naming the annotation.
    for bad in 1000 256 65536 4k; do
        update_config ".annotations[\"capsa.unikernel.block-sector-size.storage\"] = \"$bad\""
        run capsa run --bundle "$BUNDLE" uk-4k-bad
        [ "$status" -ne 0 ] || fail_now "$bad: accepted"
        [[ "$output" == *"capsa.unikernel.block-sector-size.storage: \"$bad\" is not a sector size"* ]] ||
            fail_now "$bad: $output"
        assert_nothing_left uk-4k-bad
    done
    update_config 'del(.annotations["capsa.unikernel.block-sector-size.storage"])
        | .annotations["capsa.unikernel.block-sector-size.other"] = "4096"'
    run capsa run --bundle "$BUNDLE" uk-4k-other
    [ "$status" -ne 0 ]
    [[ "$output" == *"block-sector-size.other: there is no block device \"other\""* ]]
    assert_nothing_left uk-4k-other
}

@test "unikernel: 63 devices (what a Solo5 manifest declares) each reach their own file; 64 are refused" {
    uk_bundle many
    local ann='.root.readonly = false' i
    mkdir "$ROOTFS/disks"
    for ((i = 0; i < 63; i++)); do
        head -c 1024 /dev/zero >"$ROOTFS/disks/d$i"
        ann+=" | .annotations[\"capsa.unikernel.block.d$i\"] = \"/disks/d$i\""
    done
    update_config "$ann"
    run capsa run --bundle "$BUNDLE" uk-many
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"many: stamped 63 devices"* ]]
    for ((i = 0; i < 63; i++)); do
        [ "$(head -c 20 "$ROOTFS/disks/d$i" | tr -d '\0')" = "capsa-many d$i" ] ||
            fail_now "d$i: $(head -c 20 "$ROOTFS/disks/d$i" | od -c | head -2)"
        [ "$(stat -c %s "$ROOTFS/disks/d$i")" -eq 1024 ] || fail_now "d$i changed size"
    done
    # A 64th grant is more than any manifest can declare.
    head -c 512 /dev/zero >"$ROOTFS/disks/d63"
    update_config '.annotations["capsa.unikernel.block.d63"] = "/disks/d63"'
    run capsa run --bundle "$BUNDLE" uk-many64
    [ "$status" -ne 0 ]
    [[ "$output" == *"more than 63 unikernel devices"* ]]
    assert_nothing_left uk-many64
}

@test "unikernel: a block device (a loop device) serves as the guest's block storage" {
    requires_cmd losetup gcc
    uk_bundle blk
    head -c 16384 /dev/urandom >"$BATS_TEST_TMPDIR/backing"
    want=$(fnv_sum "$BATS_TEST_TMPDIR/backing")
    loop=$(losetup --find --show "$BATS_TEST_TMPDIR/backing" 2>/dev/null) || skip "no loop device"
    defer "losetup -d $loop"
    local maj min
    maj=$((0x$(stat -c %t "$loop")))
    min=$((0x$(stat -c %T "$loop")))
    update_config ".linux.devices += [{\"path\": \"/dev/ukdisk\", \"type\": \"b\", \"major\": $maj,
            \"minor\": $min, \"fileMode\": 384}]
        | .linux.resources.devices += [{\"allow\": true, \"type\": \"b\", \"major\": $maj,
            \"minor\": $min, \"access\": \"rw\"}]
        | .annotations[\"capsa.unikernel.block.storage\"] = \"/dev/ukdisk\""
    run capsa run --bundle "$BUNDLE" uk-loop
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"blk: 32 blocks of 512 bytes, sum $want"* ]]
    # The write went through the loop device into its backing file.
    losetup -d "$loop"
    [ "$(tail -c 512 "$BATS_TEST_TMPDIR/backing" | head -c 15)" = "capsa-blk-ok 32" ]
    # Other special files are still refused.
    update_config '.annotations["capsa.unikernel.block.storage"] = "/dev/null"'
    run capsa run --bundle "$BUNDLE" uk-null
    [ "$status" -ne 0 ]
    [[ "$output" == *"/dev/null is neither a regular file nor a block device"* ]]
    assert_nothing_left uk-null
}

@test "unikernel: the net device gets the interface's MTU (jumbo frames pass) and the MAC asked for" {
    requires_cmd ip ping
    ns=capsauk$$$RANDOM
    ip netns add "$ns"
    defer "ip netns del $ns"
    # A persistent TAP with MTU 9000, which the init attaches to.
    ip netns exec "$ns" ip tuntap add dev tapuk2 mode tap
    ip netns exec "$ns" ip link set tapuk2 mtu 9000
    uk_bundle net ip=10.77.2.2
    uk_net "$ns" tapuk2
    update_config '.annotations["capsa.unikernel.net-mac.service0"] = "02:00:5e:10:20:30"'
    ctr_create uk-mtu
    capsa start uk-mtu
    ip netns exec "$ns" ip addr add 10.77.2.1/24 dev tapuk2
    ip netns exec "$ns" ip link set tapuk2 up
    # 8000 bytes of payload, not fragmented: one 8042-byte frame each way.
    run ip netns exec "$ns" ping -c 2 -W 5 -s 8000 -M "do" 10.77.2.2
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"2 received"* ]]
    cat "$BATS_TEST_TMPDIR/uk-mtu.out"
    grep -q "net: 10.77.2.2 at 02:00:5e:10:20:30 mtu 9000" "$BATS_TEST_TMPDIR/uk-mtu.out"
    # The host learnt the MAC from the guest's ARP reply (while the TAP is up: the entry goes with
    # the carrier when the unikernel stops).
    ip netns exec "$ns" ip neigh show 10.77.2.2 dev tapuk2 | grep -q "lladdr 02:00:5e:10:20:30"
    capsa kill uk-mtu KILL
    wait_for 50 status_is uk-mtu stopped
    capsa delete uk-mtu
    # A group address, a malformed one, and one for an undeclared device are refused.
    for bad in 01:00:5e:00:00:01 00:00:00:00:00:00 02:00:5e:10:20 02-00-5e-10-20-30 zz:00:5e:10:20:30; do
        update_config ".annotations[\"capsa.unikernel.net-mac.service0\"] = \"$bad\""
        run capsa run --bundle "$BUNDLE" uk-mac-bad
        [ "$status" -ne 0 ] || fail_now "$bad: accepted"
        [[ "$output" == *"net-mac.service0: \"$bad\" is not a unicast MAC address"* ]] ||
            fail_now "$bad: $output"
        assert_nothing_left uk-mac-bad
    done
    update_config 'del(.annotations["capsa.unikernel.net-mac.service0"])
        | .annotations["capsa.unikernel.net-mac.other"] = "02:00:5e:10:20:30"'
    run capsa run --bundle "$BUNDLE" uk-mac-other
    [ "$status" -ne 0 ]
    [[ "$output" == *"net-mac.other: there is no net device \"other\""* ]]
    assert_nothing_left uk-mac-other
}

# uk_netns_only NETNS: join NETNS, with no /dev/net/tun (a handed-in TAP fd needs none).
uk_netns_only() {
    update_config ".linux.namespaces = [.linux.namespaces[] | select(.type != \"network\")]
        + [{\"type\": \"network\", \"path\": \"/var/run/netns/$1\"}]"
}

@test "unikernel: a TAP fd handed in with --preserve-fds serves the net device; other fds are refused" {
    requires_cmd ip ping
    ns=capsauk$$$RANDOM
    ip netns add "$ns"
    defer "ip netns del $ns"
    uk_bundle net ip=10.77.3.2 count=2
    uk_netns_only "$ns"
    update_config '.annotations["capsa.unikernel.net.service0"] = "@3"'
    tapfd=$REPO/build/helpers/tapfd
    # As an engine would: the TAP is opened in the container's network namespace, the fd handed in.
    "$tapfd" "/var/run/netns/$ns" tapuk3 3 -- "$CAPSA" --root "$CAPSA_ROOT" create \
        --preserve-fds 1 --bundle "$BUNDLE" uk-fd </dev/null >"$BATS_TEST_TMPDIR/uk-fd.out" 2>&1 ||
        fail_now "create: $(cat "$BATS_TEST_TMPDIR/uk-fd.out")"
    capsa start uk-fd
    ip netns exec "$ns" ip addr add 10.77.3.1/24 dev tapuk3
    ip netns exec "$ns" ip link set tapuk3 up
    run ip netns exec "$ns" ping -c 2 -W 5 10.77.3.2
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"2 received"* ]]
    wait_for 50 status_is uk-fd stopped
    grep -q "mtu 1500" "$BATS_TEST_TMPDIR/uk-fd.out"
    capsa delete uk-fd

    # Not handed in (no --preserve-fds, or fd 4 when only 3 is).
    run "$tapfd" "/var/run/netns/$ns" tapuk3 3 -- "$CAPSA" --root "$CAPSA_ROOT" run \
        --bundle "$BUNDLE" uk-fd-none
    [ "$status" -ne 0 ]
    [[ "$output" == *"capsa.unikernel.net.service0: fd 3: no fd is handed in"* ]]
    assert_nothing_left uk-fd-none
    update_config '.annotations["capsa.unikernel.net.service0"] = "@4"'
    run "$tapfd" "/var/run/netns/$ns" tapuk3 3 -- "$CAPSA" --root "$CAPSA_ROOT" run \
        --preserve-fds 1 --bundle "$BUNDLE" uk-fd-4
    [ "$status" -ne 0 ]
    [[ "$output" == *"fd 4 is not one of the fds handed in with --preserve-fds 1"* ]]
    assert_nothing_left uk-fd-4
    update_config '.annotations["capsa.unikernel.net.service0"] = "@3"'
    # Not a TAP: a regular file.
    run "$CAPSA" --root "$CAPSA_ROOT" run --preserve-fds 1 --bundle "$BUNDLE" uk-fd-file \
        3<"$BUNDLE/config.json"
    [ "$status" -ne 0 ]
    [[ "$output" == *"fd 3 is not a TAP device"* ]]
    assert_nothing_left uk-fd-file
    # A TUN (IP packets, not frames) and a TAP with virtio headers (frames the guest would misread).
    for kind in tun vnet; do
        run "$tapfd" "/var/run/netns/$ns" tapuk3 3 "$kind" -- "$CAPSA" --root "$CAPSA_ROOT" run \
            --preserve-fds 1 --bundle "$BUNDLE" "uk-fd-$kind"
        [ "$status" -ne 0 ] || fail_now "$kind: accepted"
        [[ "$output" == *"fd 3 (interface tapuk3) is not a TAP without IFF_VNET_HDR"* ]] ||
            fail_now "$kind: $output"
        assert_nothing_left "uk-fd-$kind"
    done
    # A TAP in another network namespace (the host's) than the container's.
    run "$tapfd" - tapuk3x$$ 3 -- "$CAPSA" --root "$CAPSA_ROOT" run \
        --preserve-fds 1 --bundle "$BUNDLE" uk-fd-ns
    [ "$status" -ne 0 ]
    [[ "$output" == *"interface tapuk3x$$ is not in the container's network namespace"* ]]
    assert_nothing_left uk-fd-ns
    # Bad syntax never reaches the host.
    update_config '.annotations["capsa.unikernel.net.service0"] = "@x"'
    run capsa run --bundle "$BUNDLE" uk-fd-syntax
    [ "$status" -ne 0 ]
    [[ "$output" == *"\"@x\" is neither an interface name nor @FD"* ]]
    assert_nothing_left uk-fd-syntax
}

@test "unikernel: a guest that faults is reported (signal, address, instruction) and dies of that signal" {
    local f sig code
    for f in segv:SIGSEGV:139 text:SIGSEGV:139 ill:SIGILL:132 fpe:SIGFPE:136 bus:SIGBUS:135 \
        trap:SIGTRAP:133; do
        IFS=: read -r f sig code <<<"$f"
        uk_bundle fault "$f"
        run capsa run --bundle "$BUNDLE" "uk-fault-$f"
        echo "$f: status $status: $output"
        [ "$status" -eq "$code" ] || fail_now "$f: expected $code, got $status"
        [[ "$output" == *"fault: $f"* ]] || fail_now "$f: the guest did not start"
        [[ "$output" != *survived* ]] || fail_now "$f: survived"
        # The tender, on the console, and capsa run, on its stderr.
        [[ "$output" == *"unikernel fault: $sig at address 0x"*", instruction 0x"* ]] ||
            fail_now "$f: no fault report from the tender"
        [[ "$output" == *"unikernel uk-fault-$f killed by $sig: the guest faulted"* ]] ||
            fail_now "$f: no report from capsa run"
        assert_nothing_left "uk-fault-$f"
    done
    # The address is the one the guest touched: 0x8 for segv, its own code for text.
    uk_bundle fault segv
    run capsa run --bundle "$BUNDLE" uk-fault-addr
    [ "$status" -eq 139 ]
    [[ "$output" == *"unikernel fault: SIGSEGV at address 0x8, instruction 0x1"* ]]
    uk_bundle fault none
    run capsa run --bundle "$BUNDLE" uk-fault-none
    [ "$status" -eq 0 ]
    [[ "$output" == *ok* ]]
    [[ "$output" != *"unikernel fault"* ]]
}

@test "unikernel: an unknown capsa.unikernel annotation is refused naming it" {
    uk_bundle hello
    update_config '.annotations["capsa.unikernel.blocks.storage"] = "/disk.img"'
    run capsa run --bundle "$BUNDLE" uk-unknown
    [ "$status" -ne 0 ]
    [[ "$output" == *"annotations.capsa.unikernel.blocks.storage: not a unikernel annotation"* ]]
    assert_nothing_left uk-unknown
}
