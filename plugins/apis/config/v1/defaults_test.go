package v1_test

import (
	corev1 "k8s.io/api/core/v1"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	schedscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	schedconfigv1 "k8s.io/kubernetes/pkg/scheduler/apis/config/v1"

	"github.com/berth-dev/berth/plugins/apis/config"
	_ "github.com/berth-dev/berth/plugins/apis/config/scheme"
	v1 "github.com/berth-dev/berth/plugins/apis/config/v1"
)

func duration(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func TestSetDefaultsPodmanScoreArgs(t *testing.T) {
	tests := []struct {
		name string
		in   *v1.PodmanScoreArgs
		want *v1.PodmanScoreArgs
	}{
		{
			name: "empty",
			in:   &v1.PodmanScoreArgs{},
			want: &v1.PodmanScoreArgs{
				SpreadWeight: new(int64(3)), LoadWeight: new(int64(2)), ImageWeight: new(int64(1)),
				ObservedUsagePercent: new(int64(50)), MaxObservationAge: duration(30 * time.Second),
				TopologySpreadWeight: new(int64(0)), DefaultingType: "System",
			},
		},
		{
			name: "set fields are kept, explicit zeros included",
			in: &v1.PodmanScoreArgs{
				SpreadWeight: new(int64(10)), ImageWeight: new(int64(0)), ObservedUsagePercent: new(int64(0)),
				MaxObservationAge: duration(time.Minute), TopologySpreadWeight: new(int64(4)), DefaultingType: "List",
				DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway}},
			},
			want: &v1.PodmanScoreArgs{
				SpreadWeight: new(int64(10)), LoadWeight: new(int64(2)), ImageWeight: new(int64(0)),
				ObservedUsagePercent: new(int64(0)), MaxObservationAge: duration(time.Minute),
				TopologySpreadWeight: new(int64(4)), DefaultingType: "List",
				DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			direct := tc.in.DeepCopy()
			v1.SetDefaultsPodmanScoreArgs(direct)
			if diff := cmp.Diff(tc.want, direct); diff != "" {
				t.Errorf("SetDefaultsPodmanScoreArgs (-want,+got):\n%s", diff)
			}
			// The same defaults through the kube-scheduler's scheme, where the scheme package registers them.
			viaScheme := tc.in.DeepCopy()
			schedscheme.Scheme.Default(viaScheme)
			if diff := cmp.Diff(tc.want, viaScheme); diff != "" {
				t.Errorf("scheme defaults (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestSetDefaultsPodmanFitArgs(t *testing.T) {
	tests := []struct {
		name string
		in   *v1.PodmanFitArgs
		want *v1.PodmanFitArgs
	}{
		{
			name: "empty",
			in:   &v1.PodmanFitArgs{},
			want: &v1.PodmanFitArgs{ObservedMemory: new(true), MaxObservationAge: duration(30 * time.Second)},
		},
		{
			name: "observedMemory false is kept",
			in:   &v1.PodmanFitArgs{ObservedMemory: new(false)},
			want: &v1.PodmanFitArgs{ObservedMemory: new(false), MaxObservationAge: duration(30 * time.Second)},
		},
		{
			name: "maxObservationAge is kept",
			in:   &v1.PodmanFitArgs{MaxObservationAge: duration(2 * time.Minute)},
			want: &v1.PodmanFitArgs{ObservedMemory: new(true), MaxObservationAge: duration(2 * time.Minute)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			direct := tc.in.DeepCopy()
			v1.SetDefaultsPodmanFitArgs(direct)
			if diff := cmp.Diff(tc.want, direct); diff != "" {
				t.Errorf("SetDefaultsPodmanFitArgs (-want,+got):\n%s", diff)
			}
			viaScheme := tc.in.DeepCopy()
			schedscheme.Scheme.Default(viaScheme)
			if diff := cmp.Diff(tc.want, viaScheme); diff != "" {
				t.Errorf("scheme defaults (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestConvertToInternal(t *testing.T) {
	tests := []struct {
		name string
		in   runtime.Object
		out  runtime.Object
		want runtime.Object
	}{
		{
			name: "empty PodmanScoreArgs are defaulted",
			in:   &v1.PodmanScoreArgs{},
			out:  &config.PodmanScoreArgs{},
			want: &config.PodmanScoreArgs{
				SpreadWeight: 3, LoadWeight: 2, ImageWeight: 1, ObservedUsagePercent: 50,
				MaxObservationAge: metav1.Duration{Duration: 30 * time.Second}, DefaultingType: "System",
			},
		},
		{
			name: "PodmanScoreArgs with values",
			in: &v1.PodmanScoreArgs{
				SpreadWeight: new(int64(0)), LoadWeight: new(int64(7)), ObservedUsagePercent: new(int64(100)),
				MaxObservationAge: duration(10 * time.Second),
			},
			out: &config.PodmanScoreArgs{},
			want: &config.PodmanScoreArgs{
				SpreadWeight: 0, LoadWeight: 7, ImageWeight: 1, ObservedUsagePercent: 100,
				MaxObservationAge: metav1.Duration{Duration: 10 * time.Second}, DefaultingType: "System",
			},
		},
		{
			name: "empty PodmanFitArgs are defaulted",
			in:   &v1.PodmanFitArgs{},
			out:  &config.PodmanFitArgs{},
			want: &config.PodmanFitArgs{ObservedMemory: true, MaxObservationAge: metav1.Duration{Duration: 30 * time.Second}},
		},
		{
			name: "PodmanFitArgs with values",
			in:   &v1.PodmanFitArgs{ObservedMemory: new(false), MaxObservationAge: duration(time.Minute)},
			out:  &config.PodmanFitArgs{},
			want: &config.PodmanFitArgs{ObservedMemory: false, MaxObservationAge: metav1.Duration{Duration: time.Minute}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Through the kube-scheduler's configuration scheme.
			out := tc.out.DeepCopyObject()
			if err := schedscheme.Scheme.Convert(tc.in.DeepCopyObject(), out, nil); err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if diff := cmp.Diff(tc.want, out); diff != "" {
				t.Errorf("converted (-want,+got):\n%s", diff)
			}
			// Through the scheme the kube-scheduler converts pluginConfig args with.
			internal, err := schedconfigv1.GetPluginArgConversionScheme().ConvertToVersion(tc.in.DeepCopyObject(), config.SchemeGroupVersion)
			if err != nil {
				t.Fatalf("ConvertToVersion: %v", err)
			}
			internal.GetObjectKind().SetGroupVersionKind(tc.want.GetObjectKind().GroupVersionKind())
			if diff := cmp.Diff(tc.want, internal); diff != "" {
				t.Errorf("converted by the plugin arg scheme (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestConvertFromInternal(t *testing.T) {
	in := &config.PodmanScoreArgs{SpreadWeight: 4, LoadWeight: 0, ImageWeight: 9, ObservedUsagePercent: 25, MaxObservationAge: metav1.Duration{Duration: time.Minute},
		TopologySpreadWeight: 3, DefaultingType: "List", DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 2, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway}}}
	out := &v1.PodmanScoreArgs{}
	if err := schedscheme.Scheme.Convert(in, out, nil); err != nil {
		t.Fatalf("Convert: %v", err)
	}
	want := &v1.PodmanScoreArgs{
		SpreadWeight: new(int64(4)), LoadWeight: new(int64(0)), ImageWeight: new(int64(9)),
		ObservedUsagePercent: new(int64(25)), MaxObservationAge: duration(time.Minute),
		TopologySpreadWeight: new(int64(3)), DefaultingType: "List", DefaultConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 2, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway}},
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("converted (-want,+got):\n%s", diff)
	}
	back := &config.PodmanScoreArgs{}
	if err := schedscheme.Scheme.Convert(out, back, nil); err != nil {
		t.Fatalf("Convert back: %v", err)
	}
	if diff := cmp.Diff(in, back); diff != "" {
		t.Errorf("round trip (-want,+got):\n%s", diff)
	}

	fitIn := &config.PodmanFitArgs{ObservedMemory: false, MaxObservationAge: metav1.Duration{Duration: 5 * time.Second}}
	fitOut := &v1.PodmanFitArgs{}
	if err := schedscheme.Scheme.Convert(fitIn, fitOut, nil); err != nil {
		t.Fatalf("Convert: %v", err)
	}
	if diff := cmp.Diff(&v1.PodmanFitArgs{ObservedMemory: new(false), MaxObservationAge: duration(5 * time.Second)}, fitOut); diff != "" {
		t.Errorf("converted (-want,+got):\n%s", diff)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    runtime.Object
		wantErr string
	}{
		{
			name: "PodmanScoreArgs, partly set",
			yaml: "apiVersion: kubescheduler.config.k8s.io/v1\nkind: PodmanScoreArgs\nspreadWeight: 5\nmaxObservationAge: 1m\n",
			want: &config.PodmanScoreArgs{
				SpreadWeight: 5, LoadWeight: 2, ImageWeight: 1, ObservedUsagePercent: 50,
				MaxObservationAge: metav1.Duration{Duration: time.Minute}, DefaultingType: "System",
			},
		},
		{
			name: "PodmanFitArgs, empty",
			yaml: "apiVersion: kubescheduler.config.k8s.io/v1\nkind: PodmanFitArgs\n",
			want: &config.PodmanFitArgs{ObservedMemory: true, MaxObservationAge: metav1.Duration{Duration: 30 * time.Second}},
		},
		{
			name:    "unknown field",
			yaml:    "apiVersion: kubescheduler.config.k8s.io/v1\nkind: PodmanScoreArgs\nspreadWieght: 5\n",
			wantErr: `unknown field "spreadWieght"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj, _, err := schedscheme.Codecs.UniversalDecoder().Decode([]byte(tc.yaml), nil, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Decode error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			obj.GetObjectKind().SetGroupVersionKind(tc.want.GetObjectKind().GroupVersionKind())
			if diff := cmp.Diff(tc.want, obj); diff != "" {
				t.Errorf("decoded (-want,+got):\n%s", diff)
			}
		})
	}
}
