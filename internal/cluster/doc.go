// Package cluster is `berth up` and `berth down`: a local all-in-one cluster whose nodes are Podman. It starts
// etcd, kube-apiserver, kube-controller-manager and the Berth scheduler from the built binaries, a Podman service
// with its own storage and containers.conf per node (optionally in a network namespace of its own, with
// kube-proxy and CoreDNS), and a berth-kubelet per node, and waits until every node is Ready. Its state (etcd data,
// certificates, kubeconfig, logs, Podman storage) lives in one state folder.
package cluster
