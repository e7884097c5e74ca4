#!/bin/bash
# deps.sh - install the Debian packages capsa needs to build (and, with --test, to test).
# Sourced or run. Idempotent: asks dpkg-query first and only calls apt-get for what is missing,
# so it is fast when everything is present. Only Debian's archive is used.

capsa_deps_main() {
    local want_test=0 a
    for a in "$@"; do
        case "$a" in
        --test) want_test=1 ;;
        *)
            echo "deps.sh: unknown argument: $a" >&2
            return 2
            ;;
        esac
    done

    local pkgs=(build-essential pkg-config libjansson-dev libseccomp-dev busybox-static jq)
    if [ "$want_test" = 1 ]; then
        pkgs+=(libcmocka-dev bats jq iproute2 procps util-linux coreutils clang clang-format git uidmap passwd)
        # The benchmark compares with the peers from Debian (bench/, docs/performance.md).
        pkgs+=(crun runc)
        # The unikernel net test pings through a TAP device (tests/integration/unikernel.bats).
        pkgs+=(iputils-ping)
        # The foreground terminal test drives a pty with python3; seccomp.bats checks with
        # strace that a container without a filter makes no seccomp() call.
        pkgs+=(python3 strace)
        # Real programs at the interpose level run in a Debian rootfs made by debootstrap
        # (scripts/mkdebian.sh, tests/integration/interpose_real.bats).
        pkgs+=(debootstrap)
        # Fuzzing (libFuzzer) and static analysis (tests/fuzz, scripts/static-analysis.sh);
        # `make lint` runs shellcheck over the scripts and the bats suite.
        pkgs+=(libclang-rt-14-dev cppcheck clang-tidy shellcheck)
        # cgroup v2 is tested in a QEMU guest (tests/v2vm, docs/testing-cgroup-v2.md).
        pkgs+=(qemu-system-x86 linux-image-cloud-amd64 cpio)
        # The systemd cgroup driver is tested in a QEMU guest that boots systemd from a Debian
        # rootfs on an ext4 image (tests/sdvm, docs/testing-systemd.md), with containerd driven
        # through the CRI client of tests/engines/cri (Go, gRPC).
        pkgs+=(e2fsprogs golang-google-grpc-dev)
        # The OCI conformance suite is built from Debian's Go packages (tests/oci/setup.sh).
        pkgs+=(golang-go xz-utils debian-archive-keyring golang-github-google-uuid-dev
            golang-github-hashicorp-go-multierror-dev golang-github-hashicorp-errwrap-dev
            golang-github-mrunalp-fileutils-dev golang-github-opencontainers-specs-dev
            golang-github-opencontainers-selinux-dev golang-github-sirupsen-logrus-dev
            golang-gocapability-dev golang-github-urfave-cli-dev
            golang-github-cpuguy83-go-md2man-v2-dev golang-github-russross-blackfriday-v2-dev
            golang-golang-x-sys-dev)
    fi

    local missing=() p st
    for p in "${pkgs[@]}"; do
        st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
        case "$st" in
        ii*) ;;
        *) missing+=("$p") ;;
        esac
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "deps.sh: missing packages (${missing[*]}); run as root" >&2
        return 1
    fi
    echo "deps.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has empty apt lists, so update first.
    apt-get -o DPkg::Lock::Timeout=600 update </dev/null || return 1
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" \
        </dev/null || return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    capsa_deps_main "$@"
else
    capsa_deps_main "$@"
fi
