package provider

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestUpdateImagesLocked(t *testing.T) {
	tests := []struct {
		name       string
		specImage  string // the image of the container's current run
		wantImage  string // taken from an earlier update, if any
		update     string
		want       string
		wantSignal bool
	}{
		{name: "unchanged", specImage: "a", update: "a", want: ""},
		{name: "changed", specImage: "a", update: "b", want: "b", wantSignal: true},
		{name: "same change again", specImage: "a", wantImage: "b", update: "b", want: "b"},
		{name: "changed back before the next run", specImage: "a", wantImage: "b", update: "a", want: "a", wantSignal: true},
		{name: "changed once more", specImage: "a", wantImage: "b", update: "c", want: "c", wantSignal: true},
		{name: "container missing from the update", specImage: "a", update: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := lifecyclePod("img", corev1.RestartPolicyAlways, nil, testContainer("main", tc.specImage))
			r := newPodRecord(pod, "img")
			c := r.app[0]
			c.wantImage = tc.wantImage
			upd := pod.DeepCopy()
			upd.Spec.Containers[0].Image = tc.update
			if tc.update == "" {
				upd.Spec.Containers[0].Name = "other"
			}
			p := New(Config{})
			p.worker(r).updateImagesLocked(upd)
			if c.wantImage != tc.want {
				t.Errorf("wantImage %q, want %q", c.wantImage, tc.want)
			}
			signalled := len(c.respec) == 1
			if signalled != tc.wantSignal {
				t.Errorf("runner told: %v, want %v", signalled, tc.wantSignal)
			}
			if c.spec.Image != tc.specImage {
				t.Errorf("the current run's spec changed to %q", c.spec.Image)
			}
		})
	}
}

func TestWantImagesLocked(t *testing.T) {
	pod := lifecyclePod("img", corev1.RestartPolicyAlways, []corev1.Container{testContainer("init", "i1")},
		testContainer("a", "a1"), testContainer("b", "b1"))
	r := newPodRecord(pod, "img")
	r.init[0].wantImage, r.app[1].wantImage = "i2", "b2"
	out := pod.DeepCopy()
	wantImagesLocked(r, out)
	got := []string{out.Spec.InitContainers[0].Image, out.Spec.Containers[0].Image, out.Spec.Containers[1].Image}
	if strings.Join(got, ",") != "i2,a1,b2" {
		t.Errorf("images %q, want i2,a1,b2", got)
	}
	if pod.Spec.Containers[1].Image != "b1" {
		t.Error("the record's own pod changed")
	}
}

// updateImage sends the provider an update of pod in which container name has image.
func (h *harness) updateImage(pod *corev1.Pod, name, image string) {
	h.t.Helper()
	upd := pod.DeepCopy()
	for _, cs := range [][]corev1.Container{upd.Spec.InitContainers, upd.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == name {
				cs[i].Image = image
			}
		}
	}
	if err := h.p.UpdatePod(h.ctx, upd); err != nil {
		h.t.Fatalf("UpdatePod: %v", err)
	}
}

// createdImage is the image the fake's container named name was created with.
func (h *harness) createdImage(name string) string {
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	if c := h.fake.lookupContainer(name); c != nil {
		return c.spec.Image
	}
	return ""
}

// TestImageUpdateRestartsRunningContainer updates the image of a running container, as kubectl set image does:
// whatever the restart policy, the kubelet kills it ("definition changed") and starts it at once with the new
// image, restartCount 1, the killed run as lastState; the pod never looks terminal meanwhile.
func TestImageUpdateRestartsRunningContainer(t *testing.T) {
	for _, policy := range []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever} {
		t.Run(string(policy), func(t *testing.T) {
			h := newHarness(t, "busybox", "nginx")
			ev := &eventLog{}
			h.p.cfg.Recorder = ev
			pod := lifecyclePod("setimage", policy, nil, testContainer("a", "busybox"))
			h.create(pod)
			h.waitContainer(ctrName(pod, "a", 1), "running")
			first, next := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "a") })

			h.updateImage(pod, "a", "nginx")
			h.waitContainer(ctrName(pod, "a", 2), "running")
			if got := h.createdImage(ctrName(pod, "a", 2)); got != "nginx" {
				t.Errorf("second run created with image %q, want nginx", got)
			}
			if got := h.fake.containerStatus(ctrName(pod, "a", 1)); got != "exited" {
				t.Errorf("first run is %q, want exited", got)
			}
			running, _ := h.waitReported(pod, next, "the new run", func(p *corev1.Pod) bool {
				return isRunning(p, "a") && statusOf(p, "a").RestartCount == 1 && statusOf(p, "a").ContainerID != statusOf(first, "a").ContainerID
			})
			a := statusOf(running, "a")
			if a.Image != "nginx" || running.Status.Phase != corev1.PodRunning {
				t.Errorf("status image %q phase %s, want nginx Running", a.Image, running.Status.Phase)
			}
			if last := a.LastTerminationState.Terminated; last == nil || last.ExitCode != 143 || last.ContainerID != statusOf(first, "a").ContainerID {
				t.Errorf("lastState %+v, want the first run stopped (143)", a.LastTerminationState)
			}
			if !ev.has("Normal Killing Container a definition changed, will be restarted") {
				t.Errorf("no Killing event for the definition change in:\n%s", ev)
			}
			if got, _ := h.p.GetPod(h.ctx, pod.Namespace, pod.Name); got.Spec.Containers[0].Image != "nginx" {
				t.Errorf("provider's pod spec image %q, want nginx (as the API's)", got.Spec.Containers[0].Image)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			for _, p := range h.seen {
				if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
					t.Fatalf("reported phase %s during the restart for the new image", p.Status.Phase)
				}
			}
		})
	}
}

// TestImageUpdateEndsBackOff checks that a new image ends a crash-loop or image-pull back-off at once and that the
// next crash starts its back-off over, as the kubelet's back-offs are keyed by image. The back-offs are an hour
// long: only the update lets the tests go on.
func TestImageUpdateEndsBackOff(t *testing.T) {
	long := func(c *Config) { c.InitialBackoff, c.MaxBackoff = time.Hour, 4*time.Hour }

	t.Run("CrashLoopBackOff", func(t *testing.T) {
		h := newHarnessWith(t, long, "busybox", "nginx")
		pod := lifecyclePod("crash", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
		h.create(pod)
		h.waitContainer(ctrName(pod, "a", 1), "running")
		h.fake.exit(t, ctrName(pod, "a", 1), 1)
		_, next := h.waitReported(pod, 0, "CrashLoopBackOff", func(p *corev1.Pod) bool { return waitingFor(p, "a", "CrashLoopBackOff") })

		h.updateImage(pod, "a", "nginx")
		h.waitContainer(ctrName(pod, "a", 2), "running")
		if got := h.createdImage(ctrName(pod, "a", 2)); got != "nginx" {
			t.Errorf("second run created with image %q, want nginx", got)
		}
		h.fake.exit(t, ctrName(pod, "a", 2), 1)
		backoff, _ := h.waitReported(pod, next, "CrashLoopBackOff again", func(p *corev1.Pod) bool { return waitingFor(p, "a", "CrashLoopBackOff") })
		if msg := statusOf(backoff, "a").State.Waiting.Message; !strings.HasPrefix(msg, "back-off 1h0m0s ") {
			t.Errorf("back-off after the new image's first crash: %q, want the initial 1h0m0s", msg)
		}
	})

	t.Run("ImagePullBackOff", func(t *testing.T) {
		h := newHarnessWith(t, long, "busybox")
		h.fake.setPullError("typo", errors.New("manifest unknown"))
		c := testContainer("a", "typo")
		c.ImagePullPolicy = corev1.PullAlways
		pod := lifecyclePod("pull", corev1.RestartPolicyNever, nil, c)
		h.create(pod)
		h.waitReported(pod, 0, "ErrImagePull", func(p *corev1.Pod) bool { return waitingFor(p, "a", "ErrImagePull") })

		h.updateImage(pod, "a", "busybox")
		h.waitContainer(ctrName(pod, "a", 1), "running")
		if got := h.createdImage(ctrName(pod, "a", 1)); got != "busybox" {
			t.Errorf("run created with image %q, want busybox", got)
		}
	})
}

// TestImageUpdateInitContainers checks the init containers' cases: a regular init container that runs finishes on
// its old image (no kill); a sidecar is killed ("Init container ... definition changed") and restarted with the
// new one.
func TestImageUpdateInitContainers(t *testing.T) {
	h := newHarness(t, "busybox", "nginx")
	ev := &eventLog{}
	h.p.cfg.Recorder = ev
	sidecar := testContainer("side", "busybox")
	sidecar.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
	pod := lifecyclePod("inits", corev1.RestartPolicyAlways, []corev1.Container{testContainer("setup", "busybox"), sidecar}, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "setup", 1), "running")

	h.updateImage(pod, "setup", "nginx")
	h.fake.exit(t, ctrName(pod, "setup", 1), 0)
	h.waitContainer(ctrName(pod, "side", 1), "running")
	h.waitContainer(ctrName(pod, "a", 1), "running")
	if ev.has("Normal Killing") {
		t.Errorf("a regular init container was killed for its new image:\n%s", ev)
	}
	if got := h.fake.callsTo("StopContainer"); len(got) != 0 {
		t.Errorf("containers stopped: %q", got)
	}

	h.updateImage(pod, "side", "nginx")
	h.waitContainer(ctrName(pod, "side", 2), "running")
	if got := h.createdImage(ctrName(pod, "side", 2)); got != "nginx" {
		t.Errorf("sidecar's second run created with image %q, want nginx", got)
	}
	if !ev.has("Normal Killing Init container side definition changed") {
		t.Errorf("no Killing event for the sidecar's definition change in:\n%s", ev)
	}
	if got := h.fake.containerStatus(ctrName(pod, "a", 1)); got != "running" {
		t.Errorf("app container is %q; a sidecar's new image must not touch it", got)
	}
}

// TestImageUpdateNeverPullFails checks that under restartPolicy Never, a restart for a new image that cannot be
// pulled leaves the container stopped and the pod Failed, as the kubelet does not try it again.
func TestImageUpdateNeverPullFails(t *testing.T) {
	h := newHarness(t, "busybox")
	h.fake.setPullError("typo", errors.New("manifest unknown"))
	pod := lifecyclePod("never", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.updateImage(pod, "a", "typo")
	failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if last := statusOf(failed, "a").LastTerminationState.Terminated; last == nil {
		t.Errorf("container status %+v, want the killed run as lastState", statusOf(failed, "a"))
	}
	if got := h.fake.callsTo("CreateContainer"); len(got) != 1 {
		t.Errorf("containers created %q, want only the first run", got)
	}
}
