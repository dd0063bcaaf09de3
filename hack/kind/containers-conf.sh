#!/usr/bin/env bash
# containers-conf.sh STATE_DIR: prints a containers.conf for the podman that kind (and node-image.sh) runs, given to it with
# CONTAINERS_CONF so that /etc stays as it is: runc (crun cannot run on a hybrid cgroup v1 host), and containers'
# ulimits at this process's hard limits (Debian's Podman 4.3 fails with EPERM on defaults above them), and no
# systemd or journald (hosts without systemd as PID 1, like CI's). Networks (kind's "kind" network) are kept in
# STATE_DIR/networks rather than /etc/containers/networks.
set -euo pipefail
state=${1:?usage: containers-conf.sh STATE_DIR}
mkdir -p "$state/networks"
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] || [ "$nofile" -gt 1048576 ] && nofile=1048576
# Measured on a CI-like host (no CAP_SYS_RESOURCE, nproc hard limit 96367): containers fail with EPERM on RLIMIT_NPROC
# from somewhere between 20000 and 65536, so nproc stays at 16384 or the hard limit, whichever is lower.
[ "$nproc" = unlimited ] || [ "$nproc" -gt 16384 ] && nproc=16384
cat <<CONF
# Written by hack/kind/containers-conf.sh
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_config_dir = "$state/networks"
CONF
