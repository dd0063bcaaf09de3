#!/usr/bin/env bash
# Installs the Debian packages Berth needs, when absent: Podman with runc and catatonit (its pause image),
# netavark/aardvark-dns (pod networking), iptables/iproute2/util-linux/procps (kube-proxy, the nodes' network namespaces:
# ip, nsenter, sysctl), busybox-static (the local image), docker-registry (pull tests).
set -euo pipefail
pkgs=(podman runc catatonit conmon netavark aardvark-dns iptables iproute2 util-linux procps uidmap busybox-static docker-registry)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "berth needs these Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
