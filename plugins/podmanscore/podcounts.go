package podmanscore

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	fwk "k8s.io/kube-scheduler/framework"
)

// maxCountedGroups bounds the pod groups (a selector in a namespace, or a controller) whose per-node counts are
// kept between scheduling cycles; the least recently used one goes first. Each keeps one slot per node.
const maxCountedGroups = 32

// podCounter counts, per node, the pods of a group: the pods a topology spread selector matches in a namespace,
// or the pods of a controller. It keeps each node's count between scheduling cycles with the generation of the
// node's NodeInfo, which the scheduler renews whenever a pod is added to or removed from the node (or the node
// changes), so a node that did not change costs one comparison instead of a walk over its pods. The counts are
// exact: a count is used only for the NodeInfo object and generation it was taken from.
//
// A pod group scheduling cycle assumes pods in the snapshot without renewing the generation; such a cycle counts
// without the cache (countOnly).
//
// The slots of a group are indexed by the node's position in the snapshot's node list, as PreScore walks it;
// pos maps a NodeInfo to that position for the nodes to score. Both are rebuilt when the list changes.
type podCounter struct {
	mu     sync.Mutex
	tick   uint64
	groups map[string]*podGroup
	list   []fwk.NodeInfo
	pos    map[fwk.NodeInfo]int
}

// podGroup is one group's per-node counts.
type podGroup struct {
	match   func(*corev1.Pod) bool
	lastUse uint64
	slots   []countSlot
}

type countSlot struct {
	node fwk.NodeInfo
	gen  int64
	n    int64
}

func newPodCounter() *podCounter {
	return &podCounter{groups: map[string]*podGroup{}, pos: map[fwk.NodeInfo]int{}}
}

// selectorMatcher matches the pods PodTopologySpread counts for a selector: in the namespace, not terminating.
// An empty selector counts none.
func selectorMatcher(namespace string, selector labels.Selector) func(*corev1.Pod) bool {
	if selector.Empty() {
		return func(*corev1.Pod) bool { return false }
	}
	return func(p *corev1.Pod) bool {
		return p.DeletionTimestamp == nil && p.Namespace == namespace && selector.Matches(labels.Set(p.Labels))
	}
}

// ownerMatcher matches the pods whose controller has the UID.
func ownerMatcher(uid types.UID) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		ref := metav1.GetControllerOfNoCopy(p)
		return ref != nil && ref.UID == uid
	}
}

func countPods(ni fwk.NodeInfo, match func(*corev1.Pod) bool) int64 {
	n := int64(0)
	for _, pi := range ni.GetPods() {
		if match(pi.GetPod()) {
			n++
		}
	}
	return n
}

// cycleCounts is one scheduling cycle's view of the counter; it must be released.
type cycleCounts struct {
	c *podCounter
	// countOnly: count every time, touch no cache (pod group cycles).
	countOnly bool
}

// begin starts a cycle over the snapshot's node list all: it locks the counter until release.
func (c *podCounter) begin(all []fwk.NodeInfo, countOnly bool) *cycleCounts {
	c.mu.Lock()
	c.tick++
	if !countOnly {
		c.syncList(all)
	}
	return &cycleCounts{c: c, countOnly: countOnly}
}

func (cc *cycleCounts) release() { cc.c.mu.Unlock() }

// syncList rebuilds the position index when the snapshot's node list differs from the last one seen.
func (c *podCounter) syncList(all []fwk.NodeInfo) {
	same := len(all) == len(c.list)
	for i := 0; same && i < len(all); i++ {
		same = all[i] == c.list[i]
	}
	if same {
		return
	}
	c.list = append(c.list[:0], all...)
	clear(c.pos)
	for i, ni := range all {
		c.pos[ni] = i
	}
	for _, g := range c.groups {
		g.resize(len(all))
	}
}

func (g *podGroup) resize(n int) {
	if cap(g.slots) >= n {
		g.slots = g.slots[:n]
		return
	}
	g.slots = append(g.slots[:cap(g.slots)], make([]countSlot, n-cap(g.slots))...)
}

// group returns the group of key, made with match if the counter does not hold it yet.
func (cc *cycleCounts) group(key string, match func() func(*corev1.Pod) bool) *podGroup {
	c := cc.c
	if cc.countOnly {
		return &podGroup{match: match()}
	}
	g, ok := c.groups[key]
	if !ok {
		if len(c.groups) >= maxCountedGroups {
			oldest, oldestKey := uint64(0), ""
			for k, og := range c.groups {
				if oldestKey == "" || og.lastUse < oldest {
					oldest, oldestKey = og.lastUse, k
				}
			}
			delete(c.groups, oldestKey)
		}
		g = &podGroup{match: match()}
		g.resize(len(c.list))
		c.groups[key] = g
	}
	g.lastUse = c.tick
	return g
}

// at returns the count of the node at position i of the snapshot's node list.
func (cc *cycleCounts) at(g *podGroup, i int, ni fwk.NodeInfo) int64 {
	if cc.countOnly || i < 0 || i >= len(g.slots) {
		return countPods(ni, g.match)
	}
	s := &g.slots[i]
	gen := ni.GetGeneration()
	if s.node == ni && s.gen == gen {
		return s.n
	}
	n := countPods(ni, g.match)
	*s = countSlot{node: ni, gen: gen, n: n}
	return n
}

// position returns the node's position in the snapshot's node list, -1 if it is not in it.
func (cc *cycleCounts) position(ni fwk.NodeInfo) int {
	if cc.countOnly {
		return -1
	}
	if i, ok := cc.c.pos[ni]; ok {
		return i
	}
	return -1
}
