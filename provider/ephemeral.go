package provider

import (
	"context"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podspec"
)

// Ephemeral containers (kubectl debug) are added to a running pod through the pods/ephemeralcontainers
// subresource; the apiserver lets them be added, never changed or removed. virtual-kubelet's pod controller counts
// spec.ephemeralContainers among the fields it compares (podsEqual), so such a change reaches UpdatePod, which
// hands the pod to updateEphemeralLocked.
//
// As the kubelet's computePodActions (EphemeralContainersToStart) and startContainer do, each one is started once
// the pod's sandbox runs, even before the pod is initialized: in the Podman pod's network, IPC and UTS namespaces,
// and, when it names a targetContainerName, in the target's PID namespace (unless the pod shares one). It is
// started once and never restarted, whatever the pod's restartPolicy; only its image pull and its creation are
// retried with back-off (ErrImagePull, ImagePullBackOff, CreateContainerConfigError), since no container of it
// exists until then. Its state is reported in status.ephemeralContainerStatuses, sorted by name, never ready; it
// counts neither for the pod's phase nor for its conditions. Deleting or evicting the pod stops it with the rest;
// a pod that finishes stops it too.

// ephemeralSet is a pod's ephemeral containers and the goroutines that run them. Guarded by Provider.mu.
type ephemeralSet struct {
	// list holds the ephemeral containers in the order they were added; the first started of them have a runner.
	list    []*containerRecord
	started int
	// ctx is the context of the runners, set once the pod's sandbox runs; cancel ends it.
	ctx    context.Context
	cancel context.CancelFunc
	// closed is set once the pod's runner has ended: no ephemeral container starts after that.
	closed bool
	wg     sync.WaitGroup
}

// updateEphemeralLocked takes the ephemeral containers of an updated pod over and starts the new ones if the pod's
// sandbox runs (else once it does). p.mu must be held.
func (w *podWorker) updateEphemeralLocked(pod *corev1.Pod) {
	n := len(w.r.eph.list)
	w.r.pod.Spec.EphemeralContainers = make([]corev1.EphemeralContainer, len(pod.Spec.EphemeralContainers))
	for i := range pod.Spec.EphemeralContainers {
		pod.Spec.EphemeralContainers[i].DeepCopyInto(&w.r.pod.Spec.EphemeralContainers[i])
	}
	w.r.addEphemeral()
	if len(w.r.eph.list) == n {
		return
	}
	w.launchEphemeralLocked()
	w.changedLocked()
}

// startEphemeral starts the pod's ephemeral containers once its sandbox runs; ctx is the pod runner's.
func (w *podWorker) startEphemeral(ctx context.Context) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	if w.r.eph.ctx == nil {
		w.r.eph.ctx, w.r.eph.cancel = context.WithCancel(ctx)
	}
	w.launchEphemeralLocked()
}

// launchEphemeralLocked gives each ephemeral container without one a runner, unless the pod's sandbox does not run
// yet or the pod is ending. p.mu must be held.
func (w *podWorker) launchEphemeralLocked() {
	e := &w.r.eph
	if e.ctx == nil || e.closed || w.r.terminal || w.r.deleting || w.r.evicting {
		return
	}
	ctx := e.ctx
	for ; e.started < len(e.list); e.started++ {
		c := e.list[e.started]
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			w.runEphemeral(ctx, c)
		}()
	}
}

// stopEphemeral ends the ephemeral containers' runners when the pod's runner (whose context is ctx) ends; none
// starts after it. When the pod finished rather than being deleted or evicted (whose kill stops every running
// container), the ones still running are stopped, as the kubelet kills a terminated pod's containers.
func (w *podWorker) stopEphemeral(ctx context.Context) {
	w.p.mu.Lock()
	w.r.eph.closed = true
	cancel := w.r.eph.cancel
	w.p.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	w.r.eph.wg.Wait()
	if ctx.Err() != nil {
		return
	}
	w.p.mu.Lock()
	var running []*containerRecord
	for _, c := range w.r.eph.list {
		if c.id != "" && c.state.Running != nil {
			running = append(running, c)
		}
	}
	w.p.mu.Unlock()
	for _, c := range running {
		if err := w.p.retryUnreachable(ctx, "stop container", func() error { return w.p.stopContainer(ctx, c.id, gracePeriod(w.r.pod)) }); err != nil {
			klog.FromContext(ctx).Error(err, "Stopping ephemeral container", "container", c.spec.Name)
		}
		w.p.mu.Lock()
		w.observeExit(ctx, c, -1)
		w.changedLocked()
		w.p.mu.Unlock()
	}
}

// runEphemeral runs an ephemeral container once. Its image pull and creation are retried with back-off, as the
// kubelet retries a container of which no container exists; once it ran, or failed to start, it is never
// started again. One the node refuses (privileged, capabilities) waits in CreateContainerConfigError, unless an
// earlier virtual kubelet started it already.
func (w *podWorker) runEphemeral(ctx context.Context, c *containerRecord) {
	w.p.mu.Lock()
	if msg := podspec.AdmitEphemeral(c.spec, w.p.policy()); msg != "" && c.resumeID == "" {
		w.waitLocked(c, "CreateContainerConfigError", msg, failedEvent(msg))
		w.p.mu.Unlock()
		return
	}
	w.p.mu.Unlock()
	for {
		kind := configErr
		if w.joinTarget(c) {
			_, kind = w.runOnce(ctx, c)
		}
		if ctx.Err() != nil || (kind != pullErr && kind != configErr) {
			return
		}
		if !w.retryWait(ctx, c, kind) {
			return
		}
	}
}

// joinTarget sets the PID namespace an ephemeral container joins: its target container's, as the kubelet's
// NamespaceMode_TARGET, unless the pod shares one (shareProcessNamespace, hostPID). A target of which no container
// exists fails the attempt as the kubelet does ("unable to find target container"); false then. One taken over
// from an earlier virtual kubelet needs none.
func (w *podWorker) joinTarget(c *containerRecord) bool {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	c.pidOf = ""
	name := ephemeralTarget(w.r.pod, c.spec.Name)
	shared := w.r.pod.Spec.HostPID || (w.r.pod.Spec.ShareProcessNamespace != nil && *w.r.pod.Spec.ShareProcessNamespace)
	if c.resumeID != "" || name == "" || shared {
		return true
	}
	for _, t := range slices.Concat(w.r.init, w.r.app) {
		if t.spec.Name == name && t.id != "" {
			c.pidOf = t.id
			return true
		}
	}
	msg := fmt.Sprintf("unable to find target container %s", name)
	w.waitLocked(c, "CreateContainerConfigError", msg, failedEvent(msg))
	return false
}

// ephemeralTarget is the targetContainerName of a pod's ephemeral container.
func ephemeralTarget(pod *corev1.Pod, name string) string {
	for _, ec := range pod.Spec.EphemeralContainers {
		if ec.Name == name {
			return ec.TargetContainerName
		}
	}
	return ""
}
