package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
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

// TestNodeReadyFollowsPodman checks that the node's Ready condition follows Podman as a kubelet's follows its
// container runtime: False (PodmanUnreachable) while Podman has never answered, or has not answered for
// UnreachableAfter (30 s by default), and left as it was (Ready) by failures within that time; that capacity and
// images, and observed-at, stay those of the last answer; and that Ping, on which
// virtual-kubelet's status updates and lease renewals hang, stays healthy whatever Podman's state. Every scenario
// starts from a node created while Podman is down (its first observation fails).
func TestNodeReadyFollowsPodman(t *testing.T) {
	const down, up = true, false
	type step struct {
		at   time.Duration // after the scenario's start
		down bool
		// wantStatus, wantReason and wantMsg are the Ready condition's; {answer} in wantMsg stands for the time
		// of the last answer (the step at wantAnswer).
		wantStatus corev1.ConditionStatus
		wantReason string
		wantMsg    string
		wantAnswer time.Duration
		// wantSince is the step at which the condition took its status; wantChanged is what observe reports.
		wantSince   time.Duration
		wantChanged bool
	}
	const (
		answering = "Podman is answering"
		notYet    = "Podman has not answered yet: podman is down"
	)
	tests := []struct {
		name             string
		unreachableAfter time.Duration
		steps            []step
	}{
		{name: "never answers", steps: []step{
			{at: 0, down: down, wantStatus: corev1.ConditionFalse, wantReason: "PodmanUnreachable", wantMsg: notYet, wantSince: -1},
			{at: time.Minute, down: down, wantStatus: corev1.ConditionFalse, wantReason: "PodmanUnreachable", wantMsg: notYet, wantSince: -1},
		}},
		{name: "first answer after a failed start", steps: []step{
			{at: 0, down: up, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering, wantChanged: true},
		}},
		{name: "one failure within the threshold", steps: []step{
			{at: 0, down: up, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering, wantChanged: true},
			{at: 5 * time.Second, down: down, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering},
			{at: 10 * time.Second, down: up, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering},
		}},
		{name: "failures beyond the threshold, then recovery", steps: []step{
			{at: 0, down: up, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering, wantChanged: true},
			{at: 5 * time.Second, down: down, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering},
			{at: 29 * time.Second, down: down, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering},
			{at: 30 * time.Second, down: down, wantStatus: corev1.ConditionFalse, wantReason: "PodmanUnreachable",
				wantMsg: "Podman has not answered for over 30s, since {answer}: podman is down", wantSince: 30 * time.Second, wantChanged: true},
			// The same outage: the message stays, so there is nothing new to write.
			{at: 35 * time.Second, down: down, wantStatus: corev1.ConditionFalse, wantReason: "PodmanUnreachable",
				wantMsg: "Podman has not answered for over 30s, since {answer}: podman is down", wantSince: 30 * time.Second},
			{at: 40 * time.Second, down: up, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering,
				wantAnswer: 40 * time.Second, wantSince: 40 * time.Second, wantChanged: true},
			// The threshold counts from the latest answer.
			{at: 65 * time.Second, down: down, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering,
				wantAnswer: 40 * time.Second, wantSince: 40 * time.Second},
		}},
		{name: "shorter threshold", unreachableAfter: 10 * time.Second, steps: []step{
			{at: 0, down: up, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering, wantChanged: true},
			{at: 9 * time.Second, down: down, wantStatus: corev1.ConditionTrue, wantReason: "PodmanReady", wantMsg: answering},
			{at: 10 * time.Second, down: down, wantStatus: corev1.ConditionFalse, wantReason: "PodmanUnreachable",
				wantMsg: "Podman has not answered for over 10s, since {answer}: podman is down", wantSince: 10 * time.Second, wantChanged: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			fake := &fakeRuntime{down: true, images: []podman.Image{{ID: "busybox", Names: []string{"busybox"}, Size: 1 << 20}}}
			n := New(ctx, Config{Name: "node-a", IP: testNodeIP, Runtime: fake, UnreachableAfter: tc.unreachableAfter})
			var created corev1.Node
			n.Configure(&created)
			if c := readyOf(t, &created); c.Status != corev1.ConditionFalse || c.Reason != "PodmanUnreachable" || c.Message != notYet {
				t.Fatalf("created while Podman is down: Ready = %s (%s: %s), want False (PodmanUnreachable: %s)", c.Status, c.Reason, c.Message, notYet)
			}
			start := time.Now().Add(time.Hour)
			answered, lastAnswer := false, ""
			for _, st := range tc.steps {
				fake.setDown(st.down)
				now := start.Add(st.at)
				changed := n.observe(ctx, now)
				answered = answered || !st.down
				var node corev1.Node
				n.Configure(&node)
				c := readyOf(t, &node)
				wantMsg := strings.ReplaceAll(st.wantMsg, "{answer}", start.Add(st.wantAnswer).UTC().Format(time.RFC3339))
				if c.Status != st.wantStatus || c.Reason != st.wantReason || c.Message != wantMsg {
					t.Errorf("at %s: Ready = %s (%s: %q), want %s (%s: %q)", st.at, c.Status, c.Reason, c.Message, st.wantStatus, st.wantReason, wantMsg)
				}
				wantSince := readyOf(t, &created).LastTransitionTime.Time
				if st.wantSince >= 0 {
					wantSince = start.Add(st.wantSince)
				}
				if !c.LastTransitionTime.Time.Equal(wantSince) {
					t.Errorf("at %s: Ready since %v, want %v", st.at, c.LastTransitionTime.Time, wantSince)
				}
				if !c.LastHeartbeatTime.Time.Equal(now) {
					t.Errorf("at %s: Ready heartbeat %v, want this observation's", st.at, c.LastHeartbeatTime.Time)
				}
				if changed != st.wantChanged {
					t.Errorf("at %s: observe reported a change %t, want %t", st.at, changed, st.wantChanged)
				}
				if !st.down {
					lastAnswer = now.UTC().Format(time.RFC3339)
				}
				if got := node.Annotations[AnnotationObservedAt]; got != lastAnswer {
					t.Errorf("at %s: observed-at %q, want the last answer's %q", st.at, got, lastAnswer)
				}
				// Capacity and images are the last answer's.
				if cpu := node.Status.Capacity.Cpu(); answered && (cpu.Value() != 2 || len(node.Status.Images) != 1) {
					t.Errorf("at %s: capacity %v, images %v; want the last answer's (2 CPUs, busybox)", st.at, node.Status.Capacity, node.Status.Images)
				}
				if err := n.Ping(ctx); err != nil {
					t.Errorf("at %s: Ping = %v, want nil whatever Podman's state", st.at, err)
				}
			}
		})
	}
}

// readyOf is the node's Ready condition.
func readyOf(t *testing.T, node *corev1.Node) corev1.NodeCondition {
	t.Helper()
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	t.Fatalf("no Ready condition in %+v", node.Status.Conditions)
	return corev1.NodeCondition{}
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

// TestNodeMaxPods checks that the node reports its max pods as pod capacity and allocatable, the kubelet's 110 when
// none is given.
func TestNodeMaxPods(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxPods int
		want    int64
	}{
		{name: "the kubelet's default", want: 110},
		{name: "more than the default", maxPods: 300, want: 300},
		{name: "fewer than the default", maxPods: 10, want: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			n := New(ctx, Config{Name: "node-a", IP: testNodeIP, Runtime: &fakeRuntime{}, MaxPods: tc.maxPods})
			var node corev1.Node
			n.Configure(&node)
			if got := node.Status.Capacity.Pods().Value(); got != tc.want {
				t.Errorf("capacity pods %d, want %d", got, tc.want)
			}
			if got := node.Status.Allocatable.Pods().Value(); got != tc.want {
				t.Errorf("allocatable pods %d, want %d", got, tc.want)
			}
			if allocatable := n.Allocatable(); allocatable.Pods().Value() != tc.want {
				t.Errorf("Allocatable() pods %d, want %d", allocatable.Pods().Value(), tc.want)
			}
		})
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

// TestNodeAvailableMemory checks the memory the node publishes for the scheduler's plugins: the host's
// MemAvailable, not Podman's MemFree (2Gi in fakeRuntime, page cache counting as used); none when it cannot be
// read or there is no reader (a remote Podman), rather than a stale one; and the last one while Podman does not
// answer, beside the unchanged observed-at of its answer.
func TestNodeAvailableMemory(t *testing.T) {
	type step struct {
		down  bool
		avail int64 // what the reader returns; -1 fails
		want  string
	}
	tests := []struct {
		name      string
		noReader  bool
		steps     []step
		wantFirst string // after New, whose first observation answers
	}{
		{name: "MemAvailable, not MemFree", wantFirst: "3221225472", steps: []step{
			{avail: 3 << 30, want: "3221225472"},
			{avail: 1 << 30, want: "1073741824"},
		}},
		{name: "a failed reading removes the last one", wantFirst: "3221225472", steps: []step{
			{avail: -1, want: ""},
			{avail: 3 << 30, want: "3221225472"},
		}},
		{name: "Podman not answering leaves the last one", wantFirst: "3221225472", steps: []step{
			{down: true, avail: 1 << 30, want: "3221225472"},
		}},
		{name: "no reader publishes none", noReader: true, steps: []step{
			{want: ""},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			fake := &fakeRuntime{}
			avail := int64(3 << 30)
			cfg := Config{Name: "node-a", IP: testNodeIP, Runtime: fake, MemAvailable: func() (int64, error) {
				if avail < 0 {
					return 0, errors.New("no MemAvailable")
				}
				return avail, nil
			}}
			if tc.noReader {
				cfg.MemAvailable = nil
			}
			n := New(ctx, cfg)
			annotation := func() string {
				var node corev1.Node
				n.Configure(&node)
				return node.Annotations[AnnotationFreeMemory]
			}
			if got := annotation(); got != tc.wantFirst {
				t.Errorf("created: %s = %q, want %q", AnnotationFreeMemory, got, tc.wantFirst)
			}
			start := time.Now()
			for i, st := range tc.steps {
				fake.setDown(st.down)
				avail = st.avail
				n.observe(ctx, start.Add(time.Duration(i+1)*5*time.Second))
				if got := annotation(); got != st.want {
					t.Errorf("step %d: %s = %q, want %q", i, AnnotationFreeMemory, got, st.want)
				}
			}
		})
	}
}

func TestRuntimeHandlers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handlers []string
		userns   bool
		want     []string
	}{
		{name: "the default runc", handlers: []string{"runc"}, want: []string{"", "runc"}},
		{name: "several, with user namespaces", handlers: []string{"runc", "crun"}, userns: true, want: []string{"", "runc", "crun"}},
		{name: "none configured: the default only", want: []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RuntimeHandlers(tc.handlers, tc.userns)
			var names []string
			for _, h := range got {
				names = append(names, h.Name)
				if h.Features == nil || *h.Features.RecursiveReadOnlyMounts || *h.Features.UserNamespaces != tc.userns {
					t.Errorf("handler %q features %+v, want no recursive read-only mounts and user namespaces %v", h.Name, h.Features, tc.userns)
				}
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("handlers %q, want %q", names, tc.want)
			}
		})
	}
}
