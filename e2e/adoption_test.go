package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/berth-dev/berth/provider/podman"
)

// TestVirtualKubeletRestartAdoptsPods restarts a node's virtual kubelet while two pods run on it and one more is
// deleted behind its back: the running pods are adopted (same containers, not restarted, still Running) and the
// Podman pod of the deleted one is removed.
func TestVirtualKubeletRestartAdoptsPods(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	node := testCluster.NodeNames()[0]
	for _, name := range []string{"stay", "leave"} {
		kubectl(t, "", "run", name, "-n", ns, "--image="+busybox, "--overrides", `{"spec":{"nodeName":"`+node+`","terminationGracePeriodSeconds":2}}`, "--", "sleep", "3600")
	}
	stay := waitPod(t, ns, "stay", 60*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	waitPod(t, ns, "leave", 60*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	before := stay.Status.ContainerStatuses[0]

	// Stop the node's kubelet, delete "leave" for good while nobody runs its pods, and start the kubelet again.
	if err := testCluster.StopNode(0); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, "leave", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	if err := testCluster.StartNode(ctx, 0); err != nil {
		t.Fatalf("restart node: %v", err)
	}

	after := waitPod(t, ns, "stay", 60*time.Second, "reported again after the restart", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	got := after.Status.ContainerStatuses[0]
	if got.ContainerID != before.ContainerID || got.RestartCount != 0 || !got.State.Running.StartedAt.Equal(&before.State.Running.StartedAt) {
		t.Errorf("container after restart: id %s restarts %d started %v; before: id %s started %v",
			got.ContainerID, got.RestartCount, got.State.Running.StartedAt, before.ContainerID, before.State.Running.StartedAt)
	}
	rt, err := podman.Dial(ctx, testCluster.PodmanURLs()[0])
	if err != nil {
		t.Fatal(err)
	}
	st, err := rt.InspectContainer(ctx, strings.TrimPrefix(before.ContainerID, "podman://"))
	if err != nil || !st.Running || st.StartedAt.Sub(before.State.Running.StartedAt.Time).Abs() > time.Second {
		t.Errorf("the adopted container in Podman: %+v, %v; want the one started at %v, still running", st, err, before.State.Running.StartedAt)
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		left, err := podmanPods(ctx, map[string]string{podman.LabelNamespace: ns, podman.LabelName: "leave"})
		return err == nil && len(left) == 0, nil
	})
	if err != nil {
		t.Errorf("the Podman pod of the deleted pod was not removed after the restart")
	}
}
