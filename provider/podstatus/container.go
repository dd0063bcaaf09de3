package podstatus

import (
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Bounds of the kubelet's conversions between cgroup values and resources (pkg/kubelet/cm).
const (
	minMilliCPULimit = 10 // the smallest quota, 1 ms per 100 ms period, in milli-CPU
	minShares        = 2  // the smallest cpu.shares
	sharesPerCPU     = 1024
)

// RestartCount is a container's status.restartCount: its runs before the current one.
func (c *Container) RestartCount() int32 {
	if c.Attempts <= 1 {
		return 0
	}
	return c.Attempts - 1
}

func containerStatus(c *Container) corev1.ContainerStatus {
	st := corev1.ContainerStatus{
		Name:                 c.Spec.Name,
		State:                *c.State.DeepCopy(),
		LastTerminationState: *c.LastState.DeepCopy(),
		RestartCount:         c.RestartCount(),
		Image:                c.Spec.Image,
		ImageID:              c.ImageID,
	}
	if st.ImageID != "" && !strings.Contains(st.ImageID, ":") {
		st.ImageID = "sha256:" + st.ImageID
	}
	if c.ID != "" {
		st.ContainerID = ContainerIDPrefix + c.ID
	}
	ResizeStatus(c, &st)
	running := c.State.Running != nil
	if c.Hooking {
		// As the kubelet, whose sync is blocked in the postStart hook, the container is shown as it was before.
		st.State = *c.HookState.DeepCopy()
		running = false
	}
	started := running && c.Started
	st.Started = &started
	// A started container is ready without a readiness probe, else once the probe succeeds; a regular init
	// container is ready once it completed.
	st.Ready = started && (c.Spec.ReadinessProbe == nil || c.Ready)
	if c.Kind == Init {
		st.Ready = c.State.Terminated != nil && c.State.Terminated.ExitCode == 0
	}
	return st
}

// ephemeralStatuses reports a pod's ephemeral containers as the kubelet does: sorted by name, and neither ready nor
// started, since its prober does not follow them.
func ephemeralStatuses(cs []Container) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for i := range cs {
		if cs[i].Kind != Ephemeral {
			continue
		}
		st := containerStatus(&cs[i])
		st.Ready, st.Started = false, nil
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b corev1.ContainerStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ResizeStatus sets a container status' resources as the kubelet reports them (convertContainerStatusResources):
// allocatedResources are the allocated requests (the spec's); resources are what a running container runs with,
// as read back from its cgroup values (small values that the cgroup rounds keep their allocated form), and the
// allocation for one that does not run. Only a container the runtime has gets them.
func ResizeStatus(c *Container, st *corev1.ContainerStatus) {
	if c.ID == "" {
		return
	}
	st.AllocatedResources = c.Spec.Resources.Requests.DeepCopy()
	st.Resources = c.Spec.Resources.DeepCopy()
	if c.State.Running == nil || c.Cgroup == nil {
		return
	}
	actual := c.Cgroup
	if st.Resources.Limits != nil {
		if milli := quotaToMilliCPU(actual.CPUQuota, actual.CPUPeriod); milli > 0 &&
			(milli > minMilliCPULimit || st.Resources.Limits.Cpu().MilliValue() > minMilliCPULimit) {
			st.Resources.Limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(milli, resource.DecimalSI)
		}
		if actual.MemoryLimit > 0 {
			st.Resources.Limits[corev1.ResourceMemory] = *resource.NewQuantity(actual.MemoryLimit, resource.BinarySI)
		}
	}
	if st.Resources.Requests != nil {
		if milli := sharesToMilliCPU(actual.CPUShares); milli > 0 &&
			(milli > minShares || st.Resources.Requests.Cpu().MilliValue() > minShares) {
			st.Resources.Requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(milli, resource.DecimalSI)
		}
		if m := actual.MemoryRequest; !m.IsZero() {
			st.Resources.Requests[corev1.ResourceMemory] = m.DeepCopy()
		}
	}
}

// quotaToMilliCPU is the kubelet's QuotaToMilliCPU: the milli-CPU a CFS quota allows, 0 for none.
func quotaToMilliCPU(quota int64, period uint64) int64 {
	if quota <= 0 || period == 0 {
		return 0
	}
	return quota * 1000 / int64(period)
}

// sharesToMilliCPU is the kubelet's SharesToMilliCPU: the milli-CPU a cpu.shares weight stands for.
func sharesToMilliCPU(shares uint64) int64 {
	if shares < minShares {
		return 0
	}
	return int64(math.Ceil(float64(shares*1000) / sharesPerCPU))
}
