package plugins_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/validation"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	intree "k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"

	berthconfig "github.com/berth-dev/berth/plugins/apis/config"
	_ "github.com/berth-dev/berth/plugins/apis/config/scheme"
	"github.com/berth-dev/berth/plugins/podmanbind"
	"github.com/berth-dev/berth/plugins/podmanfit"
	"github.com/berth-dev/berth/plugins/podmanscore"
)

func init() {
	metrics.Register()
}

const manifestPath = "../manifests/scheduler-config.yaml"

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

func defaultScoreArgs() *berthconfig.PodmanScoreArgs {
	return &berthconfig.PodmanScoreArgs{
		SpreadWeight: 3, LoadWeight: 2, ImageWeight: 1, ObservedUsagePercent: 50,
		MaxObservationAge: metav1.Duration{Duration: 30 * time.Second},
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
	if diff := cmp.Diff(defaultScoreArgs(), pluginArgs(berth, podmanscore.Name)); diff != "" {
		t.Errorf("PodmanScore args (-want,+got):\n%s", diff)
	}
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
	if enabled[podmanscore.Name] != 5 {
		t.Errorf("PodmanScore weight = %d, want 5", enabled[podmanscore.Name])
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

func TestSchedulerConfigVariants(t *testing.T) {
	data := string(readManifest(t))
	const scoreConfig = "      - name: PodmanScore\n        args:\n"
	if !strings.Contains(data, scoreConfig) || !strings.Contains(data, "spreadWeight: 3") {
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
			yaml:    strings.Replace(data, "spreadWeight: 3", "spreadWieght: 3", 1),
			wantErr: []string{"strict decoding error", "decoding .profiles[1].pluginConfig[1]", "PodmanScore", `unknown field "spreadWieght"`},
		},
		{
			name: "no pluginConfig for PodmanScore gets defaulted args",
			// PodmanScore's entry is the last of the file.
			yaml:      data[:strings.Index(data, scoreConfig)],
			wantScore: defaultScoreArgs(),
		},
		{
			name:      "partial PodmanScore args are defaulted",
			yaml:      strings.Replace(strings.Replace(data, "          loadWeight: 2\n", "", 1), "spreadWeight: 3", "spreadWeight: 9", 1),
			wantScore: &berthconfig.PodmanScoreArgs{SpreadWeight: 9, LoadWeight: 2, ImageWeight: 1, ObservedUsagePercent: 50, MaxObservationAge: metav1.Duration{Duration: 30 * time.Second}},
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

	registry := intree.NewInTreeRegistry()
	if err := registry.Merge(frameworkruntime.Registry{
		podmanfit.Name:   podmanfit.New,
		podmanscore.Name: podmanscore.New,
		podmanbind.Name:  podmanbind.New,
	}); err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	f, err := frameworkruntime.NewFramework(ctx, registry, profile(t, cfg, "berth-scheduler"),
		frameworkruntime.WithClientSet(client),
		frameworkruntime.WithInformerFactory(informers.NewSharedInformerFactory(client, 0)),
		frameworkruntime.WithSnapshotSharedLister(cache.NewEmptySnapshot()),
	)
	if err != nil {
		t.Fatalf("building the berth-scheduler profile: %v", err)
	}
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
		{point: "PreFilter", set: plugins.PreFilter, want: []string{podmanfit.Name}, notWant: []string{"NodeResourcesFit", "NodePorts"}},
		{point: "Score", set: plugins.Score, want: []string{podmanscore.Name},
			notWant: []string{"PodTopologySpread", "NodeResourcesFit", "NodeResourcesBalancedAllocation", "ImageLocality"}},
		{point: "PreScore", set: plugins.PreScore, want: []string{podmanscore.Name}},
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
		if p.Name == podmanscore.Name && p.Weight != 5 {
			t.Errorf("PodmanScore score weight = %d, want 5", p.Weight)
		}
	}
	if got := names(plugins.Bind); len(got) != 1 {
		t.Errorf("bind plugins = %v, want only PodmanBind", got)
	}
}
