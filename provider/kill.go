package provider

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// A deleted pod is stopped as the kubelet's killPod stops it: its runner ends, its running containers are stopped
// in parallel (preStop hooks first, then the stop signal, sidecars last in the kubelet's termination order,
// termorder.go), then its Podman pod and volumes are removed and its final status is reported.

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
