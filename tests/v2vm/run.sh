#!/bin/bash
# run.sh - boot a Debian kernel under QEMU with a pure cgroup v2 hierarchy and run a test script.
#
# usage: tests/v2vm/run.sh [--bin PATH]... [--env NAME=VALUE]... SCRIPT [FILES...]
#
# Builds (cached under build/v2vm/) a gzip'd newc initramfs holding busybox-static, build/capsa
# and the shared libraries ldd names for it, build/helpers/*, a container rootfs made by
# scripts/mkrootfs.sh (at /rootfs), SCRIPT (at /v2vm/test.sh) and FILES (in /v2vm/files/). Its
# /init (tests/v2vm/init.sh) mounts cgroup2 on /sys/fs/cgroup, enables every controller, runs
# SCRIPT and prints "V2VM-EXIT <code>". --bin adds another dynamic binary (with its libraries)
# to /usr/local/bin, e.g. /usr/bin/crun to check a guest script against a reference runtime;
# --env adds a variable to SCRIPT's environment.
#
# The serial console goes to stdout and build/v2vm/console.log. The exit status is the guest's
# V2VM-EXIT code, 124 when the guard timeout (V2VM_TIMEOUT, default 600 s) fired, 125 when the
# guest ended without reporting, 2 on usage errors, 3 when qemu, the kernel or the inputs are
# missing. Environment: V2VM_KERNEL (a vmlinuz), V2VM_ACCEL (tcg, the default, or kvm), V2VM_MEM (MiB, 1024), V2VM_SMP (2), V2VM_TIMEOUT.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$repo/tests/v2vm
out=$repo/build/v2vm

die() {
    echo "v2vm: $*" >&2
    exit 3
}
usage() {
    sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2
    exit 2
}

bins=()
envs=()
while [ $# -gt 0 ]; do
    case "$1" in
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

[ -f "$script" ] || die "test script not found: $script"
for f in "${files[@]}"; do
    [ -e "$f" ] || die "file not found: $f"
done
for b in "${bins[@]}"; do
    [ -x "$b" ] || die "--bin: not an executable: $b"
done

# --- tools -----------------------------------------------------------------------------------
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || die "qemu-system-x86_64 not found; install it: apt-get install -y --no-install-recommends qemu-system-x86"
command -v cpio >/dev/null || die "cpio not found; install it: apt-get install -y cpio"
[ -x "$repo/build/capsa" ] || die "build/capsa not found; run make first"

busybox=
for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && { LC_ALL=C ldd "$b" 2>&1 || true; } | grep -qE 'not a dynamic|statically linked'; then
        busybox=$b
        break
    fi
done
[ -n "$busybox" ] || die "no static busybox found; install busybox-static"

# --- kernel ----------------------------------------------------------------------------------
# The newest cloud kernel: it has virtio, the 8250 console, gzip initramfs and every cgroup
# controller built in (checked in docs/testing-cgroup-v2.md), so no modules are needed.
kernel=${V2VM_KERNEL:-}
if [ -z "$kernel" ]; then
    kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n1)
    [ -n "$kernel" ] || kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort -V | tail -n1)
fi
[ -n "$kernel" ] || die "no kernel in /boot; install one: apt-get install -y --no-install-recommends linux-image-cloud-amd64"
[ -r "$kernel" ] || die "kernel not readable: $kernel"

mkdir -p "$out"

# --- cache key -------------------------------------------------------------------------------
# Every input's content (and its name in the image) goes into the key, so a changed capsa, helper,
# library, script or harness builds a new image and an unchanged set reuses the old one.
libs_of() {
    # The libraries and loader ldd names, one absolute path per line.
    LC_ALL=C ldd "$1" 2>/dev/null | sed -nE 's/.*=> (\/[^ ]+) .*/\1/p; s/^[[:space:]]*(\/[^ ]+) \(0x.*/\1/p'
}
inputs=$(
    {
        echo "busybox $busybox"
        echo "capsa $repo/build/capsa"
        for b in "${bins[@]}"; do echo "bin $b"; done
        for l in $( (libs_of "$repo/build/capsa"; for b in "${bins[@]}"; do libs_of "$b"; done) | sort -u); do
            echo "lib $l"
        done
        for h in "$repo"/build/helpers/*; do [ -f "$h" ] && echo "helper $h"; done
        echo "script $script"
        for f in "${files[@]}"; do
            if [ -d "$f" ]; then
                find "$f" -type f | LC_ALL=C sort | sed 's/^/file /'
            else
                echo "file $f"
            fi
        done
        echo "harness $here/init.sh"
        echo "harness $here/run.sh"
        echo "harness $repo/scripts/mkrootfs.sh"
    }
)
key=$(
    {
        printf '%s\n' "$inputs"
        printf 'env %s\n' "${envs[@]+"${envs[@]}"}"
        awk '{print $2}' <<<"$inputs" | while read -r p; do sha256sum "$(readlink -f "$p")"; done
    } | sha256sum | cut -c1-16
)
initrd=$out/initramfs-$key.cpio.gz

# --- initramfs -------------------------------------------------------------------------------
# copy_elf SRC DEST: DEST inside the image, plus SRC's libraries at the paths ldd printed (the
# loader at its PT_INTERP path), so the guest's ld.so finds them without an ld.so.cache.
copy_elf() {
    local src=$1 dest=$2 l
    install -D -m 0755 "$src" "$stage$dest"
    for l in $(libs_of "$src"); do
        [ -e "$stage$l" ] || install -D -m 0755 "$(readlink -f "$l")" "$stage$l"
    done
}

build_initrd() {
    stage=$out/stage
    rm -rf "$stage"
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,dev,proc,sys,run,tmp,etc,root,v2vm/files}

    # Host side tools: busybox and one symlink per applet in /bin.
    install -m 0755 "$busybox" "$stage/bin/busybox"
    local applet
    for applet in $("$busybox" --list); do
        [ "$applet" = busybox ] || ln -sfn busybox "$stage/bin/$applet"
    done
    copy_elf "$repo/build/capsa" /usr/local/bin/capsa
    local b h f
    for b in "${bins[@]}"; do copy_elf "$b" "/usr/local/bin/$(basename "$b")"; done
    for h in "$repo"/build/helpers/*; do
        [ -f "$h" ] && [ -x "$h" ] && install -m 0755 "$h" "$stage/usr/local/bin/$(basename "$h")"
    done

    # The container rootfs (busybox, /etc, helpers) exactly as the bats suite builds it.
    "$repo/scripts/mkrootfs.sh" "$stage/rootfs" >/dev/null

    install -m 0755 "$here/init.sh" "$stage/init"
    install -m 0755 "$script" "$stage/v2vm/test.sh"
    for f in "${files[@]}"; do cp -a "$f" "$stage/v2vm/files/"; done
    : >"$stage/v2vm/env"
    local e
    for e in "${envs[@]+"${envs[@]}"}"; do
        # Single-quoted for the guest shell; a ' in the value is closed, escaped and reopened.
        printf "export %s='%s'\n" "${e%%=*}" "$(printf '%s' "${e#*=}" | sed "s/'/'\\\\''/g")" >>"$stage/v2vm/env"
    done
    # The kernel opens /dev/console for init before any devtmpfs exists (needs root to create;
    # without it /init still reopens the console once devtmpfs is up).
    mknod -m 0600 "$stage/dev/console" c 5 1 2>/dev/null || true
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
    printf 'root:x:0:\n' >"$stage/etc/group"
    chmod 1777 "$stage/tmp"

    # Deterministic archive: sorted names, owner 0:0, one fixed mtime, no inode/device numbers.
    find "$stage" -exec touch -h -d @0 {} +
    (cd "$stage" && find . -print0 | LC_ALL=C sort -z |
        cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) |
        gzip -n -9 >"$initrd.tmp"
    mv "$initrd.tmp" "$initrd"
    rm -rf "$stage"
}

if [ ! -s "$initrd" ]; then
    echo "v2vm: building $initrd" >&2
    # Older images are stale once the key changes; keep only the current one.
    rm -f "$out"/initramfs-*.cpio.gz
    build_initrd
else
    echo "v2vm: reusing $initrd" >&2
fi

# --- boot ------------------------------------------------------------------------------------
# TCG by default: on this project's machines /dev/kvm opens but nested KVM stops the 6.1 guest
# early with "KVM internal error. Suberror: 1 / emulation failure", and qemu then sits paused
# until the guard timeout. V2VM_ACCEL=kvm opts in where KVM is known to work.
accel=${V2VM_ACCEL:-tcg}
case "$accel" in
kvm) cpu=host ;;
tcg) cpu=max ;;
*) die "V2VM_ACCEL must be kvm or tcg, not $accel" ;;
esac

cmdline="console=ttyS0 panic=-1 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all quiet rdinit=/init"
log=$out/console.log
timeout_s=${V2VM_TIMEOUT:-600}
echo "v2vm: booting $kernel (accel=$accel, timeout ${timeout_s}s), console in $log" >&2

start=$(date +%s)
set +e
# -nographic puts the serial port on stdio; stdin is /dev/null so a batch run never waits on it.
timeout --kill-after=10 "$timeout_s" "$qemu" -machine q35 -accel "$accel" -cpu "$cpu" \
    -m "${V2VM_MEM:-1024}" -smp "${V2VM_SMP:-2}" -nographic -no-reboot \
    -kernel "$kernel" -initrd "$initrd" -append "$cmdline" </dev/null 2>&1 |
    tr -d '\r' | tee "$log"
# Take qemu's status (through timeout), not tee's, and do not let set -e end the script here.
status=("${PIPESTATUS[@]}")
set -e
rc=${status[0]}
elapsed=$(($(date +%s) - start))

code=$(sed -nE 's/^V2VM-EXIT ([0-9]+)$/\1/p' "$log" | tail -n1)
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "v2vm: guard timeout after ${elapsed}s (qemu killed); see $log" >&2
    exit 124
fi
if [ -z "$code" ]; then
    echo "v2vm: the guest ended after ${elapsed}s without a V2VM-EXIT line (qemu status $rc); see $log" >&2
    exit 125
fi
echo "v2vm: guest exited $code after ${elapsed}s" >&2
exit "$code"
