package provider

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/podstatus"
)

// The allocation of a pod's resources, as the kubelet's allocation manager (pkg/kubelet/allocation) keeps it: the
// API's resources are admitted (allocated) if they fit in the node's allocatable beside the other pods'
// allocations and Berth can resize them, else the pod reports PodResizePending. What is allocated is then actuated
// by the pod's resize worker (resize.go).

// updateResourcesLocked takes a pod update from the API as the kubelet's HandlePodUpdates does for resources: the
// generation is observed, and resources that differ from the allocation are admitted (a pending resize reverted
// is dropped). p.mu must be held.
func (w *podWorker) updateResourcesLocked(ctx context.Context, pod *corev1.Pod) {
	w.r.pod.Generation = pod.Generation
	defer w.changedLocked()
	if w.r.terminal || w.r.deleting {
		return
	}
	if resourcesMatch(w.r.pod, pod) {
		w.r.resize.desired, w.r.resize.pending = nil, nil
		return
	}
	w.r.resize.desired = pod.DeepCopy()
	w.allocateLocked(ctx)
}

// resourcesMatch tells whether a pod's resources are those of another: every container's, the pod-level ones and
// the sizes of memory-backed emptyDir volumes.
func resourcesMatch(a, b *corev1.Pod) bool {
	if !apiequality.Semantic.DeepEqual(a.Spec.Resources, b.Spec.Resources) || !apiequality.Semantic.DeepEqual(memoryVolumeSizes(a), memoryVolumeSizes(b)) {
		return false
	}
	want := containerResourcesByName(b)
	for name, res := range containerResourcesByName(a) {
		if other, ok := want[name]; ok && !apiequality.Semantic.DeepEqual(res, other) {
			return false
		}
	}
	return true
}

func containerResourcesByName(pod *corev1.Pod) map[string]corev1.ResourceRequirements {
	out := map[string]corev1.ResourceRequirements{}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			out[cs[i].Name] = cs[i].Resources
		}
	}
	return out
}

// memoryVolumeSizes are the size limits of a pod's memory-backed emptyDir volumes, by name.
func memoryVolumeSizes(pod *corev1.Pod) map[string]resource.Quantity {
	out := map[string]resource.Quantity{}
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory && v.EmptyDir.SizeLimit != nil {
			out[v.Name] = *v.EmptyDir.SizeLimit
		}
	}
	return out
}

// allocateLocked admits the desired resources as the kubelet's handlePodResourcesResize: they become the allocation
// when they fit (PodResizeInProgress, a ResizeStarted event, the worker started), else the resize is pending with
// the reason (an event when it changes). It tells whether they were allocated. p.mu must be held.
func (w *podWorker) allocateLocked(ctx context.Context) bool {
	s := &w.r.resize
	desired := s.desired
	if desired == nil {
		return false
	}
	logger := klog.FromContext(ctx)
	if reason, msg := w.admitResizeLocked(desired); reason != "" {
		cond := corev1.PodReasonDeferred
		event := eventResizeDeferred
		if reason == corev1.PodReasonInfeasible {
			cond, event = corev1.PodReasonInfeasible, eventResizeInfeasible
		}
		prev := s.pending
		s.pending = resizeCondition(corev1.PodResizePending, prev, cond, msg, desired.Generation)
		if prev == nil || prev.Reason != cond || prev.ObservedGeneration != desired.Generation {
			logger.Info("Pod resize is pending", "reason", reason, "message", msg)
			w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeWarning, event, "%s", resizeMessage(desired, desired.Generation, "Pod resize "+reason, msg))
		}
		if cond == corev1.PodReasonDeferred {
			w.startResizeWorkerLocked(ctx) // to try again
		}
		return false
	}
	want := containerResourcesByName(desired)
	for _, c := range w.r.containers() {
		if res, ok := want[c.spec.Name]; ok {
			c.spec.Resources = *res.DeepCopy()
		}
	}
	s.desired, s.pending = nil, nil
	// A new resize in progress: any error of an earlier one goes, and the generation is this one's.
	s.inProgress = resizeCondition(corev1.PodResizeInProgress, nil, "", "", desired.Generation)
	logger.V(2).Info("Pod resize allocated", "generation", desired.Generation)
	w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeNormal, eventResizeStarted, "%s", resizeMessage(desired, desired.Generation, "Pod resize started", ""))
	w.startResizeWorkerLocked(ctx)
	return true
}

// Messages of resizes Berth cannot do, the kubelet's for a node that cannot: pod-level resources are not resized
// in place, nor is any resize that would change the pod's own cgroup (Podman 4.3 cannot update a pod's cgroup,
// see podspec.PodResources), nor are memory-backed emptyDir volumes (the kubelet's
// InPlacePodVerticalScalingMemoryBackedVolumes is alpha, off).
const (
	msgPodLevelResize     = "In-place pod-level resources resize is not supported on this node"
	msgPodCgroupResize    = "In-place resize that changes the pod's cgroup (pod-level resources or overhead) is not supported on this node"
	msgMemoryVolumeResize = "Memory-backed emptyDir volume resize is disabled"
)

// admitResizeLocked tells why a pod's desired resources cannot be allocated now, as the kubelet's resize admission
// (podResizesAdmitHandler, then the general predicates against the other pods' allocations): reason Infeasible
// for what Berth never does, OutOf<resource> when the node's allocatable has no room left. "" means they fit.
// p.mu must be held.
func (w *podWorker) admitResizeLocked(desired *corev1.Pod) (reason, msg string) {
	if !apiequality.Semantic.DeepEqual(w.r.pod.Spec.Resources, desired.Spec.Resources) {
		return corev1.PodReasonInfeasible, msgPodLevelResize
	}
	if !reflect.DeepEqual(podspec.PodResources(w.r.pod), podspec.PodResources(desired)) {
		return corev1.PodReasonInfeasible, msgPodCgroupResize
	}
	if !apiequality.Semantic.DeepEqual(memoryVolumeSizes(w.r.pod), memoryVolumeSizes(desired)) {
		return corev1.PodReasonInfeasible, msgMemoryVolumeResize
	}
	want := resourcehelper.PodRequests(desired, resourcehelper.PodResourcesOptions{})
	used := corev1.ResourceList{}
	for _, other := range w.p.pods {
		if other != w.r && !other.terminal {
			addResources(used, allocatedRequests(other))
		}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		capacity, ok := w.p.cfg.Allocatable[name]
		if !ok {
			continue // a node that does not say has room
		}
		value := func(q resource.Quantity) int64 {
			if name == corev1.ResourceCPU {
				return q.MilliValue()
			}
			return q.Value()
		}
		req, use, capa := value(want[name]), value(used[name]), value(capacity)
		if req > 0 && req > capa-use {
			return "OutOf" + string(name), fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d", name, req, use, capa)
		}
	}
	return "", ""
}

// allocatedRequests is what a pod takes of the node's allocatable as the kubelet and the scheduler count it: for
// each container, the larger of its allocation and what it runs with.
func allocatedRequests(r *podRecord) corev1.ResourceList {
	pod := &corev1.Pod{Spec: r.pod.Spec}
	for _, c := range r.containers() {
		st := corev1.ContainerStatus{Name: c.spec.Name}
		cs := c.snapshot()
		podstatus.ResizeStatus(&cs, &st)
		if c.init {
			pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, st)
		} else {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, st)
		}
	}
	return resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{UseStatusResources: true})
}

func addResources(sum, add corev1.ResourceList) {
	for name, q := range add {
		total := sum[name]
		total.Add(q)
		sum[name] = total
	}
}

// desiredResources puts the API's resources into a copy of the record's pod, while a resize waits: what the
// provider reports as its pod is then the API's spec, so that virtual-kubelet hands over the next change of it
// (a revert included).
func (s *resizeState) desiredResources(pod *corev1.Pod) {
	if s.desired == nil {
		return
	}
	want := containerResourcesByName(s.desired)
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if res, ok := want[cs[i].Name]; ok {
				cs[i].Resources = *res.DeepCopy()
			}
		}
	}
	pod.Spec.Resources = s.desired.Spec.Resources.DeepCopy()
	sizes := memoryVolumeSizes(s.desired)
	for i := range pod.Spec.Volumes {
		if v := &pod.Spec.Volumes[i]; v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil {
			if q, ok := sizes[v.Name]; ok {
				v.EmptyDir.SizeLimit = &q
			}
		}
	}
}

// adoptResourcesLocked takes over what an earlier virtual kubelet reported of an adopted pod's resources: each
// container it reported running runs with the resources its status gave (unknown if none), and the containers
// it reported have them as their allocation; its resize conditions stand. Then the API's resources are admitted
// against that, as a resize. p.mu must be held.
func (w *podWorker) adoptResourcesLocked(ctx context.Context, pod *corev1.Pod) {
	reported := map[string]corev1.ContainerStatus{}
	for _, st := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		reported[st.Name] = st
	}
	for _, c := range w.r.containers() {
		st, ok := reported[c.spec.Name]
		if c.id == "" || !ok || st.Resources == nil {
			continue
		}
		c.spec.Resources = *st.Resources.DeepCopy()
		if c.state.Running != nil {
			c.applied = st.Resources.DeepCopy()
		}
	}
	for i := range pod.Status.Conditions {
		switch cond := &pod.Status.Conditions[i]; cond.Type {
		case corev1.PodResizePending:
			w.r.resize.pending = cond.DeepCopy()
		case corev1.PodResizeInProgress:
			w.r.resize.inProgress = cond.DeepCopy()
		}
	}
	w.updateResourcesLocked(ctx, pod)
	if slices.ContainsFunc(w.r.containers(), resizeOutstanding) {
		w.startResizeWorkerLocked(ctx)
	}
}
