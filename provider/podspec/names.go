package podspec

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// PodName names the Podman pod of a Kubernetes pod; the UID part keeps a recreated pod of the same name apart.
func PodName(pod *corev1.Pod) string {
	uid := string(pod.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, uid)
}

// ContainerName names one run (attempt) of a container in the Podman pod named podmanPod (PodName): each run is a
// container of its own, so that the previous one stays for its logs.
func ContainerName(podmanPod, container string, attempt int32) string {
	return fmt.Sprintf("%s_%s_%d", podmanPod, container, attempt)
}

// FormatPod names a pod in messages as the kubelet's format.Pod does: name_namespace(uid).
func FormatPod(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
