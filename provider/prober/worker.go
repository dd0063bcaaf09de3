package prober

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// worker probes one container run periodically with one of its probes, as the kubelet's prober worker.
type worker struct {
	container Container
	spec      *corev1.Container
	typ       Type
	probe     *corev1.Probe
	startedAt time.Time
	probes    *Probes
	clock     clock.PassiveClock
	// period, when not zero, replaces the probe's period.
	period time.Duration

	lastResult bool
	resultRun  int
	// onHold stops probing once the container is to be killed (or has started, for a startup probe).
	onHold bool
}

// settings are a probe's timings and thresholds with the API's defaults for unset fields.
type settings struct {
	initialDelay, period, timeout time.Duration
	success, failure              int
}

func settingsOf(pr *corev1.Probe) settings {
	s := settings{
		initialDelay: time.Duration(pr.InitialDelaySeconds) * time.Second,
		period:       time.Duration(pr.PeriodSeconds) * time.Second,
		timeout:      time.Duration(pr.TimeoutSeconds) * time.Second,
		success:      int(pr.SuccessThreshold),
		failure:      int(pr.FailureThreshold),
	}
	if s.period <= 0 {
		s.period = 10 * time.Second
	}
	if s.timeout <= 0 {
		s.timeout = time.Second
	}
	s.success = max(s.success, 1)
	if s.failure <= 0 {
		s.failure = 3
	}
	return s
}

func (w *worker) run(ctx context.Context) {
	period := settingsOf(w.probe).period
	if w.period > 0 {
		period = w.period
	}
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for w.doProbe(ctx) {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-w.probes.triggers[w.typ]:
			ticker.Reset(period)
		}
	}
}

// doProbe probes once if the probe is due and acts on the result; false ends the worker.
func (w *worker) doProbe(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	s := settingsOf(w.probe)
	st := w.container.State()
	if st.Deleting && w.typ != Readiness {
		// A pod shutting down is not killed for failing liveness or startup.
		return false
	}
	if w.onHold {
		return true
	}
	// As the kubelet, the initial delay counts whole seconds since the container started.
	if int64(w.clock.Since(w.startedAt)/time.Second) < int64(s.initialDelay/time.Second) {
		return true
	}
	if st.Started != (w.typ != Startup) {
		// A startup probe runs until the container has started; the others only after.
		return true
	}
	ok, err := probeOnce(ctx, w.container, w.spec, st.PodIP, w.typ, w.probe)
	if err != nil || ctx.Err() != nil {
		return ctx.Err() == nil
	}
	if w.lastResult == ok && w.resultRun > 0 {
		w.resultRun++
	} else {
		w.lastResult, w.resultRun = ok, 1
	}
	if (!ok && w.resultRun < s.failure) || (ok && w.resultRun < s.success) {
		return true
	}
	switch w.typ {
	case Readiness:
		w.container.SetReady(ok)
	case Startup:
		w.onHold, w.resultRun = true, 0
		if ok {
			w.container.Started()
			// As the kubelet's status update does, the other probes run at once.
			w.probes.trigger(Readiness)
			w.probes.trigger(Liveness)
			return true
		}
		w.container.Kill(ctx, Startup)
	case Liveness:
		if !ok {
			w.onHold, w.resultRun = true, 0
			w.container.Kill(ctx, Liveness)
		}
	}
	return true
}
