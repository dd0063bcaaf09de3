package e2e

import (
	"context"
	"os/exec"
	"strings"
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

// TestContainerKilledBehindBerthsBack kills running containers with `podman kill` (SIGKILL): within seconds the
// pod whose restart policy says so has a new container, with the killed one (exit 137, Error) as its lastState,
// and the other pod has failed with that exit, as a kubelet shows a container killed outside it.
func TestContainerKilledBehindBerthsBack(t *testing.T) {
	ns := namespace(t)
	node := testCluster.NodeNames()[0]
	for name, policy := range map[string]string{"always": "Always", "never": "Never"} {
		kubectl(t, "", "run", name, "-n", ns, "--image="+busybox, "--restart="+policy,
			"--overrides", `{"spec":{"nodeName":"`+node+`","terminationGracePeriodSeconds":2}}`, "--", "sleep", "3600")
	}
	running := func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	}
	ids := map[string]string{}
	for _, name := range []string{"always", "never"} {
		ids[name] = waitPod(t, ns, name, 60*time.Second, "Running", running).Status.ContainerStatuses[0].ContainerID
	}
	for _, name := range []string{"always", "never"} {
		cmd := exec.Command("podman", "--remote", "--url", testCluster.PodmanURLs()[0], "kill", strings.TrimPrefix(ids[name], "podman://"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("podman kill: %v: %s", err, out)
		}
	}
	killed := func(term *corev1.ContainerStateTerminated, id string) bool {
		return term != nil && term.ExitCode == 137 && term.Reason == "Error" && term.ContainerID == id
	}
	never := waitPod(t, ns, "never", 20*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if st := never.Status.ContainerStatuses[0]; !killed(st.State.Terminated, ids["never"]) || st.RestartCount != 0 {
		t.Errorf("never: %s; want the killed container terminated with 137 (Error), no restart", describeStatus(never))
	}
	always := waitPod(t, ns, "always", 30*time.Second, "restarted", func(p *corev1.Pod) bool {
		return running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
	})
	if st := always.Status.ContainerStatuses[0]; !killed(st.LastTerminationState.Terminated, ids["always"]) || st.ContainerID == ids["always"] || always.Status.Phase != corev1.PodRunning {
		t.Errorf("always: %s; want a new container, the killed one (137, Error) as lastState", describeStatus(always))
	}
}
