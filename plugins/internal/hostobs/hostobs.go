// Package hostobs reads what Berth's virtual kubelets report about their Podman hosts on the Node object.
package hostobs

import (
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/wellknown"
)

// Podman tells whether a node is one of Berth's Podman nodes (label berth.dev/podman=true).
func Podman(node *corev1.Node) bool {
	return node != nil && node.Labels[wellknown.LabelPodman] == "true"
}

// AvailableMemory returns the memory a Podman node's host has available for new pods, as its virtual kubelet
// observed it (the kernel's MemAvailable, page cache counting as available), if the node reports it, no older than
// maxAge at now.
func AvailableMemory(node *corev1.Node, now time.Time, maxAge time.Duration) (int64, bool) {
	if !Podman(node) {
		return 0, false
	}
	avail, err := strconv.ParseInt(node.Annotations[wellknown.AnnotationFreeMemory], 10, 64)
	if err != nil || avail < 0 {
		return 0, false
	}
	at, err := time.Parse(time.RFC3339, node.Annotations[wellknown.AnnotationObservedAt])
	if err != nil || now.Sub(at) > maxAge {
		return 0, false
	}
	return avail, true
}
