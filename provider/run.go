package provider

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podspec"
)

// podWorker is one pod's runner, as the kubelet's pod worker: it holds the pod's record and owns the pod's path,
// from admission through the sandbox, the volumes and the init containers to the supervision of its containers
// (each attempt's steps: pull, buildSpec, create, start, wait, recordExit), and what an update, a deadline, an
// eviction or a deletion does to the pod once it runs. p is the node the pod runs on: the lock that guards every
// record, the dispatcher of status changes (changedLocked), the node's configuration and informer caches, and
// Podman behind the retries of reachability.go. Its state is the record's, so a worker is made wherever one is
// needed (Provider.worker).
type podWorker struct {
	p *Provider
	r *podRecord
}

// event is a Kubernetes event to record on a pod.
type event struct{ typ, reason, message string }

// errKind tells how a failed attempt to run a container failed.
type errKind int

const (
	noErr     errKind = iota
	pullErr           // image could not be pulled: retried whatever the restart policy (ImagePullBackOff)
	configErr         // container could not be created: retried (CreateContainerError)
	startErr          // container was created but did not start: counts as a run that failed
)

// worker is the runner of the pod whose record is r.
func (p *Provider) worker(r *podRecord) *podWorker { return &podWorker{p: p, r: r} }

// run is a pod's runner: sandbox, init containers in order, then the app containers under supervision.
func (w *podWorker) run(ctx context.Context) {
	defer close(w.r.done)
	defer w.stopEphemeral(ctx)
	logger := klog.FromContext(ctx)
	w.timedQueue()

	admitted := time.Now()
	if rej := podspec.Admit(w.r.pod, w.p.policy()); rej != nil {
		w.refuse(rej)
		return
	}

	// The kubelet reports its first status (containers waiting in ContainerCreating) before the volumes are up.
	w.p.mu.Lock()
	w.changedLocked()
	w.p.mu.Unlock()
	// A pod with a user namespace of its own gets its range before its volumes are made: their folders are its IDs'.
	if !w.retrySandbox(ctx, func() error { return w.allocateUserNamespace() }) {
		return
	}
	w.timed(phaseAdmit, admitted)
	mounted := time.Now()
	if !w.mountVolumes(ctx) {
		return
	}
	w.timed(phaseVolumes, mounted)

	// Whether the containers' images are present is asked while the sandbox is made.
	w.prefetchImageChecks(ctx)
	if !w.startSandbox(ctx) {
		return
	}
	w.startEphemeral(ctx)

	// Regular init containers run one at a time to completion; sidecars start and keep running.
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, c := range w.r.init {
		if c.sidecar {
			started := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.supervise(ctx, c, started)
			}()
			select {
			case <-started:
			case <-ctx.Done():
				return
			}
			continue
		}
		if !w.runInit(ctx, c) {
			return
		}
	}
	w.p.mu.Lock()
	w.r.initialized = true
	w.changedLocked()
	w.p.mu.Unlock()

	// The app containers run side by side: each but the last in a goroutine of its own, the last in this one (a
	// pod of one container, the common case, needs no goroutine beside its runner).
	var apps sync.WaitGroup
	for i, c := range w.r.app {
		if i == len(w.r.app)-1 {
			w.supervise(ctx, c, nil)
			continue
		}
		apps.Add(1)
		go func() {
			defer apps.Done()
			w.supervise(ctx, c, nil)
		}()
	}
	apps.Wait()
	if ctx.Err() != nil {
		return
	}
	// Every app container has stopped for good: the pod is terminal.
	w.finish(ctx)
	logger.V(2).Info("Pod finished")
}

// refuse fails a pod the node does not admit: the rejection's warning event, every container waiting in
// CreateContainerConfigError with its message, and phase Failed with its reason and message.
func (w *podWorker) refuse(rej *podspec.Rejection) {
	w.p.cfg.Recorder.Event(w.r.pod, corev1.EventTypeWarning, rej.EventReason, rej.EventMessage)
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	w.r.terminal = true
	for _, c := range w.r.containers() {
		c.state = waiting("CreateContainerConfigError", rej.Message)
	}
	w.r.reason, w.r.message = rej.Reason, rej.Message
	w.r.finalPhase = corev1.PodFailed
	w.changedLocked()
}

// retrySandbox makes a part of the pod's sandbox until it is made, retrying with back-off as the kubelet does
// (each failure a FailedCreatePodSandBox event); false means the runner stopped first.
func (w *podWorker) retrySandbox(ctx context.Context, step func() error) bool {
	backoff := w.p.cfg.InitialBackoff
	for {
		err := step()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if w.p.unreachable(ctx, err) {
			// Not the sandbox's failure: it is made once Podman answers again.
			klog.FromContext(ctx).V(2).Info("Podman does not answer; creating the pod sandbox once it does", "err", err)
			if !w.p.waitPodman(ctx) {
				return false
			}
			continue
		}
		klog.FromContext(ctx).Error(err, "Creating pod sandbox")
		w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, w.p.cfg.MaxBackoff)
	}
}

// runInit runs a regular init container until it succeeds; false means the pod will not go on.
func (w *podWorker) runInit(ctx context.Context, c *containerRecord) bool {
	for {
		exit, kind := w.runOnce(ctx, c)
		if ctx.Err() != nil {
			return false
		}
		if kind == noErr && exit == 0 {
			return true
		}
		if kind == pullErr || kind == configErr {
			if !w.retryWait(ctx, c, kind) {
				return false
			}
			continue
		}
		if w.r.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			w.finish(ctx)
			return false
		}
		if !w.crashWait(ctx, c) {
			return false
		}
	}
}

// supervise runs a container and restarts it as the restart policy says, until it stops for good or ctx ends.
// started, if not nil, is closed once the container first runs.
func (w *podWorker) supervise(ctx context.Context, c *containerRecord, started chan struct{}) {
	once := sync.Once{}
	signal := func() {
		if started != nil {
			once.Do(func() { close(started) })
		}
	}
	// renewed is set while the run is the restart of a container killed for a new image.
	renewed := false
	for {
		exit, kind := w.runOnce(ctx, c, signal)
		if ctx.Err() != nil {
			return
		}
		if kind == pullErr || kind == configErr {
			if renewed && !shouldRestart(w.r.pod, c, 1) {
				// The restart for the new image could not run: under restartPolicy Never, the container stays
				// stopped, as the kubelet does not try it again.
				signal()
				return
			}
			if !w.retryWait(ctx, c, kind) {
				return
			}
			continue
		}
		if w.consumeResizeRestart(c) {
			continue
		}
		w.p.mu.Lock()
		done := w.r.terminal
		renewed, c.restartNow = c.restartNow, false
		w.p.mu.Unlock()
		if !done && renewed {
			continue // killed for a new image: it starts again at once
		}
		if done || !shouldRestart(w.r.pod, c, exit) {
			signal()
			return
		}
		if !w.crashWait(ctx, c) {
			return
		}
	}
}

// shouldRestart applies the restart policy to a container that exited with code exit.
func shouldRestart(pod *corev1.Pod, c *containerRecord, exit int32) bool {
	if c.sidecar {
		return true
	}
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exit != 0
	default:
		return true
	}
}

// consumeResizeRestart tells the runner of a container that just exited whether it was stopped for a resize: it
// then starts again at once, whatever the restart policy and without back-off, as the kubelet starts it in the same
// sync that killed it. p.mu must not be held.
func (w *podWorker) consumeResizeRestart(c *containerRecord) bool {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	if !c.resizeRestart {
		return false
	}
	c.resizeRestart = false
	if c.state.Terminated != nil {
		c.last = c.state
	}
	w.settleLocked()
	return true
}

// crashWait shows CrashLoopBackOff for the current back-off, then lets the container run again.
func (w *podWorker) crashWait(ctx context.Context, c *containerRecord) bool {
	w.p.mu.Lock()
	// A container that ran long enough (twice the maximum back-off) starts over from the initial back-off.
	maxBackoff := w.p.cfg.MaxContainerRestartPeriod
	if c.backoff == 0 || time.Since(c.lastStart) > 2*maxBackoff {
		c.backoff = min(w.p.cfg.InitialBackoff, maxBackoff)
	} else {
		c.backoff = min(2*c.backoff, maxBackoff)
	}
	d := c.backoff
	msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", d, c.spec.Name, podspec.FormatPod(w.r.pod))
	if c.state.Terminated != nil {
		c.last = c.state
	}
	w.waitLocked(c, "CrashLoopBackOff", msg, event{corev1.EventTypeWarning, "BackOff",
		fmt.Sprintf("Back-off restarting failed container %s in pod %s", c.spec.Name, podspec.FormatPod(w.r.pod))})
	w.p.mu.Unlock()
	return w.backOff(ctx, c, d)
}

// retryWait waits before retrying an image pull or a container creation. As the kubelet shows it, a failed pull
// reads ErrImagePull first, then ImagePullBackOff until the next attempt; ErrImageNeverPull stays as it is.
func (w *podWorker) retryWait(ctx context.Context, c *containerRecord, kind errKind) bool {
	w.p.mu.Lock()
	if c.backoff == 0 {
		c.backoff = w.p.cfg.InitialBackoff
	} else {
		c.backoff = min(2*c.backoff, w.p.cfg.MaxBackoff)
	}
	d := c.backoff
	pulling := kind == pullErr && c.state.Waiting != nil && c.state.Waiting.Reason == "ErrImagePull"
	var prev string
	if pulling {
		prev = c.state.Waiting.Message
	}
	w.p.mu.Unlock()
	if !pulling {
		return w.backOff(ctx, c, d)
	}
	if !w.backOff(ctx, c, d/2) {
		return false
	}
	w.p.mu.Lock()
	if imageChangedLocked(c) {
		w.p.mu.Unlock()
		return true // the new image is pulled at once
	}
	msg := fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", c.spec.Image, prev)
	w.waitLocked(c, "ImagePullBackOff", msg, event{corev1.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", c.spec.Image)})
	w.p.mu.Unlock()
	return w.backOff(ctx, c, d-d/2)
}

// backOff waits d, as sleep does, for the container's next run, but ends early once the pod's spec gives the
// container a new image: the kubelet's back-offs are keyed by image, and a new one has none. False means ctx
// ended.
func (w *podWorker) backOff(ctx context.Context, c *containerRecord, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-c.respec:
			w.p.mu.Lock()
			changed := imageChangedLocked(c)
			w.p.mu.Unlock()
			if changed {
				return true
			}
		}
	}
}

// waitLocked leaves the container waiting with reason and message, records ev on the pod, and reports the
// change. The caller holds p.mu.
func (w *podWorker) waitLocked(c *containerRecord, reason, message string, ev event) {
	c.state = waiting(reason, message)
	w.p.cfg.Recorder.Event(w.r.pod, ev.typ, ev.reason, ev.message)
	w.changedLocked()
}

// failedEvent is the kubelet's warning for a container that could not be run: Failed, "Error: <what>".
func failedEvent(what string) event {
	return event{corev1.EventTypeWarning, "Failed", "Error: " + what}
}

// finish tears a terminal pod's sandbox down as the kubelet does: sidecars and the infra container stop; the
// exited containers stay (for logs) until the pod is deleted.
func (w *podWorker) finish(ctx context.Context) {
	w.p.mu.Lock()
	w.r.terminal = true
	w.p.mu.Unlock()
	// Later sidecars first, as the kubelet's termination order has it (kill.go).
	for _, c := range slices.Backward(w.r.init) {
		if c.sidecar && c.id != "" {
			grace := w.preStop(ctx, c, c.id, gracePeriod(w.r.pod))
			if err := w.p.retryUnreachable(ctx, "stop container", func() error { return w.p.stopContainer(ctx, c.id, grace) }); err != nil {
				klog.FromContext(ctx).Error(err, "Stopping sidecar", "container", c.spec.Name)
			}
			w.recordExit(ctx, c, c.id, -1)
		}
	}
	if err := w.p.retryUnreachable(ctx, "stop pod", func() error { return w.p.cfg.Runtime.StopPod(ctx, w.r.podmanID, gracePeriod(w.r.pod)) }); err != nil {
		klog.FromContext(ctx).Error(err, "Stopping the sandbox of a finished pod")
	}
	w.p.releaseUserNamespace(w.r.pod.UID) // nothing runs in it any more, as when the kubelet's SyncTerminatedPod frees it
	w.p.mu.Lock()
	w.r.sandbox = false
	w.changedLocked()
	w.p.mu.Unlock()
}

// sleep waits for d or until ctx ends; false means ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
