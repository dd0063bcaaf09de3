package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

// allowedCapability is the capability the configured node lets pods add (main_test.go); the plain node allows
// none beyond the runtime's default set.
const allowedCapability = "NET_ADMIN"

// TestHardeningCapabilities checks that a pod adding a capability beyond the runtime's default set fails on a
// node that does not allow it (a Warning event and the pod's message name the field, the container waits in
// CreateContainerConfigError, nothing runs), and runs with the capability on a node started with
// --allowed-capabilities naming it.
func TestHardeningCapabilities(t *testing.T) {
	ns := namespace(t)
	manifest := func(name, node string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  containers:
  - name: main
    image: %[3]s
    command: ["sh", "-c", "grep -E '^CapEff:' /proc/self/status"]
    securityContext:
      capabilities: {add: [%[4]s]}
`, name, node, busybox, allowedCapability)
	}
	kubectl(t, manifest("refused", plainNode)+"---\n"+manifest("allowed", configuredNode), "apply", "-n", ns, "-f", "-")

	want := "spec.containers[main].securityContext.capabilities.add: " + allowedCapability
	pod := waitPod(t, ns, "refused", 2*time.Minute, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if pod.Status.Reason != "UnsupportedPodSpec" || !strings.Contains(pod.Status.Message, "capabilities beyond the container runtime's default set are not allowed on this node") ||
		!strings.Contains(pod.Status.Message, want) {
		t.Errorf("pod adding %s on a node refusing it: %s", allowedCapability, describeStatus(pod))
	}
	if len(pod.Status.ContainerStatuses) != 1 || pod.Status.ContainerStatuses[0].State.Waiting == nil ||
		pod.Status.ContainerStatuses[0].State.Waiting.Reason != "CreateContainerConfigError" {
		t.Errorf("refused pod's container: %s", describeStatus(pod))
	}
	waitEvent(t, ns, "refused", "UnsupportedPodSpec", want, 30*time.Second)
	if left, err := podmanPods(t.Context(), map[string]string{podman.LabelNamespace: ns, podman.LabelName: "refused"}); err != nil || len(left) > 0 {
		t.Errorf("the refused pod has Podman pods %v (%v)", left, err)
	}

	_, pod = watchPhases(t, ns, "allowed", 2*time.Minute, corev1.PodSucceeded, corev1.PodFailed)
	logs := succeeded(t, ns, pod)
	if capEff := hexCaps(t, statusLine(logs, "CapEff")); capEff&(1<<12) == 0 { // CAP_NET_ADMIN
		t.Errorf("container on the node allowing %s: CapEff %x", allowedCapability, capEff)
	}
}
