package provider

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podstatus"
	"github.com/berth-dev/berth/provider/volume"
)

// evictionGracePeriod is the kubelet's grace period for an eviction that cannot wait (immediateEvictionGracePeriodSeconds).
const evictionGracePeriod = time.Second

// Eviction messages of the kubelet's eviction manager for ephemeral storage over a limit.
const (
	msgPodEphemeralStorage       = "Pod ephemeral local storage usage exceeds the total limit of containers %s. "
	msgContainerEphemeralStorage = "Container %s exceeded its local ephemeral storage limit %q. "
)

// hasStorageLimits tells whether a pod has local storage limits for the eviction manager to enforce: a disk
// emptyDir's sizeLimit or a container's ephemeral-storage limit.
func hasStorageLimits(pod *corev1.Pod) bool {
	if volume.HasDiskSizeLimit(pod) {
		return true
	}
	_, ok := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})[corev1.ResourceEphemeralStorage]
	return ok
}

// enforceStorageLimits evicts a running pod over a local storage limit, checked as the kubelet's eviction manager
// checks them (localStorageEviction), in its order: a disk emptyDir over its sizeLimit; the pod's ephemeral storage
// (its containers' writable layers and logs, and its disk emptyDirs) over the sum of its containers' limits; a
// container's writable layer and logs over its own limit (app and sidecar containers).
func (p *Provider) enforceStorageLimits(ctx context.Context, r *podRecord) {
	logger := klog.FromContext(ctx)
	p.mu.Lock()
	pod := r.pod
	type measured struct {
		name, id string
		limit    *resource.Quantity // nil: none of its own that is enforced
	}
	var cs []measured
	for _, c := range r.containers() {
		if c.id == "" || c.ephemeral {
			continue
		}
		m := measured{name: c.spec.Name, id: c.id}
		if l, ok := c.spec.Resources.Limits[corev1.ResourceEphemeralStorage]; ok && !l.IsZero() && (!c.init || c.sidecar) {
			m.limit = &l
		}
		cs = append(cs, m)
	}
	p.mu.Unlock()

	podLimit, hasPodLimit := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})[corev1.ResourceEphemeralStorage]
	msg, total, err := p.volumes().DiskEmptyDirs(pod, hasPodLimit)
	if err != nil {
		logger.V(2).Info("Measuring emptyDir usage", "err", err)
		return
	}
	if msg != "" {
		p.evict(ctx, r, msg)
		return
	}
	if !hasPodLimit {
		return
	}
	var over string
	for _, c := range cs {
		u, err := p.cfg.Runtime.DiskUsage(ctx, c.id)
		if err != nil {
			logger.V(2).Info("Measuring a container's disk", "container", c.name, "err", err)
			return
		}
		used := u.Rootfs + u.Logs
		total += used
		if over == "" && c.limit != nil && resource.NewQuantity(used, resource.BinarySI).Cmp(*c.limit) > 0 {
			over = fmt.Sprintf(msgContainerEphemeralStorage, c.name, c.limit.String())
		}
	}
	switch {
	case resource.NewQuantity(total, resource.BinarySI).Cmp(podLimit) > 0:
		p.evict(ctx, r, fmt.Sprintf(msgPodEphemeralStorage, podLimit.String()))
	case over != "":
		p.evict(ctx, r, over)
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
