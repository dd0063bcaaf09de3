#!/usr/bin/env bash
# make conformance: upstream Kubernetes' sig-node conformance specs (test/e2e/common/node at the version Berth
# builds) against a Berth node.
#
#   1. builds the test binary (conformance/, a module of its own), ginkgo and the summary tool;
#   2. builds the specs' images under their upstream names and serves them from a registry on loopback
#      (hack/conformance/images.sh);
#   3. starts `berth up` on a new state folder whose node pulls registry.k8s.io through that registry as a mirror
#      (berth up --registries-config), unless KUBECONFIG names a cluster to use instead;
#   4. runs the selected specs with ginkgo (CONFORMANCE_PROCS processes in parallel), then prints one line per spec
#      and `conformance: N passed, N failed`; reports (JUnit, JSON, Markdown) go to _output/conformance/.
#
# Environment: KUBECONFIG (use that cluster), CONFORMANCE_NODES (nodes of the berth up, default 1; sig-network's
# specs that need two nodes run with 2), CONFORMANCE_PROCS (default 4), CONFORMANCE_FOCUS / CONFORMANCE_SKIP
# (ginkgo regexps; defaults select the sig-node conformance specs that are neither Slow, Serial nor Disruptive),
# CONFORMANCE_TIMEOUT (default 45m), CONFORMANCE_KEEP=1 (leave the cluster running afterwards),
# CONFORMANCE_REGISTRY_PORT (default 5100).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${BIN:-$ROOT/_output/bin}
OUT=$ROOT/_output/conformance
mkdir -p "$OUT" "$BIN"
# Static binaries, as the Makefile builds them (and so from the same build cache).
export CGO_ENABLED=0

FOCUS=${CONFORMANCE_FOCUS:-'\[sig-node\].*\[Conformance\]'}
SKIP=${CONFORMANCE_SKIP:-'\[Slow\]|\[Serial\]|\[Disruptive\]'}
PROCS=${CONFORMANCE_PROCS:-4}
TIMEOUT=${CONFORMANCE_TIMEOUT:-45m}
export CONFORMANCE_REGISTRY_PORT=${CONFORMANCE_REGISTRY_PORT:-5100}

echo "conformance: building the test binary, ginkgo and the summary tool"
(
  cd conformance
  go test -c -o "$BIN/conformance.test" .
  go build -o "$BIN/ginkgo" github.com/onsi/ginkgo/v2/ginkgo
  go build -o "$BIN/conformance-summary" ./cmd/summary
)

echo "conformance: building the specs' images and serving them on 127.0.0.1:$CONFORMANCE_REGISTRY_PORT"
hack/conformance/images.sh

cleanup=()
on_exit() { for c in "${cleanup[@]}"; do eval "$c" || true; done; }
trap on_exit EXIT

if [ -z "${KUBECONFIG:-}" ]; then
  STATE=$OUT/state
  if [ -f "$STATE/berth.pid" ]; then "$BIN/berth" down --state "$STATE" >/dev/null 2>&1 || true; fi
  rm -rf "$STATE"
  mkdir -p "$STATE"
  # The node pulls every registry.k8s.io image through the loopback registry, as an air-gapped user's node
  # pulls through its mirror: no image is put into Podman behind Berth's back.
  cat > "$OUT/registries.conf" <<CONF
[[registry]]
prefix = "registry.k8s.io"
location = "registry.k8s.io"

[[registry.mirror]]
location = "127.0.0.1:$CONFORMANCE_REGISTRY_PORT"
insecure = true
CONF
  echo "conformance: starting berth up in $STATE"
  # The /etc/hosts spec mounts the node's own /etc/hosts as a hostPath; a Berth node refuses hostPaths outside
  # the folders its operator allows, so this node allows that one file, as an operator running the suite would.
  "$BIN/berth" up --detach --state "$STATE" --nodes "${CONFORMANCE_NODES:-1}" --registries-config "$OUT/registries.conf" --allowed-host-paths /etc/hosts \
    --apiserver-port 7443 --etcd-port 12379 --etcd-peer-port 12380 --controller-manager-port 11257 \
    --scheduler-port 11259 --kubelet-port 11250 --metrics-server-port 14443
  if [ "${CONFORMANCE_KEEP:-0}" != 1 ]; then
    cleanup+=("\"$BIN/berth\" down --state \"$STATE\" >/dev/null")
  fi
  export KUBECONFIG=$STATE/kubeconfig
fi

echo "conformance: running the specs ($PROCS in parallel, focus $FOCUS, skip $SKIP)"
rm -f "$OUT/report.json" "$OUT/junit.xml"
set +e
"$BIN/ginkgo" run --procs="$PROCS" --timeout="$TIMEOUT" --no-color --silence-skips \
  --focus="$FOCUS" --skip="$SKIP" \
  --output-dir="$OUT" --json-report=report.json --junit-report=junit.xml \
  "$BIN/conformance.test" -- \
  --kubeconfig="$KUBECONFIG" --provider=skeleton --allowed-not-ready-nodes=-1 \
  --non-blocking-taints=virtual-kubelet.io/provider,node-role.kubernetes.io/control-plane \
  --disable-log-dump --report-dir="$OUT" > "$OUT/ginkgo.log" 2>&1
ginkgo_rc=$?
set -e
echo "conformance: ginkgo exited $ginkgo_rc; its log is $OUT/ginkgo.log"
"$BIN/conformance-summary" --json "$OUT/report.json" --focus "$FOCUS" --skip "$SKIP" --markdown "$OUT/results.md"
