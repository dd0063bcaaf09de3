#!/usr/bin/env bash
# Checks charts/berth with helm: lint and template for default and non-default values, and the schema's refusal of
# bad values. Installs helm from the Go module proxy when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"
if ! command -v helm >/dev/null; then
  echo "Installing helm v3.22.0 from the Go module proxy ..."
  GOFLAGS= CGO_ENABLED=0 go install helm.sh/helm/v3/cmd/helm@v3.22.0
fi
chart=charts/berth
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# absent PATTERN FILE...: fails when grep finds PATTERN (a bare `! grep` would not stop `set -e`).
absent() { if grep -n "$@"; then echo "unexpected match of $1" >&2; exit 1; fi; }

helm lint --strict --kube-version 1.37.2 "$chart"
helm template t "$chart" --kube-version 1.37.2 --namespace berth-system > "$tmp/default.yaml"
grep -q 'schedulerName: berth-scheduler' "$tmp/default.yaml"
grep -q -- '--register-with-taints=berth.dev/podman=true:NoSchedule' "$tmp/default.yaml"
grep -q 'kind: PodDisruptionBudget' "$tmp/default.yaml"
grep -q 'name: t-berth-scheduler-metrics' "$tmp/default.yaml"
grep -q 'checksum/config: ' "$tmp/default.yaml"
absent 'registries' "$tmp/default.yaml"   # no registries config unless kubelet.registriesConf is set
# Least privilege: no wildcard and no admin role anywhere.
absent '"\*"\|cluster-admin' "$tmp/default.yaml"
absent 'kube-proxy' "$tmp/default.yaml"   # kubeProxy is off by default

cat > "$tmp/values.yaml" <<'VALUES'
scheduler:
  profileName: podman
  leaderElection: {enabled: true}
  replicas: 2
  nodeSelector: {kubernetes.io/hostname: node-a}
  tolerations: [{key: dedicated, operator: Exists, effect: NoSchedule}]
  extraArgs: [--v=4]
  podDisruptionBudget: {enabled: false}
  metricsService: {enabled: false}
  plugins:
    podmanScore: {spreadWeight: 7, loadWeight: 0, imageWeight: 1}
kubeProxy: {enabled: true, mode: nftables, clusterCIDR: 10.244.0.0/16, nodePortAddresses: [192.0.2.0/24]}
kubelet:
  taint: {key: ""}
  allowedHostPaths: [/srv/shared, /var/log]
  apiServerAddress: 192.0.2.1:6443
  nodeSelector: {kubernetes.io/hostname: node-b}
  extraArgs: [--cluster-dns=10.96.0.10]
  podmanHosts:
    - {name: host-a, url: unix:///run/podman/podman.sock, tlsSecretName: host-a-tls}
    - {name: host-b, url: tcp://192.0.2.10:8888}
    - {name: host-c, url: ssh://core@192.0.2.11/run/podman/podman.sock, sshKeySecret: host-c-key}
  registriesConf: |
    [[registry]]
    prefix = "registry.k8s.io"
    location = "registry.k8s.io"
    [[registry.mirror]]
    location = "192.0.2.5:5000"
    insecure = true
VALUES
helm lint --strict --kube-version 1.37.2 "$chart" -f "$tmp/values.yaml"
helm template t "$chart" --kube-version 1.37.2 -f "$tmp/values.yaml" > "$tmp/custom.yaml"
grep -q 'schedulerName: podman' "$tmp/custom.yaml"
grep -q 'spreadWeight: 7' "$tmp/custom.yaml"
test "$(grep -c 'kind: Deployment' "$tmp/custom.yaml")" = 4   # the scheduler and three kubelets
absent 'register-with-taints' "$tmp/custom.yaml"
grep -q 'secretName: host-c-key' "$tmp/custom.yaml"
grep -q 'secretName: host-a-tls' "$tmp/custom.yaml"
test "$(grep -c -- '--tls-cert-file=' "$tmp/custom.yaml")" = 1   # only host-a brings its own certificate
test "$(grep -c 'name: CONTAINER_SSHKEY' "$tmp/custom.yaml")" = 1
grep -q -- '--allowed-host-paths=/srv/shared,/var/log' "$tmp/custom.yaml"
grep -q -- '--apiserver-address=192.0.2.1:6443' "$tmp/custom.yaml"
grep -q -- '--root-dir=/var/lib/berth-kubelet/host-b' "$tmp/custom.yaml"
grep -q 'resourceNames: \["host-a", "host-b", "host-c"\]' "$tmp/custom.yaml"
grep -q 'kubernetes.io/hostname: node-a' "$tmp/custom.yaml"
test "$(grep -c 'kubernetes.io/hostname: node-b' "$tmp/custom.yaml")" = 3
grep -q 'key: dedicated' "$tmp/custom.yaml"
# kubelet.registriesConf: one ConfigMap, mounted into every virtual kubelet and named by --registries-config.
test "$(grep -c 'name: t-berth-kubelet-registries$' "$tmp/custom.yaml")" = 4
grep -q '^    location = "192.0.2.5:5000"$' "$tmp/custom.yaml"
test "$(grep -c -- '--registries-config=/etc/berth/registries/registries.conf' "$tmp/custom.yaml")" = 3
test "$(grep -c 'checksum/registries: ' "$tmp/custom.yaml")" = 3
grep -q -- '- "--v=4"' "$tmp/custom.yaml"
# kubeProxy: a ServiceAccount bound to system:node-proxier only, its token Secret, and the host's config and unit.
grep -q 'name: system:node-proxier' "$tmp/custom.yaml"
grep -q 'type: kubernetes.io/service-account-token' "$tmp/custom.yaml"
grep -q '^    mode: nftables$' "$tmp/custom.yaml"
grep -q '^    clusterCIDR: 10.244.0.0/16$' "$tmp/custom.yaml"
grep -q '^    nodePortAddresses: \["192.0.2.0/24"\]$' "$tmp/custom.yaml"
grep -q -- '--hostname-override=%i$' "$tmp/custom.yaml"
grep -q -- '- "--cluster-dns=10.96.0.10"' "$tmp/custom.yaml"
absent 'kind: PodDisruptionBudget' "$tmp/custom.yaml"
absent 'kind: Service$' "$tmp/custom.yaml"
sed -n '/^kind: Deployment/,/^---/p' "$tmp/custom.yaml" | sed -n '/name: t-berth-scheduler$/,/^---/p' > "$tmp/sched.yaml"
absent 'type: Recreate' "$tmp/sched.yaml"

# The schema refuses bad values with a message naming them.
bad() {
  if out=$(helm template t "$chart" --kube-version 1.37.2 "$@" 2>&1); then
    echo "chart accepted bad values: $*" >&2; exit 1
  fi
  echo "refused as expected ($*): $(echo "$out" | grep -m1 -i 'error\|invalid\|must' || true)"
}
bad --set scheduler.plugins.podmanScore.spreadWeight=-1
bad --set scheduler.plugins.podmanScore.imageWeight=101
bad --set 'kubelet.podmanHosts[0].name=h' --set 'kubelet.podmanHosts[0].url=http://x'
bad --set kubelet.taint.effect=Sometimes
bad --set scheduler.unknownField=1
bad --set kubelet.rootDir=relative/path
bad --set 'scheduler.extraArgs[0]=v=4'
bad --set kubeProxy.mode=userspace
bad --set kubeProxy.clusterCIDR=everything

# manifests/berth.yaml is the default rendering (`make manifests`), with no private key in it.
if grep -q 'PRIVATE KEY\|tls.key:' manifests/berth.yaml; then
  echo "manifests/berth.yaml holds a private key" >&2
  exit 1
fi
if ! diff -u manifests/berth.yaml <(hack/manifests.sh) > "$tmp/manifests.diff"; then
  cat "$tmp/manifests.diff" >&2
  echo "manifests/berth.yaml is out of date with charts/berth: run make manifests" >&2
  exit 1
fi
echo "chart checks passed"
