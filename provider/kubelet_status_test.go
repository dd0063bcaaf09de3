// Regression tests: each checks one point where Berth once reported a pod differently from the kubelet
// (pkg/kubelet/status/generate.go, kubelet_pods.go).
package provider

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestKubeletHostnameTruncate(t *testing.T) {
	pod := translatePod()
	pod.Name = strings.Repeat("a", 62) + "-bcdef"
	got := podSpec(pod, "n", "net").Hostname
	if got != strings.Repeat("a", 62) {
		t.Errorf("hostname %q (%d)", got, len(got))
	}
}

func TestKubeletUserMerge(t *testing.T) {
	id := func(v int64) *int64 { return &v }
	pod := translatePod()
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: id(10), RunAsGroup: id(20)}
	c := &corev1.Container{Name: "app", Image: "x", SecurityContext: &corev1.SecurityContext{RunAsUser: id(1000)}}
	if got := containerSpec(pod, c, c.Env, "n", 1).User; got != "1000:20" {
		t.Errorf("user %q want 1000:20", got)
	}
	c = &corev1.Container{Name: "app", Image: "x", SecurityContext: &corev1.SecurityContext{RunAsGroup: id(30)}}
	if got := containerSpec(pod, c, c.Env, "n", 1).User; got != "10:30" {
		t.Errorf("user %q want 10:30", got)
	}
}
