package podspec

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

// Image volumes (spec.volumes[].image) mount the content of an OCI image read-only into the containers that name
// them, as the kubelet does through its runtime: the image is pulled with the volume's pullPolicy before the
// container is created (a failed pull is the container's ErrImagePull, as with its own image), and Podman mounts
// the image's root filesystem. Nothing of them lives on the host's pod folder.

// MountedImageVolumes lists the image volumes a container mounts, in the order of its volumeMounts, each once: the
// images to pull before the container is created.
func MountedImageVolumes(pod *corev1.Pod, c *corev1.Container) []*corev1.ImageVolumeSource {
	var out []*corev1.ImageVolumeSource
	seen := map[string]bool{}
	for _, m := range c.VolumeMounts {
		v := podVolume(pod, m.Name)
		if v == nil || v.Image == nil || seen[m.Name] {
			continue
		}
		seen[m.Name] = true
		out = append(out, v.Image)
	}
	return out
}

// imageMounts are the Podman image mounts of a container's image volumes: always read-only, as the kubelet mounts
// them.
func imageMounts(pod *corev1.Pod, c *corev1.Container) []podman.ImageMount {
	var out []podman.ImageMount
	for _, m := range c.VolumeMounts {
		if v := podVolume(pod, m.Name); v != nil && v.Image != nil {
			out = append(out, podman.ImageMount{Image: v.Image.Reference, Dest: m.MountPath})
		}
	}
	return out
}

// podVolume finds a pod's volume by name.
func podVolume(pod *corev1.Pod, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

// imageVolumeProblems lists the mounts of image volumes Berth cannot honour: Podman mounts an image whole, so a
// subPath (or subPathExpr) into one is refused rather than mounted as the whole image.
func imageVolumeProblems(pod *corev1.Pod) []string {
	var out []string
	check := func(kind string, c *corev1.Container) {
		for _, m := range c.VolumeMounts {
			v := podVolume(pod, m.Name)
			if v == nil || v.Image == nil || (m.SubPath == "" && m.SubPathExpr == "") {
				continue
			}
			out = append(out, fmt.Sprintf("spec.%s[%s].volumeMounts[%s]: subPath into an image volume is not supported (Podman mounts the image whole)", kind, c.Name, m.Name))
		}
	}
	for i := range pod.Spec.InitContainers {
		check("initContainers", &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		check("containers", &pod.Spec.Containers[i])
	}
	return out
}
