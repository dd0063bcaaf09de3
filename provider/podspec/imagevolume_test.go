package podspec

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

// imageVolumePod is a pod of one container, app, that mounts its volumes as given: the image volume img and the
// emptyDir scratch.
func imageVolumePod(mounts ...corev1.VolumeMount) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app", Image: "busybox", VolumeMounts: mounts}},
		Volumes: []corev1.Volume{
			{Name: "img", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "example.test/data:1"}}},
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}}
}

func TestImageMounts(t *testing.T) {
	tests := []struct {
		name   string
		mounts []corev1.VolumeMount
		want   []podman.ImageMount
		pulls  int
	}{
		{name: "mounted image volume", mounts: []corev1.VolumeMount{{Name: "img", MountPath: "/data"}, {Name: "scratch", MountPath: "/tmp/s"}},
			want: []podman.ImageMount{{Image: "example.test/data:1", Dest: "/data"}}, pulls: 1},
		{name: "mounted twice, pulled once", mounts: []corev1.VolumeMount{{Name: "img", MountPath: "/a"}, {Name: "img", MountPath: "/b", ReadOnly: true}},
			want: []podman.ImageMount{{Image: "example.test/data:1", Dest: "/a"}, {Image: "example.test/data:1", Dest: "/b"}}, pulls: 1},
		{name: "not mounted", mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/tmp/s"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := imageVolumePod(tc.mounts...)
			if diff := cmp.Diff(tc.want, imageMounts(pod, &pod.Spec.Containers[0])); diff != "" {
				t.Errorf("imageMounts (-want +got):\n%s", diff)
			}
			if got := len(MountedImageVolumes(pod, &pod.Spec.Containers[0])); got != tc.pulls {
				t.Errorf("mountedImageVolumes: %d, want %d", got, tc.pulls)
			}
		})
	}
}

func TestImageVolumeProblems(t *testing.T) {
	tests := []struct {
		name  string
		mount corev1.VolumeMount
		want  string
	}{
		{name: "whole image", mount: corev1.VolumeMount{Name: "img", MountPath: "/data"}},
		{name: "subPath", mount: corev1.VolumeMount{Name: "img", MountPath: "/data", SubPath: "etc"},
			want: "spec.containers[app].volumeMounts[img]: subPath into an image volume is not supported"},
		{name: "subPathExpr", mount: corev1.VolumeMount{Name: "img", MountPath: "/data", SubPathExpr: "$(X)"},
			want: "subPath into an image volume"},
		{name: "subPath into another volume", mount: corev1.VolumeMount{Name: "scratch", MountPath: "/s", SubPath: "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(volumeProblems(imageVolumePod(tc.mount), nil, noLinks), "\n")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("volumeProblems = %q, want %q", got, tc.want)
			}
		})
	}
}
