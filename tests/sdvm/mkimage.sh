#!/bin/bash
# mkimage.sh - the cached Debian 12 disk image the sdvm guest boots (tests/sdvm/run.sh calls it).
#
# usage: tests/sdvm/mkimage.sh [KERNEL_VERSION]   prints the image's path on stdout
#
# 1. build/sdvm/rootfs: debootstrap --variant=minbase of bookworm with systemd as PID 1 and the
#    container engines (podman, containerd, runc, crun, ...). Cached: rebuilt only when its stamp
#    is missing or names another package list (as scripts/mkdebian.sh). Needs Debian's archive.
# 2. build/sdvm/disk-<key>.img: an ext4 image (mkfs.ext4 -d) of a copy of that rootfs with the
#    guest's configuration (tests/sdvm/guest/*: the unit that runs the test script and powers
#    off, the units masked for a quick boot) and the modules of the kernel the guest boots
#    (/lib/modules/KERNEL_VERSION from this host: the kernel itself comes from /boot). <key> hashes
#    the stamp, the kernel version, this script and tests/sdvm/guest/, so a change to any of them
#    builds a new image; older ones are removed. run.sh boots it with -snapshot, so it stays clean.
#
# Nothing per run (runtime, test script, container rootfs) is in this image: run.sh puts those on
# a second, small disk. Run as root (debootstrap, and mkfs.ext4 -d keeps the owners it reads).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$repo/tests/sdvm
out=$repo/build/sdvm
rootfs=$out/rootfs
mirror=${CAPSA_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# systemd as PID 1 (systemd-sysv), D-Bus (runc, crun and podman reach systemd through it), udev;
# pam_systemd (libpam-systemd) so that a user manager (user@UID.service) can start for the
# rootless checks;
# CRIU for checkpoint/restore (tests/sdvm/criu.sh: Debian's CRIU works on the guest's Debian
# kernel); the engines and runtimes; jq for the test script's spec edits; kmod so that the kernel can load
# overlay, bridge and netfilter modules on demand; iptables, netavark and the CNI plugins that
# podman's and containerd's networking want.
packages=systemd,systemd-sysv,libpam-systemd,dbus,udev,kmod,procps,iproute2,jq,criu,podman,conmon,crun,runc,containerd,containernetworking-plugins,netavark,aardvark-dns,iptables,golang-github-containers-common
stamp_text="bookworm minbase $packages"

die() {
    echo "sdvm mkimage: $*" >&2
    exit 3
}
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mkfs.ext4 -d with owners)"

kver=${1:-}
if [ -z "$kver" ]; then
    k=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n1)
    [ -n "$k" ] || die "no /boot/vmlinuz-*-cloud-amd64; apt-get install linux-image-cloud-amd64"
    kver=${k#/boot/vmlinuz-}
fi
[ -d "/lib/modules/$kver" ] || die "no /lib/modules/$kver for the guest kernel"
mkdir -p "$out"

# ---- 1. the rootfs ------------------------------------------------------------------------------
if [ ! -f "$rootfs/.sdvm-stamp" ] || [ "$(cat "$rootfs/.sdvm-stamp")" != "$stamp_text" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is needed (apt-get install debootstrap)"
    echo "sdvm: debootstrap of $rootfs (packages: $packages)" >&2
    t0=$SECONDS
    tmp=$rootfs.tmp.$$
    rm -rf "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    debootstrap --variant=minbase --include="$packages" bookworm "$tmp" "$mirror" >&2
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/man \
        "$tmp"/usr/share/doc/*
    echo "$stamp_text" >"$tmp/.sdvm-stamp"
    rm -rf "$rootfs"
    mv "$tmp" "$rootfs"
    trap - EXIT
    echo "sdvm: rootfs built in $((SECONDS - t0)) s" >&2
fi

# ---- 2. the disk image --------------------------------------------------------------------------
key=$(
    {
        echo "$stamp_text"
        echo "kernel $kver"
        sha256sum "$here/mkimage.sh"
        (cd "$here/guest" && find . -type f | LC_ALL=C sort | xargs sha256sum)
    } | sha256sum | cut -c1-16
)
img=$out/disk-$key.img
if [ -s "$img" ]; then
    echo "$img"
    exit 0
fi

echo "sdvm: building $img" >&2
t0=$SECONDS
stage=$out/stage
rm -rf "$stage"
trap 'rm -rf "$stage" "$img.tmp"' EXIT
cp -a "$rootfs" "$stage"
rm -f "$stage/.sdvm-stamp"

# The booted kernel's modules (virtio_blk for the second disk once the root is up, overlay,
# bridge, veth, netfilter for the engines). The kernel and its initrd come from /boot.
mkdir -p "$stage/usr/lib/modules"
cp -a "/lib/modules/$kver" "$stage/usr/lib/modules/"

echo sdvm >"$stage/etc/hostname"
printf '127.0.0.1 localhost sdvm\n::1 localhost\n' >"$stage/etc/hosts"
# The root is mounted rw by the kernel command line; nothing else to mount.
echo '# the root is /dev/vda, mounted rw by the kernel (tests/sdvm/run.sh)' >"$stage/etc/fstab"
: >"$stage/etc/resolv.conf"
# A fixed machine id: every boot of the image is the same machine (no first-boot setup).
echo 5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d >"$stage/etc/machine-id"

# The runner: a oneshot unit ordered after multi-user.target that runs /usr/local/sbin/sdvm-run.
install -m 0755 "$here/guest/sdvm-run" "$stage/usr/local/sbin/sdvm-run"
install -m 0644 "$here/guest/sdvm.service" "$stage/etc/systemd/system/sdvm.service"
mkdir -p "$stage/etc/systemd/system/multi-user.target.wants"
ln -sfn /etc/systemd/system/sdvm.service "$stage/etc/systemd/system/multi-user.target.wants/sdvm.service"
mkdir -p "$stage/etc/systemd/journald.conf.d" "$stage/etc/systemd/system.conf.d"
install -m 0644 "$here/guest/journald.conf" "$stage/etc/systemd/journald.conf.d/sdvm.conf"
install -m 0644 "$here/guest/system.conf" "$stage/etc/systemd/system.conf.d/sdvm.conf"

# A quick, quiet boot: no getty, no timers, no daemon that the tests do not use. containerd is
# only disabled: the test script starts it with its own configuration.
while read -r unit; do
    case "$unit" in '' | '#'*) continue ;; esac
    ln -sfn /dev/null "$stage/etc/systemd/system/$unit"
done <"$here/guest/masked-units"
rm -f "$stage"/etc/systemd/system/multi-user.target.wants/containerd.service \
    "$stage"/etc/systemd/system/*.wants/podman*.service \
    "$stage"/etc/systemd/system/*.wants/podman*.socket
systemctl --root="$stage" set-default multi-user.target >/dev/null 2>&1 ||
    ln -sfn /lib/systemd/system/multi-user.target "$stage/etc/systemd/system/default.target"

# Size: what the tree holds plus room for container images, overlay layers and logs. Sparse.
used=$(du -sm "$stage" | cut -f1)
size=$((used + 1536))
rm -f "$img.tmp"
mkfs.ext4 -q -F -L sdvm-root -E root_owner=0:0 -d "$stage" "$img.tmp" "${size}M" >&2 ||
    die "mkfs.ext4 -d failed"
rm -f "$out"/disk-*.img
mv "$img.tmp" "$img"
rm -rf "$stage"
trap - EXIT
echo "sdvm: image built in $((SECONDS - t0)) s (${used} MiB of files, ${size} MiB image)" >&2
echo "$img"
