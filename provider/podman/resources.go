package podman

import (
	"context"
	"fmt"

	"github.com/containers/podman/v4/pkg/bindings/containers"
	"github.com/containers/podman/v4/pkg/domain/entities"
	"github.com/containers/podman/v4/pkg/specgen"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// ContainerResources are the cgroup settings of a container that can change while it runs.
type ContainerResources struct {
	// MemoryLimit in bytes, 0 for none. Swap is held to the same limit (no swap), as the kubelet sets it.
	MemoryLimit int64
	// CPUShares is the cgroup cpu.shares weight.
	CPUShares uint64
	// CPUQuota and CPUPeriod in microseconds; a quota of 0 is no limit.
	CPUQuota  int64
	CPUPeriod uint64
}

// unlimited is the OCI value of a memory or CPU limit that is removed.
const unlimited = -1

// newLinuxResources is r as the OCI resources of a new container: what is 0 is left to Podman (no limit, the
// default CPU weight); nil when nothing is set. The memory limit holds swap too (memory+swap equal to it), as the
// kubelet sets a container's swap on a cgroup v1 node.
func newLinuxResources(r ContainerResources) *specs.LinuxResources {
	if r.MemoryLimit <= 0 && r.CPUQuota <= 0 && r.CPUShares == 0 {
		return nil
	}
	out := &specs.LinuxResources{}
	if r.MemoryLimit > 0 {
		m, swap := r.MemoryLimit, r.MemoryLimit
		out.Memory = &specs.LinuxMemory{Limit: &m, Swap: &swap}
	}
	if r.CPUQuota > 0 || r.CPUShares > 0 {
		out.CPU = &specs.LinuxCPU{}
	}
	if r.CPUQuota > 0 {
		q, p := r.CPUQuota, r.CPUPeriod
		out.CPU.Quota, out.CPU.Period = &q, &p
	}
	if r.CPUShares > 0 {
		shares := r.CPUShares
		out.CPU.Shares = &shares
	}
	return out
}

// updatedLinuxResources is r as the OCI resources of an update, which sets every limit: one that is 0 is removed
// (-1). withSwap includes the memory+swap limit.
func updatedLinuxResources(r ContainerResources, withSwap bool) *specs.LinuxResources {
	mem := int64(unlimited)
	if r.MemoryLimit > 0 {
		mem = r.MemoryLimit
	}
	out := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}, CPU: &specs.LinuxCPU{}}
	if withSwap {
		swap := mem
		out.Memory.Swap = &swap
	}
	quota := int64(unlimited)
	if r.CPUQuota > 0 {
		quota = r.CPUQuota
	}
	out.CPU.Quota = &quota
	if r.CPUPeriod > 0 {
		p := r.CPUPeriod
		out.CPU.Period = &p
	}
	if r.CPUShares > 0 {
		shares := r.CPUShares
		out.CPU.Shares = &shares
	}
	return out
}

// UpdateContainerResources implements ContainerRuntime through Podman's container update (POST
// /libpod/containers/{id}/update, Podman 4.3 and later; its runtime applies the values with `runc update`). The
// memory+swap limit moves with the memory limit, which the kernel needs when the limit rises above it; a host
// without swap accounting has no such limit, so without it the update is tried once more.
func (c *Client) UpdateContainerResources(ctx context.Context, id string, r ContainerResources) error {
	update := func(withSwap bool) error {
		s := specgen.NewSpecGenerator("", false)
		s.ResourceLimits = updatedLinuxResources(r, withSwap)
		_, err := containers.Update(c.ctx(ctx), &entities.ContainerUpdateOptions{NameOrID: id, Specgen: s})
		return err
	}
	err := update(true)
	if err != nil && !IsNotFound(err) && !IsUnreachable(err) {
		if err2 := update(false); err2 == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("update resources of container %s: %w", id, err)
	}
	return nil
}
