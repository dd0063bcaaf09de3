package plugins_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/validation"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	intree "k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
	st "k8s.io/kubernetes/pkg/scheduler/testing"
	"sigs.k8s.io/yaml"

	berthconfig "github.com/berth-dev/berth/plugins/apis/config"
	_ "github.com/berth-dev/berth/plugins/apis/config/scheme"
	"github.com/berth-dev/berth/plugins/internal/decision"
	"github.com/berth-dev/berth/plugins/podmanbind"
	"github.com/berth-dev/berth/plugins/podmanfit"
	"github.com/berth-dev/berth/plugins/podmanscore"
)

func init() {
	metrics.Register()
}

const (
	manifestPath      = "../manifests/scheduler-config.yaml"
	chartManifestPath = "../manifests/berth.yaml"
)

func readManifest(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// decode decodes a KubeSchedulerConfiguration with the kube-scheduler's strict codec.
func decode(data []byte) (*config.KubeSchedulerConfiguration, error) {
	obj, _, err := scheme.Codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		return nil, err
	}
	return obj.(*config.KubeSchedulerConfiguration), nil
}

func profile(t *testing.T, cfg *config.KubeSchedulerConfiguration, name string) *config.KubeSchedulerProfile {
	t.Helper()
	for i := range cfg.Profiles {
		if cfg.Profiles[i].SchedulerName == name {
			return &cfg.Profiles[i]
		}
	}
	t.Fatalf("no profile %q", name)
	return nil
}

func pluginArgs(prof *config.KubeSchedulerProfile, name string) runtime.Object {
	for _, pc := range prof.PluginConfig {
		if pc.Name == name {
			return pc.Args
		}
	}
	return nil
}

// defaultScoreArgs are PodmanScore's args when none are configured.
func defaultScoreArgs() *berthconfig.PodmanScoreArgs {
	return &berthconfig.PodmanScoreArgs{
		SpreadWeight: 3, LoadWeight: 2, ImageWeight: 1, ObservedUsagePercent: 50,
		MaxObservationAge: metav1.Duration{Duration: 30 * time.Second},
		DefaultingType:    config.SystemDefaulting,
	}
}

// manifestScoreArgs are PodmanScore's args in the manifest: Berth's parts and soft topology spread weighed so that
// the profile's sum is the one of PodmanScore 3/2/1 at weight 5 beside PodTopologySpread's score at weight 2.
func manifestScoreArgs() *berthconfig.PodmanScoreArgs {
	return &berthconfig.PodmanScoreArgs{
		SpreadWeight: 15, LoadWeight: 10, ImageWeight: 5, TopologySpreadWeight: 12, ObservedUsagePercent: 50,
		MaxObservationAge: metav1.Duration{Duration: 30 * time.Second},
		DefaultingType:    config.SystemDefaulting,
	}
}

func TestSchedulerConfigManifest(t *testing.T) {
	cfg, err := decode(readManifest(t))
	if err != nil {
		t.Fatalf("decoding %s: %v", manifestPath, err)
	}

	var names []string
	for _, p := range cfg.Profiles {
		names = append(names, p.SchedulerName)
	}
	if diff := cmp.Diff([]string{"default-scheduler", "berth-scheduler"}, names); diff != "" {
		t.Errorf("profiles (-want,+got):\n%s", diff)
	}
	if cfg.ClientConnection.QPS != 5000 || cfg.ClientConnection.Burst != 5000 {
		t.Errorf("clientConnection qps/burst = %v/%v, want 5000/5000", cfg.ClientConnection.QPS, cfg.ClientConnection.Burst)
	}

	berth := profile(t, cfg, "berth-scheduler")
	if diff := cmp.Diff(manifestScoreArgs(), pluginArgs(berth, podmanscore.Name)); diff != "" {
		t.Errorf("PodmanScore args (-want,+got):\n%s", diff)
	}
	sameDefaultConstraints(t, berth)
	wantFit := &berthconfig.PodmanFitArgs{ObservedMemory: true, MaxObservationAge: metav1.Duration{Duration: 30 * time.Second}}
	if diff := cmp.Diff(wantFit, pluginArgs(berth, podmanfit.Name)); diff != "" {
		t.Errorf("PodmanFit args (-want,+got):\n%s", diff)
	}
	if args := pluginArgs(berth, podmanbind.Name); args != nil {
		t.Errorf("PodmanBind has args %#v, want none", args)
	}

	enabled := map[string]int32{}
	for _, p := range berth.Plugins.MultiPoint.Enabled {
		enabled[p.Name] = p.Weight
	}
	for _, name := range []string{podmanfit.Name, podmanscore.Name, podmanbind.Name} {
		if _, ok := enabled[name]; !ok {
			t.Errorf("%s is not enabled at multiPoint", name)
		}
	}
	if enabled[podmanscore.Name] != 7 {
		t.Errorf("PodmanScore weight = %d, want 7", enabled[podmanscore.Name])
	}

	// The default profile is untouched: no Berth plugin, no Berth args.
	def := profile(t, cfg, "default-scheduler")
	for _, name := range []string{podmanfit.Name, podmanscore.Name, podmanbind.Name} {
		if args := pluginArgs(def, name); args != nil {
			t.Errorf("default-scheduler has args for %s: %#v", name, args)
		}
		for _, p := range def.Plugins.MultiPoint.Enabled {
			if p.Name == name {
				t.Errorf("default-scheduler enables %s", name)
			}
		}
	}

	if err := validation.ValidateKubeSchedulerConfiguration(cfg); err != nil {
		t.Errorf("ValidateKubeSchedulerConfiguration: %v", err)
	}
}

// TestChartSchedulerProfile checks that the chart's scheduler (manifests/berth.yaml, the chart rendered with its
// default values) runs the berth-scheduler profile berth up runs: the same plugins at every extension point, with
// the same arguments.
func TestChartSchedulerProfile(t *testing.T) {
	want, err := decode(readManifest(t))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(chartManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var got *config.KubeSchedulerConfiguration
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal([]byte(doc), &cm); err != nil || cm.Kind != "ConfigMap" || cm.Name != "berth-scheduler" {
			continue
		}
		if got, err = decode([]byte(cm.Data["config.yaml"])); err != nil {
			t.Fatalf("decoding the berth-scheduler ConfigMap of %s: %v", chartManifestPath, err)
		}
	}
	if got == nil {
		t.Fatalf("no berth-scheduler ConfigMap in %s", chartManifestPath)
	}
	wantProf, gotProf := profile(t, want, "berth-scheduler"), profile(t, got, "berth-scheduler")
	if diff := cmp.Diff(wantProf.Plugins, gotProf.Plugins); diff != "" {
		t.Errorf("plugins of the chart's profile (-%s,+%s):\n%s", manifestPath, chartManifestPath, diff)
	}
	if diff := cmp.Diff(wantProf.PluginConfig, gotProf.PluginConfig); diff != "" {
		t.Errorf("pluginConfig of the chart's profile (-%s,+%s):\n%s", manifestPath, chartManifestPath, diff)
	}
	sameDefaultConstraints(t, gotProf)
}

// sameDefaultConstraints checks that PodmanScore's default constraints are PodTopologySpread's, whose filter uses
// them for DoNotSchedule ones.
func sameDefaultConstraints(t *testing.T, prof *config.KubeSchedulerProfile) {
	t.Helper()
	pts, ok := pluginArgs(prof, "PodTopologySpread").(*config.PodTopologySpreadArgs)
	if !ok {
		t.Fatalf("PodTopologySpread args = %#v", pluginArgs(prof, "PodTopologySpread"))
	}
	score, ok := pluginArgs(prof, podmanscore.Name).(*berthconfig.PodmanScoreArgs)
	if !ok {
		t.Fatalf("PodmanScore args = %#v", pluginArgs(prof, podmanscore.Name))
	}
	if pts.DefaultingType != score.DefaultingType || !cmp.Equal(pts.DefaultConstraints, score.DefaultConstraints) {
		t.Errorf("PodmanScore's default constraints %s %v differ from PodTopologySpread's %s %v",
			score.DefaultingType, score.DefaultConstraints, pts.DefaultingType, pts.DefaultConstraints)
	}
}

func TestSchedulerConfigVariants(t *testing.T) {
	data := string(readManifest(t))
	const scoreConfig = "      - name: PodmanScore\n        args:\n"
	if !strings.Contains(data, scoreConfig) || !strings.Contains(data, "spreadWeight: 15") || !strings.Contains(data, "          loadWeight: 10\n") {
		t.Fatalf("%s changed; update this test", manifestPath)
	}
	tests := []struct {
		name      string
		yaml      string
		wantErr   []string
		wantScore *berthconfig.PodmanScoreArgs
	}{
		{
			name:    "misspelled field",
			yaml:    strings.Replace(data, "spreadWeight: 15", "spreadWieght: 15", 1),
			wantErr: []string{"strict decoding error", "decoding .profiles[1].pluginConfig[1]", "PodmanScore", `unknown field "spreadWieght"`},
		},
		{
			name: "no pluginConfig for PodmanScore gets defaulted args",
			// PodmanScore's entry is the last of the file.
			yaml:      data[:strings.Index(data, scoreConfig)],
			wantScore: defaultScoreArgs(),
		},
		{
			name: "partial PodmanScore args are defaulted",
			yaml: strings.Replace(strings.Replace(data, "          loadWeight: 10\n", "", 1), "spreadWeight: 15", "spreadWeight: 9", 1),
			wantScore: &berthconfig.PodmanScoreArgs{SpreadWeight: 9, LoadWeight: 2, ImageWeight: 5, TopologySpreadWeight: 12, ObservedUsagePercent: 50,
				MaxObservationAge: metav1.Duration{Duration: 30 * time.Second}, DefaultingType: config.SystemDefaulting},
		},
		{
			name: "minimal berth profile",
			yaml: `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: berth-scheduler
    plugins:
      multiPoint:
        enabled:
          - name: PodmanFit
          - name: PodmanScore
          - name: PodmanBind
`,
			wantScore: defaultScoreArgs(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := decode([]byte(tc.yaml))
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("decoding succeeded, want an error containing %q", tc.wantErr)
				}
				if !runtime.IsStrictDecodingError(err) {
					t.Errorf("error %v is not a strict decoding error", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("decoding: %v", err)
			}
			berth := profile(t, cfg, "berth-scheduler")
			if diff := cmp.Diff(tc.wantScore, pluginArgs(berth, podmanscore.Name)); diff != "" {
				t.Errorf("PodmanScore args (-want,+got):\n%s", diff)
			}
			if _, ok := pluginArgs(berth, podmanfit.Name).(*berthconfig.PodmanFitArgs); !ok {
				t.Errorf("PodmanFit args = %#v, want *PodmanFitArgs", pluginArgs(berth, podmanfit.Name))
			}
			if err := validation.ValidateKubeSchedulerConfiguration(cfg); err != nil {
				t.Errorf("ValidateKubeSchedulerConfiguration: %v", err)
			}
		})
	}
}

// newProfileFramework builds a profile into a framework with the in-tree registry and Berth's plugins, as
// berth-scheduler does.
func newProfileFramework(ctx context.Context, t *testing.T, prof *config.KubeSchedulerProfile, client clientset.Interface, factory informers.SharedInformerFactory, snapshot *cache.Snapshot) framework.Framework {
	t.Helper()
	registry := intree.NewInTreeRegistry()
	if err := registry.Merge(frameworkruntime.Registry{
		podmanfit.Name:   podmanfit.New,
		podmanscore.Name: podmanscore.New,
		podmanbind.Name:  podmanbind.New,
	}); err != nil {
		t.Fatal(err)
	}
	f, err := frameworkruntime.NewFramework(ctx, registry, prof,
		frameworkruntime.WithClientSet(client),
		frameworkruntime.WithInformerFactory(factory),
		frameworkruntime.WithSnapshotSharedLister(snapshot),
	)
	if err != nil {
		t.Fatalf("building the %s profile: %v", prof.SchedulerName, err)
	}
	return f
}

// TestSchedulerConfigFramework builds the berth-scheduler profile into a framework with the in-tree registry and
// Berth's plugins, as berth-scheduler does, and checks what runs at each extension point.
func TestSchedulerConfigFramework(t *testing.T) {
	cfg, err := decode(readManifest(t))
	if err != nil {
		t.Fatal(err)
	}
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	client := fake.NewClientset()
	f := newProfileFramework(ctx, t, profile(t, cfg, "berth-scheduler"), client, informers.NewSharedInformerFactory(client, 0), cache.NewEmptySnapshot())
	plugins := f.ListPlugins()
	names := func(ps config.PluginSet) []string {
		var out []string
		for _, p := range ps.Enabled {
			out = append(out, p.Name)
		}
		return out
	}
	checks := []struct {
		point   string
		set     config.PluginSet
		want    []string
		notWant []string
	}{
		{point: "Filter", set: plugins.Filter, want: []string{podmanfit.Name, "PodTopologySpread", "TaintToleration"},
			notWant: []string{"NodeResourcesFit", "NodePorts", "NodeUnschedulable"}},
		{point: "PreFilter", set: plugins.PreFilter, want: []string{podmanfit.Name, "PodTopologySpread"}, notWant: []string{"NodeResourcesFit", "NodePorts"}},
		// PodmanScore scores soft topology spread in PodTopologySpread's place (TestSchedulerConfigSoftTopologySpread).
		{point: "Score", set: plugins.Score, want: []string{podmanscore.Name},
			notWant: []string{"NodeResourcesFit", "NodeResourcesBalancedAllocation", "ImageLocality", "PodTopologySpread"}},
		{point: "PreScore", set: plugins.PreScore, want: []string{podmanscore.Name}, notWant: []string{"PodTopologySpread"}},
		{point: "Bind", set: plugins.Bind, want: []string{podmanbind.Name}, notWant: []string{"DefaultBinder"}},
	}
	for _, c := range checks {
		got := names(c.set)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: %s missing from %v", c.point, w, got)
			}
		}
		for _, n := range c.notWant {
			if slices.Contains(got, n) {
				t.Errorf("%s: %s enabled in %v", c.point, n, got)
			}
		}
	}
	for _, p := range plugins.Score.Enabled {
		if p.Name == podmanscore.Name && p.Weight != 7 {
			t.Errorf("PodmanScore score weight = %d, want 7", p.Weight)
		}
	}
	if got := names(plugins.Bind); len(got) != 1 {
		t.Errorf("bind plugins = %v, want only PodmanBind", got)
	}
}

// TestSchedulerConfigSoftTopologySpread checks that the berth-scheduler profile ranks nodes by soft topology
// spread as the default profile does: by a pod's whenUnsatisfiable: ScheduleAnyway constraints, and by the
// cluster's default constraints (hostname and zone) for a ReplicaSet's pod without any. Every node holds the same
// requests and none of the pods' controllers, so that only the spread tells the nodes apart: PodmanScore's
// topology spread part in the berth-scheduler profile equals PodTopologySpread's score in the default profile, the
// nodes fall in the same order, and the best ones are where the pod's group has the fewest pods.
func TestSchedulerConfigSoftTopologySpread(t *testing.T) {
	cfg, err := decode(readManifest(t))
	if err != nil {
		t.Fatal(err)
	}
	const zone = corev1.LabelTopologyZone
	node := func(name, z string) *corev1.Node {
		return st.MakeNode().Name(name).Label(corev1.LabelHostname, name).Label(zone, z).
			Capacity(map[corev1.ResourceName]string{corev1.ResourceCPU: "4", corev1.ResourceMemory: "8Gi", corev1.ResourcePods: "32"}).Obj()
	}
	nodes := []*corev1.Node{node("a1", "a"), node("a2", "a"), node("b1", "b"), node("b2", "b")}
	// Three pods on each node, as many web pods as given: 2, 1, 0, 1 (3 in zone a, 1 in zone b).
	var pods []*corev1.Pod
	for nodeName, web := range map[string]int{"a1": 2, "a2": 1, "b1": 0, "b2": 1} {
		for i := range 3 {
			app := "other"
			if i < web {
				app = "web"
			}
			pods = append(pods, st.MakePod().Namespace("default").Name(fmt.Sprintf("%s-%d", nodeName, i)).UID(fmt.Sprintf("%s-%d", nodeName, i)).
				Label("app", app).Node(nodeName).Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "100m", corev1.ResourceMemory: "128Mi"}).Obj())
		}
	}
	web := st.MakeLabelSelector().Label("app", "web").Obj()
	newPod := func() *st.PodWrapper {
		return st.MakePod().Namespace("default").Name("new").UID("new").Label("app", "web").
			Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "100m", corev1.ResourceMemory: "128Mi"})
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "web-rs"},
		Spec:       appsv1.ReplicaSetSpec{Selector: web},
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		// wantOrder is the nodes from best to worst, nodes that tie together.
		wantOrder [][]string
	}{
		{
			name:      "ScheduleAnyway over zones",
			pod:       newPod().SpreadConstraint(1, zone, corev1.ScheduleAnyway, web, nil, nil, nil, nil).Obj(),
			wantOrder: [][]string{{"b1", "b2"}, {"a1", "a2"}},
		},
		{
			name:      "ScheduleAnyway over hostnames",
			pod:       newPod().SpreadConstraint(1, corev1.LabelHostname, corev1.ScheduleAnyway, web, nil, nil, nil, nil).Obj(),
			wantOrder: [][]string{{"b1"}, {"a2", "b2"}, {"a1"}},
		},
		{
			// The ReplicaSet's selector counts the web pods, though they are not its own (PodmanScore's spread
			// counts only those).
			name:      "default constraints of a ReplicaSet's pod",
			pod:       newPod().OwnerReference("web", appsv1.SchemeGroupVersion.WithKind("ReplicaSet")).Obj(),
			wantOrder: [][]string{{"b1"}, {"b2"}, {"a2"}, {"a1"}},
		},
	}

	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := fake.NewClientset(rs)
	factory := informers.NewSharedInformerFactory(client, 0)
	snapshot := cache.NewSnapshot(pods, nodes)
	frameworks := map[string]framework.Framework{}
	for _, name := range []string{"default-scheduler", "berth-scheduler"} {
		// Without the scheduler's DRA manager, which no pod here needs.
		prof := profile(t, cfg, name).DeepCopy()
		prof.Plugins.MultiPoint.Enabled = slices.DeleteFunc(prof.Plugins.MultiPoint.Enabled, func(p config.Plugin) bool { return p.Name == "DynamicResources" })
		frameworks[name] = newProfileFramework(ctx, t, prof, client, factory, snapshot)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spread := map[string]map[string]int64{}
			for name, f := range frameworks {
				scores, state := scoreNodes(ctx, t, f, snapshot, tc.pod)
				spread[name] = map[string]int64{}
				for _, s := range scores {
					for _, ps := range s.Scores {
						if ps.Name == "PodTopologySpread" {
							// Weighted by the profile's weight for it, 2.
							spread[name][s.Name] = ps.Score / 2
							if name == "berth-scheduler" {
								t.Errorf("berth-scheduler: PodTopologySpread scored node %s", s.Name)
							}
						}
					}
					if name == "berth-scheduler" {
						bd, ok := berthBreakdown(t, state).Node(s.Name)
						if !ok {
							t.Errorf("berth-scheduler: no breakdown for node %s", s.Name)
						}
						spread[name][s.Name] = bd.TopologySpread
					}
				}
				if diff := cmp.Diff(tc.wantOrder, rankOrder(scores)); diff != "" {
					t.Errorf("%s: nodes from best to worst (-want,+got):\n%s\nscores: %+v", name, diff, scores)
				}
			}
			if len(spread["berth-scheduler"]) != len(nodes) {
				t.Errorf("berth-scheduler: PodmanScore scored %d nodes, want %d", len(spread["berth-scheduler"]), len(nodes))
			}
			if diff := cmp.Diff(spread["default-scheduler"], spread["berth-scheduler"]); diff != "" {
				t.Errorf("PodTopologySpread's scores in the default profile, PodmanScore's topology spread part in Berth's (-default-scheduler,+berth-scheduler):\n%s", diff)
			}
		})
	}
}

// berthBreakdown reads PodmanScore's breakdown from a cycle's state.
func berthBreakdown(t *testing.T, state fwk.CycleState) *decision.Scores {
	t.Helper()
	data, err := state.Read(decision.StateKey)
	if err != nil {
		t.Fatalf("no PodmanScore breakdown: %v", err)
	}
	return data.(*decision.Scores)
}

// scoreNodes runs one scheduling cycle of pod up to Score: the nodes of the snapshot that pass the filters, with
// their scores, and the cycle's state.
func scoreNodes(ctx context.Context, t *testing.T, f framework.Framework, snapshot *cache.Snapshot, pod *corev1.Pod) ([]fwk.NodePluginScores, fwk.CycleState) {
	t.Helper()
	state := framework.NewCycleState()
	if _, s, _ := f.RunPreFilterPlugins(ctx, state, pod); !s.IsSuccess() {
		t.Fatalf("%s: PreFilter: %v", f.ProfileName(), s)
	}
	all, err := snapshot.NodeInfos().List()
	if err != nil {
		t.Fatal(err)
	}
	var feasible []fwk.NodeInfo
	for _, ni := range all {
		if s := f.RunFilterPlugins(ctx, state, pod, ni); s.IsSuccess() {
			feasible = append(feasible, ni)
		} else {
			t.Errorf("%s: node %s filtered out: %v", f.ProfileName(), ni.Node().Name, s)
		}
	}
	if s := f.RunPreScorePlugins(ctx, state, pod, feasible); !s.IsSuccess() {
		t.Fatalf("%s: PreScore: %v", f.ProfileName(), s)
	}
	scores, s := f.RunScorePlugins(ctx, state, pod, feasible)
	if !s.IsSuccess() {
		t.Fatalf("%s: Score: %v", f.ProfileName(), s)
	}
	return scores, state
}

// rankOrder lists the nodes from the highest total score to the lowest, those with the same score together (by
// name).
func rankOrder(scores []fwk.NodePluginScores) [][]string {
	sorted := slices.Clone(scores)
	slices.SortFunc(sorted, func(a, b fwk.NodePluginScores) int {
		switch {
		case a.TotalScore > b.TotalScore:
			return -1
		case a.TotalScore < b.TotalScore:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	var out [][]string
	for i, s := range sorted {
		if i > 0 && s.TotalScore == sorted[i-1].TotalScore {
			out[len(out)-1] = append(out[len(out)-1], s.Name)
			continue
		}
		out = append(out, []string{s.Name})
	}
	return out
}
