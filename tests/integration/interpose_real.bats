#!/usr/bin/env bats
# interpose_real.bats - real programs at the interpose level: python3 in a Debian rootfs made by
# debootstrap --variant=minbase (scripts/mkdebian.sh, cached under build/), busybox's tar and sh
# scripts. Every effect is checked from the host: the files the program wrote, renamed and
# listed in a host directory, the tree tar wrote, byte for byte.

load helpers

DEBIAN_CACHE=${CAPSA_TEST_DEBIAN:-$REPO/build/debian-rootfs}

setup() {
    setup_common
    requires_capsa
}

teardown() {
    teardown_common
}

# A bundle whose root is the cached Debian tree, read-only (not copied), with /tmp a tmpfs and
# /data a fresh host directory ($DATA).
setup_debian_bundle() {
    (
        flock 9
        "$REPO/scripts/mkdebian.sh" "$DEBIAN_CACHE"
    ) 9>"$DEBIAN_CACHE.lock" || skip "no Debian rootfs (debootstrap needs Debian's archive)"
    BUNDLE=$BATS_TEST_TMPDIR/deb
    mkdir -p "$BUNDLE"
    "$CAPSA" spec --bundle "$BUNDLE"
    update_config ".root.path = \"$DEBIAN_CACHE\" | .root.readonly = true
        | .process.terminal = false
        | .annotations[\"capsa.isolation\"] = \"interpose\"
        | .mounts += [{\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",
                       \"options\": [\"nosuid\", \"nodev\", \"mode=1777\"]}]"
    DATA=$(add_host_dir /data)
    cp "$BATS_TEST_DIRNAME/data/ipprog.py" "$DATA/ipprog.py"
}

@test "interpose: python3 reads, writes, renames, lists, spawns a child, talks over unix and TCP" {
    setup_debian_bundle
    update_config '.process.args = ["python3", "/data/ipprog.py"]'
    run capsa run --bundle "$BUNDLE" "py-$MARK"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"list b.txt ipprog.py sub"* ]]
    [[ "$output" == *"read hello from python"* ]]
    [[ "$output" == *"stat 17"* ]]
    [[ "$output" == *"child child says hi"* ]]
    [[ "$output" == *"unix OVER UNIX"* ]]
    [[ "$output" == *"tcp OVER TCP"* ]]
    [[ "$output" == *"done"* ]]
    # From the host: the rename happened, the content is right, the directory exists.
    [ "$(cat "$DATA/b.txt")" = "hello from python" ]
    [ ! -e "$DATA/a.txt" ]
    [ -d "$DATA/sub" ]
    assert_nothing_left "py-$MARK"
}

@test "interpose: python3 cannot open a path the policy hides, nor write a read-only one" {
    setup_debian_bundle
    update_config '.annotations["capsa.interpose.hidden"] = "/etc/passwd"
        | .annotations["capsa.interpose.readonly"] = "/data/ro"
        | .process.args = ["python3", "-c", "
import os
for p, m in ((\"/etc/passwd\", \"r\"), (\"/etc/../etc/passwd\", \"r\"), (\"/data/ro/f\", \"w\")):
    try:
        open(p, m).close()
        print(p, \"opened\")
    except OSError as e:
        print(p, e.errno)
"]'
    mkdir "$DATA/ro"
    echo original >"$DATA/ro/f"
    run capsa run --bundle "$BUNDLE" "pyp-$MARK"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"/etc/passwd 2"* ]]        # ENOENT
    [[ "$output" == *"/etc/../etc/passwd 2"* ]] # ENOENT
    [[ "$output" == *"/data/ro/f 30"* ]]        # EROFS
    [ "$(cat "$DATA/ro/f")" = original ]
}

@test "interpose: tar of a tree out and back in, byte for byte; a sh script" {
    setup_bundle
    update_config '.annotations["capsa.isolation"] = "interpose"'
    DATA=$(add_host_dir /data)
    mkdir -p "$DATA/src"
    local i
    for i in $(seq 1 300); do
        mkdir -p "$DATA/src/d$((i % 17))"
        head -c $((i * 37)) /dev/urandom >"$DATA/src/d$((i % 17))/f$i"
    done
    ln -s d1/f1 "$DATA/src/link"
    update_config '.process.args = ["sh", "-c",
        "cd /data && tar -cf t.tar src && mkdir out && tar -C out -xf t.tar && n=0 && for f in out/src/d1/*; do n=$((n+1)); done && echo files=$n && cat out/src/link >/dev/null && echo ok"]'
    run capsa run --bundle "$BUNDLE" "tar-$MARK"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *ok* ]]
    diff -r "$DATA/src" "$DATA/out/src"
    [ "$(readlink "$DATA/out/src/link")" = d1/f1 ]
    assert_nothing_left "tar-$MARK"
}

@test "interpose: a blocking connect that cannot complete does not hold the container's other brokered calls" {
    setup_debian_bundle
    # A listener that never accepts, its backlog filled: the next blocking connect waits for
    # the peer (SYNs dropped). Meanwhile the main thread opens, writes and renames files, all
    # brokered, and reports; then it exits (os._exit) with the connect still pending.
    update_config '.process.args = ["python3", "-c", "
import os, socket, threading, time
srv = socket.socket(); srv.bind((\"127.0.0.1\", 0)); srv.listen(0)
port = srv.getsockname()[1]
held = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    try:
        c.connect((\"127.0.0.1\", port))
    except BlockingIOError:
        pass
    held.append(c)
state = {}
def blocked():
    c = socket.socket()
    state[\"started\"] = True
    c.connect((\"127.0.0.1\", port))
    state[\"connected\"] = True
t = threading.Thread(target=blocked, daemon=True); t.start()
while \"started\" not in state:
    time.sleep(0.01)
time.sleep(0.5)
for i in range(50):
    with open(\"/data/f%d\" % i, \"w\") as f:
        f.write(\"x\")
    os.rename(\"/data/f%d\" % i, \"/data/g%d\" % i)
print(\"files done, connect pending:\", \"connected\" not in state, flush=True)
os._exit(0)
"]'
    run timeout 120 "$CAPSA" --root "$CAPSA_ROOT" run --bundle "$BUNDLE" "conn-$MARK"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"files done"* ]]
    [ -e "$DATA/g49" ]
    [ ! -e "$DATA/f49" ]
}
