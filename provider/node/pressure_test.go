package node

import (
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

// TestCrossedThresholds: the kubelet's default hard eviction thresholds, each at its edge: memory.available<100Mi,
// nodefs.available<10%, nodefs.inodesFree<5%, imagefs.available<15%; a signal with no reading crosses nothing.
func TestCrossedThresholds(t *testing.T) {
	const gi = 1 << 30
	roomy := podman.HostInfo{GraphRootFree: 50 * gi, GraphRootSize: 100 * gi}
	fs := func(avail, inodesFree uint64) FsStats {
		return FsStats{Capacity: 100 * gi, Available: avail, Inodes: 1000, InodesFree: inodesFree}
	}
	mem, disk := corev1.NodeMemoryPressure, corev1.NodeDiskPressure
	tests := []struct {
		name string
		o    observation
		want []corev1.NodeConditionType
	}{
		{name: "no readings", o: observation{}},
		{name: "plenty", o: observation{info: roomy, memAvailable: 2 * gi, hasMemAvailable: true, nodeFs: fs(50*gi, 500), hasNodeFs: true}},
		{name: "memory at 100Mi", o: observation{info: roomy, memAvailable: 100 << 20, hasMemAvailable: true}},
		{name: "memory under 100Mi", o: observation{info: roomy, memAvailable: 100<<20 - 1, hasMemAvailable: true}, want: []corev1.NodeConditionType{mem}},
		{name: "no memory reading", o: observation{info: roomy, memAvailable: 0}},
		{name: "nodefs at 10%", o: observation{info: roomy, nodeFs: fs(10*gi, 500), hasNodeFs: true}},
		{name: "nodefs under 10%", o: observation{info: roomy, nodeFs: fs(10*gi-1, 500), hasNodeFs: true}, want: []corev1.NodeConditionType{disk}},
		{name: "nodefs inodes under 5%", o: observation{info: roomy, nodeFs: fs(50*gi, 49), hasNodeFs: true}, want: []corev1.NodeConditionType{disk}},
		{name: "imagefs under 15%", o: observation{info: podman.HostInfo{GraphRootFree: 14 * gi, GraphRootSize: 100 * gi}}, want: []corev1.NodeConditionType{disk}},
		{name: "imagefs at 15%", o: observation{info: podman.HostInfo{GraphRootFree: 15 * gi, GraphRootSize: 100 * gi}}},
		{name: "imagefs of a host that did not answer", o: observation{info: podman.HostInfo{GraphRootFree: 1, GraphRootSize: 100 * gi}, err: errors.New("podman is down")}},
		{name: "both", o: observation{info: podman.HostInfo{GraphRootFree: 1, GraphRootSize: 100 * gi}, memAvailable: 1, hasMemAvailable: true},
			want: []corev1.NodeConditionType{mem, disk}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := crossedThresholds(tc.o); !slices.Equal(got, tc.want) {
				t.Errorf("crossed %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPressureConditions: a pressure condition turns True with the kubelet's reason when its signal crosses the
// threshold, stays True for the 5-minute transition period after the signal last crossed, then turns False.
func TestPressureConditions(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	low := observation{memAvailable: 10 << 20, hasMemAvailable: true}
	high := observation{memAvailable: 1 << 30, hasMemAvailable: true}
	steps := []struct {
		at     time.Duration
		o      observation
		status corev1.ConditionStatus
		reason string
	}{
		{0, high, corev1.ConditionFalse, "KubeletHasSufficientMemory"},
		{time.Minute, low, corev1.ConditionTrue, "KubeletHasInsufficientMemory"},
		{2 * time.Minute, high, corev1.ConditionTrue, "KubeletHasInsufficientMemory"},
		{6*time.Minute - time.Second, high, corev1.ConditionTrue, "KubeletHasInsufficientMemory"},
		{6 * time.Minute, high, corev1.ConditionFalse, "KubeletHasSufficientMemory"},
	}
	state := pressureState{}
	node := &corev1.Node{}
	for _, st := range steps {
		o := st.o
		o.now = start.Add(st.at)
		o.pressure = state.update(o)
		memoryPressureCondition(node, o)
		diskPressureCondition(node, o)
		for _, c := range node.Status.Conditions {
			switch c.Type {
			case corev1.NodeMemoryPressure:
				if c.Status != st.status || c.Reason != st.reason {
					t.Errorf("at %s: MemoryPressure %s %s, want %s %s", st.at, c.Status, c.Reason, st.status, st.reason)
				}
			case corev1.NodeDiskPressure:
				if c.Status != corev1.ConditionFalse || c.Reason != "KubeletHasNoDiskPressure" {
					t.Errorf("at %s: DiskPressure %s %s, want False", st.at, c.Status, c.Reason)
				}
			}
		}
	}
}
