package podman

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestLinuxResources(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	all := ContainerResources{MemoryLimit: 64 << 20, CPUShares: 256, CPUQuota: 50000, CPUPeriod: 100000}
	tests := []struct {
		name             string
		in               ContainerResources
		wantNew, wantUpd *specs.LinuxResources
		wantUpdateNoSwap *specs.LinuxResources
	}{
		{
			name:             "every limit",
			in:               all,
			wantNew:          &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(64 << 20)}, CPU: &specs.LinuxCPU{Shares: u64(256), Quota: i64(50000), Period: u64(100000)}},
			wantUpd:          &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(64 << 20)}, CPU: &specs.LinuxCPU{Shares: u64(256), Quota: i64(50000), Period: u64(100000)}},
			wantUpdateNoSwap: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20)}, CPU: &specs.LinuxCPU{Shares: u64(256), Quota: i64(50000), Period: u64(100000)}},
		},
		{
			// A new container leaves what is not set to Podman; an update removes it.
			name:             "weight only",
			in:               ContainerResources{CPUShares: 2},
			wantNew:          &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(2)}},
			wantUpd:          &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)}, CPU: &specs.LinuxCPU{Shares: u64(2), Quota: i64(-1)}},
			wantUpdateNoSwap: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}, CPU: &specs.LinuxCPU{Shares: u64(2), Quota: i64(-1)}},
		},
		{
			name:             "nothing",
			wantUpd:          &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)}, CPU: &specs.LinuxCPU{Quota: i64(-1)}},
			wantUpdateNoSwap: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}, CPU: &specs.LinuxCPU{Quota: i64(-1)}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.wantNew, newLinuxResources(tc.in)); diff != "" {
				t.Errorf("new container (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUpd, updatedLinuxResources(tc.in, true)); diff != "" {
				t.Errorf("update (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUpdateNoSwap, updatedLinuxResources(tc.in, false)); diff != "" {
				t.Errorf("update without swap (-want +got):\n%s", diff)
			}
		})
	}
}
