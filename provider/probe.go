package provider

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/prober"
)

// probeTick, when not zero, replaces the probes' periods (unit tests run probes faster than once a second).
var probeTick time.Duration

// startProbes starts the probe workers (package prober) of a container that now runs as id (started at
// startedAt), as the kubelet's prober manager does. onStarted are called once the container counts as started: at
// once if it has (no startup probe), else when the startup probe first succeeds. The returned function stops the
// workers.
func (w *podWorker) startProbes(ctx context.Context, c *containerRecord, id string, startedAt time.Time, onStarted []func()) func() {
	// Without a startup probe (or for a container taken over that had started), the container has started.
	w.p.mu.Lock()
	started := c.started
	w.p.mu.Unlock()
	if started {
		for _, f := range onStarted {
			f()
		}
	}
	return prober.Start(ctx, c.spec, &probedRun{w: w, c: c, id: id, onStarted: onStarted}, startedAt, probeTick).Stop
}

// probedRun is one run of a container (id) as its probe workers see it: the record stays the runner's, and the
// results change it only while id is still the container's current run.
type probedRun struct {
	w         *podWorker
	c         *containerRecord
	id        string
	onStarted []func()
}

var _ prober.Container = &probedRun{}

// State is the run's started state, whether its pod shuts down, and the pod's IP.
func (pr *probedRun) State() prober.State {
	pr.w.p.mu.Lock()
	defer pr.w.p.mu.Unlock()
	return prober.State{Started: pr.c.started, Deleting: pr.w.r.deleting || pr.w.r.pod.DeletionTimestamp != nil, PodIP: pr.w.r.podIP}
}

// Exec runs a probe's command in the run.
func (pr *probedRun) Exec(ctx context.Context, cmd []string, timeout time.Duration) ([]byte, error) {
	return pr.w.p.exec(ctx, pr.id, cmd, timeout)
}

// Eventf records a probe's event on the pod.
func (pr *probedRun) Eventf(eventType, reason, messageFmt string, args ...any) {
	pr.w.p.cfg.Recorder.Eventf(pr.w.r.pod, eventType, reason, messageFmt, args...)
}

// SetReady records the readiness probe's result.
func (pr *probedRun) SetReady(ready bool) {
	pr.w.p.mu.Lock()
	defer pr.w.p.mu.Unlock()
	if pr.c.ready != ready && pr.c.id == pr.id {
		pr.c.ready = ready
		pr.w.changedLocked()
	}
}

// Started records that the startup probe succeeded and calls the run's onStarted.
func (pr *probedRun) Started() {
	pr.w.p.mu.Lock()
	if pr.c.id == pr.id {
		pr.c.started = true
		pr.w.changedLocked()
	}
	pr.w.p.mu.Unlock()
	for _, f := range pr.onStarted {
		f()
	}
}

// Kill kills the run for failing its liveness or startup probe.
func (pr *probedRun) Kill(ctx context.Context, t prober.Type) {
	pr.w.killForProbe(ctx, pr.c, pr.id, t)
}

// killForProbe kills a container that failed its liveness or startup probe, as the kubelet does; the runner then
// sees it exit and applies the restart policy.
func (w *podWorker) killForProbe(ctx context.Context, c *containerRecord, id string, t prober.Type) {
	what := "liveness"
	if t == prober.Startup {
		what = "startup"
	}
	msg := fmt.Sprintf("Container %s failed %s probe", c.spec.Name, what)
	if c.sidecar || w.r.pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		msg += ", will be restarted"
	}
	w.p.mu.Lock()
	grace := killGracePeriod(w.r.pod, t.Probe(c.spec))
	w.p.mu.Unlock()
	// The kill goes on if the worker is stopped meanwhile: the container is on its way out.
	w.killContainer(context.WithoutCancel(ctx), c, id, msg, grace)
}
