package provider

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podstatus"
)

// A deleted pod is stopped as the kubelet's killPod stops it: its runner ends, its running containers are stopped
// in parallel (preStop hooks first, then the stop signal, sidecars last in the kubelet's termination order,
// terminationOrder below), then its Podman pod and volumes are removed and its final status is reported.

// terminationOrder is the order in which a pod's running containers stop, as the kubelet's terminationOrdering has
// it: regular (and ephemeral) containers stop at once; a sidecar (restartable init container) stops only once every
// regular container has stopped and every later sidecar has, so that the main containers' preStop hooks and last
// requests can still use it. Waiting takes from the container's grace period.
type terminationOrder struct {
	// stopped closes, by container name, when that container has stopped; prereqs are what each must wait for.
	stopped map[string]chan struct{}
	prereqs map[string][]chan struct{}
}

// kill stops a pod being deleted, removes its Podman pod and reports its final status.
func (w *podWorker) kill(ctx context.Context, grace time.Duration) {
	logger := klog.FromContext(ctx)
	w.r.cancel()
	<-w.r.done // the runner has stopped touching containers

	w.stopRunning(ctx, grace)
	// By name when its ID is not known: the runner may have been stopped while Podman was creating it.
	podmanPod := w.r.podmanID
	if podmanPod == "" {
		podmanPod = w.r.podmanName
	}
	if err := w.p.retryUnreachable(ctx, "remove pod", func() error { return w.p.cfg.Runtime.RemovePod(ctx, podmanPod) }); err != nil {
		logger.Error(err, "Removing Podman pod", "podmanPod", w.r.podmanName)
	}
	w.p.releaseUserNamespace(w.r.pod.UID)
	w.r.volMu.Lock()
	if err := w.p.volumes().TearDown(w.r.pod.UID); err != nil {
		logger.Error(err, "Removing the pod's volumes")
	}
	w.r.volMu.Unlock()
	w.p.mu.Lock()
	w.r.terminal = true
	w.r.sandbox = false
	w.r.removed = true
	w.stopDeadlineLocked()
	// Containers that never ran are reported as the kubelet's TerminatePod does (which leaves ephemeral ones be).
	for _, c := range w.r.containers() {
		if c.state.Waiting != nil && !c.ephemeral {
			c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: "ContainerStatusUnknown",
				Message: "The container could not be located when the pod was terminated",
			}}
		}
	}
	for _, c := range w.r.containers() {
		w.p.exits.stoppedByUs(c.id) // forget the stops no waiter consumed
	}
	delete(w.p.pods, key(w.r.pod.Namespace, w.r.pod.Name))
	w.p.retryPendingResizesLocked() // the room it took is free
	w.changedLocked()
	final := w.p.podLocked(w.r)
	w.p.mu.Unlock()
	logger.V(2).Info("Pod stopped and removed")
	if w.p.cfg.Finalize != nil {
		if err := w.p.cfg.Finalize(ctx, final); err != nil {
			logger.Error(err, "Removing the deleted pod's API object")
		}
	}
}

// stopForGood stops a live pod that the node gave up on (evicted, past its active deadline; the caller has set
// r.evicting) as the kubelet's killPod does: an event of the reason, its runner stopped, its running containers
// killed within grace (preStop hooks first) and its sandbox stopped, then phase Failed with the reason and message;
// a container it saw no end of (never started) is reported terminated as the kubelet's TerminatePod reports it.
// Unlike the kubelet, whose status says Failed at once, the phase turns Failed only once the containers have
// stopped: virtual-kubelet writes no status of a pod whose phase is terminal, so their end would never be seen.
// The Podman pod stays (for logs) until the pod is deleted.
func (w *podWorker) stopForGood(ctx context.Context, grace time.Duration, eventType, reason, msg string) {
	w.p.cfg.Recorder.Event(w.r.pod, eventType, reason, msg)
	w.r.cancel()
	<-w.r.done

	w.stopRunning(ctx, grace)
	if w.r.podmanID != "" {
		if err := w.p.cfg.Runtime.StopPod(ctx, w.r.podmanID, grace); err != nil {
			klog.FromContext(ctx).Error(err, "Stopping the sandbox of a pod stopped for good")
		}
	}
	w.p.mu.Lock()
	w.r.terminal, w.r.sandbox = true, false
	// A container that had not started, or whose end was not seen, is reported as the kubelet's TerminatePod does.
	cs := w.r.containers()
	for _, i := range podstatus.Unterminated(w.r.snapshot(nil).Containers) {
		cs[i].state = podstatus.Unlocated()
	}
	w.r.finalPhase = corev1.PodFailed
	w.r.reason, w.r.message = reason, msg
	w.changedLocked()
	w.p.mu.Unlock()
}

// gracePeriod is the time containers get between the stop signal and SIGKILL, at least minGracePeriod.
func gracePeriod(pod *corev1.Pod) time.Duration {
	secs := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		secs = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		secs = *pod.DeletionGracePeriodSeconds
	}
	secs = max(secs, int64(minGracePeriod/time.Second))
	return time.Duration(secs) * time.Second
}

// stopRunning stops a pod's running containers in parallel as the kubelet's killPod does: a Killing event, the
// preStop hook within the grace period, then the stop signal and SIGKILL when the rest of the period runs out.
// The runner must have stopped.
func (w *podWorker) stopRunning(ctx context.Context, grace time.Duration) {
	logger := klog.FromContext(ctx)
	w.p.mu.Lock()
	var running []*containerRecord
	names := map[string]bool{}
	for _, c := range w.r.containers() {
		if c.id != "" && c.state.Running != nil {
			running = append(running, c)
			names[c.spec.Name] = true
			w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", c.spec.Name)
		}
	}
	order := newTerminationOrder(w.r.pod, names)
	w.p.mu.Unlock()

	var wg sync.WaitGroup
	for _, c := range running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The preStop hook runs first, within the grace period.
			grace := w.preStop(ctx, c, c.id, grace)
			// A sidecar stops after the main containers and the later sidecars (the kubelet's termination order).
			if !c.ephemeral {
				grace = max(order.waitForTurn(c.spec.Name, grace), minGracePeriod)
				defer order.done(c.spec.Name)
			}
			// While Podman does not answer, the container runs on: it is stopped once Podman answers again.
			if err := w.p.retryUnreachable(ctx, "stop container", func() error { return w.p.stopContainer(ctx, c.id, grace) }); err != nil {
				logger.Error(err, "Stopping container", "container", c.spec.Name)
			}
			w.recordExit(ctx, c, c.id, -1)
		}()
	}
	wg.Wait()
}

// newTerminationOrder orders the stop of pod's containers, of which those named in running are running.
func newTerminationOrder(pod *corev1.Pod, running map[string]bool) *terminationOrder {
	o := &terminationOrder{stopped: map[string]chan struct{}{}, prereqs: map[string][]chan struct{}{}}
	channel := func(name string) chan struct{} {
		ch := make(chan struct{})
		if !running[name] {
			close(ch) // nothing waits for a container that is not running
		}
		o.stopped[name] = ch
		return ch
	}
	var mains []chan struct{}
	for _, c := range pod.Spec.Containers {
		mains = append(mains, channel(c.Name))
	}
	later := "" // the next sidecar in spec order, which stops before this one
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		ic := &pod.Spec.InitContainers[i]
		channel(ic.Name)
		if !podstatus.IsRestartableInit(ic) {
			continue
		}
		o.prereqs[ic.Name] = append(o.prereqs[ic.Name], mains...)
		if later != "" {
			o.prereqs[ic.Name] = append(o.prereqs[ic.Name], o.stopped[later])
		}
		later = ic.Name
	}
	return o
}

// waitForTurn blocks until the containers name stops after have stopped, or for at most grace; it returns the
// grace left.
func (o *terminationOrder) waitForTurn(name string, grace time.Duration) time.Duration {
	if grace <= 0 || o.turn(name) {
		return grace
	}
	start := time.Now()
	t := time.NewTimer(grace)
	defer t.Stop()
	for _, ch := range o.prereqs[name] {
		select {
		case <-ch:
		case <-t.C:
			return 0
		}
	}
	return grace - time.Since(start).Truncate(time.Second)
}

// turn tells whether every container name stops after has stopped: name may stop now.
func (o *terminationOrder) turn(name string) bool {
	for _, ch := range o.prereqs[name] {
		select {
		case <-ch:
		default:
			return false
		}
	}
	return true
}

// done marks name stopped. Called once per container.
func (o *terminationOrder) done(name string) {
	if ch, ok := o.stopped[name]; ok {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

// killContainer stops one container of a live pod as the kubelet's killContainer: a Killing event with msg, the
// preStop hook within the grace period, then the stop signal with what is left of it (at least 2s). It returns
// the error of the stop.
func (w *podWorker) killContainer(ctx context.Context, c *containerRecord, id, msg string, grace time.Duration) error {
	w.p.cfg.Recorder.Event(w.r.pod, corev1.EventTypeNormal, "Killing", msg)
	w.p.mu.Lock()
	c.killed = true
	w.p.mu.Unlock()
	grace = w.preStop(ctx, c, id, grace)
	klog.FromContext(ctx).V(2).Info("Killing container with a grace period", "container", c.spec.Name, "gracePeriod", grace)
	err := w.p.stopContainer(ctx, id, grace)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Stopping container", "container", c.spec.Name)
	}
	return err
}

// killGracePeriod is the grace period of a container killed for failing a probe (setTerminationGracePeriod): the
// pod's deletion grace period while it is deleted, else the probe's own terminationGracePeriodSeconds, else the
// pod's. pr may be nil.
func killGracePeriod(pod *corev1.Pod, pr *corev1.Probe) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pr != nil && pr.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pr.TerminationGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return minGracePeriod
}

// stopContainer stops a container as Berth's own decision (a kill, an eviction, a finished pod's sidecar): its
// exit is reported as soon as it comes, not held back to tell it from a removal.
func (p *Provider) stopContainer(ctx context.Context, id string, grace time.Duration) error {
	p.exits.expectStop(id)
	return p.cfg.Runtime.StopContainer(ctx, id, grace)
}
