package provider

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

func imageVolumePod(name string, policy corev1.PullPolicy, mounts ...corev1.VolumeMount) *corev1.Pod {
	c := testContainer("app", "busybox")
	c.VolumeMounts = mounts
	pod := lifecyclePod(name, corev1.RestartPolicyAlways, nil, c)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "img", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "example.test/data:1", PullPolicy: policy}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	return pod
}

// An image volume's image is pulled as its pullPolicy says before the container is created, and a container whose
// image volume cannot be pulled waits in ErrImagePull, as with its own image.
func TestImageVolumeRuns(t *testing.T) {
	t.Run("pulled and mounted", func(t *testing.T) {
		h := newHarnessWith(t, func(c *Config) { c.RootDir = t.TempDir() }, "busybox")
		pod := imageVolumePod("iv", corev1.PullAlways, corev1.VolumeMount{Name: "img", MountPath: "/data"})
		h.create(pod)
		h.waitReported(pod, 0, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		if pulls := h.fake.callsTo("PullImage"); !cmp.Equal(pulls, []string{"example.test/data:1"}) {
			t.Errorf("pulls %q, want the volume's image once", pulls)
		}
		c := h.fake.lookupContainer(ctrName(pod, "app", 1))
		if c == nil {
			t.Fatal("no container")
		}
		if want := []podman.ImageMount{{Image: "example.test/data:1", Dest: "/data"}}; !cmp.Equal(c.spec.ImageMounts, want) {
			t.Errorf("image mounts %v, want %v", c.spec.ImageMounts, want)
		}
		for _, m := range c.spec.Mounts {
			if m.Dest == "/data" {
				t.Errorf("image volume bound from the host too: %+v", m)
			}
		}
	})
	t.Run("pull fails", func(t *testing.T) {
		h := newHarnessWith(t, func(c *Config) { c.RootDir = t.TempDir() }, "busybox")
		h.fake.setPullError("example.test/data:1", errors.New("manifest unknown"))
		pod := imageVolumePod("iv-fail", corev1.PullIfNotPresent, corev1.VolumeMount{Name: "img", MountPath: "/data"})
		h.create(pod)
		h.waitReported(pod, 0, "ErrImagePull", func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "ErrImagePull" &&
				strings.Contains(cs[0].State.Waiting.Message, "manifest unknown")
		})
	})
}
