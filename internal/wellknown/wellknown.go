// Package wellknown holds the labels and annotations through which Berth's virtual kubelets tell Berth's scheduler
// plugins about their Podman hosts, and through which the plugins explain their decisions. It has no
// dependencies, so that the scheduler does not link the Podman client.
package wellknown

const (
	// LabelPodman marks Podman-backed nodes ("true").
	LabelPodman = "berth.dev/podman"
	// AnnotationFreeMemory is the memory a node's Podman host has available for new pods, in bytes: the kernel's
	// MemAvailable (page cache counting as available), not MemFree. A node whose host's MemAvailable Berth cannot
	// read (a remote Podman) has none.
	AnnotationFreeMemory = "berth.dev/free-memory"
	// AnnotationObservedAt is when the host last answered an observation (RFC 3339): the time of the available memory.
	AnnotationObservedAt = "berth.dev/observed-at"
	// AnnotationScheduledNode is the node Berth's scheduler bound a pod to.
	AnnotationScheduledNode = "berth.dev/scheduled-node"
	// AnnotationScore is the score breakdown (JSON) that decided the node.
	AnnotationScore = "berth.dev/score"
)
