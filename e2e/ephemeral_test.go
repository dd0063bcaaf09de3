package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/retry"
)

// debugCapability is the capability kubectl debug's default profile ("general") adds to an ephemeral container;
// the configured node allows it (main_test.go), the plain one does not.
const debugCapability = "SYS_PTRACE"

// addEphemeral adds an ephemeral container to a pod through the ephemeralcontainers subresource, as kubectl debug
// and the conformance tests do.
func addEphemeral(t *testing.T, ns, name string, ec corev1.EphemeralContainer) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, ec)
		_, err = client.CoreV1().Pods(ns).UpdateEphemeralContainers(ctx, name, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("add ephemeral container %s to %s/%s: %v", ec.Name, ns, name, err)
	}
}

// ephemeralSpecs reads a pod's ephemeral containers through the ephemeralcontainers subresource.
func ephemeralSpecs(t *testing.T, ns, name string) []corev1.EphemeralContainer {
	t.Helper()
	var pod corev1.Pod
	err := client.CoreV1().RESTClient().Get().Namespace(ns).Resource("pods").Name(name).SubResource("ephemeralcontainers").Do(context.Background()).Into(&pod)
	if err != nil {
		t.Fatalf("get the ephemeral containers of %s/%s: %v", ns, name, err)
	}
	return pod.Spec.EphemeralContainers
}

func ephemeralState(p *corev1.Pod, name string) (corev1.ContainerStatus, bool) {
	for _, st := range p.Status.EphemeralContainerStatuses {
		if st.Name == name {
			return st, true
		}
	}
	return corev1.ContainerStatus{}, false
}

// waitEphemeral waits until a pod's ephemeral container's status satisfies cond.
func waitEphemeral(t *testing.T, ns, pod, name, what string, cond func(corev1.ContainerStatus) bool) *corev1.Pod {
	t.Helper()
	return waitPod(t, ns, pod, 2*time.Minute, "ephemeral container "+name+" "+what, func(p *corev1.Pod) bool {
		st, ok := ephemeralState(p, name)
		return ok && cond(st)
	})
}

func ephemeralRunning(st corev1.ContainerStatus) bool    { return st.State.Running != nil }
func ephemeralTerminated(st corev1.ContainerStatus) bool { return st.State.Terminated != nil }

// debugTarget creates a pod whose container "app" runs sleep 3601 (a process to look for) on node and writes a
// file into its emptyDir, and waits until it runs.
func debugTarget(t *testing.T, ns, name, node string) *corev1.Pod {
	t.Helper()
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s}
spec:
  nodeName: %[2]s
  terminationGracePeriodSeconds: 2
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: app
    image: %[3]s
    command: ["sh", "-c", "echo from-app > /data/note; exec sleep 3601"]
    volumeMounts: [{name: data, mountPath: /data}]
`, name, node, busybox), "apply", "-n", ns, "-f", "-")
	return waitPod(t, ns, name, 90*time.Second, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
	})
}

// TestEphemeralContainerConformance follows Kubernetes' conformance tests of ephemeral containers ("will start an
// ephemeral container in an existing pod", "should update the ephemeral containers in an existing pod"): one added
// through the subresource runs, bumps the pod's generation, answers exec and has logs; a second one can be added.
func TestEphemeralContainerConformance(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	const name = "ephemeral-containers-target-pod"
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - {name: test-container-1, image: %[2]s, command: ["/bin/sleep"], args: ["10000"]}
`, name, busybox), "apply", "-n", ns, "-f", "-")
	pod := waitPod(t, ns, name, 90*time.Second, "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	if pod.Generation != 1 {
		t.Errorf("generation %d, want 1", pod.Generation)
	}

	addEphemeral(t, ns, name, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: busybox, Command: []string{"/bin/sh", "-c", "while true; do echo polo; sleep 2; done"}, Stdin: true, TTY: true,
	}})
	// AddEphemeralContainerSync waits a minute for the container to run.
	pod = waitPod(t, ns, name, time.Minute, "debugger running", func(p *corev1.Pod) bool {
		st, ok := ephemeralState(p, "debugger")
		return ok && st.State.Running != nil
	})
	if pod.Generation != 2 {
		t.Errorf("generation %d after adding an ephemeral container, want 2", pod.Generation)
	}
	st, _ := ephemeralState(pod, "debugger")
	if st.Ready || st.Started != nil || st.RestartCount != 0 || !strings.HasPrefix(st.ContainerID, "podman://") || st.Image != busybox || st.ImageID == "" {
		t.Errorf("running debugger's status: %+v", st)
	}
	if pod.Status.Phase != corev1.PodRunning || condition(pod, corev1.PodReady) != corev1.ConditionTrue {
		t.Errorf("pod with a running debugger: %s", describeStatus(pod))
	}
	if out := kubectl(t, "", "exec", "-n", ns, name, "-c", "debugger", "--", "/bin/echo", "marco"); !strings.Contains(out, "marco") {
		t.Errorf("exec in the debugger: %q", out)
	}
	var logs string
	waitPod(t, ns, name, time.Minute, "debugger's logs to say polo", func(*corev1.Pod) bool {
		b, err := client.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: "debugger"}).DoRaw(ctx)
		logs = string(b)
		return err == nil && strings.Contains(logs, "polo")
	})
	if got := ephemeralSpecs(t, ns, name); len(got) != 1 {
		t.Errorf("%d ephemeral containers, want 1", len(got))
	}

	addEphemeral(t, ns, name, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger2", Image: busybox, ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		Command: []string{"sh", "-c", "echo second"},
	}})
	if got := ephemeralSpecs(t, ns, name); len(got) != 2 {
		t.Errorf("%d ephemeral containers, want 2", len(got))
	}
	pod = waitEphemeral(t, ns, name, "debugger2", "terminated", ephemeralTerminated)
	if st, _ := ephemeralState(pod, "debugger2"); st.State.Terminated.Reason != "Completed" || st.RestartCount != 0 {
		t.Errorf("debugger2 after it ran: %+v", st)
	}
	if out := kubectl(t, "", "logs", "-n", ns, name, "-c", "debugger2"); out != "second\n" {
		t.Errorf("debugger2's logs %q", out)
	}
	waitEvent(t, ns, name, "Pulled", busybox, 30*time.Second)
	waitEvent(t, ns, name, "Created", "Created container: debugger2", 30*time.Second)
	waitEvent(t, ns, name, "Started", "Started container debugger2", 30*time.Second)
	if st, _ := ephemeralState(pod, "debugger"); st.State.Running == nil {
		t.Errorf("debugger after debugger2 ran: %+v", st.State)
	}
}

// TestEphemeralContainerNamespaces checks what an ephemeral container shares with its pod: the network and UTS
// namespaces and the volumes it mounts, its own environment and user, the PID namespace of its target container
// (and not of another when it names none); and that it runs once, whatever the pod's restartPolicy.
func TestEphemeralContainerNamespaces(t *testing.T) {
	ns := namespace(t)
	pod := debugTarget(t, ns, "target", plainNode)
	uid := int64(1234)
	addEphemeral(t, ns, "target", corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger", Image: busybox, Command: []string{"sleep", "3600"},
			Env:             []corev1.EnvVar{{Name: "GREETING", Value: "hello"}, {Name: "MY_POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: "/shared"}},
			SecurityContext: &corev1.SecurityContext{RunAsUser: &uid},
		},
		TargetContainerName: "app",
	})
	addEphemeral(t, ns, "target", corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "loner", Image: busybox, Command: []string{"sh", "-c", "ps; exit 3"},
	}})
	// The one without a target ends first: whatever the pod's restartPolicy (Always), it is not started again.
	done := waitEphemeral(t, ns, "target", "loner", "terminated", ephemeralTerminated)
	st, _ := ephemeralState(done, "loner")
	if st.State.Terminated.ExitCode != 3 || st.State.Terminated.Reason != "Error" || st.RestartCount != 0 {
		t.Errorf("loner after it exited: %+v", st)
	}
	waitEphemeral(t, ns, "target", "debugger", "running", ephemeralRunning)
	exec := func(cmd ...string) string {
		return kubectl(t, "", append([]string{"exec", "-n", ns, "target", "-c", "debugger", "--"}, cmd...)...)
	}
	if ps := exec("ps"); !strings.Contains(ps, "sleep 3601") {
		t.Errorf("ps in the debugger does not show its target's process:\n%s", ps)
	}
	if out := exec("sh", "-c", "echo $GREETING $MY_POD; id -u; hostname; cat /shared/note; ip -o -4 addr"); !strings.Contains(out, "hello target\n1234\ntarget\nfrom-app\n") ||
		!strings.Contains(out, " "+pod.Status.PodIP+"/") {
		t.Errorf("debugger's environment, user, hostname, volume and address:\n%s\nwant hello target, 1234, target, from-app, %s", out, pod.Status.PodIP)
	}

	if logs := kubectl(t, "", "logs", "-n", ns, "target", "-c", "loner"); strings.Contains(logs, "sleep 3601") {
		t.Errorf("ps in a container without a target shows the app's process:\n%s", logs)
	}
	after := waitPod(t, ns, "target", time.Minute, "read", func(*corev1.Pod) bool { return true })
	if again, _ := ephemeralState(after, "loner"); again.ContainerID != st.ContainerID || again.State.Terminated == nil || again.RestartCount != 0 {
		t.Errorf("loner later: %+v; want the container that ended, not started again", again)
	}
	if after.Status.Phase != corev1.PodRunning || after.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("pod after its ephemeral container failed: %s", describeStatus(after))
	}
	if out, err := kubectlErr("", "exec", "-n", ns, "target", "-c", "loner", "--", "true"); err == nil || !strings.Contains(out, `container "loner" in pod "target" is not running`) {
		t.Errorf("exec in the ended ephemeral container: %v %q", err, out)
	}
}

// TestKubectlDebug runs kubectl debug as a user would: non-interactively (then kubectl logs), with stdin attached,
// and with a terminal. Its default profile adds SYS_PTRACE, which the plain node refuses: the debug container then
// waits with the reason, and --profile=baseline, which adds nothing, works there.
func TestKubectlDebug(t *testing.T) {
	ns := namespace(t)
	debugTarget(t, ns, "web", configuredNode)

	// Non-interactive: kubectl debug returns once the container is added; its output is read with kubectl logs.
	kubectl(t, "", "debug", "-n", ns, "web", "--image="+busybox, "--target=app", "-c", "debugger", "--", "sh", "-c", "echo hi; ps")
	pod := waitEphemeral(t, ns, "web", "debugger", "terminated", ephemeralTerminated)
	if st, _ := ephemeralState(pod, "debugger"); st.State.Terminated.ExitCode != 0 {
		t.Errorf("debugger: %+v", st.State)
	}
	if logs := kubectl(t, "", "logs", "-n", ns, "web", "-c", "debugger"); !strings.HasPrefix(logs, "hi\n") || !strings.Contains(logs, "sleep 3601") {
		t.Errorf("kubectl logs of the debugger: %q; want hi and the target's process", logs)
	}

	// With stdin: kubectl waits for the container to run, attaches, and sends its input to the shell.
	out := kubectl(t, "echo from-stdin; cat /proc/1/cmdline | tr '\\0' ' '; echo; exit\n", "debug", "-i", "-n", ns, "web", "--image="+busybox, "--target=app", "-c", "shell", "--", "sh")
	if !strings.Contains(out, "from-stdin\n") || !strings.Contains(out, "sleep 3601") {
		t.Errorf("kubectl debug -i printed %q; want from-stdin and the target's PID 1", out)
	}
	waitEphemeral(t, ns, "web", "shell", "terminated", ephemeralTerminated)

	// With a terminal, as kubectl debug -it: created without attaching, then attached with a TTY.
	kubectl(t, "", "debug", "-it", "--attach=false", "-n", ns, "web", "--image="+busybox, "--target=app", "-c", "tty", "--", "sh")
	waitEphemeral(t, ns, "web", "tty", "running", ephemeralRunning)
	var tty strings.Builder
	err := stream(t, ns, "web", "attach", map[string]string{"container": "tty", "stdin": "true", "stdout": "true", "tty": "true"},
		remotecommand.StreamOptions{Stdin: strings.NewReader("stty size; tty; exit\n"), Stdout: &tty, Tty: true, TerminalSizeQueue: &fixedSize{}})
	if err != nil {
		t.Fatalf("attach with a TTY: %v", err)
	}
	if !strings.Contains(tty.String(), "45 123") || !strings.Contains(tty.String(), "/dev/pts/") {
		t.Errorf("TTY session printed %q; want the terminal size 45x123 and a /dev/pts terminal", tty.String())
	}
	waitEphemeral(t, ns, "web", "tty", "terminated", ephemeralTerminated)

	// The plain node does not let containers add SYS_PTRACE.
	debugTarget(t, ns, "plain", plainNode)
	kubectl(t, "", "debug", "-n", ns, "plain", "--image="+busybox, "--target=app", "-c", "refused", "--", "true")
	want := "spec.ephemeralContainers[refused].securityContext.capabilities.add: " + debugCapability
	pod = waitEphemeral(t, ns, "plain", "refused", "refused", func(st corev1.ContainerStatus) bool {
		return st.State.Waiting != nil && st.State.Waiting.Reason == "CreateContainerConfigError"
	})
	if st, _ := ephemeralState(pod, "refused"); !strings.Contains(st.State.Waiting.Message, want) {
		t.Errorf("refused debugger's message %q, want it to name %s", st.State.Waiting.Message, want)
	}
	waitEvent(t, ns, "plain", "Failed", want, 30*time.Second)
	if pod.Status.Phase != corev1.PodRunning || condition(pod, corev1.PodReady) != corev1.ConditionTrue {
		t.Errorf("pod whose debugger was refused: %s", describeStatus(pod))
	}
	out = kubectl(t, "", "debug", "-n", ns, "plain", "--profile=baseline", "--attach", "--image="+busybox, "--target=app", "-c", "baseline", "--", "sh", "-c", "sleep 1; echo baseline-ok; ps")
	if !strings.Contains(out, "baseline-ok") || !strings.Contains(out, "sleep 3601") {
		t.Errorf("kubectl debug --profile=baseline --attach printed %q", out)
	}
}

// TestEphemeralContainerAdoption restarts a node's virtual kubelet while an ephemeral container runs: afterwards
// it is reported running with the same container (not restarted, nor started again), still answers exec, and
// goes with its pod.
func TestEphemeralContainerAdoption(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	debugTarget(t, ns, "kept", plainNode)
	addEphemeral(t, ns, "kept", corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: busybox, Command: []string{"sleep", "3600"},
	}, TargetContainerName: "app"})
	addEphemeral(t, ns, "kept", corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "done", Image: busybox, Command: []string{"true"},
	}})
	waitEphemeral(t, ns, "kept", "done", "terminated", ephemeralTerminated)
	before := waitEphemeral(t, ns, "kept", "debugger", "running", ephemeralRunning)

	if err := testCluster.StopNode(0); err != nil {
		t.Fatal(err)
	}
	if err := testCluster.StartNode(ctx, 0); err != nil {
		t.Fatalf("restart node: %v", err)
	}
	// exec reaches the debugger only once the restarted kubelet took it over running.
	var ps string
	waitPod(t, ns, "kept", 90*time.Second, "exec in the debugger after the restart", func(*corev1.Pod) bool {
		out, err := kubectlErr("", "exec", "-n", ns, "kept", "-c", "debugger", "--", "ps")
		ps = out
		return err == nil
	})
	if !strings.Contains(ps, "sleep 3601") {
		t.Errorf("ps in the adopted debugger:\n%s", ps)
	}
	after := waitPod(t, ns, "kept", time.Minute, "read", func(*corev1.Pod) bool { return true })
	for _, name := range []string{"debugger", "done"} {
		was, _ := ephemeralState(before, name)
		now, ok := ephemeralState(after, name)
		if !ok || now.ContainerID != was.ContainerID || (now.State.Running == nil) != (was.State.Running == nil) || now.RestartCount != 0 {
			t.Errorf("%s after the restart: %+v; before: %+v", name, now, was)
		}
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, "kept", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace's cleanup checks that no Podman pod of it is left.
}
