#!/usr/bin/env bash
# node-image.sh BIN_DIR CACHE_DIR IMAGE: builds kind's node image IMAGE into Podman's storage without any registry,
# from what kind's own `kind build node-image` puts in one (see docs/kind.md, "The node image"):
#   - a Debian bookworm root filesystem with systemd, containerd, runc and the CNI plugins (rootfs.sh, debootstrap);
#   - kind's images/base/files (entrypoint, systemd units, containerd config) from the kind module;
#   - kubeadm, kubelet and kubectl from BIN_DIR (built from the Kubernetes module by make kind-image);
#   - the images kubeadm runs (`kubeadm config images list`), built here FROM scratch from BIN_DIR's binaries and
#     imported into the node's containerd, as kind imports the ones it pulls;
#   - a static CNI configuration (bridge + host-local + portmap; kindnet, kind's default CNI, is not available
#     offline: clusters need `networking.disableDefaultCNI: true` and have one node).
# The image carries a label with the hash of all of these; when IMAGE already has the same hash nothing is done.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:?usage: node-image.sh BIN_DIR CACHE_DIR IMAGE}" && pwd)
mkdir -p "${2:?usage: node-image.sh BIN_DIR CACHE_DIR IMAGE}"
cache=$(cd "$2" && pwd)
image=${3:?usage: node-image.sh BIN_DIR CACHE_DIR IMAGE}
kind_version=${KIND_VERSION:-v0.33.0}
label=dev.berth.kind-node.inputs
start=$(date +%s)

log() { echo "node-image: $* ($(( $(date +%s) - start ))s)" >&2; }

# Podman as this host allows it (runc, ulimits within the host's hard limits), without touching /etc.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF="$cache/containers.conf"
  "$here/containers-conf.sh" "$cache" >"$CONTAINERS_CONF"
fi

for tool in jq podman; do
  command -v "$tool" >/dev/null || { echo "node-image: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
for b in kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy berth-etcd coredns \
  pause iptables-wrapper; do
  [ -x "$bin/$b" ] || { echo "node-image: $bin/$b is missing (make kind-image builds it)" >&2; exit 1; }
done

kind_dir=$(GOFLAGS= go mod download -json "sigs.k8s.io/kind@$kind_version" | jq -r .Dir)
files="$kind_dir/images/base/files"
rootfs=$("$here/rootfs.sh" "$cache")
kube_version=$("$bin/kubeadm" version -o short)
mapfile -t kube_images < <("$bin/kubeadm" config images list --kubernetes-version "$kube_version")

# The inputs' hash: the rootfs (named by its own hash), kind's files, every binary, this script and its files.
inputs=$(
  echo "$rootfs $kind_version $kube_version"
  (cd "$files" && find . -type f | sort | xargs sha256sum)
  (cd "$bin" && sha256sum kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy \
    berth-etcd coredns pause iptables-wrapper)
  (cd "$here" && sha256sum node-image.sh files/*)
)
key=$(sha256sum <<<"$inputs" | cut -c1-16)
if [ "$(podman image inspect --format "{{index .Labels \"$label\"}}" "$image" 2>/dev/null || true)" = "$key" ]; then
  log "$image is up to date (inputs $key)"
  exit 0
fi
log "building $image (inputs $key) for Kubernetes $kube_version: ${kube_images[*]}"

work="$cache/build"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# The images kubeadm runs, FROM scratch (kube-proxy with iptables: see kube_proxy_root), saved in one archive.
image_for() { # image_for NAME: the one of kubeadm's images whose repository ends in /NAME
  local i
  for i in "${kube_images[@]}"; do
    case "${i%:*}" in */"$1") echo "$i"; return ;; esac
  done
  echo "node-image: kubeadm lists no image named $1: ${kube_images[*]}" >&2
  return 1
}
# kube_proxy_root DIR: iptables from the node's Debian (both backends, with the libraries they load) and the
# wrapper that picks the node's backend, as upstream's kube-proxy image (distroless-iptables) has them.
kube_proxy_root() {
  local dir=$1 lib
  mkdir -p "$dir/usr/sbin" "$dir/etc" "$dir/usr/local/bin" "$dir/run" "$dir/tmp"
  for lib in $(chroot "$rootfs" ldd /usr/sbin/xtables-legacy-multi /usr/sbin/xtables-nft-multi |
    grep -o '/[^ ]*' | grep -v ':$' | sort -u); do
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$rootfs$lib" "$dir$lib"
  done
  # iptables' extensions, in the folder of the node's multiarch triplet (x86_64-linux-gnu, aarch64-linux-gnu, ...)
  local xtables
  xtables=$(cd "$rootfs" && echo usr/lib/*-linux-gnu*/xtables)
  [ -d "$rootfs/$xtables" ] || { echo "node-image: no iptables extensions in $rootfs/usr/lib/*/xtables" >&2; exit 1; }
  mkdir -p "$dir/$(dirname "$xtables")"
  cp -a "$rootfs/$xtables" "$dir/$(dirname "$xtables")/"
  # ld.so is looked up at /lib64 by the binaries, which on Debian is a symlink into /usr/lib64
  [ -e "$dir/lib64" ] || ln -s usr/lib64 "$dir/lib64"
  cp "$rootfs/usr/sbin/xtables-legacy-multi" "$rootfs/usr/sbin/xtables-nft-multi" "$dir/usr/sbin/"
  cp "$rootfs/etc/protocols" "$rootfs/etc/services" "$dir/etc/"
  cp "$bin/iptables-wrapper" "$dir/usr/sbin/iptables-wrapper"
  for c in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -s iptables-wrapper "$dir/usr/sbin/$c"
  done
}
build_image() { # build_image NAME BINARY PATH_IN_IMAGE [ROOT_FUNCTION]
  local name=$1 binary=$2 path=$3 ctx="$work/images/$1"
  mkdir -p "$ctx/root$(dirname "$path")"
  if [ -n "${4:-}" ]; then "$4" "$ctx/root"; fi
  cp "$bin/$binary" "$ctx/root$path"
  cat >"$ctx/Containerfile" <<EOF
FROM scratch
COPY root/ /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
ENTRYPOINT ["$path"]
EOF
  podman build --quiet --label "$label=$key" -t "$(image_for "$name")" "$ctx" >/dev/null
}
build_image kube-apiserver kube-apiserver /usr/local/bin/kube-apiserver
build_image kube-controller-manager kube-controller-manager /usr/local/bin/kube-controller-manager
build_image kube-scheduler kube-scheduler /usr/local/bin/kube-scheduler
build_image kube-proxy kube-proxy /usr/local/bin/kube-proxy kube_proxy_root
build_image etcd berth-etcd /usr/local/bin/etcd
build_image coredns coredns /coredns
build_image pause pause /pause
podman save --quiet --format docker-archive -m -o "$work/images.tar" "${kube_images[@]}" >/dev/null
podman rmi "${kube_images[@]}" >/dev/null
log "images built"

# The node's root filesystem: Debian's, then what kind's base image Dockerfile does.
node="$work/rootfs"
cp -a "$rootfs" "$node"
rm -f "$node/.complete"
install -m 0755 "$files"/usr/local/bin/* "$node/usr/local/bin/"
mkdir -p "$node/kind/bin" "$node/kind/manifests" "$node/LICENSES" "$node/etc/kubernetes/manifests" \
  "$node/etc/containerd" "$node/etc/systemd/system/kubelet.service.d" "$node/etc/cni/net.d" "$node/opt/cni"
(cd "$files/kind" && find . -type f ! -path './bin/*' -exec install -D -m 0644 {} "$node/kind/{}" \;)
install -m 0755 "$files"/kind/bin/* "$node/kind/bin/"
install -m 0644 "$files"/LICENSES/* "$node/LICENSES/"
install -m 0644 "$files"/etc/*.yaml "$node/etc/"
install -m 0644 "$files"/etc/containerd/* "$node/etc/containerd/"
install -m 0644 "$files"/etc/default/* "$node/etc/default/"
install -m 0644 "$files"/etc/sysctl.d/* "$node/etc/sysctl.d/"
install -m 0644 "$files"/etc/systemd/system/*.service "$files"/etc/systemd/system/*.slice "$node/etc/systemd/system/"
install -m 0644 "$files"/etc/systemd/system/kubelet.service.d/* "$node/etc/systemd/system/kubelet.service.d/"
find "$node/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
rm -f "$node"/lib/systemd/system/multi-user.target.wants/* "$node"/etc/systemd/system/*.wants/* \
  "$node"/lib/systemd/system/local-fs.target.wants/* "$node"/lib/systemd/system/sockets.target.wants/*udev* \
  "$node"/lib/systemd/system/sockets.target.wants/*initctl* "$node"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >>"$node/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "$node/sbin/init"
chroot "$node" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
chroot "$node" systemctl mask systemd-binfmt.service >/dev/null 2>&1
# Debian's containerd and CNI plugins where kind's files expect upstream's
ln -sf /usr/bin/containerd "$node/usr/local/bin/containerd"
ln -sfn /usr/lib/cni "$node/opt/cni/bin"
chroot "$node" sh -c "ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}' | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json"
# the sandbox image is the pause image kubeadm names
sed -i "s|^\(\s*sandbox_image\s*=\s*\).*|\1\"$(image_for pause)\"|" "$node/etc/containerd/config.toml"
for b in kubeadm kubelet kubectl; do install -m 0755 "$bin/$b" "$node/usr/bin/$b"; done
echo "$kube_version" >"$node/kind/version"
install -m 0644 "$here/files/default-storage.yaml" "$node/kind/manifests/default-storage.yaml"
install -m 0644 "$here/files/10-bridge.conflist" "$node/etc/cni/net.d/10-bridge.conflist"
log "root filesystem assembled"

# Import the images into the node's containerd (as kind's build does: pinned, not unpacked), with the node's own
# containerd running on its root filesystem.
cp "$work/images.tar" "$node/kind/images.tar"
podman run --rm --privileged --network none --rootfs "$node" /bin/bash -ec '
  containerd >/tmp/containerd.log 2>&1 &
  for i in $(seq 50); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.2; done
  ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack \
    --digests /kind/images.tar >/dev/null
  ctr --namespace=k8s.io images list -q
  kill %1; wait || true' >"$work/imported.txt" || { echo "node-image: import into containerd failed" >&2; exit 1; }
for i in "${kube_images[@]}"; do
  grep -qx "$i" "$work/imported.txt" || { echo "node-image: $i is not in the node's containerd" >&2; exit 1; }
done
rm -rf "$node/kind/images.tar" "$node/run/containerd" "$node/run/.containerenv" "$node/tmp/containerd.log"
log "images imported into the node's containerd"

tar -C "$node" --numeric-owner --xattrs -cf - . | podman import --quiet \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'ENV container=docker' \
  --change 'STOPSIGNAL SIGRTMIN+3' --change "LABEL $label=$key" - "$image" >/dev/null
log "built $image"
