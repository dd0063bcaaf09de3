package podman

import (
	"slices"
	"testing"

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
