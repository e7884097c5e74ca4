# tests/engines/vm.bash - what the engine scripts share for their vm level checks (sourced).

# vm_missing RUNTIME: why the vm level cannot run here with RUNTIME (capsa), or nothing.
vm_missing() {
    [ -x /usr/bin/qemu-system-x86_64 ] || { echo "needs qemu-system-x86"; return; }
    [ -x /usr/lib/qemu/virtiofsd ] || { echo "needs virtiofsd"; return; }
    [ -x "$(dirname "$1")/capsa-agent" ] || { echo "needs capsa-agent next to $1"; return; }
    compgen -G '/boot/vmlinuz-*-cloud-amd64' >/dev/null || { echo "needs linux-image-cloud-amd64"; return; }
}

# guest_kernel OUT: "guest" when OUT is one kernel release that is not the host's, else what OUT
# was instead.
guest_kernel() {
    if [[ $1 =~ ^[0-9]+\.[0-9]+[^[:space:]]*$ ]] && [ "$1" != "$(uname -r)" ]; then
        echo guest
    else
        echo "not a guest kernel release: $1"
    fi
}
