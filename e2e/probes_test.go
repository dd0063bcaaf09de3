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
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
)

// podEvents lists the messages of a pod's events of a reason.
func podEvents(t *testing.T, ns, pod, reason string) []string {
	t.Helper()
	evs, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: fields.Set{"involvedObject.name": pod, "reason": reason}.String()})
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	var out []string
	for _, e := range evs.Items {
		out = append(out, e.Message)
	}
	return out
}

// waitEvent waits until the pod has an event of reason whose message contains want.
func waitEvent(t *testing.T, ns, pod, reason, want string, timeout time.Duration) {
	t.Helper()
	var last []string
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		last = podEvents(t, ns, pod, reason)
		for _, m := range last {
			if strings.Contains(m, want) {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("no %s event of pod %s containing %q; %s events: %q", reason, pod, want, reason, last)
	}
}

func condition(p *corev1.Pod, typ corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

// TestReadinessProbes checks httpGet and tcpSocket readiness probes: a running container is not ready (nor its
// pod) until the probe succeeds, then it is, without restarts.
func TestReadinessProbes(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "mkdir -p /www; (sleep 5; echo ok > /www/ready) & exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /ready, port: http, httpHeaders: [{name: X-Probe, value: berth}]}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: tcp
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "sleep 5; exec httpd -f -p 9000 -h /"]
    readinessProbe:
      tcpSocket: {port: 9000}
      periodSeconds: 1
`, busybox), "apply", "-n", ns, "-f", "-")
	for _, name := range []string{"web", "tcp"} {
		running := waitPod(t, ns, name, 90*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		if cs := running.Status.ContainerStatuses[0]; cs.Ready && time.Since(cs.State.Running.StartedAt.Time) < 4*time.Second {
			t.Errorf("%s: ready %s after the start, before its probe could succeed", name, time.Since(cs.State.Running.StartedAt.Time))
		}
		ready := waitPod(t, ns, name, 60*time.Second, "Ready", func(p *corev1.Pod) bool {
			return condition(p, corev1.PodReady) == corev1.ConditionTrue && condition(p, corev1.ContainersReady) == corev1.ConditionTrue
		})
		cs := ready.Status.ContainerStatuses[0]
		if !cs.Ready || cs.RestartCount != 0 || cs.Started == nil || !*cs.Started {
			t.Errorf("%s: ready container %+v", name, cs)
		}
		if took := time.Since(cs.State.Running.StartedAt.Time); took < 5*time.Second {
			t.Errorf("%s: ready %s after the start, before the server was up", name, took)
		}
	}
	waitEvent(t, ns, "web", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 404", 10*time.Second)
}

// TestLivenessProbeRestarts checks that a container failing its exec liveness probe is killed with the probe's
// grace period and restarted, with the kubelet's Unhealthy and Killing events. The container ignores SIGTERM (a
// shell as PID 1), so only the probe's 2 s grace period, not the pod's hour, lets it restart within the wait.
func TestLivenessProbeRestarts(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	t.Cleanup(func() {
		_, _ = kubectlErr("", "delete", "pod", "sick", "-n", ns, "--grace-period=1", "--wait=false")
	})
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: sick
spec:
  terminationGracePeriodSeconds: 3600
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 600"]
    livenessProbe:
      exec: {command: ["cat", "/tmp/healthy"]}
      periodSeconds: 1
      failureThreshold: 2
      terminationGracePeriodSeconds: 2
`, busybox), "apply", "-n", ns, "-f", "-")
	pod := waitPod(t, ns, "sick", 120*time.Second, "restarted", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	last := pod.Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 137 || last.Reason != "Error" {
		t.Errorf("last state: %s", describeStatus(pod))
	}
	waitEvent(t, ns, "sick", "Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory", 10*time.Second)
	waitEvent(t, ns, "sick", "Killing", "Container main failed liveness probe, will be restarted", 10*time.Second)
}

// TestStartupProbeGates checks that a startup probe holds started, readiness and liveness back until it succeeds.
func TestStartupProbeGates(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: slow
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "sleep 5; touch /tmp/started; sleep 600"]
    startupProbe:
      exec: {command: ["cat", "/tmp/started"]}
      periodSeconds: 1
      failureThreshold: 60
    # One failure kills, but a slow exec on a loaded machine is not a failure here: only a missing file is.
    livenessProbe:
      exec: {command: ["cat", "/tmp/started"]}
      periodSeconds: 1
      timeoutSeconds: 10
      failureThreshold: 1
    readinessProbe:
      exec: {command: ["true"]}
      periodSeconds: 1
      timeoutSeconds: 10
`, busybox), "apply", "-n", ns, "-f", "-")
	running := waitPod(t, ns, "slow", 90*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	cs := running.Status.ContainerStatuses[0]
	if since := time.Since(cs.State.Running.StartedAt.Time); since < 4*time.Second && (cs.Started == nil || *cs.Started || cs.Ready) {
		t.Errorf("container started or ready %s after its start, before its startup probe could succeed: %+v", since, cs)
	}
	ready := waitPod(t, ns, "slow", 60*time.Second, "started and Ready", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses[0]
		return cs.Started != nil && *cs.Started && cs.Ready && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	cs = ready.Status.ContainerStatuses[0]
	if cs.RestartCount != 0 {
		t.Errorf("liveness killed the container before it started: %s", describeStatus(ready))
	}
	if took := time.Since(cs.State.Running.StartedAt.Time); took < 5*time.Second {
		t.Errorf("started %s after the start, before /tmp/started existed", took)
	}
}

// TestPostStartHooks checks that a postStart exec hook runs before the container is reported running (its file
// is there for the main process), and that a failing one kills the container with FailedPostStartHook.
func TestPostStartHooks(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hooked
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "while [ ! -f /tmp/post ]; do sleep 0.1; done; cat /tmp/post; sleep 600"]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "sleep 2; echo from-hook > /tmp/post"]}
---
apiVersion: v1
kind: Pod
metadata:
  name: badhook
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: %[1]s
    command: ["sleep", "600"]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "exit 3"]}
`, busybox), "apply", "-n", ns, "-f", "-")
	pod := waitPod(t, ns, "hooked", 90*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	// The hook takes 2s; the container is reported running only after it.
	if cs := pod.Status.ContainerStatuses[0]; cs.State.Running == nil || time.Since(cs.State.Running.StartedAt.Time) < 2*time.Second {
		t.Errorf("hooked: reported running before its postStart hook ended: %s", describeStatus(pod))
	}
	logsContain(t, ns, "hooked", "main", "from-hook", 30*time.Second)

	_, bad := watchPhases(t, ns, "badhook", 90*time.Second, corev1.PodFailed, corev1.PodSucceeded)
	if bad.Status.Phase != corev1.PodFailed {
		t.Errorf("badhook: %s", describeStatus(bad))
	}
	waitEvent(t, ns, "badhook", "FailedPostStartHook", "PostStartHook failed", 10*time.Second)
	waitEvent(t, ns, "badhook", "Killing", "FailedPostStartHook", 10*time.Second)
}

// TestPreStopHook checks that a pod's deletion runs the preStop hook before the stop signal: the hook notes the
// time (the host's uptime) and takes 3s, the container notes when SIGTERM comes, in a host folder.
func TestPreStopHook(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	dir := filepath.Join(testCluster.Config().AllowedHostPaths[1], ns)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: polite
spec:
  terminationGracePeriodSeconds: 20
  volumes: [{name: h, hostPath: {path: %s, type: DirectoryOrCreate}}]
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "trap 'echo term $(cut -d\\  -f1 /proc/uptime) >> /h/log; exit 0' TERM; while true; do sleep 0.2; done"]
    volumeMounts: [{name: h, mountPath: /h}]
    lifecycle:
      preStop:
        exec: {command: ["sh", "-c", "echo prestop $(cut -d' ' -f1 /proc/uptime) >> /h/log; sleep 3"]}
`, dir, busybox), "apply", "-n", ns, "-f", "-")
	waitPod(t, ns, "polite", 90*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if err := client.CoreV1().Pods(ns).Delete(context.Background(), "polite", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ns, "polite", 60*time.Second)
	b, err := os.ReadFile(filepath.Join(dir, "log"))
	var hook, term float64
	if n, _ := fmt.Sscanf(string(b), "prestop %f\nterm %f\n", &hook, &term); err != nil || n != 2 {
		t.Fatalf("host log %q, %v; want the preStop hook's line, then SIGTERM's", b, err)
	}
	// SIGTERM comes once the hook is done, not when the 20s grace period is over.
	if d := term - hook; d < 2.9 || d > 10 {
		t.Errorf("SIGTERM came %.2fs after the preStop hook started; want about 3s", d)
	}
}
