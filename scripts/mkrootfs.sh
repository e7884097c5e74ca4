#!/bin/bash
# mkrootfs.sh DIR - build a minimal, deterministic rootfs from Debian's busybox-static (offline).
# DIR/bin/busybox plus one symlink per applet, a small /etc, the usual empty mount points, and the
# static test helpers from build/helpers/ when they have been built. Safe to run again on DIR.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

busybox=
for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && file_out=$(LC_ALL=C ldd "$b" 2>&1 || true) &&
        grep -qE 'not a dynamic|statically linked' <<<"$file_out"; then
        busybox=$b
        break
    fi
done
if [ -z "$busybox" ]; then
    echo "mkrootfs.sh: no static busybox found; install busybox-static (scripts/deps.sh)" >&2
    exit 1
fi

mkdir -p "$dir"
cd "$dir"
mkdir -p bin sbin usr/bin usr/sbin etc dev proc sys tmp root run var/tmp home/user mnt
chmod 0755 bin sbin usr usr/bin usr/sbin etc dev proc sys root run var home mnt
chmod 1777 tmp var/tmp
chmod 0700 root

install -m 0755 "$busybox" bin/busybox
# One symlink per applet, always into bin/ so paths do not depend on busybox's install layout.
for applet in $("$busybox" --list); do
    case "$applet" in
    busybox) continue ;;
    esac
    ln -sfn busybox "bin/$applet"
done

cat >etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >etc/group <<'GROUP'
root:x:0:
user:x:1000:
nogroup:x:65534:
GROUP
echo capsa >etc/hostname
printf '127.0.0.1 localhost\n::1 localhost\n' >etc/hosts
: >etc/resolv.conf
chmod 0644 etc/passwd etc/group etc/hostname etc/hosts etc/resolv.conf
chown 1000:1000 home/user

# Static helpers (recvtty, probe) when the Makefile has built them.
if [ -d "$repo/build/helpers" ]; then
    for h in "$repo"/build/helpers/*; do
        if [ ! -f "$h" ] || [ ! -x "$h" ]; then continue; fi
        install -m 0755 "$h" "bin/$(basename "$h")"
    done
fi
