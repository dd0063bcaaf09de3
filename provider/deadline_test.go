package provider

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	testingclock "k8s.io/utils/clock/testing"
)

func TestActiveDeadlineLeft(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		deadline *int64
		start    time.Time
		now      time.Time
		wantLeft time.Duration
		wantOK   bool
	}{
		{name: "no deadline", start: start, now: start.Add(time.Hour)},
		{name: "not started", deadline: ptr(int64(5)), now: start},
		{name: "time left", deadline: ptr(int64(30)), start: start, now: start.Add(10 * time.Second), wantLeft: 20 * time.Second, wantOK: true},
		{name: "just reached", deadline: ptr(int64(30)), start: start, now: start.Add(30 * time.Second), wantLeft: 0, wantOK: true},
		{name: "passed", deadline: ptr(int64(5)), start: start, now: start.Add(8 * time.Second), wantLeft: -3 * time.Second, wantOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := lifecyclePod("p", corev1.RestartPolicyAlways, nil)
			pod.Spec.ActiveDeadlineSeconds = tc.deadline
			left, ok := activeDeadlineLeft(pod, tc.start, tc.now)
			if left != tc.wantLeft || ok != tc.wantOK {
				t.Errorf("activeDeadlineLeft = %v, %v; want %v, %v", left, ok, tc.wantLeft, tc.wantOK)
			}
		})
	}
}

// deadlineHarness is a harness whose provider times deadlines on a fake clock and whose events are kept.
func deadlineHarness(t *testing.T, images ...string) (*harness, *testingclock.FakeClock, *eventLog) {
	fc := testingclock.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	ev := &eventLog{}
	h := newHarnessWith(t, func(c *Config) { c.Clock, c.Recorder = fc, ev }, images...)
	return h, fc, ev
}

// startDeadlinePod creates a pod of one container "a" with activeDeadlineSeconds deadline (none if nil) and waits
// until the container runs.
func startDeadlinePod(h *harness, name string, policy corev1.RestartPolicy, deadline *int64) *corev1.Pod {
	h.t.Helper()
	pod := lifecyclePod(name, policy, nil, testContainer("a", "busybox"))
	pod.Spec.ActiveDeadlineSeconds = deadline
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	return pod
}

// deadlineStep is one step of a deadline test: the fake clock moves on by step, or (if set) the pod is updated
// with activeDeadlineSeconds update; then the pod must have been stopped for its deadline or not.
type deadlineStep struct {
	step       time.Duration
	update     *int64
	wantFailed bool
}

// TestActiveDeadline runs pods past their activeDeadlineSeconds, set at creation or updated on the running pod, as
// the conformance spec "should allow activeDeadlineSeconds to be updated" does: the pod turns Failed with reason
// DeadlineExceeded, with the kubelet's message and event, its container is killed and not restarted.
func TestActiveDeadline(t *testing.T) {
	tests := []struct {
		name     string
		deadline *int64 // at creation
		steps    []deadlineStep
	}{
		{name: "set at creation", deadline: ptr(int64(30)), steps: []deadlineStep{
			{step: 29 * time.Second}, {step: time.Second, wantFailed: true}}},
		{name: "set on a running pod, already past", steps: []deadlineStep{
			{step: 10 * time.Second}, {update: ptr(int64(5)), wantFailed: true}}},
		{name: "set on a running pod, still ahead", steps: []deadlineStep{
			{step: 10 * time.Second}, {update: ptr(int64(15))}, {step: 4 * time.Second}, {step: time.Second, wantFailed: true}}},
		{name: "lowered on a running pod", deadline: ptr(int64(600)), steps: []deadlineStep{
			{step: 10 * time.Second}, {update: ptr(int64(30))}, {step: 19 * time.Second}, {step: time.Second, wantFailed: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, fc, ev := deadlineHarness(t, "busybox")
			pod := startDeadlinePod(h, "deadline", corev1.RestartPolicyAlways, tc.deadline)
			_, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

			armed := tc.deadline != nil
			for i, s := range tc.steps {
				if s.update != nil {
					armed = true
					upd := pod.DeepCopy()
					upd.Spec.ActiveDeadlineSeconds = s.update
					if err := h.p.UpdatePod(h.ctx, upd); err != nil {
						t.Fatalf("step %d: UpdatePod: %v", i, err)
					}
				} else {
					fc.Step(s.step)
				}
				if s.wantFailed {
					break
				}
				// Not due yet: the deadline's timer, if any, is still waiting, and the pod runs.
				if fc.HasWaiters() != armed {
					t.Fatalf("step %d: a deadline timer waits: %v, want %v", i, fc.HasWaiters(), armed)
				}
				if got, _ := h.p.GetPod(h.ctx, pod.Namespace, pod.Name); got.Status.Phase != corev1.PodRunning || got.Status.Reason != "" {
					t.Fatalf("step %d: phase %s reason %q before the deadline", i, got.Status.Phase, got.Status.Reason)
				}
			}

			failed, next := h.waitReported(pod, next, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
			if failed.Status.Reason != "DeadlineExceeded" || failed.Status.Message != "Pod was active on the node longer than the specified deadline" {
				t.Errorf("first Failed status: reason %q message %q", failed.Status.Reason, failed.Status.Message)
			}
			if got := podCondition(failed, corev1.PodReady); got != corev1.ConditionFalse {
				t.Errorf("Ready = %q once Failed, want False", got)
			}
			// The first Failed report may be the last one already (the dispatcher sends the latest status).
			stopped, _ := h.waitReported(pod, next-1, "its container stopped", func(p *corev1.Pod) bool {
				return statusOf(p, "a").State.Terminated != nil && podCondition(p, corev1.PodReadyToStartContainers) == corev1.ConditionFalse
			})
			if stopped.Status.Phase != corev1.PodFailed || stopped.Status.Reason != "DeadlineExceeded" {
				t.Errorf("stopped pod: phase %s reason %q, want Failed DeadlineExceeded", stopped.Status.Phase, stopped.Status.Reason)
			}
			for _, want := range []string{
				"Normal DeadlineExceeded Pod was active on the node longer than the specified deadline",
				"Normal Killing Stopping container a",
			} {
				if !ev.has(want) {
					t.Errorf("no event %q in:\n%s", want, ev)
				}
			}
			if got := h.fake.callsTo("StopPod"); len(got) != 1 {
				t.Errorf("sandbox stops %q, want one", got)
			}
			if got := h.fake.callsTo("CreateContainer"); len(got) != 1 {
				t.Errorf("containers created %q: a pod past its deadline must not restart them", got)
			}
			if fc.HasWaiters() {
				t.Error("a deadline timer still waits")
			}
		})
	}
}

// TestActiveDeadlineKeepsTerminalPhase checks that a pod that succeeded stays Succeeded once its deadline passes.
func TestActiveDeadlineKeepsTerminalPhase(t *testing.T) {
	h, fc, ev := deadlineHarness(t, "busybox")
	pod := startDeadlinePod(h, "done", corev1.RestartPolicyNever, ptr(int64(30)))
	h.fake.exit(t, ctrName(pod, "a", 1), 0)
	h.waitReported(pod, 0, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })

	fc.Step(time.Minute)
	h.p.mu.Lock()
	r := h.p.pods[key(pod.Namespace, pod.Name)]
	h.p.mu.Unlock()
	h.p.worker(r).enforceDeadline(h.ctx) // as the timer does, but waited for
	got, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodSucceeded || got.Status.Reason != "" {
		t.Errorf("phase %s reason %q past the deadline, want Succeeded", got.Status.Phase, got.Status.Reason)
	}
	if ev.has("Normal DeadlineExceeded") {
		t.Errorf("a DeadlineExceeded event for a pod that had succeeded:\n%s", ev)
	}
}

// TestActiveDeadlineTimerStopsOnDelete checks that deleting a pod stops its deadline's timer.
func TestActiveDeadlineTimerStopsOnDelete(t *testing.T) {
	h, fc, _ := deadlineHarness(t, "busybox")
	pod := startDeadlinePod(h, "deleted", corev1.RestartPolicyAlways, ptr(int64(3600)))
	if !fc.HasWaiters() {
		t.Fatal("no deadline timer waits")
	}
	if err := h.p.DeletePod(h.ctx, pod); err != nil {
		t.Fatal(err)
	}
	h.poll("the pod to be removed", func() bool {
		_, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
		return err != nil
	})
	if fc.HasWaiters() {
		t.Error("the deleted pod's deadline timer still waits")
	}
}

// TestActiveDeadlineBeforeContainerStarts checks a pod whose deadline passes while its container has not started
// (its image cannot be pulled): it turns Failed DeadlineExceeded, and its container, which was never killed (no
// Killing event), is reported terminated as the kubelet's status manager does, ContainerStatusUnknown with 137.
func TestActiveDeadlineBeforeContainerStarts(t *testing.T) {
	h, fc, ev := deadlineHarness(t, "busybox")
	h.fake.setPullError("absent", errors.New("manifest unknown"))
	pod := lifecyclePod("unpulled", corev1.RestartPolicyAlways, nil, testContainer("a", "absent"))
	pod.Spec.ActiveDeadlineSeconds = ptr(int64(30))
	h.create(pod)
	_, next := h.waitReported(pod, 0, "ErrImagePull", func(p *corev1.Pod) bool {
		w := statusOf(p, "a").State.Waiting
		return w != nil && w.Reason == "ErrImagePull"
	})

	fc.Step(30 * time.Second)
	failed, _ := h.waitReported(pod, next, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if failed.Status.Reason != "DeadlineExceeded" {
		t.Errorf("Failed with reason %q, want DeadlineExceeded", failed.Status.Reason)
	}
	st := statusOf(failed, "a")
	if term := st.State.Terminated; term == nil || term.Reason != "ContainerStatusUnknown" || term.ExitCode != 137 {
		t.Errorf("container state %+v once Failed, want terminated ContainerStatusUnknown 137", st.State)
	}
	if st.Ready || (st.Started != nil && *st.Started) {
		t.Errorf("container ready %v started %v, want neither", st.Ready, *st.Started)
	}
	if ev.has("Normal Killing") {
		t.Errorf("a Killing event for a container that never ran:\n%s", ev)
	}
	if got := h.fake.callsTo("CreateContainer"); len(got) != 0 {
		t.Errorf("containers created %q for an image that was never pulled", got)
	}
}
