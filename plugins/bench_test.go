package plugins_test

// The benchmarks below compare the CPU cost of Berth's filter and score plugins with the in-tree plugins they
// replace in the berth-scheduler profile (manifests/scheduler-config.yaml), on the same cluster snapshot, with soft
// topology spread on in both:
//
//   - berth:  PodmanFit (PreFilter, Filter), PodTopologySpread's filter (PreFilter, Filter: the profile keeps it
//     for whenUnsatisfiable: DoNotSchedule) and PodmanScore (PreScore, Score, NormalizeScore) with the profile's
//     arguments from the manifest, which fold PodTopologySpread's scoring (soft and default constraints) into it.
//   - intree: NodeResourcesFit (PreFilter, Filter, PreScore, Score), PodTopologySpread whole (PreFilter, Filter,
//     PreScore, Score, NormalizeScore), NodeResourcesBalancedAllocation (PreScore, Score) and ImageLocality
//     (Score), all built with their New functions, their default args and the feature gates' defaults.
//   - intree+ports+unschedulable: the same plus NodePorts and NodeUnschedulable (PreFilter, Filter), which
//     PodmanFit also replaces (it checks host ports and cordoned nodes too).
//
// One benchmark iteration is one scheduling cycle of one pod over every node of the cluster, run sequentially on
// one goroutine (the scheduler would spread Filter and Score over 16): a fresh CycleState; every PreFilter once;
// Filter of each plugin on each node; every PreScore once on the feasible nodes; Score of each plugin on each
// feasible node; every NormalizeScore once. Plugins whose PreFilter/PreScore returns Skip are skipped, as the
// framework does. The per-pod steps (PreFilter, PreScore, NormalizeScore) are part of the measured time, so the
// reported ns/node is the whole cycle's cost divided by the number of nodes: per-node work plus the per-pod work
// amortized over the nodes. ns/op is the cost of the whole cycle for one pod. The snapshot, informers and
// plugins are built before the timer starts and are not measured. Framework overhead (metrics, parallelism,
// weighting of the scores) is not measured either; it is the same for both sets.
//
// The cluster: 1000 or 5000 Ready Podman nodes (fresh observed free memory, so PodmanFit and PodmanScore parse
// their annotations) in 10 zones, 10 pods on each; on three nodes of four 1 to 3 of them belong to the ReplicaSet
// "web" of the pod being scheduled, the others to 50 other ReplicaSets. A third of the nodes store the pod's
// image. Every node is feasible, so every node is scored. The pod has no constraints of its own: the system
// default ones (ScheduleAnyway over hostnames and zones, with the ReplicaSet's selector) apply, in both sets.
//
// The cluster changes between cycles as a scheduler's does: before each iteration, in both sets, one node gets a
// pod or loses it (a bind) and two nodes get a new Node object (heartbeats, new observations), so three nodes have
// a new NodeInfo generation. This matters for PodmanScore, which keeps per-node pod counts between cycles keyed by
// that generation: the changed nodes are counted again, the others are looked up. The in-tree plugins keep
// nothing between cycles, and the changes cost both sets the same (a few microseconds of a cycle of milliseconds).

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

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
	kschedv1 "k8s.io/kube-scheduler/config/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/imagelocality"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeports"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/noderesources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeunschedulable"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/podtopologyspread"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	st "k8s.io/kubernetes/pkg/scheduler/testing"

	"github.com/berth-dev/berth/internal/wellknown"
	berthconfig "github.com/berth-dev/berth/plugins/apis/config"
	"github.com/berth-dev/berth/plugins/podmanfit"
	"github.com/berth-dev/berth/plugins/podmanscore"
)

// benchSizes are the node counts measured.
var benchSizes = []int{1000, 5000}

const (
	benchPodsPerNode = 10
	benchZones       = 10
	benchOtherRS     = 50
	benchImage       = "docker.io/library/nginx:1.27"
)

// filterStep is a Filter plugin with its PreFilter, if it has one.
type filterStep struct {
	pre    fwk.PreFilterPlugin
	filter fwk.FilterPlugin
}

// scoreStep is a Score plugin with its PreScore, if it has one.
type scoreStep struct {
	pre   fwk.PreScorePlugin
	score fwk.ScorePlugin
}

type pluginSet struct {
	filters []filterStep
	scores  []scoreStep

	// scratch, reused across cycles
	skipFilter []bool
	skipScore  []bool
	feasible   []fwk.NodeInfo
	lists      []fwk.NodeScoreList
}

// cycle runs one scheduling cycle of pod over nodes and returns the number of feasible nodes.
func (s *pluginSet) cycle(ctx context.Context, pod *corev1.Pod, nodes []fwk.NodeInfo) (int, error) {
	state := framework.NewCycleState()
	for i, f := range s.filters {
		s.skipFilter[i] = false
		if f.pre == nil {
			continue
		}
		_, status := f.pre.PreFilter(ctx, state, pod, nodes)
		if status.IsSkip() {
			s.skipFilter[i] = true
			continue
		}
		if !status.IsSuccess() {
			return 0, fmt.Errorf("PreFilter %s: %v", f.pre.Name(), status)
		}
	}
	s.feasible = s.feasible[:0]
	for _, ni := range nodes {
		ok := true
		for i, f := range s.filters {
			if s.skipFilter[i] {
				continue
			}
			if status := f.filter.Filter(ctx, state, pod, ni); !status.IsSuccess() {
				ok = false
				break
			}
		}
		if ok {
			s.feasible = append(s.feasible, ni)
		}
	}
	for i, sc := range s.scores {
		s.skipScore[i] = false
		if sc.pre == nil {
			continue
		}
		status := sc.pre.PreScore(ctx, state, pod, s.feasible)
		if status.IsSkip() {
			s.skipScore[i] = true
			continue
		}
		if !status.IsSuccess() {
			return 0, fmt.Errorf("PreScore %s: %v", sc.pre.Name(), status)
		}
	}
	for i, sc := range s.scores {
		if s.skipScore[i] {
			continue
		}
		list := s.lists[i][:len(s.feasible)]
		for j, ni := range s.feasible {
			v, status := sc.score.Score(ctx, state, pod, ni)
			if !status.IsSuccess() {
				return 0, fmt.Errorf("Score %s: %v", sc.score.Name(), status)
			}
			list[j] = fwk.NodeScore{Name: ni.Node().Name, Score: v}
		}
		if ext := sc.score.ScoreExtensions(); ext != nil {
			if status := ext.NormalizeScore(ctx, state, pod, list); !status.IsSuccess() {
				return 0, fmt.Errorf("NormalizeScore %s: %v", sc.score.Name(), status)
			}
		}
	}
	return len(s.feasible), nil
}

func (s *pluginSet) init(nodes int) {
	s.skipFilter = make([]bool, len(s.filters))
	s.skipScore = make([]bool, len(s.scores))
	s.feasible = make([]fwk.NodeInfo, 0, nodes)
	s.lists = make([]fwk.NodeScoreList, len(s.scores))
	for i := range s.lists {
		s.lists[i] = make(fwk.NodeScoreList, nodes)
	}
}

type benchCluster struct {
	handle    fwk.Handle
	nodeInfos []fwk.NodeInfo
	pod       *corev1.Pod
	// churn: the pod a bind adds to a node, and whether it is there.
	bound   *corev1.Pod
	isBound bool
}

// change makes the changes between two cycles of iteration i: a pod bound to (or gone from) one node, and two
// nodes with a new Node object, as a heartbeat brings.
func (c *benchCluster) change(ctx context.Context, b *testing.B, i int) {
	ni := c.nodeInfos[(i/2)%len(c.nodeInfos)]
	if c.isBound {
		if err := ni.RemovePod(klog.FromContext(ctx), c.bound); err != nil {
			b.Fatal(err)
		}
		c.bound.Spec.NodeName = ""
	} else {
		c.bound.Spec.NodeName = ni.Node().Name
		ni.AddPodInfo(must2(b)(framework.NewPodInfo(c.bound)))
	}
	c.isBound = !c.isBound
	for k := range 2 {
		ni := c.nodeInfos[(7*i+k*len(c.nodeInfos)/2)%len(c.nodeInfos)]
		ni.SetNode(ni.Node().DeepCopy())
	}
}

func must2(b *testing.B) func(*framework.PodInfo, error) *framework.PodInfo {
	return func(pi *framework.PodInfo, err error) *framework.PodInfo {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
		return pi
	}
}

func rsRef(name string) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: "ReplicaSet", Name: name, UID: types.UID(name + "-uid"), Controller: new(true),
	}
}

func newBenchCluster(ctx context.Context, b *testing.B, benchNodes int) *benchCluster {
	b.Helper()
	now := time.Now()
	var (
		nodes []*corev1.Node
		pods  []*corev1.Pod
		objs  []runtime.Object
	)
	for i := 0; i < benchNodes; i++ {
		name := fmt.Sprintf("node-%04d", i)
		images := map[string]int64{"registry.k8s.io/pause:3.10": 300 << 10}
		if i%3 == 0 {
			images[benchImage] = 70 << 20
		}
		node := st.MakeNode().Name(name).
			Label(corev1.LabelHostname, name).
			Label(corev1.LabelTopologyZone, fmt.Sprintf("zone-%d", i%benchZones)).
			Label(wellknown.LabelPodman, "true").
			Annotation(wellknown.AnnotationFreeMemory, strconv.FormatInt(int64(64+i%64)<<30, 10)).
			Annotation(wellknown.AnnotationObservedAt, now.Format(time.RFC3339)).
			Capacity(map[corev1.ResourceName]string{
				corev1.ResourceCPU: "32", corev1.ResourceMemory: "128Gi", corev1.ResourcePods: "110",
				corev1.ResourceEphemeralStorage: "500Gi",
			}).
			Images(images).
			Condition(corev1.NodeReady, corev1.ConditionTrue, "", "KubeletReady").
			Obj()
		nodes = append(nodes, node)
		web := i % 4 // replicas of web on this node: 0..3
		for j := 0; j < benchPodsPerNode; j++ {
			rs, image := fmt.Sprintf("app-%d", (i*benchPodsPerNode+j)%benchOtherRS), "registry.example.com/app:v1"
			req := map[corev1.ResourceName]string{
				corev1.ResourceCPU: strconv.Itoa(100*(1+j%3)) + "m", corev1.ResourceMemory: "256Mi",
			}
			if j < web {
				rs, image = "web", benchImage
				req = map[corev1.ResourceName]string{corev1.ResourceCPU: "200m", corev1.ResourceMemory: "512Mi"}
			}
			pod := st.MakePod().Name(fmt.Sprintf("%s-%s-%d", rs, name, j)).Namespace("default").
				UID(fmt.Sprintf("uid-%d-%d", i, j)).Node(name).Label("app", rs).
				Containers([]corev1.Container{st.MakeContainer().Name("c").Image(image).ResourceRequests(req).Obj()}).
				Obj()
			pod.OwnerReferences = []metav1.OwnerReference{rsRef(rs)}
			pods = append(pods, pod)
		}
	}
	for _, rs := range append([]string{"web"}, func() []string {
		var names []string
		for k := 0; k < benchOtherRS; k++ {
			names = append(names, fmt.Sprintf("app-%d", k))
		}
		return names
	}()...) {
		objs = append(objs, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: rs, Namespace: "default", UID: types.UID(rs + "-uid")},
			Spec:       appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": rs}}},
		})
	}

	pod := st.MakePod().Name("web-incoming").Namespace("default").UID("web-incoming").Label("app", "web").
		Containers([]corev1.Container{st.MakeContainer().Name("c").Image(benchImage).ResourceRequests(map[corev1.ResourceName]string{
			corev1.ResourceCPU: "500m", corev1.ResourceMemory: "512Mi",
		}).Obj()}).Obj()
	pod.OwnerReferences = []metav1.OwnerReference{rsRef("web")}

	snapshot := cache.NewSnapshot(pods, nodes)
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	handle, err := frameworkruntime.NewFramework(ctx, nil, nil,
		frameworkruntime.WithClientSet(client),
		frameworkruntime.WithInformerFactory(factory),
		frameworkruntime.WithSnapshotSharedLister(snapshot),
	)
	if err != nil {
		b.Fatal(err)
	}
	bound := pod.DeepCopy()
	bound.Name, bound.UID = "web-bound", "web-bound"
	c := &benchCluster{handle: handle, pod: pod, bound: bound}
	for _, n := range nodes {
		ni, err := snapshot.NodeInfos().Get(n.Name)
		if err != nil {
			b.Fatal(err)
		}
		c.nodeInfos = append(c.nodeInfos, ni)
	}
	return c
}

// defaultArgs are the args the kube-scheduler gives an in-tree plugin configured without any.
func defaultArgs(b *testing.B, kind string) runtime.Object {
	b.Helper()
	gvk := kschedv1.SchemeGroupVersion.WithKind(kind)
	obj, _, err := scheme.Codecs.UniversalDecoder().Decode(nil, &gvk, nil)
	if err != nil {
		b.Fatalf("default %s: %v", kind, err)
	}
	return obj
}

// must fails the benchmark if building a plugin failed: must(b)(New(...)).
func must(b *testing.B) func(fwk.Plugin, error) fwk.Plugin {
	return func(p fwk.Plugin, err error) fwk.Plugin {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
}

// manifestArgs returns the berth-scheduler profile's arguments for a plugin, from the manifest.
func manifestArgs(b *testing.B, plugin string) runtime.Object {
	b.Helper()
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := decode(data)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range cfg.Profiles {
		if p.SchedulerName != "berth-scheduler" {
			continue
		}
		if args := pluginArgs(&p, plugin); args != nil {
			return args
		}
	}
	b.Fatalf("no args for %s in the berth-scheduler profile of %s", plugin, manifestPath)
	return nil
}

func berthSet(ctx context.Context, b *testing.B, h fwk.Handle) *pluginSet {
	// A long observation age keeps the observations fresh however long the benchmark runs.
	fitArgs := manifestArgs(b, podmanfit.Name).(*berthconfig.PodmanFitArgs).DeepCopy()
	fitArgs.MaxObservationAge = metav1.Duration{Duration: time.Hour}
	fit := must(b)(podmanfit.New(ctx, fitArgs, h))
	scoreArgs := manifestArgs(b, podmanscore.Name).(*berthconfig.PodmanScoreArgs).DeepCopy()
	scoreArgs.MaxObservationAge = metav1.Duration{Duration: time.Hour}
	if scoreArgs.TopologySpreadWeight == 0 {
		b.Fatalf("the profile's PodmanScore does not score topology spread; the sets would not do the same work")
	}
	score := must(b)(podmanscore.New(ctx, scoreArgs, h))
	pts := topologySpread(ctx, b, h)
	return &pluginSet{
		filters: []filterStep{{pre: fit.(fwk.PreFilterPlugin), filter: fit.(fwk.FilterPlugin)}, {pre: pts.(fwk.PreFilterPlugin), filter: pts.(fwk.FilterPlugin)}},
		scores:  []scoreStep{{pre: score.(fwk.PreScorePlugin), score: score.(fwk.ScorePlugin)}},
	}
}

// topologySpread is PodTopologySpread with its default args (the system default constraints).
func topologySpread(ctx context.Context, b *testing.B, h fwk.Handle) fwk.Plugin {
	return must(b)(podtopologyspread.New(ctx, defaultArgs(b, "PodTopologySpreadArgs"), h, gates()))
}

// gates are the scheduler's feature gates at their defaults, as the in-tree registry passes them.
func gates() feature.Features {
	return feature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate)
}

func inTreeSet(ctx context.Context, b *testing.B, h fwk.Handle, withPortsAndUnschedulable bool) *pluginSet {
	fts := gates()
	pts := topologySpread(ctx, b, h)
	fit := must(b)(noderesources.NewFit(ctx, defaultArgs(b, "NodeResourcesFitArgs"), h, fts))
	ba := must(b)(noderesources.NewBalancedAllocation(ctx, defaultArgs(b, "NodeResourcesBalancedAllocationArgs"), h, fts))
	il := must(b)(imagelocality.New(ctx, nil, h))
	s := &pluginSet{
		filters: []filterStep{{pre: fit.(fwk.PreFilterPlugin), filter: fit.(fwk.FilterPlugin)}, {pre: pts.(fwk.PreFilterPlugin), filter: pts.(fwk.FilterPlugin)}},
		scores: []scoreStep{
			{pre: fit.(fwk.PreScorePlugin), score: fit.(fwk.ScorePlugin)},
			{pre: pts.(fwk.PreScorePlugin), score: pts.(fwk.ScorePlugin)},
			{pre: ba.(fwk.PreScorePlugin), score: ba.(fwk.ScorePlugin)},
			{score: il.(fwk.ScorePlugin)},
		},
	}
	if withPortsAndUnschedulable {
		np := must(b)(nodeports.New(ctx, nil, h, fts))
		nu := must(b)(nodeunschedulable.New(ctx, nil, h, fts))
		s.filters = append(s.filters,
			filterStep{pre: np.(fwk.PreFilterPlugin), filter: np.(fwk.FilterPlugin)},
			filterStep{pre: nu.(fwk.PreFilterPlugin), filter: nu.(fwk.FilterPlugin)},
		)
	}
	return s
}

func BenchmarkFilterScore(b *testing.B) {
	sets := []struct {
		name string
		make func(context.Context, *testing.B, fwk.Handle) *pluginSet
	}{
		{name: "berth", make: berthSet},
		{name: "intree", make: func(ctx context.Context, b *testing.B, h fwk.Handle) *pluginSet {
			return inTreeSet(ctx, b, h, false)
		}},
		{name: "intree+ports+unschedulable", make: func(ctx context.Context, b *testing.B, h fwk.Handle) *pluginSet {
			return inTreeSet(ctx, b, h, true)
		}},
	}
	for _, benchNodes := range benchSizes {
		for _, set := range sets {
			benchFilterScore(b, set.name, set.make, benchNodes)
		}
	}
}

func benchFilterScore(b *testing.B, name string, makeSet func(context.Context, *testing.B, fwk.Handle) *pluginSet, benchNodes int) {
	{
		b.Run(fmt.Sprintf("%s/nodes=%d", name, benchNodes), func(b *testing.B) {
			// Verbosity 2: the plugins' V(4)+ logging, off in a production scheduler, stays off here too.
			ctx, cancel := context.WithCancel(klog.NewContext(context.Background(),
				ktesting.NewLogger(b, ktesting.NewConfig(ktesting.Verbosity(2)))))
			defer cancel()
			cluster := newBenchCluster(ctx, b, benchNodes)
			factory := cluster.handle.SharedInformerFactory()
			s := makeSet(ctx, b, cluster.handle)
			factory.Start(ctx.Done())
			factory.WaitForCacheSync(ctx.Done())
			s.init(len(cluster.nodeInfos))

			// One untimed cycle: every node must be feasible and scored, or the sets would not do the same work.
			if n, err := s.cycle(ctx, cluster.pod, cluster.nodeInfos); err != nil {
				b.Fatal(err)
			} else if n != benchNodes {
				b.Fatalf("%d feasible nodes, want %d", n, benchNodes)
			}
			for i, skip := range s.skipScore {
				if skip {
					b.Fatalf("score plugin %s skipped itself", s.scores[i].score.Name())
				}
			}

			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cluster.change(ctx, b, i)
				if _, err := s.cycle(ctx, cluster.pod, cluster.nodeInfos); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchNodes), "ns/node")
		})
	}
}
