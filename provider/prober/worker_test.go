package prober

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"
	testingclock "k8s.io/utils/clock/testing"
	utilexec "k8s.io/utils/exec"
)

func TestWorkerDoProbe(t *testing.T) {
	// Exit codes the fake container's probe command ends with, one per exec; errExec is an exec that errors.
	const errExec = -1
	probeWith := func(mod func(*corev1.Probe)) *corev1.Probe {
		pr := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}, SuccessThreshold: 1, FailureThreshold: 1}
		if mod != nil {
			mod(pr)
		}
		return pr
	}
	tests := []struct {
		name  string
		typ   Type
		probe *corev1.Probe
		state State
		// since is how long ago the container started.
		since time.Duration
		// calls is how many times doProbe runs; exits answer the execs in order (0 once they run out).
		calls int
		exits []int

		wantContinue bool
		wantExecs    int
		wantReady    []bool
		wantStarted  int
		wantKills    []Type
		// wantTriggered are the probe types the worker made probe at once.
		wantTriggered []Type
		wantEvents    int
	}{
		{
			name: "initial delay not passed", typ: Liveness, state: State{Started: true}, since: 4900 * time.Millisecond,
			probe: probeWith(func(pr *corev1.Probe) { pr.InitialDelaySeconds = 5 }), calls: 3,
			wantContinue: true,
		},
		{
			name: "initial delay counts whole seconds", typ: Liveness, state: State{Started: true}, since: 5 * time.Second,
			probe: probeWith(func(pr *corev1.Probe) { pr.InitialDelaySeconds = 5 }), calls: 1,
			wantContinue: true, wantExecs: 1,
		},
		{
			name: "liveness waits for the container to start", typ: Liveness, probe: probeWith(nil), calls: 2,
			wantContinue: true,
		},
		{
			name: "readiness waits for the container to start", typ: Readiness, probe: probeWith(nil), calls: 2,
			wantContinue: true,
		},
		{
			name: "startup stops once the container started", typ: Startup, state: State{Started: true}, probe: probeWith(nil), calls: 2,
			wantContinue: true,
		},
		{
			name: "liveness failures below the threshold", typ: Liveness, state: State{Started: true},
			probe: probeWith(func(pr *corev1.Probe) { pr.FailureThreshold = 3 }), calls: 2, exits: []int{1, 1},
			wantContinue: true, wantExecs: 2, wantEvents: 2,
		},
		{
			name: "liveness failure at the threshold kills, then holds", typ: Liveness, state: State{Started: true},
			probe: probeWith(func(pr *corev1.Probe) { pr.FailureThreshold = 3 }), calls: 5, exits: []int{1, 1, 1},
			wantContinue: true, wantExecs: 3, wantKills: []Type{Liveness}, wantEvents: 3,
		},
		{
			name: "a success restarts the failure count", typ: Liveness, state: State{Started: true},
			probe: probeWith(func(pr *corev1.Probe) { pr.FailureThreshold = 3 }), calls: 5, exits: []int{1, 1, 0, 1, 1},
			wantContinue: true, wantExecs: 5, wantEvents: 4,
		},
		{
			name: "readiness success threshold", typ: Readiness, state: State{Started: true},
			probe: probeWith(func(pr *corev1.Probe) { pr.SuccessThreshold = 2 }), calls: 3, exits: []int{0, 0, 0},
			wantContinue: true, wantExecs: 3, wantReady: []bool{true, true},
		},
		{
			name: "readiness failure threshold", typ: Readiness, state: State{Started: true},
			probe: probeWith(func(pr *corev1.Probe) { pr.FailureThreshold = 2 }), calls: 4, exits: []int{0, 1, 1, 0},
			wantContinue: true, wantExecs: 4, wantReady: []bool{true, false, true}, wantEvents: 2,
		},
		{
			name: "readiness failure never kills", typ: Readiness, state: State{Started: true},
			probe: probeWith(nil), calls: 3, exits: []int{1, 1, 1},
			wantContinue: true, wantExecs: 3, wantReady: []bool{false, false, false}, wantEvents: 3,
		},
		{
			name: "startup success starts the container and triggers the other probes", typ: Startup,
			probe: probeWith(func(pr *corev1.Probe) { pr.FailureThreshold = 10 }), calls: 4, exits: []int{1, 0},
			wantContinue: true, wantExecs: 2, wantStarted: 1, wantTriggered: []Type{Liveness, Readiness}, wantEvents: 1,
		},
		{
			name: "startup failure at the threshold kills, then holds", typ: Startup,
			probe: probeWith(func(pr *corev1.Probe) { pr.FailureThreshold = 2 }), calls: 4, exits: []int{1, 1},
			wantContinue: true, wantExecs: 2, wantKills: []Type{Startup}, wantEvents: 2,
		},
		{
			name: "an errored probe is no result", typ: Liveness, state: State{Started: true},
			probe: probeWith(nil), calls: 1, exits: []int{errExec, errExec, errExec},
			wantContinue: true, wantExecs: maxProbeRetries, wantEvents: 1,
		},
		{
			name: "liveness ends while the pod is deleted", typ: Liveness, state: State{Started: true, Deleting: true},
			probe: probeWith(nil), calls: 1, exits: []int{1},
		},
		{
			name: "startup ends while the pod is deleted", typ: Startup, state: State{Deleting: true},
			probe: probeWith(nil), calls: 1, exits: []int{1},
		},
		{
			name: "readiness goes on while the pod is deleted", typ: Readiness, state: State{Started: true, Deleting: true},
			probe: probeWith(nil), calls: 1, exits: []int{1},
			wantContinue: true, wantExecs: 1, wantReady: []bool{false}, wantEvents: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			execs := 0
			c := &fakeContainer{state: tc.state, exec: func(context.Context, []string, time.Duration) ([]byte, error) {
				code := 0
				if execs < len(tc.exits) {
					code = tc.exits[execs]
				}
				execs++
				switch code {
				case 0:
					return nil, nil
				case errExec:
					return nil, errors.New("exec failed")
				default:
					return []byte("sick"), utilexec.CodeExitError{Err: fmt.Errorf("exit %d", code), Code: code}
				}
			}}
			clk := testingclock.NewFakePassiveClock(time.Now())
			ps := &Probes{triggers: map[Type]chan struct{}{Liveness: make(chan struct{}, 1), Readiness: make(chan struct{}, 1), Startup: make(chan struct{}, 1)}}
			w := &worker{
				container: c, spec: &corev1.Container{Name: "a"}, typ: tc.typ, probe: tc.probe,
				startedAt: clk.Now().Add(-tc.since), probes: ps, clock: clk,
			}
			var cont bool
			for range tc.calls {
				cont = w.doProbe(ctx)
			}
			if cont != tc.wantContinue {
				t.Errorf("doProbe = %v, want %v", cont, tc.wantContinue)
			}
			if len(c.execs) != tc.wantExecs {
				t.Errorf("%d execs, want %d", len(c.execs), tc.wantExecs)
			}
			if !slices.Equal(c.ready, tc.wantReady) {
				t.Errorf("SetReady calls %v, want %v", c.ready, tc.wantReady)
			}
			if c.started != tc.wantStarted {
				t.Errorf("Started called %d times, want %d", c.started, tc.wantStarted)
			}
			if !slices.Equal(c.kills, tc.wantKills) {
				t.Errorf("kills %v, want %v", c.kills, tc.wantKills)
			}
			var triggered []Type
			for _, typ := range []Type{Liveness, Readiness, Startup} {
				if len(ps.triggers[typ]) > 0 {
					triggered = append(triggered, typ)
				}
			}
			if !slices.Equal(triggered, tc.wantTriggered) {
				t.Errorf("triggered %v, want %v", triggered, tc.wantTriggered)
			}
			if len(c.events) != tc.wantEvents {
				t.Errorf("events %q, want %d", c.events, tc.wantEvents)
			}
		})
	}
}

func TestWorkerStopsWithItsContext(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	c := &fakeContainer{state: State{Started: true}}
	w := &worker{
		container: c, spec: &corev1.Container{Name: "a"}, typ: Readiness,
		probe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}},
		probes: &Probes{}, clock: testingclock.NewFakePassiveClock(time.Now()),
	}
	if w.doProbe(ctx) || len(c.execs) != 0 {
		t.Errorf("a worker whose context ended probed (%d execs) or went on", len(c.execs))
	}
}

// TestStartStop runs the workers of a container with startup and liveness probes on a short period: liveness
// starts probing once startup succeeded, and Stop ends them all.
func TestStartStop(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	exec := func(cmd ...string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}}
	}
	spec := &corev1.Container{Name: "a", StartupProbe: exec("started"), LivenessProbe: exec("alive")}
	c := &fakeContainer{}
	ps := Start(ctx, spec, c, time.Now(), time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for c.execCount("alive") < 2 {
		if time.Now().After(deadline) {
			ps.Stop()
			t.Fatalf("liveness did not probe after the startup probe succeeded; %d startup probes", c.execCount("started"))
		}
		time.Sleep(time.Millisecond)
	}
	if workerStacks() == "" {
		t.Fatal("no probe worker seen running before Stop")
	}
	ps.Stop()
	c.mu.Lock()
	n, started := len(c.execs), c.started
	c.mu.Unlock()
	if startup := c.execCount("started"); started != 1 || startup != 1 {
		t.Errorf("Started called %d times after %d startup probes, want once after one", started, startup)
	}
	// Only workers probe, and Stop has waited for every one to end: none probes later.
	if w := workerStacks(); w != "" {
		t.Errorf("probe workers still run after Stop:\n%s", w)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.execs) != n {
		t.Errorf("probes went on after Stop: %d execs, then %d", n, len(c.execs))
	}
}

// workerStacks returns the stacks of the goroutines running a probe worker, "" when there is none.
func workerStacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "prober.(*worker).run(") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
