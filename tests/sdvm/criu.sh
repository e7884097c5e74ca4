#!/bin/bash
# criu.sh - checkpoint and restore with CRIU, checked from outside the containers. TAP. Runs as root
# inside the sdvm guest (tests/sdvm/run.sh), which boots Debian's own kernel: Debian 12's CRIU 3.17
# fails `criu check` on the development hosts' newer kernels, but works here.
#
#   tests/sdvm/run.sh --bin build/helpers/recvtty tests/sdvm/criu.sh  # build/capsa
#   tests/sdvm/run.sh --runtime /usr/sbin/runc --bin build/helpers/recvtty tests/sdvm/criu.sh
#
# Each workload is a counter: a shell loop that writes an ever larger number to /count in its
# rootfs, which the test reads from the host. A checkpoint must stop it (the container is gone:
# state, process and cgroup) and a restore must bring it back where it was: the first number read
# after the restore is not below the last one before it (a fresh start would begin at 1 again),
# and it goes on counting. The container's stdio are pipes, as under an engine's shim.
#
# Validated against Debian 12's runc 1.1.5 (`--runtime /usr/sbin/runc`), which passes all but two
# checks where capsa is stricter: runc restores a container under a new ID into the cgroup of the
# container it was dumped from (/c1, not /c1r), and a checkpoint that fails because CRIU is
# missing leaves the image directory runc made.
# Environment (from run.sh): RUNTIME, SDVM_ROOTFS; recvtty (tests/helpers, run.sh --bin) for the
# terminal checks.
# shellcheck disable=SC2016 # single-quoted $ belongs to command lines run inside the containers
set -uo pipefail

RUNTIME=${RUNTIME:?RUNTIME is not set}
W=$(mktemp -d /var/tmp/criu.XXXXXX)
CG=/sys/fs/cgroup

n=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
notok() {
    n=$((n + 1))
    echo "not ok $n - $1"
    shift
    local l
    for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}
check() { # NAME EXPECTED ACTUAL [diagnostics...]
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        notok "$1" "expected: $(printf %q "$2")" "actual:   $(printf %q "$3")" "${@:4}"
    fi
}
wait_for() { # CMD...: poll until it succeeds; 60 s turn a hang into a failure
    local end=$((SECONDS + 60))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}
rstate() { "$RUNTIME" "${G[@]}" state "$1" 2>/dev/null | jq -r .status 2>/dev/null; }
rpid() { "$RUNTIME" "${G[@]}" state "$1" 2>/dev/null | jq -r .pid 2>/dev/null; }
state_is() { [ "$(rstate "$1")" = "$2" ]; }
count() { cat "$W/$1/rootfs/count" 2>/dev/null || echo 0; }
count_above() { [ "$(count "$1")" -gt "$2" ]; }
G=()

cleanup() {
    local id
    for id in $("$RUNTIME" list -q 2>/dev/null) $("$RUNTIME" --systemd-cgroup list -q 2>/dev/null); do
        "$RUNTIME" delete --force "$id" >/dev/null 2>&1
    done
    if [ -n "${CONTAINERS_CONF:-}" ]; then podman rm -a -f -t 0 >/dev/null 2>&1; fi
    # The stdio holders (sleep, cat) of the containers.
    pkill -f "sleep 7777" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT

echo "# runtime: $RUNTIME ($("$RUNTIME" --version 2>&1 | head -n1))"
echo "# criu: $(criu --version 2>&1 | head -n1); kernel $(uname -r)"
out=$(criu check 2>&1)
case "$out" in
*"Looks good"*) ok "criu check: CRIU works on this kernel" ;;
*) notok "criu check: CRIU works on this kernel" "$out" ;;
esac

# bundle NAME [CGROUPSPATH]: $W/NAME with its own copy of the rootfs, a writable root, no
# terminal, and the counter as its process.
bundle() {
    local b=$W/$1
    mkdir -p "$b" && cp -a "$SDVM_ROOTFS" "$b/rootfs" || return 1
    (cd "$b" && "$RUNTIME" spec >/dev/null 2>&1) || return 1
    jq --arg cp "${2:-}" \
        '.process.terminal = false | .root.readonly = false | .root.path = "rootfs" |
         .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.1; done"] |
         .linux.cgroupsPath = $cp' "$b/config.json" >"$b/config.new" && mv "$b/config.new" "$b/config.json"
}
# detached RUNTIME-ARGS...: run the runtime with pipes as stdio (stdin from a sleeping writer,
# stdout and stderr to a reader that copies them to $W/rt.out), as conmon and containerd's shim
# give a container: CRIU can dump a pipe, not a file of the host. Returns the runtime's status.
detached() {
    : >"$W/rt.out"
    "$RUNTIME" "${G[@]}" "$@" < <(exec sleep 7777) > >(exec cat >>"$W/rt.out") 2>&1
}
# in_cgroup PID SUFFIX: the process's cgroup (v2) ends with SUFFIX.
in_cgroup() { [[ "$(cat "/proc/$1/cgroup" 2>/dev/null)" == 0::*"$2" ]]; }

# ---- checkpoint stops the container, restore (a new ID) resumes the counter ----------------------
bundle c1
if detached run -d --bundle "$W/c1" c1 && wait_for count_above c1 5; then
    ok "run -d: the counter runs"
else
    notok "run -d: the counter runs" "$(cat "$W/rt.out")" "count: $(count c1)"
fi
pid=$(rpid c1)
cg1=$(sed -n 's/^0:://p' "/proc/$pid/cgroup" 2>/dev/null)
out=$("$RUNTIME" checkpoint --image-path "$W/img1" --work-path "$W/work1" c1 2>&1)
check "checkpoint: exit 0" 0 "$?" "$out" "$(grep -h Error "$W/work1/dump.log" 2>/dev/null | tail -n5)"
before=$(count c1)
check "checkpoint: CRIU wrote the images (inventory.img, descriptors.json)" "yes yes" \
    "$([ -s "$W/img1/inventory.img" ] && echo yes || echo no) $([ -s "$W/img1/descriptors.json" ] && echo yes || echo no)"
left=
"$RUNTIME" state c1 >/dev/null 2>&1 && left="$left state"
kill -0 "$pid" 2>/dev/null && left="$left process"
[ -n "$cg1" ] && [ -d "$CG$cg1" ] && left="$left cgroup"
check "checkpoint: the container is gone (state fails, no process, no cgroup)" "" "$left"
sleep 0.5
check "checkpoint: the counter stopped" "$before" "$(count c1)"
if detached restore -d --image-path "$W/img1" --work-path "$W/work1r" --bundle "$W/c1" c1r &&
    wait_for state_is c1r running; then
    ok "restore -d into a new ID: running"
else
    notok "restore -d into a new ID: running" "$(cat "$W/rt.out")" \
        "$(grep -h Error "$W/work1r/restore.log" 2>/dev/null | tail -n5)"
fi
first=$(count c1)
sleep 0.3
first=$(count c1)
if state_is c1r running && [ "$first" -ge "$before" ] && wait_for count_above c1 $((first + 3)); then
    ok "restore: the counter goes on from $before (read $first, then $(count c1))"
else
    notok "restore: the counter goes on from where it was" "before: $before first: $first now: $(count c1)"
fi
rpid=$(rpid c1r)
if in_cgroup "$rpid" /c1r; then
    ok "restore: the process is in the new container's cgroup"
else
    notok "restore: the process is in the new container's cgroup" "$(cat "/proc/$rpid/cgroup" 2>&1)"
fi
out=$("$RUNTIME" exec c1r cat /count 2>&1)
if [ "${out:-0}" -ge "$first" ] 2>/dev/null; then
    ok "exec into the restored container: reads /count ($out)"
else
    notok "exec into the restored container" "$out"
fi
"$RUNTIME" kill c1r KILL >/dev/null 2>&1
wait_for state_is c1r stopped
out=$("$RUNTIME" delete c1r 2>&1)
check "kill + delete the restored container: exit 0, its cgroup gone" "0 gone" \
    "$? $([ -d "$CG${cg1%/c1}/c1r" ] && echo left || echo gone)" "$out"

# ---- --leave-running, then a restore of a copy next to it --------------------------------------
bundle c2
detached run -d --bundle "$W/c2" c2 && wait_for count_above c2 3
out=$("$RUNTIME" checkpoint --leave-running --image-path "$W/img2" c2 2>&1)
check "checkpoint --leave-running: exit 0" 0 "$?" "$out"
now=$(count c2)
if state_is c2 running && wait_for count_above c2 $((now + 3)); then
    ok "checkpoint --leave-running: the container runs on and counts"
else
    notok "checkpoint --leave-running: the container runs on" "state: $(rstate c2) count: $(count c2)"
fi
mkdir -p "$W/c2b" && cp -a "$W/c2/rootfs" "$W/c2b/rootfs" && cp "$W/c2/config.json" "$W/c2b/"
if detached restore -d --image-path "$W/img2" --bundle "$W/c2b" c2b &&
    wait_for state_is c2b running && wait_for count_above c2b $((now + 3)); then
    ok "restore of the --leave-running image beside the original: both count"
else
    notok "restore of the --leave-running image beside the original" "$(cat "$W/rt.out")" \
        "$(grep -h Error "$W/img2/restore.log" 2>/dev/null | tail -n5)" "count: $(count c2b)"
fi
check "the original still runs" running "$(rstate c2)"
"$RUNTIME" delete --force c2 >/dev/null 2>&1
"$RUNTIME" delete --force c2b >/dev/null 2>&1

# ---- --pre-dump, then a dump on top of it (--parent-path) ---------------------------------------
bundle c3
detached run -d --bundle "$W/c3" c3 && wait_for count_above c3 3
out=$("$RUNTIME" checkpoint --pre-dump --image-path "$W/c3pre" c3 2>&1)
check "checkpoint --pre-dump: exit 0, the container runs on" "0 running" "$? $(rstate c3)" "$out"
out=$("$RUNTIME" checkpoint --image-path "$W/c3img" --parent-path ../c3pre c3 2>&1)
check "checkpoint --parent-path ../PRE: exit 0" 0 "$?" "$out"
before=$(count c3)
if [ -L "$W/c3img/parent" ] || grep -q parent <(ls "$W/c3img" 2>/dev/null); then
    ok "checkpoint --parent-path: the images link their parent"
else
    notok "checkpoint --parent-path: the images link their parent" "$(ls -l "$W/c3img" 2>&1)"
fi
if detached restore -d --image-path "$W/c3img" --bundle "$W/c3" c3 && wait_for state_is c3 running &&
    wait_for count_above c3 $((before + 3)); then
    ok "restore from a pre-dumped checkpoint under the same ID: counts on from $before"
else
    notok "restore from a pre-dumped checkpoint" "$(cat "$W/rt.out")" \
        "$(grep -h Error "$W/c3img/restore.log" 2>/dev/null | tail -n5)"
fi
"$RUNTIME" delete --force c3 >/dev/null 2>&1

# ---- restore in the foreground: the runtime waits and exits with the process's status ----------
bundle c4
detached run -d --bundle "$W/c4" c4 && wait_for count_above c4 3
"$RUNTIME" checkpoint --image-path "$W/img4" c4 >/dev/null 2>&1
detached restore --image-path "$W/img4" --bundle "$W/c4" c4 &
fg=$!
if wait_for state_is c4 running; then
    "$RUNTIME" kill c4 KILL
    wait "$fg"
    rc=$?
    check "restore in the foreground: exits 137 when the process is killed, container removed" \
        "137 gone" "$rc $("$RUNTIME" state c4 >/dev/null 2>&1 && echo left || echo gone)"
else
    notok "restore in the foreground: the container runs" "$(cat "$W/rt.out")"
    kill "$fg" 2>/dev/null
fi

# ---- failures leave nothing behind --------------------------------------------------------------
bundle c5
detached run -d --bundle "$W/c5" c5 && wait_for count_above c5 3
out=$("$RUNTIME" --criu /nonexistent/criu checkpoint --image-path "$W/img5" c5 2>&1)
rc=$?
if [ "$rc" != 0 ] && [[ $out == *criu* ]] && state_is c5 running && [ ! -e "$W/img5" ]; then
    ok "checkpoint with a missing CRIU: fails naming criu, the container runs on, no image dir"
else
    notok "checkpoint with a missing CRIU: fails cleanly" "rc=$rc: $out" "state: $(rstate c5)" \
        "$(ls -d "$W/img5" 2>&1)"
fi
"$RUNTIME" checkpoint --image-path "$W/img5" c5 >/dev/null 2>&1
# A restore that CRIU refuses (its root is not the one dumped: the rootfs is empty).
mkdir -p "$W/c5e/rootfs" && cp "$W/c5/config.json" "$W/c5e/"
out=$(detached restore -d --image-path "$W/img5" --bundle "$W/c5e" c5e; cat "$W/rt.out")
rc=$?
if ! state_is c5e running && ! "$RUNTIME" state c5e >/dev/null 2>&1 && [[ $out == *criu* ]] &&
    [ ! -d "$CG${cg1%/c1}/c5e" ]; then
    ok "a restore that CRIU fails: an error naming criu, no state, no cgroup left"
else
    notok "a restore that CRIU fails: nothing left" "$out" "state: $(rstate c5e)"
fi

# ---- the systemd cgroup driver -------------------------------------------------------------------
G=(--systemd-cgroup)
bundle c6 system.slice:capsa:c6
detached run -d --bundle "$W/c6" c6 && wait_for count_above c6 3
out=$("$RUNTIME" --systemd-cgroup checkpoint --image-path "$W/img6" c6 2>&1)
check "--systemd-cgroup: checkpoint exit 0, unit capsa-c6.scope gone" "0 inactive" \
    "$? $(systemctl is-active capsa-c6.scope 2>/dev/null)" "$out"
before=$(count c6)
# The new container's own scope: the config names it (the bundle is the engine's to change).
jq '.linux.cgroupsPath = "system.slice:capsa:c6r"' "$W/c6/config.json" >"$W/c6/config.new" &&
    mv "$W/c6/config.new" "$W/c6/config.json"
detached restore -d --image-path "$W/img6" --bundle "$W/c6" c6r
rpid=$(rpid c6r)
if state_is c6r running && wait_for count_above c6 $((before + 3)) &&
    [ "$(systemctl is-active capsa-c6r.scope 2>&1)" = active ] && in_cgroup "$rpid" /capsa-c6r.scope; then
    ok "--systemd-cgroup: restore into unit capsa-c6r.scope, counting on"
else
    notok "--systemd-cgroup: restore into a new scope" "$(cat "$W/rt.out")" \
        "unit: $(systemctl is-active capsa-c6r.scope 2>&1) cgroup: $(cat "/proc/$rpid/cgroup" 2>&1)"
fi
"$RUNTIME" --systemd-cgroup delete --force c6r >/dev/null 2>&1
sleep 0.5
check "--systemd-cgroup: delete of the restored container stops its unit" inactive \
    "$(systemctl is-active capsa-c6r.scope 2>/dev/null)"
G=()

# ---- a terminal: the restored process gets a new pty, whose master goes to --console-socket ------
if command -v recvtty >/dev/null; then
    bundle t1
    jq '.process.terminal = true |
        .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /count; echo tick$i; sleep 0.1; done"]' \
        "$W/t1/config.json" >"$W/t1/config.new" && mv "$W/t1/config.new" "$W/t1/config.json"
    recvtty "$W/tty1.sock" >"$W/tty1.out" 2>&1 &
    wait_for test -S "$W/tty1.sock"
    if detached run -d --console-socket "$W/tty1.sock" --bundle "$W/t1" t1 && wait_for count_above t1 3; then
        ok "terminal: run -d --console-socket, the counter runs"
    else
        notok "terminal: run -d --console-socket" "$(cat "$W/rt.out")"
    fi
    out=$("$RUNTIME" checkpoint --image-path "$W/timg" t1 2>&1)
    check "terminal: checkpoint exit 0" 0 "$?" "$out" "$(grep -h Error "$W/timg/dump.log" 2>/dev/null | tail -n5)"
    before=$(count t1)
    recvtty "$W/tty2.sock" >"$W/tty2.out" 2>&1 &
    wait_for test -S "$W/tty2.sock"
    if detached restore -d --console-socket "$W/tty2.sock" --image-path "$W/timg" --bundle "$W/t1" t1r &&
        wait_for count_above t1 $((before + 3)) && wait_for grep -q "tick$((before + 2))" "$W/tty2.out"; then
        ok "terminal: restore --console-socket: counts on from $before, its output through the new pty"
    else
        notok "terminal: restore --console-socket" "$(cat "$W/rt.out")" \
            "$(grep -h Error "$W/timg/restore.log" 2>/dev/null | tail -n5)" "tty2: $(tail -c 200 "$W/tty2.out")"
    fi
    "$RUNTIME" delete --force t1r >/dev/null 2>&1
else
    n=$((n + 1))
    echo "ok $n - terminal checkpoint/restore # SKIP no recvtty (run.sh --bin build/helpers/recvtty)"
fi

# ---- podman container checkpoint / restore --------------------------------------------------------
rtname=${RUNTIME##*/}
export CONTAINERS_CONF=$W/containers.conf
cat >"$CONTAINERS_CONF" <<EOF
[containers]
log_driver = "k8s-file"

[engine]
cgroup_manager = "systemd"
events_logger = "file"
events_logfile_path = "$W/podman-events.log"
runtime = "$rtname"
runtime_supports_json = ["crun", "runc", "capsa"]

[engine.runtimes]
$rtname = ["$RUNTIME"]
EOF
IMG=localhost/criu-busybox:latest
tar -C "$SDVM_ROOTFS" -cf "$W/rootfs.tar" . &&
    podman import --change 'CMD ["/bin/sh"]' "$W/rootfs.tar" "$IMG" >"$W/import.out" 2>&1
pcount() { podman exec pc cat /count 2>/dev/null || echo 0; }
pcount_above() { [ "$(pcount)" -gt "$1" ]; }
if podman run -d --name pc --network none "$IMG" \
    sh -c 'i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.1; done' >"$W/pc.out" 2>&1 &&
    wait_for pcount_above 3; then
    ok "podman run -d: the counter runs ($(podman --version))"
else
    notok "podman run -d: the counter runs" "$(cat "$W/pc.out")"
fi
out=$(podman container checkpoint pc 2>&1)
check "podman container checkpoint: exit 0, the container exited" "0 exited" \
    "$? $(podman inspect --format '{{.State.Status}}' pc 2>&1)" "$out"
before=$(cat "$(podman inspect --format '{{.GraphDriver.Data.UpperDir}}' pc 2>/dev/null)/count" 2>/dev/null)
out=$(podman container restore pc 2>&1)
rc=$?
check "podman container restore: exit 0, running" "0 running" \
    "$rc $(podman inspect --format '{{.State.Status}}' pc 2>&1)" "$out"
if [ "$rc" = 0 ] && [ -n "$before" ] && wait_for pcount_above $((before + 3)); then
    ok "podman: the restored counter goes on from $before ($(pcount))"
else
    notok "podman: the restored counter goes on" "before: ${before:-?} now: $(pcount)"
fi
# Migration's shape: the checkpoint exported to a file, the container removed, then imported as
# a new container (a new ID and bundle, the same processes).
before=$(pcount)
out=$(podman container checkpoint --export "$W/pc.tar.gz" pc 2>&1)
check "podman container checkpoint --export: exit 0, an archive" "0 yes" \
    "$? $([ -s "$W/pc.tar.gz" ] && echo yes || echo no)" "$out"
out=$(podman rm -f -t 0 pc 2>&1)
check "podman rm -f of the checkpointed container: exit 0" 0 "$?" "$out"
out=$(podman container restore --import "$W/pc.tar.gz" --name pc2 2>&1)
rc=$?
check "podman container restore --import --name pc2: exit 0, running" "0 running" \
    "$rc $(podman inspect --format '{{.State.Status}}' pc2 2>&1)" "$out"
p2count() { podman exec pc2 cat /count 2>/dev/null || echo 0; }
p2count_above() { [ "$(p2count)" -gt "$1" ]; }
# Not below the count read before the export (a fresh start would begin at 1), then counting.
first=$(p2count)
if [ "$rc" = 0 ] && [ "$first" -ge "$before" ] && wait_for p2count_above $((first + 3)); then
    ok "podman: the imported counter goes on from $before (read $first, then $(p2count))"
else
    notok "podman: the imported counter goes on" "before: $before first: $first now: $(p2count)"
fi
out=$(podman rm -f -t 0 pc2 2>&1)
check "podman rm -f of the imported container: exit 0" 0 "$?" "$out"

echo "1..$n"
