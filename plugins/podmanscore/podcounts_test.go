package podmanscore

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	st "k8s.io/kubernetes/pkg/scheduler/testing"
)

// scoreSubset picks the nodes to score among names: a random subset, at least one, as if filters had taken some
// out.
func scoreSubset(r *rand.Rand, names []string) []string {
	var out []string
	for _, n := range names {
		if r.IntN(4) > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = []string{names[r.IntN(len(names))]}
	}
	return out
}

// compareSpread runs one cycle of both plugins and fails the test if their normalized scores differ; it returns
// PodmanScore's.
func compareSpread(ctx context.Context, t *testing.T, sp *spreadPair, pod *corev1.Pod, names []string, what string) map[string]int64 {
	t.Helper()
	intree, berth := sp.scores(ctx, t, pod, names)
	if diff := cmp.Diff(intree, berth); diff != "" {
		t.Fatalf("%s, pod %s labels %v owners %v constraints %+v:\nnormalized scores (-in-tree,+berth):\n%s",
			what, pod.Namespace, pod.Labels, pod.OwnerReferences, pod.Spec.TopologySpreadConstraints, diff)
	}
	return berth
}

// checkCounter checks the counter against the snapshot after a cycle that was not a pod group one: it holds the
// snapshot's node list and each node's position in it, every group has one slot per node, and a slot taken from
// a node's current NodeInfo and generation holds that node's count.
func checkCounter(t *testing.T, sp *spreadPair) {
	t.Helper()
	all, err := sp.snapshot.NodeInfos().List()
	if err != nil {
		t.Fatal(err)
	}
	c := sp.berth.counts
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.list) != len(all) {
		t.Fatalf("counter's node list has %d nodes, the snapshot's %d", len(c.list), len(all))
	}
	for i := range all {
		if c.list[i] != all[i] {
			t.Fatalf("counter's node list: position %d is %s, the snapshot's %s", i, c.list[i].Node().Name, all[i].Node().Name)
		}
	}
	if len(c.pos) != len(all) {
		t.Fatalf("counter knows the positions of %d nodes, the snapshot has %d", len(c.pos), len(all))
	}
	for i, ni := range all {
		if p, ok := c.pos[ni]; !ok || p != i {
			t.Fatalf("node %s: counter's position %d (known %t), snapshot's %d", ni.Node().Name, p, ok, i)
		}
	}
	for key, g := range c.groups {
		if len(g.slots) != len(all) {
			t.Fatalf("group %q: %d slots for %d nodes", key, len(g.slots), len(all))
		}
		for i, s := range g.slots {
			if s.node == all[i] && s.gen == all[i].GetGeneration() {
				if want := countPods(all[i], g.match); s.n != want {
					t.Fatalf("group %q, node %s: kept count %d, the node has %d", key, all[i].Node().Name, s.n, want)
				}
			}
		}
	}
	for key, kv := range c.keys {
		if len(kv.slots) != len(all) {
			t.Fatalf("key %q: %d slots for %d nodes", key, len(kv.slots), len(all))
		}
		for i, s := range kv.slots {
			if s.node != all[i] || s.gen != all[i].GetGeneration() {
				continue
			}
			v, ok := all[i].Node().Labels[key]
			if got := s.val; (!ok && got != noValue) || (ok && (got < 0 || kv.values[got] != v)) {
				t.Fatalf("key %q, node %s: kept value %d (%v), the node's %q (has it: %t)", key, all[i].Node().Name, got, kv.values, v, ok)
			}
		}
	}
}

// countMatching makes every group the counter holds count the pods it looks at (the work a cycle does beyond the
// kept counts), into the returned counter.
func countMatching(p *PodmanScore) *int {
	n := new(int)
	p.counts.mu.Lock()
	defer p.counts.mu.Unlock()
	for _, g := range p.counts.groups {
		match := g.match
		g.match = func(pod *corev1.Pod) bool {
			*n++
			return match(pod)
		}
	}
	return n
}

// cacheCluster drives a spreadPair's snapshot through the scheduler's cache, as the scheduler does before each
// cycle: UpdateSnapshot keeps the NodeInfo objects of the nodes that stay, renews those that changed, and rebuilds
// the node list (in the cache's zone-interleaved order) when nodes come or go.
type cacheCluster struct {
	cache  cache.Cache
	sp     *spreadPair
	logger klog.Logger
	nodes  []*corev1.Node
	added  int
}

func (cc *cacheCluster) update(t *testing.T) {
	t.Helper()
	if err := cc.cache.UpdateSnapshot(cc.logger, cc.sp.snapshot); err != nil {
		t.Fatal(err)
	}
}

func (cc *cacheCluster) names() []string {
	var out []string
	for _, n := range cc.nodes {
		out = append(out, n.Name)
	}
	return out
}

func (cc *cacheCluster) addPod(t *testing.T, p *corev1.Pod) {
	t.Helper()
	if err := cc.cache.AddPod(cc.logger, p); err != nil {
		t.Fatal(err)
	}
}

// addNode adds a node with random zone and region, and a few random pods on it.
func (cc *cacheCluster) addNode(t *testing.T, r *rand.Rand) {
	t.Helper()
	cc.added++
	name := fmt.Sprintf("added-node-%02d", cc.added)
	w := st.MakeNode().Name(name).Label(corev1.LabelHostname, name).Label(corev1.LabelTopologyZone, fmt.Sprintf("zone-%d", r.IntN(3)))
	if r.IntN(4) > 0 {
		w = w.Label(testRegion, fmt.Sprintf("region-%d", r.IntN(2)))
	}
	n := w.Obj()
	cc.cache.AddNode(cc.logger, n)
	cc.nodes = append(cc.nodes, n)
	for j := range r.IntN(5) {
		cc.addPod(t, randomPod(r, fmt.Sprintf("p-%s-%d", name, j), name))
	}
}

// removeNode removes a random node; its pods stay in the cache, as they do until their deletion is seen.
func (cc *cacheCluster) removeNode(t *testing.T, r *rand.Rand) {
	t.Helper()
	if len(cc.nodes) < 2 {
		return
	}
	i := r.IntN(len(cc.nodes))
	if err := cc.cache.RemoveNode(cc.logger, cc.nodes[i]); err != nil {
		t.Fatal(err)
	}
	cc.nodes = slices.Delete(cc.nodes, i, i+1)
}

// relabelNode moves a random node to another zone or region, or takes the label away (UpdateNode: its NodeInfo
// gets a new generation, in place in the snapshot).
func (cc *cacheCluster) relabelNode(t *testing.T, r *rand.Rand) {
	t.Helper()
	i := r.IntN(len(cc.nodes))
	n := cc.nodes[i].DeepCopy()
	key := []string{corev1.LabelTopologyZone, testRegion}[r.IntN(2)]
	if r.IntN(3) == 0 {
		delete(n.Labels, key)
	} else {
		n.Labels[key] = fmt.Sprintf("moved-%d", r.IntN(2))
	}
	cc.cache.UpdateNode(cc.logger, cc.nodes[i], n)
	cc.nodes[i] = n
}

// TestTopologySpreadNodeListChanges runs the side-by-side comparison of TestTopologySpreadMatchesInTree on a
// snapshot that the scheduler's cache updates between cycles while nodes are added, removed or replaced (the
// counter's node list and slots are rebuilt: syncList, resize). Scores must equal the in-tree plugin's, the
// counter must follow the snapshot's list, and a cycle repeated on the unchanged snapshot must be served from the
// kept counts alone.
func TestTopologySpreadNodeListChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, cc *cacheCluster, r *rand.Rand)
	}{
		{"node added", func(t *testing.T, cc *cacheCluster, r *rand.Rand) { cc.addNode(t, r) }},
		{"node removed", func(t *testing.T, cc *cacheCluster, r *rand.Rand) { cc.removeNode(t, r) }},
		{"node replaced, same count", func(t *testing.T, cc *cacheCluster, r *rand.Rand) {
			cc.removeNode(t, r)
			cc.addNode(t, r)
		}},
		{"node relabelled", func(t *testing.T, cc *cacheCluster, r *rand.Rand) { cc.relabelNode(t, r) }},
		{"nodes added and removed", func(t *testing.T, cc *cacheCluster, r *rand.Rand) {
			for range 1 + r.IntN(3) {
				if r.IntN(2) == 0 {
					cc.addNode(t, r)
				} else {
					cc.removeNode(t, r)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(25) {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					logger, ctx := ktesting.NewTestContext(t)
					ctx, cancel := context.WithCancel(ctx)
					defer cancel()
					r := rand.New(rand.NewPCG(seed, 29))
					nodes, pods, objs := randomCluster(r)
					defaulting, defaults := randomDefaults(r)
					cc := &cacheCluster{
						cache: cache.New(ctx, nil, false, false), logger: logger,
						sp: newSpreadPair(ctx, t, nil, nil, objs, defaulting, defaults),
					}
					for _, n := range nodes {
						cc.cache.AddNode(logger, n)
						cc.nodes = append(cc.nodes, n)
					}
					for _, p := range pods {
						cc.addPod(t, p)
					}
					cc.update(t)
					for cycle := range 6 {
						pod := randomIncoming(r, cycle)
						names := scoreSubset(r, cc.names())
						what := fmt.Sprintf("cycle %d, defaulting %s %v", cycle, defaulting, defaults)
						berth := compareSpread(ctx, t, cc.sp, pod, names, what)
						checkCounter(t, cc.sp)
						matched := countMatching(cc.sp.berth)
						again := compareSpread(ctx, t, cc.sp, pod, names, what+", repeated")
						if *matched != 0 {
							t.Fatalf("%s: the cycle repeated on an unchanged snapshot looked at %d pods; want all counts kept", what, *matched)
						}
						if diff := cmp.Diff(berth, again); diff != "" {
							t.Fatalf("%s: repeated cycle (-first,+repeated):\n%s", what, diff)
						}
						tc.change(t, cc, r)
						cc.addPod(t, randomPod(r, fmt.Sprintf("added-%d", cycle), cc.nodes[r.IntN(len(cc.nodes))].Name))
						cc.update(t)
					}
				})
			}
		})
	}
}

// TestTopologySpreadPodGroupCycles runs pod group scheduling cycles side by side: the pods of the group placed so
// far are assumed in the snapshot (Snapshot.AssumePod, which keeps the nodes' generations) and the cycle state
// carries the pod group's state, as the scheduler sets both while it places a group. PodmanScore must count
// without its kept counts in such a cycle (countOnly), and leave them valid for the cycles after the assumed pods
// are forgotten.
func TestTopologySpreadPodGroupCycles(t *testing.T) {
	changed := 0
	for seed := range uint64(60) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			logger, ctx := ktesting.NewTestContext(t)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			r := rand.New(rand.NewPCG(seed, 31))
			nodes, pods, objs := randomCluster(r)
			defaulting, defaults := randomDefaults(r)
			sp := newSpreadPair(ctx, t, nodes, pods, objs, defaulting, defaults)
			var all []string
			for _, n := range nodes {
				all = append(all, n.Name)
			}
			for cycle := range 6 {
				pod := randomIncoming(r, cycle)
				names := scoreSubset(r, all)
				what := fmt.Sprintf("cycle %d, defaulting %s %v", cycle, defaulting, defaults)
				before := compareSpread(ctx, t, sp, pod, names, what)

				// The group's pods placed so far: the same labels and controller as the pod to place.
				var assumed []*corev1.Pod
				for k := range 1 + r.IntN(5) {
					p := randomPod(r, fmt.Sprintf("member-%d-%d", cycle, k), all[r.IntN(len(all))])
					p.Namespace, p.Labels, p.OwnerReferences, p.DeletionTimestamp = pod.Namespace, maps.Clone(pod.Labels), pod.OwnerReferences, nil
					pi, err := framework.NewPodInfo(p)
					if err != nil {
						t.Fatal(err)
					}
					if err := sp.snapshot.AssumePod(pi); err != nil {
						t.Fatal(err)
					}
					assumed = append(assumed, p)
				}
				sp.podGroupCycle = true
				during := compareSpread(ctx, t, sp, pod, names, what+", pod group cycle")
				sp.podGroupCycle = false
				if !cmp.Equal(before, during) {
					changed++
				}
				for i := len(assumed) - 1; i >= 0; i-- {
					if err := sp.snapshot.ForgetPod(logger, assumed[i]); err != nil {
						t.Fatal(err)
					}
				}
				after := compareSpread(ctx, t, sp, pod, names, what+", after the pod group cycle")
				if diff := cmp.Diff(before, after); diff != "" {
					t.Fatalf("%s: the assumed pods are forgotten (-before the pod group cycle,+after):\n%s", what, diff)
				}
				checkCounter(t, sp)

				ni, _ := sp.snapshot.NodeInfos().Get(all[r.IntN(len(all))])
				pi, err := framework.NewPodInfo(randomPod(r, fmt.Sprintf("added-%d", cycle), ni.Node().Name))
				if err != nil {
					t.Fatal(err)
				}
				ni.AddPodInfo(pi)
			}
		})
	}
	// The assumed pods must have changed some scores, or the cycles above checked nothing of countOnly.
	if changed == 0 && !t.Failed() {
		t.Fatal("no pod group cycle scored differently from the cycle before it")
	}
}

// TestTopologySpreadEvictsGroups cycles through more distinct selectors than the counter keeps groups
// (maxCountedGroups) and back, with pods added and removed in between: scores must equal the in-tree plugin's
// throughout, the counter must keep at most maxCountedGroups groups, and it must evict the least recently used.
func TestTopologySpreadEvictsGroups(t *testing.T) {
	const selectors = maxCountedGroups + 8
	seq := func(from, to int) []int { // from..to-1
		var out []int
		for i := from; i < to; i++ {
			out = append(out, i)
		}
		return out
	}
	tests := []struct {
		name  string
		order []int
		kept  []int
	}{
		{"one pass over more than maxCountedGroups keeps the last ones", seq(0, selectors), seq(selectors-maxCountedGroups, selectors)},
		{"back to the first", append(seq(0, selectors), 0), append([]int{0}, seq(selectors-maxCountedGroups+1, selectors)...)},
		{"back to the first and on", append(append(seq(0, selectors), 0), seq(1, 4)...),
			append([]int{0, 1, 2, 3}, seq(selectors-maxCountedGroups+4, selectors)...)},
		{"a group used again is kept over an older one", append(append(seq(0, maxCountedGroups), 0), maxCountedGroups),
			append([]int{0}, seq(2, maxCountedGroups+1)...)},
		{"two passes", append(seq(0, selectors), seq(0, selectors)...), seq(selectors-maxCountedGroups, selectors)},
	}
	selector := func(i int) *metav1.LabelSelector {
		// Two values, so that neighbouring selectors count some of the same pods and different ones.
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "idx", Operator: metav1.LabelSelectorOpIn, Values: []string{strconv.Itoa(i), strconv.Itoa((i + 1) % selectors)}}}}
	}
	key := func(t *testing.T, i int) string {
		s, err := metav1.LabelSelectorAsSelector(selector(i))
		if err != nil {
			t.Fatal(err)
		}
		return groupKey("default", s)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logger, ctx := ktesting.NewTestContext(t)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			r := rand.New(rand.NewPCG(7, 41))
			pod := func(name, node string) *corev1.Pod {
				return st.MakePod().Name(name).UID(name).Namespace("default").Node(node).Label("idx", strconv.Itoa(r.IntN(selectors))).Obj()
			}
			var nodes []*corev1.Node
			var pods []*corev1.Pod
			var all []string
			for i := range 9 {
				name := fmt.Sprintf("node-%d", i)
				nodes = append(nodes, st.MakeNode().Name(name).Label(corev1.LabelHostname, name).Label(corev1.LabelTopologyZone, fmt.Sprintf("zone-%d", i%3)).Obj())
				all = append(all, name)
				for j := range 3 * selectors / 9 {
					pods = append(pods, pod(fmt.Sprintf("p-%s-%d", name, j), name))
				}
			}
			sp := newSpreadPair(ctx, t, nodes, pods, []runtime.Object{}, schedconfig.ListDefaulting, nil)
			for step, i := range tc.order {
				topologyKey := []string{corev1.LabelHostname, corev1.LabelTopologyZone}[step%2]
				incoming := st.MakePod().Name("incoming").UID("incoming").Namespace("default").Label("idx", strconv.Itoa(i)).
					SpreadConstraint(1, topologyKey, corev1.ScheduleAnyway, selector(i), nil, nil, nil, nil).Obj()
				compareSpread(ctx, t, sp, incoming, scoreSubset(r, all), fmt.Sprintf("step %d, selector %d", step, i))
				if n := len(sp.berth.counts.groups); n > maxCountedGroups {
					t.Fatalf("step %d: %d groups kept, want at most %d", step, n, maxCountedGroups)
				}
				if _, ok := sp.berth.counts.groups[key(t, i)]; !ok {
					t.Fatalf("step %d: the group of selector %d, just used, is not kept", step, i)
				}
				checkCounter(t, sp)

				// Pods come and go on the first three nodes only: the others keep their generations, so that a
				// count kept for another selector would be taken as valid there.
				ni, _ := sp.snapshot.NodeInfos().Get(all[r.IntN(3)])
				pi, err := framework.NewPodInfo(pod(fmt.Sprintf("added-%d", step), ni.Node().Name))
				if err != nil {
					t.Fatal(err)
				}
				ni.AddPodInfo(pi)
				if r.IntN(2) == 0 {
					ni, _ := sp.snapshot.NodeInfos().Get(all[r.IntN(3)])
					if ps := ni.GetPods(); len(ps) > 0 {
						if err := ni.RemovePod(logger, ps[r.IntN(len(ps))].GetPod()); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			var want, got []string
			for _, i := range tc.kept {
				want = append(want, key(t, i))
			}
			for k := range sp.berth.counts.groups {
				got = append(got, k)
			}
			slices.Sort(want)
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("groups kept at the end (-want,+got):\n%s", diff)
			}
		})
	}
}

// TestKeyValuesBounded: a key whose values are all different (hostnames) with nodes replaced over time keeps at most
// about twice as many interned values as there are nodes, and reads right after dropping them.
func TestKeyValuesBounded(t *testing.T) {
	tests := []struct {
		name   string
		nodes  int
		rounds int
	}{
		{"one node", 1, 200},
		{"ten nodes", 10, 50},
		{"hundred nodes", 100, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newPodCounter()
			for round := range tc.rounds {
				var all []fwk.NodeInfo
				for i := range tc.nodes {
					name := fmt.Sprintf("node-%d-%d", round, i)
					all = append(all, framework.NewNodeInfo())
					all[i].(*framework.NodeInfo).SetNode(st.MakeNode().Name(name).Label(corev1.LabelHostname, name).Obj())
				}
				cc := c.begin(all, false)
				kv := cc.values(corev1.LabelHostname)
				for i, ni := range all {
					if v := cc.value(kv, i, ni); v < 0 || kv.values[v] != ni.Node().Name {
						t.Fatalf("round %d, node %s: value %d", round, ni.Node().Name, v)
					}
				}
				if n := len(kv.values); n > 2*tc.nodes+64+tc.nodes {
					t.Fatalf("round %d: %d interned values for %d nodes", round, n, tc.nodes)
				}
				cc.release()
			}
		})
	}
}

// TestPositions: each node to score gets its position in the snapshot's node list, whatever their order (the
// scheduler's rotating start, its parallel filters' interleaving, any shuffle), -1 for a node not in the list and
// for every node of a pod group cycle.
func TestPositions(t *testing.T) {
	const n = 40
	var all []fwk.NodeInfo
	for i := range n {
		all = append(all, framework.NewNodeInfo())
		all[i].(*framework.NodeInfo).SetNode(st.MakeNode().Name(fmt.Sprintf("node-%d", i)).Obj())
	}
	stranger := framework.NewNodeInfo()
	stranger.SetNode(st.MakeNode().Name("not-listed").Obj())
	r := rand.New(rand.NewPCG(1, 2))
	shuffled := r.Perm(n)
	tests := []struct {
		name      string
		order     []int // positions in all; -1 for the stranger
		countOnly bool
	}{
		{name: "in order", order: seq(0, n)},
		{name: "rotated start", order: append(seq(27, n), seq(0, 27)...)},
		{name: "runs interleaved", order: []int{0, 1, 2, 20, 21, 3, 4, 22, 5, 39, 6}},
		{name: "gaps (filtered out)", order: []int{1, 3, 4, 9, 10, 11, 38, 39, 2}},
		{name: "shuffled", order: shuffled},
		{name: "a node not in the list", order: []int{5, 6, -1, 7, -1, 39, -1, 0}},
		{name: "the last node, then the first", order: []int{39, 0, 1}},
		{name: "pod group cycle", order: []int{3, 4, 5}, countOnly: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newPodCounter()
			c.begin(all, false).release()
			var nodes []fwk.NodeInfo
			for _, p := range tc.order {
				if p < 0 {
					nodes = append(nodes, stranger)
				} else {
					nodes = append(nodes, all[p])
				}
			}
			cc := c.begin(all, tc.countOnly)
			defer cc.release()
			got := make([]int, len(nodes))
			cc.positions(nodes, got)
			want := slices.Clone(tc.order)
			if tc.countOnly {
				for i := range want {
					want[i] = -1
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("positions (-want,+got):\n%s", diff)
			}
		})
	}
}

// seq returns from, from+1, ..., to-1.
func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
