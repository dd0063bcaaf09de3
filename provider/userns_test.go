package provider

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/userns"
)

// ownNamespacePod is a pod with spec.hostUsers: false.
func ownNamespacePod(name string, policy corev1.RestartPolicy) *corev1.Pod {
	pod := lifecyclePod(name, policy, nil, testContainer("a", "busybox"))
	pod.Spec.HostUsers = ptr(false)
	return pod
}

// podUserNamespace is the user namespace and its label on the Podman pod of pod, as the fake has it.
func (h *harness) podUserNamespace(pod *corev1.Pod) (*podman.IDMapping, string) {
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	p := h.fake.lookupPod(podspec.PodName(pod))
	if p == nil {
		h.t.Fatalf("no Podman pod for %s", pod.Name)
	}
	return p.spec.UserNamespace, p.spec.Labels[podman.LabelUserNamespace]
}

// wantEvent waits for an event among the recorder's.
func wantEvent(t *testing.T, rec *record.FakeRecorder, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-rec.Events:
			if ev == want {
				return
			}
		case <-timeout:
			t.Fatalf("no event %q", want)
		}
	}
}

// TestUserNamespaces checks the user namespaces of hostUsers: false pods as the kubelet gives them: a range of
// 65536 host IDs each, distinct, given to the Podman pod with its label; none for a pod in the host's; with every
// range taken, the sandbox fails (FailedCreatePodSandBox, the kubelet's message) and is tried again until a range
// is freed, which happens when the pod holding it is removed or finishes.
func TestUserNamespaces(t *testing.T) {
	alloc, err := userns.New(userns.Length, 2)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, func(cfg *Config) { cfg.UserNamespaces = alloc }, "busybox")
	rec := record.NewFakeRecorder(1000)
	h.p.cfg.Recorder = rec
	a, b, host := ownNamespacePod("a", corev1.RestartPolicyAlways), ownNamespacePod("b", corev1.RestartPolicyNever), lifecyclePod("host", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	for _, pod := range []*corev1.Pod{a, b, host} {
		h.create(pod)
		h.waitContainer(ctrName(pod, "a", 1), "running")
	}
	for _, tc := range []struct {
		pod       *corev1.Pod
		want      *podman.IDMapping
		wantLabel string
	}{
		{pod: a, want: &podman.IDMapping{HostID: 65536, Size: 65536}, wantLabel: "65536"},
		{pod: b, want: &podman.IDMapping{HostID: 131072, Size: 65536}, wantLabel: "131072"},
		{pod: host},
	} {
		if got, label := h.podUserNamespace(tc.pod); !reflect.DeepEqual(got, tc.want) || label != tc.wantLabel {
			t.Errorf("pod %s: user namespace %+v label %q, want %+v %q", tc.pod.Name, got, label, tc.want, tc.wantLabel)
		}
	}

	// Every range is taken: the third waits, as under a kubelet whose IDs are all given.
	c := ownNamespacePod("c", corev1.RestartPolicyAlways)
	h.create(c)
	wantEvent(t, rec, "Warning FailedCreatePodSandBox Failed to create pod sandbox: create user namespace: could not find an empty slot to allocate a user namespace")
	if calls := h.fake.callsTo("CreatePod"); len(calls) != 3 {
		t.Errorf("CreatePod calls %q, want none for the pod without a range", calls)
	}
	// b finishes: nothing runs in its range any more, and c gets it.
	h.fake.exit(t, ctrName(b, "a", 1), 0)
	h.waitContainer(ctrName(c, "a", 1), "running")
	if got, _ := h.podUserNamespace(c); got == nil || got.HostID != 131072 {
		t.Errorf("pod c: user namespace %+v, want b's, from 131072", got)
	}
	if _, ok := alloc.Get(b.UID); ok {
		t.Error("the finished pod b holds its range still")
	}
	// a is removed: its range is free.
	if err := h.p.DeletePod(h.ctx, a); err != nil {
		t.Fatal(err)
	}
	h.poll("a's range to be freed", func() bool { _, ok := alloc.Get(a.UID); return !ok })
}

// TestUserNamespacesAfterRestart checks that a restarted virtual kubelet knows the ranges its pods hold, from the
// labels of their Podman pods: an adopted pod keeps its range and a new pod gets another; a pod that finished
// before the restart, whose range was freed and given to another pod, holds none.
func TestUserNamespacesAfterRestart(t *testing.T) {
	alloc, _ := userns.New(userns.Length, 3)
	h := newHarnessWith(t, func(cfg *Config) { cfg.UserNamespaces = alloc }, "busybox")
	keep, done, took := ownNamespacePod("keep", corev1.RestartPolicyAlways), ownNamespacePod("done", corev1.RestartPolicyNever), ownNamespacePod("took", corev1.RestartPolicyAlways)
	for _, pod := range []*corev1.Pod{keep, done} {
		h.create(pod)
		h.waitContainer(ctrName(pod, "a", 1), "running")
	}
	h.fake.exit(t, ctrName(done, "a", 1), 0)
	h.poll("the finished pod's range to be freed", func() bool { _, ok := alloc.Get(done.UID); return !ok })
	h.create(took)
	h.waitContainer(ctrName(took, "a", 1), "running")
	if got, _ := h.podUserNamespace(took); got == nil || got.HostID != 131072 {
		t.Fatalf("user namespace %+v, want the finished pod's, from 131072", got)
	}

	h.die()
	h2 := restarted(t, h)
	alloc2, _ := userns.New(userns.Length, 3)
	h2.p.cfg.UserNamespaces = alloc2
	if _, err := h2.p.Adopt(h2.ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pod  *corev1.Pod
		want uint32
	}{{pod: keep, want: 65536}, {pod: took, want: 131072}, {pod: done}} {
		if r, ok := alloc2.Get(tc.pod.UID); ok != (tc.want != 0) || r.FirstID != tc.want {
			t.Errorf("after the restart pod %s holds %v (%v), want from %d", tc.pod.Name, r, ok, tc.want)
		}
	}
	h2.create(keep)
	next := ownNamespacePod("next", corev1.RestartPolicyAlways)
	h2.create(next)
	h2.waitContainer(ctrName(next, "a", 1), "running")
	if got, _ := h2.podUserNamespace(next); got == nil || got.HostID != 196608 {
		t.Errorf("a new pod's user namespace %+v, want the free one, from 196608", got)
	}
	for _, pod := range []*corev1.Pod{keep, next} {
		_ = h2.p.DeletePod(h2.ctx, pod)
	}
	h2.poll("the claimed pods to be removed", func() bool { return h.fake.podCount() == 2 })
}

// TestUserNamespacesRefused checks that a node that gives no user namespaces refuses the pods that ask for one,
// saying why, and runs the others.
func TestUserNamespacesRefused(t *testing.T) {
	h := newHarnessWith(t, func(cfg *Config) {
		cfg.NoUserNamespaces = "the host does not allow user namespaces (/proc/sys/user/max_user_namespaces is 0)"
	}, "busybox")
	rec := record.NewFakeRecorder(100)
	h.p.cfg.Recorder = rec
	pod := ownNamespacePod("own", corev1.RestartPolicyAlways)
	h.create(pod)
	failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	want := "Berth cannot give this pod its user namespace: spec.hostUsers: false: the node cannot give pods a user namespace of their own: " +
		"the host does not allow user namespaces (/proc/sys/user/max_user_namespaces is 0)"
	if failed.Status.Reason != "UnsupportedPodSpec" || failed.Status.Message != want {
		t.Errorf("reason %q message %q, want UnsupportedPodSpec %q", failed.Status.Reason, failed.Status.Message, want)
	}
	wantEvent(t, rec, "Warning UnsupportedPodSpec "+want)
	host := lifecyclePod("host", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(host)
	h.waitContainer(ctrName(host, "a", 1), "running")
	if calls := h.fake.callsTo("CreatePod"); len(calls) != 1 || !strings.Contains(calls[0], "host") {
		t.Errorf("CreatePod calls %q, want the host's pod's only", calls)
	}
}
