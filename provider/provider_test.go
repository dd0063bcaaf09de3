package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/podstatus"
)

// waitTimeout bounds every wait of the lifecycle tests; the waits poll, they do not measure time.
const (
	waitTimeout  = 5 * time.Second
	pollInterval = 10 * time.Millisecond
)

// harness runs a Provider on a fake runtime and collects the pods it reports.
type harness struct {
	t    *testing.T
	ctx  context.Context
	fake *fakeRuntime
	p    *Provider

	mu   sync.Mutex
	seen []*corev1.Pod
}

func newHarness(t *testing.T, images ...string) *harness {
	return newHarnessWith(t, nil, images...)
}

// newHarnessWith is newHarness with the provider's configuration changed by configure (if not nil).
func newHarnessWith(t *testing.T, configure func(*Config), images ...string) *harness {
	// Logs are kept too, for the tests of what is logged (logged).
	ctx := klog.NewContext(context.Background(), ktesting.NewLogger(t, ktesting.NewConfig(ktesting.BufferLogs(true))))
	ctx, cancel := context.WithCancel(ctx)
	h := &harness{t: t, ctx: ctx, fake: newFakeRuntime(images...)}
	cfg := Config{
		NodeName:       "node-a",
		NodeIP:         testNodeIP,
		Network:        "berth",
		Runtime:        h.fake,
		InitialBackoff: 20 * time.Millisecond,
		MaxBackoff:     80 * time.Millisecond,
	}
	if configure != nil {
		configure(&cfg)
	}
	h.p = New(cfg)
	h.p.NotifyPods(ctx, func(pod *corev1.Pod) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.seen = append(h.seen, pod)
	})
	go h.p.Run(ctx, nil)
	t.Cleanup(func() {
		// Stop every pod left so that no runner outlives the test.
		pods, _ := h.p.GetPods(ctx)
		for _, pod := range pods {
			_ = h.p.DeletePod(ctx, pod)
		}
		h.poll("every pod to be removed", func() bool {
			pods, _ := h.p.GetPods(ctx)
			return len(pods) == 0
		})
		cancel()
	})
	return h
}

// poll waits until cond holds, failing the test after waitTimeout.
func (h *harness) poll(desc string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", desc)
		}
		time.Sleep(pollInterval)
	}
}

// waitReported waits until a status of pod reported at position from or later satisfies cond; it returns that
// status and the position after it, so that a following wait sees only later reports.
func (h *harness) waitReported(pod *corev1.Pod, from int, desc string, cond func(*corev1.Pod) bool) (*corev1.Pod, int) {
	h.t.Helper()
	var found *corev1.Pod
	next := from
	h.poll(fmt.Sprintf("pod %s to report %s", pod.Name, desc), func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i := next; i < len(h.seen); i++ {
			p := h.seen[i]
			if p.Namespace == pod.Namespace && p.Name == pod.Name && p.UID == pod.UID && cond(p) {
				found, next = p, i+1
				return true
			}
		}
		return false
	})
	return found, next
}

// waitContainer waits until the fake holds a container named name in the given status.
func (h *harness) waitContainer(name, status string) {
	h.t.Helper()
	h.poll(fmt.Sprintf("container %s to be %s", name, status), func() bool { return h.fake.containerStatus(name) == status })
}

// waitRunnerEnded waits until the runner of pod has returned. The runner is what creates, starts and restarts the
// pod's containers (its sidecars and app containers are supervised by goroutines it waits for), so once it has
// returned none of them runs again: what a test checks next can no longer change.
func (h *harness) waitRunnerEnded(pod *corev1.Pod) {
	h.t.Helper()
	h.p.mu.Lock()
	r := h.p.pods[key(pod.Namespace, pod.Name)]
	h.p.mu.Unlock()
	if r == nil {
		h.t.Fatalf("no pod %s/%s", pod.Namespace, pod.Name)
	}
	select {
	case <-r.done:
	case <-time.After(waitTimeout):
		h.t.Fatalf("timed out waiting for the runner of pod %s to end", pod.Name)
	}
}

// runningSpec waits until the first attempt of a pod's container runs and returns the spec it was created with.
func (h *harness) runningSpec(pod *corev1.Pod, container string) podman.ContainerSpec {
	h.t.Helper()
	name := ctrName(pod, container, 1)
	h.waitContainer(name, "running")
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	return h.fake.lookupContainer(name).spec
}

// wantRejected runs pod on a new harness and checks that it is rejected as by the kubelet's admission: phase
// Failed with reason and the message "Pod was rejected: "+msg, a warning event of that reason saying msg, and
// nothing created in Podman.
func wantRejected(t *testing.T, pod *corev1.Pod, reason, msg string) {
	t.Helper()
	h := newHarness(t, "busybox")
	rec := record.NewFakeRecorder(100)
	h.p.cfg.Recorder = rec
	h.create(pod)
	failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if failed.Status.Reason != reason || failed.Status.Message != "Pod was rejected: "+msg {
		t.Errorf("reason %q message %q", failed.Status.Reason, failed.Status.Message)
	}
	if ev := <-rec.Events; ev != "Warning "+reason+" "+msg {
		t.Errorf("event %q", ev)
	}
	if calls := h.fake.callsTo("CreatePod"); len(calls) != 0 {
		t.Errorf("CreatePod calls %q, want none", calls)
	}
}

func (h *harness) create(pod *corev1.Pod) {
	h.t.Helper()
	if err := h.p.CreatePod(h.ctx, pod); err != nil {
		h.t.Fatalf("CreatePod: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func testContainer(name, image string) corev1.Container {
	return corev1.Container{Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent}
}

func lifecyclePod(name string, policy corev1.RestartPolicy, init []corev1.Container, apps ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("5e7c1a2b-9d04-4f1e-8a6b-" + name)},
		Spec:       corev1.PodSpec{RestartPolicy: policy, InitContainers: init, Containers: apps},
		Status: corev1.PodStatus{
			Phase:      corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}},
		},
	}
}

// ctrName is the Podman name of a container's attempt.
func ctrName(pod *corev1.Pod, container string, attempt int32) string {
	return podspec.ContainerName(podspec.PodName(pod), container, attempt)
}

func podCondition(pod *corev1.Pod, typ corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

func statusOf(pod *corev1.Pod, name string) corev1.ContainerStatus {
	st, ok := podstatus.FindStatus(pod.Status.ContainerStatuses, name)
	if !ok {
		st, _ = podstatus.FindStatus(pod.Status.InitContainerStatuses, name)
	}
	return st
}

func isRunning(pod *corev1.Pod, name string) bool {
	return statusOf(pod, name).State.Running != nil
}

func terminatedWith(pod *corev1.Pod, name string, code int32) bool {
	t := statusOf(pod, name).State.Terminated
	return t != nil && t.ExitCode == code
}

func waitingFor(pod *corev1.Pod, name, reason string) bool {
	w := statusOf(pod, name).State.Waiting
	return w != nil && w.Reason == reason
}

func TestLifecycleNeverSucceeds(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("job", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(pod)

	h.waitContainer(ctrName(pod, "a", 1), "running")
	running, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && isRunning(p, "a")
	})
	a := statusOf(running, "a")
	if !strings.HasPrefix(a.ContainerID, "podman://") || a.Ready != true || a.Started == nil || !*a.Started {
		t.Errorf("running container: containerID=%q ready=%v started=%v", a.ContainerID, a.Ready, a.Started)
	}
	if running.Status.PodIP == "" || running.Status.HostIP != testNodeIP || running.Status.StartTime == nil {
		t.Errorf("running pod: podIP=%q hostIP=%q startTime=%v", running.Status.PodIP, running.Status.HostIP, running.Status.StartTime)
	}
	for _, typ := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if got := podCondition(running, typ); got != corev1.ConditionTrue {
			t.Errorf("running pod: condition %s = %q, want True", typ, got)
		}
	}

	h.fake.exit(t, ctrName(pod, "a", 1), 0)
	done, _ := h.waitReported(pod, next, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	a = statusOf(done, "a")
	term := a.State.Terminated
	if term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
		t.Fatalf("container a state = %+v, want Terminated Completed exit 0", a.State)
	}
	if term.StartedAt.IsZero() || term.FinishedAt.IsZero() || term.ContainerID != a.ContainerID {
		t.Errorf("terminated: startedAt=%v finishedAt=%v containerID=%q (status %q)", term.StartedAt, term.FinishedAt, term.ContainerID, a.ContainerID)
	}
	if a.RestartCount != 0 || a.Ready {
		t.Errorf("container a restartCount=%d ready=%v, want 0 and false", a.RestartCount, a.Ready)
	}
	if got := h.fake.callsTo("CreateContainer"); !slices.Equal(got, []string{ctrName(pod, "a", 1)}) {
		t.Errorf("containers created = %q, want only the first attempt", got)
	}
	h.poll("the sandbox to be stopped", func() bool { return len(h.fake.callsTo("StopPod")) == 1 })
}

func TestLifecycleNeverFails(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("fails", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(pod)

	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.fake.exit(t, ctrName(pod, "a", 1), 2)
	failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	term := statusOf(failed, "a").State.Terminated
	if term == nil || term.ExitCode != 2 || term.Reason != "Error" {
		t.Fatalf("container a state = %+v, want Terminated Error exit 2", statusOf(failed, "a").State)
	}
	if got := podCondition(failed, corev1.PodReady); got != corev1.ConditionFalse {
		t.Errorf("Ready = %q, want False", got)
	}
	// Never: no second attempt, then or later (the runner, which would make it, has ended).
	h.waitRunnerEnded(pod)
	if got := h.fake.callsTo("CreateContainer"); len(got) != 1 {
		t.Errorf("containers created = %q, want one", got)
	}
}

func TestLifecycleAlwaysCrashLoop(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("crash", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(pod)

	h.waitContainer(ctrName(pod, "a", 1), "running")
	// Hold the second attempt so that the back-off state stays until the test has seen it.
	h.fake.hold(ctrName(pod, "a", 2))
	h.fake.exit(t, ctrName(pod, "a", 1), 1)

	backoff, next := h.waitReported(pod, 0, "CrashLoopBackOff", func(p *corev1.Pod) bool { return waitingFor(p, "a", "CrashLoopBackOff") })
	a := statusOf(backoff, "a")
	if last := a.LastTerminationState.Terminated; last == nil || last.ExitCode != 1 || last.Reason != "Error" {
		t.Errorf("lastState = %+v, want Terminated Error exit 1", a.LastTerminationState)
	}
	if !strings.HasPrefix(a.State.Waiting.Message, "back-off ") || !strings.Contains(a.State.Waiting.Message, "restarting failed container=a pod=crash_default(") {
		t.Errorf("waiting message = %q", a.State.Waiting.Message)
	}
	if backoff.Status.Phase != corev1.PodRunning {
		t.Errorf("phase during back-off = %s, want Running", backoff.Status.Phase)
	}
	if a.Ready {
		t.Errorf("container in back-off is ready")
	}

	h.fake.release(ctrName(pod, "a", 2))
	h.waitContainer(ctrName(pod, "a", 2), "running")
	again, _ := h.waitReported(pod, next, "the restarted container", func(p *corev1.Pod) bool {
		return isRunning(p, "a") && statusOf(p, "a").RestartCount == 1
	})
	a = statusOf(again, "a")
	if last := a.LastTerminationState.Terminated; last == nil || last.ExitCode != 1 {
		t.Errorf("lastState after restart = %+v, want Terminated exit 1", a.LastTerminationState)
	}
	if again.Status.Phase != corev1.PodRunning || podCondition(again, corev1.PodReady) != corev1.ConditionTrue {
		t.Errorf("after restart: phase %s Ready %s, want Running and True", again.Status.Phase, podCondition(again, corev1.PodReady))
	}
	if got := h.fake.callsTo("CreateContainer"); !slices.Equal(got, []string{ctrName(pod, "a", 1), ctrName(pod, "a", 2)}) {
		t.Errorf("containers created = %q", got)
	}
}

func TestLifecycleOnFailureRestartsUntilSuccess(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("onfailure", corev1.RestartPolicyOnFailure, nil, testContainer("a", "busybox"))
	h.create(pod)

	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.fake.exit(t, ctrName(pod, "a", 1), 1)
	h.waitContainer(ctrName(pod, "a", 2), "running")
	h.fake.exit(t, ctrName(pod, "a", 2), 0)
	done, _ := h.waitReported(pod, 0, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if a := statusOf(done, "a"); a.RestartCount != 1 || !terminatedWith(done, "a", 0) {
		t.Errorf("container a = %+v, want Terminated exit 0 after 1 restart", a)
	}
}

func TestLifecycleInitContainersRunFirst(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("init", corev1.RestartPolicyAlways,
		[]corev1.Container{testContainer("i1", "busybox"), testContainer("i2", "busybox")},
		testContainer("a", "busybox"), testContainer("b", "busybox"))
	h.create(pod)

	h.waitContainer(ctrName(pod, "i1", 1), "running")
	first, next := h.waitReported(pod, 0, "i1 running", func(p *corev1.Pod) bool { return isRunning(p, "i1") })
	if first.Status.Phase != corev1.PodPending {
		t.Errorf("phase while i1 runs = %s, want Pending", first.Status.Phase)
	}
	for _, c := range []string{"i2", "a", "b"} {
		if !waitingFor(first, c, "PodInitializing") {
			t.Errorf("while i1 runs, %s = %+v, want Waiting PodInitializing", c, statusOf(first, c).State)
		}
	}
	if got := podCondition(first, corev1.PodInitialized); got != corev1.ConditionFalse {
		t.Errorf("Initialized while i1 runs = %q, want False", got)
	}

	// A failed init container is retried; nothing after it starts.
	h.fake.exit(t, ctrName(pod, "i1", 1), 1)
	h.waitContainer(ctrName(pod, "i1", 2), "running")
	if got := h.fake.callsTo("CreateContainer"); !slices.Equal(got, []string{ctrName(pod, "i1", 1), ctrName(pod, "i1", 2)}) {
		t.Fatalf("containers created after i1 failed = %q, want only i1's attempts", got)
	}
	h.fake.exit(t, ctrName(pod, "i1", 2), 0)

	h.waitContainer(ctrName(pod, "i2", 1), "running")
	if got := h.fake.callsTo("CreateContainer"); !slices.Equal(got, []string{ctrName(pod, "i1", 1), ctrName(pod, "i1", 2), ctrName(pod, "i2", 1)}) {
		t.Fatalf("containers created while i2 runs = %q", got)
	}
	h.fake.exit(t, ctrName(pod, "i2", 1), 0)

	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.waitContainer(ctrName(pod, "b", 1), "running")
	got := h.fake.callsTo("CreateContainer")
	if len(got) != 5 || !slices.Equal(got[:3], []string{ctrName(pod, "i1", 1), ctrName(pod, "i1", 2), ctrName(pod, "i2", 1)}) ||
		!slices.Contains(got[3:], ctrName(pod, "a", 1)) || !slices.Contains(got[3:], ctrName(pod, "b", 1)) {
		t.Errorf("containers created = %q, want i1 twice, i2, then a and b", got)
	}

	running, _ := h.waitReported(pod, next, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && isRunning(p, "a") && isRunning(p, "b")
	})
	if got := podCondition(running, corev1.PodInitialized); got != corev1.ConditionTrue {
		t.Errorf("Initialized = %q, want True", got)
	}
	for _, c := range []string{"i1", "i2"} {
		term := statusOf(running, c).State.Terminated
		if term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
			t.Errorf("init container %s = %+v, want Terminated Completed", c, statusOf(running, c).State)
		}
	}
	if i1 := statusOf(running, "i1"); i1.RestartCount != 1 {
		t.Errorf("i1 restartCount = %d, want 1", i1.RestartCount)
	}
}

// TestCrashLoopBackOffCap: the crash-loop back-off starts at the initial back-off and doubles up to
// MaxContainerRestartPeriod, as under the kubelet's crashLoopBackOff.maxContainerRestartPeriod; a period shorter
// than the initial back-off is the initial back-off too. The waiting message names each back-off.
func TestCrashLoopBackOffCap(t *testing.T) {
	tests := []struct {
		name string
		max  time.Duration
		want []string
	}{
		// A container that ran for twice the period starts over; the period is long enough for the fake's runs.
		{"doubles up to the period", time.Second, []string{"250ms", "500ms", "1s", "1s"}},
		{"period under the initial back-off", 100 * time.Millisecond, []string{"100ms", "100ms"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, func(c *Config) { c.InitialBackoff, c.MaxContainerRestartPeriod = 250*time.Millisecond, tc.max }, "busybox")
			pod := lifecyclePod("crash", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
			h.create(pod)
			next := 0
			for i, want := range tc.want {
				name := ctrName(pod, "a", int32(i+1))
				h.waitContainer(name, "running")
				h.fake.exit(t, name, 1)
				var backoff *corev1.Pod
				backoff, next = h.waitReported(pod, next, fmt.Sprintf("back-off after crash %d", i+1), func(p *corev1.Pod) bool {
					return waitingFor(p, "a", "CrashLoopBackOff") && statusOf(p, "a").RestartCount == int32(i)
				})
				if msg := statusOf(backoff, "a").State.Waiting.Message; !strings.HasPrefix(msg, "back-off "+want+" ") {
					t.Errorf("crash %d: waiting message %q, want back-off %s", i+1, msg, want)
				}
			}
		})
	}
}

func TestLifecycleInitFailsUnderNever(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("initfail", corev1.RestartPolicyNever,
		[]corev1.Container{testContainer("i1", "busybox")}, testContainer("a", "busybox"))
	h.create(pod)

	h.waitContainer(ctrName(pod, "i1", 1), "running")
	h.fake.exit(t, ctrName(pod, "i1", 1), 7)
	failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if !terminatedWith(failed, "i1", 7) {
		t.Errorf("i1 = %+v, want Terminated exit 7", statusOf(failed, "i1").State)
	}
	if !waitingFor(failed, "a", "PodInitializing") {
		t.Errorf("a = %+v, want Waiting PodInitializing", statusOf(failed, "a").State)
	}
	if got := h.fake.callsTo("CreateContainer"); !slices.Equal(got, []string{ctrName(pod, "i1", 1)}) {
		t.Errorf("containers created = %q, want only i1", got)
	}
}

func TestLifecycleImagePullBackOff(t *testing.T) {
	h := newHarness(t)
	pod := lifecyclePod("pull", corev1.RestartPolicyAlways, nil, testContainer("a", "registry.example/missing:1"))
	h.fake.setPullError("registry.example/missing:1", errors.New("manifest unknown"))
	h.create(pod)

	backoff, next := h.waitReported(pod, 0, "ImagePullBackOff", func(p *corev1.Pod) bool { return waitingFor(p, "a", "ImagePullBackOff") })
	if msg := statusOf(backoff, "a").State.Waiting.Message; !strings.Contains(msg, `Back-off pulling image "registry.example/missing:1"`) {
		t.Errorf("back-off message = %q", msg)
	}
	if backoff.Status.Phase != corev1.PodPending {
		t.Errorf("phase = %s, want Pending", backoff.Status.Phase)
	}
	h.poll("pulls to be retried", func() bool { return len(h.fake.callsTo("PullImage")) >= 2 })
	if got := h.fake.callsTo("CreateContainer"); len(got) != 0 {
		t.Errorf("containers created without an image: %q", got)
	}

	// The registry comes back: the container runs, with no restart counted.
	h.fake.setPullError("registry.example/missing:1", nil)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	running, _ := h.waitReported(pod, next, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && isRunning(p, "a") })
	if a := statusOf(running, "a"); a.RestartCount != 0 {
		t.Errorf("restartCount after pull back-off = %d, want 0", a.RestartCount)
	}
}

func TestLifecycleDelete(t *testing.T) {
	h := newHarness(t, "busybox")
	finalized := make(chan *corev1.Pod, 1)
	h.p.cfg.Finalize = func(_ context.Context, pod *corev1.Pod) error {
		finalized <- pod
		return nil
	}
	pod := lifecyclePod("web", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"), testContainer("b", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.waitContainer(ctrName(pod, "b", 1), "running")
	_, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && isRunning(p, "a") && isRunning(p, "b")
	})
	podmanID := func() string {
		h.fake.mu.Lock()
		defer h.fake.mu.Unlock()
		return h.fake.lookupPod(podspec.PodName(pod)).id
	}()

	del := pod.DeepCopy()
	now := metav1.Now()
	grace := int64(30)
	del.DeletionTimestamp, del.DeletionGracePeriodSeconds = &now, &grace
	if err := h.p.DeletePod(h.ctx, del); err != nil {
		t.Fatalf("DeletePod: %v", err)
	}
	if err := h.p.DeletePod(h.ctx, del); err != nil && !errdefs.IsNotFound(err) {
		t.Errorf("second DeletePod: %v", err)
	}

	final, _ := h.waitReported(pod, next, "a terminal status", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
	})
	if final.Status.Phase != corev1.PodFailed {
		t.Errorf("phase after deletion = %s, want Failed (containers stopped with 143)", final.Status.Phase)
	}
	for _, c := range []string{"a", "b"} {
		term := statusOf(final, c).State.Terminated
		if term == nil || term.ExitCode != 143 || term.Reason != "Error" {
			t.Errorf("container %s = %+v, want Terminated Error 143", c, statusOf(final, c).State)
		}
	}
	if got := podCondition(final, corev1.PodReady); got != corev1.ConditionFalse {
		t.Errorf("Ready after deletion = %q, want False", got)
	}
	if got := podCondition(final, corev1.PodReadyToStartContainers); got != corev1.ConditionFalse {
		t.Errorf("PodReadyToStartContainers after deletion = %q, want False", got)
	}

	h.poll("GetPod to report NotFound", func() bool {
		_, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
		return errdefs.IsNotFound(err)
	})
	if _, err := h.p.GetPodStatus(h.ctx, pod.Namespace, pod.Name); !errdefs.IsNotFound(err) {
		t.Errorf("GetPodStatus after deletion: %v, want NotFound", err)
	}
	stopped := h.fake.callsTo("StopContainer")
	if len(stopped) != 2 {
		t.Errorf("StopContainer calls = %q, want both containers", stopped)
	}
	if removed := h.fake.callsTo("RemovePod"); !slices.Contains(removed, podmanID) {
		t.Errorf("RemovePod calls = %q, want the Podman pod %s", removed, podmanID)
	}
	if n := h.fake.podCount(); n != 0 {
		t.Errorf("%d Podman pods left", n)
	}
	if err := h.p.DeletePod(h.ctx, del); err != nil && !errdefs.IsNotFound(err) {
		t.Errorf("DeletePod after removal: %v", err)
	}
	// Once stopped and removed, the pod is finalized (its API object deleted) without waiting out the grace period.
	select {
	case f := <-finalized:
		if f.UID != pod.UID || f.Status.Phase != corev1.PodFailed {
			t.Errorf("finalized %s with phase %s", f.UID, f.Status.Phase)
		}
	case <-time.After(waitTimeout):
		t.Errorf("the deleted pod was not finalized")
	}
}

func TestLifecycleDeleteUnknownPod(t *testing.T) {
	h := newHarness(t)
	pod := lifecyclePod("ghost", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	if err := h.p.DeletePod(h.ctx, pod); err != nil && !errdefs.IsNotFound(err) {
		t.Errorf("DeletePod of an unknown pod: %v", err)
	}
	if _, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name); !errdefs.IsNotFound(err) {
		t.Errorf("GetPod of an unknown pod: %v, want NotFound", err)
	}
}

func TestLifecycleUnsupportedPodSpec(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("hostpid", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	pod.Spec.HostPID = true
	h.create(pod)

	failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	a := statusOf(failed, "a")
	if a.State.Waiting == nil || a.State.Waiting.Reason != "CreateContainerConfigError" || !strings.Contains(a.State.Waiting.Message, "spec.hostPID") {
		t.Errorf("container a = %+v, want Waiting CreateContainerConfigError naming spec.hostPID", a.State)
	}
	got, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
	if err != nil || got.Status.Phase != corev1.PodFailed {
		t.Errorf("GetPod = %v, %v; want the Failed pod", got, err)
	}
	if calls := h.fake.callsTo("CreatePod"); len(calls) != 0 {
		t.Errorf("CreatePod calls = %q, want none", calls)
	}
	if calls := h.fake.callsTo("CreateContainer"); len(calls) != 0 {
		t.Errorf("CreateContainer calls = %q, want none", calls)
	}
}

func TestLifecycleCreateTwice(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("twice", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.create(pod.DeepCopy())
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.create(pod.DeepCopy())
	h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	if calls := h.fake.callsTo("CreatePod"); len(calls) != 1 {
		t.Errorf("CreatePod calls = %q, want one", calls)
	}
	if calls := h.fake.callsTo("CreateContainer"); !slices.Equal(calls, []string{ctrName(pod, "a", 1)}) {
		t.Errorf("CreateContainer calls = %q, want one", calls)
	}
	if pods, _ := h.p.GetPods(h.ctx); len(pods) != 1 {
		t.Errorf("GetPods = %d pods, want 1", len(pods))
	}
	if n := h.fake.podCount(); n != 1 {
		t.Errorf("%d Podman pods, want 1", n)
	}
}
