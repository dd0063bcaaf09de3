#!/usr/bin/env bash
# rootfs.sh CACHE_DIR: prints the path of a Debian bookworm root filesystem (a folder) with what a kind node needs
# from Debian: systemd, containerd, runc, the CNI plugins, iptables/nftables and the tools kind's entrypoint calls.
# It is made with debootstrap from Debian's mirror (no registry) and cached under CACHE_DIR by the hash of this
# script, so it is made once (~5 min) and reused after.
set -euo pipefail

cache=${1:?usage: rootfs.sh CACHE_DIR}
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What kind's images/base/Dockerfile installs with apt (minus nfs/iscsi storage and fuse-overlayfs), plus what kind
# builds from source there and Debian ships: containerd (1.6, which kubelet 1.37 still accepts), runc and the CNI
# plugins; jq writes containerd's base runtime spec as kind does.
packages=(
  systemd
  conntrack iptables nftables iproute2 ethtool util-linux mount kmod
  libseccomp2 pigz e2fsprogs
  bash ca-certificates jq procps
  containerd runc containernetworking-plugins
)

key=$( { cat "$0"; echo "$mirror"; } | sha256sum | cut -c1-16)
dir="$cache/rootfs-$suite-$key"
if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi
if ! command -v debootstrap >/dev/null; then
  echo "rootfs.sh: debootstrap is missing (apt-get install debootstrap)" >&2
  exit 1
fi
rm -rf "$dir" "$dir.tmp"
mkdir -p "$cache"
include=$(IFS=,; echo "${packages[*]}")
echo "rootfs.sh: debootstrap $suite into $dir (once; a few minutes)" >&2
debootstrap --variant=minbase --include="$include" "$suite" "$dir.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
  echo "rootfs.sh: debootstrap failed; see $cache/debootstrap.log" >&2
  tail -20 "$cache/debootstrap.log" >&2
  exit 1
}
# Keep the image small: no package lists, caches or docs.
rm -rf "$dir.tmp"/var/cache/apt/archives/*.deb "$dir.tmp"/var/lib/apt/lists/* "$dir.tmp"/usr/share/doc/* \
  "$dir.tmp"/usr/share/man/* "$dir.tmp"/usr/share/locale/*
mv "$dir.tmp" "$dir"
touch "$dir/.complete"
echo "$dir"
