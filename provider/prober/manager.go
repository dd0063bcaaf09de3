package prober

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Container is one run of a container as the prober sees it. The pod runner implements it: it owns the
// container's record, and the results the prober hands it decide the container's started and ready states and
// its kill.
type Container interface {
	// State is what the runner knows of the run now.
	State() State
	// Exec runs cmd in the container as the kubelet's RunInContainer does: its combined output, a
	// k8s.io/utils/exec.ExitError for a non-zero exit, and ErrCommandTimedOut (wrapped) for a command outliving
	// timeout.
	Exec(ctx context.Context, cmd []string, timeout time.Duration) ([]byte, error)
	// Eventf records an event on the container's pod.
	Eventf(eventType, reason, messageFmt string, args ...any)
	// SetReady is called with the readiness probe's result each time it has held for the probe's success or
	// failure threshold.
	SetReady(ready bool)
	// Started is called once the startup probe succeeded: the container has started.
	Started()
	// Kill is called when the liveness or startup probe failed for its threshold: the container is to be killed
	// (and restarted as the pod's restart policy says). It returns once the kill is under way.
	Kill(ctx context.Context, t Type)
}

// State is the runner's view of a container run that a probe worker acts on.
type State struct {
	// Started tells whether the container counts as started: at once without a startup probe, else once it
	// succeeded.
	Started bool
	// Deleting is set while the pod shuts down: liveness and startup probes then stop.
	Deleting bool
	// PodIP is the address HTTP, TCP and gRPC probes reach by default.
	PodIP string
}

// Probes are the probe workers of one container run, as the kubelet's prober manager keeps them.
type Probes struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// triggers make a worker probe at once, by probe type.
	triggers map[Type]chan struct{}
}

// Start starts one worker per probe of spec for a container run that started at startedAt. period, when not
// zero, replaces every probe's period (tests probe faster than once a second). The workers run until Stop or the
// end of ctx.
func Start(ctx context.Context, spec *corev1.Container, c Container, startedAt time.Time, period time.Duration) *Probes {
	ctx, cancel := context.WithCancel(ctx)
	ps := &Probes{cancel: cancel, triggers: map[Type]chan struct{}{}}
	var types []Type
	for _, t := range []Type{Startup, Liveness, Readiness} {
		if t.Probe(spec) != nil {
			types = append(types, t)
			ps.triggers[t] = make(chan struct{}, 1)
		}
	}
	for _, t := range types {
		w := &worker{
			container: c, spec: spec, typ: t, probe: t.Probe(spec), startedAt: startedAt, probes: ps,
			clock: clock.RealClock{}, period: period,
		}
		ps.wg.Add(1)
		go func() {
			defer ps.wg.Done()
			w.run(ctx)
		}()
	}
	return ps
}

// Stop ends the workers and waits until they are gone.
func (ps *Probes) Stop() {
	ps.cancel()
	ps.wg.Wait()
}

// trigger makes the worker of probe type t, if any, probe at once.
func (ps *Probes) trigger(t Type) {
	if ch, ok := ps.triggers[t]; ok {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
