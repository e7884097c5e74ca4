#!/bin/bash
# run.sh - boot a Debian 12 guest with systemd as PID 1 under QEMU and run a test script in it.
#
# usage: tests/sdvm/run.sh [--runtime PATH] [--bin PATH]... [--env NAME=VALUE]... SCRIPT [FILES...]
#
# The guest (docs/testing-systemd.md) boots this host's newest /boot/vmlinuz-*-cloud-amd64 with
# its Debian initrd from a cached ext4 image of a Debian 12 rootfs (tests/sdvm/mkimage.sh:
# systemd, dbus, podman, containerd, runc, crun, jq) on a pure cgroup v2 hierarchy. The image is
# opened with snapshot=on, so each run starts from the same clean state. Everything that belongs
# to one run goes on a second, small disk (/dev/vdb, mounted on /sdvm in the guest):
#   - the runtime under test: --runtime PATH (default: the repository's build/capsa) is copied to
#     /usr/local/bin/NAME (NAME = PATH's basename) and the script gets RUNTIME=/usr/local/bin/NAME.
#     A PATH that this host lacks but the image has (e.g. /usr/sbin/runc, /usr/bin/crun) is used
#     as the image's own: RUNTIME=PATH.
#   - --bin PATH: more host binaries in /usr/local/bin; --env: more variables for SCRIPT.
#   - SCRIPT (as /sdvm/test.sh) and FILES (in /sdvm/files, $SDVM_FILES);
#   - a busybox container rootfs from scripts/mkrootfs.sh ($SDVM_ROOTFS), the same packed as OCI
#     archives for containerd ($SDVM_OCI_BUSYBOX, and $SDVM_OCI_PAUSE: a pause image), and the CRI
#     client of tests/engines/cri ($SDVM_CRI) when the host can build them (golang-go,
#     golang-google-grpc-dev, gcc); the variables are empty when it cannot.
# The image's sdvm.service runs SCRIPT as root once the boot is finished (under a watchdog of
# SDVM_GUEST_TIMEOUT seconds: the guard timeout less 90), prints "SDVM-EXIT <code>" and powers off.
# One run at a time: build/sdvm/lock serializes them.
#
# The serial console goes to stdout and build/sdvm/console.log. The exit status is the guest's
# SDVM-EXIT code, 124 when the guard timeout (SDVM_TIMEOUT, default 900 s) fired, 125 when the
# guest ended without reporting, 2 on usage errors, 3 when qemu, the kernel or the inputs are
# missing. Environment: SDVM_KERNEL (a /boot/vmlinuz-*; its initrd.img and /lib/modules must
# exist), SDVM_MEM (MiB, 2048), SDVM_SMP (2), SDVM_TIMEOUT, SDVM_APPEND (more kernel arguments).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$repo/tests/sdvm
out=$repo/build/sdvm

die() {
    echo "sdvm: $*" >&2
    exit 3
}
usage() {
    sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2
    exit 2
}

runtime=$repo/build/capsa
bins=()
envs=()
while [ $# -gt 0 ]; do
    case "$1" in
    --runtime)
        [ $# -ge 2 ] || usage
        runtime=$2
        shift 2
        ;;
    --bin)
        [ $# -ge 2 ] || usage
        bins+=("$2")
        shift 2
        ;;
    --env)
        [ $# -ge 2 ] || usage
        case "$2" in
        [A-Za-z_]*=*) envs+=("$2") ;;
        *) usage ;;
        esac
        shift 2
        ;;
    -h | --help) usage ;;
    --)
        shift
        break
        ;;
    -*) usage ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || usage
script=$1
shift
files=("$@")

[ "$(id -u)" = 0 ] || die "needs root (debootstrap and mkfs.ext4 -d with owners)"
[ -f "$script" ] || die "test script not found: $script"
for f in "${files[@]}"; do
    [ -e "$f" ] || die "file not found: $f"
done
for b in "${bins[@]}"; do
    if [ ! -f "$b" ] || [ ! -x "$b" ]; then die "--bin: not an executable: $b"; fi
done
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || die "qemu-system-x86_64 not found; apt-get install -y --no-install-recommends qemu-system-x86"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found; apt-get install -y e2fsprogs"

# ---- kernel -------------------------------------------------------------------------------------
kernel=${SDVM_KERNEL:-$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n1)}
[ -n "$kernel" ] || die "no /boot/vmlinuz-*-cloud-amd64; apt-get install -y linux-image-cloud-amd64"
kver=${kernel##*/vmlinuz-}
initrd=/boot/initrd.img-$kver
if [ ! -r "$kernel" ] || [ ! -r "$initrd" ]; then die "kernel $kernel or its initrd $initrd not readable"; fi

# One guest at a time: the per-run disk, the console log and the image cache are shared.
mkdir -p "$out"
exec 9>"$out/lock"
if ! flock -n 9; then
    echo "sdvm: another run.sh holds $out/lock; waiting" >&2
    flock 9
fi

# ---- the cached root image ----------------------------------------------------------------------
t0=$SECONDS
img=$("$here/mkimage.sh" "$kver") || die "mkimage.sh failed"
[ -s "$img" ] || die "mkimage.sh gave no image"
echo "sdvm: root image $img ($((SECONDS - t0)) s)" >&2

# ---- the per-run disk ---------------------------------------------------------------------------
t0=$SECONDS
stage=$out/run
rm -rf "$stage"
mkdir -p "$stage"/{bin,files}
rtpath=
if [ -f "$runtime" ] && [ -x "$runtime" ]; then
    install -m 0755 "$(readlink -f "$runtime")" "$stage/bin/${runtime##*/}"
    rtpath=/usr/local/bin/${runtime##*/}
elif [ -x "$out/rootfs$runtime" ] || [ -L "$out/rootfs$runtime" ]; then
    rtpath=$runtime
    echo "sdvm: $runtime is not on this host; the guest's own is used" >&2
else
    die "--runtime: $runtime is neither an executable here nor in the image (build/capsa: run make)"
fi
for b in "${bins[@]}"; do install -m 0755 "$(readlink -f "$b")" "$stage/bin/${b##*/}"; done
install -m 0644 "$script" "$stage/test.sh"
for f in "${files[@]}"; do cp -a "$f" "$stage/files/"; done

# The container rootfs, and the same as OCI image archives (containerd imports those).
"$repo/scripts/mkrootfs.sh" "$stage/rootfs" >/dev/null || die "scripts/mkrootfs.sh failed"
oci_busybox='' oci_pause='' cri=''
if command -v jq >/dev/null && "$repo/tests/engines/cri/mkimage.sh" "$stage/rootfs" \
    localhost/capsa-busybox:1 "$stage/busybox.oci.tar" >/dev/null 2>"$out/prep.log"; then
    oci_busybox=/sdvm/busybox.oci.tar
else
    echo "sdvm: no OCI busybox image (jq missing?): $(tail -n2 "$out/prep.log" 2>/dev/null)" >&2
fi

# The pause program and the CRI client: built once per source version, cached under build/sdvm.
prep_cache() { # NAME SOURCE...: a cache path keyed by the sources' contents
    echo "$out/cache/$1-$(cat "${@:2}" | sha256sum | cut -c1-12)"
}

pause_bin=$(prep_cache pause "$repo/tests/engines/cri/pause/pause.c")
if [ ! -x "$pause_bin" ] && command -v gcc >/dev/null; then
    mkdir -p "$out/cache"
    gcc -static -O2 -o "$pause_bin.tmp" "$repo/tests/engines/cri/pause/pause.c" 2>>"$out/prep.log" &&
        mv "$pause_bin.tmp" "$pause_bin"
fi
if [ -x "$pause_bin" ] && [ -n "$oci_busybox" ]; then
    mkdir -p "$out/pause-rootfs"/{dev,proc,sys,etc}
    install -m 0755 "$pause_bin" "$out/pause-rootfs/pause"
    "$repo/tests/engines/cri/mkimage.sh" "$out/pause-rootfs" localhost/capsa-pause:1 \
        "$stage/pause.oci.tar" '["/pause"]' null >/dev/null 2>>"$out/prep.log" &&
        oci_pause=/sdvm/pause.oci.tar
fi
# tests/engines/cri/main.go, built in GOPATH mode as tests/engines/containerd.sh builds it.
cri_bin=$(prep_cache cri "$repo/tests/engines/cri/main.go")
if [ ! -x "$cri_bin" ] && command -v go >/dev/null && [ -d /usr/share/gocode/src/google.golang.org/grpc ]; then
    src=$out/cache/cri-src/cri
    mkdir -p "$src"
    cp "$repo/tests/engines/cri/main.go" "$src/main.go"
    if rm -f "$out"/cache/cri-[0-9a-f]* &&
        (cd "$src" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/cache/gocache" \
            GOFLAGS="" go build -o "$cri_bin.tmp" .) 2>>"$out/prep.log"; then
        mv "$cri_bin.tmp" "$cri_bin"
    else
        echo "sdvm: building the CRI client failed: $(tail -n3 "$out/prep.log")" >&2
    fi
fi
if [ -x "$cri_bin" ]; then
    install -m 0755 "$cri_bin" "$stage/bin/cri"
    cri=/usr/local/bin/cri
fi

q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
{
    echo "RUNTIME=$(q "$rtpath")"
    echo "SDVM_ROOTFS=/sdvm/rootfs"
    echo "SDVM_OCI_BUSYBOX=$oci_busybox"
    echo "SDVM_OCI_PAUSE=$oci_pause"
    echo "SDVM_CRI=$cri"
    # The guest's own watchdog on the script, to report what hangs before the guard kills qemu.
    echo "SDVM_GUEST_TIMEOUT=$((${SDVM_TIMEOUT:-900} > 240 ? ${SDVM_TIMEOUT:-900} - 90 : ${SDVM_TIMEOUT:-900} / 2))"
    for e in "${envs[@]+"${envs[@]}"}"; do echo "${e%%=*}=$(q "${e#*=}")"; done
} >"$stage/env"

run_img=$out/run.img
rm -f "$run_img"
size=$(($(du -sm "$stage" | cut -f1) + 16))
mkfs.ext4 -q -F -L sdvm-run -E root_owner=0:0 -d "$stage" "$run_img" "${size}M" >&2 ||
    die "mkfs.ext4 of the per-run disk failed"
rm -rf "$stage"
echo "sdvm: per-run disk $run_img (${size} MiB, $((SECONDS - t0)) s): RUNTIME=$rtpath" >&2

# ---- boot ---------------------------------------------------------------------------------------
# TCG: this machine has no /dev/kvm. mitigations=off spares TCG the page-table switches of PTI;
# the root is written to a throw-away overlay (snapshot=on); no network card (-nic none).
cmdline="root=/dev/vda rw console=ttyS0 panic=-1 quiet loglevel=3 systemd.unified_cgroup_hierarchy=1"
cmdline="$cmdline systemd.show_status=false fsck.mode=skip mitigations=off random.trust_cpu=on ${SDVM_APPEND:-}"
log=$out/console.log
timeout_s=${SDVM_TIMEOUT:-900}
echo "sdvm: booting $kernel (tcg, timeout ${timeout_s}s), console in $log" >&2

start=$(date +%s)
set +e
timeout --kill-after=10 "$timeout_s" "$qemu" -machine q35 -accel tcg -cpu max \
    -m "${SDVM_MEM:-2048}" -smp "${SDVM_SMP:-2}" -nographic -no-reboot -nic none \
    -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
    -drive "file=$img,format=raw,if=virtio,snapshot=on" \
    -drive "file=$run_img,format=raw,if=virtio,readonly=on" </dev/null 2>&1 |
    sed -u 's/\r//g' | tee "$log"
status=("${PIPESTATUS[@]}")
set -e
rc=${status[0]}
elapsed=$(($(date +%s) - start))

code=$(sed -nE 's/^SDVM-EXIT ([0-9]+)$/\1/p' "$log" | tail -n1)
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "sdvm: guard timeout after ${elapsed}s (qemu killed); see $log" >&2
    exit 124
fi
if [ -z "$code" ]; then
    echo "sdvm: the guest ended after ${elapsed}s without an SDVM-EXIT line (qemu status $rc); see $log" >&2
    exit 125
fi
echo "sdvm: guest exited $code after ${elapsed}s" >&2
exit "$code"
