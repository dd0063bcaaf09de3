// Package node is the node half of Berth's virtual kubelet: it keeps the Node object of one Podman host true to
// that host, as the kubelet's nodestatus does, and holds the node's Lease for this process.
//
// Node observes the host every few seconds and runs one setter per part of the status (machine info and
// capacity, images, the available-memory annotation the scheduler reads, then one setter per condition: Ready follows
// whether Podman answers, turning False only once it has not answered for Config.UnreachableAfter, as the
// kubelet's does for its container runtime). It implements virtual-kubelet's node.NodeProvider.
//
// LeaseClaim claims kube-node-lease/<node> before the process touches Podman, so that a second berth-kubelet of
// the same node refuses to run instead of fighting the first over the pods, and releases it on a clean stop.
package node
