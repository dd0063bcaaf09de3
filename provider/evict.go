package provider

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/klog/v2"

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
func (w *podWorker) enforceStorageLimits(ctx context.Context) {
	logger := klog.FromContext(ctx)
	w.p.mu.Lock()
	pod := w.r.pod
	type measured struct {
		name, id string
		limit    *resource.Quantity // nil: none of its own that is enforced
	}
	var cs []measured
	for _, c := range w.r.containers() {
		if c.id == "" || c.ephemeral {
			continue
		}
		m := measured{name: c.spec.Name, id: c.id}
		if l, ok := c.spec.Resources.Limits[corev1.ResourceEphemeralStorage]; ok && !l.IsZero() && (!c.init || c.sidecar) {
			m.limit = &l
		}
		cs = append(cs, m)
	}
	w.p.mu.Unlock()

	podLimit, hasPodLimit := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})[corev1.ResourceEphemeralStorage]
	msg, total, err := w.p.volumes().DiskEmptyDirs(pod, hasPodLimit)
	if err != nil {
		logger.V(2).Info("Measuring emptyDir usage", "err", err)
		return
	}
	if msg != "" {
		w.evict(ctx, msg)
		return
	}
	if !hasPodLimit {
		return
	}
	var over string
	for _, c := range cs {
		u, err := w.p.cfg.Runtime.DiskUsage(ctx, c.id)
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
		w.evict(ctx, fmt.Sprintf(msgPodEphemeralStorage, podLimit.String()))
	case over != "":
		w.evict(ctx, over)
	}
}

// evict stops a pod for good as the kubelet's eviction manager does: a Warning Evicted event, its containers
// killed after a one-second grace period, phase Failed with reason Evicted. The Podman pod stays (for logs) until
// the pod is deleted.
func (w *podWorker) evict(ctx context.Context, msg string) {
	logger := klog.FromContext(ctx)
	w.p.mu.Lock()
	if w.r.terminal || w.r.deleting || w.r.evicting {
		w.p.mu.Unlock()
		return
	}
	w.r.evicting = true
	w.p.mu.Unlock()
	logger.Info("Evicting pod", "message", msg)
	w.stopForGood(ctx, evictionGracePeriod, corev1.EventTypeWarning, "Evicted", msg)
}
