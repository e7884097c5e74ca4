#!/bin/bash
# mkdebian.sh DIR - a Debian 12 rootfs (debootstrap --variant=minbase, plus python3) for the tests
# that run real programs (tests/integration/interpose_real.bats). Needs Debian's package archive
# (the only network these machines have). Cached: DIR is rebuilt only when its stamp is missing
# or names other packages. Run as root.
set -euo pipefail

dir=${1:?usage: mkdebian.sh DIR}
packages=python3
mirror=${CAPSA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
stamp=$dir/.capsa-debian-stamp

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "bookworm minbase $packages" ]; then
    exit 0
fi
command -v debootstrap >/dev/null || {
    echo "mkdebian.sh: debootstrap is needed (apt-get install debootstrap)" >&2
    exit 1
}
tmp="$dir.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
debootstrap --variant=minbase --include="$packages" bookworm "$tmp" "$mirror" >&2
# Smaller and quieter: no apt caches, no man pages.
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/man
echo "bookworm minbase $packages" >"$tmp/.capsa-debian-stamp"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
