// Regression tests: each checks one point where Berth once reported a pod differently from the kubelet
// (pkg/kubelet/status/generate.go, kubelet_pods.go).
package provider

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestKubeletHostnameTruncate(t *testing.T) {
	pod := &corev1.Pod{}
	pod.Name = strings.Repeat("a", 62) + "-bcdef"
	got, err := sandboxHostname(pod, "cluster.local")
	if err != nil || got != strings.Repeat("a", 62) {
		t.Errorf("hostname %q (%d), %v", got, len(got), err)
	}
}
