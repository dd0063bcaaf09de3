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
func (p *Provider) armDeadlineLocked(ctx context.Context, r *podRecord) {
	p.stopDeadlineLocked(r)
	left, ok := activeDeadlineLeft(r.pod, r.startTime.Time, p.cfg.Clock.Now())
	if !ok || r.terminal || r.deleting || r.evicting {
		return
	}
	if left <= 0 {
		go p.enforceDeadline(ctx, r)
		return
	}
	// The timer's function must not wait for p.mu: a fake clock calls it while the test steps the clock.
	r.deadline = p.cfg.Clock.AfterFunc(left, func() { go p.enforceDeadline(ctx, r) })
}

// stopDeadlineLocked stops the pod's deadline timer, if any. p.mu must be held.
func (p *Provider) stopDeadlineLocked(r *podRecord) {
	if r.deadline != nil {
		r.deadline.Stop()
		r.deadline = nil
	}
}

// enforceDeadline stops a pod that has run past its activeDeadlineSeconds as the kubelet does: a Normal
// DeadlineExceeded event, its containers killed within the pod's grace period (preStop hooks first), its sandbox
// stopped and phase Failed with reason DeadlineExceeded (once the containers have stopped; see stopForGood). A pod
// whose phase is already terminal keeps it.
func (p *Provider) enforceDeadline(ctx context.Context, r *podRecord) {
	p.mu.Lock()
	left, ok := activeDeadlineLeft(r.pod, r.startTime.Time, p.cfg.Clock.Now())
	if !ok || left > 0 || r.terminal || r.deleting || r.evicting || r.finalPhase != "" {
		p.mu.Unlock()
		return
	}
	r.deadline = nil
	r.evicting = true
	grace, secs := gracePeriod(r.pod), *r.pod.Spec.ActiveDeadlineSeconds
	p.mu.Unlock()

	klog.FromContext(ctx).Info("Stopping pod past its active deadline", "activeDeadlineSeconds", secs)
	p.stopForGood(ctx, r, grace, corev1.EventTypeNormal, reasonDeadlineExceeded, messageDeadlineExceeded)
}

// sameDeadline tells whether two activeDeadlineSeconds are the same (both unset, or equal).
func sameDeadline(a, b *int64) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
