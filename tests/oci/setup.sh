#!/bin/bash
# setup.sh - build the OCI runtime-tools conformance suite (validation/) offline, from Debian only.
#
# Idempotent: a second run checks a stamp and returns in about a second. CAPSA_OCI_REBUILD=1
# forces a rebuild. Needs root (apt-get). Everything goes under $CAPSA_OCI_DIR
# (default /var/tmp/capsa-oci):
#   bin/validation/<program>   the 58 TAP-printing test programs (runtime-tools validation/*/)
#   bin/runtimetest            static checker the programs copy into each bundle
#   bin/rootfs-amd64.tar.gz    busybox-static rootfs (the programs unpack it into each bundle)
#   dist/                      the source tarball, checked against a pinned sha256
#   gopath/, gocache/          GOPATH-mode build tree
#
# Where the pieces come from (nothing outside Debian's archive):
#   * Test sources: Debian's binary golang-github-opencontainers-runtime-tools-dev ships only the
#     library (no validation/, no cmd/runtimetest), so the upstream tarball comes from the Debian
#     *source* package (trixie: 0.9.0.109.ge931285-1 = upstream commit e931285), fetched with
#     `apt-get source --download-only` through a private deb-src list (the system's apt sources are
#     not touched). The sha256 is the one trixie's signed Sources index lists for the orig tarball.
#   * Go dependencies: Debian golang-*-dev packages, built in GOPATH mode (Go 1.19, no modules,
#     no proxy). github.com/mndrix/tap-go is not packaged: tests/oci/tap/tap.go stands in for it.
set -euo pipefail

OCI_DIR=${CAPSA_OCI_DIR:-/var/tmp/capsa-oci}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

SRC_PKG=golang-github-opencontainers-runtime-tools
SRC_VER=0.9.0.109.ge931285
SRC_DEBREV=1
ORIG=${SRC_PKG}_${SRC_VER}.orig.tar.xz
ORIG_SHA256=203989a1ea98cf2aaced79155bbda09270b20db19b03376dde91ab12e5e6a0fe
EXPECTED_PROGRAMS=58

say() { printf '[oci-setup] %s\n' "$*" >&2; }
die() {
    say "ERROR: $*"
    exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (apt-get, and the suite itself needs root)"

# ------------------------------------------------------------------------------------ packages
# The Go import closure of validation/... and cmd/runtimetest (go list -deps), by package.
PKGS=(
    golang-go busybox-static xz-utils tar coreutils debian-archive-keyring
    golang-github-google-uuid-dev              # github.com/google/uuid
    golang-github-hashicorp-go-multierror-dev  # github.com/hashicorp/go-multierror
    golang-github-hashicorp-errwrap-dev        #   and its errwrap
    golang-github-mrunalp-fileutils-dev        # github.com/mrunalp/fileutils
    golang-github-opencontainers-specs-dev     # github.com/opencontainers/runtime-spec/specs-go
    golang-github-opencontainers-selinux-dev   # github.com/opencontainers/selinux
    golang-github-sirupsen-logrus-dev          # github.com/sirupsen/logrus
    golang-gocapability-dev                    # github.com/syndtr/gocapability
    golang-github-urfave-cli-dev               # github.com/urfave/cli (runtimetest)
    golang-github-cpuguy83-go-md2man-v2-dev    #   urfave/cli's md2man
    golang-github-russross-blackfriday-v2-dev  #   and blackfriday
    golang-golang-x-sys-dev                    # golang.org/x/sys/unix
)
missing=()
for p in "${PKGS[@]}"; do
    case "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)" in
    ii*) ;;
    *) missing+=("$p") ;;
    esac
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_install() {
        apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" \
            </dev/null >&2
    }
    # A fresh machine may have empty or stale lists: update only when the first try fails.
    apt_install || {
        apt-get -o DPkg::Lock::Timeout=600 update </dev/null >&2
        apt_install
    } || die "apt-get install failed"
fi

mkdir -p "$OCI_DIR"/{dist,bin/validation}

# ------------------------------------------------------------------------------ source tarball
orig_ok() {
    [ -f "$OCI_DIR/dist/$ORIG" ] &&
        echo "$ORIG_SHA256  $OCI_DIR/dist/$ORIG" | sha256sum -c --status - 2>/dev/null
}
if ! orig_ok; then
    say "fetching $ORIG (Debian source $SRC_PKG $SRC_VER-$SRC_DEBREV)"
    A=$OCI_DIR/apt
    mkdir -p "$A/sources" "$A/lists/partial" "$A/cache/archives/partial"
    cat >"$A/sources/capsa-oci-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # Private apt state: our list only, our lists/cache dirs; the system's apt config is untouched.
    # The sandbox user (_apt) cannot write into these root-owned dirs, hence Sandbox::User=root.
    APT_PRIV=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$A/sources"
        -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o APT::Sandbox::User=root)
    apt-get "${APT_PRIV[@]}" update </dev/null >&2 || die "apt-get update (deb-src trixie) failed"
    rm -f "$OCI_DIR/dist/$ORIG"
    # The mirror answers 404 for this version's .dsc, so apt-get source exits non-zero after it
    # has fetched the orig tarball. The pinned sha256 below is what decides, not the exit status.
    (cd "$OCI_DIR/dist" &&
        apt-get "${APT_PRIV[@]}" source --download-only "$SRC_PKG=$SRC_VER-$SRC_DEBREV" \
            </dev/null >&2) || true
    orig_ok || die "could not obtain $ORIG with sha256 $ORIG_SHA256"
    say "verified $ORIG"
    rm -rf "$A" # the source index is only needed for this one download
fi

# ---------------------------------------------------------------------------------- GOPATH tree
GP=$OCI_DIR/gopath
RT=$GP/src/github.com/opencontainers/runtime-tools
if [ "$(cat "$RT/.capsa-oci-src" 2>/dev/null || true)" != "$ORIG_SHA256" ]; then
    say "unpacking the runtime-tools source"
    rm -rf "$RT" "$RT.new"
    mkdir -p "$RT.new"
    tar -C "$RT.new" --strip-components=1 -xJf "$OCI_DIR/dist/$ORIG"
    echo "$ORIG_SHA256" >"$RT.new/.capsa-oci-src"
    mv "$RT.new" "$RT"
fi
TAPDIR=$GP/src/github.com/mndrix/tap-go
mkdir -p "$TAPDIR"
cmp -s "$HERE/tap/tap.go" "$TAPDIR/tap.go" || install -m 644 "$HERE/tap/tap.go" "$TAPDIR/tap.go"

# ------------------------------------------------------------------------------------- build
BIN=$OCI_DIR/bin
stamp=$({
    echo "$ORIG_SHA256"
    sha256sum "$HERE/tap/tap.go" "$HERE/setup.sh" /bin/busybox
    go version
} | sha256sum | cut -d' ' -f1)
count_programs() { find "$BIN/validation" -maxdepth 1 -type f -perm -u+x | wc -l; }
if [ "${CAPSA_OCI_REBUILD:-0}" != 1 ] &&
    [ "$(cat "$BIN/.stamp" 2>/dev/null || true)" = "$stamp" ] &&
    [ -x "$BIN/runtimetest" ] && [ -f "$BIN/rootfs-amd64.tar.gz" ] &&
    [ "$(count_programs)" -eq "$EXPECTED_PROGRAMS" ]; then
    say "up to date: $BIN ($EXPECTED_PROGRAMS programs)"
    exit 0
fi
rm -f "$BIN/.stamp"

# CGO_ENABLED=0: pure-Go net and os/user, so no C toolchain is needed and the binaries are static.
export GO111MODULE=off GOFLAGS='' GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0
export GOPATH="$GP:/usr/share/gocode" GOCACHE="$OCI_DIR/gocache"
cd "$RT"

say "building runtimetest (static)"
# runtimetest runs inside the busybox rootfs, which has no libc: it must be static.
go build -tags "netgo osusergo" -o "$BIN/runtimetest.new" ./cmd/runtimetest
mv -f "$BIN/runtimetest.new" "$BIN/runtimetest"

say "building the validation programs"
# One `go build` for all of them: with -o DIR every main package becomes DIR/<name>.
rm -rf "$BIN/validation.new"
mkdir -p "$BIN/validation.new"
go build -o "$BIN/validation.new/" ./validation/...
rm -rf "$BIN/validation"
mv "$BIN/validation.new" "$BIN/validation"
n=$(count_programs)
[ "$n" -eq "$EXPECTED_PROGRAMS" ] || die "built $n validation programs, expected $EXPECTED_PROGRAMS"

# ---------------------------------------------------------------------------------------- rootfs
# The layout upstream's rootfs-amd64.tar.gz has: /bin/busybox plus one symlink per applet, empty
# /dev /proc /sys, a minimal /etc/passwd and /etc/group (process_user looks up uid/gid names).
say "building rootfs-amd64.tar.gz from busybox-static"
R=$OCI_DIR/rootfs.build
rm -rf "$R"
mkdir -p "$R"/{bin,dev,proc,sys,etc}
install -m 755 /bin/busybox "$R/bin/busybox"
for applet in $("$R/bin/busybox" --list); do
    [ -e "$R/bin/$applet" ] || ln -s busybox "$R/bin/$applet"
done
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/:/bin/false' \
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$R/etc/passwd"
printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'tty:x:5:' 'users:x:100:' 'nogroup:x:65534:' \
    >"$R/etc/group"
# Deterministic archive: sorted names, fixed owner and mtime.
tar -C "$R" --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-01-01 00:00:00Z' \
    -czf "$BIN/rootfs-amd64.tar.gz.new" .
mv -f "$BIN/rootfs-amd64.tar.gz.new" "$BIN/rootfs-amd64.tar.gz"
rm -rf "$R"

echo "$stamp" >"$BIN/.stamp"
say "ready: $n programs in $BIN/validation; run: $HERE/run.sh RUNTIME"
