// Package hostobs reads what Berth's virtual kubelets report about their Podman hosts on the Node object.
package hostobs

import (
	"strconv"
	"sync"
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
	obs := parse(node)
	if !obs.ok || now.Sub(obs.at) > maxAge {
		return 0, false
	}
	return obs.avail, true
}

// maxCachedObservations bounds an Observations cache by node names: past it (names of nodes long deleted pile up
// only in a cluster that renames its nodes all the time), the cache starts again empty.
const maxCachedObservations = 1 << 15

// Observations caches what AvailableMemory parses from each node's latest Node object, so that the scheduler's
// filters and scorers parse a node's annotations once per update of the node instead of once per pod and node.
// Node objects from the scheduler's informers are never changed in place (an update is a new object), so the
// parsed reading is the object's for as long as it lives; only its age is computed at each call. The cache holds
// one entry per node name, the Node object it was parsed from and the reading: a newer object of the node replaces
// it (nodes report every few seconds, so keying by object would keep every old one alive). Safe for concurrent use.
type Observations struct {
	// A plain map under a read-write lock: the filters and scorers of a cycle read it for every node from
	// several goroutines, and a sync.Map's Load (interface keys, hashed through their type) cost twice as much.
	mu sync.RWMutex
	m  map[string]cachedObservation
}

type cachedObservation struct {
	node *corev1.Node
	obs  *observation
}

type observation struct {
	avail int64
	at    time.Time
	ok    bool
}

// AvailableMemory is the package's AvailableMemory, with the node's annotations parsed once.
func (o *Observations) AvailableMemory(node *corev1.Node, now time.Time, maxAge time.Duration) (int64, bool) {
	if node == nil {
		return 0, false
	}
	o.mu.RLock()
	c, found := o.m[node.Name]
	o.mu.RUnlock()
	obs := c.obs
	if !found || c.node != node {
		obs = parse(node)
		o.mu.Lock()
		if o.m == nil || (!found && len(o.m) >= maxCachedObservations) {
			o.m = map[string]cachedObservation{}
		}
		o.m[node.Name] = cachedObservation{node: node, obs: obs}
		o.mu.Unlock()
	}
	if !obs.ok || now.Sub(obs.at) > maxAge {
		return 0, false
	}
	return obs.avail, true
}

func parse(node *corev1.Node) *observation {
	if !Podman(node) {
		return &observation{}
	}
	avail, err := strconv.ParseInt(node.Annotations[wellknown.AnnotationFreeMemory], 10, 64)
	if err != nil || avail < 0 {
		return &observation{}
	}
	at, err := time.Parse(time.RFC3339, node.Annotations[wellknown.AnnotationObservedAt])
	if err != nil {
		return &observation{}
	}
	return &observation{avail: avail, at: at, ok: true}
}
