package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// etcdCommand runs the etcd binary of the build (mounted at /etcd) in a busybox container: it serves the standard
// grpc.health.v1 Health service on its client port 2379, as upstream's gRPC probe e2e tests use it.
const etcdCommand = "/etcd --data-dir /tmp/etcd --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380"

// TestGRPCProbes checks gRPC probes against etcd's health service, with the kubelet's results and messages (its
// grpc prober's): a readiness probe fails while nothing serves the port and makes the pod Ready once etcd does; a
// liveness probe of a service etcd does not know (NOT_FOUND) fails with etcd's answer and restarts the container.
func TestGRPCProbes(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: ready
spec:
  terminationGracePeriodSeconds: 2
  volumes: [{name: etcd, hostPath: {path: %[1]s, type: File}}]
  containers:
  - name: etcd
    image: %[2]s
    # etcd starts once the test creates /tmp/go.
    command: ["sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.2; done; exec %[3]s"]
    volumeMounts: [{name: etcd, mountPath: /etcd, readOnly: true}]
    readinessProbe:
      grpc: {port: 2379}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: sick
spec:
  terminationGracePeriodSeconds: 60
  volumes: [{name: etcd, hostPath: {path: %[1]s, type: File}}]
  containers:
  - name: etcd
    image: %[2]s
    command: ["sh", "-c", "exec %[3]s"]
    volumeMounts: [{name: etcd, mountPath: /etcd, readOnly: true}]
    # The startup probe holds the liveness probe back until etcd serves, however long it takes to start.
    startupProbe:
      grpc: {port: 2379}
      periodSeconds: 1
      timeoutSeconds: 5
      failureThreshold: 600
    livenessProbe:
      grpc: {port: 2379, service: no-such-service}
      periodSeconds: 1
      timeoutSeconds: 5
      failureThreshold: 2
      terminationGracePeriodSeconds: 1
`, filepath.Join(binDir, "berth-etcd"), busybox, etcdCommand), "apply", "-n", ns, "-f", "-")

	// Readiness: while etcd waits for /tmp/go, nothing serves the port; the probe fails and the pod is not ready.
	running := waitPod(t, ns, "ready", 90*time.Second, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != ""
	})
	waitEvent(t, ns, "ready", "Unhealthy",
		fmt.Sprintf(`Readiness probe failed: timeout: failed to connect service "%s" within 1s`, running.Status.PodIP+":2379"), 60*time.Second)
	notReady, err := client.CoreV1().Pods(ns).Get(context.Background(), "ready", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if condition(notReady, corev1.PodReady) == corev1.ConditionTrue || notReady.Status.ContainerStatuses[0].Ready {
		t.Errorf("ready: Ready before etcd started: %s", describeStatus(notReady))
	}
	kubectl(t, "", "exec", "-n", ns, "ready", "-c", "etcd", "--", "touch", "/tmp/go")
	ready := waitPod(t, ns, "ready", 120*time.Second, "Ready once etcd serves", func(p *corev1.Pod) bool {
		return condition(p, corev1.PodReady) == corev1.ConditionTrue && condition(p, corev1.ContainersReady) == corev1.ConditionTrue
	})
	if cs := ready.Status.ContainerStatuses[0]; !cs.Ready || cs.RestartCount != 0 {
		t.Errorf("ready: %s", describeStatus(ready))
	}

	// Liveness: etcd answers NOT_FOUND for a service it does not serve; two failures kill the container.
	sick := waitPod(t, ns, "sick", 180*time.Second, "restarted", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if sick.Status.ContainerStatuses[0].LastTerminationState.Terminated == nil {
		t.Errorf("sick: restarted without a last termination state: %s", describeStatus(sick))
	}
	waitEvent(t, ns, "sick", "Unhealthy", "Liveness probe failed: error: health rpc probe failed: rpc error: code = NotFound desc = unknown service", 30*time.Second)
	waitEvent(t, ns, "sick", "Killing", "Container etcd failed liveness probe, will be restarted", 30*time.Second)
}
