#!/bin/bash
# demo.sh - on a fresh Debian 12 machine (as root): install build packages, build capsa, make a
# busybox rootfs and run a container at each isolation level this host offers (native,
# interpose, unikernel, and vm where QEMU and a cloud kernel are installed), printing each exit
# code. Everything is offline except Debian's apt
# archive.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

"$repo/scripts/deps.sh"
make -j"$(nproc 2>/dev/null || echo 2)"

bundle=$repo/build/demo/bundle
rm -rf "$bundle"
mkdir -p "$bundle"
"$repo/scripts/mkrootfs.sh" "$bundle/rootfs"
build/capsa spec --bundle "$bundle"
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "echo hello from capsa; hostname; id; ls /"]
    | .hostname = "capsa-demo"' "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

rc=0
echo "== native"
build/capsa run --bundle "$bundle" "demo-$$" || rc=$?
echo "container exited with code $rc"

levels=$(build/capsa features | jq -r '.annotations["io.github.capsa.isolation"]')
if [[ ",$levels," == *,interpose,* ]]; then
    # The same container at the interpose level: /etc/shadow hidden by the policy, /proc/meminfo
    # answered from the 64 MiB memory limit, the supervisor invisible from inside.
    jq '.annotations["capsa.isolation"] = "interpose"
        | .annotations["capsa.interpose.hidden"] = "/etc/shadow"
        | .linux.resources.memory.limit = 67108864
        | .process.args = ["sh", "-c", "echo hello from capsa at the interpose level; head -1 /proc/meminfo; cat /etc/shadow || true; ps"]' \
        "$bundle/config.json" >"$bundle/interpose.json"
    echo "== interpose"
    irc=0
    build/capsa run --bundle "$bundle" --config "$bundle/interpose.json" "demo-ip-$$" || irc=$?
    echo "container exited with code $irc"
    [ "$irc" -eq 0 ] || rc=$irc
fi
if [[ ",$levels," == *,unikernel,* ]] && [ -e build/uk/hello.spt ]; then
    # A Solo5 spt unikernel as the container's only process, behind a nine-call filter.
    cp build/uk/hello.spt "$bundle/rootfs/hello.spt"
    jq '.annotations["capsa.isolation"] = "unikernel" | .process.args = ["/hello.spt"]' \
        "$bundle/config.json" >"$bundle/unikernel.json"
    echo "== unikernel"
    urc=0
    build/capsa run --bundle "$bundle" --config "$bundle/unikernel.json" "demo-uk-$$" || urc=$?
    echo "container exited with code $urc"
    [ "$urc" -eq 0 ] || rc=$urc
fi
if [[ ",$levels," == *,vm,* ]] && [ -x build/capsa-agent ] && [ -x /usr/bin/qemu-system-x86_64 ] &&
    [ -x /usr/lib/qemu/virtiofsd ] && compgen -G '/boot/vmlinuz-*-cloud-amd64' >/dev/null; then
    # The container in a virtual machine (qemu-system-x86 and linux-image-cloud-amd64, which
    # `scripts/deps.sh --test` installs): its own kernel, the rootfs shared over virtio-fs.
    tcg=()
    if [ ! -c /dev/kvm ]; then
        tcg=(--allow-tcg)
        echo "(no /dev/kvm: the VM runs in software emulation, a demonstration, not a boundary)"
    fi
    jq '.annotations["capsa.isolation"] = "vm" | .root.readonly = false
        | .process.args = ["sh", "-c", "echo hello from capsa at the vm level; echo guest kernel $(uname -r)"]' \
        "$bundle/config.json" >"$bundle/vm.json"
    echo "== vm (host kernel $(uname -r))"
    vrc=0
    build/capsa "${tcg[@]}" run --bundle "$bundle" --config "$bundle/vm.json" "demo-vm-$$" </dev/null || vrc=$?
    echo "container exited with code $vrc"
    [ "$vrc" -eq 0 ] || rc=$vrc
fi
exit "$rc"
