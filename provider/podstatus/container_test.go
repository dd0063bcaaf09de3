package podstatus

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// res builds resource requirements from requests and limits of cpu and memory ("" leaves one out).
func res(cpuReq, cpuLim, memReq, memLim string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: cpuMemory(cpuReq, memReq), Limits: cpuMemory(cpuLim, memLim)}
}

// cpuMemory is a list of the cpu and memory given, nil when neither is.
func cpuMemory(cpu, mem string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem} {
		if v != "" {
			l[name] = resource.MustParse(v)
		}
	}
	if len(l) == 0 {
		return nil
	}
	return l
}

func TestResizeStatus(t *testing.T) {
	ptr := func(r corev1.ResourceRequirements) *corev1.ResourceRequirements { return &r }
	mi := func(n int64) int64 { return n << 20 }
	// What the kubelet gives a run of res("20m", "30m", "35Mi", "45Mi"): 20 shares, a 3 ms quota per 100 ms.
	asAllocated := &Cgroup{CPUShares: 20, CPUQuota: 3000, CPUPeriod: 100000, MemoryLimit: mi(45), MemoryRequest: resource.MustParse("35Mi")}
	// state is the container's: "" (no container yet), "running" or "exited".
	tests := []struct {
		name, state string
		alloc       corev1.ResourceRequirements
		cgroup      *Cgroup
		want        *corev1.ResourceRequirements
	}{
		{name: "no container yet: nothing", alloc: res("20m", "", "", "")},
		{name: "running as allocated", state: "running", alloc: res("20m", "30m", "35Mi", "45Mi"),
			cgroup: asAllocated, want: ptr(res("20m", "30m", "35Mi", "45Mi"))},
		// 1m is 2 shares (the minimum), read back as 2m; 5m is the minimum quota, read back as 10m: the allocated
		// values stay, as the kubelet keeps them.
		{name: "values the cgroup rounds keep their allocated form", state: "running", alloc: res("1m", "5m", "", ""),
			cgroup: &Cgroup{CPUShares: 2, CPUQuota: 1000, CPUPeriod: 100000}, want: ptr(res("1m", "5m", "", ""))},
		{name: "resize in progress: what it runs with", state: "running", alloc: res("25m", "35m", "40Mi", "50Mi"),
			cgroup: asAllocated, want: ptr(res("20m", "30m", "35Mi", "45Mi"))},
		{name: "limit added, not applied yet", state: "running", alloc: res("25m", "35m", "", ""),
			cgroup: &Cgroup{CPUShares: 20}, want: ptr(res("20m", "35m", "", ""))},
		{name: "not running: the allocation", state: "exited", alloc: res("25m", "", "", ""),
			cgroup: &Cgroup{CPUShares: 20}, want: ptr(res("25m", "", "", ""))},
		{name: "running with resources not known: the allocation", state: "running", alloc: res("25m", "", "", "64Mi"),
			want: ptr(res("25m", "", "", "64Mi"))},
		{name: "best effort", state: "running", cgroup: &Cgroup{CPUShares: 2}, want: ptr(res("", "", "", ""))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Container{Spec: &corev1.Container{Name: "a", Resources: tc.alloc}, Cgroup: tc.cgroup}
			switch tc.state {
			case "running":
				c.ID, c.State = "c1", corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
			case "exited":
				c.ID, c.State = "c1", corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}
			}
			var st corev1.ContainerStatus
			ResizeStatus(c, &st)
			if diff := cmp.Diff(tc.want, st.Resources); diff != "" {
				t.Errorf("resources (-want +got):\n%s", diff)
			}
			var wantAllocated corev1.ResourceList
			if tc.state != "" {
				wantAllocated = tc.alloc.Requests
			}
			if diff := cmp.Diff(wantAllocated, st.AllocatedResources); diff != "" {
				t.Errorf("allocatedResources (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContainerStatusHooking(t *testing.T) {
	// While its postStart hook runs, a container is shown as it was before it started: neither started nor ready.
	c := &Container{Spec: &corev1.Container{Name: "a"}, ID: "c1", Attempts: 1, Started: true, Ready: true, Hooking: true,
		State:     corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		HookState: waiting("ContainerCreating", "")}
	st := containerStatus(c)
	if st.State.Waiting == nil || st.State.Waiting.Reason != "ContainerCreating" || st.Ready || st.Started == nil || *st.Started {
		t.Errorf("status while hooking = %+v, want waiting ContainerCreating, not started, not ready", st)
	}
	c.Hooking = false
	if st := containerStatus(c); st.State.Running == nil || !st.Ready || !*st.Started {
		t.Errorf("status after the hook = %+v, want running, started and ready", st)
	}
}

func TestEphemeralStatuses(t *testing.T) {
	run := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	tests := []struct {
		name      string
		ephemeral []Container
		wantNames []string
	}{
		{name: "none"},
		{name: "sorted by name", ephemeral: []Container{
			{Spec: &corev1.Container{Name: "zz", Image: "busybox"}, Kind: Ephemeral, State: waiting("ContainerCreating", "")},
			{Spec: &corev1.Container{Name: "aa", Image: "busybox"}, Kind: Ephemeral, State: waiting("ContainerCreating", "")},
		}, wantNames: []string{"aa", "zz"}},
		{name: "running, never ready nor started", ephemeral: []Container{
			{Spec: &corev1.Container{Name: "dbg", Image: "busybox"}, Kind: Ephemeral, ID: "e1", Attempts: 1, State: run, Started: true, Ready: true},
		}, wantNames: []string{"dbg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := snap(phasePod(corev1.RestartPolicyAlways, nil, "a"))
			running(appC(p, 0), "aid")
			p.Containers = append(p.Containers, tc.ephemeral...)
			st := Derive(p, testNodeIP, t0)
			var names []string
			for _, cs := range st.EphemeralContainerStatuses {
				names = append(names, cs.Name)
				if cs.Ready || cs.Started != nil || cs.Image != "busybox" || cs.RestartCount != 0 {
					t.Errorf("%s: ready=%v started=%v image=%q restartCount=%d; want not ready, no started, busybox, 0", cs.Name, cs.Ready, cs.Started, cs.Image, cs.RestartCount)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") {
				t.Errorf("statuses %v, want %v", names, tc.wantNames)
			}
			// Ephemeral containers count neither for the phase nor for the conditions.
			if st.Phase != corev1.PodRunning || len(st.ContainerStatuses) != 1 {
				t.Errorf("phase %s with %d container statuses, want Running with 1", st.Phase, len(st.ContainerStatuses))
			}
			checkCondition(t, st, corev1.ContainersReady, corev1.ConditionTrue, "", "")
		})
	}
}
