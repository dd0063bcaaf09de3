// Package userns allocates the user namespaces of pods that ask for one (spec.hostUsers: false), as the kubelet's
// userns manager (pkg/kubelet/userns) does: each such pod gets a range of Length host IDs of its own, UIDs and GIDs
// alike, whose first ID is root in the pod. Ranges are taken from the node's span, which starts at a multiple of
// Length no lower than Length (the first Length IDs are the host's) and holds one range per pod the node can run
// (its max pods), as the kubelet requires of its own span.
//
// The allocator keeps its state in memory only: the provider records on each Podman pod the range it was given
// and, after a restart, records them again from the Podman pods it adopts, where the kubelet reads a file in each
// pod's folder. Nothing under /etc (subuid, subgid) is read: the span is the node's configuration.
package userns
