#!/bin/bash
# tests/engines/containerd.sh [RUNTIME] - containerd (Debian 12's 1.6) driving an OCI runtime, TAP.
#
# RUNTIME defaults to the repository's build/capsa; /usr/bin/crun (or runc) runs the same checks for
# comparison. containerd reaches the runtime the way Kubernetes RuntimeClass does: the
# io.containerd.runc.v2 shim with the options BinaryName = RUNTIME (ctr: --runc-binary; CRI: the
# runtime handler "capsa" in config.toml). containerd runs by hand (no systemd here) with a private
# config.toml, root, state dir and socket, inside a private mount + network namespace: /run is a fresh
# tmpfs (shim sockets, runtime state, CNI netns), the CNI bridge's addresses and iptables rules land
# in the private network namespace, and everything left over dies with the namespaces.
# Images are built locally (no registry): the busybox rootfs of scripts/mkrootfs.sh and a "pause"
# image around tests/engines/cri/pause/pause.c, packed as OCI archives by tests/engines/cri/mkimage.sh and
# `ctr images import`ed. The CRI part uses tests/engines/cri/main.go (crictl is not in Debian 12).
#
# Host needs reflected in the configuration (not in the runtime): SystemdCgroup = false (cgroupfs,
# no systemd), restrict_oom_score_adj = true (no CAP_SYS_RESOURCE in the bounding set).
# shellcheck disable=SC2016 # single-quoted $ belongs to command lines run inside the containers
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
self="$repo/tests/engines/containerd.sh"
RUNTIME=${1:-${RUNTIME:-$repo/build/capsa}}

if [ "${CAPSA_CTD_INNER:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "1..0 # SKIP containerd engine test needs root"
        exit 0
    fi
    need=()
    for p in containerd golang-go golang-google-grpc-dev containernetworking-plugins iptables jq \
        gcc libc6-dev util-linux iproute2; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        echo "# installing ${need[*]}" >&2
        if ! { apt-get update -qq >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
                "${need[@]}" >&2; }; then
            echo "Bail out! apt-get install ${need[*]} failed"
            exit 1
        fi
    fi
    if [ "$RUNTIME" = "$repo/build/capsa" ] && [ ! -x "$RUNTIME" ]; then
        make -C "$repo" -j2 build/capsa >&2 || {
            echo "Bail out! make build/capsa failed"
            exit 1
        }
    fi
    RUNTIME=$(readlink -f "$RUNTIME")
    if [ ! -x "$RUNTIME" ]; then
        echo "Bail out! runtime $RUNTIME is not executable"
        exit 1
    fi
    exec unshare -m -n --propagation private env CAPSA_CTD_INNER=1 bash "$self" "$RUNTIME"
fi

# ---- inside the private namespaces ---------------------------------------------------------------

rtname=$(basename "$RUNTIME")
D=$(mktemp -d /var/tmp/capsa-ctd.XXXXXX)
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/netns
ip link set lo up
# A bridge interface (no dummy driver on every kernel) tells the daemon's (private) network namespace apart from a container's own.
ip link add capsa0 type bridge && ip link set capsa0 up
if [ "$rtname" = crun ]; then
    # crun 1.8 refuses hybrid hosts whose unified hierarchy has controllers (engines.md); the
    # comparison run hides it in this mount namespace only. capsa runs without this.
    umount /sys/fs/cgroup/unified 2>/dev/null || true
fi

SOCK=$D/containerd.sock
RROOT=$D/runtime-root # the runtime's --root (runc options Root / ctr --runc-root)
CTR=(ctr --address "$SOCK" -n test)
TCTR=(bounded ctr --address "$SOCK" -n test)
IMG=localhost/capsa-busybox:1
PAUSE=localhost/capsa-pause:1
CRI=$D/cri
ctd_pid=

cleanup() {
    set +e
    if [ -n "$ctd_pid" ] && kill -0 "$ctd_pid" 2>/dev/null; then
        for ns in test k8s.io; do
            for t in $(ctr --address "$SOCK" -n $ns task ls -q 2>/dev/null); do
                ctr --address "$SOCK" -n $ns task kill -s KILL "$t" >/dev/null 2>&1
            done
        done
        kill -TERM "$ctd_pid"
        for _ in $(seq 50); do kill -0 "$ctd_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$ctd_pid" 2>/dev/null
    fi
    # Shims and their containers outlive containerd; kill those in this mount namespace (all ours).
    local me mnt p
    me=$(readlink /proc/$$/ns/mnt)
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = $$ ] && continue
        mnt=$(readlink "/proc/$p/ns/mnt" 2>/dev/null) || continue
        [ "$mnt" = "$me" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" != bash ] && kill -KILL "$p" 2>/dev/null
    done
    sleep 0.3
    grep -o " ${D}[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$D"
}
trap cleanup EXIT

# fd 3 is the TAP stream even inside $(...), for diagnostics of helpers whose output is captured.
exec 3>&1
LIMIT=60
# bounded CMD...: CMD with a LIMIT-second bound. `timeout -s KILL` exits 137 when the bound
# expires, the very status a task killed by SIGKILL (kill, OOM) gives, so a hang could pass those
# checks. An expiry is told apart by the elapsed time and returned as 124, reported on the TAP stream.
bounded() {
    local t0=$EPOCHSECONDS rc
    timeout -s KILL "$LIMIT" "$@"
    rc=$?
    if [ "$rc" = 137 ] && [ $((EPOCHSECONDS - t0)) -ge $((LIMIT - 1)) ]; then
        echo "# TIMEOUT: killed after ${LIMIT}s, reported as 124: $*" >&3
        return 124
    fi
    return "$rc"
}

n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
notok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    local l
    for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}
# check NAME EXPECTED ACTUAL [extra diagnostics]
check() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        notok "$1" "expected: $(printf %q "$2")" "actual:   $(printf %q "$3")" "${@:4}"
    fi
}
bail() {
    echo "Bail out! $*"
    [ -f "$D/containerd.log" ] && tail -n 30 "$D/containerd.log" | sed 's/^/# /'
    exit 1
}

# ---- images, tools, daemon -----------------------------------------------------------------------

"$repo/scripts/mkrootfs.sh" "$D/rootfs" >/dev/null || bail "mkrootfs.sh failed"
mkdir -p "$D/pause-rootfs"/{dev,proc,sys,etc}
gcc -static -O2 -o "$D/pause-rootfs/pause" "$repo/tests/engines/cri/pause/pause.c" || bail "pause.c"
"$repo/tests/engines/cri/mkimage.sh" "$D/rootfs" "$IMG" "$D/busybox.tar" || bail "mkimage busybox"
"$repo/tests/engines/cri/mkimage.sh" "$D/pause-rootfs" "$PAUSE" "$D/pause.tar" '["/pause"]' null ||
    bail "mkimage pause"
(cd "$repo" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$D/gocache" GOFLAGS="" \
    go build -o "$CRI" ./tests/engines/cri) || bail "building the CRI client failed"

mkdir -p "$D/cni/conf" "$D/cni/ipam"
cat >"$D/cni/conf/10-capsa.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "capsa-pods", "plugins": [
  {"type": "bridge", "bridge": "capsacni0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$D/cni/ipam", "ranges": [[{"subnet": "10.231.0.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "loopback"}]}
EOF
# handler NAME BINARY: a CRI runtime handler, the runc shim with BinaryName = BINARY. CRI hands a
# pod's or container's annotations to the runtime only where *_annotations list them.
handler() {
    cat <<EOF
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$1]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["capsa.*"]
      container_annotations = ["capsa.*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$1.options]
        BinaryName = "$2"
        Root = "$RROOT"
        SystemdCgroup = false
EOF
}
cat >"$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$D/containerd-ttrpc.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$D/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "capsa"
$(handler capsa "$RUNTIME")
EOF
# capsa only: a second handler whose containers run at the interpose isolation level. capsa takes
# its default level from the name it is started under (capsa-LEVEL): BinaryName is a symlink.
IPRT=
if [ "$rtname" = capsa ]; then
    IPRT=$D/bin/capsa-interpose
    { mkdir -p "$D/bin" && ln -s "$RUNTIME" "$IPRT"; } || bail "symlink $IPRT"
    # And a handler for the vm level's pods: a wrapper that gives capsa --allow-tcg (no /dev/kvm
    # here); the level itself comes from the pod annotation capsa.isolation=vm.
    VMRT=$D/bin/capsa-tcg
    { printf '#!/bin/sh\nexec %s --allow-tcg "$@"\n' "$RUNTIME" >"$VMRT" && chmod 0755 "$VMRT"; } ||
        bail "wrapper $VMRT"
    { handler capsa-vm "$VMRT" && handler capsa-interpose "$IPRT"; } >>"$D/config.toml"
fi
containerd --config "$D/config.toml" --log-level debug >"$D/containerd.log" 2>&1 &
ctd_pid=$!
up=
for _ in $(seq 1200); do
    if "${CTR[@]}" version >/dev/null 2>&1; then
        up=1
        break
    fi
    kill -0 "$ctd_pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$up" ] || bail "containerd did not come up"
"${CTR[@]}" images import "$D/busybox.tar" >/dev/null || bail "ctr images import busybox"
# The event stream is the host-side record of what the shim saw (/tasks/oom from its cgroup v1
# memory.oom_control eventfd, /tasks/exit with the status).
"${CTR[@]}" events >"$D/events.log" 2>&1 &
ctr --address "$SOCK" -n k8s.io images import "$D/busybox.tar" >/dev/null || bail "import (k8s.io)"
ctr --address "$SOCK" -n k8s.io images import "$D/pause.tar" >/dev/null || bail "import pause"

echo "# runtime: $RUNTIME; containerd $(containerd --version | awk '{print $3}'); state: $D"

# ---- ctr -----------------------------------------------------------------------------------------

# Every foreground ctr call is bounded: a hang must fail one check (as 124), not the run.
RUN=(bounded "${CTR[@]}" run --rm --runc-binary "$RUNTIME" --runc-root "$RROOT")
crun_() { # crun_ ID [ctr run flags...] -- CMD... : foreground container
    local id=$1 flags=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        flags+=("$1")
        shift
    done
    shift
    "${RUN[@]}" "${flags[@]}" "$IMG" "$id" "$@"
}

out=$(crun_ c1 -- echo hello 2>&1)
check "ctr run: echo" hello "$out"

crun_ c2 -- sh -c 'exit 42' </dev/null >/dev/null 2>&1
check "ctr run: exit code 42" 42 "$?"

# ctr 1.6 never closes the task's stdin at EOF (both runtimes), so read a known number of lines.
out=$(printf 'line one\nline two\n' | crun_ c3 -- sh -c 'read a; read b; echo "$b|$a"')
check "ctr run: stdin" "line two|line one" "$out"

out=$(crun_ c4 --env FOO=bar --cwd /tmp -- sh -c 'echo "$FOO $(pwd)"' </dev/null 2>&1)
check "ctr run: --env and --cwd" "bar /tmp" "$out"

out=$(crun_ c5 -- id -u </dev/null 2>&1)
check "ctr run: default user is root" 0 "$out"

out=$(crun_ c6 --read-only -- sh -c 'touch /x 2>/dev/null; echo $?; touch /tmp/x 2>/dev/null; echo $?' \
    </dev/null 2>&1)
check "ctr run: --read-only rootfs" $'1\n1' "$out"

# Network: ctr gives a container its own empty netns (only lo, down) unless --net-host, which joins
# the daemon's (private) network namespace, recognisable by its capsa0 interface.
out=$(crun_ c7 -- sh -c 'ls /sys/class/net | tr "\n" " "' </dev/null 2>&1)
check "ctr run: own network namespace (none)" "lo " "$out"
out=$(crun_ c8 --net-host -- sh -c 'ls /sys/class/net | tr "\n" " "' </dev/null 2>&1)
check "ctr run: --net-host sees the daemon's netns" "capsa0 lo " "$out"

# ctr's spec mounts no cgroup v1 hierarchy inside the container (with crun or capsa alike), so the
# limits are read from the host side while the container runs.
hostcg() { # ID FILE... : print cgroup files (ctr puts a container in /<namespace>/<id>)
    local id=$1 f
    shift
    for _ in $(seq 1200); do [ -e "/sys/fs/cgroup/$1" ] && break; sleep 0.1; done
    for f in "$@"; do cat "/sys/fs/cgroup/$f" 2>&1; done
}
# The tasks below wait for /tmp/go (made by an exec) instead of sleeping a while: the limits are
# read while they surely run, however slow the machine.
WAIT_GO='until [ -e /tmp/go ]; do usleep 20000; done'
release() { # ID: make /tmp/go in the task
    for _ in $(seq 1200); do
        "${TCTR[@]}" task exec --exec-id go "$1" touch /tmp/go </dev/null >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
crun_ c9 --memory-limit 67108864 -- sh -c "$WAIT_GO" </dev/null >/dev/null 2>&1 &
bgpid=$!
out=$(hostcg c9 memory/test/c9/memory.limit_in_bytes)
release c9
wait "$bgpid"
check "ctr run: --memory-limit set" 67108864 "$out"

# OOM: the task waits for a go file so the limit can be read back from the host first; then busybox
# tail buffers /dev/zero (no newline) until the kernel kills it. 137 alone proves nothing (a
# SIGKILL from anywhere gives it), so containerd's /tasks/oom event for c10 is required as well.
crun_ c10 --memory-limit 33554432 -- sh -c "$WAIT_GO; exec tail /dev/zero" \
    </dev/null >/dev/null 2>&1 &
bgpid=$!
lim=$(hostcg c10 memory/test/c10/memory.limit_in_bytes)
release c10
wait "$bgpid"
check "ctr run: OOM kill exits 137" 137 "$?"
for _ in $(seq 1200); do grep -q '/tasks/exit {"container_id":"c10"' "$D/events.log" && break; sleep 0.1; done
oom=$(grep -c '/tasks/oom {"container_id":"c10"}' "$D/events.log")
ex=$(grep -o '/tasks/exit {"container_id":"c10".*"exit_status":[0-9]*' "$D/events.log" | grep -o '[0-9]*$')
check "ctr run: OOM seen from the host (limit read back, /tasks/oom event, exit_status)" \
    "33554432 oom 137" "$lim $([ "${oom:-0}" -ge 1 ] && echo oom || echo no-oom-event) $ex" \
    "$(grep '"c10"' "$D/events.log")"

crun_ c11 --cpu-quota 50000 --cpu-period 100000 -- sh -c "$WAIT_GO" </dev/null >/dev/null 2>&1 &
bgpid=$!
out=$(hostcg c11 cpu/test/c11/cpu.cfs_quota_us cpu/test/c11/cpu.cfs_period_us)
release c11
wait "$bgpid"
check "ctr run: --cpu-quota/--cpu-period" $'50000\n100000' "$out"

# Pids: ctr 1.6 has no flag for it, so the spec comes from a file (`ctr oci spec` + jq) with the
# busybox rootfs as an absolute root.path. The limit is read back from the host cgroup, then an exec
# forks sleeps: init + exec'd sh + 8 sleeps fill pids.max=10, the next fork fails and sh exits 2.
"${CTR[@]}" oci spec >"$D/spec-default.json"
jq --arg r "$D/rootfs" '.root = {path: $r, readonly: false} | .process.args = ["/bin/sleep", "1000"] |
    .process.terminal = false | .linux.cgroupsPath = "/test/p1" | .linux.resources.pids = {limit: 10}' \
    "$D/spec-default.json" >"$D/spec-pids.json"
if "${CTR[@]}" run -d --runc-binary "$RUNTIME" --runc-root "$RROOT" --config "$D/spec-pids.json" p1 \
    </dev/null >"$D/p1.out" 2>&1; then
    lim=$(hostcg p1 pids/test/p1/pids.max)
    out=$("${TCTR[@]}" task exec --exec-id f p1 /bin/sh -c \
        'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 30 & done 2>&1; echo all forked' </dev/null 2>&1)
    rc=$?
    case "$out" in *"can't fork"*) forked=refused ;; *) forked=allowed ;; esac
    check "ctr run --config: pids.limit 10 in the host cgroup, the fork past it fails" "10 2 refused" \
        "$lim $rc $forked" "exec output: $out"
    "${CTR[@]}" task kill -s KILL p1 >/dev/null 2>&1
    for _ in $(seq 1200); do
        [ "$("${CTR[@]}" task ls 2>/dev/null | awk '$1 == "p1" {print $3}')" = STOPPED ] && break
        sleep 0.1
    done
    "${CTR[@]}" task delete p1 >/dev/null 2>&1
    "${CTR[@]}" container delete p1 >/dev/null 2>&1
else
    notok "ctr run --config: pids.limit 10 in the host cgroup, the fork past it fails" "$(cat "$D/p1.out")"
fi

# ctr's own stderr (log lines such as a console-resize error when the task has already exited) goes
# to a file so that only the terminal stream is compared. One retry, reported, for the rare run where
# ctr loses the race between the task's exit and its console copy (seen once in CI; 60 runs in a
# row here were clean); a second failure fails the check with both attempts' output.
ctr_tty() { # ID
    script -qec "exec $(printf '%q ' timeout -s KILL "$LIMIT" "${RUN[@]:1}" -t "$IMG" "$1" sh -c 'tty; test -t 0 && echo tty0') \
        2>$D/$1.err" /dev/null </dev/null 2>&1 | tr -d '\r\0' | sed 's/\^@//g'
}
out=$(ctr_tty c20)
if [ "$out" != $'/dev/pts/0\ntty0' ]; then
    echo "# ctr run -t: first attempt got $(printf %q "$out"), stderr: $(tr '\n' ' ' <"$D/c20.err")"
    out=$(ctr_tty c20b)
fi
check "ctr run -t: terminal" $'/dev/pts/0\ntty0' "$out" "stderr: $(cat "$D/c20b.err" 2>/dev/null)"

# Detached task: state, exec, ps, pause/resume. It counts into a file in a host directory, so
# the host sees whether it makes progress (ctr's PAUSED alone would not show that it is frozen).
mkdir -p "$D/pause"
"${CTR[@]}" run -d --runc-binary "$RUNTIME" --runc-root "$RROOT" \
    --mount "type=bind,src=$D/pause,dst=/out,options=rbind:rw" "$IMG" bg \
    sh -c 'i=0; while :; do i=$((i+1)); echo $i >/out/c.new; mv /out/c.new /out/c; usleep 50000; done' \
    >/dev/null 2>&1
counter() { cat "$D/pause/c" 2>/dev/null; }
counter_past() { # N: wait (at most 10 s) until the counter is past N
    local c
    for _ in $(seq 1200); do
        c=$(counter)
        [ -n "$c" ] && [ "$c" -gt "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
out=$("${CTR[@]}" task ls 2>&1 | awk '$1 == "bg" {print $3}')
check "ctr run -d: task ls RUNNING" RUNNING "$out"

out=$("${TCTR[@]}" task exec --exec-id e1 bg sh -c 'echo in exec; exit 7' </dev/null 2>&1)
rc=$?
check "ctr task exec: output" "in exec" "$out"
check "ctr task exec: exit code 7" 7 "$rc"

# A NUL that reaches the terminal comes back echoed as "^@" (seen once in a few runs here), as in ctr_tty.
out=$(script -qec "$(printf '%q ' "${CTR[@]}" task exec -t --exec-id e2 bg sh -c 'test -t 0 && tty')" \
    /dev/null </dev/null 2>&1 | tr -d '\r\0' | sed 's/\^@//g' | grep -v 'resize pty')
case "$out" in
/dev/pts/[0-9]*) ok "ctr task exec -t: terminal ($out)" ;;
*) notok "ctr task exec -t: terminal" "actual: $(printf %q "$out")" ;;
esac

pid=$("${CTR[@]}" task ls 2>/dev/null | awk '$1 == "bg" {print $2}')
out=$("${CTR[@]}" task ps bg 2>&1 | awk -v p="$pid" 'NR > 1 && $1 == p {print "found"}')
check "ctr task ps lists the init pid" found "$out" "$("${CTR[@]}" task ps bg 2>&1)"

counter_past 2 || echo "# the counter of task bg did not start: $(counter)"
"${CTR[@]}" task pause bg 2>&1
out=$("${CTR[@]}" task ls 2>&1 | awk '$1 == "bg" {print $3}')
check "ctr task pause: PAUSED" PAUSED "$out"
# Which freezer the runtime uses (v1 freezer.state or cgroup.freeze) is its business; progress is not.
c1=$(counter)
sleep 1
c2=$(counter)
if [ -n "$c1" ] && [ "$c1" = "$c2" ]; then
    ok "ctr task pause: no progress while paused (counter stays at $c1)"
else
    notok "ctr task pause: no progress while paused" "counter before/after 1 s: '$c1' '$c2'"
fi
"${CTR[@]}" task resume bg 2>&1
out=$("${CTR[@]}" task ls 2>&1 | awk '$1 == "bg" {print $3}')
check "ctr task resume: RUNNING" RUNNING "$out"
if [ -n "$c2" ] && counter_past "$c2"; then
    ok "ctr task resume: progress resumes (counter past $c2)"
else
    notok "ctr task resume: progress resumes" "counter: '$c2' then '$(counter)'"
fi
out=$("${TCTR[@]}" task exec --exec-id e3 bg echo alive </dev/null 2>&1)
check "ctr task exec after resume" alive "$out"

"${CTR[@]}" task kill -s KILL bg >/dev/null 2>&1
for _ in $(seq 1200); do
    st=$("${CTR[@]}" task ls 2>/dev/null | awk '$1 == "bg" {print $3}')
    [ "$st" = STOPPED ] && break
    sleep 0.1
done
"${CTR[@]}" task delete bg >/dev/null 2>&1
"${CTR[@]}" container delete bg >/dev/null 2>&1
out=$("$RUNTIME" --root "$RROOT/test" list -q 2>&1 | grep -c '^bg$')
check "task delete removes the runtime's state" 0 "$out"

# Signals: foreground `ctr run` returns the task's exit status; ready marker avoids the trap race.
kill_check() { # NAME ID SIGNAL EXPECTED
    local id=$2 ready="" rc
    "${RUN[@]}" "$IMG" "$id" sh -c 'trap "exit 3" TERM; touch /tmp/ready; while :; do sleep 0.1; done' \
        </dev/null >/dev/null 2>&1 &
    local fg=$!
    for _ in $(seq 1200); do
        if "${TCTR[@]}" task exec --exec-id r "$id" test -f /tmp/ready </dev/null >/dev/null 2>&1; then
            ready=1
            break
        fi
        sleep 0.1
    done
    if [ -z "$ready" ]; then
        # Never signalled: whatever status the task ends with would say nothing about SIG$3.
        "${CTR[@]}" task kill -s KILL "$id" >/dev/null 2>&1
        wait "$fg"
        notok "$1" "the task never became ready (exec of test -f /tmp/ready never succeeded)"
        return
    fi
    "${CTR[@]}" task kill -s "$3" "$id" >/dev/null 2>&1
    wait "$fg"
    rc=$?
    check "$1" "$4" "$rc"
}
kill_check "ctr task kill -s TERM: trap exits 3" k1 TERM 3
kill_check "ctr task kill -s KILL: 137" k2 KILL 137

# ---- CRI (Kubernetes RuntimeClass path: runtime handler "capsa") ---------------------------------

cri() { timeout 150 "$CRI" -socket "$SOCK" "$@"; }
out=$(cri version 2>&1)
case "$out" in
"containerd "*" v1") ok "CRI Version ($out)" ;;
*) notok "CRI Version" "$out" ;;
esac

POD=(-handler capsa -hostname capsa-pod)
if pod=$(cri runp "${POD[@]}" pod1 2>&1); then
    ok "CRI RunPodSandbox with runtime_handler capsa (CNI bridge network)"
else
    notok "CRI RunPodSandbox with runtime_handler capsa" "$pod" "$(grep -i error "$D/containerd.log" | tail -n 5)"
    pod=
fi
if [ -n "$pod" ]; then
    out=$(cri pstatus "$pod" 2>&1)
    case "$out" in
    "READY 10.231.0."*) ok "CRI PodSandboxStatus READY with a pod IP ($out)" ;;
    *) notok "CRI PodSandboxStatus READY with a pod IP" "$out" ;;
    esac
    if ctr_id=$(cri create "${POD[@]}" -user 1000 -env FOO=bar -cwd /tmp \
        "$pod" box "$IMG" sleep 1000 2>&1) && cri start "$ctr_id" 2>&1; then
        ok "CRI CreateContainer + StartContainer"
    else
        notok "CRI CreateContainer + StartContainer" "$ctr_id" "$(grep -i error "$D/containerd.log" | tail -n 5)"
        ctr_id=
    fi
fi
if [ -n "${ctr_id:-}" ]; then
    out=$(cri cstatus "$ctr_id" 2>&1)
    check "CRI ContainerStatus RUNNING" "RUNNING 0" "$out"
    out=$(cri exec "$ctr_id" echo hi 2>&1)
    check "CRI ExecSync echo hi" hi "$out"
    out=$(cri exec "$ctr_id" sh -c 'echo "$(id -u) $(hostname) $FOO $(pwd)"' 2>&1)
    check "CRI ExecSync: run_as_user, pod hostname, env, working_dir" "1000 capsa-pod bar /tmp" "$out"
    out=$(cri exec "$ctr_id" sh -c 'ip -4 -o addr show eth0 | grep -c "inet 10.231.0."' 2>&1)
    check "CRI container shares the pod's network namespace" 1 "$out"
    cri exec "$ctr_id" sh -c 'exit 5' >/dev/null 2>&1
    check "CRI ExecSync exit code 5" 5 "$?"
    # Memory limit (LinuxContainerResources.memory_limit_in_bytes) through the runtime handler, read
    # inside at the cgroup v1 path containerd's CRI spec mounts.
    if mem_id=$(cri create "${POD[@]}" -mem 33554432 "$pod" mem "$IMG" sleep 1000 2>&1) &&
        cri start "$mem_id" >/dev/null 2>&1; then
        out=$(cri exec "$mem_id" cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1)
        check "CRI memory limit visible inside" 33554432 "$out"
        cri stop "$mem_id" 0 >/dev/null 2>&1
    else
        notok "CRI memory limit visible inside" "$mem_id"
    fi
    [ -n "$mem_id" ] && cri rm "$mem_id" >/dev/null 2>&1
    # A runtime error reaches CRI through the JSON log: StartContainer of a missing program must
    # return the runtime's own message.
    if [ "$rtname" = capsa ]; then
        want='exec: "/nonexistent": stat /nonexistent: no such file or directory'
    else
        want=/nonexistent
    fi
    if nb_id=$(cri create "${POD[@]}" "$pod" nobin "$IMG" /nonexistent 2>&1); then
        out=$(cri start "$nb_id" 2>&1)
        rc=$?
        if [ "$rc" != 0 ] && [[ $out == *"$want"* ]]; then
            ok "CRI StartContainer of a missing program returns the runtime's error"
        else
            notok "CRI StartContainer of a missing program returns the runtime's error" "rc $rc" \
                "want text: $want" "got: $out"
        fi
        cri rm "$nb_id" >/dev/null 2>&1
    else
        notok "CRI StartContainer of a missing program returns the runtime's error" "create: $nb_id"
    fi
    out=$("$RUNTIME" --root "$RROOT/k8s.io" list -q 2>&1 | sort | tr '\n' ' ')
    check "runtime state dir holds the sandbox and the container" \
        "$(printf '%s\n' "$pod" "$ctr_id" | sort | tr '\n' ' ')" "$out"
    out=$("$RUNTIME" --root "$RROOT/k8s.io" state "$pod" 2>&1 | jq -r .status)
    check "runtime state of the sandbox: running" running "$out"
    # The container shares the pod's PID namespace (pause is its PID 1), so TERM kills sleep: 143.
    cri stop "$ctr_id" 2 >/dev/null 2>&1
    out=$(cri cstatus "$ctr_id" 2>&1)
    check "CRI StopContainer: EXITED 143" "EXITED 143" "$out"
    cri rm "$ctr_id" 2>&1
    check "CRI RemoveContainer" 0 "$?"
fi
if [ -n "$pod" ]; then
    cri stopp "$pod" 2>&1 && cri rmp "$pod" 2>&1
    check "CRI StopPodSandbox + RemovePodSandbox" 0 "$?"
    out=$("$RUNTIME" --root "$RROOT/k8s.io" list -q 2>&1)
    check "runtime state dir empty after removal" "" "$out"
fi

# Host-network pod too (what a node without CNI would use).
if pod=$(cri runp -handler capsa -hostnet podh 2>&1); then
    out=$(cri create -handler capsa -hostnet "$pod" boxh "$IMG" sleep 1000 2>&1) &&
        cri start "$out" 2>&1 &&
        out=$(cri exec "$out" sh -c 'ls /sys/class/net | grep -c -e capsa0 -e capsacni0' 2>&1)
    check "CRI host-network pod sees the node's interfaces" 2 "$out"
    cri stopp "$pod" >/dev/null 2>&1
    cri rmp "$pod" >/dev/null 2>&1
else
    notok "CRI host-network pod" "$pod"
fi

# ---- the interpose isolation level (capsa only) --------------------------------------------------
# Chosen two ways: per container by the annotation capsa.isolation=interpose (ctr run --annotation;
# CRI container or pod annotations, passed by container_annotations / pod_annotations =
# ["capsa.*"]), and for a whole runtime entry by the name capsa is started under (BinaryName =
# the capsa-interpose symlink: ctr --runc-binary, CRI handler capsa-interpose). The policy
# annotation capsa.interpose.hidden makes /etc/hostname (CRI's bind mount) and /etc/group (the
# image's) vanish for the workload.
HIDE=capsa.interpose.hidden=/etc/hostname:/etc/group
PROBE='cat /etc/hostname /etc/group 2>&1 >/dev/null; echo $?'
GONE="cat: can't open '/etc/hostname': No such file or directory
cat: can't open '/etc/group': No such file or directory
1"
field() { # PID N: field N of /proc/PID/stat (after the comm, which may hold spaces)
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    awk -v n=$(($2 - 2)) '{ print $n }' <<<"${s##*) }"
}
# held PID ROOT: what PID and its children (the supervisor's fetcher) hold open under ROOT, the
# runtime's state root, but the audit log: nothing, or the state directory's flock would outlive
# the command that took it and block every later one on the container.
held() {
    local p f t
    for p in "$1" $(pgrep -P "$1"); do
        for f in "/proc/$p/fd/"*; do
            t=$(readlink "$f") || continue
            case $t in "$2"/*/audit.jsonl) ;; "$2" | "$2"/*) echo "$p: $t" ;; esac
        done
    done
}
nspid_depth() { awk '/^NSpid:/ { print NF - 1 }' "/proc/$1/status" 2>/dev/null; }
# ip_running NAME STATE_DIR INIT_PID: checks of a running interpose container from the host; sets
# hp/hstart (the supervisor's pid and start time) for ip_gone.
ip_running() {
    local st=$2/state.json shim
    check "$1: state.json says isolation interpose" interpose "$(jq -r .isolation "$st" 2>&1)"
    hp=$(jq -r .helperPid "$st" 2>/dev/null)
    hstart=$(field "$hp" 22)
    shim=$(field "$3" 4)
    # The supervisor is PID 1 of a pid namespace the container's is made in (the init three
    # namespaces deep, the supervisor two); the shim, the subreaper of both, is their parent.
    check "$1: supervisor capsa-interpose (helperPid), child of the shim" \
        "capsa-interpose ppid=$shim depth=2 containerd-shim" \
        "$(cat "/proc/$hp/comm" 2>&1) ppid=$(field "$hp" 4) depth=$(nspid_depth "$hp") $(cat "/proc/$shim/comm" 2>&1)"
    check "$1: the init is nested in the supervisor's pid namespace" 3 "$(nspid_depth "$3")"
    check "$1: the supervisor holds nothing of the state root but its audit log" "" \
        "$(held "$hp" "$RROOT")"
}
# ip_gone NAME STATE_DIR: after removal, no process with the supervisor's pid and start time but a
# zombie (reported: its parent should reap it), and no state. delete kills it without waiting: poll.
ip_gone() {
    local out=gone
    for _ in $(seq 1200); do
        [ "$(field "$hp" 22)" != "$hstart" ] || [ "$(field "$hp" 3)" = Z ] && break
        sleep 0.1
    done
    if [ -z "$hstart" ]; then
        out="no supervisor seen while the container ran"
    elif [ "$(field "$hp" 22)" = "$hstart" ]; then
        if [ "$(field "$hp" 3)" = Z ]; then
            echo "# $1: supervisor $hp is a zombie after removal, parent $(field "$hp" 4)"
        else
            out="still running: $(field "$hp" 3) $(cat "/proc/$hp/comm" 2>&1)"
        fi
    fi
    [ -e "$2" ] && out="$out, $2 left"
    check "$1: after removal no supervisor and no state left" gone "$out"
}
task_gone() { # ID: kill, wait for STOPPED, delete task and container
    "${CTR[@]}" task kill -s KILL "$1" >/dev/null 2>&1
    for _ in $(seq 1200); do
        [ "$("${CTR[@]}" task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $3}')" = STOPPED ] && break
        sleep 0.1
    done
    "${CTR[@]}" task delete "$1" >/dev/null 2>&1
    "${CTR[@]}" container delete "$1" >/dev/null 2>&1
}
# ip_ctr LABEL ID BINARY [ctr run flags]: ctr run of a container at the interpose level.
ip_ctr() {
    local l="ctr run: interpose ($1)" id=$2 bin=$3 out pid rc
    shift 3
    out=$(bounded "${CTR[@]}" run --rm --runc-binary "$bin" --runc-root "$RROOT" "$@" \
        --annotation "$HIDE" "$IMG" "$id" sh -c "$PROBE" </dev/null 2>&1)
    check "$l: hidden paths do not exist inside" "$GONE" "$out"
    if ! "${CTR[@]}" run -d --runc-binary "$bin" --runc-root "$RROOT" "$@" --annotation "$HIDE" \
        "$IMG" "$id" sleep 1000 </dev/null >"$D/$id.out" 2>&1; then
        notok "$l: detached task" "$(cat "$D/$id.out")"
        task_gone "$id"
        return
    fi
    pid=$("${CTR[@]}" task ls 2>/dev/null | awk -v id="$id" '$1 == id {print $2}')
    ip_running "$l" "$RROOT/test/$id" "$pid"
    out=$("${TCTR[@]}" task exec --exec-id x1 "$id" sh -c 'echo in exec; exit 7' </dev/null 2>&1)
    rc=$?
    check "$l: task exec output and exit code 7" $'in exec\n7' "$out"$'\n'"$rc"
    out=$("${TCTR[@]}" task exec --exec-id x2 "$id" sh -c "$PROBE" </dev/null 2>&1)
    check "$l: an exec'd process is brokered too (hidden paths)" "$GONE" "$out"
    task_gone "$id"
    ip_gone "$l" "$RROOT/test/$id"
}
# ip_cri LABEL NAME POD HANDLER [create flags]: a CRI container at the interpose level in POD.
ip_cri() {
    local l="CRI: interpose ($1)" name=$2 pod=$3 h=$4 cid out pid rc
    shift 4
    if ! cid=$(cri create -handler "$h" "$@" -pidns container -ann "$HIDE" "$pod" "$name" \
        "$IMG" sleep 1000 2>&1) || ! out=$(cri start "$cid" 2>&1); then
        notok "$l: CreateContainer + StartContainer" "$cid" "${out:-}"
        return
    fi
    pid=$(jq -r .pid "$RROOT/k8s.io/$cid/state.json" 2>/dev/null)
    ip_running "$l" "$RROOT/k8s.io/$cid" "$pid"
    out=$(cri exec "$cid" sh -c 'echo in exec; exit 7' 2>&1)
    rc=$?
    check "$l: ExecSync output and exit code 7" $'in exec\n7' "$out"$'\n'"$rc"
    out=$(cri exec "$cid" sh -c "$PROBE" 2>&1)
    check "$l: an ExecSync process is brokered too (hidden paths)" "$GONE" "$out"
    cri stop "$cid" 0 >/dev/null 2>&1
    cri rm "$cid" >/dev/null 2>&1
    ip_gone "$l" "$RROOT/k8s.io/$cid"
}
if [ -n "$IPRT" ]; then
    out=$(crun_ ipn --annotation "$HIDE" -- sh -c "$PROBE" </dev/null 2>&1)
    check "ctr run: native level, the hidden annotation alone changes nothing" 0 "$out"
    ip_ctr annotation ipa "$RUNTIME" --annotation capsa.isolation=interpose
    ip_ctr "runc-binary capsa-interpose" ipr "$IPRT"

    # By annotation, in a pod of the native handler; a native container beside it sees the files.
    if pod=$(cri runp -handler capsa ipa 2>&1); then
        if cid=$(cri create -handler capsa -pidns container -ann "$HIDE" "$pod" ipn "$IMG" sleep 1000 2>&1) &&
            cri start "$cid" >/dev/null 2>&1; then
            out=$(cri exec "$cid" sh -c "$PROBE" 2>&1)
            check "CRI: native level, the hidden annotation alone changes nothing" 0 "$out"
            check "CRI: native level, state.json has no isolation" native \
                "$(jq -r '.isolation // "native"' "$RROOT/k8s.io/$cid/state.json" 2>&1)"
        else
            notok "CRI: native level, the hidden annotation alone changes nothing" "$cid"
        fi
        ip_cri "container annotation" ipi "$pod" capsa -ann capsa.isolation=interpose
        cri stopp "$pod" >/dev/null 2>&1
        cri rmp "$pod" >/dev/null 2>&1
    else
        notok "CRI: RunPodSandbox (handler capsa) for the interpose checks" "$pod"
    fi

    # By a pod annotation (pod_annotations): the sandbox, and each container, whose spec gets the
    # pod's annotations too.
    if pod=$(cri runp -handler capsa -pann capsa.isolation=interpose ipp 2>&1); then
        sst=$RROOT/k8s.io/$pod
        ip_running "CRI: interpose (pod annotation): the pod sandbox" "$sst" \
            "$(jq -r .pid "$sst/state.json" 2>/dev/null)"
        php=$hp phstart=$hstart
        ip_cri "pod annotation" ipq "$pod" capsa -pann capsa.isolation=interpose
        cri stopp "$pod" >/dev/null 2>&1
        cri rmp "$pod" >/dev/null 2>&1
        hp=$php hstart=$phstart
        ip_gone "CRI: interpose (pod annotation): the pod sandbox" "$sst"
    else
        notok "CRI: RunPodSandbox with the pod annotation capsa.isolation=interpose" "$pod"
    fi

    # By the runtime handler capsa-interpose (a RuntimeClass): the pause container is at the level
    # too, and so is every container of the pod.
    if pod=$(cri runp -handler capsa-interpose ipb 2>&1); then
        sst=$RROOT/k8s.io/$pod
        ip_running "CRI: interpose (handler capsa-interpose): the pod sandbox" "$sst" \
            "$(jq -r .pid "$sst/state.json" 2>/dev/null)"
        php=$hp phstart=$hstart
        ip_cri "handler capsa-interpose" ipc "$pod" capsa-interpose
        # A container that shares the pod's pid namespace (shareProcessNamespace) cannot be nested
        # in a supervisor's: capsa refuses it, and CRI reports capsa's reason.
        want="linux.namespaces: the interpose level needs a new pid namespace"
        if cid=$(cri create -handler capsa-interpose "$pod" ips "$IMG" sleep 1000 2>&1); then
            out=$(cri start "$cid" 2>&1)
            rc=$?
            cri rm "$cid" >/dev/null 2>&1
        else
            out=$cid rc=1
        fi
        if [ "$rc" != 0 ] && [[ $out == *"$want"* ]]; then
            ok "CRI: interpose (handler capsa-interpose): the pod's shared pid namespace is refused with the reason"
        else
            notok "CRI: interpose (handler capsa-interpose): the pod's shared pid namespace is refused with the reason" \
                "rc $rc" "want text: $want" "got: $out"
        fi
        cri stopp "$pod" >/dev/null 2>&1
        cri rmp "$pod" >/dev/null 2>&1
        hp=$php hstart=$phstart
        ip_gone "CRI: interpose (handler capsa-interpose): the pod sandbox" "$sst"
    else
        notok "CRI: RunPodSandbox with runtime_handler capsa-interpose" "$pod" \
            "$(grep -i error "$D/containerd.log" | tail -n 5)"
    fi
else
    echo "# skip: interpose isolation level (capsa only)"
fi

# ---- the vm isolation level (capsa only) ---------------------------------------------------------
# ctr run with the annotation capsa.isolation=vm, through a wrapper that gives capsa --allow-tcg
# (no /dev/kvm here; capsa finds capsa-agent next to the binary it is executed as). ctr sets up
# no network: the container gets a new, empty network namespace, which the vm level provides.
vm_procs() { pgrep -f "$RROOT/test/$1/" || true; }
# shellcheck source=tests/engines/vm.bash
source "$repo/tests/engines/vm.bash"
if [ "$rtname" = capsa ] && [ -z "$(vm_missing "$RUNTIME")" ]; then
    out=$(bounded "${CTR[@]}" run --rm --runc-binary "$VMRT" --runc-root "$RROOT" \
        --annotation capsa.isolation=vm "$IMG" vma sh -c 'uname -r; exit 3' </dev/null 2>&1)
    rc=$?
    check "ctr run: vm: exit code 3, a kernel not the host's" "3 guest" \
        "$rc $(guest_kernel "$out")"
    if "${CTR[@]}" run -d --runc-binary "$VMRT" --runc-root "$RROOT" --annotation capsa.isolation=vm \
        "$IMG" vmb sleep 1000 </dev/null >"$D/vmb.out" 2>&1; then
        check "ctr run: vm: state.json says isolation vm" vm \
            "$(jq -r .isolation "$RROOT/test/vmb/state.json" 2>&1)"
        out=$("${TCTR[@]}" task exec --exec-id v1 vmb sh -c 'uname -r; exit 7' </dev/null 2>&1)
        rc=$?
        check "ctr run: vm: task exec runs in the guest, exit code 7" "7 guest" \
            "$rc $(guest_kernel "$out")"
        hp=$(jq -r .helperPid "$RROOT/test/vmb/state.json" 2>/dev/null)
        check "ctr run: vm: QEMU runs for it (helperPid)" qemu-system-x86 "$(cat "/proc/$hp/comm" 2>&1)"
        hstart=$(field "$hp" 22)
        task_gone vmb
        out=gone
        # virtiofsd's command line names the container's state directory; QEMU is helperPid.
        qemu_gone() { [ "$(field "$hp" 22)" != "$hstart" ] || [ "$(field "$hp" 3)" = Z ]; }
        for _ in $(seq 600); do
            [ -z "$(vm_procs vmb)" ] && qemu_gone && break
            sleep 0.2
        done
        [ -z "$(vm_procs vmb)" ] || out="left: $(vm_procs vmb)"
        qemu_gone || out="$out, QEMU $hp left"
        [ -e "$RROOT/test/vmb" ] && out="$out, $RROOT/test/vmb left"
        check "ctr run: vm: after removal no VM and no state left" gone "$out"
    else
        notok "ctr run: vm: detached task" "$(cat "$D/vmb.out")"
        task_gone vmb
    fi
    # A CRI pod at the vm level (handler capsa-vm; the pod annotation capsa.isolation=vm, which
    # containerd gives the sandbox: the pod's containers take their sandbox's level): the sandbox
    # boots the VM on the pod's CNI network, and the pod's containers run in that VM, sharing its
    # network namespace (localhost and the pod's address) and its PID namespace (the pause
    # program is their PID 1).
    VPOD=(-handler capsa-vm -hostname capsa-vmpod)
    KROOT=$RROOT/k8s.io
    if vpod=$(cri runp "${VPOD[@]}" -pann capsa.isolation=vm vpod 2>&1); then
        ok "CRI: vm: RunPodSandbox boots the pod's VM"
        vq=$(jq -r .helperPid "$KROOT/$vpod/state.json" 2>/dev/null)
        vqstart=$(field "$vq" 22)
        check "CRI: vm: QEMU runs for the sandbox (helperPid)" qemu-system-x86 "$(cat "/proc/$vq/comm" 2>&1)"
        if ! srv=$(cri create "${VPOD[@]}" "$vpod" srv "$IMG" sh -c \
            'mkdir -p /www && echo "pod $(uname -r)" >/www/i && exec httpd -f -p 127.0.0.1:8080 -h /www' 2>&1) ||
            ! cri start "$srv" >/dev/null 2>&1; then
            notok "CRI: vm: the server container" "$srv"
        fi
        if vcli=$(cri create "${VPOD[@]}" "$vpod" cli "$IMG" sleep 1000 2>&1) && cri start "$vcli" 2>&1; then
            ok "CRI: vm: two containers created and started in the pod"
            # The containers have no VMM of their own: one VM for the pod.
            out=$(jq -r '"\(.isolation) \(.helperPid // 0)"' "$KROOT/$srv/state.json" "$KROOT/$vcli/state.json" 2>&1 | tr '\n' ' ')
            check "CRI: vm: the pod's containers are at the vm level, with no VM of their own" "vm 0 vm 0 " "$out"
            out=$(cri exec "$vcli" wget -qO- http://127.0.0.1:8080/i 2>&1)
            check "CRI: vm: a container reaches its pod neighbour on localhost, in the guest" "pod guest" \
                "${out%% *} $(guest_kernel "${out#pod }")"
            out=$(cri exec "$vcli" sh -c 'ip -4 -o addr show eth0 | grep -c "inet 10.231.0."; cat /proc/1/comm' 2>&1)
            check "CRI: vm: the pod's address and its pause as PID 1, in the guest" "1 pause" "${out//$'\n'/ }"
            out=$(cri exec "$vcli" hostname 2>&1)
            check "CRI: vm: the pod's hostname" capsa-vmpod "$out"
        else
            notok "CRI: vm: two containers created and started in the pod" "$vcli" \
                "$(grep -i error "$D/containerd.log" | tail -n 5)"
        fi
        for c in "$vcli" "$srv"; do
            cri stop "$c" 0 >/dev/null 2>&1
            cri rm "$c" >/dev/null 2>&1
        done
        cri stopp "$vpod" >/dev/null 2>&1 && cri rmp "$vpod" 2>&1
        check "CRI: vm: StopPodSandbox + RemovePodSandbox" 0 "$?"
        out=gone
        for _ in $(seq 300); do
            { [ "$(field "$vq" 22)" != "$vqstart" ] || [ "$(field "$vq" 3)" = Z ]; } && break
            sleep 0.2
        done
        [ "$(field "$vq" 22)" != "$vqstart" ] || [ "$(field "$vq" 3)" = Z ] || out="QEMU $vq left"
        left=$("$RUNTIME" --root "$KROOT" list -q 2>&1)
        [ -z "$left" ] || out="$out, state left: $left"
        check "CRI: vm: after the pod's removal no VM and no state left" gone "$out"
    else
        notok "CRI: vm: RunPodSandbox boots the pod's VM" "$vpod" "$(grep -i error "$D/containerd.log" | tail -n 5)"
    fi
else
    echo "# skip: vm isolation level (capsa only; $(vm_missing "$RUNTIME"))"
fi

echo "1..$n"
[ "$failed" = 0 ]
