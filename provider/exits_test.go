package provider

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/berth-dev/berth/provider/podman"
)

// newExitHarness is newHarness with the given resync period.
func newExitHarness(t *testing.T, resync time.Duration, images ...string) *harness {
	return newHarnessWith(t, func(c *Config) { c.ResyncPeriod = resync }, images...)
}

// noResync is a resync period no test reaches: exits can only come from the event stream.
const noResync = time.Hour

// TestExitDeliveredByEvent checks that an exit reaches the runner through the event stream alone (no resync, no
// container list).
func TestExitDeliveredByEvent(t *testing.T) {
	h := newExitHarness(t, noResync, "busybox")
	pod := lifecyclePod("job", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	_, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	// The stream's first resync may have listed the running container.
	h.poll("the event stream to be open", func() bool { return h.fake.streams() == 1 })
	lists := len(h.fake.callsTo("ListContainers"))
	h.fake.exit(t, ctrName(pod, "a", 1), 3)
	done, _ := h.waitReported(pod, next, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := statusOf(done, "a").State.Terminated; term == nil || term.ExitCode != 3 || term.Reason != "Error" {
		t.Errorf("container a state = %+v, want Terminated Error exit 3", statusOf(done, "a").State)
	}
	if n := len(h.fake.callsTo("ListContainers")); n != lists {
		t.Errorf("%d container lists; the exit should have come from the event stream", n-lists)
	}
}

// TestMissedExitCaughtByResync checks that an exit the event stream lost is found by the periodic resync.
func TestMissedExitCaughtByResync(t *testing.T) {
	h := newExitHarness(t, 50*time.Millisecond, "busybox")
	pod := lifecyclePod("job", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	_, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	h.fake.setDropEvents(true)
	h.fake.exit(t, ctrName(pod, "a", 1), 0)
	done, _ := h.waitReported(pod, next, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if !terminatedWith(done, "a", 0) {
		t.Errorf("container a state = %+v, want Terminated exit 0", statusOf(done, "a").State)
	}
}

// TestVanishedContainer checks that a running container removed behind Berth's back is reported as the kubelet
// reports a container it cannot find (ContainerStatusUnknown, 137), then the restart policy applies: Always
// restarts it, Never fails the pod. It is seen from the remove event, and from a resync when events are lost.
func TestVanishedContainer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy corev1.RestartPolicy
		drop   bool
	}{
		{"Always/event", corev1.RestartPolicyAlways, false},
		{"Always/resync", corev1.RestartPolicyAlways, true},
		{"Never/event", corev1.RestartPolicyNever, false},
		{"Never/resync", corev1.RestartPolicyNever, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resync := noResync
			if tc.drop {
				resync = 50 * time.Millisecond
			}
			h := newExitHarness(t, resync, "busybox")
			pod := lifecyclePod("gone", tc.policy, nil, testContainer("a", "busybox"))
			h.create(pod)
			h.waitContainer(ctrName(pod, "a", 1), "running")
			running, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
			first := statusOf(running, "a").ContainerID
			h.fake.setDropEvents(tc.drop)
			if err := h.fake.RemoveContainer(h.ctx, ctrName(pod, "a", 1)); err != nil {
				t.Fatal(err)
			}
			unknown := func(term *corev1.ContainerStateTerminated) bool {
				return term != nil && term.ExitCode == 137 && term.Reason == "ContainerStatusUnknown" &&
					term.Message == "The container could not be located when the pod was terminated"
			}
			if tc.policy == corev1.RestartPolicyNever {
				done, _ := h.waitReported(pod, next, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
				if st := statusOf(done, "a"); !unknown(st.State.Terminated) || st.RestartCount != 0 {
					t.Errorf("container a: state %+v restarts %d; want ContainerStatusUnknown 137, no restart", st.State, st.RestartCount)
				}
				return
			}
			h.fake.setDropEvents(false)
			again, _ := h.waitReported(pod, next, "a restart", func(p *corev1.Pod) bool {
				return statusOf(p, "a").RestartCount == 1 && isRunning(p, "a")
			})
			st := statusOf(again, "a")
			if !unknown(st.LastTerminationState.Terminated) || st.LastTerminationState.Terminated.ContainerID != first {
				t.Errorf("lastState = %+v, want ContainerStatusUnknown 137 of %s", st.LastTerminationState, first)
			}
		})
	}
}

// TestEventStreamReconnect checks that a broken event stream is reopened and that an exit that happened while it
// was down is caught by the resync on reconnection; events flow again afterwards.
func TestEventStreamReconnect(t *testing.T) {
	h := newExitHarness(t, noResync, "busybox")
	one := lifecyclePod("one", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	two := lifecyclePod("two", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(one)
	h.create(two)
	h.waitContainer(ctrName(one, "a", 1), "running")
	h.waitContainer(ctrName(two, "a", 1), "running")
	h.waitReported(one, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	h.waitReported(two, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	h.poll("the event stream to be open", func() bool { return h.fake.streams() == 1 })

	h.fake.breakStreams()
	h.fake.exit(t, ctrName(one, "a", 1), 0) // no stream is open: only the resync can tell
	h.waitReported(one, 0, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if n := len(h.fake.callsTo("WatchContainers")); n != 2 {
		t.Errorf("event stream opened %d times, want 2", n)
	}
	lists := len(h.fake.callsTo("ListContainers"))
	h.fake.exit(t, ctrName(two, "a", 1), 0)
	h.waitReported(two, 0, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if n := len(h.fake.callsTo("ListContainers")); n != lists {
		t.Errorf("the second exit took %d container lists, want none (event)", n-lists)
	}
}

// retire stops a provider's runners without touching Podman, as the death of its process would.
func retire(h *harness) {
	h.p.mu.Lock()
	var done []chan struct{}
	for _, r := range h.p.pods {
		r.cancel()
		done = append(done, r.done)
	}
	clear(h.p.pods)
	h.p.mu.Unlock()
	for _, d := range done {
		<-d
	}
}

// TestAdoptKeepsLastState checks that a restarted virtual kubelet reports an adopted container's restartCount and
// lastState (its previous attempt, still in Podman) from the first report of it as running.
func TestAdoptKeepsLastState(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("crashed", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.fake.exit(t, ctrName(pod, "a", 1), 3)
	h.waitContainer(ctrName(pod, "a", 2), "running")
	before, _ := h.waitReported(pod, 0, "a restart", func(p *corev1.Pod) bool {
		return statusOf(p, "a").RestartCount == 1 && isRunning(p, "a")
	})
	retire(h)

	h2 := restarted(t, h)
	if n, err := h2.p.Adopt(h2.ctx); err != nil || n != 1 {
		t.Fatalf("Adopt = %d, %v; want 1 pod", n, err)
	}
	h2.create(pod)
	after, _ := h2.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	got, want := statusOf(after, "a"), statusOf(before, "a")
	if got.RestartCount != 1 || got.ContainerID != want.ContainerID {
		t.Errorf("adopted: restartCount %d containerID %s; want 1 and %s", got.RestartCount, got.ContainerID, want.ContainerID)
	}
	last, wantLast := got.LastTerminationState.Terminated, want.LastTerminationState.Terminated
	if last == nil || wantLast == nil || last.ExitCode != 3 || last.Reason != "Error" || last.ContainerID != wantLast.ContainerID ||
		last.StartedAt.IsZero() || last.FinishedAt.IsZero() || !last.FinishedAt.Equal(&wantLast.FinishedAt) {
		t.Errorf("adopted lastState = %+v, want %+v", got.LastTerminationState, want.LastTerminationState)
	}
	_ = h2.p.DeletePod(h2.ctx, pod)
	h2.poll("the adopted pod to be removed", func() bool { return h.fake.podCount() == 0 })
}

// TestAdoptExitedWhileDown checks that a container that exited while no virtual kubelet ran is recorded as it
// ended and handled by the restart policy: Always restarts it (after the back-off) with lastState set, Never
// leaves the pod Succeeded or Failed.
func TestAdoptExitedWhileDown(t *testing.T) {
	for _, tc := range []struct {
		policy corev1.RestartPolicy
		exit   int32
	}{{corev1.RestartPolicyAlways, 2}, {corev1.RestartPolicyNever, 0}, {corev1.RestartPolicyNever, 1}} {
		t.Run(string(tc.policy), func(t *testing.T) {
			h := newHarness(t, "busybox")
			pod := lifecyclePod("down", tc.policy, nil, testContainer("a", "busybox"))
			h.create(pod)
			h.waitContainer(ctrName(pod, "a", 1), "running")
			h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
			retire(h)
			h.fake.exit(t, ctrName(pod, "a", 1), tc.exit)

			h2 := restarted(t, h)
			if n, err := h2.p.Adopt(h2.ctx); err != nil || n != 1 {
				t.Fatalf("Adopt = %d, %v; want 1 pod", n, err)
			}
			h2.create(pod)
			if tc.policy == corev1.RestartPolicyNever {
				phase := corev1.PodSucceeded
				if tc.exit != 0 {
					phase = corev1.PodFailed
				}
				done, _ := h2.waitReported(pod, 0, string(phase), func(p *corev1.Pod) bool { return p.Status.Phase == phase })
				if !terminatedWith(done, "a", tc.exit) || statusOf(done, "a").RestartCount != 0 {
					t.Errorf("container a = %+v, want terminated with %d and no restart", statusOf(done, "a"), tc.exit)
				}
				if n := len(h.fake.callsTo("CreateContainer")); n != 1 {
					t.Errorf("%d containers created, want only the first", n)
				}
				_ = h2.p.DeletePod(h2.ctx, pod)
				h2.poll("the adopted pod to be removed", func() bool { return h.fake.podCount() == 0 })
				return
			}
			_, next := h2.waitReported(pod, 0, "CrashLoopBackOff", func(p *corev1.Pod) bool { return waitingFor(p, "a", "CrashLoopBackOff") })
			again, _ := h2.waitReported(pod, next, "a restart", func(p *corev1.Pod) bool {
				return statusOf(p, "a").RestartCount == 1 && isRunning(p, "a")
			})
			if last := statusOf(again, "a").LastTerminationState.Terminated; last == nil || last.ExitCode != tc.exit || last.Reason != "Error" {
				t.Errorf("lastState = %+v, want Error exit %d", statusOf(again, "a").LastTerminationState, tc.exit)
			}
			h.waitContainer(ctrName(pod, "a", 2), "running")
			_ = h2.p.DeletePod(h2.ctx, pod)
			h2.poll("the adopted pod to be removed", func() bool { return h.fake.podCount() == 0 })
		})
	}
}

// TestVanishedAfterKillThenStop checks a `podman rm -f` whose died event (SIGKILL, 137) comes before its stop event,
// and whose removal comes later than stopGrace: the container is still reported as vanished. The waits run on a
// fake clock, so that the removal comes later than stopGrace whatever the machine's speed.
func TestVanishedAfterKillThenStop(t *testing.T) {
	clk := &resetCountingClock{FakeClock: testingclock.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	h := newHarnessWith(t, func(c *Config) { c.ResyncPeriod, c.Clock = noResync, clk }, "busybox")
	pod := lifecyclePod("gone", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(pod)
	name := ctrName(pod, "a", 1)
	h.waitContainer(name, "running")
	_, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	h.fake.mu.Lock()
	c := h.fake.lookupContainer(name)
	h.fake.mu.Unlock()
	// The events must reach a runner waiting for them: an exit it found by inspecting the container would not be
	// followed by its stop and removal.
	h.poll("the event stream to be open", func() bool { return h.fake.streams() == 1 })
	h.poll("the runner to wait for the exit", func() bool {
		h.p.exits.mu.Lock()
		defer h.p.exits.mu.Unlock()
		return len(h.p.exits.waiters[c.id]) > 0
	})
	h.fake.mu.Lock()
	h.fake.exitLocked(c, 137) // died
	h.fake.mu.Unlock()
	// The runner has the died event once it waits stopGrace for a stop event (the clock's only waiter).
	h.poll("the runner to wait for a stop event", clk.HasWaiters)
	h.fake.mu.Lock()
	h.fake.emitLocked(c, podman.EventStop)
	h.fake.mu.Unlock()
	// It has the stop event once it waits removalGrace instead.
	h.poll("the runner to wait for the removal", func() bool { return clk.resets.Load() == 1 })
	clk.Step(stopGrace + 200*time.Millisecond)
	// Past stopGrace, the wait for the removal still runs: its timer has not fired (a fired timer leaves the clock).
	if n := clk.Waiters(); n != 1 {
		t.Fatalf("%d timers wait on the clock %s after the died event; want the removal's wait still running", n, stopGrace+200*time.Millisecond)
	}
	h.fake.mu.Lock()
	delete(h.fake.containers, c.id)
	h.fake.emitLocked(c, podman.EventRemove)
	h.fake.mu.Unlock()
	done, _ := h.waitReported(pod, next, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := statusOf(done, "a").State.Terminated; term == nil || term.Reason != "ContainerStatusUnknown" || term.ExitCode != 137 {
		t.Errorf("container a state = %+v, want ContainerStatusUnknown 137", statusOf(done, "a").State)
	}
}

// resetCountingClock is a fake clock whose timers count their resets, which tells a test when a waiter has moved
// its deadline.
type resetCountingClock struct {
	*testingclock.FakeClock
	resets atomic.Int32
}

func (c *resetCountingClock) NewTimer(d time.Duration) clock.Timer {
	return &resetCountingTimer{Timer: c.FakeClock.NewTimer(d), resets: &c.resets}
}

type resetCountingTimer struct {
	clock.Timer
	resets *atomic.Int32
}

func (t *resetCountingTimer) Reset(d time.Duration) bool {
	active := t.Timer.Reset(d)
	t.resets.Add(1)
	return active
}

// TestExitDeliveredByExitFile checks that an exit reaches the runner from conmon's exit file alone (no event, no
// resync): the file is written as conmon writes it, to a temporary name renamed into place.
func TestExitDeliveredByExitFile(t *testing.T) {
	dir := t.TempDir()
	h := newHarnessWith(t, func(c *Config) { c.ResyncPeriod, c.ExitsDir = noResync, dir }, "busybox")
	pod := lifecyclePod("job", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	_, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	h.fake.setDropEvents(true)
	h.fake.exit(t, ctrName(pod, "a", 1), 3)
	var id string
	h.fake.locked(func() { id = h.fake.lookupContainer(ctrName(pod, "a", 1)).id })
	tmp := filepath.Join(dir, id+".Q1W2E3")
	if err := os.WriteFile(tmp, []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, id)); err != nil {
		t.Fatal(err)
	}
	done, _ := h.waitReported(pod, next, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := statusOf(done, "a").State.Terminated; term == nil || term.ExitCode != 3 {
		t.Errorf("container a state = %+v, want Terminated exit 3", statusOf(done, "a").State)
	}
}

func TestReadExitFile(t *testing.T) {
	dir := t.TempDir()
	id := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, file, content string
		wantOK              bool
		wantCode            int32
	}{
		{name: "an exit", file: id, content: "0", wantOK: true},
		{name: "a signal's code with a newline", file: id, content: "137\n", wantOK: true, wantCode: 137},
		{name: "not written yet", file: id, content: ""},
		{name: "conmon's temporary file", file: id + ".XYZ123", content: "1"},
		{name: "not a container ID", file: "lock", content: "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			gotID, code, ok := readExitFile(path)
			if ok != tc.wantOK || (ok && (gotID != tc.file || code != tc.wantCode)) {
				t.Errorf("readExitFile = %q %d %v, want %v %d", gotID, code, ok, tc.wantOK, tc.wantCode)
			}
		})
	}
}
