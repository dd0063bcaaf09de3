package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/berth-dev/berth/provider/podman"
)

const testNodeIP = "192.168.56.10"

// fakeRuntime is a Podman host that can be stopped and started again.
type fakeRuntime struct {
	mu     sync.Mutex
	down   bool
	images []podman.Image
}

func (f *fakeRuntime) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeRuntime) unreachable() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("podman is down")
	}
	return nil
}

func (f *fakeRuntime) Info(context.Context) (podman.HostInfo, error) {
	if err := f.unreachable(); err != nil {
		return podman.HostInfo{}, err
	}
	return podman.HostInfo{Hostname: "fake", CPUs: 2, MemTotal: 4 << 30, MemFree: 2 << 30, OS: "fake", Arch: "amd64", Kernel: "6.0", Version: "4.9.5"}, nil
}

func (f *fakeRuntime) ListImages(context.Context) ([]podman.Image, error) {
	if err := f.unreachable(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.images), nil
}

// TestNodeReadyFollowsPodman checks that the node's Ready condition follows Podman (False with PodmanUnreachable
// while it does not answer) while Ping, on which virtual-kubelet's status updates and lease renewals hang, stays
// healthy.
func TestNodeReadyFollowsPodman(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	fake := &fakeRuntime{images: []podman.Image{{ID: "busybox", Names: []string{"busybox"}, Size: 1 << 20}}}
	n := New(ctx, Config{Name: "node-a", IP: testNodeIP, Runtime: fake})
	ready := func() corev1.NodeCondition {
		var node corev1.Node
		n.Configure(&node)
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c
			}
		}
		t.Fatalf("no Ready condition in %+v", node.Status.Conditions)
		return corev1.NodeCondition{}
	}
	now := time.Now()
	steps := []struct {
		name       string
		down       bool
		wantStatus corev1.ConditionStatus
		wantReason string
	}{
		{"podman answers", false, corev1.ConditionTrue, "PodmanReady"},
		{"podman stopped", true, corev1.ConditionFalse, "PodmanUnreachable"},
		{"podman started again", false, corev1.ConditionTrue, "PodmanReady"},
	}
	for i, st := range steps {
		fake.setDown(st.down)
		changed := n.observe(ctx, now.Add(time.Duration(i)*time.Second))
		if c := ready(); c.Status != st.wantStatus || c.Reason != st.wantReason {
			t.Errorf("%s: Ready = %s (%s), want %s (%s)", st.name, c.Status, c.Reason, st.wantStatus, st.wantReason)
		}
		if i > 0 && !changed {
			t.Errorf("%s: observe reported no change", st.name)
		}
		if err := n.Ping(ctx); err != nil {
			t.Errorf("%s: Ping = %v, want nil whatever Podman's state", st.name, err)
		}
	}
}

// TestNodeDeclaresInitContainerResize: the node declares that it resizes non-sidecar init containers (so the
// apiserver lets such resizes through), and not pod-level resources.
func TestNodeDeclaresInitContainerResize(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	n := New(ctx, Config{Name: "node-a", IP: testNodeIP, Runtime: &fakeRuntime{}})
	var node corev1.Node
	n.Configure(&node)
	if want := []string{"InPlacePodVerticalScalingInitContainers"}; !slices.Equal(node.Status.DeclaredFeatures, want) {
		t.Errorf("declared features %q, want %q", node.Status.DeclaredFeatures, want)
	}
}

// TestNodeConditions checks the conditions the setters write, in the kubelet's order, and that a condition's
// transition time moves only when its status does.
func TestNodeConditions(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	fake := &fakeRuntime{}
	n := New(ctx, Config{Name: "node-a", IP: testNodeIP, Runtime: fake})
	var created corev1.Node
	n.Configure(&created)
	start := time.Now().Add(time.Hour)
	steps := []struct {
		name string
		down bool
		// want is each condition's type, status and when it last changed: "new" (the node's first observation)
		// or the index of the step.
		want []string
	}{
		{name: "answers", want: []string{"Ready=True@new", "MemoryPressure=False@new", "DiskPressure=False@new", "PIDPressure=False@new"}},
		{name: "stopped", down: true, want: []string{"Ready=False@1", "MemoryPressure=False@new", "DiskPressure=False@new", "PIDPressure=False@new"}},
		{name: "still stopped", down: true, want: []string{"Ready=False@1", "MemoryPressure=False@new", "DiskPressure=False@new", "PIDPressure=False@new"}},
		{name: "started again", want: []string{"Ready=True@3", "MemoryPressure=False@new", "DiskPressure=False@new", "PIDPressure=False@new"}},
	}
	for i, st := range steps {
		fake.setDown(st.down)
		now := start.Add(time.Duration(i) * time.Minute)
		n.observe(ctx, now)
		var node corev1.Node
		n.Configure(&node)
		var got []string
		for j, c := range node.Status.Conditions {
			when := "new"
			if !c.LastTransitionTime.Equal(&created.Status.Conditions[j].LastTransitionTime) {
				when = fmt.Sprint(int(c.LastTransitionTime.Sub(start) / time.Minute))
			}
			got = append(got, fmt.Sprintf("%s=%s@%s", c.Type, c.Status, when))
			if !c.LastHeartbeatTime.Time.Equal(now) {
				t.Errorf("%s: %s heartbeat %v, want this observation's", st.name, c.Type, c.LastHeartbeatTime)
			}
		}
		if !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: conditions %q, want %q", st.name, got, st.want)
		}
	}
}

func TestNodeImages(t *testing.T) {
	many := make([]podman.Image, maxImages+5)
	for i := range many {
		many[i] = podman.Image{ID: fmt.Sprint(i), Names: []string{fmt.Sprintf("img-%d", i)}, Size: int64(i)}
	}
	tests := []struct {
		name      string
		images    []podman.Image
		wantFirst string
		wantLen   int
	}{
		{name: "none", wantLen: 0},
		{name: "largest first, unnamed left out", images: []podman.Image{
			{ID: "a", Names: []string{"small"}, Size: 1}, {ID: "b", Size: 100}, {ID: "c", Names: []string{"big"}, Size: 50}},
			wantFirst: "big", wantLen: 2},
		{name: "at most maxImages", images: many, wantFirst: fmt.Sprintf("img-%d", maxImages+4), wantLen: maxImages},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nodeImages(tc.images)
			if len(got) != tc.wantLen {
				t.Fatalf("%d images, want %d", len(got), tc.wantLen)
			}
			if tc.wantLen > 0 && got[0].Names[0] != tc.wantFirst {
				t.Errorf("first image %q, want %q", got[0].Names, tc.wantFirst)
			}
		})
	}
}
