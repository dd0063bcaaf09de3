package e2e

import (
	"context"
	"fmt"
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

// TestVirtualKubeletRestartKeepsRestartHistory restarts a node's virtual kubelet while one pod runs its second
// container (the first crashed) and the container of another is stopped behind its back: after the restart the
// first keeps its restartCount and lastState (the crashed container, still in Podman), and the second, which
// exited while no kubelet ran, is restarted as its restart policy says, with that exit as its lastState.
func TestVirtualKubeletRestartKeepsRestartHistory(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	node := testCluster.NodeNames()[0]
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: crashed
spec:
  nodeName: %[2]s
  terminationGracePeriodSeconds: 2
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: app
    image: %[1]s
    command: ["sh", "-c", "[ -e /data/ran ] && exec sleep 3600; touch /data/ran; exit 3"]
    volumeMounts: [{name: data, mountPath: /data}]
`, busybox, node), "apply", "-n", ns, "-f", "-")
	kubectl(t, "", "run", "ender", "-n", ns, "--image="+busybox, "--overrides", `{"spec":{"nodeName":"`+node+`","terminationGracePeriodSeconds":2}}`, "--", "sleep", "3600")
	running := func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	}
	crashed := waitPod(t, ns, "crashed", 90*time.Second, "running again after one crash", func(p *corev1.Pod) bool {
		return running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
	})
	ender := waitPod(t, ns, "ender", 60*time.Second, "Running", running)
	before := crashed.Status.ContainerStatuses[0]
	if last := before.LastTerminationState.Terminated; last == nil || last.ExitCode != 3 || last.Reason != "Error" {
		t.Fatalf("crashed pod before the restart: lastState %+v, want Error exit 3", before.LastTerminationState)
	}

	if err := testCluster.StopNode(0); err != nil {
		t.Fatal(err)
	}
	rt, err := podman.Dial(ctx, testCluster.PodmanURLs()[0])
	if err != nil {
		t.Fatal(err)
	}
	enderID := strings.TrimPrefix(ender.Status.ContainerStatuses[0].ContainerID, "podman://")
	if err := rt.StopContainer(ctx, enderID, time.Second); err != nil {
		t.Fatal(err)
	}
	stopped, err := rt.InspectContainer(ctx, enderID)
	if err != nil || stopped.Running {
		t.Fatalf("stopped container: %+v, %v", stopped, err)
	}
	if err := testCluster.StartNode(ctx, 0); err != nil {
		t.Fatalf("restart node: %v", err)
	}

	after := waitPod(t, ns, "crashed", 60*time.Second, "reported again after the restart", running).Status.ContainerStatuses[0]
	if after.ContainerID != before.ContainerID || after.RestartCount != 1 {
		t.Errorf("crashed pod after the restart: id %s restarts %d; before: id %s restarts 1", after.ContainerID, after.RestartCount, before.ContainerID)
	}
	last, want := after.LastTerminationState.Terminated, before.LastTerminationState.Terminated
	if last == nil || last.ExitCode != 3 || last.Reason != "Error" || last.ContainerID != want.ContainerID ||
		!last.StartedAt.Equal(&want.StartedAt) || !last.FinishedAt.Equal(&want.FinishedAt) {
		t.Errorf("crashed pod after the restart: lastState %+v, want %+v", after.LastTerminationState, before.LastTerminationState)
	}

	// The kubelet's back-off (10 s) comes first.
	again := waitPod(t, ns, "ender", 60*time.Second, "restarted after exiting while no kubelet ran", func(p *corev1.Pod) bool {
		return running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
	}).Status.ContainerStatuses[0]
	if last := again.LastTerminationState.Terminated; last == nil || last.ExitCode != stopped.ExitCode || last.ContainerID != "podman://"+enderID {
		t.Errorf("ender after the restart: lastState %+v, want the stopped container %s (exit %d)", again.LastTerminationState, enderID, stopped.ExitCode)
	}
}

// TestContainerRemovedBehindBerthsBack force-removes running containers with Podman directly: each is reported as
// the kubelet reports a container it cannot find (ContainerStatusUnknown, 137), then its restart policy applies.
func TestContainerRemovedBehindBerthsBack(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	node := testCluster.NodeNames()[1]
	for name, policy := range map[string]string{"always": "Always", "never": "Never"} {
		kubectl(t, "", "run", name, "-n", ns, "--image="+busybox, "--restart="+policy,
			"--overrides", `{"spec":{"nodeName":"`+node+`","terminationGracePeriodSeconds":2}}`, "--", "sleep", "3600")
	}
	running := func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	}
	rt, err := podman.Dial(ctx, testCluster.PodmanURLs()[1])
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, name := range []string{"always", "never"} {
		p := waitPod(t, ns, name, 60*time.Second, "Running", running)
		ids[name] = p.Status.ContainerStatuses[0].ContainerID
		if err := rt.RemoveContainer(ctx, strings.TrimPrefix(ids[name], "podman://")); err != nil {
			t.Fatal(err)
		}
	}
	unknown := func(term *corev1.ContainerStateTerminated) bool {
		return term != nil && term.ExitCode == 137 && term.Reason == "ContainerStatusUnknown" &&
			term.Message == "The container could not be located when the pod was terminated"
	}
	never := waitPod(t, ns, "never", 60*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if st := never.Status.ContainerStatuses[0]; !unknown(st.State.Terminated) || st.RestartCount != 0 {
		t.Errorf("never: state %+v restarts %d; want ContainerStatusUnknown 137 and no restart", st.State, st.RestartCount)
	}
	always := waitPod(t, ns, "always", 60*time.Second, "restarted", func(p *corev1.Pod) bool {
		return running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
	}).Status.ContainerStatuses[0]
	if !unknown(always.LastTerminationState.Terminated) || always.LastTerminationState.Terminated.ContainerID != ids["always"] || always.ContainerID == ids["always"] {
		t.Errorf("always: container %s lastState %+v; want a new container, and ContainerStatusUnknown 137 of %s", always.ContainerID, always.LastTerminationState, ids["always"])
	}
}
