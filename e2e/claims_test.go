package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The tests of this file show claims of the README that no other e2e test exercised: subPathExpr, readinessGates,
// and httpGet and sleep lifecycle hooks with FailedPreStopHook.

// TestSubPathExpr: a volume mount's subPathExpr expands the container's environment (here the pod's name, from
// the downward API) into the folder of the volume it mounts.
func TestSubPathExpr(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: subpath}
spec:
  restartPolicy: Never
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: main
    image: %s
    env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    volumeMounts:
    - {name: data, mountPath: /out, subPathExpr: "$(POD_NAME)"}
    - {name: data, mountPath: /all}
    command: ["sh", "-c", "echo hi > /out/f && test \"$(cat /all/subpath/f)\" = hi"]
`, busybox), "apply", "-n", ns, "-f", "-")
	if _, p := watchPhases(t, ns, "subpath", time.Minute, corev1.PodSucceeded, corev1.PodFailed); p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("the file written under subPathExpr $(POD_NAME) is not in the volume's folder subpath: %s", describeStatus(p))
	}
}

// TestReadinessGates: a pod with a readiness gate is not Ready while the gate's condition is missing, even with
// its containers ready, and turns Ready once something else sets the condition True; the node keeps the condition.
func TestReadinessGates(t *testing.T) {
	ns := namespace(t)
	const gate = "berth.dev/gate"
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: gated}
spec:
  readinessGates: [{conditionType: %q}]
  containers:
  - {name: main, image: %s, command: ["sleep", "3600"]}
`, gate, busybox), "apply", "-n", ns, "-f", "-")
	p := waitPod(t, ns, "gated", time.Minute, "containers ready", func(p *corev1.Pod) bool {
		return condition(p, corev1.ContainersReady) == corev1.ConditionTrue
	})
	if condition(p, corev1.PodReady) != corev1.ConditionFalse {
		t.Errorf("pod with its readiness gate unset: Ready %s, want False; %v", condition(p, corev1.PodReady), p.Status.Conditions)
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: gate, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("set the gate's condition: %v", err)
	}
	waitPod(t, ns, "gated", time.Minute, "Ready with its gate True", func(p *corev1.Pod) bool {
		return condition(p, corev1.PodReady) == corev1.ConditionTrue && condition(p, gate) == corev1.ConditionTrue
	})
}

// TestLifecycleHooks: a postStart httpGet hook reaches a server of the pod once the container starts; at deletion a
// preStop httpGet hook reaches the same server, which its own preStop sleep keeps serving meanwhile, and a failing
// preStop exec hook gives FailedPreStopHook. The server's requests are logged to a folder of the machine, which
// outlives the pod.
func TestLifecycleHooks(t *testing.T) {
	ns := namespace(t)
	dir := filepath.Join(testCluster.Config().StateDir, "host", ns+"-hooks")
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: host, hostPath: {path: %[2]s, type: DirectoryOrCreate}}]
  containers:
  - name: server
    image: %[1]s
    command: ["sh", "-c", "mkdir -p /www && touch /www/poststart /www/prestop && exec httpd -f -vv -p 8080 -h /www 2>>/host/server.log"]
    volumeMounts: [{name: host, mountPath: /host}]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
    lifecycle: {preStop: {sleep: {seconds: 3}}}
  - name: app
    image: %[1]s
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle:
      postStart: {httpGet: {path: /poststart, port: 8080}}
      preStop: {httpGet: {path: /prestop, port: 8080}}
  - name: failing
    image: %[1]s
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle: {preStop: {exec: {command: ["sh", "-c", "exit 3"]}}}
`, busybox, dir), "apply", "-n", ns, "-f", "-")
	t.Cleanup(func() { os.RemoveAll(dir) })
	waitPod(t, ns, "hooks", time.Minute, "Ready", func(p *corev1.Pod) bool { return condition(p, corev1.PodReady) == corev1.ConditionTrue })
	log := func() string { b, _ := os.ReadFile(filepath.Join(dir, "server.log")); return string(b) }
	if !strings.Contains(log(), "url:/poststart") {
		t.Errorf("the postStart httpGet hook did not reach the server; its log:\n%s", log())
	}
	deleteAndWatch(t, ns, "hooks", 2*time.Minute)
	if !strings.Contains(log(), "url:/prestop") {
		t.Errorf("the preStop httpGet hook did not reach the server (held by its preStop sleep); its log:\n%s", log())
	}
	waitEvent(t, ns, "hooks", "FailedPreStopHook", "", 30*time.Second)
}
