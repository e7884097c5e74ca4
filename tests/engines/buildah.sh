#!/bin/bash
# tests/engines/buildah.sh [RUNTIME] - image builds with buildah (Debian 12's 1.28) driving an OCI
# runtime (`buildah bud --isolation oci --runtime`), TAP output.
#
# RUNTIME defaults to the repository's build/capsa; /usr/bin/crun or runc runs the same checks for
# comparison. buildah is given a small wrapper as its runtime, which appends every argv to a log and
# executes RUNTIME, so the checks can show that RUNTIME ran each RUN step. Everything happens inside
# a private mount and network namespace: buildah's storage (overlay), run root, bundles (TMPDIR) and
# configuration live in a temporary directory under /var/tmp, /run is a fresh tmpfs (the runtime's
# state dir, netavark's), /var/lib/containers is hidden behind a tmpfs (containers/image writes its
# blob-info cache there whatever --root says), and the default network's netns and iptables rules
# are made in the private network namespace, so the host is left untouched. The base image is a
# busybox-static rootfs from scripts/mkrootfs.sh, tarred and `buildah add`ed to a scratch
# container, then committed (no registry).
#
# Configuration the checks run under (what a user of this host would need too): cgroup_manager
# "cgroupfs" (no systemd) in containers.conf; nothing else is runtime-specific.
# shellcheck disable=SC2016 # single-quoted $ belongs to command lines run inside the containers
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
self="$repo/tests/engines/buildah.sh"
RUNTIME=${1:-${RUNTIME:-$repo/build/capsa}}
BASE=localhost/capsa-busybox:latest
IMG=localhost/capsa-built:latest
FAILIMG=localhost/capsa-failed:latest

if [ "${CAPSA_BUILDAH_INNER:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "1..0 # SKIP buildah engine test needs root"
        exit 0
    fi
    need=()
    for p in buildah netavark iptables util-linux busybox-static jq; do
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
    case "$RUNTIME" in
    */*) ;;
    *) RUNTIME=$(command -v "$RUNTIME" || echo "$RUNTIME") ;;
    esac
    RUNTIME=$(readlink -f "$RUNTIME")
    if [ ! -x "$RUNTIME" ]; then
        echo "Bail out! runtime $RUNTIME is not executable"
        exit 1
    fi
    # Re-run inside a private mount + network namespace; everything buildah leaves behind dies with it.
    exec unshare -m -n --propagation private env CAPSA_BUILDAH_INNER=1 RUNTIME="$RUNTIME" \
        bash "$self" "$RUNTIME"
fi

# ---- inside the private namespaces ---------------------------------------------------------------

rtname=$(basename "$RUNTIME")
W=$(mktemp -d /var/tmp/capsa-buildah.XXXXXX)
cd "$W" || exit 1
mount -t tmpfs -o mode=0755 tmpfs /run
ip link set lo up
# containers/image keeps its blob-info cache in /var/lib/containers/cache for root, whatever
# --root says (buildah commit, push): hide the host's directory behind a tmpfs. A missing one
# cannot be a mount point without creating it on the host: then it is created and removed again.
made_varlib=0
if [ ! -d /var/lib/containers ]; then
    mkdir /var/lib/containers && made_varlib=1
fi
mount -t tmpfs -o mode=0700 tmpfs /var/lib/containers || {
    echo "Bail out! cannot hide /var/lib/containers"
    exit 1
}

if [ "$rtname" = crun ]; then
    # crun 1.8 refuses a hybrid host whose cgroup2 hierarchy has a controller (hugetlb here);
    # hide it for the comparison run only (and put a tmpfs in its place: crun then makes plain
    # directories there, which it cannot remove, and which would land in the host's
    # /sys/fs/cgroup tmpfs under the unified mount). capsa must work without this.
    umount /sys/fs/cgroup/unified 2>/dev/null && mount -t tmpfs -o mode=0755 tmpfs /sys/fs/cgroup/unified
fi

BH=(buildah --root "$W/root" --runroot "$W/runroot" --storage-driver overlay)
bh() { "${BH[@]}" "$@"; }
POLICY=(--signature-policy "$W/policy.json")

cleanup() {
    bh rm -a >/dev/null 2>&1
    # Kill anything still in this mount namespace (containers of a step that hung), by pid.
    local me ns pid
    me=$(readlink /proc/self/ns/mnt)
    for pid in /proc/[0-9]*; do
        pid=${pid#/proc/}
        [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
        ns=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null) || continue
        [ "$ns" = "$me" ] && kill -9 "$pid" 2>/dev/null
    done
    # Unmount what buildah mounted under the work dir (deepest first), then remove it.
    awk -v w="$W" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$W"
    if [ "$made_varlib" = 1 ]; then
        umount -l /var/lib/containers 2>/dev/null
        rmdir /var/lib/containers 2>/dev/null
    fi
}
trap cleanup EXIT

mkdir -p "$W"/{root,runroot,tmp,net,ctx,fail,export}
cat >"$W/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$W/root"
runroot = "$W/runroot"
EOF
cat >"$W/containers.conf" <<EOF
[network]
network_backend = "netavark"
network_config_dir = "$W/net"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$W/events.log"
EOF
cat >"$W/policy.json" <<'EOF'
{ "default": [{ "type": "insecureAcceptAnything" }] }
EOF
: >"$W/registries.conf"
export CONTAINERS_CONF="$W/containers.conf" CONTAINERS_STORAGE_CONF="$W/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$W/registries.conf"
# buildah makes each RUN step's bundle (config.json, pid file) in a temporary directory.
export TMPDIR="$W/tmp"
# The runtime buildah is given: a wrapper that logs its argv (one line per call), then executes
# RUNTIME under its own name.
RTLOG=$W/runtime.log
: >"$RTLOG"
printf '#!/bin/sh\necho "$*" >>%s\nexec %s "$@"\n' "$RTLOG" "$RUNTIME" >"$W/runtime"
chmod 0755 "$W/runtime"
WRAP=$W/runtime


# ---- TAP helpers ---------------------------------------------------------------------------------

n=0
failed=0
pass() {
    n=$((n + 1))
    echo "ok $n - $1"
}
fail() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    local l
    for l in "$@"; do
        printf '%s\n' "$l" | sed 's/^/#   /'
    done
}
# expect NAME WANT_RC WANT_OUT CMD... : run CMD, compare its exit code and its exact stdout.
expect() {
    local name=$1 want_rc=$2 want_out=$3 out rc
    shift 3
    out=$("$@" 2>"$W/stderr")
    rc=$?
    if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then
        pass "$name"
    else
        fail "$name" "command: $*" "want rc $want_rc, got $rc" "want: $(printf %q "$want_out")" \
            "got:  $(printf %q "$out")" "stderr: $(tail -5 "$W/stderr")"
    fi
}
# expect_match NAME WANT_RC REGEX CMD... : as expect, with an extended regex on the whole stdout.
expect_match() {
    local name=$1 want_rc=$2 re=$3 out rc
    shift 3
    out=$("$@" 2>"$W/stderr")
    rc=$?
    if [ "$rc" = "$want_rc" ] && [[ $out =~ $re ]]; then
        pass "$name"
    else
        fail "$name" "command: $*" "want rc $want_rc, got $rc" "want: /$re/" \
            "got:  $(printf %q "$out")" "stderr: $(tail -5 "$W/stderr")"
    fi
}
# in_tty CMD... : run CMD with a terminal as its stdin/stdout (util-linux script), strip the CRs.
in_tty() {
    local cmd
    cmd=$(printf '%q ' "$@")
    script -qefc "$cmd" /dev/null </dev/null | tr -d '\r'
    return "${PIPESTATUS[0]}"
}
# calls FROM: the runtime commands (first word of each logged argv) from line FROM of the log on,
# on one line; ids: the container ids of the `create` calls from line FROM on.
calls() { tail -n "+$1" "$RTLOG" | awk '{ printf "%s%s", sep, $1; sep = " " } END { print "" }'; }
ids() { tail -n "+$1" "$RTLOG" | awk '$1 == "create" { print $NF }'; }
logline() { echo $(($(wc -l <"$RTLOG") + 1)); }
# leftovers ID...: what the runtime and the cgroup driver left of these containers: state in the
# runtime's default root (buildah passes no --root) and cgroup directories on the host.
leftovers() {
    local id d
    for id in "$@"; do
        "$RUNTIME" state "$id" >/dev/null 2>&1 && echo "state: $id"
        findmnt -rn -t cgroup,cgroup2 -o TARGET | while read -r d; do
            find "$d" -type d -name "$id" -printf 'cgroup: %p\n' 2>/dev/null
        done
    done
    return 0
}

# ---- base image ----------------------------------------------------------------------------------

echo "# runtime: $RUNTIME ($("$RUNTIME" --version 2>&1 | head -1))"
echo "# buildah: $(buildah --version)"
if ! "$repo/scripts/mkrootfs.sh" "$W/rootfs" >"$W/mkrootfs.log" 2>&1 ||
    ! tar -C "$W/rootfs" -cf "$W/rootfs.tar" . ||
    ! ctr=$(bh from "${POLICY[@]}" --name base scratch 2>"$W/base.log") ||
    ! bh add "$ctr" "$W/rootfs.tar" / >>"$W/base.log" 2>&1 ||
    ! bh config --cmd /bin/sh "$ctr" >>"$W/base.log" 2>&1 ||
    ! bh commit -q "${POLICY[@]}" --rm "$ctr" "$BASE" >>"$W/base.log" 2>&1; then
    echo "Bail out! could not build the base image: $(tail -3 "$W/mkrootfs.log" "$W/base.log")"
    exit 1
fi

# ---- a build that succeeds -----------------------------------------------------------------------
# Every RUN step is a runtime container: files, a user, ENV and WORKDIR seen by later steps, USER,
# the default (netavark) network, a memory limit. The first step's stdout must reach the build's.
cat >"$W/ctx/Containerfile" <<'EOF'
FROM localhost/capsa-busybox:latest
ENV GREETING="hello from env"
RUN echo built >/built && echo marker-from-run && cat /proc/self/cgroup >/cgroup && \
    echo $(ls /sys/class/net) >/net && cat /sys/fs/cgroup/memory/memory.limit_in_bytes >/memlimit
RUN echo 'builder:x:1234:1234:builder:/home/builder:/bin/sh' >>/etc/passwd && \
    echo 'builder:x:1234:' >>/etc/group && mkdir -p /home/builder && chown builder:builder /home/builder
WORKDIR /work/dir
RUN echo "$GREETING" >/greeting && pwd >here
USER builder
RUN id >/home/builder/id && touch /home/builder/owned
EOF
from=$(logline)
bh bud "${POLICY[@]}" --runtime "$WRAP" --isolation oci --memory 64m -t "$IMG" \
    -f "$W/ctx/Containerfile" "$W/ctx" >"$W/build.out" 2>"$W/build.err"
rc=$?
if [ "$rc" = 0 ] && grep -q "^Successfully tagged $IMG\$" "$W/build.out" &&
    bh inspect --type image "$IMG" >/dev/null 2>&1; then
    pass "buildah bud --isolation oci succeeds and tags $IMG"
else
    fail "buildah bud --isolation oci succeeds and tags $IMG" "rc $rc" \
        "stdout: $(tail -5 "$W/build.out")" "stderr: $(tail -5 "$W/build.err")"
fi
expect "a RUN step's stdout reaches the build's output" 0 "marker-from-run" \
    grep -x marker-from-run "$W/build.out"
# The runtime was called for each of the four RUN steps, and only by the wrapper's log.
build_calls=$(calls "$from")
mapfile -t build_ids < <(ids "$from")
expect "the runtime ran the 4 RUN steps (create, start, state, delete each)" 0 \
    "$(printf 'create start state delete %.0s' 1 2 3 4 | sed 's/ $//')" echo "$build_calls"

# The image's content, read from outside: a container of the image mounted on the host.
if c=$(bh from "${POLICY[@]}" --name check "$IMG" 2>"$W/stderr") && m=$(bh mount "$c" 2>>"$W/stderr"); then
    expect "image: the file a RUN step wrote" 0 "built" cat "$m/built"
    expect "image: /etc/passwd has the user a RUN step added" 0 \
        "builder:x:1234:1234:builder:/home/builder:/bin/sh" grep '^builder:' "$m/etc/passwd"
    expect "image: ENV reached a later RUN step" 0 "hello from env" cat "$m/greeting"
    expect "image: WORKDIR was the RUN step's working directory" 0 "/work/dir" cat "$m/work/dir/here"
    expect "image: the step after USER builder ran as 1234 (id, owner of its file)" 0 \
        "uid=1234(builder) gid=1234(builder) groups=1234(builder) 1234:1234" \
        bash -c "echo \$(cat '$m/home/builder/id') \$(stat -c %u:%g '$m/home/builder/owned')"
    expect "image: the RUN step had the default network (eth0, lo)" 0 "eth0 lo" cat "$m/net"
    expect "image: --memory 64m was the RUN step's cgroup limit" 0 "67108864" cat "$m/memlimit"
    # buildah sets no cgroupsPath: the runtime picks a cgroup named after the container (crun
    # puts it at the hierarchy's root, runc and capsa under the caller's own cgroup).
    id1=${build_ids[0]:-none}
    expect "image: the first RUN step ran in a cgroup named $id1 (memory, pids)" 0 \
        "memory:$id1 pids:$id1" bash -c "echo \$(sed -nE 's,^[0-9]+:(memory|pids):.*/([^/]*)\$,\1:\2,p' '$m/cgroup' | sort)"
else
    fail "image: mount a container of $IMG" "stderr: $(tail -5 "$W/stderr")"
fi
expect "no container state or cgroup left of the build's steps" 0 "" leftovers "${build_ids[@]}"

# The image's config, and its new layer as pushed to an OCI archive (independent of the mount).
expect "image config: Env, WorkingDir, User" 0 \
    "[PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GREETING=hello from env] /work/dir builder" \
    bh inspect --type image --format '{{.OCIv1.Config.Env}} {{.OCIv1.Config.WorkingDir}} {{.OCIv1.Config.User}}' "$IMG"
# top_layer: the path of the image's last layer in the unpacked archive.
top_layer() {
    local mf
    mf=$(jq -r '.manifests[0].digest' "$W/export/index.json" | sed 's,:,/,') &&
        echo "$W/export/blobs/$(jq -r '.layers[-1].digest' "$W/export/blobs/$mf" | sed 's,:,/,')"
}
if bh push -q "${POLICY[@]}" "$IMG" "oci-archive:$W/img.tar" >/dev/null 2>"$W/stderr" &&
    tar -C "$W/export" -xf "$W/img.tar" && layer=$(top_layer) && [ -f "$layer" ]; then
    expect "pushed oci-archive: the new layer holds the steps' files" 0 \
        "./built ./greeting ./home/builder/id ./work/dir/here" \
        bash -c "echo \$(tar -tf '$layer' | grep -xE '(\\./)?(built|greeting|home/builder/id|work/dir/here)' |
            sed 's,^\\([^.]\\),./\\1,' | sort)"
    expect "pushed oci-archive: the layer's /greeting" 0 "hello from env" \
        bash -c "tar -xOf '$layer' ./greeting 2>/dev/null || tar -xOf '$layer' greeting"
else
    fail "pushed oci-archive: the new layer holds the steps' files" "stderr: $(tail -5 "$W/stderr")"
fi

# ---- a build that fails --------------------------------------------------------------------------
# A RUN exiting 3 must fail the build: non-zero, buildah names the exit status, no image, no later
# step, nothing left behind. --network none: the step sees only lo.
cat >"$W/fail/Containerfile" <<'EOF'
FROM localhost/capsa-busybox:latest
RUN echo before-failure $(ls /sys/class/net)
RUN echo failing; exit 3
RUN echo never-reached
EOF
from=$(logline)
bh bud "${POLICY[@]}" --runtime "$WRAP" --isolation oci --network none -t "$FAILIMG" \
    -f "$W/fail/Containerfile" "$W/fail" >"$W/fail.out" 2>"$W/fail.err"
rc=$?
if [ "$rc" != 0 ] && grep -q 'exit status 3' "$W/fail.err" &&
    ! bh inspect --type image "$FAILIMG" >/dev/null 2>&1; then
    pass "a RUN step exiting 3 fails the build (rc $rc, \"exit status 3\", no image)"
else
    fail "a RUN step exiting 3 fails the build" "rc $rc" "stdout: $(tail -5 "$W/fail.out")" \
        "stderr: $(tail -5 "$W/fail.err")"
fi
expect "failed build: the steps' output, up to the failing one" 0 $'before-failure lo\nfailing' \
    grep -xE 'before-failure.*|failing|never-reached' "$W/fail.out"
mapfile -t fail_ids < <(ids "$from")
expect "failed build: the runtime ran 2 steps and deleted both" 0 \
    "create start state delete create start state delete" calls "$from"
expect "failed build: no container state or cgroup left" 0 "" leftovers "${fail_ids[@]}"

# ---- buildah run ---------------------------------------------------------------------------------
# A working container of the built image, run through the wrapper: the image's WorkingDir and User
# apply, the exit code comes back, stdin and a terminal work.
if c=$(bh from "${POLICY[@]}" --name runner "$IMG" 2>"$W/stderr"); then
    from=$(logline)
    expect "buildah run: output, image's ENV, WorkingDir and User" 0 $'hello from env\n/work/dir\nbuilder' \
        bh run --runtime "$WRAP" "$c" -- sh -c 'echo "$GREETING"; pwd; id -un'
    expect "buildah run: the wrapper ran it (create, start, state, delete)" 0 \
        "create start state delete" calls "$from"
    expect "buildah run: exit code 5 comes back" 5 "" bh run --runtime "$WRAP" "$c" -- sh -c 'exit 5'
    expect "buildah run: stdin" 0 "hi" bash -c "echo hi | $(printf '%q ' "${BH[@]}" run --runtime "$WRAP" "$c" -- cat)"
    # buildah 1.28 puts a NUL byte on the terminal first (with every runtime), echoed as ^@.
    expect_match "buildah run -t: a terminal" 0 '^(\^@)?/dev/pts/[0-9]+$' \
        in_tty "${BH[@]}" run -t --runtime "$WRAP" "$c" -- tty
    expect "buildah run --user root" 0 "0" bh run --runtime "$WRAP" --user root "$c" -- id -u
    mapfile -t run_ids < <(ids "$from")
    expect "buildah run: no container state or cgroup left" 0 "" leftovers "${run_ids[@]}"
else
    fail "buildah from $IMG" "stderr: $(tail -5 "$W/stderr")"
fi

echo "1..$n"
[ "$failed" = 0 ]
