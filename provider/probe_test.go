package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// eventLog records events as "Type Reason Message".
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (e *eventLog) Event(_ runtime.Object, typ, reason, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, typ+" "+reason+" "+msg)
}

func (e *eventLog) Eventf(obj runtime.Object, typ, reason, format string, args ...any) {
	e.Event(obj, typ, reason, fmt.Sprintf(format, args...))
}

func (e *eventLog) AnnotatedEventf(obj runtime.Object, _ map[string]string, typ, reason, format string, args ...any) {
	e.Eventf(obj, typ, reason, format, args...)
}

// has tells whether an event starting with prefix was recorded.
func (e *eventLog) has(prefix string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events {
		if strings.HasPrefix(ev, prefix) {
			return true
		}
	}
	return false
}

func (e *eventLog) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.events, "\n")
}

// probeHarness is a harness whose probes tick every 10ms and whose events are kept.
func probeHarness(t *testing.T) (*harness, *eventLog) {
	prev := probeTick
	probeTick = 10 * time.Millisecond
	t.Cleanup(func() { probeTick = prev })
	h := newHarness(t, "busybox")
	ev := &eventLog{}
	h.p.cfg.Recorder = ev
	return h, ev
}

func execProbe(cmd ...string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}, PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
}

// execCalls counts the recorded execs of a command (as "<container name> <command>").
func (h *harness) execCalls(call string) int {
	n := 0
	for _, c := range h.fake.callsTo("Exec") {
		if c == call {
			n++
		}
	}
	return n
}

func TestProbeReadinessGatesReady(t *testing.T) {
	h, ev := probeHarness(t)
	var healthy atomic.Bool
	h.fake.setExec(func(_ context.Context, _ string, cmd []string) (int, string, error) {
		if cmd[0] == "ready" && !healthy.Load() {
			return 1, "not yet", nil
		}
		return 0, "", nil
	})
	c := testContainer("a", "busybox")
	c.ReadinessProbe = execProbe("ready")
	c.ReadinessProbe.FailureThreshold = 2
	pod := lifecyclePod("ready", corev1.RestartPolicyAlways, nil, c)
	h.create(pod)

	running, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	a := statusOf(running, "a")
	if a.Ready || a.Started == nil || !*a.Started {
		t.Errorf("before the probe succeeds: ready=%v started=%v, want false and true", a.Ready, a.Started)
	}
	if got := podCondition(running, corev1.PodReady); got != corev1.ConditionFalse {
		t.Errorf("before the probe succeeds: Ready condition %q", got)
	}
	h.poll("a failed readiness probe event", func() bool { return ev.has("Warning Unhealthy Readiness probe failed: not yet") })

	healthy.Store(true)
	_, next = h.waitReported(pod, next, "Ready", func(p *corev1.Pod) bool {
		return statusOf(p, "a").Ready && podCondition(p, corev1.ContainersReady) == corev1.ConditionTrue && podCondition(p, corev1.PodReady) == corev1.ConditionTrue
	})

	healthy.Store(false)
	notReady, _ := h.waitReported(pod, next, "not Ready again", func(p *corev1.Pod) bool { return !statusOf(p, "a").Ready })
	if a := statusOf(notReady, "a"); a.RestartCount != 0 || a.State.Running == nil {
		t.Errorf("a readiness failure restarted the container: %+v", a)
	}
	if podCondition(notReady, corev1.PodReady) != corev1.ConditionFalse {
		t.Errorf("Ready condition stayed True")
	}
	if h.fake.containerStatus(ctrName(pod, "a", 1)) != "running" || len(h.fake.callsTo("StopContainer")) != 0 {
		t.Errorf("a readiness failure stopped the container; events:\n%s", ev)
	}
}

func TestProbeLivenessFailureRestarts(t *testing.T) {
	h, ev := probeHarness(t)
	pod := lifecyclePod("live", corev1.RestartPolicyAlways, nil)
	first := ctrName(pod, "a", 1)
	h.fake.setExec(func(_ context.Context, name string, _ []string) (int, string, error) {
		if name == first {
			return 1, "unhealthy", nil
		}
		return 0, "", nil
	})
	c := testContainer("a", "busybox")
	c.LivenessProbe = execProbe("alive")
	c.LivenessProbe.FailureThreshold = 3
	pod.Spec.Containers = []corev1.Container{c}
	h.create(pod)

	h.waitContainer(ctrName(pod, "a", 2), "running")
	restarted, _ := h.waitReported(pod, 0, "restarted", func(p *corev1.Pod) bool {
		return isRunning(p, "a") && statusOf(p, "a").RestartCount == 1
	})
	last := statusOf(restarted, "a").LastTerminationState.Terminated
	if last == nil || last.ExitCode != 143 || last.Reason != "Error" {
		t.Errorf("last state after a liveness kill = %+v, want exit 143 reason Error", last)
	}
	if n := h.execCalls(first + " alive"); n != 3 {
		t.Errorf("probed the failing container %d times, want 3 (failureThreshold), then on hold", n)
	}
	for _, want := range []string{
		"Warning Unhealthy Liveness probe failed: unhealthy",
		"Normal Killing Container a failed liveness probe, will be restarted",
	} {
		if !ev.has(want) {
			t.Errorf("no event %q; events:\n%s", want, ev)
		}
	}
}

func TestProbeStartupGatesOtherProbes(t *testing.T) {
	h, ev := probeHarness(t)
	var up atomic.Bool
	h.fake.setExec(func(_ context.Context, _ string, cmd []string) (int, string, error) {
		if cmd[0] == "started" && !up.Load() {
			return 1, "starting", nil
		}
		return 0, "", nil
	})
	c := testContainer("a", "busybox")
	c.StartupProbe = execProbe("started")
	c.StartupProbe.FailureThreshold = 1000
	c.LivenessProbe = execProbe("alive")
	c.ReadinessProbe = execProbe("ready")
	pod := lifecyclePod("startup", corev1.RestartPolicyAlways, nil, c)
	h.create(pod)

	running, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	if a := statusOf(running, "a"); a.Started == nil || *a.Started || a.Ready {
		t.Errorf("before the startup probe succeeds: started=%v ready=%v, want false", a.Started, a.Ready)
	}
	name := ctrName(pod, "a", 1)
	h.poll("startup probes", func() bool { return h.execCalls(name+" started") >= 3 })
	if n := h.execCalls(name+" alive") + h.execCalls(name+" ready"); n != 0 {
		t.Errorf("liveness or readiness probed %d times before the container started", n)
	}

	up.Store(true)
	h.waitReported(pod, next, "started and ready", func(p *corev1.Pod) bool {
		a := statusOf(p, "a")
		return a.Started != nil && *a.Started && a.Ready
	})
	probes := h.execCalls(name + " started")
	h.poll("liveness probes", func() bool { return h.execCalls(name+" alive") >= 2 })
	if n := h.execCalls(name + " started"); n != probes {
		t.Errorf("the startup probe went on after it succeeded (%d then %d)", probes, n)
	}
	if ev.has("Normal Killing") {
		t.Errorf("a container was killed; events:\n%s", ev)
	}
}

func TestProbeStartupFailureKills(t *testing.T) {
	h, ev := probeHarness(t)
	h.fake.setExec(func(context.Context, string, []string) (int, string, error) { return 1, "no", nil })
	c := testContainer("a", "busybox")
	c.StartupProbe = execProbe("started")
	c.StartupProbe.FailureThreshold = 2
	pod := lifecyclePod("startfail", corev1.RestartPolicyNever, nil, c)
	h.create(pod)

	done, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := statusOf(done, "a").State.Terminated; term == nil || term.ExitCode != 143 {
		t.Errorf("container state %+v, want terminated by the stop", statusOf(done, "a").State)
	}
	if !ev.has("Normal Killing Container a failed startup probe") || ev.has("Normal Killing Container a failed startup probe, will be restarted") {
		t.Errorf("want a Killing event without restart; events:\n%s", ev)
	}
}

func TestProbeInitialDelayAndTimeout(t *testing.T) {
	h, ev := probeHarness(t)
	var first atomic.Int64
	h.fake.setExec(func(ctx context.Context, _ string, _ []string) (int, string, error) {
		first.CompareAndSwap(0, time.Now().UnixNano())
		<-ctx.Done()
		return 0, "", ctx.Err()
	})
	c := testContainer("a", "busybox")
	c.LivenessProbe = execProbe("sleep", "5")
	c.LivenessProbe.InitialDelaySeconds = 1
	c.LivenessProbe.FailureThreshold = 100
	pod := lifecyclePod("delay", corev1.RestartPolicyAlways, nil, c)
	start := time.Now()
	h.create(pod)

	h.poll("a timed out probe", func() bool { return ev.has("Warning Unhealthy Liveness probe failed: ") })
	if d := time.Unix(0, first.Load()).Sub(start); d < time.Second {
		t.Errorf("first probe %s after the start, want at least the initial delay (1s)", d)
	}
	want := `Warning Unhealthy Liveness probe failed: command timed out: "sleep 5" timed out after 1s`
	if !ev.has(want) {
		t.Errorf("want %q; events:\n%s", want, ev)
	}
}

func TestKillGracePeriod(t *testing.T) {
	secs := func(n int64) *int64 { return &n }
	tests := []struct {
		name                      string
		deletion, pod, probeLevel *int64
		want                      time.Duration
	}{
		{name: "pod's", pod: secs(30), want: 30 * time.Second},
		{name: "probe-level wins", pod: secs(30), probeLevel: secs(5), want: 5 * time.Second},
		{name: "deletion wins", deletion: secs(1), pod: secs(30), probeLevel: secs(5), want: time.Second},
		{name: "none", want: minGracePeriod},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{TerminationGracePeriodSeconds: tc.pod}}
			pod.DeletionGracePeriodSeconds = tc.deletion
			pr := &corev1.Probe{TerminationGracePeriodSeconds: tc.probeLevel}
			if got := killGracePeriod(pod, pr); got != tc.want {
				t.Errorf("killGracePeriod = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestProbeSidecarStartupGatesApps(t *testing.T) {
	h, _ := probeHarness(t)
	var up atomic.Bool
	h.fake.setExec(func(context.Context, string, []string) (int, string, error) {
		if !up.Load() {
			return 1, "", nil
		}
		return 0, "", nil
	})
	always := corev1.ContainerRestartPolicyAlways
	side := testContainer("side", "busybox")
	side.RestartPolicy = &always
	side.StartupProbe = execProbe("started")
	side.StartupProbe.FailureThreshold = 1000
	pod := lifecyclePod("sidecar", corev1.RestartPolicyAlways, []corev1.Container{side}, testContainer("a", "busybox"))
	h.create(pod)

	h.waitContainer(ctrName(pod, "side", 1), "running")
	h.poll("startup probes", func() bool { return h.execCalls(ctrName(pod, "side", 1)+" started") >= 3 })
	if s := h.fake.containerStatus(ctrName(pod, "a", 1)); s != "" {
		t.Fatalf("app container is %s before the sidecar started", s)
	}
	up.Store(true)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.waitReported(pod, 0, "Initialized", func(p *corev1.Pod) bool {
		st := statusOf(p, "side")
		return podCondition(p, corev1.PodInitialized) == corev1.ConditionTrue && st.Started != nil && *st.Started
	})
}
