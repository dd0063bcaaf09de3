package provider

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podstatus"
)

// evictionGracePeriod is the kubelet's grace period for an eviction that cannot wait (immediateEvictionGracePeriodSeconds).
const evictionGracePeriod = time.Second

// enforceEmptyDirLimits evicts a running pod whose disk emptyDir outgrew its sizeLimit.
func (p *Provider) enforceEmptyDirLimits(ctx context.Context, r *podRecord) {
	p.mu.Lock()
	pod := r.pod
	p.mu.Unlock()
	msg, err := p.volumes().EmptyDirOverLimit(pod)
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Measuring emptyDir usage", "err", err)
		return
	}
	if msg != "" {
		p.evict(ctx, r, msg)
	}
}

// evict stops a pod for good as the kubelet's eviction manager does: a Warning Evicted event, its containers
// killed after a one-second grace period, phase Failed with reason Evicted. The Podman pod stays (for logs) until
// the pod is deleted.
func (p *Provider) evict(ctx context.Context, r *podRecord, msg string) {
	logger := klog.FromContext(ctx)
	p.mu.Lock()
	if r.terminal || r.deleting || r.evicting {
		p.mu.Unlock()
		return
	}
	r.evicting = true
	p.mu.Unlock()
	logger.Info("Evicting pod", "message", msg)
	p.stopForGood(ctx, r, evictionGracePeriod, corev1.EventTypeWarning, "Evicted", msg)
}

// stopForGood stops a live pod that the node gave up on (evicted, past its active deadline; the caller has set
// r.evicting) as the kubelet's killPod does: an event of the reason, its runner stopped, its running containers
// killed within grace (preStop hooks first) and its sandbox stopped, then phase Failed with the reason and message;
// a container it saw no end of (never started) is reported terminated as the kubelet's TerminatePod reports it.
// Unlike the kubelet, whose status says Failed at once, the phase turns Failed only once the containers have
// stopped: virtual-kubelet writes no status of a pod whose phase is terminal, so their end would never be seen.
// The Podman pod stays (for logs) until the pod is deleted.
func (p *Provider) stopForGood(ctx context.Context, r *podRecord, grace time.Duration, eventType, reason, msg string) {
	p.cfg.Recorder.Event(r.pod, eventType, reason, msg)
	r.cancel()
	<-r.done

	p.stopRunning(ctx, r, grace)
	if r.podmanID != "" {
		if err := p.cfg.Runtime.StopPod(ctx, r.podmanID, grace); err != nil {
			klog.FromContext(ctx).Error(err, "Stopping the sandbox of a pod stopped for good")
		}
	}
	p.mu.Lock()
	r.terminal, r.sandbox = true, false
	// A container that had not started, or whose end was not seen, is reported as the kubelet's TerminatePod does.
	cs := r.containers()
	for _, i := range podstatus.Unterminated(r.snapshot(nil).Containers) {
		cs[i].state = podstatus.Unlocated()
	}
	r.finalPhase = corev1.PodFailed
	r.reason, r.message = reason, msg
	p.changedLocked(r)
	p.mu.Unlock()
}
