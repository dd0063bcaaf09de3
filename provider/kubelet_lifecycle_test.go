// Regression tests: each checks one point where Berth once reported a pod differently from the kubelet
// (pkg/kubelet/status/generate.go, kubelet_pods.go).
package provider

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestKubeletNeverPull(t *testing.T) {
	h := newHarness(t)
	c := testContainer("a", "local/only:1")
	c.ImagePullPolicy = corev1.PullNever
	pod := lifecyclePod("neverpull", corev1.RestartPolicyAlways, nil, c)
	h.create(pod)
	h.waitReported(pod, 0, "ErrImageNeverPull", func(p *corev1.Pod) bool { return waitingFor(p, "a", "ErrImageNeverPull") })
	// Each attempt looks for the image (ImageExists). Two more looks mean that at least one whole retry (look,
	// waiting state, back-off) has run since the first report: the state checked is the steady one.
	checked := len(h.fake.callsTo("ImageExists"))
	h.poll("two more attempts", func() bool { return len(h.fake.callsTo("ImageExists")) >= checked+2 })
	got, _ := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
	if !waitingFor(got, "a", "ErrImageNeverPull") {
		t.Errorf("steady state: %+v", statusOf(got, "a").State.Waiting)
	}
	if n := len(h.fake.callsTo("PullImage")); n != 0 {
		t.Errorf("pulled %d times", n)
	}
}

func TestKubeletErrImagePullVisible(t *testing.T) {
	h := newHarness(t)
	pod := lifecyclePod("pull", corev1.RestartPolicyAlways, nil, testContainer("a", "registry.example/missing:1"))
	h.fake.setPullError("registry.example/missing:1", errors.New("manifest unknown"))
	h.create(pod)
	_, next := h.waitReported(pod, 0, "ErrImagePull", func(p *corev1.Pod) bool { return waitingFor(p, "a", "ErrImagePull") })
	h.waitReported(pod, next, "ImagePullBackOff", func(p *corev1.Pod) bool { return waitingFor(p, "a", "ImagePullBackOff") })
}

func TestKubeletUnsupportedReason(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("hostpid", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	pod.Spec.HostPID = true
	h.create(pod)
	failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if failed.Status.Reason != "UnsupportedPodSpec" || failed.Status.Message == "" {
		t.Errorf("reason %q message %q", failed.Status.Reason, failed.Status.Message)
	}
}

func TestKubeletSidecarAfterFinish(t *testing.T) {
	h := newHarness(t, "busybox")
	side := testContainer("log-sidecar", "busybox")
	always := corev1.ContainerRestartPolicyAlways
	side.RestartPolicy = &always
	pod := lifecyclePod("sidecar", corev1.RestartPolicyNever, []corev1.Container{side}, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "log-sidecar", 1), "running")
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.fake.exit(t, ctrName(pod, "a", 1), 0)
	done, next := h.waitReported(pod, 0, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	t.Logf("sidecar at Succeeded: %+v", statusOf(done, "log-sidecar").State)
	// Once the runner has ended, nothing restarts the sidecar or changes the pod's state any more.
	h.waitRunnerEnded(pod)
	t.Logf("CreateContainer: %q", h.fake.callsTo("CreateContainer"))
	got, _ := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
	if got.Status.Phase != corev1.PodSucceeded {
		t.Errorf("phase later %s; sidecar %+v", got.Status.Phase, statusOf(got, "log-sidecar").State)
	}
	if st := h.fake.containerStatus(ctrName(pod, "log-sidecar", 2)); st != "" {
		t.Errorf("sidecar restarted after the pod finished: %s", st)
	}
	h.mu.Lock()
	for _, p := range h.seen[next:] {
		if p.Name == pod.Name && p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("reported phase %s after Succeeded", p.Status.Phase)
		}
	}
	h.mu.Unlock()
}

func TestKubeletDeletePending(t *testing.T) {
	h := newHarness(t)
	pod := lifecyclePod("pending", corev1.RestartPolicyAlways, nil, testContainer("a", "registry.example/missing:1"))
	h.fake.setPullError("registry.example/missing:1", errors.New("manifest unknown"))
	h.create(pod)
	_, next := h.waitReported(pod, 0, "ImagePullBackOff", func(p *corev1.Pod) bool { return waitingFor(p, "a", "ImagePullBackOff") })
	if err := h.p.DeletePod(h.ctx, pod); err != nil {
		t.Fatal(err)
	}
	h.poll("gone", func() bool { _, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name); return err != nil })
	h.mu.Lock()
	last := h.seen[len(h.seen)-1]
	h.mu.Unlock()
	_ = next
	if last.Status.Phase != corev1.PodFailed {
		t.Errorf("final phase %s, container %+v", last.Status.Phase, statusOf(last, "a").State)
	}
	if !terminatedWith(last, "a", 137) {
		t.Errorf("final container state %+v", statusOf(last, "a").State)
	}
}
