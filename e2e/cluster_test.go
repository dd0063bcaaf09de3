package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/berth-dev/berth/provider/podman"
)

// TestNodeReadyWithPodmanCapacity checks that each node registered Ready, advertises a non-loopback address, holds
// a lease, and reports the Podman host's CPUs and memory as capacity.
func TestNodeReadyWithPodmanCapacity(t *testing.T) {
	ctx := context.Background()
	for i, name := range testCluster.NodeNames() {
		// Ready within a minute: a node whose first observation of Podman failed (timed out under the suite's load,
		// say) is NotReady until one succeeds; later failures are tolerated for --podman-unreachable-node-grace.
		var node *corev1.Node
		err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
			var err error
			node, err = client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady {
					return c.Status == corev1.ConditionTrue, nil
				}
			}
			return false, nil
		})
		if err != nil || node == nil {
			t.Errorf("node %s is not Ready: %v; node %+v", name, err, node)
			continue
		}
		for _, taint := range node.Spec.Taints {
			if taint.Key != corev1.TaintNodeNotReady {
				t.Errorf("local node %s carries taint %v; plain pods would not land on it", name, taint)
			}
		}
		var ip string
		for _, a := range node.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip = a.Address
			}
		}
		if ip == "" || strings.HasPrefix(ip, "127.") {
			t.Errorf("node %s advertises %q; want a non-loopback address", name, ip)
		}
		rt, err := podman.Dial(ctx, testCluster.PodmanURLs()[i])
		if err != nil {
			t.Fatal(err)
		}
		info, err := rt.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := node.Status.Capacity.Cpu().Value(); got != int64(info.CPUs) {
			t.Errorf("node %s cpu capacity %d, Podman host has %d", name, got, info.CPUs)
		}
		if got := node.Status.Capacity.Memory().Value(); got != info.MemTotal {
			t.Errorf("node %s memory capacity %d, Podman host has %d", name, got, info.MemTotal)
		}
		if got := node.Status.Capacity.Pods().Value(); got != 110 {
			t.Errorf("node %s pod capacity %d, want 110", name, got)
		}
		if !strings.HasPrefix(node.Status.NodeInfo.ContainerRuntimeVersion, "podman://") {
			t.Errorf("node %s runtime %q", name, node.Status.NodeInfo.ContainerRuntimeVersion)
		}
		if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("lease of node %s: %v", name, err)
		}
	}
}

// TestKubectlPodRunsThenSucceeds applies a pod with kubectl and checks that it goes Pending → Running → Succeeded,
// with the container's output readable through kubectl logs (apiserver → kubelet API → Podman).
func TestKubectlPodRunsThenSucceeds(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hello
spec:
  restartPolicy: Never
  containers:
  - name: hello
    image: %s
    command: ["sh", "-c", "echo hello from $(hostname); sleep 2"]
`, busybox), "apply", "-n", ns, "-f", "-")
	phases, pod := watchPhases(t, ns, "hello", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if want := []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded}; !slices.Equal(phases, want) {
		t.Fatalf("phases %v, want %v; status: %s", phases, want, describeStatus(pod))
	}
	st := pod.Status.ContainerStatuses[0]
	if st.State.Terminated == nil || st.State.Terminated.ExitCode != 0 || st.State.Terminated.Reason != "Completed" {
		t.Errorf("container state %+v, want terminated Completed exit 0", st.State)
	}
	if pod.Status.PodIP == "" || pod.Status.HostIP == "" || pod.Status.StartTime == nil {
		t.Errorf("podIP %q hostIP %q startTime %v: want all set", pod.Status.PodIP, pod.Status.HostIP, pod.Status.StartTime)
	}
	if !strings.HasPrefix(st.ContainerID, "podman://") {
		t.Errorf("containerID %q", st.ContainerID)
	}
	if logs := kubectl(t, "", "logs", "-n", ns, "hello"); logs != "hello from hello\n" {
		t.Errorf("kubectl logs = %q, want the container's output", logs)
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && (c.Status != corev1.ConditionFalse || c.Reason != "PodCompleted") {
			t.Errorf("Ready condition of a succeeded pod: %+v; want False/PodCompleted", c)
		}
	}
}

// TestFailingContainerFailsPod checks that a container exiting non-zero under restartPolicy Never fails the pod
// with the exit code and reason Error.
func TestFailingContainerFailsPod(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: fails
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "echo going down >&2; exit 3"]
`, busybox), "apply", "-n", ns, "-f", "-")
	phases, pod := watchPhases(t, ns, "fails", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if phases[len(phases)-1] != corev1.PodFailed {
		t.Fatalf("phases %v, want to end Failed", phases)
	}
	term := pod.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 3 || term.Reason != "Error" {
		t.Errorf("container state %+v, want terminated Error exit 3", pod.Status.ContainerStatuses[0].State)
	}
	if logs := kubectl(t, "", "logs", "-n", ns, "fails"); !strings.Contains(logs, "going down") {
		t.Errorf("kubectl logs = %q, want stderr of the container", logs)
	}
}

// TestCrashingContainerBacksOff checks the kubelet's restart behaviour under restartPolicy Always: the pod stays
// Running, the container shows CrashLoopBackOff with the last termination, and restartCount grows.
func TestCrashingContainerBacksOff(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "", "run", "crash", "-n", ns, "--image="+busybox, "--", "sh", "-c", "echo boom; exit 1")
	pod := waitPod(t, ns, "crash", 90*time.Second, "CrashLoopBackOff after a restart", func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		st := p.Status.ContainerStatuses[0]
		return st.RestartCount >= 1 && st.State.Waiting != nil && st.State.Waiting.Reason == "CrashLoopBackOff"
	})
	st := pod.Status.ContainerStatuses[0]
	if last := st.LastTerminationState.Terminated; last == nil || last.ExitCode != 1 || last.Reason != "Error" {
		t.Errorf("lastState %+v, want terminated Error exit 1", st.LastTerminationState)
	}
	if pod.Status.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running while the container is being restarted", pod.Status.Phase)
	}
	if logs := kubectl(t, "", "logs", "-n", ns, "crash", "--previous"); !strings.Contains(logs, "boom") {
		t.Errorf("kubectl logs --previous = %q, want the previous run's output", logs)
	}
}

// TestDeploymentReplicasRun checks that a Deployment's 3 replicas all run, each with its own pod IP, and that
// scaling it down removes the Podman pods of the deleted replicas.
func TestDeploymentReplicasRun(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "", "create", "deployment", "web", "-n", ns, "--image="+busybox, "--replicas=3", "--", "httpd", "-f", "-p", "8080")
	kubectl(t, "", "rollout", "status", "-n", ns, "deployment/web", "--timeout=120s")
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: labels.Set{"app": "web"}.String()})
	if err != nil {
		t.Fatal(err)
	}
	ips := map[string]bool{}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("replica %s is %s", p.Name, p.Status.Phase)
		}
		ips[p.Status.PodIP] = true
	}
	if len(pods.Items) != 3 || len(ips) != 3 {
		t.Fatalf("%d replicas with %d distinct IPs, want 3 and 3", len(pods.Items), len(ips))
	}
	kubectl(t, "", "scale", "-n", ns, "deployment/web", "--replicas=1")
	err = wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		left, err := podmanPods(ctx, map[string]string{podman.LabelNamespace: ns})
		return err == nil && len(left) == 1, nil
	})
	if err != nil {
		left, _ := podmanPods(context.Background(), map[string]string{podman.LabelNamespace: ns})
		t.Fatalf("after scaling to 1, Podman pods of the namespace: %v", left)
	}
}

// TestJobRunsToCompletion checks that a Job's pod runs to completion and the Job controller sees it.
func TestJobRunsToCompletion(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "", "create", "job", "count", "-n", ns, "--image="+busybox, "--", "sh", "-c", "for i in 1 2 3; do echo $i; done")
	kubectl(t, "", "wait", "-n", ns, "--for=condition=Complete", "job/count", "--timeout=120s")
}
