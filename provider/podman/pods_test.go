package podman

import (
	"slices"
	"strings"
	"testing"

	"github.com/containers/podman/v4/libpod/define"
	"github.com/containers/podman/v4/pkg/specgen"
	"github.com/containers/storage/pkg/idtools"
)

func TestPodSpecGenNetwork(t *testing.T) {
	for _, tc := range []struct {
		name       string
		spec       PodSpec
		wantNet    specgen.NamespaceMode
		wantShared []string // nil: Podman's default set
		wantUTS    specgen.NamespaceMode
	}{
		{name: "bridge", spec: PodSpec{Name: "p", Network: "berth"}, wantNet: specgen.Bridge},
		{name: "the Podman host's network", spec: PodSpec{Name: "p", HostNetwork: true}, wantNet: specgen.Host, wantUTS: specgen.Host},
		{name: "the node's own namespace: no pod network, the network not shared",
			spec:    PodSpec{Name: "p", HostNetwork: true, HostNetns: "/run/netns/node"},
			wantNet: specgen.NoNetwork, wantShared: []string{"uts", "ipc"}, wantUTS: specgen.Host},
		{name: "the node's own namespace with a shared PID namespace",
			spec:    PodSpec{Name: "p", HostNetwork: true, HostNetns: "/run/netns/node", SharePID: true},
			wantNet: specgen.NoNetwork, wantShared: []string{"uts", "ipc", "pid"}, wantUTS: specgen.Host},
		{name: "host IPC keeps the network shared", spec: PodSpec{Name: "p", Network: "berth", HostIPC: true},
			wantNet: specgen.Bridge, wantShared: []string{"net", "uts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := podSpecGen(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if ps.NetNS.NSMode != tc.wantNet || ps.UtsNs.NSMode != tc.wantUTS {
				t.Errorf("network %q UTS %q, want %q %q", ps.NetNS.NSMode, ps.UtsNs.NSMode, tc.wantNet, tc.wantUTS)
			}
			if !slices.Equal(ps.SharedNamespaces, tc.wantShared) {
				t.Errorf("shared namespaces %q, want %q", ps.SharedNamespaces, tc.wantShared)
			}
		})
	}
}

func TestPodSpecGenResources(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		res                    *ContainerResources
		wantNil                bool
		wantMem, wantQuota     int64
		wantShares, wantPeriod uint64
	}{
		{name: "no pod cgroup limits", wantNil: true},
		{name: "memory, quota and shares", res: &ContainerResources{MemoryLimit: 1 << 28, CPUShares: 512, CPUQuota: 50000, CPUPeriod: 100000},
			wantMem: 1 << 28, wantShares: 512, wantQuota: 50000, wantPeriod: 100000},
		{name: "shares only", res: &ContainerResources{CPUShares: 2}, wantShares: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := podSpecGen(PodSpec{Name: "p", Network: "berth", Resources: tc.res})
			if err != nil {
				t.Fatal(err)
			}
			rl := ps.ResourceLimits
			if tc.wantNil {
				if rl != nil {
					t.Fatalf("resource limits %+v, want none", rl)
				}
				return
			}
			var mem, quota int64
			var shares, period uint64
			if rl.Memory != nil {
				mem = *rl.Memory.Limit
				if *rl.Memory.Swap != mem {
					t.Errorf("memory+swap %d, want the memory limit %d", *rl.Memory.Swap, mem)
				}
			}
			if rl.CPU != nil {
				if rl.CPU.Shares != nil {
					shares = *rl.CPU.Shares
				}
				if rl.CPU.Quota != nil {
					quota, period = *rl.CPU.Quota, *rl.CPU.Period
				}
			}
			if mem != tc.wantMem || shares != tc.wantShares || quota != tc.wantQuota || period != tc.wantPeriod {
				t.Errorf("memory %d shares %d quota %d/%d, want %d %d %d/%d", mem, shares, quota, period, tc.wantMem, tc.wantShares, tc.wantQuota, tc.wantPeriod)
			}
		})
	}
}

func TestPodSpecGenUserNamespace(t *testing.T) {
	ps, err := podSpecGen(PodSpec{Name: "p", Network: "berth"})
	if err != nil {
		t.Fatal(err)
	}
	if ps.Userns.NSMode != "" || ps.IDMappings != nil {
		t.Errorf("a pod without a user namespace got userns %q, mappings %+v", ps.Userns.NSMode, ps.IDMappings)
	}
	ps, err = podSpecGen(PodSpec{Name: "p", Network: "berth", UserNamespace: &IDMapping{HostID: 131072, Size: 65536}})
	if err != nil {
		t.Fatal(err)
	}
	if ps.Userns.NSMode != specgen.Private {
		t.Errorf("userns %q, want private", ps.Userns.NSMode)
	}
	want := []idtools.IDMap{{ContainerID: 0, HostID: 131072, Size: 65536}}
	if m := ps.IDMappings; m == nil || m.HostUIDMapping || m.HostGIDMapping || !slices.Equal(m.UIDMap, want) || !slices.Equal(m.GIDMap, want) {
		t.Errorf("mappings %+v, want UIDs and GIDs %v", m, want)
	}
}

func TestInfraName(t *testing.T) {
	id := "3f2a9c0d1e4b5a6978c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6"
	tests := []struct {
		name, id, want string
		ok             bool
	}{
		{name: "full ID", id: id, want: "3f2a9c0d1e4b-infra", ok: true},
		{name: "short ID", id: id[:12]},
		{name: "pod name", id: "default_web_5e7c1a2b"},
		{name: "64 characters, not hexadecimal", id: strings.Repeat("g", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := infraName(tc.id)
			if got != tc.want || ok != tc.ok {
				t.Errorf("infraName(%q) = %q, %v; want %q, %v", tc.id, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestInfraIP(t *testing.T) {
	nets := func(m map[string]string) *define.InspectContainerData {
		d := &define.InspectContainerData{NetworkSettings: &define.InspectNetworkSettings{Networks: map[string]*define.InspectAdditionalNetwork{}}}
		for name, ip := range m {
			d.NetworkSettings.Networks[name] = &define.InspectAdditionalNetwork{InspectBasicNetworkConfig: define.InspectBasicNetworkConfig{IPAddress: ip}}
		}
		return d
	}
	tests := []struct {
		name    string
		infra   *define.InspectContainerData
		want    string
		wantErr bool
	}{
		{name: "the pods' network", infra: nets(map[string]string{"berth": "10.89.0.5"}), want: "10.89.0.5"},
		{name: "another network only", infra: nets(map[string]string{"other": "10.90.0.7"}), want: "10.90.0.7"},
		{name: "the pods' network first", infra: nets(map[string]string{"berth": "10.89.0.5", "a": "10.1.0.1", "z": "10.2.0.1"}), want: "10.89.0.5"},
		{name: "no network: the default address", infra: &define.InspectContainerData{NetworkSettings: &define.InspectNetworkSettings{
			InspectBasicNetworkConfig: define.InspectBasicNetworkConfig{IPAddress: "10.88.0.2"}}}, want: "10.88.0.2"},
		{name: "no network settings", infra: &define.InspectContainerData{}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := infraIP("pod", tc.infra, "berth")
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("infraIP() = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
