package provider

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// The pod-level status and the event of a pod stopped for running past spec.activeDeadlineSeconds, as the
// kubelet's activeDeadlineHandler words them (pkg/kubelet/active_deadline.go).
const (
	reasonDeadlineExceeded  = "DeadlineExceeded"
	messageDeadlineExceeded = "Pod was active on the node longer than the specified deadline"
)

// activeDeadlineLeft is how long a pod started at start may still run at now under its activeDeadlineSeconds
// (zero or less: the deadline has passed); ok is false when the pod has no deadline or has not started, as in
// the kubelet's pastActiveDeadline.
func activeDeadlineLeft(pod *corev1.Pod, start, now time.Time) (left time.Duration, ok bool) {
	if pod.Spec.ActiveDeadlineSeconds == nil || start.IsZero() {
		return 0, false
	}
	return time.Duration(*pod.Spec.ActiveDeadlineSeconds)*time.Second - now.Sub(start), true
}

// armDeadlineLocked sets the timer that stops the pod once its activeDeadlineSeconds has passed, replacing the
// one set for an earlier deadline; a pod without a deadline, or that is stopping or stopped, gets none. Call it
// when the pod is created and whenever its activeDeadlineSeconds changes. p.mu must be held.
func (w *podWorker) armDeadlineLocked(ctx context.Context) {
	w.stopDeadlineLocked()
	left, ok := activeDeadlineLeft(w.r.pod, w.r.startTime.Time, w.p.cfg.Clock.Now())
	if !ok || w.r.terminal || w.r.deleting || w.r.evicting {
		return
	}
	if left <= 0 {
		go w.enforceDeadline(ctx)
		return
	}
	// The timer's function must not wait for p.mu: a fake clock calls it while the test steps the clock.
	w.r.deadline = w.p.cfg.Clock.AfterFunc(left, func() { go w.enforceDeadline(ctx) })
}

// stopDeadlineLocked stops the pod's deadline timer, if any. p.mu must be held.
func (w *podWorker) stopDeadlineLocked() {
	if w.r.deadline != nil {
		w.r.deadline.Stop()
		w.r.deadline = nil
	}
}

// enforceDeadline stops a pod that has run past its activeDeadlineSeconds as the kubelet does: a Normal
// DeadlineExceeded event, its containers killed within the pod's grace period (preStop hooks first), its sandbox
// stopped and phase Failed with reason DeadlineExceeded (once the containers have stopped; see stopForGood). A pod
// whose phase is already terminal keeps it.
func (w *podWorker) enforceDeadline(ctx context.Context) {
	w.p.mu.Lock()
	left, ok := activeDeadlineLeft(w.r.pod, w.r.startTime.Time, w.p.cfg.Clock.Now())
	if !ok || left > 0 || w.r.terminal || w.r.deleting || w.r.evicting || w.r.finalPhase != "" {
		w.p.mu.Unlock()
		return
	}
	w.r.deadline = nil
	w.r.evicting = true
	grace, secs := gracePeriod(w.r.pod), *w.r.pod.Spec.ActiveDeadlineSeconds
	w.p.mu.Unlock()

	klog.FromContext(ctx).Info("Stopping pod past its active deadline", "activeDeadlineSeconds", secs)
	w.stopForGood(ctx, grace, corev1.EventTypeNormal, reasonDeadlineExceeded, messageDeadlineExceeded)
}

// sameDeadline tells whether two activeDeadlineSeconds are the same (both unset, or equal).
func sameDeadline(a, b *int64) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
