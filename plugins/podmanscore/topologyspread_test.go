package podmanscore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	plfeature "k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/podtopologyspread"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	st "k8s.io/kubernetes/pkg/scheduler/testing"

	"github.com/berth-dev/berth/plugins/internal/decision"
)

const testRegion = corev1.LabelTopologyRegion

// spreadPair is the in-tree PodTopologySpread and a PodmanScore that scores by topology spread alone, on one
// snapshot and one set of informers.
type spreadPair struct {
	snapshot *cache.Snapshot
	intree   fwk.Plugin
	berth    *PodmanScore
	// podGroupCycle makes scores run pod group scheduling cycles: the cycle state carries a pod group's state, as
	// the scheduler sets it for each pod of a group it places.
	podGroupCycle bool
}

func newSpreadPair(ctx context.Context, t *testing.T, nodes []*corev1.Node, pods []*corev1.Pod, objs []runtime.Object,
	defaulting schedconfig.PodTopologySpreadConstraintsDefaulting, defaults []corev1.TopologySpreadConstraint) *spreadPair {
	t.Helper()
	snapshot := cache.NewSnapshot(pods, nodes)
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	h, err := frameworkruntime.NewFramework(ctx, nil, nil,
		frameworkruntime.WithClientSet(client), frameworkruntime.WithInformerFactory(factory),
		frameworkruntime.WithSnapshotSharedLister(snapshot))
	if err != nil {
		t.Fatal(err)
	}
	intree, err := podtopologyspread.New(ctx, &schedconfig.PodTopologySpreadArgs{DefaultingType: defaulting, DefaultConstraints: defaults}, h,
		plfeature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate))
	if err != nil {
		t.Fatalf("in-tree PodTopologySpread: %v", err)
	}
	args := DefaultArgs()
	args.SpreadWeight, args.LoadWeight, args.ImageWeight, args.TopologySpreadWeight = 0, 0, 0, 1
	args.DefaultingType, args.DefaultConstraints = defaulting, defaults
	berth, err := New(ctx, &args, h)
	if err != nil {
		t.Fatalf("PodmanScore: %v", err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return &spreadPair{snapshot: snapshot, intree: intree, berth: berth.(*PodmanScore)}
}

// scores runs one cycle of each on the nodes to score (names), and returns both sets of normalized scores.
func (sp *spreadPair) scores(ctx context.Context, t *testing.T, pod *corev1.Pod, names []string) (intree, berth map[string]int64) {
	t.Helper()
	var nodes []fwk.NodeInfo
	for _, n := range names {
		ni, err := sp.snapshot.NodeInfos().Get(n)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, ni)
	}
	run := func(p fwk.Plugin) (map[string]int64, fwk.CycleState, *fwk.Status) {
		state := framework.NewCycleState()
		if sp.podGroupCycle {
			state.SetPodGroupSchedulingCycle(framework.NewCycleState())
		}
		out := map[string]int64{}
		if s := p.(fwk.PreScorePlugin).PreScore(ctx, state, pod, nodes); s.IsSkip() {
			for _, n := range names {
				out[n] = 0
			}
			return out, state, nil
		} else if !s.IsSuccess() {
			return nil, state, s
		}
		list := make(fwk.NodeScoreList, len(nodes))
		for i, ni := range nodes {
			v, s := p.(fwk.ScorePlugin).Score(ctx, state, pod, ni)
			if !s.IsSuccess() {
				return nil, state, s
			}
			list[i] = fwk.NodeScore{Name: ni.Node().Name, Score: v}
		}
		if s := p.(fwk.ScorePlugin).ScoreExtensions().NormalizeScore(ctx, state, pod, list); !s.IsSuccess() {
			return nil, state, s
		}
		for _, ns := range list {
			out[ns.Name] = ns.Score
		}
		return out, state, nil
	}
	intree, _, s1 := run(sp.intree)
	berthTotals, state, s2 := run(sp.berth)
	if (s1 == nil) != (s2 == nil) {
		t.Fatalf("in-tree status %v, berth status %v", s1, s2)
	}
	if s1 != nil {
		return nil, nil
	}
	// With only the topology spread weight, the total is the topology spread part; check both.
	berth = map[string]int64{}
	data, err := state.Read(decision.StateKey)
	if err != nil {
		t.Fatal(err)
	}
	d := data.(*decision.Scores)
	for _, n := range names {
		bd, ok := d.Node(n)
		if !ok {
			t.Fatalf("no breakdown for %s", n)
		}
		if bd.Total != berthTotals[n] {
			t.Errorf("node %s: total %d, topology part %d; want equal with weights 0/0/0/1", n, berthTotals[n], bd.TopologySpread)
		}
		berth[n] = bd.TopologySpread
	}
	return intree, berth
}

func rsObj(name, ns string, sel map[string]string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(ns + "-" + name)},
		Spec:       appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: sel}},
	}
}

func ownedBy(kind, name, ns string) metav1.OwnerReference {
	apiVersion := "apps/v1"
	if kind == "ReplicationController" {
		apiVersion = "v1"
	}
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(ns + "-" + name), Controller: new(true)}
}

// randomCluster is a cluster of random nodes (zones, regions and hostnames sometimes missing, taints, labels for
// node affinity) and pods (two namespaces, random labels, some terminating, some owned by ReplicaSets).
func randomCluster(r *rand.Rand) ([]*corev1.Node, []*corev1.Pod, []runtime.Object) {
	var nodes []*corev1.Node
	var pods []*corev1.Pod
	zones, regions := 1+r.IntN(4), 1+r.IntN(2)
	for i := range 1 + r.IntN(30) {
		name := fmt.Sprintf("node-%02d", i)
		w := st.MakeNode().Name(name)
		if r.IntN(10) > 0 {
			w = w.Label(corev1.LabelHostname, name)
		}
		if r.IntN(6) > 0 {
			w = w.Label(corev1.LabelTopologyZone, fmt.Sprintf("zone-%d", r.IntN(zones)))
		}
		if r.IntN(4) > 0 {
			w = w.Label(testRegion, fmt.Sprintf("region-%d", r.IntN(regions)))
		}
		if r.IntN(3) == 0 {
			w = w.Label("disk", "ssd")
		}
		if r.IntN(5) == 0 {
			w = w.Taints([]corev1.Taint{{Key: "dedicated", Value: "x", Effect: []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute, corev1.TaintEffectPreferNoSchedule}[r.IntN(3)]}})
		}
		nodes = append(nodes, w.Obj())
		for j := range r.IntN(8) {
			pods = append(pods, randomPod(r, fmt.Sprintf("p-%s-%d", name, j), name))
		}
	}
	objs := []runtime.Object{
		rsObj("rs-a", "default", map[string]string{"app": "a"}),
		rsObj("rs-b", "default", map[string]string{"app": "b", "tier": "x"}),
		rsObj("rs-a", "other", map[string]string{"app": "a"}),
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "ss-c", Namespace: "default", UID: "default-ss-c"},
			Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"c"}}}}}},
		&corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc-b", Namespace: "default", UID: "default-rc-b"},
			Spec: corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "b"}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc-x", Namespace: "default"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"tier": "x"}}},
	}
	return nodes, pods, objs
}

func randomPod(r *rand.Rand, name, node string) *corev1.Pod {
	ns := []string{"default", "default", "other"}[r.IntN(3)]
	w := st.MakePod().Name(name).Namespace(ns).UID(name).Node(node)
	if r.IntN(5) > 0 {
		w = w.Label("app", []string{"a", "b", "c"}[r.IntN(3)])
	}
	if r.IntN(2) == 0 {
		w = w.Label("tier", []string{"x", "y"}[r.IntN(2)])
	}
	if r.IntN(3) == 0 {
		w = w.Label("version", []string{"v1", "v2"}[r.IntN(2)])
	}
	if r.IntN(12) == 0 {
		w = w.Terminating()
	}
	p := w.Obj()
	if app := p.Labels["app"]; app == "a" && r.IntN(2) == 0 {
		p.OwnerReferences = []metav1.OwnerReference{ownedBy("ReplicaSet", "rs-a", ns)}
	}
	return p
}

func randomSelector(r *rand.Rand) *metav1.LabelSelector {
	switch r.IntN(7) {
	case 0:
		return nil
	case 1:
		return &metav1.LabelSelector{}
	case 2:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}}
	case 3:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}}}
	case 4:
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}, MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"y"}}}}
	default:
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": []string{"a", "b", "c"}[r.IntN(3)]}}
	}
}

// randomIncoming is a pod to schedule: without constraints (the default ones apply) and with one of the
// controllers or none, or with 1-3 random constraints; sometimes with a node selector and tolerations.
func randomIncoming(r *rand.Rand, i int) *corev1.Pod {
	ns := []string{"default", "default", "other"}[r.IntN(3)]
	name := fmt.Sprintf("incoming-%d", i)
	w := st.MakePod().Name(name).Namespace(ns).UID(name).Label("app", []string{"a", "b", "c"}[r.IntN(3)])
	if r.IntN(2) == 0 {
		w = w.Label("tier", "x")
	}
	if r.IntN(2) == 0 {
		w = w.Label("version", "v1")
	}
	if r.IntN(4) == 0 {
		w = w.NodeSelector(map[string]string{"disk": "ssd"})
	}
	if r.IntN(4) == 0 {
		w = w.Toleration("dedicated")
	}
	p := w.Obj()
	if r.IntN(2) == 0 {
		switch r.IntN(4) {
		case 0:
			p.OwnerReferences = []metav1.OwnerReference{ownedBy("ReplicaSet", "rs-a", ns)}
		case 1:
			p.OwnerReferences = []metav1.OwnerReference{ownedBy("ReplicaSet", "rs-b", ns)}
		case 2:
			p.OwnerReferences = []metav1.OwnerReference{ownedBy("StatefulSet", "ss-c", ns)}
		default:
			p.OwnerReferences = []metav1.OwnerReference{ownedBy("ReplicationController", "rc-b", ns)}
		}
		return p
	}
	for range r.IntN(4) {
		c := corev1.TopologySpreadConstraint{
			MaxSkew:           int32(1 + r.IntN(5)),
			TopologyKey:       []string{corev1.LabelHostname, corev1.LabelTopologyZone, testRegion}[r.IntN(3)],
			WhenUnsatisfiable: []corev1.UnsatisfiableConstraintAction{corev1.ScheduleAnyway, corev1.ScheduleAnyway, corev1.DoNotSchedule}[r.IntN(3)],
			LabelSelector:     randomSelector(r),
		}
		if r.IntN(3) == 0 {
			c.MatchLabelKeys = []string{[]string{"version", "tier", "missing"}[r.IntN(3)]}
		}
		if r.IntN(3) == 0 {
			c.NodeAffinityPolicy = new([]corev1.NodeInclusionPolicy{corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore}[r.IntN(2)])
		}
		if r.IntN(3) == 0 {
			c.NodeTaintsPolicy = new([]corev1.NodeInclusionPolicy{corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore}[r.IntN(2)])
		}
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c)
	}
	return p
}

func randomDefaults(r *rand.Rand) (schedconfig.PodTopologySpreadConstraintsDefaulting, []corev1.TopologySpreadConstraint) {
	switch r.IntN(4) {
	case 0:
		return schedconfig.ListDefaulting, nil
	case 1:
		return schedconfig.ListDefaulting, []corev1.TopologySpreadConstraint{
			{MaxSkew: 2, TopologyKey: testRegion, WhenUnsatisfiable: corev1.ScheduleAnyway},
			{MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule},
		}
	default:
		return schedconfig.SystemDefaulting, nil
	}
}

// TestTopologySpreadMatchesInTree runs the in-tree PodTopologySpread's scoring and PodmanScore's topology spread
// part side by side on random clusters and pods, and requires the same normalized score on every node. Each
// cluster serves several cycles with the same PodmanScore, with pods added to and removed from nodes in between,
// so that the counts kept between cycles are checked too.
func TestTopologySpreadMatchesInTree(t *testing.T) {
	for seed := range uint64(150) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			r := rand.New(rand.NewPCG(seed, 18))
			nodes, pods, objs := randomCluster(r)
			defaulting, defaults := randomDefaults(r)
			sp := newSpreadPair(ctx, t, nodes, pods, objs, defaulting, defaults)
			for cycle := range 8 {
				pod := randomIncoming(r, cycle)
				// The nodes to score: a random subset, as if filters had taken some out.
				var names []string
				for _, n := range nodes {
					if r.IntN(4) > 0 {
						names = append(names, n.Name)
					}
				}
				if len(names) == 0 {
					names = []string{nodes[0].Name}
				}
				intree, berth := sp.scores(ctx, t, pod, names)
				if diff := cmp.Diff(intree, berth); diff != "" {
					t.Fatalf("cycle %d, defaulting %s %v, pod %s labels %v owners %v constraints %+v:\nnormalized scores (-in-tree,+berth):\n%s",
						cycle, defaulting, defaults, pod.Namespace, pod.Labels, pod.OwnerReferences, pod.Spec.TopologySpreadConstraints, diff)
				}
				// Change the cluster: sometimes a node's zone or region changed or gone (the kept label values must
				// follow), a pod added to a random node, sometimes one removed.
				if r.IntN(3) == 0 {
					ni, _ := sp.snapshot.NodeInfos().Get(nodes[r.IntN(len(nodes))].Name)
					n := ni.Node().DeepCopy()
					key := []string{corev1.LabelTopologyZone, testRegion}[r.IntN(2)]
					if r.IntN(3) == 0 {
						delete(n.Labels, key)
					} else {
						n.Labels[key] = fmt.Sprintf("moved-%d", r.IntN(2))
					}
					ni.(*framework.NodeInfo).SetNode(n)
				}
				ni, _ := sp.snapshot.NodeInfos().Get(nodes[r.IntN(len(nodes))].Name)
				pi, err := framework.NewPodInfo(randomPod(r, fmt.Sprintf("added-%d", cycle), ni.Node().Name))
				if err != nil {
					t.Fatal(err)
				}
				ni.AddPodInfo(pi)
				if r.IntN(2) == 0 {
					ni, _ := sp.snapshot.NodeInfos().Get(nodes[r.IntN(len(nodes))].Name)
					if ps := ni.GetPods(); len(ps) > 0 {
						if err := ni.RemovePod(klog.FromContext(ctx), ps[r.IntN(len(ps))].GetPod()); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		})
	}
}

// TestTopologySpreadEdgeCases checks named cases against scores worked out by hand, for the in-tree plugin and
// PodmanScore's topology spread part alike.
func TestTopologySpreadEdgeCases(t *testing.T) {
	node := func(name, zone string) *st.NodeWrapper {
		w := st.MakeNode().Name(name).Label(corev1.LabelHostname, name)
		if zone != "" {
			w = w.Label(corev1.LabelTopologyZone, zone)
		}
		return w
	}
	web := func(name, node string) *st.PodWrapper {
		return st.MakePod().Name(name).UID(name).Namespace("default").Node(node).Label("app", "web")
	}
	webSelector := st.MakeLabelSelector().Label("app", "web").Obj()
	incoming := func() *st.PodWrapper {
		return st.MakePod().Name("incoming").UID("incoming").Namespace("default").Label("app", "web")
	}
	honor, ignore := corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore
	tainted := []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}
	tests := []struct {
		name  string
		nodes []*corev1.Node
		pods  []*corev1.Pod
		pod   *corev1.Pod
		score []string
		want  map[string]int64
	}{
		{
			name:  "no matching pods: every node 100",
			nodes: []*corev1.Node{node("n1", "a").Obj(), node("n2", "b").Obj()},
			pods:  []*corev1.Pod{st.MakePod().Name("o").UID("o").Namespace("default").Node("n1").Label("app", "other").Obj()},
			pod:   incoming().SpreadConstraint(1, corev1.LabelTopologyZone, corev1.ScheduleAnyway, webSelector, nil, nil, nil, nil).Obj(),
			score: []string{"n1", "n2"},
			want:  map[string]int64{"n1": 100, "n2": 100},
		},
		{
			name:  "a node without the constraint's key scores 0",
			nodes: []*corev1.Node{node("n1", "a").Obj(), node("n2", "").Obj()},
			pod:   incoming().SpreadConstraint(1, corev1.LabelTopologyZone, corev1.ScheduleAnyway, webSelector, nil, nil, nil, nil).Obj(),
			score: []string{"n1", "n2"},
			want:  map[string]int64{"n1": 100, "n2": 0},
		},
		{
			name:  "pods on nodes filtered out count in their zone",
			nodes: []*corev1.Node{node("n1", "a").Obj(), node("n2", "a").Obj(), node("n3", "b").Obj()},
			pods:  []*corev1.Pod{web("w1", "n2").Obj(), web("w2", "n2").Obj()},
			pod:   incoming().SpreadConstraint(1, corev1.LabelTopologyZone, corev1.ScheduleAnyway, webSelector, nil, nil, nil, nil).Obj(),
			score: []string{"n1", "n3"},
			want:  map[string]int64{"n1": 0, "n3": 100},
		},
		{
			name:  "only DoNotSchedule constraints: no score",
			nodes: []*corev1.Node{node("n1", "a").Obj(), node("n2", "b").Obj()},
			pods:  []*corev1.Pod{web("w1", "n1").Obj()},
			pod:   incoming().SpreadConstraint(1, corev1.LabelTopologyZone, corev1.DoNotSchedule, webSelector, nil, nil, nil, nil).Obj(),
			score: []string{"n1", "n2"},
			want:  map[string]int64{"n1": 0, "n2": 0},
		},
		{
			name:  "no constraints, no Service or controller: no score",
			nodes: []*corev1.Node{node("n1", "a").Obj(), node("n2", "b").Obj()},
			pods:  []*corev1.Pod{web("w1", "n1").Obj()},
			pod:   incoming().Obj(),
			score: []string{"n1", "n2"},
			want:  map[string]int64{"n1": 0, "n2": 0},
		},
		{
			name:  "terminating pods and pods of other namespaces do not count",
			nodes: []*corev1.Node{node("n1", "a").Obj(), node("n2", "a").Obj()},
			pods:  []*corev1.Pod{web("w1", "n1").Terminating().Obj(), web("w2", "n1").Namespace("other").Obj(), web("w3", "n2").Obj()},
			pod:   incoming().SpreadConstraint(1, corev1.LabelHostname, corev1.ScheduleAnyway, webSelector, nil, nil, nil, nil).Obj(),
			score: []string{"n1", "n2"},
			want:  map[string]int64{"n1": 100, "n2": 0},
		},
		{
			name:  "nodeTaintsPolicy Honor leaves out the pods of nodes with untolerated taints",
			nodes: []*corev1.Node{node("n1", "a").Obj(), node("n2", "a").Taints(tainted).Obj(), node("n3", "b").Obj()},
			pods:  []*corev1.Pod{web("w1", "n2").Obj(), web("w2", "n2").Obj(), web("w3", "n3").Obj()},
			pod:   incoming().SpreadConstraint(1, corev1.LabelTopologyZone, corev1.ScheduleAnyway, webSelector, nil, nil, &honor, nil).Obj(),
			score: []string{"n1", "n3"},
			want:  map[string]int64{"n1": 100, "n3": 0},
		},
		{
			name:  "nodeTaintsPolicy Ignore counts them",
			nodes: []*corev1.Node{node("n1", "a").Obj(), node("n2", "a").Taints(tainted).Obj(), node("n3", "b").Obj()},
			pods:  []*corev1.Pod{web("w1", "n2").Obj(), web("w2", "n2").Obj(), web("w3", "n3").Obj()},
			pod:   incoming().SpreadConstraint(1, corev1.LabelTopologyZone, corev1.ScheduleAnyway, webSelector, nil, nil, &ignore, nil).Obj(),
			score: []string{"n1", "n3"},
			want:  map[string]int64{"n1": 33, "n3": 100},
		},
		{
			// Hostname: 1*ln4+2 and 0+2; zone (maxSkew 5, domains "a" and ""): 1*ln4+4 on n1 only, which has the
			// key: 9 and 2, normalized 100*(9+2-s)/9.
			name:  "system defaults: a node without a zone is scored by its hostname",
			nodes: []*corev1.Node{node("n1", "a").Obj(), node("n2", "").Obj()},
			pods:  []*corev1.Pod{web("w1", "n1").OwnerReference("rs-web", appsv1.SchemeGroupVersion.WithKind("ReplicaSet")).Obj()},
			pod:   incoming().OwnerReference("rs-web", appsv1.SchemeGroupVersion.WithKind("ReplicaSet")).Obj(),
			score: []string{"n1", "n2"},
			want:  map[string]int64{"n1": 22, "n2": 100},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			rs := rsObj("rs-web", "default", map[string]string{"app": "web"})
			sp := newSpreadPair(ctx, t, tc.nodes, tc.pods, []runtime.Object{rs}, schedconfig.SystemDefaulting, nil)
			intree, berth := sp.scores(ctx, t, tc.pod, tc.score)
			if diff := cmp.Diff(tc.want, intree); diff != "" {
				t.Errorf("in-tree PodTopologySpread (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, berth); diff != "" {
				t.Errorf("PodmanScore's topology spread (-want,+got):\n%s", diff)
			}
		})
	}
}
