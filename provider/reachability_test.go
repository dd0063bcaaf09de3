package provider

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

func TestPodmanUnreachableGraceDefault(t *testing.T) {
	p := New(Config{Runtime: newFakeRuntime()})
	if got := p.cfg.PodmanUnreachableGrace; got != 40*time.Second {
		t.Errorf("default PodmanUnreachableGrace = %v, want 40s", got)
	}
	if got := New(Config{Runtime: newFakeRuntime(), PodmanUnreachableGrace: time.Minute}).cfg.PodmanUnreachableGrace; got != time.Minute {
		t.Errorf("PodmanUnreachableGrace = %v, want the configured 1m", got)
	}
}

func TestIsUnreachable(t *testing.T) {
	dial := &url.Error{Op: "Get", URL: "http://d/_ping", Err: &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"dial refused, wrapped", fmt.Errorf("start container x: %w", dial), true},
		{"connection cut mid-answer", fmt.Errorf("inspect: %w", io.ErrUnexpectedEOF), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"not found", fmt.Errorf("inspect x: %w", podman.ErrNotFound), false},
		{"an answer of Podman's", errors.New("container state improper"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := podman.IsUnreachable(tc.err); got != tc.want {
				t.Errorf("IsUnreachable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestPodmanOutageStatus stops the fake Podman under pods in different states: within the grace the phase stays,
// beyond it a pod not yet terminal reports Unknown (not Ready, reason PodmanUnreachable, container statuses as
// last known) while a terminal one keeps its phase; once Podman answers the true status comes back, with the same
// container (created and started once).
func TestPodmanOutageStatus(t *testing.T) {
	tests := []struct {
		name   string
		grace  time.Duration
		policy corev1.RestartPolicy
		// exit, if set, makes the container exit with that code before the outage.
		exit       *int32
		wantBefore corev1.PodPhase
		wantDuring corev1.PodPhase
	}{
		{name: "running pod within the grace keeps its phase", grace: time.Hour, policy: corev1.RestartPolicyAlways,
			wantBefore: corev1.PodRunning, wantDuring: corev1.PodRunning},
		{name: "running pod beyond the grace is Unknown", grace: 50 * time.Millisecond, policy: corev1.RestartPolicyAlways,
			wantBefore: corev1.PodRunning, wantDuring: corev1.PodUnknown},
		{name: "succeeded pod stays Succeeded", grace: 50 * time.Millisecond, policy: corev1.RestartPolicyNever, exit: new(int32(0)),
			wantBefore: corev1.PodSucceeded, wantDuring: corev1.PodSucceeded},
		{name: "failed pod stays Failed", grace: 50 * time.Millisecond, policy: corev1.RestartPolicyNever, exit: new(int32(3)),
			wantBefore: corev1.PodFailed, wantDuring: corev1.PodFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, func(c *Config) {
				c.PodmanUnreachableGrace = tc.grace
				c.PodmanPingInterval = 10 * time.Millisecond
			}, "busybox")
			t.Cleanup(func() { h.fake.setDown(false) }) // before the harness removes the pods
			pod := lifecyclePod("web", tc.policy, nil, testContainer("app", "busybox"))
			h.create(pod)
			h.waitContainer(ctrName(pod, "app", 1), "running")
			if tc.exit != nil {
				h.fake.exit(t, ctrName(pod, "app", 1), *tc.exit)
			}
			before, next := h.waitReported(pod, 0, string(tc.wantBefore), func(p *corev1.Pod) bool {
				return p.Status.Phase == tc.wantBefore && (tc.exit != nil || podCondition(p, corev1.PodReady) == corev1.ConditionTrue)
			})

			h.fake.setDown(true)
			h.poll("the outage to be noticed and judged", func() bool {
				h.p.mu.Lock()
				defer h.p.mu.Unlock()
				return h.p.down != nil && (tc.grace == time.Hour || h.p.stale != nil)
			})
			during, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
			if err != nil {
				t.Fatal(err)
			}
			if during.Status.Phase != tc.wantDuring {
				t.Fatalf("phase during the outage = %s, want %s", during.Status.Phase, tc.wantDuring)
			}
			if got, want := statusOf(during, "app"), statusOf(before, "app"); got.ContainerID != want.ContainerID || got.RestartCount != want.RestartCount ||
				(got.State.Running == nil) != (want.State.Running == nil) || got.Ready != want.Ready {
				t.Errorf("container status during the outage = %+v, want it as last known: %+v", got, want)
			}
			if tc.wantDuring == corev1.PodUnknown {
				reported, _ := h.waitReported(pod, next, "Unknown", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodUnknown })
				for _, p := range []*corev1.Pod{during, reported} {
					if p.Status.Reason != ReasonPodmanUnreachable || !strings.Contains(p.Status.Message, "Podman has not answered since") {
						t.Errorf("status reason/message = %q/%q, want %s and since when", p.Status.Reason, p.Status.Message, ReasonPodmanUnreachable)
					}
					for _, typ := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
						if c := conditionOf(p.Status, typ); c.Status != corev1.ConditionFalse || c.Reason != ReasonPodmanUnreachable {
							t.Errorf("condition %s during the outage = %+v, want False with reason %s", typ, c, ReasonPodmanUnreachable)
						}
					}
				}
			} else if during.Status.Reason == ReasonPodmanUnreachable {
				t.Errorf("pod whose phase stays reports reason %s", during.Status.Reason)
			}

			h.fake.setDown(false)
			h.poll("Podman to be seen answering again", func() bool {
				h.p.mu.Lock()
				defer h.p.mu.Unlock()
				return h.p.down == nil && h.p.stale == nil
			})
			after, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantDuring == corev1.PodUnknown {
				// The recovery is reported, not only computed.
				after, _ = h.waitReported(pod, next, "its true status again", func(p *corev1.Pod) bool { return p.Status.Phase != corev1.PodUnknown })
			}
			if after.Status.Phase != tc.wantBefore || after.Status.Reason == ReasonPodmanUnreachable || podCondition(after, corev1.PodReady) != podCondition(before, corev1.PodReady) {
				t.Errorf("status after the outage: phase %s reason %q Ready %s; want phase %s Ready %s as before it",
					after.Status.Phase, after.Status.Reason, podCondition(after, corev1.PodReady), tc.wantBefore, podCondition(before, corev1.PodReady))
			}
			if got, want := statusOf(after, "app"), statusOf(before, "app"); got.ContainerID != want.ContainerID || got.RestartCount != 0 {
				t.Errorf("container after the outage: id %s restarts %d, want %s and 0", got.ContainerID, got.RestartCount, want.ContainerID)
			}
			if tc.wantDuring == corev1.PodUnknown {
				// Ready went False and back: its transition time is the recovery's.
				if ready, was := conditionOf(after.Status, corev1.PodReady), conditionOf(before.Status, corev1.PodReady); !ready.LastTransitionTime.After(was.LastTransitionTime.Time) {
					t.Errorf("Ready after the outage changed at %v, want later than before it (%v)", ready.LastTransitionTime, was.LastTransitionTime)
				}
			}
			if n := len(h.fake.callsTo("CreateContainer")); n != 1 {
				t.Errorf("containers created: %d, want 1", n)
			}
			if n := len(h.fake.callsTo("StartContainer")); n != 1 {
				t.Errorf("container starts: %d, want 1", n)
			}
		})
	}
}

// TestPodmanOutageWhileStarting makes Podman stop answering between a container's creation and its start: the
// runner waits and starts it once Podman answers, instead of taking the failed start for the container's (which
// would fail a restartPolicy Never pod).
func TestPodmanOutageWhileStarting(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) { c.PodmanPingInterval = 10 * time.Millisecond }, "busybox")
	t.Cleanup(func() { h.fake.setDown(false) })
	pod := lifecyclePod("job", corev1.RestartPolicyNever, nil, testContainer("app", "busybox"))
	name := ctrName(pod, "app", 1)
	h.fake.hold(name)
	h.create(pod)
	h.poll("the container's creation", func() bool { return len(h.fake.callsTo("CreateContainer")) == 1 })
	h.fake.setDown(true)
	h.fake.release(name)
	h.poll("the outage to be noticed", func() bool {
		h.p.mu.Lock()
		defer h.p.mu.Unlock()
		return h.p.down != nil
	})
	h.fake.setDown(false)
	h.waitContainer(name, "running")
	running, _ := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && isRunning(p, "app") })
	if rc := statusOf(running, "app").RestartCount; rc != 0 {
		t.Errorf("restartCount = %d, want 0", rc)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.seen {
		if p.Status.Phase == corev1.PodFailed {
			t.Fatalf("the pod was reported Failed: %+v", p.Status)
		}
	}
	if n := len(h.fake.callsTo("CreateContainer")); n != 1 {
		t.Errorf("containers created: %d, want 1", n)
	}
}
