package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestControlPlaneRestart stops the apiserver and etcd for 20 s and starts them again: the scheduler, the
// controller manager and the virtual kubelets reconnect by themselves (none of them exits), a pod running before
// keeps its container, and pods created as soon as the apiserver answers again — while the components are still
// reconnecting — are scheduled by both scheduler profiles and run to completion.
func TestControlPlaneRestart(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	kubectl(t, "", "run", "before", "-n", ns, "--image="+busybox, "--overrides",
		`{"spec":{"schedulerName":"berth-scheduler","terminationGracePeriodSeconds":2}}`, "--", "sleep", "3600")
	before := waitPod(t, ns, "before", 90*time.Second, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
	}).Status.ContainerStatuses[0]

	if err := testCluster.RestartControlPlane(ctx, 20*time.Second); err != nil {
		t.Fatalf("restart the control plane: %v", err)
	}
	after := map[string]string{"after-berth": "berth-scheduler", "after-default": "default-scheduler"}
	for name, scheduler := range after {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				SchedulerName: scheduler,
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: busybox, Command: []string{"sh", "-c", "echo ran"}}},
			},
		}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s right after the restart: %v", name, err)
		}
	}
	for name := range after {
		_, p := watchPhases(t, ns, name, 3*time.Minute, corev1.PodSucceeded, corev1.PodFailed)
		if p.Status.Phase != corev1.PodSucceeded || p.Spec.NodeName == "" {
			t.Errorf("%s: node %q, %s", name, p.Spec.NodeName, describeStatus(p))
		}
	}
	got := waitPod(t, ns, "before", 30*time.Second, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1
	}).Status.ContainerStatuses[0]
	if got.ContainerID != before.ContainerID || got.RestartCount != 0 || !got.Ready {
		t.Errorf("the pod running before the restart: container %s restarts %d ready %v; want %s, 0, true", got.ContainerID, got.RestartCount, got.Ready, before.ContainerID)
	}
	components := []string{"kube-controller-manager", "berth-scheduler"}
	for _, n := range testCluster.NodeNames() {
		components = append(components, "kubelet-"+n)
	}
	for _, name := range components {
		if !testCluster.Running(name) {
			t.Errorf("%s exited during the control plane's restart", name)
		}
	}
	for _, n := range testCluster.NodeNames() {
		node, err := client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				t.Errorf("node %s after the restart: Ready=%s (%s)", n, c.Status, c.Message)
			}
		}
	}
}
