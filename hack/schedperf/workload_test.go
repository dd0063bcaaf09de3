package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	schedvalidation "k8s.io/kubernetes/pkg/scheduler/apis/config/validation"

	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/plugins/podmanbind"
	"github.com/berth-dev/berth/plugins/podmanfit"
	"github.com/berth-dev/berth/plugins/podmanscore"
)

func TestParseWorkloads(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		wantErr  string
	}{
		{name: "default", in: "berth", want: []string{workloadBerth}},
		{name: "all, any case, spaces", in: "berth, topologyspreading,PreferredTopologySpreading ,PREEMPTIONBASIC",
			want: []string{workloadBerth, workloadTopologySpreading, workloadPreferredTopologySpreading, workloadPreemptionBasic}},
		{name: "order kept", in: "PreemptionBasic,berth", want: []string{workloadPreemptionBasic, workloadBerth}},
		{name: "unknown", in: "berth,SchedulingBasic", wantErr: `unknown workload "SchedulingBasic"`},
		{name: "twice", in: "TopologySpreading,topologyspreading", wantErr: "TopologySpreading given twice"},
		{name: "empty", in: " , ", wantErr: "no workload given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseWorkloads(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseWorkloads(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseWorkloads(%q): %v", tc.in, err)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("parseWorkloads(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidateWorkloads(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{"berth-etcd", "kube-apiserver"} {
		if err := os.WriteFile(filepath.Join(bin, name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	base := Config{BinDir: bin, Nodes: []int{500}, Pods: 100, Rounds: 1, Owners: 10, Workers: 1, RoundTimeout: time.Minute}
	for _, tc := range []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{name: "every workload", change: func(c *Config) { c.Workloads = workloadNames }},
		{name: "none", change: func(c *Config) { c.Workloads = nil }, wantErr: "no workload given"},
		{name: "unknown", change: func(c *Config) { c.Workloads = []string{"Nope"} }, wantErr: `unknown workload "Nope"`},
		{name: "preemption capped below 2 pods", change: func(c *Config) {
			c.Workloads, c.Nodes = []string{workloadPreemptionBasic}, []int{1, 500}
		}, wantErr: "at 1 nodes it measures 1 pod"},
		{name: "topology spreading on one node", change: func(c *Config) {
			c.Workloads, c.Nodes = []string{workloadTopologySpreading}, []int{1}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.change(&cfg)
			err := cfg.validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("validate error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestUpstreamWorkloads checks that the pods and nodes are upstream's templates' (scheduler_perf v1.37.2), with
// only what schedperf adds.
func TestUpstreamWorkloads(t *testing.T) {
	spread := func(when corev1.UnsatisfiableConstraintAction) []corev1.TopologySpreadConstraint {
		return []corev1.TopologySpreadConstraint{{
			MaxSkew: 5, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: when,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"color": "blue"}},
		}}
	}
	for _, tc := range []struct {
		name                 string
		initPerNode          int
		initCPU, measuredCPU string
		measuredLabels       map[string]string
		spread               []corev1.TopologySpreadConstraint
		initPriorityClass    string
		measuredPriority     int32
		zoned                bool
		measuredAt500        int
	}{
		{
			name: workloadTopologySpreading, initPerNode: 1, initCPU: "100m", measuredCPU: "100m",
			measuredLabels: map[string]string{"color": "blue"}, spread: spread(corev1.DoNotSchedule), zoned: true, measuredAt500: 1000,
		},
		{
			name: workloadPreferredTopologySpreading, initPerNode: 1, initCPU: "100m", measuredCPU: "100m",
			measuredLabels: map[string]string{"color": "blue"}, spread: spread(corev1.ScheduleAnyway), zoned: true, measuredAt500: 1000,
		},
		{
			name: workloadPreemptionBasic, initPerNode: 4, initCPU: "900m", measuredCPU: "3970m",
			measuredPriority: 9999999, measuredAt500: 500,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := newWorkload(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if w.initPods(500) != 500*tc.initPerNode {
				t.Errorf("initPods(500) = %d, want %d", w.initPods(500), 500*tc.initPerNode)
			}
			if got := w.measuredPods(500, 1000); got != tc.measuredAt500 {
				t.Errorf("measuredPods(500, 1000) = %d, want %d", got, tc.measuredAt500)
			}

			initPod, node := w.newInitPod(503, 500)
			if node != nodeName(3) {
				t.Errorf("init pod 503 goes to %s, want %s", node, nodeName(3))
			}
			if initPod.Name != "init-000503" || initPod.Namespace != namespace || initPod.Labels[initLabel] != "true" {
				t.Errorf("init pod %s/%s labels %v", initPod.Namespace, initPod.Name, initPod.Labels)
			}
			checkResources(t, initPod, tc.initCPU)
			if initPod.Spec.Priority != nil || initPod.Spec.PriorityClassName != "" {
				t.Errorf("init pod priority %v class %q, want none (0)", initPod.Spec.Priority, initPod.Spec.PriorityClassName)
			}

			pod := w.newMeasuredPod("perf-x-00001", berthProfile, "x", nil)
			if pod.Spec.SchedulerName != berthProfile || pod.Labels[roundLabel] != "x" || pod.Name != "perf-x-00001" {
				t.Errorf("measured pod %s scheduler %q labels %v", pod.Name, pod.Spec.SchedulerName, pod.Labels)
			}
			for k, v := range tc.measuredLabels {
				if pod.Labels[k] != v {
					t.Errorf("measured pod label %s = %q, want %q", k, pod.Labels[k], v)
				}
			}
			if got, want := len(pod.Spec.TopologySpreadConstraints), len(tc.spread); got != want {
				t.Fatalf("measured pod has %d spread constraints, want %d", got, want)
			}
			for i, c := range pod.Spec.TopologySpreadConstraints {
				want := tc.spread[i]
				if c.MaxSkew != want.MaxSkew || c.TopologyKey != want.TopologyKey || c.WhenUnsatisfiable != want.WhenUnsatisfiable ||
					metav1.FormatLabelSelector(c.LabelSelector) != metav1.FormatLabelSelector(want.LabelSelector) {
					t.Errorf("spread constraint %+v, want %+v", c, want)
				}
			}
			checkResources(t, pod, tc.measuredCPU)
			if tc.measuredPriority != 0 {
				if len(w.priorityClasses) != 1 || w.priorityClasses[0].Value != tc.measuredPriority ||
					pod.Spec.PriorityClassName != w.priorityClasses[0].Name || pod.Spec.Priority != nil {
					t.Errorf("measured pod priority %v class %q; classes %v: want class of value %d", pod.Spec.Priority, pod.Spec.PriorityClassName, w.priorityClasses, tc.measuredPriority)
				}
				if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g != 0 {
					t.Errorf("measured pod grace period %v, want 0 as upstream's", g)
				}
			} else if len(w.priorityClasses) != 0 || pod.Spec.PriorityClassName != "" {
				t.Errorf("priority classes %v, pod's %q: want none", w.priorityClasses, pod.Spec.PriorityClassName)
			}
			if tc.name == workloadPreemptionBasic {
				if g := initPod.Spec.TerminationGracePeriodSeconds; g == nil || *g != 0 {
					t.Errorf("victim grace period %v, want 0 as upstream's: no kubelet confirms a graceful deletion", g)
				}
				if len(initPod.Finalizers) != 0 {
					t.Errorf("victim finalizers %v, want none", initPod.Finalizers)
				}
			}

			n := w.node(4, time.Unix(1_700_000_000, 0))
			if n.Name != nodeName(4) || n.Labels[wellknown.LabelPodman] != "true" || n.Labels[fakeLabel] != "true" {
				t.Errorf("node %s labels %v: want the Podman and fake labels", n.Name, n.Labels)
			}
			wantZone := ""
			if tc.zoned {
				wantZone = "moon-2"
			}
			if got := n.Labels[corev1.LabelTopologyZone]; got != wantZone {
				t.Errorf("node 4 zone %q, want %q", got, wantZone)
			}
			for name, want := range map[corev1.ResourceName]string{corev1.ResourceCPU: "4", corev1.ResourceMemory: "32Gi", corev1.ResourcePods: "110"} {
				if q := n.Status.Allocatable[name]; q.Cmp(resource.MustParse(want)) != 0 {
					t.Errorf("node allocatable %s = %s, want %s", name, q.String(), want)
				}
			}
			if len(n.Status.Conditions) != 1 || n.Status.Conditions[0].Type != corev1.NodeReady || n.Status.Conditions[0].Status != corev1.ConditionTrue {
				t.Errorf("node conditions %v, want Ready", n.Status.Conditions)
			}
			if n.Annotations[wellknown.AnnotationFreeMemory] == "" || n.Annotations[wellknown.AnnotationObservedAt] != "2023-11-14T22:13:20Z" {
				t.Errorf("node annotations %v, want the host observation", n.Annotations)
			}
		})
	}
}

// checkResources checks a pod's single container's requests and limits: the cpu given and 500Mi, as upstream's.
func checkResources(t *testing.T, pod *corev1.Pod, cpu string) {
	t.Helper()
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("pod %s has %d containers, want 1", pod.Name, len(pod.Spec.Containers))
	}
	r := pod.Spec.Containers[0].Resources
	for _, l := range []corev1.ResourceList{r.Requests, r.Limits} {
		if q := l[corev1.ResourceCPU]; q.Cmp(resource.MustParse(cpu)) != 0 {
			t.Errorf("pod %s cpu %s, want %s", pod.Name, q.String(), cpu)
		}
		if q := l[corev1.ResourceMemory]; q.Cmp(resource.MustParse("500Mi")) != 0 {
			t.Errorf("pod %s memory %s, want 500Mi", pod.Name, q.String())
		}
	}
}

// TestPreemptionFillsNodes checks the arithmetic PreemptionBasic rests on: the init pods fill every node so that
// a measured pod fits only by preempting, and only one measured pod fits a node.
func TestPreemptionFillsNodes(t *testing.T) {
	w, err := newWorkload(workloadPreemptionBasic)
	if err != nil {
		t.Fatal(err)
	}
	alloc := w.node(0, time.Now()).Status.Allocatable.Cpu().MilliValue()
	victim := w.initPod.Spec.Containers[0].Resources.Requests.Cpu().MilliValue()
	preemptor := w.measured.Spec.Containers[0].Resources.Requests.Cpu().MilliValue()
	used := int64(w.initPerNode) * victim
	if used > alloc || alloc-used >= victim {
		t.Errorf("%d init pods of %dm on %dm: the node should be full for another", w.initPerNode, victim, alloc)
	}
	if alloc-used >= preemptor {
		t.Errorf("a %dm pod fits the %dm left without preempting", preemptor, alloc-used)
	}
	if 2*preemptor <= alloc {
		t.Errorf("two %dm pods fit a %dm node", preemptor, alloc)
	}
}

func TestBerthWorkloadUnchanged(t *testing.T) {
	w, err := newWorkload(workloadBerth)
	if err != nil {
		t.Fatal(err)
	}
	if w.initPods(5000) != 0 || w.measuredPods(500, 1000) != 1000 || len(w.priorityClasses) != 0 {
		t.Errorf("berth workload: %d init pods, %d measured, classes %v", w.initPods(5000), w.measuredPods(500, 1000), w.priorityClasses)
	}
	owner := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "perf-rs-00", UID: "u", Labels: map[string]string{"app": "perf-rs-00"}}}
	pod := w.newMeasuredPod("perf-n500-berth-r1-00000", berthProfile, "n500-berth-r1", owner)
	if pod.Spec.Containers[0].Image != podImage || len(pod.OwnerReferences) != 1 || pod.Spec.SchedulerName != berthProfile {
		t.Errorf("berth pod %+v", pod)
	}
	n := w.node(0, time.Now())
	if n.Labels[corev1.LabelTopologyZone] != "zone-0" || n.Status.Allocatable.Cpu().Value() != 32 || len(n.Status.Images) != 4 {
		t.Errorf("berth node 0: zone %q, cpu %v, %d images", n.Labels[corev1.LabelTopologyZone], n.Status.Allocatable.Cpu(), len(n.Status.Images))
	}
	if got := roundID(w, 500, berthProfile, 1); got != "n500-berth-r1" {
		t.Errorf("round id %q, want the one before workloads", got)
	}
	up, _ := newWorkload(workloadPreferredTopologySpreading)
	if got := roundID(up, 5000, defaultProfile, 3); got != "preferredtopologyspreading-n5000-default-r3" {
		t.Errorf("round id %q", got)
	}
}

func TestSummaryRatios(t *testing.T) {
	w, _ := newWorkload(workloadTopologySpreading)
	var results []result
	for i, r := range []struct {
		profile string
		secs    float64
	}{{defaultProfile, 10}, {berthProfile, 5}, {berthProfile, 4}, {defaultProfile, 10}, {defaultProfile, 20}, {berthProfile, 10}} {
		results = append(results, result{workload: w, nodes: 500, profile: r.profile, round: i/2 + 1, pods: 101, elapsed: time.Duration(r.secs * float64(time.Second))})
	}
	s := summarize(results)
	if len(s) != 1 {
		t.Fatalf("%d summaries, want 1", len(s))
	}
	// berth 20, 25, 10 pods/s; default 10, 10, 5.
	if got := s[0].meanRatio(); got < 2.19 || got > 2.21 {
		t.Errorf("ratio of means %.3f, want 2.2", got)
	}
	if got := s[0].medianRatio(); got < 1.99 || got > 2.01 {
		t.Errorf("ratio of medians %.3f, want 2", got)
	}
	if lo, hi, ok := s[0].pairRatios(); !ok || lo < 1.99 || lo > 2.01 || hi < 2.49 || hi > 2.51 {
		t.Errorf("pair ratios %.2f–%.2f (%v), want 2–2.5", lo, hi, ok)
	}
	f := figures(results)
	if len(f) != 1 || !strings.Contains(f[0].Name, "upstream TopologySpreading, 500 nodes, 500 init + 101 measured pods") || f[0].Samples != 3 {
		t.Errorf("figures %+v", f)
	}
}

// TestCeilingProfile: the configuration schedperf writes decodes and validates as the scheduler's, with the
// ceiling profile beside the manifest's two (queue sort and binder only), and the ceiling's rates stay out of the
// berth/default ratios.
func TestCeilingProfile(t *testing.T) {
	path, _, err := writeSchedulerConfig(filepath.Join(t.TempDir(), "config.yaml"), "/nonexistent/kubeconfig")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	obj, _, err := schedscheme.Codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	cfg, ok := obj.(*schedconfig.KubeSchedulerConfiguration)
	if !ok {
		t.Fatalf("decoded a %T", obj)
	}
	if err := schedvalidation.ValidateKubeSchedulerConfiguration(cfg); err != nil {
		t.Fatalf("validate: %v", err)
	}
	var names []string
	for _, p := range cfg.Profiles {
		names = append(names, p.SchedulerName)
	}
	if want := []string{defaultProfile, berthProfile, ceilingProfile, bareProfile}; !slices.Equal(names, want) {
		t.Fatalf("profiles %v, want %v", names, want)
	}
	// The framework expands multiPoint into the extension points: everything off, then the two plugins on.
	var enabled, disabled []string
	for _, p := range cfg.Profiles[2].Plugins.MultiPoint.Enabled {
		enabled = append(enabled, p.Name)
	}
	for _, p := range cfg.Profiles[2].Plugins.MultiPoint.Disabled {
		disabled = append(disabled, p.Name)
	}
	if !slices.Equal(enabled, []string{"PrioritySort", "DefaultBinder"}) || !slices.Equal(disabled, []string{"*"}) {
		t.Errorf("ceiling profile's multiPoint: enabled %v, disabled %v; want PrioritySort and DefaultBinder, all others off", enabled, disabled)
	}

	// The bare profile: the berth profile's in-tree plugins with the default binder, none of Berth's, and the
	// berth profile itself untouched.
	plugins := func(set []schedconfig.Plugin) []string {
		var names []string
		for _, p := range set {
			names = append(names, p.Name)
		}
		return names
	}
	berth, bare := cfg.Profiles[1], cfg.Profiles[3]
	for _, name := range []string{podmanfit.Name, podmanscore.Name, podmanbind.Name} {
		if !slices.Contains(plugins(berth.Plugins.MultiPoint.Enabled), name) {
			t.Errorf("berth profile lost %s: %v", name, plugins(berth.Plugins.MultiPoint.Enabled))
		}
		if slices.Contains(plugins(bare.Plugins.MultiPoint.Enabled), name) {
			t.Errorf("bare profile enables %s", name)
		}
		for _, pc := range bare.PluginConfig {
			if pc.Name == name {
				t.Errorf("bare profile configures %s", name)
			}
		}
	}
	if slices.Contains(plugins(bare.Plugins.MultiPoint.Disabled), "DefaultBinder") {
		t.Errorf("bare profile disables DefaultBinder: %v", plugins(bare.Plugins.MultiPoint.Disabled))
	}
	if want := plugins(berth.Plugins.Score.Disabled); !slices.Equal(plugins(bare.Plugins.Score.Disabled), want) {
		t.Errorf("bare profile's disabled scores %v, want the berth profile's %v", plugins(bare.Plugins.Score.Disabled), want)
	}
	for _, name := range []string{"NodeResourcesFit", "NodePorts", "ImageLocality"} {
		if !slices.Contains(plugins(bare.Plugins.MultiPoint.Disabled), name) {
			t.Errorf("bare profile enables %s, which the berth profile disables", name)
		}
	}

	w, _ := newWorkload(workloadBerth)
	var results []result
	for _, r := range []struct {
		profile string
		secs    float64
	}{{defaultProfile, 10}, {berthProfile, 5}, {ceilingProfile, 2}, {bareProfile, 4}} {
		results = append(results, result{workload: w, nodes: 500, profile: r.profile, round: 1, pods: 101, elapsed: time.Duration(r.secs * float64(time.Second))})
	}
	s := summarize(results)
	if len(s) != 1 || len(s[0].berth) != 1 || len(s[0].dflt) != 1 || len(s[0].ceiling) != 1 || s[0].ceiling[0] != 50 ||
		len(s[0].bare) != 1 || s[0].bare[0] != 25 {
		t.Fatalf("summary %+v, want one rate each, the ceiling's 50 pods/s, the bare profile's 25", s)
	}
	if got := s[0].meanRatio(); got != 2 {
		t.Errorf("berth/default %.2f with the ceiling measured, want 2", got)
	}
}
