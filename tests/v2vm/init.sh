#!/bin/sh
# init.sh - /init of the v2vm initramfs (run by tests/v2vm/run.sh): a pure cgroup v2 host.
#
# First pass (on the kernel's initramfs rootfs): copy everything onto a tmpfs and switch_root
# there, because pivot_root(2) refuses to move the initramfs rootfs, and container runtimes
# pivot_root into the bundle. Second pass: mount the API filesystems, cgroup2 on /sys/fs/cgroup
# with every available controller enabled for children, run /v2vm/test.sh, print
# "V2VM-EXIT <code>" and power off.
PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin
export PATH

if [ ! -e /.v2vm-switched ]; then
    mount -t devtmpfs devtmpfs /dev 2>/dev/null
    exec </dev/console >/dev/console 2>&1
    mkdir -p /newroot
    mount -t tmpfs -o mode=0755,size=90% tmpfs /newroot || {
        echo "v2vm-init: cannot mount the tmpfs root"
        echo "V2VM-EXIT 126"
        echo o >/proc/sysrq-trigger
    }
    for e in /* /.[!.]*; do
        case "$e" in
        /newroot | /dev | /proc | /sys | '/.[!.]*') ;;
        *) cp -a "$e" /newroot/ ;;
        esac
    done
    mkdir -p /newroot/dev /newroot/proc /newroot/sys
    : >/newroot/.v2vm-switched
    mount --move /dev /newroot/dev 2>/dev/null || umount -l /dev
    exec switch_root /newroot /init
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
# /dev came over from the first pass with mount --move; mount it only if that failed.
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue 2>/dev/null
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
# Keep kernel chatter (OOM reports) off the console so TAP lines stay whole; tests read dmesg.
echo 1 >/proc/sys/kernel/printk
hostname v2vm
ip link set lo up 2>/dev/null

# The pure v2 hierarchy. cgroup_no_v1=all on the command line keeps every controller off v1.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || echo "v2vm-init: mounting cgroup2 failed"
read -r controllers </sys/fs/cgroup/cgroup.controllers
for c in $controllers; do
    # One at a time, so a controller that refuses does not keep the others off.
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
        echo "v2vm-init: could not enable controller $c"
done

echo "V2VM-KERNEL $(uname -r)"
echo "V2VM-CONTROLLERS $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "V2VM-SUBTREE $(cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "V2VM-CPUS $(nproc) MEM-KB $(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"

cd /v2vm || echo "v2vm-init: no /v2vm"
# shellcheck source=/dev/null # written into the initramfs by run.sh
. /v2vm/env
export V2VM_FILES=/v2vm/files
start=$(cut -d' ' -f1 /proc/uptime)
sh /v2vm/test.sh
code=$?
end=$(cut -d' ' -f1 /proc/uptime)
echo "V2VM-TIME start=$start end=$end"
echo "V2VM-EXIT $code"
sync
poweroff -f
echo o >/proc/sysrq-trigger
sleep 10
