package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

func (f *fakeRuntime) UpdateContainerResources(_ context.Context, id string, r podman.ContainerResources) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("UpdateContainerResources", id)
	if f.updateErr != nil {
		return f.updateErr
	}
	c := f.lookupContainer(id)
	if c == nil || c.status != "running" {
		return fmt.Errorf("container %s is not running", id)
	}
	c.spec.ContainerResources = r
	return nil
}

// container reports a copy of the container named name (the zero value if there is none).
func (f *fakeRuntime) container(name string) fakeContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.lookupContainer(name); c != nil {
		return *c
	}
	return fakeContainer{}
}

// cgroupOf reports the cgroup settings the fake holds for the container named name.
func (f *fakeRuntime) cgroupOf(name string) podman.ContainerResources {
	return f.container(name).spec.ContainerResources
}

// locked runs fn with the fake's lock held, to change its settings.
func (f *fakeRuntime) locked(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// res builds resource requirements from requests and limits of cpu and memory ("" leaves one out).
func res(cpuReq, cpuLim, memReq, memLim string) corev1.ResourceRequirements {
	list := func(cpu, mem string) corev1.ResourceList {
		var l corev1.ResourceList
		for name, v := range map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem} {
			if v == "" {
				continue
			}
			if l == nil {
				l = corev1.ResourceList{}
			}
			l[name] = resource.MustParse(v)
		}
		return l
	}
	return corev1.ResourceRequirements{Requests: list(cpuReq, memReq), Limits: list(cpuLim, memLim)}
}

func withResources(c corev1.Container, r corev1.ResourceRequirements, policies ...corev1.ContainerResizePolicy) corev1.Container {
	c.Resources = r
	c.ResizePolicy = policies
	return c
}

// resized is pod at the next generation with the given containers' resources.
func resized(pod *corev1.Pod, resources map[string]corev1.ResourceRequirements) *corev1.Pod {
	out := pod.DeepCopy()
	out.Generation++
	for _, cs := range [][]corev1.Container{out.Spec.InitContainers, out.Spec.Containers} {
		for i := range cs {
			if r, ok := resources[cs[i].Name]; ok {
				cs[i].Resources = r
			}
		}
	}
	return out
}

func resizeCond(pod *corev1.Pod, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == typ {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// resizeDone tells whether a reported pod observed generation gen and has no resize condition left.
func resizeDone(gen int64) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		return p.Status.ObservedGeneration == gen && resizeCond(p, corev1.PodResizePending) == nil && resizeCond(p, corev1.PodResizeInProgress) == nil
	}
}

// TestResizeMessage checks the event message against the kubelet's own test (allocation_manager_test.go).
func TestResizeMessage(t *testing.T) {
	pod := lifecyclePod("p", corev1.RestartPolicyAlways, nil, withResources(testContainer("c1", "busybox"), res("5", "", "4500Mi", "")))
	got := resizeMessage(pod, 2, "Pod resize OutOfcpu", "Node didn't have enough resource: cpu, requested: 5000, used: 0, capacity: 4000")
	want := `Pod resize OutOfcpu: {"containers":[{"name":"c1","resources":{"requests":{"cpu":"5","memory":"4500Mi"}}}],"generation":2,"error":"Node didn't have enough resource: cpu, requested: 5000, used: 0, capacity: 4000"}`
	if got != want {
		t.Errorf("message\n got %s\nwant %s", got, want)
	}
}

func TestAdmitResize(t *testing.T) {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	tests := []struct {
		name        string
		allocatable corev1.ResourceList
		other       corev1.ResourceRequirements // another running pod's allocation
		otherRuns   *corev1.ResourceRequirements
		terminal    bool // the other pod has finished
		desired     corev1.ResourceRequirements
		podLevel    bool
		memVolume   bool
		wantReason  string
		wantMsg     string
	}{
		{name: "fits", allocatable: alloc, other: res("400m", "", "256Mi", ""), desired: res("600m", "", "768Mi", "")},
		{name: "cpu beyond what is left", allocatable: alloc, other: res("400m", "", "", ""), desired: res("700m", "", "", ""),
			wantReason: "OutOfcpu", wantMsg: "Node didn't have enough resource: cpu, requested: 700, used: 400, capacity: 1000"},
		{name: "memory beyond what is left", allocatable: alloc, other: res("", "", "512Mi", ""), desired: res("", "", "768Mi", ""),
			wantReason: "OutOfmemory", wantMsg: "Node didn't have enough resource: memory, requested: 805306368, used: 536870912, capacity: 1073741824"},
		{name: "cpu is reported before memory", allocatable: alloc, other: res("400m", "", "512Mi", ""), desired: res("700m", "", "768Mi", ""),
			wantReason: "OutOfcpu", wantMsg: "Node didn't have enough resource: cpu, requested: 700, used: 400, capacity: 1000"},
		{name: "another pod counts what it runs with when that is more", allocatable: alloc, other: res("200m", "", "", ""),
			otherRuns: &corev1.ResourceRequirements{Requests: res("500m", "", "", "").Requests}, desired: res("600m", "", "", ""),
			wantReason: "OutOfcpu", wantMsg: "Node didn't have enough resource: cpu, requested: 600, used: 500, capacity: 1000"},
		{name: "finished pods take no room", allocatable: alloc, other: res("900m", "", "", ""), terminal: true, desired: res("600m", "", "", "")},
		{name: "a node without allocatable has room", other: res("900m", "", "", ""), desired: res("600m", "", "", "")},
		{name: "pod-level resources", allocatable: alloc, desired: res("100m", "", "", ""), podLevel: true,
			wantReason: "Infeasible", wantMsg: "In-place pod-level resources resize is not supported on this node"},
		{name: "memory-backed emptyDir size", allocatable: alloc, desired: res("100m", "", "", ""), memVolume: true,
			wantReason: "Infeasible", wantMsg: "Memory-backed emptyDir volume resize is disabled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Config{Allocatable: tc.allocatable})
			other := newPodRecord(lifecyclePod("other", corev1.RestartPolicyAlways, nil, withResources(testContainer("a", "busybox"), tc.other)), "other")
			other.terminal = tc.terminal
			if tc.otherRuns != nil {
				other.app[0].id, other.app[0].state = "c1", corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
				other.app[0].applied = tc.otherRuns
			}
			size := resource.MustParse("64Mi")
			self := lifecyclePod("self", corev1.RestartPolicyAlways, nil, withResources(testContainer("a", "busybox"), res("100m", "", "", "")))
			self.Spec.Volumes = []corev1.Volume{{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &size}}}}
			r := newPodRecord(self, "self")
			p.pods = map[string]*podRecord{"default/other": other, "default/self": r}
			desired := resized(self, map[string]corev1.ResourceRequirements{"a": tc.desired})
			if tc.podLevel {
				desired.Spec.Resources = &corev1.ResourceRequirements{Requests: res("200m", "", "", "").Requests}
			}
			if tc.memVolume {
				bigger := resource.MustParse("128Mi")
				desired.Spec.Volumes[0].EmptyDir.SizeLimit = &bigger
			}
			reason, msg := p.worker(r).admitResizeLocked(desired)
			if reason != tc.wantReason || msg != tc.wantMsg {
				t.Errorf("admit = %q, %q; want %q, %q", reason, msg, tc.wantReason, tc.wantMsg)
			}
		})
	}
}

func TestRestartRequired(t *testing.T) {
	restartMem := []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer}, {ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired}}
	tests := []struct {
		name     string
		policies []corev1.ContainerResizePolicy
		from, to corev1.ResourceRequirements
		want     bool
	}{
		{name: "no policy: in place", from: res("", "", "", "32Mi"), to: res("", "", "", "64Mi")},
		{name: "memory limit with RestartContainer", policies: restartMem, from: res("", "", "", "32Mi"), to: res("", "", "", "64Mi"), want: true},
		{name: "memory request with RestartContainer", policies: restartMem, from: res("", "", "32Mi", ""), to: res("", "", "48Mi", ""), want: true},
		{name: "cpu only, memory restarts", policies: restartMem, from: res("100m", "", "32Mi", ""), to: res("200m", "", "32Mi", "")},
		{name: "equivalent values", policies: restartMem, from: res("", "", "", "64Mi"), to: res("", "", "", "67108864")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := corev1.Container{Name: "a", ResizePolicy: tc.policies}
			if got := restartRequired(&c, tc.from, tc.to); got != tc.want {
				t.Errorf("restartRequired = %v, want %v", got, tc.want)
			}
		})
	}
}

// resizeHarness is a harness whose events are kept and whose node has 1 CPU and 1Gi allocatable.
func resizeHarness(t *testing.T) (*harness, *eventLog) {
	ev := &eventLog{}
	h := newHarnessWith(t, func(c *Config) {
		c.Recorder = ev
		c.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	}, "busybox")
	return h, ev
}

// start creates a pod at generation 1 and waits until all its containers run; it returns the pod and the position
// of the reports after that.
func (h *harness) start(name string, policy corev1.RestartPolicy, containers ...corev1.Container) (*corev1.Pod, int) {
	h.t.Helper()
	return h.startPod(lifecyclePod(name, policy, nil, containers...))
}

// startPod creates a pod and waits until the API sees each of its containers running.
func (h *harness) startPod(pod *corev1.Pod) (*corev1.Pod, int) {
	h.t.Helper()
	containers := pod.Spec.Containers
	pod.Generation = 1
	h.create(pod)
	for _, c := range containers {
		h.waitContainer(ctrName(pod, c.Name, 1), "running")
	}
	_, next := h.waitReported(pod, 0, "all running", func(p *corev1.Pod) bool {
		return !slices.ContainsFunc(containers, func(c corev1.Container) bool { return !isRunning(p, c.Name) })
	})
	return pod, next
}

// TestResizeInPlace resizes CPU and memory of one of two running containers: its cgroup is updated in place, no
// container restarts, and the status shows the new resources, the generation and no resize condition, with the
// kubelet's events.
func TestResizeInPlace(t *testing.T) {
	h, ev := resizeHarness(t)
	pod, next := h.start("inplace", corev1.RestartPolicyAlways,
		withResources(testContainer("a", "busybox"), res("100m", "200m", "32Mi", "64Mi")),
		withResources(testContainer("b", "busybox"), res("50m", "", "", "")))

	want := res("150m", "300m", "48Mi", "96Mi")
	h.update(resized(pod, map[string]corev1.ResourceRequirements{"a": want}))
	got, _ := h.waitReported(pod, next, "the resize done", resizeDone(2))

	if diff := cmp.Diff(&want, statusOf(got, "a").Resources); diff != "" {
		t.Errorf("status resources of a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.Requests, statusOf(got, "a").AllocatedResources); diff != "" {
		t.Errorf("allocatedResources of a (-want +got):\n%s", diff)
	}
	if want := (podman.ContainerResources{MemoryLimit: 96 << 20, CPUShares: 153, CPUQuota: 30000, CPUPeriod: 100000}); h.fake.cgroupOf(ctrName(pod, "a", 1)) != want {
		t.Errorf("cgroup of a = %+v, want %+v", h.fake.cgroupOf(ctrName(pod, "a", 1)), want)
	}
	if got := h.fake.callsTo("UpdateContainerResources"); len(got) != 1 {
		t.Errorf("updates %q, want one, of a", got)
	}
	if n := len(h.fake.callsTo("CreateContainer")); n != 2 || statusOf(got, "a").RestartCount != 0 {
		t.Errorf("%d containers created, restartCount %d; want no restart", n, statusOf(got, "a").RestartCount)
	}
	for _, c := range got.Status.Conditions {
		if c.Type == corev1.PodReady && c.ObservedGeneration != 2 {
			t.Errorf("Ready condition observedGeneration %d, want 2", c.ObservedGeneration)
		}
	}
	for _, prefix := range []string{"Normal ResizeStarted Pod resize started: ", "Normal ResizeCompleted Pod resize completed: "} {
		if !ev.has(prefix) {
			t.Errorf("no event %q; events:\n%s", prefix, ev)
		}
	}
	if !ev.has(`Normal ResizeCompleted Pod resize completed: {"containers":[{"name":"a","resources":{"limits":{"cpu":"300m","memory":"96Mi"},"requests":{"cpu":"150m","memory":"48Mi"}}},{"name":"b","resources":{"requests":{"cpu":"50m"}}}],"generation":2}`) {
		t.Errorf("ResizeCompleted event does not name the allocation and generation 2; events:\n%s", ev)
	}

	// A container created from then on gets the allocation.
	h.fake.exit(t, ctrName(pod, "a", 1), 1)
	h.waitContainer(ctrName(pod, "a", 2), "running")
	if got := h.fake.cgroupOf(ctrName(pod, "a", 2)); got.MemoryLimit != 96<<20 || got.CPUQuota != 30000 {
		t.Errorf("cgroup of the restarted a = %+v, want the allocation", got)
	}
}

// TestResizeRestartContainer resizes memory of a container whose resizePolicy restarts it for memory: it is
// stopped and started again at once with the new limit (restartCount 1, no back-off), the other one is updated
// in place.
func TestResizeRestartContainer(t *testing.T) {
	h, ev := resizeHarness(t)
	restartMem := corev1.ContainerResizePolicy{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer}
	pod, next := h.start("restart", corev1.RestartPolicyOnFailure,
		withResources(testContainer("a", "busybox"), res("100m", "", "", "64Mi"), restartMem),
		withResources(testContainer("b", "busybox"), res("100m", "", "", "64Mi")))

	h.update(resized(pod, map[string]corev1.ResourceRequirements{"a": res("100m", "", "", "128Mi"), "b": res("100m", "", "", "128Mi")}))
	h.waitContainer(ctrName(pod, "a", 2), "running")
	got, _ := h.waitReported(pod, next, "a running again, resize done", func(p *corev1.Pod) bool {
		return resizeDone(2)(p) && isRunning(p, "a") && statusOf(p, "a").RestartCount == 1
	})
	if c := h.fake.cgroupOf(ctrName(pod, "a", 2)); c.MemoryLimit != 128<<20 {
		t.Errorf("restarted a has memory limit %d, want 128Mi", c.MemoryLimit)
	}
	if last := statusOf(got, "a").LastTerminationState.Terminated; last == nil || last.ContainerID != "podman://"+h.fake.container(ctrName(pod, "a", 1)).id {
		t.Errorf("lastState of a = %+v, want the stopped first run", statusOf(got, "a").LastTerminationState)
	}
	if c := h.fake.cgroupOf(ctrName(pod, "b", 1)); c.MemoryLimit != 128<<20 || statusOf(got, "b").RestartCount != 0 {
		t.Errorf("b: memory limit %d, restarts %d; want 128Mi in place", c.MemoryLimit, statusOf(got, "b").RestartCount)
	}
	if !ev.has("Normal Killing Container a resize requires restart") {
		t.Errorf("no Killing event for the resize; events:\n%s", ev)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.seen[next:] {
		if waitingFor(p, "a", "CrashLoopBackOff") {
			t.Fatalf("a was held back in CrashLoopBackOff: %+v", statusOf(p, "a").State)
		}
	}
}

// TestResizeDeferred resizes a pod beyond what the node's allocatable leaves beside another pod: the resize is
// Deferred with the kubelet's message and event, the provider reports the API's spec meanwhile, and once the other
// pod is deleted the resize is done.
func TestResizeDeferred(t *testing.T) {
	h, ev := resizeHarness(t)
	grow := lifecyclePod("grow", corev1.RestartPolicyAlways, nil, withResources(testContainer("a", "busybox"), res("400m", "", "", "")))
	grow.Generation = 1
	other := lifecyclePod("other", corev1.RestartPolicyAlways, nil, withResources(testContainer("a", "busybox"), res("400m", "", "", "")))
	h.create(grow)
	h.create(other)
	h.waitContainer(ctrName(grow, "a", 1), "running")
	h.waitContainer(ctrName(other, "a", 1), "running")

	want := res("700m", "", "", "")
	desired := resized(grow, map[string]corev1.ResourceRequirements{"a": want})
	h.update(desired)
	got, next := h.waitReported(grow, 0, "the resize pending", func(p *corev1.Pod) bool { return resizeCond(p, corev1.PodResizePending) != nil })
	c := resizeCond(got, corev1.PodResizePending)
	if c.Reason != corev1.PodReasonDeferred || c.Message != "Node didn't have enough resource: cpu, requested: 700, used: 400, capacity: 1000" || c.ObservedGeneration != 2 || c.Status != corev1.ConditionTrue {
		t.Errorf("PodResizePending = %+v", c)
	}
	if got.Status.ObservedGeneration != 2 || !statusOf(got, "a").AllocatedResources[corev1.ResourceCPU].Equal(resource.MustParse("400m")) {
		t.Errorf("observedGeneration %d, allocatedResources %v; want 2 and the old allocation", got.Status.ObservedGeneration, statusOf(got, "a").AllocatedResources)
	}
	if !ev.has(`Warning ResizeDeferred Pod resize OutOfcpu: {"containers":[{"name":"a","resources":{"requests":{"cpu":"700m"}}}],"generation":2,"error":"Node didn't have enough resource: cpu, requested: 700, used: 400, capacity: 1000"}`) {
		t.Errorf("no ResizeDeferred event; events:\n%s", ev)
	}
	if p, _ := h.p.GetPod(h.ctx, "default", "grow"); !p.Spec.Containers[0].Resources.Requests.Cpu().Equal(resource.MustParse("700m")) {
		t.Errorf("GetPod reports %v, want the API's spec while the resize waits", p.Spec.Containers[0].Resources)
	}
	if n := len(h.fake.callsTo("UpdateContainerResources")); n != 0 {
		t.Errorf("%d updates of a deferred resize", n)
	}

	if err := h.p.DeletePod(h.ctx, other); err != nil {
		t.Fatal(err)
	}
	got, _ = h.waitReported(grow, next, "the resize done", resizeDone(2))
	if diff := cmp.Diff(&want, statusOf(got, "a").Resources); diff != "" {
		t.Errorf("status resources (-want +got):\n%s", diff)
	}
	if c := h.fake.cgroupOf(ctrName(grow, "a", 1)); c.CPUShares != 716 {
		t.Errorf("cpu.shares %d, want 716", c.CPUShares)
	}
}

// TestResizeInfeasibleAndReverted asks for what Berth never does (pod-level resources): the resize is Infeasible,
// nothing changes, and reverting the request clears the condition.
func TestResizeInfeasibleAndReverted(t *testing.T) {
	h, ev := resizeHarness(t)
	pod, _ := h.start("infeasible", corev1.RestartPolicyAlways, withResources(testContainer("a", "busybox"), res("100m", "", "", "")))

	desired := resized(pod, map[string]corev1.ResourceRequirements{"a": res("200m", "", "", "")})
	desired.Spec.Resources = &corev1.ResourceRequirements{Requests: res("200m", "", "", "").Requests}
	h.update(desired)
	got, next := h.waitReported(pod, 0, "the resize pending", func(p *corev1.Pod) bool { return resizeCond(p, corev1.PodResizePending) != nil })
	if c := resizeCond(got, corev1.PodResizePending); c.Reason != corev1.PodReasonInfeasible || c.Message != msgPodLevelResize {
		t.Errorf("PodResizePending = %+v", c)
	}
	if !ev.has("Warning ResizeInfeasible Pod resize Infeasible: ") {
		t.Errorf("no ResizeInfeasible event; events:\n%s", ev)
	}
	// The same request again is no news.
	h.update(desired)
	if n := strings.Count(ev.String(), "ResizeInfeasible"); n != 1 {
		t.Errorf("%d ResizeInfeasible events, want 1", n)
	}

	reverted := pod.DeepCopy()
	reverted.Generation = 3
	h.update(reverted)
	h.waitReported(pod, next, "the condition gone", resizeDone(3))
	if n := len(h.fake.callsTo("UpdateContainerResources")); n != 0 {
		t.Errorf("%d updates of an infeasible resize", n)
	}
}

// TestResizeOfPodCgroupInfeasible resizes a container of a pod with an overhead, which would change the pod's own
// cgroup (its limit is the containers' plus the overhead): Podman cannot update that, so the resize is Infeasible
// and no container changes.
func TestResizeOfPodCgroupInfeasible(t *testing.T) {
	h, ev := resizeHarness(t)
	pod := lifecyclePod("overhead", corev1.RestartPolicyAlways, nil, withResources(testContainer("a", "busybox"), res("100m", "200m", "32Mi", "64Mi")))
	pod.Spec.Overhead = res("10m", "", "8Mi", "").Requests
	pod, _ = h.startPod(pod)

	h.update(resized(pod, map[string]corev1.ResourceRequirements{"a": res("100m", "200m", "32Mi", "96Mi")}))
	got, _ := h.waitReported(pod, 0, "the resize pending", func(p *corev1.Pod) bool { return resizeCond(p, corev1.PodResizePending) != nil })
	if c := resizeCond(got, corev1.PodResizePending); c.Reason != corev1.PodReasonInfeasible || c.Message != msgPodCgroupResize {
		t.Errorf("PodResizePending = %+v", c)
	}
	if !ev.has("Warning ResizeInfeasible Pod resize Infeasible: ") {
		t.Errorf("no ResizeInfeasible event; events:\n%s", ev)
	}
	if n := len(h.fake.callsTo("UpdateContainerResources")); n != 0 {
		t.Errorf("%d updates of an infeasible resize", n)
	}
}

// TestResizeMemoryBelowUsage shrinks a memory limit below what the container uses: the resize stays in progress
// with the kubelet's Error and message until the usage allows it, then completes.
func TestResizeMemoryBelowUsage(t *testing.T) {
	h, ev := resizeHarness(t)
	pod, _ := h.start("shrink", corev1.RestartPolicyAlways, withResources(testContainer("a", "busybox"), res("", "", "", "128Mi")))
	h.fake.locked(func() { h.fake.memUsage = 64 << 20 })

	h.update(resized(pod, map[string]corev1.ResourceRequirements{"a": res("", "", "", "32Mi")}))
	got, next := h.waitReported(pod, 0, "a resize error", func(p *corev1.Pod) bool {
		c := resizeCond(p, corev1.PodResizeInProgress)
		return c != nil && c.Reason == corev1.PodReasonError
	})
	want := `cannot decrease memory limits: attempting to set container "a" memory limit (33554432) below current usage (67108864)`
	if c := resizeCond(got, corev1.PodResizeInProgress); c.Message != want || c.ObservedGeneration != 2 {
		t.Errorf("PodResizeInProgress = %+v, want message %q", c, want)
	}
	if !ev.has("Warning ResizeError Pod resize error: ") {
		t.Errorf("no ResizeError event; events:\n%s", ev)
	}
	if n := len(h.fake.callsTo("UpdateContainerResources")); n != 0 {
		t.Errorf("%d updates below usage", n)
	}

	h.fake.locked(func() { h.fake.memUsage = 16 << 20 })
	h.waitReported(pod, next, "the resize done", resizeDone(2))
	if c := h.fake.cgroupOf(ctrName(pod, "a", 1)); c.MemoryLimit != 32<<20 {
		t.Errorf("memory limit %d, want 32Mi", c.MemoryLimit)
	}
}

// TestResizeUpdateFails: an update Podman refuses leaves the resize in progress with its error, and it is tried
// again.
func TestResizeUpdateFails(t *testing.T) {
	h, _ := resizeHarness(t)
	pod, _ := h.start("refused", corev1.RestartPolicyAlways, withResources(testContainer("a", "busybox"), res("100m", "", "", "")))
	h.fake.locked(func() { h.fake.updateErr = errors.New("runc update failed") })

	h.update(resized(pod, map[string]corev1.ResourceRequirements{"a": res("200m", "", "", "")}))
	got, next := h.waitReported(pod, 0, "a resize error", func(p *corev1.Pod) bool {
		c := resizeCond(p, corev1.PodResizeInProgress)
		return c != nil && c.Reason == corev1.PodReasonError
	})
	if c := resizeCond(got, corev1.PodResizeInProgress); !strings.Contains(c.Message, "runc update failed") {
		t.Errorf("PodResizeInProgress = %+v", c)
	}
	h.fake.locked(func() { h.fake.updateErr = nil })
	h.waitReported(pod, next, "the resize done", resizeDone(2))
	if c := h.fake.cgroupOf(ctrName(pod, "a", 1)); c.CPUShares != 204 {
		t.Errorf("cpu.shares %d, want 204", c.CPUShares)
	}
}

// TestResizeAdopted restarts the virtual kubelet after a resize: the adopted container, reported with its new
// resources, is left alone; a resize made while no virtual kubelet ran is done in place on adoption; a container
// whose resources were never reported is given its allocation.
func TestResizeAdopted(t *testing.T) {
	tests := []struct {
		name        string
		change      bool // resize while no virtual kubelet runs
		unreported  bool // the earlier virtual kubelet did not report resources
		wantUpdates int
	}{
		{name: "resized before the restart"},
		{name: "resized while down", change: true, wantUpdates: 1},
		{name: "resources never reported", unreported: true, wantUpdates: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := resizeHarness(t)
			pod, _ := h.start("adopt", corev1.RestartPolicyAlways, withResources(testContainer("a", "busybox"), res("100m", "", "", "64Mi")))
			pod = resized(pod, map[string]corev1.ResourceRequirements{"a": res("200m", "", "", "96Mi")})
			h.update(pod)
			reported, _ := h.waitReported(pod, 0, "the resize done", resizeDone(2))
			updates := len(h.fake.callsTo("UpdateContainerResources"))

			h2 := restarted(t, h)
			if _, err := h2.p.Adopt(h2.ctx); err != nil {
				t.Fatal(err)
			}
			h.die()
			api := pod.DeepCopy()
			api.Status = *reported.Status.DeepCopy()
			if tc.unreported {
				api.Status.ContainerStatuses[0].Resources = nil
			}
			want := res("200m", "", "", "96Mi")
			if tc.change {
				want = res("300m", "", "", "128Mi")
				api = resized(api, map[string]corev1.ResourceRequirements{"a": want})
			}
			h2.create(api)
			got, _ := h2.waitReported(api, 0, "adopted and resized", func(p *corev1.Pod) bool {
				return resizeDone(api.Generation)(p) && isRunning(p, "a") && cmp.Equal(&want, statusOf(p, "a").Resources)
			})
			if got := len(h.fake.callsTo("UpdateContainerResources")) - updates; got != tc.wantUpdates {
				t.Errorf("%d updates after adoption, want %d", got, tc.wantUpdates)
			}
			if c := h.fake.cgroupOf(ctrName(pod, "a", 1)); c != podspec.Resources(want) {
				t.Errorf("cgroup %+v, want %+v", c, podspec.Resources(want))
			}
			if statusOf(got, "a").RestartCount != 0 || len(h.fake.callsTo("CreateContainer")) != 1 {
				t.Errorf("the adopted container was restarted")
			}
			if err := h2.p.DeletePod(h2.ctx, api); err != nil {
				t.Fatal(err)
			}
			h2.poll("the adopted pod to be removed", func() bool { return h.fake.podCount() == 0 })
		})
	}
}

// TestResizeStatusEquivalents resizes with values the cgroup rounds (the conformance test "resize with
// equivalents"): the status shows the values asked for.
func TestResizeStatusEquivalents(t *testing.T) {
	h, _ := resizeHarness(t)
	pod, _ := h.start("equivalents", corev1.RestartPolicyOnFailure, withResources(testContainer("c1", "busybox"), res("2m", "10m", "", "")))
	want := res("1m", "5m", "", "")
	h.update(resized(pod, map[string]corev1.ResourceRequirements{"c1": want}))
	got, _ := h.waitReported(pod, 0, "the resize done", resizeDone(2))
	if diff := cmp.Diff(&want, statusOf(got, "c1").Resources); diff != "" {
		t.Errorf("status resources (-want +got):\n%s", diff)
	}
	if c := h.fake.cgroupOf(ctrName(pod, "c1", 1)); c.CPUShares != 2 || c.CPUQuota != 1000 {
		t.Errorf("cgroup %+v, want 2 shares and the minimum quota", c)
	}
	if got := h.fake.callsTo("UpdateContainerResources"); !slices.Equal(got, []string{h.fake.container(ctrName(pod, "c1", 1)).id}) {
		t.Errorf("updates %q", got)
	}
}

// TestResizeRunningInitContainer resizes a non-sidecar init container while it runs: it is updated in place and
// its status shows the new resources; the app container, which has not run yet, starts with its own.
func TestResizeRunningInitContainer(t *testing.T) {
	h, _ := resizeHarness(t)
	pod := lifecyclePod("init", corev1.RestartPolicyAlways,
		[]corev1.Container{withResources(testContainer("init", "busybox"), res("100m", "100m", "32Mi", "32Mi"))},
		withResources(testContainer("a", "busybox"), res("100m", "100m", "32Mi", "32Mi")))
	pod.Generation = 1
	h.create(pod)
	h.waitContainer(ctrName(pod, "init", 1), "running")

	want := res("200m", "200m", "64Mi", "64Mi")
	h.update(resized(pod, map[string]corev1.ResourceRequirements{"init": want}))
	got, _ := h.waitReported(pod, 0, "the resize done", func(p *corev1.Pod) bool {
		return resizeDone(2)(p) && isRunning(p, "init") && cmp.Equal(&want, statusOf(p, "init").Resources)
	})
	if diff := cmp.Diff(want.Requests, statusOf(got, "init").AllocatedResources); diff != "" {
		t.Errorf("allocatedResources of init (-want +got):\n%s", diff)
	}
	if c := h.fake.cgroupOf(ctrName(pod, "init", 1)); c != podspec.Resources(want) {
		t.Errorf("cgroup of init %+v, want %+v", c, podspec.Resources(want))
	}
	h.fake.exit(t, ctrName(pod, "init", 1), 0)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	if c := h.fake.cgroupOf(ctrName(pod, "a", 1)); c.CPUQuota != 10000 || c.MemoryLimit != 32<<20 {
		t.Errorf("cgroup of a %+v, want its own resources", c)
	}
}
