package e2e

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// sidecarLoop is a sidecar's command: it runs until SIGTERM, then exits 0 at once.
const sidecarLoop = `["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]`

// TestSidecarsStopInTerminationOrder checks the kubelet's termination order on both paths that stop sidecars: a
// deleted pod's sidecar outlives its main container's preStop hook (which may still need it), and a finished pod's
// sidecars stop later-first. Status times have a resolution of a second; each wait below lasts three.
func TestSidecarsStopInTerminationOrder(t *testing.T) {
	ns := namespace(t)
	t.Run("deletion", func(t *testing.T) {
		runningPod(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: deleted
spec:
  terminationGracePeriodSeconds: 20
  initContainers:
  - {name: side, image: %[1]s, restartPolicy: Always, command: %[2]s}
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle:
      preStop: {exec: {command: ["sleep", "3"]}}
`, busybox, sidecarLoop))
		final := deleteAndWatch(t, ns, "deleted", 90*time.Second)
		if final == nil || len(final.Status.InitContainerStatuses) != 1 || len(final.Status.ContainerStatuses) != 1 {
			t.Fatalf("no final status seen: %s", describeStatus(final))
		}
		side, main := final.Status.InitContainerStatuses[0].State.Terminated, final.Status.ContainerStatuses[0].State.Terminated
		if side == nil || main == nil {
			t.Fatalf("containers not terminated in the final status: %s", describeStatus(final))
		}
		if side.FinishedAt.Before(&main.FinishedAt) {
			t.Errorf("the sidecar stopped at %s, before the main container (preStop of 3 s) at %s: %s",
				side.FinishedAt, main.FinishedAt, describeStatus(final))
		}
	})
	t.Run("finished pod", func(t *testing.T) {
		kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: finished
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 20
  initContainers:
  - {name: side-a, image: %[1]s, restartPolicy: Always, command: %[2]s}
  - name: side-b
    image: %[1]s
    restartPolicy: Always
    command: %[2]s
    lifecycle:
      preStop: {exec: {command: ["sleep", "3"]}}
  containers:
  - {name: main, image: %[1]s, command: ["sh", "-c", "sleep 2"]}
`, busybox, sidecarLoop), "apply", "-n", ns, "-f", "-")
		pod := waitPod(t, ns, "finished", 90*time.Second, "Succeeded with both sidecars stopped", func(p *corev1.Pod) bool {
			if p.Status.Phase != corev1.PodSucceeded || len(p.Status.InitContainerStatuses) != 2 {
				return false
			}
			return p.Status.InitContainerStatuses[0].State.Terminated != nil && p.Status.InitContainerStatuses[1].State.Terminated != nil
		})
		a, b := pod.Status.InitContainerStatuses[0].State.Terminated, pod.Status.InitContainerStatuses[1].State.Terminated
		if a.FinishedAt.Before(&b.FinishedAt) {
			t.Errorf("side-a stopped at %s, before the later sidecar side-b (preStop of 3 s) at %s: %s", a.FinishedAt, b.FinishedAt, describeStatus(pod))
		}
	})
}
