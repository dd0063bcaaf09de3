package provider

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"
)

// insufficientExtendedResource finds an extended resource (a device plugin's, such as nvidia.com/gpu) the pod
// requests beyond what the node has, as the kubelet's admission rejects such a pod that bypassed the scheduler
// (spec.nodeName). Berth has no device plugins, so a node has none unless its allocatable says otherwise; running
// the pod without the device would be running something other than what was asked. reason is the kubelet's
// OutOf<resource>; ok is false when the pod fits.
func insufficientExtendedResource(pod *corev1.Pod, allocatable corev1.ResourceList) (reason, msg string, ok bool) {
	requests := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	names := make([]corev1.ResourceName, 0, len(requests))
	for name := range requests {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !v1helper.IsExtendedResourceName(name) {
			continue
		}
		req := requests[name]
		capacity := allocatable[name]
		if req.Cmp(capacity) <= 0 {
			continue
		}
		return "OutOf" + string(name), fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d",
			name, req.Value(), 0, capacity.Value()), true
	}
	return "", "", false
}
