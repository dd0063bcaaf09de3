package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

// In-place pod resize (the pods/resize subresource), as the kubelet does it. UpdatePod hands the API's pod to
// updateResourcesLocked (allocation.go), which admits its container resources as the kubelet's allocation manager
// does: allocated if they fit in the node's allocatable beside the other pods' allocations, else the pod reports
// PodResizePending (Deferred, tried again when room is made, or Infeasible). Once allocated, the pod reports
// PodResizeInProgress and its resize worker (this file) brings every running container to the allocation: in
// place through Podman's container update, or by a restart where the container's resizePolicy says
// RestartContainer. The condition goes once no running container differs from its allocation.
//
// A record's pod spec holds the allocated resources, so that a container created later (a restart) gets them; the
// API's resources, while they differ and are not allocated, wait in the record's resizeState.

// Event reasons of resizes, as the kubelet's (pkg/kubelet/events).
const (
	eventResizeStarted    = "ResizeStarted"
	eventResizeCompleted  = "ResizeCompleted"
	eventResizeDeferred   = "ResizeDeferred"
	eventResizeInfeasible = "ResizeInfeasible"
	eventResizeError      = "ResizeError"
)

// resizeRetryPeriod is how often a deferred resize is admitted again when nothing else made room (the kubelet's
// allocation manager: 3 minutes).
const resizeRetryPeriod = 3 * time.Minute

// resizeState is one pod's share of the kubelet's allocation manager and resize conditions. Guarded by
// Provider.mu.
type resizeState struct {
	// desired is the API's pod while its resources differ from the allocation, nil when they do not.
	desired *corev1.Pod
	// pending and inProgress are the pod's PodResizePending and PodResizeInProgress conditions, nil when absent.
	pending, inProgress *corev1.PodCondition
	// kick wakes the pod's resize worker; nil until the worker runs.
	kick chan struct{}
}

// kickLocked wakes the pod's resize worker, if it runs.
func (s *resizeState) kickLocked() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// resizeCondition is a resize condition as the kubelet's status manager makes one (updatedPodResizeCondition): its
// transition time moves only when its reason does.
func resizeCondition(typ corev1.PodConditionType, old *corev1.PodCondition, reason, msg string, generation int64) *corev1.PodCondition {
	now := metav1.Now()
	transition := now
	if old != nil && old.Reason == reason {
		transition = old.LastTransitionTime
	}
	return &corev1.PodCondition{Type: typ, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: transition,
		ObservedGeneration: generation, Reason: reason, Message: msg}
}

// startResizeWorkerLocked wakes the pod's resize worker, starting it first if need be (with ctx's logger, which
// names the pod); it ends with the pod's runner. p.mu must be held.
func (w *podWorker) startResizeWorkerLocked(ctx context.Context) {
	if w.r.resize.kick == nil {
		w.r.resize.kick = make(chan struct{}, 1)
		go w.resizeWorker(context.WithoutCancel(ctx), w.r.resize.kick)
	}
	w.r.resize.kickLocked()
}

// resizeWorker brings a pod's running containers to their allocated resources each time it is woken, tries a
// deferred resize again, and retries what failed, until the pod's runner ends.
func (w *podWorker) resizeWorker(ctx context.Context, kick <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-w.r.done:
			return
		case <-kick:
		case <-t.C:
		}
		if retry := w.syncResize(ctx); retry > 0 {
			t.Reset(retry)
		}
	}
}

// resizeAction is what a running container needs to get its allocated resources.
type resizeAction struct {
	c       *containerRecord
	id      string
	target  corev1.ResourceRequirements
	current *corev1.ResourceRequirements // nil when not known
	restart bool
}

// syncResize is one pass of the resize worker, as the kubelet's SyncPod with a resize: a deferred resize is
// admitted again, then every running container whose resources differ from its allocation is updated in place or
// restarted. It returns when to try again (0: only when woken).
func (w *podWorker) syncResize(ctx context.Context) time.Duration {
	var retry time.Duration
	w.p.mu.Lock()
	if w.r.terminal || w.r.deleting {
		w.p.mu.Unlock()
		return 0
	}
	if s := w.r.resize; s.desired != nil && s.pending != nil && s.pending.Reason == corev1.PodReasonDeferred {
		if !w.allocateLocked(ctx) {
			retry = resizeRetryPeriod
		}
		w.changedLocked()
	}
	var actions []resizeAction
	for _, c := range w.r.containers() {
		if !resizeOutstanding(c) || c.resizeRestart {
			continue
		}
		a := resizeAction{c: c, id: c.id, target: *c.spec.Resources.DeepCopy(), current: c.applied.DeepCopy()}
		// A container whose resources are not known is updated in place: nothing says that it must restart.
		a.restart = a.current != nil && restartRequired(c.spec, *a.current, a.target)
		actions = append(actions, a)
	}
	w.p.mu.Unlock()

	err := w.actuateResize(ctx, actions)

	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	if err != nil {
		klog.FromContext(ctx).Error(err, "Resizing the pod's containers")
		w.resizeErrorLocked(err)
		if retry == 0 || retry > w.p.cfg.InitialBackoff {
			retry = w.p.cfg.InitialBackoff
		}
	}
	w.settleLocked()
	return retry
}

// resizeOutstanding tells whether a container runs with other resources than its allocation (or unknown ones).
func resizeOutstanding(c *containerRecord) bool {
	return c.id != "" && c.state.Running != nil && (c.applied == nil || !sameResources(*c.applied, c.spec.Resources))
}

// sameResources compares resources as the kubelet's computePodResizeAction does: memory in bytes and CPU in
// milli-CPU, requests and limits.
func sameResources(a, b corev1.ResourceRequirements) bool {
	return a.Limits.Memory().Value() == b.Limits.Memory().Value() && a.Requests.Memory().Value() == b.Requests.Memory().Value() &&
		a.Limits.Cpu().MilliValue() == b.Limits.Cpu().MilliValue() && a.Requests.Cpu().MilliValue() == b.Requests.Cpu().MilliValue()
}

// restartRequired tells whether a change of resources restarts a container: some resource that changes has the
// resizePolicy RestartContainer (NotRequired is the default).
func restartRequired(c *corev1.Container, from, to corev1.ResourceRequirements) bool {
	changed := map[corev1.ResourceName]bool{
		corev1.ResourceMemory: from.Limits.Memory().Value() != to.Limits.Memory().Value() || from.Requests.Memory().Value() != to.Requests.Memory().Value(),
		corev1.ResourceCPU:    from.Limits.Cpu().MilliValue() != to.Limits.Cpu().MilliValue() || from.Requests.Cpu().MilliValue() != to.Requests.Cpu().MilliValue(),
	}
	for _, pol := range c.ResizePolicy {
		if changed[pol.ResourceName] && pol.RestartPolicy == corev1.RestartContainer {
			return true
		}
	}
	return false
}

// actuateResize carries the actions out as the kubelet's doPodResizeAction: memory limits that shrink are first
// checked against the containers' usage, containers to restart are stopped (their runner starts them again at
// once, with the allocation), the others are updated in place, shrinking ones first.
func (w *podWorker) actuateResize(ctx context.Context, actions []resizeAction) error {
	if err := w.checkMemoryDecrease(ctx, actions); err != nil {
		return err
	}
	slices.SortStableFunc(actions, func(a, b resizeAction) int {
		return boolInt(!shrinksMemory(a)) - boolInt(!shrinksMemory(b))
	})
	var errs []error
	for _, a := range actions {
		if a.restart {
			w.restartForResize(ctx, a)
			continue
		}
		err := w.p.cfg.Runtime.UpdateContainerResources(ctx, a.id, podspec.Resources(a.target))
		if err != nil {
			if st, ierr := w.p.cfg.Runtime.InspectContainer(ctx, a.id); (ierr == nil && !st.Running) || podman.IsNotFound(ierr) {
				// It stopped meanwhile: its next run gets the allocation.
				continue
			}
			errs = append(errs, err)
			continue
		}
		klog.FromContext(ctx).V(2).Info("Resized container in place", "container", a.c.spec.Name)
		w.p.mu.Lock()
		if a.c.id == a.id {
			a.c.applied = a.target.DeepCopy()
		}
		w.p.mu.Unlock()
	}
	return errors.Join(errs...)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// shrinksMemory tells whether an in-place action sets a memory limit lower than the current one (or one where there
// was none).
func shrinksMemory(a resizeAction) bool {
	want := a.target.Limits.Memory().Value()
	if a.restart || want == 0 {
		return false
	}
	return a.current == nil || a.current.Limits.Memory().IsZero() || want < a.current.Limits.Memory().Value()
}

// checkMemoryDecrease refuses to set a memory limit below what the container uses, as the kubelet's
// validateMemoryResizeAction does (the kernel would have to reclaim or kill), with its message.
func (w *podWorker) checkMemoryDecrease(ctx context.Context, actions []resizeAction) error {
	shrinking := map[string]int64{} // container ID: its new limit
	for _, a := range actions {
		if shrinksMemory(a) {
			shrinking[a.id] = a.target.Limits.Memory().Value()
		}
	}
	if len(shrinking) == 0 {
		return nil
	}
	w.p.mu.Lock()
	var ids []string
	names := map[string]string{}
	for _, c := range w.r.containers() {
		if c.id != "" && c.state.Running != nil {
			ids = append(ids, c.id)
			names[c.id] = c.spec.Name
		}
	}
	podName := podspec.FormatPod(w.r.pod)
	w.p.mu.Unlock()
	stats, err := w.p.cfg.Runtime.Stats(ctx, ids)
	if err != nil {
		return fmt.Errorf("unable to read memory usage for pod %q: %w", podName, err)
	}
	var podUsage uint64
	for _, s := range stats {
		podUsage += s.MemUsage
	}
	var errs []error
	for _, s := range stats {
		if limit, ok := shrinking[s.ID]; ok && s.MemUsage >= uint64(limit) {
			// The kubelet's message gives the pod's usage.
			errs = append(errs, fmt.Errorf("attempting to set container %q memory limit (%d) below current usage (%d)", names[s.ID], limit, podUsage))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cannot decrease memory limits: %w", utilerrors.NewAggregate(errs))
	}
	return nil
}

// restartForResize stops a container whose resize requires a restart, as the kubelet's killContainer with the
// resize's message; its runner starts it again at once (consumeResizeRestart). A stop that fails is tried again
// by the worker.
func (w *podWorker) restartForResize(ctx context.Context, a resizeAction) {
	w.p.mu.Lock()
	a.c.resizeRestart = true
	grace := killGracePeriod(w.r.pod, nil)
	w.p.mu.Unlock()
	go func() {
		err := w.killContainer(ctx, a.c, a.id, fmt.Sprintf("Container %s resize requires restart", a.c.spec.Name), grace)
		if err == nil {
			return
		}
		w.p.mu.Lock()
		defer w.p.mu.Unlock()
		if a.c.id == a.id {
			a.c.resizeRestart = false
		}
		w.resizeErrorLocked(err)
		w.r.resize.kickLocked()
	}()
}

// resizeRunningLocked records the resources a container that just started runs with (nil when not known, for one
// taken over from an earlier virtual kubelet that did not report them): one that differs from its allocation (it
// changed while the container was being created) is resized by the worker; else a resize in progress may be done.
// p.mu must be held.
func (w *podWorker) resizeRunningLocked(ctx context.Context, c *containerRecord, applied *corev1.ResourceRequirements) {
	c.applied = applied
	if resizeOutstanding(c) {
		w.startResizeWorkerLocked(ctx)
		return
	}
	w.settleLocked()
}

// resizeErrorLocked reports a resize that failed as the kubelet's SyncPod does: PodResizeInProgress with reason
// Error and the message (its generation kept), and a ResizeError event when that changes it. p.mu must be held.
func (w *podWorker) resizeErrorLocked(err error) {
	s := &w.r.resize
	gen := w.r.pod.Generation
	if s.inProgress != nil {
		gen = s.inProgress.ObservedGeneration
	}
	prev := s.inProgress
	s.inProgress = resizeCondition(corev1.PodResizeInProgress, prev, corev1.PodReasonError, err.Error(), gen)
	if prev == nil || prev.Reason != corev1.PodReasonError || prev.Message != err.Error() {
		w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeWarning, eventResizeError, "%s", resizeMessage(w.r.pod, gen, "Pod resize error", err.Error()))
	}
	w.changedLocked()
}

// settleLocked ends a resize in progress once no running container differs from its allocation, as the kubelet's
// SyncPod clears PodResizeInProgress (a ResizeCompleted event); the room it may have made lets deferred resizes
// of other pods try again. p.mu must be held.
func (w *podWorker) settleLocked() {
	s := &w.r.resize
	if s.inProgress == nil || slices.ContainsFunc(w.r.containers(), resizeOutstanding) {
		return
	}
	gen := s.inProgress.ObservedGeneration
	s.inProgress = nil
	w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeNormal, eventResizeCompleted, "%s", resizeMessage(w.r.pod, gen, "Pod resize completed", ""))
	w.changedLocked()
	w.p.retryPendingResizesLocked()
}

// retryPendingResizesLocked wakes the workers of the pods whose resize was deferred for want of room, as the
// kubelet retries pending resizes when a pod goes or is resized. p.mu must be held.
func (p *Provider) retryPendingResizesLocked() {
	for _, r := range p.pods {
		if s := &r.resize; s.desired != nil && s.pending != nil && s.pending.Reason == corev1.PodReasonDeferred {
			s.kickLocked()
		}
	}
}

// resizeMessage is the message of a resize event as the kubelet words it (pkg/kubelet/events/resize.go): a prefix,
// then the pod's container resources, the generation and the error, in JSON.
func resizeMessage(pod *corev1.Pod, generation int64, prefix, errMsg string) string {
	type allocation struct {
		Name      string                      `json:"name"`
		Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	}
	summary := struct {
		InitContainers []allocation `json:"initContainers,omitempty"`
		Containers     []allocation `json:"containers,omitempty"`
		Generation     int64        `json:"generation"`
		Error          string       `json:"error,omitempty"`
	}{Generation: generation, Error: errMsg}
	for _, c := range pod.Spec.InitContainers {
		summary.InitContainers = append(summary.InitContainers, allocation{Name: c.Name, Resources: c.Resources})
	}
	for _, c := range pod.Spec.Containers {
		summary.Containers = append(summary.Containers, allocation{Name: c.Name, Resources: c.Resources})
	}
	b, err := json.Marshal(summary)
	if err != nil {
		return prefix
	}
	return prefix + ": " + string(b)
}
