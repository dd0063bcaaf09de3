#!/usr/bin/env bash
# The demo behind `make run`: start the local cluster in the background, apply examples/, and show the pods
# going Pending -> Running (and Succeeded for the Job).
set -euo pipefail
BIN=${1:-_output/bin}
STATE=${2:-$HOME/.local/share/berth}
export KUBECONFIG="$STATE/kubeconfig"
kubectl="$BIN/kubectl"

if [ -f "$STATE/ready" ] && "$kubectl" get --raw /readyz >/dev/null 2>&1; then
  echo "Berth is already running on $STATE."
else
  "$BIN/berth" up --detach --state "$STATE"
fi

echo
echo "Applying the demo (examples/) and watching the pods:"
"$kubectl" get pods --watch --output-watch-events &
watcher=$!
trap 'kill $watcher 2>/dev/null || true' EXIT
sleep 0.5
# A Job of an earlier run has finished (its pod's logs went with that run's containers): run it again.
"$kubectl" delete job countdown --ignore-not-found --wait=true >/dev/null
"$kubectl" apply -f examples/ >/dev/null
"$kubectl" wait --for=condition=Ready pod/webapp --timeout=120s >/dev/null
"$kubectl" rollout status deployment/web --timeout=120s >/dev/null
"$kubectl" wait --for=condition=Complete job/countdown --timeout=120s >/dev/null
sleep 1
kill $watcher 2>/dev/null || true
wait $watcher 2>/dev/null || true

echo
"$kubectl" get pods -o wide
ip=$("$kubectl" get pod webapp -o jsonpath='{.status.podIP}')
echo
echo "The frontend answers on its pod IP ($ip):"
busybox wget -qO- "http://$ip:8080/" || true
echo
echo "The web Service, by its name through cluster DNS, from the webapp pod (kube-proxy spreads the requests):"
for _ in 1 2 3 4 5 6; do
  "$kubectl" exec webapp -c frontend -- sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 web 80 | tail -n 1' || true
done
echo
echo "Job output:"
"$kubectl" logs job/countdown
cat <<MSG

Berth is running in the background. Try:
  export KUBECONFIG=$KUBECONFIG
  $kubectl describe pod webapp
  $kubectl logs webapp -c database
Stop it with: make down   (or: $BIN/berth down --state $STATE)
MSG
