package podspec

import (
	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	v1qos "k8s.io/kubernetes/pkg/apis/core/v1/helper/qos"

	"github.com/berth-dev/berth/provider/podman"
)

// cpuPeriod is the CFS period used for CPU limits, as the kubelet uses.
const cpuPeriod = 100000

// minQuota is the kernel's smallest CFS quota (1 ms), which the kubelet's MilliCPUToQuota applies.
const minQuota = 1000

// Bounds of cpu.shares, as the kubelet's MilliCPUToShares applies them.
const (
	minShares = 2
	maxShares = 262144
)

// Resources translates a container's resources into its cgroup limits as the kubelet sets them: the memory
// limit, cpu.shares from the CPU request and a CFS quota from the CPU limit.
func Resources(r corev1.ResourceRequirements) podman.ContainerResources {
	var out podman.ContainerResources
	if m, ok := r.Limits[corev1.ResourceMemory]; ok && !m.IsZero() {
		out.MemoryLimit = m.Value()
	}
	out.CPUShares = cpuShares(r.Requests.Cpu().MilliValue())
	if cpu, ok := r.Limits[corev1.ResourceCPU]; ok && !cpu.IsZero() {
		out.CPUPeriod = cpuPeriod
		out.CPUQuota = max(cpu.MilliValue()*cpuPeriod/1000, minQuota)
	}
	return out
}

// cpuShares converts a CPU request in millicores to cgroup cpu.shares as the kubelet does: 1024 per core, at
// least 2 (a container without a request gets the minimum, not Podman's default 1024).
func cpuShares(milli int64) uint64 {
	shares := milli * 1024 / 1000
	return uint64(min(max(shares, minShares), maxShares))
}

// HasPodCgroupLimits tells whether the pod asks for limits of its own cgroup beyond its containers': pod-level
// resources (spec.resources) or a runtime class's overhead (spec.overhead).
func HasPodCgroupLimits(pod *corev1.Pod) bool {
	return len(pod.Spec.Overhead) > 0 || resourcehelper.IsPodLevelResourcesSet(pod)
}

// PodResources is the pod's own cgroup (the Podman pod's cgroup parent, which holds its containers) as the
// kubelet's ResourceConfigForPod sets it: cpu.shares from the pod's requests, and the CFS quota and memory limit
// from its limits when the pod is Guaranteed, or Burstable with the limit declared (by every container, or at the
// pod level). Requests and limits count the pod-level resources and the overhead. It is nil for a pod without
// pod-level resources or overhead: its containers' own limits already bound it, and Berth then leaves the pod
// cgroup as Podman makes it.
func PodResources(pod *corev1.Pod) *podman.ContainerResources {
	if !HasPodCgroupLimits(pod) {
		return nil
	}
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	limits := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})
	cpuDeclared, memDeclared := true, true
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Resources.Limits.Cpu().IsZero() {
				cpuDeclared = false
			}
			if cs[i].Resources.Limits.Memory().IsZero() {
				memDeclared = false
			}
		}
	}
	if r := pod.Spec.Resources; r != nil {
		cpuDeclared = cpuDeclared || !r.Limits.Cpu().IsZero()
		memDeclared = memDeclared || !r.Limits.Memory().IsZero()
	}
	out := &podman.ContainerResources{CPUShares: minShares}
	qos := v1qos.GetPodQOS(pod)
	if qos == corev1.PodQOSBestEffort {
		return out
	}
	out.CPUShares = cpuShares(reqs.Cpu().MilliValue())
	if cpu := limits.Cpu().MilliValue(); cpu > 0 && (qos == corev1.PodQOSGuaranteed || cpuDeclared) {
		out.CPUPeriod = cpuPeriod
		out.CPUQuota = max(cpu*cpuPeriod/1000, minQuota)
	}
	if mem := limits.Memory().Value(); mem > 0 && (qos == corev1.PodQOSGuaranteed || memDeclared) {
		out.MemoryLimit = mem
	}
	return out
}
