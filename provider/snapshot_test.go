package provider

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/provider/podstatus"

	"github.com/berth-dev/berth/provider/podspec"
)

const testNodeIP = "192.168.56.10"

// conditionOf is a status' condition of type typ, the zero value if it has none.
func conditionOf(st corev1.PodStatus, typ corev1.PodConditionType) corev1.PodCondition {
	if i := slices.IndexFunc(st.Conditions, func(c corev1.PodCondition) bool { return c.Type == typ }); i >= 0 {
		return st.Conditions[i]
	}
	return corev1.PodCondition{}
}

// deriveStatus is the status of a record as podstatus derives it from the record's snapshot, Podman answering.
func deriveStatus(r *podRecord, now time.Time) corev1.PodStatus {
	return podstatus.Derive(r.snapshot(nil), testNodeIP, now)
}

// reportStatus commits the record's status at now, as the provider's write side does on a change, and returns it
// as a reader then sees it.
func reportStatus(p *Provider, r *podRecord, now time.Time) corev1.PodStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.commitLocked(r, now)
	return p.statusLocked(r)
}

func TestSnapshot(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	sidecar := testContainer("side", "busybox")
	sidecar.RestartPolicy = &always
	pod := withEphemeral(lifecyclePod("p", corev1.RestartPolicyAlways, []corev1.Container{testContainer("init", "busybox"), sidecar},
		testContainer("a", "busybox")), ephemeralContainer("dbg", "busybox", ""))
	down := &outage{since: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), err: errors.New("connection refused")}
	tests := []struct {
		name   string
		change func(r *podRecord)
		stale  *outage
		check  func(t *testing.T, s *podstatus.Pod)
	}{
		{name: "fresh record: every container waits", check: func(t *testing.T, s *podstatus.Pod) {
			var got []string
			for _, c := range s.Containers {
				got = append(got, c.Spec.Name+":"+c.State.Waiting.Reason)
			}
			want := []string{"init:PodInitializing", "side:PodInitializing", "a:PodInitializing", "dbg:PodInitializing"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("containers (-want +got):\n%s", diff)
			}
			if s.SandboxReady || s.SandboxExists || s.Terminal || s.Stale != nil || s.Pod.Name != "p" {
				t.Errorf("snapshot %+v, want no sandbox, not terminal, not stale", s)
			}
		}},
		{name: "kinds", check: func(t *testing.T, s *podstatus.Pod) {
			var got []podstatus.Kind
			for _, c := range s.Containers {
				got = append(got, c.Kind)
			}
			if diff := cmp.Diff([]podstatus.Kind{podstatus.Init, podstatus.Sidecar, podstatus.Regular, podstatus.Ephemeral}, got); diff != "" {
				t.Errorf("kinds (-want +got):\n%s", diff)
			}
		}},
		{name: "sandbox made", change: func(r *podRecord) { r.podmanID, r.sandbox = "pod1", true },
			check: func(t *testing.T, s *podstatus.Pod) {
				if !s.SandboxReady || !s.SandboxExists {
					t.Errorf("sandbox ready %v exists %v, want both", s.SandboxReady, s.SandboxExists)
				}
			}},
		{name: "sandbox removed", change: func(r *podRecord) { r.podmanID, r.removed, r.terminal = "pod1", true, true },
			check: func(t *testing.T, s *podstatus.Pod) {
				if s.SandboxReady || s.SandboxExists || !s.Terminal {
					t.Errorf("sandbox ready %v exists %v terminal %v, want neither, terminal", s.SandboxReady, s.SandboxExists, s.Terminal)
				}
			}},
		{name: "a run and its cgroup", change: func(r *podRecord) {
			c := r.app[0]
			c.id, c.attempts, c.started, c.ready, c.imageID = "c1", 3, true, true, "abc"
			c.applied = &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			}
		}, check: func(t *testing.T, s *podstatus.Pod) {
			c := s.Containers[2]
			if c.ID != "c1" || c.Attempts != 3 || c.RestartCount() != 2 || !c.Started || !c.Ready || c.ImageID != "abc" {
				t.Errorf("container snapshot %+v", c)
			}
			want := &podstatus.Cgroup{CPUShares: 256, CPUQuota: 100000, CPUPeriod: 100000, MemoryLimit: 128 << 20, MemoryRequest: resource.MustParse("64Mi")}
			if diff := cmp.Diff(want, c.Cgroup); diff != "" {
				t.Errorf("cgroup (-want +got):\n%s", diff)
			}
			if s.Containers[0].Cgroup != nil {
				t.Errorf("cgroup %+v of a container without a run, want none", s.Containers[0].Cgroup)
			}
		}},
		{name: "stale", stale: down, check: func(t *testing.T, s *podstatus.Pod) {
			if s.Stale == nil || !s.Stale.Since.Equal(down.since) || s.Stale.Err != down.err {
				t.Errorf("stale %+v, want the outage %+v", s.Stale, down)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newPodRecord(pod, podspec.PodName(pod))
			if tc.change != nil {
				tc.change(r)
			}
			tc.check(t, r.snapshot(tc.stale))
		})
	}
}

// TestCommitTransitionTimes changes a record step by step: each commit stamps the conditions whose status changed
// with its time and keeps the others'; reads in between return what was committed, whatever the time.
func TestCommitTransitionTimes(t *testing.T) {
	p := New(Config{NodeIP: testNodeIP})
	pod := lifecyclePod("p", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	r := newPodRecord(pod, podspec.PodName(pod))
	t1, t2, t3 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2025, 1, 2, 3, 4, 15, 0, time.UTC), time.Date(2025, 1, 2, 3, 4, 25, 0, time.UTC)
	steps := []struct {
		name   string
		change func()
		at     time.Time
		want   map[corev1.PodConditionType]time.Time
	}{
		{name: "taken on", at: t1, want: map[corev1.PodConditionType]time.Time{
			corev1.PodReadyToStartContainers: t1, corev1.PodInitialized: t1, corev1.ContainersReady: t1, corev1.PodReady: t1}},
		{name: "the sandbox comes up", change: func() { r.podmanID, r.sandbox = "pod1", true }, at: t2, want: map[corev1.PodConditionType]time.Time{
			corev1.PodReadyToStartContainers: t2, corev1.PodInitialized: t1, corev1.ContainersReady: t1, corev1.PodReady: t1}},
		{name: "the container runs", change: func() {
			c := r.app[0]
			c.id, c.attempts, c.started = "c1", 1, true
			c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t2)}}
		}, at: t3, want: map[corev1.PodConditionType]time.Time{
			corev1.PodReadyToStartContainers: t2, corev1.PodInitialized: t1, corev1.ContainersReady: t3, corev1.PodReady: t3}},
	}
	for _, step := range steps {
		p.mu.Lock()
		if step.change != nil {
			step.change()
		}
		p.commitLocked(r, step.at)
		first, second := p.statusLocked(r), p.statusLocked(r)
		p.mu.Unlock()
		if !apiequality.Semantic.DeepEqual(first, second) {
			t.Errorf("%s: two reads differ (-first +second):\n%s", step.name, cmp.Diff(first, second))
		}
		for typ, want := range step.want {
			if c := conditionOf(first, typ); !c.LastTransitionTime.Time.Equal(want) {
				t.Errorf("%s: %s (%s) lastTransitionTime = %v, want %v", step.name, typ, c.Status, c.LastTransitionTime, want)
			}
		}
	}
}

// TestCommitLatchesTerminalPhase: a terminal phase is latched by the write side, not by a read, and stays once
// committed.
func TestCommitLatchesTerminalPhase(t *testing.T) {
	p := New(Config{NodeIP: testNodeIP})
	pod := lifecyclePod("p", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	r := newPodRecord(pod, podspec.PodName(pod))
	r.app[0].id, r.app[0].attempts = "c1", 1
	r.app[0].state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}

	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.statusLocked(r); st.Phase != corev1.PodSucceeded || r.finalPhase != "" {
		t.Fatalf("read: phase %s, finalPhase %q; want Succeeded and nothing latched", st.Phase, r.finalPhase)
	}
	p.commitLocked(r, time.Now())
	if r.finalPhase != corev1.PodSucceeded {
		t.Fatalf("finalPhase %q after the commit, want Succeeded", r.finalPhase)
	}
	// Whatever the containers look like later, the phase stays.
	r.app[0].state = waiting("ContainerCreating", "")
	if st := p.statusLocked(r); st.Phase != corev1.PodSucceeded {
		t.Errorf("phase %s after the containers changed, want Succeeded to stay", st.Phase)
	}
}

// TestGetPodTwice reads the pods of a provider twice, with time passing: the statuses are the same and the records
// are left as they were, even when their state changed without a commit (a container exit recorded while the pod
// is being stopped).
func TestGetPodTwice(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("twice", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitReported(pod, 0, "Ready", func(p *corev1.Pod) bool { return podCondition(p, corev1.PodReady) == corev1.ConditionTrue })

	type stored struct {
		conditions  []corev1.PodCondition
		finalPhase  corev1.PodPhase
		committedAt time.Time
	}
	for _, uncommitted := range []bool{false, true} {
		h.p.mu.Lock()
		r := h.p.pods[key(pod.Namespace, pod.Name)]
		was := r.app[0].state
		if uncommitted {
			// The container exits, and nothing commits it: a read derives phase Succeeded, and latches nothing.
			r.app[0].state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}
		}
		before := stored{append([]corev1.PodCondition(nil), r.conditions...), r.finalPhase, r.committedAt}
		h.p.mu.Unlock()

		first, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		second, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := h.p.GetPods(h.ctx)
		st, _ := h.p.GetPodStatus(h.ctx, pod.Namespace, pod.Name)
		if len(all) != 1 || !apiequality.Semantic.DeepEqual(first, second) || !apiequality.Semantic.DeepEqual(first, all[0]) ||
			!apiequality.Semantic.DeepEqual(first.Status, *st) {
			t.Errorf("uncommitted %v: reads differ (-first +second):\n%s", uncommitted, cmp.Diff(first, second))
		}
		if uncommitted && first.Status.Phase != corev1.PodSucceeded {
			t.Errorf("phase %s read after the exit, want Succeeded", first.Status.Phase)
		}

		h.p.mu.Lock()
		after := stored{r.conditions, r.finalPhase, r.committedAt}
		r.app[0].state = was // as the runner knows it, for it to stop the container
		h.p.mu.Unlock()
		if diff := cmp.Diff(before, after, cmp.AllowUnexported(stored{})); diff != "" {
			t.Errorf("uncommitted %v: reading changed the record (-before +after):\n%s", uncommitted, diff)
		}
	}
}
