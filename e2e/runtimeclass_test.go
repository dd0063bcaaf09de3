package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRuntimeClass: a pod's RuntimeClass handler is the OCI runtime Podman runs its containers with, when the node
// runs that handler (berth-kubelet --runtime-handlers, runc by default). As with a kubelet, a handler the node lacks
// and a class that no longer exists (the apiserver admits no pod naming a missing one) fail the sandbox
// (FailedCreatePodSandBox) and leave the pod Pending, tried again: once the class names a handler the node runs,
// the pod runs. The node's status.runtimeHandlers names the handlers it runs.
func TestRuntimeClass(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	runc, later := ns+"-runc", ns+"-later"
	createClass := func(name, handler string) {
		createRuntimeClass(t, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Handler: handler})
	}
	createClass(runc, "runc")
	createClass(later, "runsc")
	var manifests []string
	for name, class := range map[string]string{"runc": runc, "later": later} {
		manifests = append(manifests, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  nodeName: %s
  runtimeClassName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: %s, command: ["sleep", "3600"]}
`, name, testCluster.NodeNames()[0], class, busybox))
	}
	kubectl(t, strings.Join(manifests, "---\n"), "apply", "-n", ns, "-f", "-")

	// The node reports its handlers as a kubelet reports its runtime's: the default one and runc.
	node, err := client.CoreV1().Nodes().Get(ctx, testCluster.NodeNames()[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var handlers []string
	for _, h := range node.Status.RuntimeHandlers {
		handlers = append(handlers, h.Name)
	}
	if strings.Join(handlers, ",") != ",runc" {
		t.Errorf("node status.runtimeHandlers %q, want the default one and runc", handlers)
	}

	running := waitPod(t, ns, "runc", 2*time.Minute, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	id := strings.TrimPrefix(running.Status.ContainerStatuses[0].ContainerID, "podman://")
	if got := strings.TrimSpace(podmanCLI(t, testCluster.Config().StateDir, "--url", testCluster.PodmanURLs()[0], "inspect", "--format", "{{.OCIRuntime}}", id)); got != "runc" {
		t.Errorf("the container of RuntimeClass %s (handler runc) runs under %q", runc, got)
	}

	// A handler the node does not run; then no class at all; then a class whose handler it runs.
	waitEvent(t, ns, "later", "FailedCreatePodSandBox", `Failed to create pod sandbox: failed to get sandbox runtime: no runtime for "runsc" is configured`, time.Minute)
	if err := client.NodeV1().RuntimeClasses().Delete(ctx, later, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ns, "later", "FailedCreatePodSandBox", fmt.Sprintf(`Failed to create pod sandbox: runtimeclass.node.k8s.io %q not found`, later), 2*time.Minute)
	if p, err := client.CoreV1().Pods(ns).Get(ctx, "later", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if p.Status.Phase != corev1.PodPending {
		t.Errorf("pod without its runtime: %s, want Pending", describeStatus(p))
	}
	createClass(later, "runc")
	waitPod(t, ns, "later", 3*time.Minute, "Running once its RuntimeClass names runc", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
}

// createRuntimeClass creates a RuntimeClass (cluster-scoped) and deletes it when the test ends.
func createRuntimeClass(t *testing.T, rc *nodev1.RuntimeClass) {
	t.Helper()
	if _, err := client.NodeV1().RuntimeClasses().Create(context.Background(), rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.NodeV1().RuntimeClasses().Delete(context.Background(), rc.Name, metav1.DeleteOptions{})
	})
}
