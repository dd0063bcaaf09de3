#!/usr/bin/env bash
# The container images of upstream's sig-node conformance specs (test/e2e/common/node of k8s.io/kubernetes at the
# version in conformance/go.mod), built offline under their upstream names and served by a registry on loopback:
# registry.k8s.io/<path>:<tag> is pushed to 127.0.0.1:PORT/<path>:<tag>, for a registries.conf mirror to serve.
#
# Usage: hack/conformance/images.sh [build|verify|stop|status]
#   build   (the default) start the registry if it is not running, build every image and push it; skipped when
#           the inputs (this script, the curl stand-in, conformance/go.mod and go.sum, the Go and gcc versions)
#           hash as they did at the last push and the registry still holds every image
#   verify  pull every image back from the registry into a scratch storage and run it (the proof it works)
#   stop    end the registry this script started (its pid is in registry/registry.pid)
#   status  whether the registry runs, and what it holds
# Environment:
#   CONFORMANCE_REGISTRY_PORT  the registry's port on 127.0.0.1 (5100)
#   CONFORMANCE_DIR            where everything lives (_output/conformance): podman/ is this script's own Podman
#                              configuration and storage, registry/ the registry's configuration, data, pid, log
#                              and the hash of the inputs it holds, src/ the fetched busybox source, build/ the
#                              binaries, Debian root filesystems and build contexts, verify/ the storage the verify
#                              command pulls into.
#   CONFORMANCE_DEBIAN_MIRROR  the Debian mirror of apt-get source and debootstrap (http://deb.debian.org/debian,
#                              the host's apt source)
# Needs root, podman, docker-registry (hack/deps.sh), go, gcc, make, bzip2, apt-get, debootstrap (installed here
# when missing); the first run fetches busybox's source once from Debian (apt-get source), compiles agnhost and
# busybox and debootstraps two Debian bookworm root filesystems (minutes); later runs with nothing changed take
# seconds.
#
# What each image is built from (the specs' image list is test/utils/image/manifest.go):
# - e2e-test-images/busybox:1.37.0-2 -- upstream's image is Docker's busybox:1.37.0 (BusyBox 1.37.0 as
#   docker-library builds it: defconfig plus a few options, glibc; every applet hard-linked in /bin). Here: the
#   same BusyBox 1.37.0 source, configured the same way but linked statically (no libc in the image), every applet
#   hard-linked in /bin, /usr/bin/env, and the /etc/passwd, group and shadow of buildroot's skeleton as theirs.
#   The source is Debian's busybox_1.37.0.orig.tar.bz2 (apt-get source busybox from trixie), byte-identical to
#   busybox.net's busybox-1.37.0.tar.bz2: the sha256 below is the one docker-library checks.
#   Why not Debian's busybox-static: Debian patches ash (revert-9c143ce5... and temp-deb-installer-hack.patch in
#   its source package) to drop environment variables whose names are not shell identifiers, unless
#   CONFIG_FEATURE_DI_ENV_HACK is set, which only Debian's installer flavour sets. Upstream ash keeps them and
#   passes them to children, and four ConfigMap/Secret specs print `sh -c env` and look for data-1=value-1.
#   The same holds for trixie's busybox-static 1.37.0; only an unpatched build behaves as upstream's image.
# - e2e-test-images/nonroot:1.5 -- the busybox image with USER 1234 (upstream: debian-base with USER 1234).
# - e2e-test-images/nonewprivs:1.4 -- the busybox image (standing for alpine) plus /usr/local/bin/nnp, built from
#   test/images/nonewprivs (static Go), setuid root as upstream's chmod +s; CMD ["nnp"].
# - e2e-test-images/agnhost:2.66.1 and agnhost:2.55 -- the busybox image (standing for alpine) plus /agnhost,
#   built from test/images/agnhost of the pinned k8s.io/kubernetes (CGO_ENABLED=0, main.Version set to the tag;
#   2.55's source is not in the module cache, so both are today's agnhost: they differ in version and digest),
#   /agnhost-2 -> agnhost, ENTRYPOINT ["/agnhost"] CMD ["pause"], the ports upstream exposes, /uploads, porter's
#   localhost.crt/.key, user-defined-in-image (1000) in group-defined-in-image (50000), /bin/bash running ash (the
#   probes' scripts), /usr/bin/curl (hack/conformance/curl, a static stand-in for alpine's curl, which the lifecycle
#   hook specs run), and alpine 3.21's /etc/os-release (the image volume spec reads it through kitten).
#   The pods lifecycle spec runs agnhost:2.55 with its default command (pause) and patches it to 2.66.1.
#   And the network tools upstream's Dockerfile adds with apk (netcat-openbsd, bind-tools) and alpine's musl-utils
#   getent, which sig-network's specs run: /usr/bin/nc, dig, host, nslookup and getent, taken from Debian bookworm's
#   netcat-openbsd, bind9-dnsutils and libc-bin (a minbase debootstrap) with the shared libraries they load and the
#   dynamic loader (/usr/lib/x86_64-linux-gnu, /lib64). In PATH, /usr/bin comes before busybox's /bin, as in
#   alpine, where these packages replace busybox's applet links. Why netcat-openbsd and not busybox's nc: alpine's
#   netcat-openbsd is built from Debian's netcat-openbsd source and patches (the same program: the specs run
#   `nc -v -t -w 2`, `-v -u -w 2`, `-vz -w N`, `-w 1 -u`, `-w T -W 1 -u -p PORT`), while BusyBox has no -t (nor -W)
#   in any configuration, CONFIG_NC_110_COMPAT=y as alpine's included: it rejects `nc -v -t` with "invalid option".
#   dig does its own DNS (resolv.conf's servers, search list and ndots), so a glibc dig answers as alpine's does;
#   getent hosts goes through glibc's resolver here, musl's upstream (both: /etc/hosts, then DNS).
# - e2e-test-images/kitten:1.8 -- agnhost:2.66.1 plus /kitten.jpg and /data.json of test/images/kitten/html,
#   CMD ["test-webserver"], as upstream's Dockerfile.
# - e2e-test-images/nginx:1.27.0-2 -- upstream's is nginx:1.27-alpine. Debian's nginx is not static, so: the
#   agnhost:2.66.1 layers (busybox sh, sleep, curl) serving HTTP on :80 with agnhost test-webserver, no entrypoint,
#   STOPSIGNAL SIGQUIT as nginx's image. The specs only run it with their own command (pods: sh -c 'sleep 5') or
#   never start it (podtemplates); it runs and keeps running like nginx when started as is.
# - pause:3.10.2 -- build/pause/linux/pause.c of the pinned k8s.io/kubernetes compiled as upstream's Makefile does
#   (gcc -Os -Wall -Werror -static -DVERSION=...), /pause, USER 65535:65535, ENTRYPOINT ["/pause"]: the real pause.
# - e2e-test-images/glibc-dns-testing:2.1.1 -- upstream's is debian:bookworm-slim plus apt-get install dnsutils
#   (and a /coredns no spec of the module runs in it: the CoreDNS pods are agnhost). Here: the same, from Debian's
#   packages: debootstrap --variant=minbase --include=dnsutils bookworm, slimmed as the slim image is (no docs but
#   copyright files, man pages, locales, apt lists or caches, logs), no /etc/resolv.conf, hostname or device nodes
#   of the host (the runtime provides them), PATH as debian's image, CMD ["bash"]. sig-network's DNS specs run
#   their "glibc" probes in it: dig +notcp/+tcp +noall +answer +search (A, PTR), dig +short, getent hosts.
# Other images of the specs need no build: AgnhostPrivate and the credential provider spec need a private
# registry (not [Conformance]), InvalidRegistryImage must fail to pull.
set -Eeuo pipefail
trap 'echo "images: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
umask 022 # the images' files and folders get their modes from here

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCRIPT="$ROOT/hack/conformance/images.sh"
PORT=${CONFORMANCE_REGISTRY_PORT:-5100}
DIR=${CONFORMANCE_DIR:-$ROOT/_output/conformance}
ADDR="127.0.0.1:$PORT"

PODMAN_DIR="$DIR/podman"
REGISTRY_DIR="$DIR/registry"
SRC_DIR="$DIR/src"
BUILD_DIR="$DIR/build"
VERIFY_DIR="$DIR/verify"

# Upstream BusyBox 1.37.0 (busybox.net, 27 September 2024); the orig tarball of Debian's source package.
BUSYBOX_VERSION=1.37.0
BUSYBOX_SHA256=3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4
BUSYBOX_SUITE=trixie
DEBIAN_MIRROR=${CONFORMANCE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The Debian release of upstream's glibc-dns-testing (its BASEIMAGE: debian:bookworm-slim), and of the network tools
# added to agnhost.
DEBIAN_SUITE=bookworm
# The Debian packages this script installs when missing (the others, podman and docker-registry, are hack/deps.sh's).
BUILD_DEBS=(debootstrap debian-archive-keyring)

PAUSE_VERSION=3.10.2
UPSTREAM=registry.k8s.io
E2E=e2e-test-images
# The images in build order (each after the one it is built FROM): name:tag below registry.k8s.io.
IMAGES=(
  "$E2E/busybox:1.37.0-2"
  "$E2E/nonroot:1.5"
  "$E2E/nonewprivs:1.4"
  "$E2E/agnhost:2.66.1"
  "$E2E/agnhost:2.55"
  "$E2E/kitten:1.8"
  "$E2E/nginx:1.27.0-2"
  "pause:$PAUSE_VERSION"
  "$E2E/glibc-dns-testing:2.1.1"
)
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '%s images: %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'images: %s\n' "$*" >&2; exit 1; }
# heavy runs a CPU-heavy command under the machine's shared build lock.
heavy() { flock /tmp/berth-heavy.lock "$@"; }

# ---- Podman with its own configuration and storage ----------------------------------------------------------

podman_conf() {
  local dir=$1
  mkdir -p "$dir"/{storage,run,tmp,volumes,networks}
  cat >"$dir/containers.conf" <<EOF
# Written by hack/conformance/images.sh; edits are overwritten.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
tmp_dir = "$dir/tmp"
volume_path = "$dir/volumes"

[network]
network_backend = "netavark"
network_config_dir = "$dir/networks"
EOF
  cat >"$dir/storage.conf" <<EOF
# Written by hack/conformance/images.sh; edits are overwritten.
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$dir/run"
EOF
  cat >"$dir/registries.conf" <<EOF
# Written by hack/conformance/images.sh; edits are overwritten.
unqualified-search-registries = []
short-name-mode = "disabled"

[[registry]]
location = "127.0.0.1"
insecure = true
EOF
}

# pod runs podman on the configuration in $1.
pod() {
  local dir=$1
  shift
  CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf" \
    CONTAINERS_REGISTRIES_CONF="$dir/registries.conf" podman "$@"
}

# ---- The registry ------------------------------------------------------------------------------------------

registry_pid() {
  local pid
  pid=$(cat "$REGISTRY_DIR/registry.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "docker-registry serve $REGISTRY_DIR/config.yml" || return 1
  echo "$pid"
}

registry_up() { curl -fsS -o /dev/null --max-time 2 "http://$ADDR/v2/" 2>/dev/null; }

start_registry() {
  mkdir -p "$REGISTRY_DIR/data"
  if pid=$(registry_pid); then
    local running
    running=$(cat "$REGISTRY_DIR/registry.addr" 2>/dev/null)
    [ "$running" = "$ADDR" ] || die "the registry (pid $pid) serves ${running:-another address}, not $ADDR: run $0 stop first"
    registry_up || die "the registry (pid $pid) does not answer on $ADDR; see $REGISTRY_DIR/registry.log"
    return
  fi
  if registry_up; then
    die "something else serves $ADDR; stop it or set CONFORMANCE_REGISTRY_PORT"
  fi
  cat >"$REGISTRY_DIR/config.yml" <<EOF
# Written by hack/conformance/images.sh; edits are overwritten.
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: $ADDR
EOF
  # The registry outlives this script: a session of its own, and none of the script's files but its log (not
  # the build lock on fd 9, nor a pipe a caller waits on). setsid execs in place, so $! is the registry's pid.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    exec setsid docker-registry serve "$REGISTRY_DIR/config.yml" >>"$REGISTRY_DIR/registry.log" 2>&1 </dev/null
  ) &
  echo $! >"$REGISTRY_DIR/registry.pid"
  echo "$ADDR" >"$REGISTRY_DIR/registry.addr"
  for _ in $(seq 50); do
    registry_up && { log "registry serving $ADDR (pid $(cat "$REGISTRY_DIR/registry.pid"), data $REGISTRY_DIR/data)"; return; }
    # Until the subshell has exec'd docker-registry, its pid runs bash: only a pid that is gone means it failed.
    kill -0 "$(cat "$REGISTRY_DIR/registry.pid")" 2>/dev/null || die "the registry did not start; see $REGISTRY_DIR/registry.log"
    sleep 0.2
  done
  die "the registry does not answer on $ADDR; see $REGISTRY_DIR/registry.log"
}

stop_registry() {
  local pid
  if ! pid=$(registry_pid); then
    log "no registry of this script is running"
    rm -f "$REGISTRY_DIR/registry.pid"
    return
  fi
  kill "$pid"
  for _ in $(seq 50); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  [ -d "/proc/$pid" ] && kill -9 "$pid"
  rm -f "$REGISTRY_DIR/registry.pid" "$REGISTRY_DIR/registry.addr"
  log "registry (pid $pid) stopped"
}

# has_manifest tells whether the registry holds name:tag.
has_manifest() {
  local name=${1%:*} tag=${1##*:}
  curl -fsS -o /dev/null --max-time 5 -I \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$ADDR/v2/$name/manifests/$tag" 2>/dev/null
}

# ---- Inputs ------------------------------------------------------------------------------------------------

inputs_hash() {
  {
    cat "$SCRIPT" "$ROOT"/hack/conformance/curl/*.go "$ROOT/conformance/go.mod" "$ROOT/conformance/go.sum"
    go version
    gcc --version | head -1
  } | sha256sum | cut -d' ' -f1
}

kube_dir() {
  (cd "$ROOT/conformance" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
}

# busybox_source leaves the verified upstream tarball in $SRC_DIR, fetched once with apt-get source from Debian
# (the host's apt sources have no deb-src lines, so the fetch uses a private apt state under $SRC_DIR/apt).
busybox_source() {
  local tarball="$SRC_DIR/busybox-$BUSYBOX_VERSION.tar.bz2"
  if [ -f "$tarball" ] && echo "$BUSYBOX_SHA256  $tarball" | sha256sum -c --status; then
    echo "$tarball"
    return
  fi
  local apt="$SRC_DIR/apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/get"
  echo "deb-src $DEBIAN_MIRROR $BUSYBOX_SUITE main" >"$apt/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
  log "fetching busybox $BUSYBOX_VERSION source from Debian $BUSYBOX_SUITE (apt-get source, once)"
  apt-get "${opts[@]}" -qq update >&2
  (cd "$apt/get" && apt-get "${opts[@]}" -qq source --download-only "busybox/$BUSYBOX_SUITE" >&2)
  local orig="$apt/get/busybox_$BUSYBOX_VERSION.orig.tar.bz2"
  [ -f "$orig" ] || die "Debian's busybox source in $BUSYBOX_SUITE is not $BUSYBOX_VERSION any more: update BUSYBOX_VERSION"
  echo "$BUSYBOX_SHA256  $orig" | sha256sum -c --status || die "$orig is not busybox.net's busybox-$BUSYBOX_VERSION.tar.bz2"
  mv "$orig" "$tarball"
  rm -rf "$apt"
  echo "$tarball"
}

# busybox_config turns defconfig into docker-library's busybox:glibc configuration, linked statically.
busybox_config() {
  local set=(CONFIG_AR=y CONFIG_FEATURE_AR_CREATE=y CONFIG_FEATURE_AR_LONG_FILENAMES=y CONFIG_LAST_SUPPORTED_WCHAR=0
    CONFIG_INOTIFYD=y CONFIG_STATIC=y) unset=(CONFIG_FEATURE_SYNC_FANCY) c
  for c in "${unset[@]}"; do
    sed -i "s!^$c=.*\$!# $c is not set!" .config
  done
  for c in "${set[@]}"; do
    sed -i -e "s!^${c%=*}=.*\$!$c!" -e "s!^# ${c%=*} is not set\$!$c!" .config
    grep -q "^$c\$" .config || echo "$c" >>.config
  done
  { yes '' || true; } | make oldconfig >/dev/null
  for c in "${set[@]}"; do grep -q "^$c\$" .config || die "busybox config: $c did not hold"; done
  for c in "${unset[@]}"; do grep -q "^$c=" .config && die "busybox config: $c did not go"; done
  return 0
}

build_busybox() {
  local out="$BUILD_DIR/bin/busybox" tarball stamp
  tarball=$(busybox_source)
  stamp=$( { sed -n '/^busybox_config()/,/^}/p' "$SCRIPT"; gcc --version | head -1; echo "$BUSYBOX_SHA256"; } | sha256sum | cut -d' ' -f1)
  if [ -x "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  log "building busybox $BUSYBOX_VERSION (static)"
  local src="$BUILD_DIR/busybox-$BUSYBOX_VERSION"
  rm -rf "$src"
  tar -xjf "$tarball" -C "$BUILD_DIR"
  # The build date goes into the binary: the source's, as docker-library does, for a reproducible binary.
  SOURCE_DATE_EPOCH=$(stat -c %Y "$src")
  export SOURCE_DATE_EPOCH
  (
    cd "$src"
    make defconfig >/dev/null
    busybox_config
    heavy make -j"$(nproc)" busybox >"$BUILD_DIR/busybox-build.log" 2>&1 ||
      { tail -20 "$BUILD_DIR/busybox-build.log" >&2; die "busybox build failed; see $BUILD_DIR/busybox-build.log"; }
  )
  unset SOURCE_DATE_EPOCH
  mkdir -p "$BUILD_DIR/bin"
  cp "$src/busybox" "$out"
  echo "$stamp" >"$out.stamp"
  rm -rf "$src"
}

# build_bins builds agnhost (both tags), nnp, curl and pause, unless the binaries are there from the same inputs:
# Go's cache would make the builds quick, but the shared build lock can keep them waiting for minutes.
build_bins() {
  local kube=$1 stamp bin="$BUILD_DIR/bin"
  stamp=$( {
    sed -n '/^build_bins()/,/^}/p' "$SCRIPT"
    cat "$ROOT/conformance/go.mod" "$ROOT/conformance/go.sum" "$ROOT"/hack/conformance/curl/*.go
    go version
    gcc --version | head -1
  } | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$bin/bins.stamp" 2>/dev/null)" = "$stamp" ] &&
    [ -x "$bin/agnhost-2.66.1" ] && [ -x "$bin/agnhost-2.55" ] && [ -x "$bin/nnp" ] && [ -x "$bin/curl" ] && [ -x "$bin/pause" ]; then
    return
  fi
  rm -f "$bin/bins.stamp"
  log "building agnhost, nnp and curl (Go, static)"
  (
    cd "$ROOT/conformance"
    export CGO_ENABLED=0
    heavy go build -ldflags "-s -w -X main.Version=2.66.1" -o "$bin/agnhost-2.66.1" k8s.io/kubernetes/test/images/agnhost
    heavy go build -ldflags "-s -w -X main.Version=2.55" -o "$bin/agnhost-2.55" k8s.io/kubernetes/test/images/agnhost
    go build -ldflags "-s -w" -o "$bin/nnp" k8s.io/kubernetes/test/images/nonewprivs
  )
  (cd "$ROOT" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$bin/curl" ./hack/conformance/curl)
  log "building pause $PAUSE_VERSION (gcc -static)"
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-berth" -o "$bin/pause" "$kube/build/pause/linux/pause.c"
  echo "$stamp" >"$bin/bins.stamp"
}

# ---- From Debian's packages ---------------------------------------------------------------------------------

# install_build_debs installs the Debian packages of BUILD_DEBS that are missing.
install_build_debs() {
  local p missing=()
  for p in "${BUILD_DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]} (apt-get)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# remove_rootfs removes a root filesystem debootstrap made, after unmounting what a failed run may have left
# mounted in it (its /proc, /sys), and never crossing into another file system.
remove_rootfs() {
  local m
  [ -e "$1" ] || return 0
  findmnt -rn -o TARGET | awk -v p="$1/" 'index($0, p) == 1' | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$1"
}

# debootstrap_rootfs makes a Debian $DEBIAN_SUITE minbase root filesystem with the packages $2 (comma-separated)
# in $1, from $DEBIAN_MIRROR; the packages it fetches are kept in $BUILD_DIR/debian/cache for the next run.
debootstrap_rootfs() {
  local r=$1 include=$2
  remove_rootfs "$r"
  mkdir -p "$BUILD_DIR/debian/cache"
  log "debootstrap $DEBIAN_SUITE minbase with $include"
  heavy debootstrap --variant=minbase --include="$include" --cache-dir="$BUILD_DIR/debian/cache" \
    "$DEBIAN_SUITE" "$r" "$DEBIAN_MIRROR" >"$r.log" 2>&1 ||
    { tail -20 "$r.log" >&2; die "debootstrap failed; see $r.log"; }
}

# copy_closure copies programs of the root filesystem $1 into the folder $2, each given as PATH-IN-$1:PATH-IN-$2,
# with the shared libraries ldd (run in $1) finds for them and the dynamic loader, symlinks resolved. A library is
# put at its path under /usr (debian's /lib is a link to usr/lib): the loader's default folders find it there
# without an ld.so.cache, and the image it goes into has its own /lib or none.
copy_closure() {
  local from=$1 to=$2 pair src real libs lib dest
  shift 2
  for pair in "$@"; do
    src=${pair%%:*}
    real=$(chroot "$from" readlink -f "$src")
    install -D -m 0755 "$from$real" "$to${pair#*:}"
    libs=$(chroot "$from" ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
    for lib in $libs; do
      case $lib in
        /lib/*) dest=/usr$lib ;;
        *) dest=$lib ;;
      esac
      [ -e "$to$dest" ] && continue
      real=$(chroot "$from" readlink -f "$lib")
      install -D -m "$(stat -c %a "$from$real")" "$from$real" "$to$dest"
    done
  done
}

# build_debian makes what is taken from Debian's packages, unless it is there from the same inputs: the layer of
# glibc-dns-testing (a slimmed minbase with dnsutils) and, in debian/agnhost-tools, the network tools of agnhost
# with their libraries. The root filesystems they come from are removed afterwards (their packages stay cached).
build_debian() {
  local d="$BUILD_DIR/debian" stamp r p
  stamp=$( {
    sed -n -e '/^debootstrap_rootfs()/,/^}/p' -e '/^copy_closure()/,/^}/p' -e '/^build_debian()/,/^}/p' "$SCRIPT"
    echo "$DEBIAN_SUITE $DEBIAN_MIRROR"
    dpkg-query -W -f='${Version}\n' debootstrap
  } | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$d/debian.stamp" 2>/dev/null)" = "$stamp" ] && [ -f "$d/glibc-dns-testing.tar" ] &&
    [ -x "$d/agnhost-tools/usr/bin/nc" ]; then
    return
  fi
  mkdir -p "$d"
  rm -f "$d/debian.stamp" "$d/glibc-dns-testing.tar"
  rm -rf "$d/agnhost-tools"

  # glibc-dns-testing: debian:bookworm-slim + dnsutils.
  r="$d/glibc-dns-testing"
  debootstrap_rootfs "$r" dnsutils
  # What debootstrap took from this host, and what the runtime provides.
  rm -f "$r/etc/resolv.conf" "$r/etc/hostname"
  rm -rf --one-file-system "${r:?}"/{dev,proc,sys,run,tmp}/* "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* \
    "$r"/var/log/*
  # The slim variant's exclusions (debuerreotype's slimify): docs but the copyright files, man, info, locales.
  find "$r/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf --one-file-system "$r"/usr/share/{man,info,groff,lintian,linda,locale}/*
  for p in dig nslookup host getent bash; do
    chroot "$r" sh -c "command -v $p" >/dev/null || die "glibc-dns-testing: $p is missing from the root filesystem"
  done
  layer_tar "$r" "$d/glibc-dns-testing.tar"
  remove_rootfs "$r"

  # agnhost's network tools: alpine's netcat-openbsd, bind-tools and musl-utils' getent, taken from Debian's.
  r="$d/agnhost-tools-rootfs"
  debootstrap_rootfs "$r" dnsutils,netcat-openbsd
  copy_closure "$r" "$d/agnhost-tools" /usr/bin/nc.openbsd:/usr/bin/nc /usr/bin/dig:/usr/bin/dig \
    /usr/bin/host:/usr/bin/host /usr/bin/nslookup:/usr/bin/nslookup /usr/bin/getent:/usr/bin/getent
  remove_rootfs "$r"
  echo "$stamp" >"$d/debian.stamp"
}

# ---- Root filesystems ---------------------------------------------------------------------------------------

# layer_tar packs a folder as an image layer: sorted, one timestamp, numeric owners as they are on disk.
layer_tar() {
  tar --sort=name --mtime=@0 --numeric-owner --xattrs-exclude='*' -C "$1" -cf "$2" .
}

# busybox_rootfs lays out the busybox image as docker-library's: busybox --install /bin (hard links), the
# buildroot skeleton's passwd/group/shadow, its device table's folders, each user's home, /usr/bin/env, UTC.
busybox_rootfs() {
  local r=$1 applet
  mkdir -p "$r"/{bin,etc,usr/bin,usr/sbin,var/spool/mail,home}
  install -m 0755 "$BUILD_DIR/bin/busybox" "$r/bin/busybox"
  for applet in $("$r/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln "$r/bin/busybox" "$r/bin/$applet"
  done
  ln -s ../../bin/env "$r/usr/bin/env"
  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
  cat >"$r/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
EOF
  cut -d: -f1 "$r/etc/passwd" | sed 's/$/:*:::::::/' >"$r/etc/shadow"
  chmod 0644 "$r/etc/passwd" "$r/etc/group"
  chmod 0600 "$r/etc/shadow"
  install -d -m 0755 "$r/dev" "$r/etc"
  install -d -m 1777 "$r/tmp"
  install -d -m 0700 "$r/root"
  install -d -m 0755 -o 33 -g 33 "$r/var/www"
  cp /usr/share/zoneinfo/UTC "$r/etc/localtime"
}

# agnhost_rootfs is what upstream's agnhost Dockerfile adds to alpine that the specs can see.
agnhost_rootfs() {
  local r=$1 version=$2 kube=$3
  mkdir -p "$r"/{etc,usr/bin,bin,uploads,home}
  install -m 0755 "$BUILD_DIR/bin/agnhost-$version" "$r/agnhost"
  ln -s agnhost "$r/agnhost-2"
  install -m 0755 "$BUILD_DIR/bin/curl" "$r/usr/bin/curl"
  cp -a "$BUILD_DIR/debian/agnhost-tools/." "$r/"
  printf '#!/bin/sh\n# Berth stand-in: alpine has GNU bash here; busybox ash runs the scripts of the specs.\nexec /bin/sh "$@"\n' >"$r/bin/bash"
  chmod 0755 "$r/bin/bash"
  install -m 0644 "$kube/test/images/agnhost/porter/localhost.crt" "$r/localhost.crt"
  install -m 0644 "$kube/test/images/agnhost/porter/localhost.key" "$r/localhost.key"
  # The busybox layer's users and groups plus what upstream's Dockerfile adds with adduser -u 1000 -D
  # user-defined-in-image, addgroup -g 50000 group-defined-in-image and addgroup into it.
  {
    cat "$BUILD_DIR/rootfs/busybox/etc/passwd"
    echo 'user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh'
  } >"$r/etc/passwd"
  {
    cat "$BUILD_DIR/rootfs/busybox/etc/group"
    echo 'user-defined-in-image:x:1000:'
    echo 'group-defined-in-image:x:50000:user-defined-in-image'
  } >"$r/etc/group"
  {
    cat "$BUILD_DIR/rootfs/busybox/etc/shadow"
    echo 'user-defined-in-image:!:::::::'
  } >"$r/etc/shadow"
  chmod 0644 "$r/etc/passwd" "$r/etc/group"
  chmod 0600 "$r/etc/shadow"
  install -d -m 0755 -o 1000 -g 1000 "$r/home/user-defined-in-image"
  cat >"$r/etc/os-release" <<'EOF'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.21.3
PRETTY_NAME="Alpine Linux v3.21"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
EOF
}

# contexts writes each image's build context: a layer tarball and a Containerfile.
contexts() {
  local kube=$1 c="$BUILD_DIR/ctx" r="$BUILD_DIR/rootfs" label
  rm -rf "$c" "$r"
  mkdir -p "$c" "$r"
  label="LABEL org.opencontainers.image.description=\"Berth's offline stand-in for the upstream image of this name; see hack/conformance/images.sh\""

  mkdir -p "$c/busybox" "$r/busybox"
  busybox_rootfs "$r/busybox"
  layer_tar "$r/busybox" "$c/busybox/rootfs.tar"
  cat >"$c/busybox/Containerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV PATH=$BASE_PATH
$label
CMD ["sh"]
EOF

  mkdir -p "$c/nonroot"
  cat >"$c/nonroot/Containerfile" <<EOF
FROM $UPSTREAM/$E2E/busybox:1.37.0-2
USER 1234
EOF

  mkdir -p "$c/nonewprivs" "$r/nonewprivs/usr/local/bin"
  install -m 6755 -o 0 -g 0 "$BUILD_DIR/bin/nnp" "$r/nonewprivs/usr/local/bin/nnp"
  layer_tar "$r/nonewprivs" "$c/nonewprivs/nnp.tar"
  cat >"$c/nonewprivs/Containerfile" <<EOF
FROM $UPSTREAM/$E2E/busybox:1.37.0-2
ADD nnp.tar /
CMD ["nnp"]
EOF

  local v
  for v in 2.66.1 2.55; do
    mkdir -p "$c/agnhost-$v" "$r/agnhost-$v"
    agnhost_rootfs "$r/agnhost-$v" "$v" "$kube"
    layer_tar "$r/agnhost-$v" "$c/agnhost-$v/agnhost.tar"
    cat >"$c/agnhost-$v/Containerfile" <<EOF
FROM $UPSTREAM/$E2E/busybox:1.37.0-2
ADD agnhost.tar /
EXPOSE 80 8080 8081 9376 5000
ENTRYPOINT ["/agnhost"]
CMD ["pause"]
EOF
  done

  mkdir -p "$c/kitten" "$r/kitten"
  install -m 0644 "$kube/test/images/kitten/html/kitten.jpg" "$kube/test/images/kitten/html/data.json" "$r/kitten/"
  layer_tar "$r/kitten" "$c/kitten/kitten.tar"
  cat >"$c/kitten/Containerfile" <<EOF
FROM $UPSTREAM/$E2E/agnhost:2.66.1
ADD kitten.tar /
CMD ["test-webserver"]
EOF

  mkdir -p "$c/nginx"
  cat >"$c/nginx/Containerfile" <<EOF
FROM $UPSTREAM/$E2E/agnhost:2.66.1
ENTRYPOINT []
CMD ["/agnhost", "test-webserver", "--port", "80"]
EXPOSE 80
STOPSIGNAL SIGQUIT
EOF

  mkdir -p "$c/glibc-dns-testing"
  ln "$BUILD_DIR/debian/glibc-dns-testing.tar" "$c/glibc-dns-testing/rootfs.tar"
  cat >"$c/glibc-dns-testing/Containerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV PATH=$BASE_PATH
$label
CMD ["bash"]
EOF

  mkdir -p "$c/pause" "$r/pause"
  install -m 0755 "$BUILD_DIR/bin/pause" "$r/pause/pause"
  layer_tar "$r/pause" "$c/pause/pause.tar"
  cat >"$c/pause/Containerfile" <<EOF
FROM scratch
ADD pause.tar /
$label
USER 65535:65535
ENTRYPOINT ["/pause"]
EOF
}

# context_of is the build context folder of an image.
context_of() {
  case $1 in
    */agnhost:*) echo "agnhost-${1##*:}" ;;
    pause:*) echo pause ;;
    *) local n=${1%:*}; echo "${n##*/}" ;;
  esac
}

build() {
  [ "$(id -u)" = 0 ] || die "run as root (rootful podman, setuid files in the images)"
  local tool
  install_build_debs
  for tool in podman docker-registry go gcc make bzip2 apt-get curl flock debootstrap chroot findmnt; do
    command -v "$tool" >/dev/null || die "$tool is missing (hack/deps.sh installs podman and docker-registry)"
  done
  # One build at a time on this folder: a second waits for the first, then finds the registry up to date.
  mkdir -p "$DIR"
  exec 9>"$DIR/images.lock"
  flock 9
  podman_conf "$PODMAN_DIR"
  start_registry

  local hash stamp="$REGISTRY_DIR/inputs.sha256" missing=() img
  hash=$(inputs_hash)
  for img in "${IMAGES[@]}"; do has_manifest "$img" || missing+=("$img"); done
  if [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ] && [ ${#missing[@]} -eq 0 ]; then
    log "up to date: $ADDR holds all ${#IMAGES[@]} images of inputs ${hash:0:12}"
    return
  fi
  rm -f "$stamp"

  local kube
  kube=$(kube_dir)
  mkdir -p "$BUILD_DIR/bin" "$SRC_DIR"
  build_busybox
  build_bins "$kube"
  build_debian
  contexts "$kube"

  for img in "${IMAGES[@]}"; do
    log "building $UPSTREAM/$img"
    pod "$PODMAN_DIR" build --quiet --pull=never --timestamp 0 -t "$UPSTREAM/$img" "$BUILD_DIR/ctx/$(context_of "$img")" >/dev/null
  done
  for img in "${IMAGES[@]}"; do
    log "pushing $ADDR/$img"
    pod "$PODMAN_DIR" push --quiet --tls-verify=false "$UPSTREAM/$img" "docker://$ADDR/$img"
  done
  pod "$PODMAN_DIR" image prune --force >/dev/null
  echo "$hash" >"$stamp"
  log "done: $ADDR holds all ${#IMAGES[@]} images of inputs ${hash:0:12}"
}

status() {
  local pid img
  if pid=$(registry_pid); then
    echo "registry: pid $pid serving $ADDR, data $REGISTRY_DIR/data"
  else
    echo "registry: not running"
    return
  fi
  for img in "${IMAGES[@]}"; do
    if has_manifest "$img"; then echo "  $ADDR/$img"; else echo "  $ADDR/$img (missing)"; fi
  done
}

# ---- Verification -------------------------------------------------------------------------------------------

verify() {
  registry_pid >/dev/null || die "the registry is not running: run $0 build first"
  local v="$VERIFY_DIR" img name
  if [ -d "$v/storage" ]; then
    pod "$v" rm --all --force >/dev/null 2>&1 || true
    pod "$v" rmi --all --force >/dev/null 2>&1 || true
  fi
  podman_conf "$v"
  for img in "${IMAGES[@]}"; do
    pod "$v" pull --quiet --tls-verify=false "$ADDR/$img" >/dev/null
    echo "pulled $ADDR/$img $(pod "$v" image inspect --format '{{.Digest}}' "$ADDR/$img")"
  done
  run() { pod "$v" run --rm --network none "$@"; }
  echo
  echo "== agnhost:2.66.1 --help (entrypoint /agnhost)"
  run "$ADDR/$E2E/agnhost:2.66.1" --help | head -3
  echo "== agnhost versions"
  run "$ADDR/$E2E/agnhost:2.66.1" --version
  run "$ADDR/$E2E/agnhost:2.55" --version
  echo "== agnhost:2.55 default command (pause) keeps running"
  name=verify-agnhost-prev
  pod "$v" run -d --name "$name" --network none "$ADDR/$E2E/agnhost:2.55" >/dev/null
  sleep 2
  pod "$v" inspect --format 'running={{.State.Running}} cmd={{.Config.Entrypoint}} {{.Config.Cmd}}' "$name"
  pod "$v" rm --force --time 2 "$name" >/dev/null
  echo "== agnhost: netexec, then sh -c 'curl ...' as the lifecycle hook specs do; /bin/bash; user 1000 groups"
  name=verify-agnhost
  pod "$v" run -d --name "$name" --network none "$ADDR/$E2E/agnhost:2.66.1" netexec --http-port=8080 >/dev/null
  sleep 2
  pod "$v" exec "$name" sh -c 'curl http://127.0.0.1:8080/echo?msg=poststart; echo'
  pod "$v" exec "$name" /bin/bash -c 'echo "bash -c works: $0"'
  pod "$v" exec --user 1000 "$name" id
  pod "$v" rm --force --time 2 "$name" >/dev/null
  echo "== agnhost: nc (netcat-openbsd) as sig-network's specs run it, against netexec's TCP and UDP ports"
  name=verify-agnhost-nc
  pod "$v" run -d --name "$name" --network none "$ADDR/$E2E/agnhost:2.66.1" \
    netexec --http-port=8080 --udp-port=8081 >/dev/null
  sleep 2
  pod "$v" exec "$name" sh -c 'echo hostName | nc -v -t -w 2 127.0.0.1 8080 | head -1'
  pod "$v" exec "$name" sh -c 'echo hostName | nc -v -u -w 2 127.0.0.1 8081; echo'
  pod "$v" exec "$name" nc -vz -w 2 127.0.0.1 8080
  echo "== agnhost: dig, host, nslookup and getent (the DNS specs' musl probes) run"
  pod "$v" exec "$name" sh -c 'for p in nc dig host nslookup getent; do command -v "$p"; done; dig -v; getent hosts localhost'
  pod "$v" rm --force --time 2 "$name" >/dev/null
  echo "== glibc-dns-testing: debian bookworm with dnsutils"
  run "$ADDR/$E2E/glibc-dns-testing:2.1.1" \
    bash -c '. /etc/os-release; echo "$PRETTY_NAME"; dig -v; command -v nslookup host getent; getent hosts localhost'
  echo "== busybox: sh -c env with a variable named data-1 (podman run -e data-1=x)"
  run -e data-1=x -e p-data-1=y "$ADDR/$E2E/busybox:1.37.0-2" sh -c env | sort
  run "$ADDR/$E2E/busybox:1.37.0-2" sh -c 'busybox | head -1; ls /bin | wc -l; id'
  echo "== nonroot: id -u"
  run "$ADDR/$E2E/nonroot:1.5" id -u
  echo "== nonewprivs: default command as uid 1000, with and without no-new-privileges"
  run --user 1000 "$ADDR/$E2E/nonewprivs:1.4"
  run --user 1000 --security-opt no-new-privileges "$ADDR/$E2E/nonewprivs:1.4"
  echo "== kitten: /data.json and /etc/os-release (what the image volume spec reads)"
  run --entrypoint /bin/cat "$ADDR/$E2E/kitten:1.8" /data.json /etc/os-release
  echo "== nginx: default command serves :80; the pods spec's sh -c 'sleep 5' command runs"
  name=verify-nginx
  pod "$v" run -d --name "$name" --network none "$ADDR/$E2E/nginx:1.27.0-2" >/dev/null
  sleep 2
  pod "$v" exec "$name" curl -s -o /dev/null -w 'GET http://127.0.0.1:80/ -> %{http_code}\n' http://127.0.0.1:80/
  pod "$v" inspect --format 'running={{.State.Running}} stopsignal={{.Config.StopSignal}}' "$name"
  pod "$v" rm --force --time 2 "$name" >/dev/null
  run "$ADDR/$E2E/nginx:1.27.0-2" /bin/sh -c 'sleep 1; echo slept 1s'
  echo "== pause: stays running as 65535, stops on SIGTERM"
  name=verify-pause
  pod "$v" run -d --name "$name" --network none "$ADDR/pause:$PAUSE_VERSION" >/dev/null
  sleep 2
  pod "$v" inspect --format 'running={{.State.Running}} user={{.Config.User}} entrypoint={{.Config.Entrypoint}}' "$name"
  local t0=$SECONDS
  pod "$v" stop --time 10 "$name" >/dev/null
  echo "stopped in $((SECONDS - t0))s, exit code $(pod "$v" inspect --format '{{.State.ExitCode}}' "$name")"
  pod "$v" rm --force "$name" >/dev/null
}

case ${1:-build} in
  build) build ;;
  verify) verify ;;
  stop) stop_registry ;;
  status) status ;;
  *) die "usage: $0 [build|verify|stop|status]" ;;
esac
