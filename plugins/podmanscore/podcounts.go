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
	keys   map[string]*keyValues
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
	return &podCounter{groups: map[string]*podGroup{}, keys: map[string]*keyValues{}, pos: map[fwk.NodeInfo]int{}}
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
	for _, kv := range c.keys {
		kv.resize(len(all))
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
		evictOldest(c.groups, maxCountedGroups, func(g *podGroup) uint64 { return g.lastUse })
		g = &podGroup{match: match()}
		g.resize(len(c.list))
		c.groups[key] = g
	}
	g.lastUse = c.tick
	return g
}

// evictOldest makes room for one more entry in m, which holds at most limit: it deletes the least recently used
// entry when m is full.
func evictOldest[V any](m map[string]V, limit int, lastUse func(V) uint64) {
	if len(m) < limit {
		return
	}
	oldest, oldestKey := uint64(0), ""
	for k, v := range m {
		if oldestKey == "" || lastUse(v) < oldest {
			oldest, oldestKey = lastUse(v), k
		}
	}
	delete(m, oldestKey)
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

// positions sets out[i] to the position of nodes[i] in the snapshot's node list, -1 if it is not in it. The
// scheduler filters the list in order from a rotating start, so the nodes to score mostly follow each other in it:
// the slot after the previous node's is compared first, and the index map is read only when that misses.
func (cc *cycleCounts) positions(nodes []fwk.NodeInfo, out []int) {
	if cc.countOnly {
		for i := range out {
			out[i] = -1
		}
		return
	}
	list := cc.c.list
	next := 0 // a guess: a slot holding the node is its position, whatever led to the guess
	for i, ni := range nodes {
		p, ok := next, next < len(list) && list[next] == ni
		if !ok {
			p, ok = cc.c.pos[ni]
		}
		if !ok {
			out[i] = -1
			continue
		}
		out[i] = p
		next = (p + 1) % len(list)
	}
}

// Node label values of a topology key, as keyValues reports them: an index into its values, or one of these.
const (
	noValue int32 = -1 // the node lacks the key
	noNode  int32 = -2 // the NodeInfo has no node
)

// maxKeyValues bounds the topology keys whose per-node values are kept between cycles, as maxCountedGroups does
// the pod groups.
const maxKeyValues = 16

// keyValues keeps, per node, the node's value of one topology key (label), with the NodeInfo generation it was
// read at (a node's label change renews its generation as a pod change does). The values are interned, so a
// scheduling cycle works on small integers: reading a label of each of thousands of nodes means walking as many
// maps in as many places in memory, which cost topology spread scoring most of its time; a slot of a node that did
// not change costs one comparison. Slots are indexed by the node's position in the snapshot's node list, as the
// pod counts are.
type keyValues struct {
	key     string
	lastUse uint64
	slots   []valueSlot
	values  []string
	index   map[string]int32
}

type valueSlot struct {
	node fwk.NodeInfo
	gen  int64
	val  int32
}

func (kv *keyValues) resize(n int) {
	if cap(kv.slots) >= n {
		kv.slots = kv.slots[:n]
		return
	}
	kv.slots = append(kv.slots[:cap(kv.slots)], make([]valueSlot, n-cap(kv.slots))...)
}

// intern returns the index of v, adding it.
func (kv *keyValues) intern(v string) int32 {
	if i, ok := kv.index[v]; ok {
		return i
	}
	i := int32(len(kv.values))
	kv.values = append(kv.values, v)
	kv.index[v] = i
	return i
}

// read reads the node's value of the key.
func (kv *keyValues) read(ni fwk.NodeInfo) int32 {
	node := ni.Node()
	if node == nil {
		return noNode
	}
	v, ok := node.Labels[kv.key]
	if !ok {
		return noValue
	}
	return kv.intern(v)
}

// values returns the per-node values of key, made if the counter does not hold them yet. Interned values of nodes
// gone are dropped with every slot once they outnumber twice the nodes (node names as a key's values, with
// nodes replaced over time).
func (cc *cycleCounts) values(key string) *keyValues {
	c := cc.c
	kv, ok := c.keys[key]
	if !ok {
		evictOldest(c.keys, maxKeyValues, func(kv *keyValues) uint64 { return kv.lastUse })
		kv = &keyValues{key: key, index: map[string]int32{}}
		kv.resize(len(c.list))
		c.keys[key] = kv
	}
	if len(kv.values) > 2*len(c.list)+64 {
		kv.values, kv.index = kv.values[:0], map[string]int32{}
		clear(kv.slots)
	}
	kv.lastUse = c.tick
	return kv
}

// value returns the value (index, noValue or noNode) of the key on the node at position i of the snapshot's node
// list.
func (cc *cycleCounts) value(kv *keyValues, i int, ni fwk.NodeInfo) int32 {
	if cc.countOnly || i < 0 || i >= len(kv.slots) {
		return kv.read(ni)
	}
	s := &kv.slots[i]
	gen := ni.GetGeneration()
	if s.node == ni && s.gen == gen {
		return s.val
	}
	v := kv.read(ni)
	*s = valueSlot{node: ni, gen: gen, val: v}
	return v
}
