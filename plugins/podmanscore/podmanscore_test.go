package podmanscore

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultbinder"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/queuesort"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
	st "k8s.io/kubernetes/pkg/scheduler/testing"
	tf "k8s.io/kubernetes/pkg/scheduler/testing/framework"

	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/plugins/apis/config"
	"github.com/berth-dev/berth/plugins/internal/decision"
)

func init() {
	metrics.Register()
}

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func weights(spread, load, image int64) *config.PodmanScoreArgs {
	a := DefaultArgs()
	a.SpreadWeight, a.LoadWeight, a.ImageWeight = spread, load, image
	return &a
}

func withUsage(args *config.PodmanScoreArgs, percent int64) *config.PodmanScoreArgs {
	a := *args
	a.ObservedUsagePercent = percent
	return &a
}

// node is a node with 4 CPUs and 8Gi of memory.
func node(name string) *st.NodeWrapper {
	return st.MakeNode().Name(name).Label(corev1.LabelHostname, name).Capacity(map[corev1.ResourceName]string{
		corev1.ResourceCPU: "4", corev1.ResourceMemory: "8Gi", corev1.ResourcePods: "110",
	})
}

// podmanNode is a Podman node whose host reported availBytes of available memory (MemAvailable) age ago.
func podmanNode(name string, availBytes int64, age time.Duration) *st.NodeWrapper {
	return node(name).
		Label(wellknown.LabelPodman, "true").
		Annotation(wellknown.AnnotationFreeMemory, strconv.FormatInt(availBytes, 10)).
		Annotation(wellknown.AnnotationObservedAt, testNow.Add(-age).Format(time.RFC3339))
}

func ref(kind, name string, controller bool) metav1.OwnerReference {
	apiVersion := "apps/v1"
	if kind == "Job" {
		apiVersion = "batch/v1"
	}
	return metav1.OwnerReference{
		APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(strings.ToLower(kind) + "-" + name + "-uid"),
		Controller: new(controller),
	}
}

var (
	web       = ref("ReplicaSet", "web", true)
	webNoCtrl = ref("ReplicaSet", "web", false)
	api       = ref("ReplicaSet", "api", true)
	batch     = ref("Job", "batch", true)
)

// placed is a pod on nodeName with the given owners.
func placed(name, nodeName string, req map[corev1.ResourceName]string, owners ...metav1.OwnerReference) *corev1.Pod {
	w := st.MakePod().Name(name).Namespace("default").UID(name).Node(nodeName)
	if req == nil {
		// A container without requests, counted as 100m and 200Mi by the scorers.
		w = w.Container("registry.k8s.io/pause:3.10")
	} else {
		w = w.Req(req)
	}
	p := w.Obj()
	p.OwnerReferences = owners
	return p
}

// incoming is the pod being scheduled: 1 CPU, 1Gi, the given image and owners.
func incoming(image string, owners ...metav1.OwnerReference) *corev1.Pod {
	p := st.MakePod().Name("incoming").Namespace("default").UID("incoming").Containers([]corev1.Container{
		st.MakeContainer().Name("app").Image(image).ResourceRequests(map[corev1.ResourceName]string{
			corev1.ResourceCPU: "1", corev1.ResourceMemory: "1Gi",
		}).Obj(),
	}).Obj()
	p.OwnerReferences = owners
	return p
}

type result struct {
	totals    map[string]int64 // final score per node, as the framework sums it (weight 1)
	decision  *decision.Scores
	nodes     map[string]decision.Breakdown // the decision's breakdowns by node
	rawScores map[string]int64
}

// score runs PreScore, Score and NormalizeScore of PodmanScore through a real framework on the nodes, in order.
func score(ctx context.Context, t *testing.T, args *config.PodmanScoreArgs, pod *corev1.Pod, nodes []*corev1.Node, pods []*corev1.Pod) result {
	t.Helper()
	factory := func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
		if args != nil {
			obj = args
		}
		p, err := New(ctx, obj, h)
		if err != nil {
			return nil, err
		}
		p.(*PodmanScore).now = func() time.Time { return testNow }
		return p, nil
	}
	snapshot := cache.NewSnapshot(pods, nodes)
	f, err := tf.NewFramework(ctx,
		[]tf.RegisterPluginFunc{
			tf.RegisterQueueSortPlugin(queuesort.Name, queuesort.New),
			tf.RegisterBindPlugin(defaultbinder.Name, defaultbinder.New),
			tf.RegisterPluginAsExtensions(Name, factory, "PreScore", "Score"),
		},
		"berth-scheduler",
		frameworkruntime.WithSnapshotSharedLister(snapshot),
	)
	if err != nil {
		t.Fatalf("creating framework: %v", err)
	}
	nodeInfos := make([]fwk.NodeInfo, 0, len(nodes))
	for _, n := range nodes {
		ni, err := snapshot.NodeInfos().Get(n.Name)
		if err != nil {
			t.Fatal(err)
		}
		nodeInfos = append(nodeInfos, ni)
	}
	state := framework.NewCycleState()
	if s := f.RunPreScorePlugins(ctx, state, pod, nodeInfos); !s.IsSuccess() {
		t.Fatalf("PreScore: %v", s)
	}
	scores, s := f.RunScorePlugins(ctx, state, pod, nodeInfos)
	if !s.IsSuccess() {
		t.Fatalf("Score: %v", s)
	}
	r := result{totals: map[string]int64{}, rawScores: map[string]int64{}}
	for _, ns := range scores {
		r.totals[ns.Name] = ns.TotalScore
		for _, raw := range ns.RawScores {
			if raw.Name == Name {
				r.rawScores[ns.Name] = raw.Score
			}
		}
	}
	data, err := state.Read(decision.StateKey)
	if err != nil {
		t.Fatalf("reading the breakdown from the cycle state: %v", err)
	}
	r.decision = data.(*decision.Scores)
	r.nodes = map[string]decision.Breakdown{}
	for i, n := range r.decision.Names {
		r.nodes[n] = r.decision.Breakdowns[i]
	}
	return r
}

// checkInvariants checks what holds for every scoring: final scores within 0..100, equal to the breakdown's total,
// and the total the weighted mean of the parts.
func checkInvariants(t *testing.T, args *config.PodmanScoreArgs, r result) {
	t.Helper()
	if args == nil {
		d := DefaultArgs()
		args = &d
	}
	if got, want := r.decision.Candidates, len(r.totals); got != want {
		t.Errorf("Candidates = %d, want %d", got, want)
	}
	if w := r.decision.Weights; w.Spread != args.SpreadWeight || w.Load != args.LoadWeight || w.Image != args.ImageWeight {
		t.Errorf("Weights = %+v, want %d/%d/%d", w, args.SpreadWeight, args.LoadWeight, args.ImageWeight)
	}
	sum := args.SpreadWeight + args.LoadWeight + args.ImageWeight
	for name, total := range r.totals {
		if total < fwk.MinScore || total > fwk.MaxScore {
			t.Errorf("node %s: score %d outside 0..100", name, total)
		}
		bd, ok := r.nodes[name]
		if !ok {
			t.Errorf("node %s: no breakdown", name)
			continue
		}
		if bd.Total != total {
			t.Errorf("node %s: breakdown total %d, framework score %d", name, bd.Total, total)
		}
		for part, v := range map[string]int64{"spread": bd.Spread, "load": bd.Load, "image": bd.Image} {
			if v < 0 || v > 100 {
				t.Errorf("node %s: %s %d outside 0..100", name, part, v)
			}
		}
		if want := (args.SpreadWeight*bd.Spread + args.LoadWeight*bd.Load + args.ImageWeight*bd.Image) / sum; bd.Total != want {
			t.Errorf("node %s: total %d, want weighted mean %d of %+v", name, bd.Total, want, bd)
		}
	}
}

func TestScoreSpread(t *testing.T) {
	spreadOnly := weights(1, 0, 0)
	nodes := []*corev1.Node{node("node-a").Obj(), node("node-b").Obj(), node("node-c").Obj(), node("node-d").Obj()}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		existing []*corev1.Pod
		want     map[string]int64 // spread part per node
	}{
		{
			name: "pods of the same ReplicaSet",
			pod:  incoming("busybox", web),
			existing: []*corev1.Pod{
				placed("a1", "node-a", nil, web),
				placed("a2", "node-a", nil, web),
				placed("b1", "node-b", nil, web),
			},
			want: map[string]int64{"node-a": 0, "node-b": 50, "node-c": 100, "node-d": 100},
		},
		{
			name: "other owners and non-controller references do not count",
			pod:  incoming("busybox", web),
			existing: []*corev1.Pod{
				placed("a1", "node-a", nil, web),
				placed("a2", "node-a", nil, web),
				placed("b1", "node-b", nil, web),
				placed("c1", "node-c", nil, api),
				placed("c2", "node-c", nil, api),
				placed("c3", "node-c", nil, api),
				placed("c4", "node-c", nil, batch),
				placed("d1", "node-d", nil, webNoCtrl),
				placed("d2", "node-d", nil, webNoCtrl),
				placed("d3", "node-d", nil, webNoCtrl),
				placed("d4", "node-d", nil),
			},
			want: map[string]int64{"node-a": 0, "node-b": 50, "node-c": 100, "node-d": 100},
		},
		{
			name: "pods of the same Job",
			pod:  incoming("busybox", batch),
			existing: []*corev1.Pod{
				placed("a1", "node-a", nil, web),
				placed("b1", "node-b", nil, batch),
				placed("c1", "node-c", nil, batch),
				placed("c2", "node-c", nil, batch),
				placed("c3", "node-c", nil, batch),
				placed("c4", "node-c", nil, batch),
				placed("d1", "node-d", nil, batch),
				placed("d2", "node-d", nil, batch),
			},
			want: map[string]int64{"node-a": 100, "node-b": 75, "node-c": 0, "node-d": 50},
		},
		{
			name: "a controller among other owner references counts",
			pod:  incoming("busybox", webNoCtrl, api),
			existing: []*corev1.Pod{
				placed("a1", "node-a", nil, webNoCtrl, api),
				placed("b1", "node-b", nil, web),
			},
			want: map[string]int64{"node-a": 0, "node-b": 100, "node-c": 100, "node-d": 100},
		},
		{
			name: "pod without a controller spreads nowhere",
			pod:  incoming("busybox", webNoCtrl),
			existing: []*corev1.Pod{
				placed("a1", "node-a", nil, web),
				placed("a2", "node-a", nil, webNoCtrl),
			},
			want: map[string]int64{"node-a": 100, "node-b": 100, "node-c": 100, "node-d": 100},
		},
		{
			name: "no replica placed yet",
			pod:  incoming("busybox", web),
			existing: []*corev1.Pod{
				placed("a1", "node-a", nil, api),
			},
			want: map[string]int64{"node-a": 100, "node-b": 100, "node-c": 100, "node-d": 100},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			r := score(ctx, t, spreadOnly, tc.pod, nodes, tc.existing)
			checkInvariants(t, spreadOnly, r)
			got := map[string]int64{}
			for n, bd := range r.nodes {
				got[n] = bd.Spread
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("spread (-want,+got):\n%s", diff)
			}
			// With only the spread weight, the final score is the spread part.
			if diff := cmp.Diff(tc.want, r.totals); diff != "" {
				t.Errorf("scores (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestScoreLoad(t *testing.T) {
	loadOnly := weights(0, 1, 0)
	// Requests: node-light holds 1 CPU/1Gi, node-heavy 2 CPU/4Gi. The host of node-light reports 1Gi free (its
	// containers use much more than they request), the host of node-heavy 7Gi.
	//
	// By requests, with the incoming pod (1 CPU, 1Gi) added, over 4 CPU/8Gi:
	//   node-light: cpu (4000-2000)*100/4000 = 50, memory (8-2)*100/8 = 75 -> 62
	//   node-heavy: cpu 25, memory 37 -> 31
	// By observed usage (memory): node-light (8-1)+1 = 8Gi used of 8Gi -> 0; node-heavy 1+1 = 2Gi of 8Gi -> 75.
	lightPods := []*corev1.Pod{placed("l1", "node-light", map[corev1.ResourceName]string{corev1.ResourceCPU: "1", corev1.ResourceMemory: "1Gi"})}
	heavyPods := []*corev1.Pod{placed("h1", "node-heavy", map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "4Gi"})}
	existing := append(append([]*corev1.Pod{}, lightPods...), heavyPods...)
	observedNodes := []*corev1.Node{
		podmanNode("node-light", 1<<30, 5*time.Second).Obj(),
		podmanNode("node-heavy", 7<<30, 5*time.Second).Obj(),
	}
	staleNodes := []*corev1.Node{
		podmanNode("node-light", 1<<30, time.Minute).Obj(),
		podmanNode("node-heavy", 7<<30, time.Minute).Obj(),
	}
	tests := []struct {
		name     string
		args     *config.PodmanScoreArgs
		pod      *corev1.Pod
		nodes    []*corev1.Node
		existing []*corev1.Pod
		want     map[string]int64 // load part per node
	}{
		{
			name:     "emptier node by requests scores higher",
			args:     loadOnly,
			pod:      incoming("busybox"),
			nodes:    []*corev1.Node{node("node-empty").Obj(), node("node-heavy").Obj()},
			existing: heavyPods,
			// node-empty: cpu 75, memory 87 -> 81.
			want: map[string]int64{"node-empty": 81, "node-heavy": 31},
		},
		{
			name: "pod without requests counts as 100m and 200Mi",
			args: loadOnly,
			pod:  st.MakePod().Name("incoming").UID("incoming").Container("busybox").Obj(),
			nodes: []*corev1.Node{node("node-empty").Capacity(map[corev1.ResourceName]string{
				corev1.ResourceCPU: "1", corev1.ResourceMemory: "1000Mi",
			}).Obj()},
			// cpu (1000-100)*100/1000 = 90, memory (1000-200)*100/1000 = 80 -> 85.
			want: map[string]int64{"node-empty": 85},
		},
		{
			name:     "full node scores 0",
			args:     loadOnly,
			pod:      incoming("busybox"),
			nodes:    []*corev1.Node{node("node-full").Obj()},
			existing: []*corev1.Pod{placed("f1", "node-full", map[corev1.ResourceName]string{corev1.ResourceCPU: "4", corev1.ResourceMemory: "8Gi"})},
			want:     map[string]int64{"node-full": 0},
		},
		{
			name:     "observedUsagePercent 0: requests alone, node-light wins",
			args:     withUsage(loadOnly, 0),
			pod:      incoming("busybox"),
			nodes:    observedNodes,
			existing: existing,
			want:     map[string]int64{"node-light": 62, "node-heavy": 31},
		},
		{
			name:     "observedUsagePercent 100: observed usage alone, node-heavy wins",
			args:     withUsage(loadOnly, 100),
			pod:      incoming("busybox"),
			nodes:    observedNodes,
			existing: existing,
			want:     map[string]int64{"node-light": 0, "node-heavy": 75},
		},
		{
			name:     "observedUsagePercent 50 blends both",
			args:     withUsage(loadOnly, 50),
			pod:      incoming("busybox"),
			nodes:    observedNodes,
			existing: existing,
			// node-light (62+0)/2 = 31, node-heavy (31+75)/2 = 53.
			want: map[string]int64{"node-light": 31, "node-heavy": 53},
		},
		{
			name:     "stale observations are ignored",
			args:     withUsage(loadOnly, 100),
			pod:      incoming("busybox"),
			nodes:    staleNodes,
			existing: existing,
			want:     map[string]int64{"node-light": 62, "node-heavy": 31},
		},
		{
			name: "observations of non-Podman nodes are ignored",
			args: withUsage(loadOnly, 100),
			pod:  incoming("busybox"),
			nodes: func() []*corev1.Node {
				var ns []*corev1.Node
				for _, n := range observedNodes {
					n = n.DeepCopy()
					delete(n.Labels, wellknown.LabelPodman)
					ns = append(ns, n)
				}
				return ns
			}(),
			existing: existing,
			want:     map[string]int64{"node-light": 62, "node-heavy": 31},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			r := score(ctx, t, tc.args, tc.pod, tc.nodes, tc.existing)
			checkInvariants(t, tc.args, r)
			got := map[string]int64{}
			for n, bd := range r.nodes {
				got[n] = bd.Load
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("load (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, r.totals); diff != "" {
				t.Errorf("scores (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestScoreImageLocality(t *testing.T) {
	imageOnly := weights(0, 0, 1)
	const mb = 1 << 20
	nodes := []*corev1.Node{
		node("node-qualified").Images(map[string]int64{"docker.io/library/busybox:latest": 4 * mb}).Obj(),
		node("node-tagged").Images(map[string]int64{"busybox:latest": 4 * mb}).Obj(),
		node("node-other").Images(map[string]int64{"docker.io/library/nginx:latest": 60 * mb, "docker.io/library/busybox:1.36": 4 * mb}).Obj(),
		node("node-none").Obj(),
	}
	twoContainers := incoming("busybox")
	twoContainers.Spec.Containers = append(twoContainers.Spec.Containers, st.MakeContainer().Name("side").Image("quay.io/prometheus/node-exporter:v1").Obj())
	tests := []struct {
		name string
		pod  *corev1.Pod
		want map[string]int64
	}{
		{
			name: "short name matches the fully qualified and the tagged name",
			pod:  incoming("busybox"),
			want: map[string]int64{"node-qualified": 100, "node-tagged": 100, "node-other": 0, "node-none": 0},
		},
		{
			name: "fully qualified name matches only itself",
			pod:  incoming("docker.io/library/busybox:latest"),
			want: map[string]int64{"node-qualified": 100, "node-tagged": 0, "node-other": 0, "node-none": 0},
		},
		{
			name: "tag must match",
			pod:  incoming("busybox:1.36"),
			want: map[string]int64{"node-qualified": 0, "node-tagged": 0, "node-other": 100, "node-none": 0},
		},
		{
			name: "share of the containers whose image is present",
			pod:  twoContainers,
			want: map[string]int64{"node-qualified": 50, "node-tagged": 50, "node-other": 0, "node-none": 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			r := score(ctx, t, imageOnly, tc.pod, nodes, nil)
			checkInvariants(t, imageOnly, r)
			got := map[string]int64{}
			for n, bd := range r.nodes {
				got[n] = bd.Image
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("image (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, r.totals); diff != "" {
				t.Errorf("scores (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestImageNames(t *testing.T) {
	tests := []struct {
		image    string
		reported string
		want     bool
	}{
		{image: "busybox", reported: "docker.io/library/busybox:latest", want: true},
		{image: "busybox", reported: "busybox:latest", want: true},
		{image: "busybox", reported: "busybox", want: true},
		{image: "busybox:1.36", reported: "docker.io/library/busybox:1.36", want: true},
		{image: "busybox:1.36", reported: "docker.io/library/busybox:latest", want: false},
		{image: "library/busybox", reported: "docker.io/library/busybox:latest", want: true},
		{image: "myorg/app", reported: "docker.io/myorg/app:latest", want: true},
		{image: "quay.io/org/app", reported: "quay.io/org/app:latest", want: true},
		{image: "quay.io/org/app", reported: "docker.io/quay.io/org/app:latest", want: false},
		{image: "localhost:5000/app", reported: "localhost:5000/app:latest", want: true},
		{image: "localhost/app", reported: "localhost/app:latest", want: true},
		{image: "localhost/app", reported: "docker.io/localhost/app:latest", want: false},
		{image: "busybox@sha256:0123", reported: "docker.io/library/busybox@sha256:0123", want: true},
		{image: "busybox@sha256:0123", reported: "busybox@sha256:0123:latest", want: false},
		{image: "nginx", reported: "docker.io/library/busybox:latest", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.image+" as "+tc.reported, func(t *testing.T) {
			states := map[string]*fwk.ImageStateSummary{tc.reported: {Size: 1, NumNodes: 1}}
			if got := hasImage(states, imageNames(tc.image)); got != tc.want {
				t.Errorf("hasImage(%q in %q) = %v, want %v (names %q)", tc.image, tc.reported, got, tc.want, imageNames(tc.image))
			}
		})
	}
}

func TestScoreCombined(t *testing.T) {
	// node-a: most replicas of web, empty of anything else, has the image.
	// node-b: one replica, loaded.
	// node-c: no replica, half loaded, no image.
	nodes := []*corev1.Node{
		node("node-a").Images(map[string]int64{"docker.io/library/busybox:latest": 1 << 20}).Obj(),
		node("node-b").Obj(),
		node("node-c").Obj(),
	}
	existing := []*corev1.Pod{
		placed("a1", "node-a", nil, web),
		placed("a2", "node-a", nil, web),
		placed("a3", "node-a", nil, web),
		placed("b1", "node-b", map[corev1.ResourceName]string{corev1.ResourceCPU: "3", corev1.ResourceMemory: "6Gi"}, web),
		placed("c1", "node-c", map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "4Gi"}, api),
	}
	tests := []struct {
		name      string
		args      *config.PodmanScoreArgs
		wantOrder []string // best first
		want      map[string]decision.Breakdown
	}{
		{
			name: "default weights",
			// node-a: 3 replicas (nonzero requests 300m, 600Mi): spread 0, load cpu (4000-1300)*100/4000=67, memory
			//   (8192-1624)*100/8192=80 -> 73, image 100: (0+146+100)/6 = 41.
			// node-b: spread (3-1)*100/3 = 66, load cpu 0, memory 12 -> 6, image 0: (198+12)/6 = 35.
			// node-c: spread 100, load cpu 25, memory 37 -> 31, image 0: (300+62)/6 = 60.
			want: map[string]decision.Breakdown{
				"node-a": {Total: 41, Spread: 0, Load: 73, Image: 100},
				"node-b": {Total: 35, Spread: 66, Load: 6, Image: 0},
				"node-c": {Total: 60, Spread: 100, Load: 31, Image: 0},
			},
			wantOrder: []string{"node-c", "node-a", "node-b"},
		},
		{
			name:      "only spread weighs: ranking purely by spread",
			args:      weights(1, 0, 0),
			wantOrder: []string{"node-c", "node-b", "node-a"},
		},
		{
			name:      "only load weighs",
			args:      weights(0, 1, 0),
			wantOrder: []string{"node-a", "node-c", "node-b"},
		},
		{
			name:      "only image weighs: node-a first",
			args:      weights(0, 0, 100),
			wantOrder: []string{"node-a"},
		},
		{
			name:      "maximum weights stay within 0..100",
			args:      weights(100, 100, 100),
			wantOrder: []string{"node-a", "node-c", "node-b"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			r := score(ctx, t, tc.args, incoming("busybox", web), nodes, existing)
			checkInvariants(t, tc.args, r)
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, r.nodes); diff != "" {
					t.Errorf("breakdown (-want,+got):\n%s", diff)
				}
			}
			// The node with the most replicas always has spread 0.
			if got := r.nodes["node-a"].Spread; got != 0 {
				t.Errorf("node-a (most replicas) spread = %d, want 0", got)
			}
			for i := 1; i < len(tc.wantOrder); i++ {
				hi, lo := tc.wantOrder[i-1], tc.wantOrder[i]
				if r.totals[hi] <= r.totals[lo] {
					t.Errorf("score of %s (%d) not above %s (%d); scores %v", hi, r.totals[hi], lo, r.totals[lo], r.totals)
				}
			}
			if len(tc.wantOrder) == 1 {
				for n, s := range r.totals {
					if n != tc.wantOrder[0] && s >= r.totals[tc.wantOrder[0]] {
						t.Errorf("score of %s (%d) not below %s (%d)", n, s, tc.wantOrder[0], r.totals[tc.wantOrder[0]])
					}
				}
			}
		})
	}
}

func TestDecisionInCycleState(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	nodes := []*corev1.Node{node("node-a").Obj(), node("node-b").Obj()}
	args := weights(7, 5, 3)
	r := score(ctx, t, args, incoming("busybox", web), nodes, []*corev1.Pod{placed("a1", "node-a", nil, web)})
	want := &decision.Scores{Candidates: 2, Weights: decision.Weights{Spread: 7, Load: 5, Image: 3}}
	// node-a: spread 0, load cpu (4000-1100)*100/4000=72, memory (8192-1224)*100/8192=85 -> 78, image 0: 390/15 = 26.
	// node-b: spread 100, load 81, image 0: (700+405)/15 = 73.
	want.Names = []string{"node-a", "node-b"}
	want.Breakdowns = []decision.Breakdown{
		{Total: 26, Spread: 0, Load: 78, Image: 0},
		{Total: 73, Spread: 100, Load: 81, Image: 0},
	}
	if diff := cmp.Diff(want, r.decision); diff != "" {
		t.Errorf("decision (-want,+got):\n%s", diff)
	}
	checkInvariants(t, args, r)
	// The raw scores the framework saw carry the packed node-local parts.
	for n, raw := range r.rawScores {
		load, image := unpack(raw)
		bd := r.nodes[n]
		if load != bd.Load || image != bd.Image {
			t.Errorf("node %s: raw score %d unpacks to load %d, image %d; breakdown %+v", n, raw, load, image, bd)
		}
	}
}

func TestPackUnpack(t *testing.T) {
	tests := []struct {
		name        string
		load, image int64
	}{
		{name: "zeros"},
		{name: "parts at their maximum", load: 100, image: 100},
		{name: "mixed", load: 42, image: 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, i := unpack(pack(tc.load, tc.image))
			if l != tc.load || i != tc.image {
				t.Errorf("unpack(pack(%d, %d)) = %d, %d; want %d, %d", tc.load, tc.image, l, i, tc.load, tc.image)
			}
		})
	}
}

func TestScoreWithoutPreScore(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	p, err := New(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ni := framework.NewNodeInfo()
	ni.SetNode(node("node-a").Obj())
	_, s := p.(*PodmanScore).Score(ctx, framework.NewCycleState(), incoming("busybox"), ni)
	if s.Code() != fwk.Error || !strings.Contains(s.Message(), `reading "PreScorePodmanScore" from cycle state`) {
		t.Errorf("status = %v (%v), want an Error naming the missing state", s.Code(), s)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		args    runtime.Object
		want    config.PodmanScoreArgs
		wantErr string
	}{
		{
			name: "nil args give the defaults",
			want: config.PodmanScoreArgs{
				SpreadWeight: 3, LoadWeight: 2, ImageWeight: 1, ObservedUsagePercent: 50,
				MaxObservationAge: metav1.Duration{Duration: 30 * time.Second}, DefaultingType: "System",
			},
		},
		{
			name: "configured args are kept, an empty defaultingType is System",
			args: &config.PodmanScoreArgs{SpreadWeight: 1, ObservedUsagePercent: 10, MaxObservationAge: metav1.Duration{Duration: time.Minute}},
			want: config.PodmanScoreArgs{SpreadWeight: 1, ObservedUsagePercent: 10, MaxObservationAge: metav1.Duration{Duration: time.Minute}, DefaultingType: "System"},
		},
		{
			name:    "topology spread needs the scheduler's snapshot",
			args:    &config.PodmanScoreArgs{TopologySpreadWeight: 1, MaxObservationAge: metav1.Duration{Duration: time.Minute}},
			wantErr: "topologySpreadWeight 1 needs the scheduler's snapshot",
		},
		{
			name: "default constraints are validated as PodTopologySpread's",
			args: &config.PodmanScoreArgs{TopologySpreadWeight: 1, MaxObservationAge: metav1.Duration{Duration: time.Minute}, DefaultingType: "List",
				DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway}}},
			wantErr: "defaultConstraints[0].maxSkew: Invalid value: 0",
		},
		{
			name:    "args of another plugin",
			args:    &config.PodmanFitArgs{},
			wantErr: "want args to be of type PodmanScoreArgs, got *config.PodmanFitArgs",
		},
		{
			name:    "all weights zero",
			args:    &config.PodmanScoreArgs{MaxObservationAge: metav1.Duration{Duration: time.Minute}},
			wantErr: "spreadWeight: Invalid value: 0: at least one weight (spreadWeight, loadWeight, imageWeight, topologySpreadWeight) must be greater than 0",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			p, err := New(ctx, tc.args, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			pl := p.(*PodmanScore)
			if diff := cmp.Diff(tc.want, pl.args); diff != "" {
				t.Errorf("args (-want,+got):\n%s", diff)
			}
			if pl.ScoreExtensions() == nil {
				t.Error("ScoreExtensions() is nil; NormalizeScore would not run")
			}
		})
	}
}
