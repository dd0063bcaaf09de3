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
)

// TestEnvironmentAsTheKubeletBuildsIt checks what a container sees: literal values with $(VAR) expansion, a
// ConfigMap key, a Secret key, envFrom with a prefix, the downward API (pod IP, node name, memory limit), and
// command arguments expanded from the environment.
func TestEnvironmentAsTheKubeletBuildsIt(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast, level: "3"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata:
  name: env
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "env | sort; echo ARG=$1", "sh", "$(GREETING)"]
    resources:
      limits: {memory: 64Mi}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: settings}
    env:
    - {name: NAME, value: world}
    - {name: GREETING, value: "hello-$(NAME)"}
    - name: MODE
      valueFrom: {configMapKeyRef: {name: settings, key: mode}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: NODE
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    - name: HOST_IP
      valueFrom: {fieldRef: {fieldPath: status.hostIP}}
    - name: HOST_IPS
      valueFrom: {fieldRef: {fieldPath: status.hostIPs}}
    - name: POD_IPS
      valueFrom: {fieldRef: {fieldPath: status.podIPs}}
    - name: MEM_MI
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
`, busybox), "apply", "-n", ns, "-f", "-")
	_, pod := watchPhases(t, ns, "env", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: %s", pod.Status.Phase, describeStatus(pod))
	}
	logs := kubectl(t, "", "logs", "-n", ns, "env")
	node, err := client.CoreV1().Nodes().Get(context.Background(), pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var nodeIP string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			nodeIP = a.Address
		}
	}
	if nodeIP == "" || pod.Status.HostIP != nodeIP {
		t.Errorf("pod's hostIP %q, node %s's InternalIP %q", pod.Status.HostIP, node.Name, nodeIP)
	}
	for _, want := range []string{
		"GREETING=hello-world", "MODE=fast", "PASSWORD=s3cret", "CFG_mode=fast", "CFG_level=3",
		"POD_IP=" + pod.Status.PodIP, "POD_IPS=" + pod.Status.PodIP, "NODE=" + pod.Spec.NodeName, "MEM_MI=64", "ARG=hello-world",
		// The node's address, as the pod's status and the node object give it.
		"HOST_IP=" + nodeIP, "HOST_IPS=" + nodeIP,
		// No kube-proxy routes the kubernetes service's cluster IP on a Berth node: its variables name the
		// apiserver's address on the node (berth-kubelet --apiserver-address).
		"KUBERNETES_SERVICE_HOST=" + testCluster.Config().NodeIP, fmt.Sprintf("KUBERNETES_SERVICE_PORT=%d", testCluster.Config().APIServerPort),
	} {
		if !strings.Contains(logs, want+"\n") {
			t.Errorf("container environment lacks %s:\n%s", want, logs)
		}
	}
}

// TestMissingConfigMapIsAConfigError checks that a container referring to a missing ConfigMap or Secret waits
// with CreateContainerConfigError and a message naming it, then starts once the object exists.
func TestMissingConfigMapIsAConfigError(t *testing.T) {
	ns := namespace(t)
	kinds := []struct{ kind, ref string }{{"configmap", "configMapKeyRef"}, {"secret", "secretKeyRef"}}
	var manifests []string
	for _, k := range kinds {
		manifests = append(manifests, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: needs-%s
spec:
  containers:
  - name: main
    image: %s
    command: ["sleep", "3600"]
    env:
    - name: MODE
      valueFrom: {%s: {name: later, key: mode}}
`, k.kind, busybox, k.ref))
	}
	kubectl(t, strings.Join(manifests, "---\n"), "apply", "-n", ns, "-f", "-")
	for _, k := range kinds {
		pod := waitPod(t, ns, "needs-"+k.kind, 60*time.Second, "CreateContainerConfigError", func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
				p.Status.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerConfigError"
		})
		if msg, want := pod.Status.ContainerStatuses[0].State.Waiting.Message, fmt.Sprintf("%s %q not found", k.kind, "later"); msg != want {
			t.Errorf("%s: waiting message %q, want %q", pod.Name, msg, want)
		}
		if pod.Status.Phase != corev1.PodPending {
			t.Errorf("%s: phase %s, want Pending", pod.Name, pod.Status.Phase)
		}
	}
	kubectl(t, "", "create", "configmap", "later", "-n", ns, "--from-literal=mode=slow")
	kubectl(t, "", "create", "secret", "generic", "later", "-n", ns, "--from-literal=mode=slow")
	for _, k := range kinds {
		waitPod(t, ns, "needs-"+k.kind, 90*time.Second, "Running once the object exists", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning
		})
	}
}

// TestInitContainersRunInOrder checks that init containers run one after the other, to completion, before the
// app container, with the kubelet's Init:N/M progression visible as PodInitializing.
func TestInitContainersRunInOrder(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: ordered
spec:
  restartPolicy: Never
  initContainers:
  - {name: first, image: %[1]s, command: ["sh", "-c", "sleep 2; echo first"]}
  - {name: second, image: %[1]s, command: ["sh", "-c", "sleep 2; echo second"]}
  containers:
  - {name: main, image: %[1]s, command: ["sh", "-c", "echo main"]}
`, busybox), "apply", "-n", ns, "-f", "-")
	_, pod := watchPhases(t, ns, "ordered", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: %s", pod.Status.Phase, describeStatus(pod))
	}
	first := pod.Status.InitContainerStatuses[0].State.Terminated
	second := pod.Status.InitContainerStatuses[1].State.Terminated
	main := pod.Status.ContainerStatuses[0].State.Terminated
	if first == nil || second == nil || main == nil {
		t.Fatalf("not all containers terminated: %s", describeStatus(pod))
	}
	// Status times have a resolution of a second; each init container runs two.
	if !second.StartedAt.After(first.StartedAt.Time) || !main.StartedAt.After(second.StartedAt.Time) {
		t.Errorf("containers did not start in order: %s", describeStatus(pod))
	}
	if second.StartedAt.Before(&first.FinishedAt) || main.StartedAt.Before(&second.FinishedAt) {
		t.Errorf("a container started before the previous one finished: %s", describeStatus(pod))
	}
}

// TestOOMKilled checks that a container exceeding its memory limit is reported Terminated with reason OOMKilled.
func TestOOMKilled(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hog
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=256M count=1"]
    resources:
      limits: {memory: 32Mi}
`, busybox), "apply", "-n", ns, "-f", "-")
	_, pod := watchPhases(t, ns, "hog", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	term := pod.Status.ContainerStatuses[0].State.Terminated
	if pod.Status.Phase != corev1.PodFailed || term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("want Failed with OOMKilled exit 137: %s", describeStatus(pod))
	}
}

// TestGracefulDelete checks deletion: a container that ignores SIGTERM is killed when the grace period ends (not
// before: a lower bound, which a slow machine cannot break), one that exits on SIGTERM goes at once (its grace period
// is longer than the test waits, so only a pod removed on its exit passes), and the Podman pod is removed.
func TestGracefulDelete(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: stubborn
spec:
  terminationGracePeriodSeconds: 4
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "trap 'echo ignoring TERM' TERM; while true; do sleep 0.2; done"]
`, busybox), "apply", "-n", ns, "-f", "-")
	waitPod(t, ns, "stubborn", 60*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	start := time.Now()
	deleteAndWatch(t, ns, "stubborn", 60*time.Second)
	if took := time.Since(start); took < 4*time.Second {
		t.Errorf("pod ignoring SIGTERM was gone after %s, before its 4s grace period", took)
	}
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		left, err := podmanPods(ctx, map[string]string{"berth.dev/namespace": ns, "berth.dev/name": "stubborn"})
		return err == nil && len(left) == 0, nil
	})
	if err != nil {
		t.Errorf("the Podman pod of the deleted pod was not removed")
	}

	// A pod that stops on SIGTERM is gone as soon as it stopped, as with a kubelet, not when its grace period (10
	// minutes, beyond deleteAndWatch's wait) ends; its container's last state is its own exit 0.
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: prompt
spec:
  terminationGracePeriodSeconds: 600
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
`, busybox), "apply", "-n", ns, "-f", "-")
	waitPod(t, ns, "prompt", 60*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	last := deleteAndWatch(t, ns, "prompt", 2*time.Minute)
	if term := last.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 0 {
		t.Errorf("the container that exits on SIGTERM: %s; want its exit 0 on SIGTERM", describeStatus(last))
	}
}

func waitGone(t *testing.T, ns, name string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("pod %s/%s still exists after %s", ns, name, timeout)
}
