package provider

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2/ktesting"

	"github.com/berth-dev/berth/provider/podspec"
)

// restarted stands for a new virtual kubelet process: a second provider over the same Podman.
func restarted(t *testing.T, h *harness) *harness {
	t.Helper()
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	h2 := &harness{t: t, ctx: ctx, fake: h.fake}
	h2.p = New(Config{NodeName: "node-a", NodeIP: testNodeIP, Network: "berth", Runtime: h.fake,
		InitialBackoff: 20 * time.Millisecond, MaxBackoff: 80 * time.Millisecond})
	h2.p.NotifyPods(ctx, func(pod *corev1.Pod) {
		h2.mu.Lock()
		defer h2.mu.Unlock()
		h2.seen = append(h2.seen, pod)
	})
	go h2.p.Run(ctx, nil)
	return h2
}

// die stops the provider's runners without touching Podman, as a killed virtual kubelet leaves its pods.
func (h *harness) die() {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	for _, r := range h.p.pods {
		r.cancel()
	}
	clear(h.p.pods)
}

// TestAdoptRunningPod checks that a restarted virtual kubelet takes over a running pod: no container is created
// or restarted, the status is Running with the same container, and the container's exit is still observed.
func TestAdoptRunningPod(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("keep", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	before, _ := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })

	h2 := restarted(t, h)
	n, err := h2.p.Adopt(h2.ctx)
	if err != nil || n != 1 {
		t.Fatalf("Adopt = %d, %v; want 1 pod", n, err)
	}
	created := len(h.fake.callsTo("CreateContainer"))
	h2.create(pod)
	after, next := h2.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	if got, want := statusOf(after, "a").ContainerID, statusOf(before, "a").ContainerID; got != want {
		t.Errorf("adopted containerID %q, want the running %q", got, want)
	}
	if rc := statusOf(after, "a").RestartCount; rc != 0 {
		t.Errorf("restartCount %d after adoption, want 0", rc)
	}
	if got := len(h.fake.callsTo("CreateContainer")); got != created {
		t.Errorf("adoption created %d containers", got-created)
	}
	if got := h.fake.callsTo("CreatePod"); len(got) != 1 {
		t.Errorf("Podman pods created: %q, want only the first", got)
	}
	// Stop the first provider's runner without touching Podman: it stands for the old, dead process.
	h.die()
	// The adopted container's exit is seen and the restart policy applies from there.
	h.fake.exit(t, ctrName(pod, "a", 1), 1)
	h2.waitReported(pod, next, "a restart", func(p *corev1.Pod) bool {
		return statusOf(p, "a").RestartCount == 1 && isRunning(p, "a")
	})
	_ = h2.p.DeletePod(h2.ctx, pod)
	h2.poll("the adopted pod to be removed", func() bool { return h.fake.podCount() == 0 })
}

// TestRemoveUnclaimed checks that adopted Podman pods whose Kubernetes pod is gone are removed, and only those.
func TestRemoveUnclaimed(t *testing.T) {
	h := newHarness(t, "busybox")
	keep := lifecyclePod("keep", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	gone := lifecyclePod("gone", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(keep)
	h.create(gone)
	h.waitContainer(ctrName(keep, "a", 1), "running")
	h.waitContainer(ctrName(gone, "a", 1), "running")

	h2 := restarted(t, h)
	if n, err := h2.p.Adopt(h2.ctx); err != nil || n != 2 {
		t.Fatalf("Adopt = %d, %v; want 2", n, err)
	}
	n, err := h2.p.RemoveUnclaimed(h2.ctx, func(uid types.UID) bool { return uid == keep.UID })
	if err != nil || n != 1 {
		t.Fatalf("RemoveUnclaimed = %d, %v; want 1", n, err)
	}
	h.fake.mu.Lock()
	goneLeft, keepLeft := h.fake.lookupPod(podspec.PodName(gone)) != nil, h.fake.lookupPod(podspec.PodName(keep)) != nil
	h.fake.mu.Unlock()
	if goneLeft || !keepLeft {
		t.Errorf("after RemoveUnclaimed: unclaimed pod left=%v, claimed pod left=%v; want false, true", goneLeft, keepLeft)
	}
	// The first provider still runs the claimed pod's runner; retire it as a dead process would be.
	h.p.mu.Lock()
	for _, r := range h.p.pods {
		if r.pod.UID == gone.UID {
			r.cancel()
			delete(h.p.pods, key(r.pod.Namespace, r.pod.Name))
		}
	}
	h.p.mu.Unlock()
}

// TestDeleteAdoptedBeforeCreate checks that a pod deleted before the restarted virtual kubelet took it over still
// has its Podman pod stopped and removed.
func TestDeleteAdoptedBeforeCreate(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("early", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.die()

	h2 := restarted(t, h)
	if n, err := h2.p.Adopt(h2.ctx); err != nil || n != 1 {
		t.Fatalf("Adopt = %d, %v; want 1", n, err)
	}
	if err := h2.p.DeletePod(h2.ctx, pod); err != nil {
		t.Fatalf("DeletePod of an adopted pod not yet created: %v", err)
	}
	h2.poll("the adopted pod to be removed", func() bool { return h.fake.podCount() == 0 })
	if got := len(h.fake.callsTo("CreateContainer")); got != 1 {
		t.Errorf("%d containers created; the adopted pod must not be started again", got)
	}
}

// TestAdoptCreatedContainer checks that a container the earlier virtual kubelet created but did not live to start
// is replaced by a new one that runs, as the kubelet does with a container it finds in the created state (the next
// attempt): it is not taken for a run that exited 0, which would make a restartPolicy Never pod Succeeded without
// running it.
func TestAdoptCreatedContainer(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("job", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(pod)
	name := ctrName(pod, "a", 1)
	h.waitContainer(name, "running")
	// The old process ends between the container's creation and its start.
	h.die()
	h.fake.mu.Lock()
	c := h.fake.lookupContainer(name)
	c.status, c.startedAt = "created", time.Time{}
	h.fake.mu.Unlock()

	h2 := restarted(t, h)
	if n, err := h2.p.Adopt(h2.ctx); err != nil || n != 1 {
		t.Fatalf("Adopt = %d, %v; want 1", n, err)
	}
	h2.create(pod)
	running, next := h2.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || isRunning(p, "a")
	})
	if running.Status.Phase != corev1.PodRunning || statusOf(running, "a").RestartCount != 1 {
		t.Fatalf("adopted pod whose container was created but not started: %+v; want Running, restartCount 1", running.Status)
	}
	if got := h.fake.containerStatus(name); got != "" {
		t.Errorf("the container that never started is %q, want removed", got)
	}
	h.fake.exit(t, ctrName(pod, "a", 2), 0)
	done, _ := h2.waitReported(pod, next, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if term := statusOf(done, "a").State.Terminated; term == nil || term.StartedAt.IsZero() || term.Reason != "Completed" {
		t.Errorf("finished container: %+v; want Completed with its start time", statusOf(done, "a").State)
	}
}

// TestAdoptedStatusDoesNotGoBack checks that a restarted virtual kubelet reports an adopted pod as the earlier one
// last did until it has looked at its containers: never ContainerCreating (Pending) for a running container, nor a
// lower restartCount.
func TestAdoptedStatusDoesNotGoBack(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("crashed", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.fake.exit(t, ctrName(pod, "a", 1), 1)
	h.waitContainer(ctrName(pod, "a", 2), "running")
	reported, _ := h.waitReported(pod, 0, "running again", func(p *corev1.Pod) bool {
		return isRunning(p, "a") && statusOf(p, "a").RestartCount == 1
	})
	h.die()

	h2 := restarted(t, h)
	if n, err := h2.p.Adopt(h2.ctx); err != nil || n != 1 {
		t.Fatalf("Adopt = %d, %v; want 1", n, err)
	}
	// The pod as the informer has it: with the status the earlier virtual kubelet reported.
	h2.create(reported)
	first, err := h2.p.GetPod(h2.ctx, pod.Namespace, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	h2.waitReported(pod, 0, "running after the adoption", func(p *corev1.Pod) bool { return isRunning(p, "a") })
	h2.mu.Lock()
	defer h2.mu.Unlock()
	for _, p := range append([]*corev1.Pod{first}, h2.seen...) {
		st := statusOf(p, "a")
		if p.Status.Phase != corev1.PodRunning || st.RestartCount != 1 || st.State.Running == nil || st.ContainerID != statusOf(reported, "a").ContainerID || p.Status.PodIP == "" {
			t.Errorf("reported after the restart: phase %s podIP %q container %s restarts %d state %+v; want Running, %q, %s, restarts 1, running",
				p.Status.Phase, p.Status.PodIP, st.ContainerID, st.RestartCount, st.State, reported.Status.PodIP, statusOf(reported, "a").ContainerID)
		}
	}
}

// TestRemoveUnclaimedAdoptedLater checks that an adopted pod whose object goes only after the first RemoveUnclaimed
// (virtual-kubelet force-deletes a deleted pod whose containers do not run without a DeletePod) is removed by a
// later RemoveUnclaimedAdopted, and that it counts the adopted pods left to claim.
func TestRemoveUnclaimedAdoptedLater(t *testing.T) {
	h := newHarness(t, "busybox")
	keep := lifecyclePod("keep", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	later := lifecyclePod("later", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(keep)
	h.create(later)
	h.waitContainer(ctrName(keep, "a", 1), "running")
	h.waitContainer(ctrName(later, "a", 1), "running")
	h.die()

	h2 := restarted(t, h)
	if n, err := h2.p.Adopt(h2.ctx); err != nil || n != 2 {
		t.Fatalf("Adopt = %d, %v; want 2", n, err)
	}
	both := func(types.UID) bool { return true }
	if n, err := h2.p.RemoveUnclaimed(h2.ctx, both); err != nil || n != 0 {
		t.Fatalf("RemoveUnclaimed = %d, %v; want 0", n, err)
	}
	h2.create(keep)
	if n, left, err := h2.p.RemoveUnclaimedAdopted(h2.ctx, both); err != nil || n != 0 || left != 1 {
		t.Fatalf("RemoveUnclaimedAdopted = %d, %d left, %v; want 0 removed, 1 left", n, left, err)
	}
	n, left, err := h2.p.RemoveUnclaimedAdopted(h2.ctx, func(uid types.UID) bool { return uid != later.UID })
	if err != nil || n != 1 || left != 0 {
		t.Fatalf("RemoveUnclaimedAdopted once the pod's object is gone = %d, %d left, %v; want 1 removed, 0 left", n, left, err)
	}
	h.fake.mu.Lock()
	laterLeft, keepLeft := h.fake.lookupPod(podspec.PodName(later)) != nil, h.fake.lookupPod(podspec.PodName(keep)) != nil
	h.fake.mu.Unlock()
	if laterLeft || !keepLeft {
		t.Errorf("Podman pod of the deleted pod left=%v, of the claimed one left=%v; want false, true", laterLeft, keepLeft)
	}
}

// TestRemoveUnclaimedLoop checks what Run removes once the pod informer has synced: the adopted Podman pods of
// Kubernetes pods that are gone or finished, and not those of running ones.
func TestRemoveUnclaimedLoop(t *testing.T) {
	h := newHarness(t, "busybox")
	keep := lifecyclePod("keep", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	done := lifecyclePod("done", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	gone := lifecyclePod("gone", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	for _, pod := range []*corev1.Pod{keep, done, gone} {
		h.create(pod)
		h.waitContainer(ctrName(pod, "a", 1), "running")
	}
	h2 := restarted(t, h)
	if n, err := h2.p.Adopt(h2.ctx); err != nil || n != 3 {
		t.Fatalf("Adopt = %d, %v; want 3", n, err)
	}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	running, finished := keep.DeepCopy(), done.DeepCopy()
	running.Status.Phase, finished.Status.Phase = corev1.PodRunning, corev1.PodSucceeded
	for _, pod := range []*corev1.Pod{running, finished} {
		if err := indexer.Add(pod); err != nil {
			t.Fatal(err)
		}
	}
	h2.p.SetListers(Listers{Pods: corev1listers.NewPodLister(indexer)})
	ctx, cancel := context.WithCancel(h2.ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); h2.p.removeUnclaimedLoop(ctx) }()
	left := func(pod *corev1.Pod) bool {
		h.fake.mu.Lock()
		defer h.fake.mu.Unlock()
		return h.fake.lookupPod(podspec.PodName(pod)) != nil
	}
	h.poll("the gone and the finished pod's Podman pods to be removed", func() bool { return !left(done) && !left(gone) })
	if !left(keep) {
		t.Errorf("the running pod's Podman pod was removed")
	}
	cancel() // the running pod is never claimed here: the loop waits for it until ctx ends
	<-stopped
	// Retire the first provider's runners as a dead process's would be.
	h.p.mu.Lock()
	for k, r := range h.p.pods {
		if r.pod.UID != keep.UID {
			r.cancel()
			delete(h.p.pods, k)
		}
	}
	h.p.mu.Unlock()
}
