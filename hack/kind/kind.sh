#!/usr/bin/env bash
# kind.sh ARGS...: runs kind (the one on PATH) with its podman provider, as a host like this one needs it, without
# changing anything in /etc or /lib:
#   - CONTAINERS_CONF: a containers.conf of our own (containers-conf.sh: runc, ulimits within the host's hard
#     limits, cgroupfs, kind's network kept in KIND_STATE), unless the caller gives one;
#   - kind's podman provider always mounts /lib/modules into its nodes; on a host without that folder a podman
#     shim first on PATH mounts an empty folder there instead (nothing in a kind node needs kernel modules that
#     the host has not loaded).
# KIND_STATE (default ${TMPDIR:-/tmp}/berth-kind) holds these files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${KIND_STATE:-${TMPDIR:-/tmp}/berth-kind}
mkdir -p "$state"
export KIND_EXPERIMENTAL_PROVIDER=podman
if [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF="$state/containers.conf"
  "$here/containers-conf.sh" "$state" >"$CONTAINERS_CONF"
fi
if [ ! -d /lib/modules ]; then
  real=$(command -v podman)
  mkdir -p "$state/shim" "$state/no-modules"
  cat >"$state/shim/podman" <<SHIM
#!/usr/bin/env bash
# Written by hack/kind/kind.sh: podman, with kind's /lib/modules mount taken from $state/no-modules.
args=()
for a in "\$@"; do
  [ "\$a" = /lib/modules:/lib/modules:ro ] && a=$state/no-modules:/lib/modules:ro
  args+=("\$a")
done
exec $real "\${args[@]}"
SHIM
  chmod +x "$state/shim/podman"
  export PATH="$state/shim:$PATH"
fi
exec kind "$@"
