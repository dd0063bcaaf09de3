package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestActiveDeadline checks spec.activeDeadlineSeconds as the kubelet enforces it: set at creation, and set on a
// running pod as the conformance spec "should allow activeDeadlineSeconds to be updated" does. The pod turns
// Failed with reason DeadlineExceeded and the kubelet's message (in its first Failed status, as the spec waits
// for) and a Normal DeadlineExceeded event is recorded. The running container is killed (a Killing event) and not
// restarted, its termination message taken from its logs under FallbackToLogsOnError; the container of the pod
// set at creation, which never starts (its image is not to be had), is reported as the kubelet's status manager
// reports a container it saw no end of: terminated, ContainerStatusUnknown, exit code 137.
func TestActiveDeadline(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: at-creation}
spec:
  activeDeadlineSeconds: 5
  terminationGracePeriodSeconds: 2
  containers:
  - {name: main, image: localhost/berth/absent:e2e-deadline, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: updated}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "echo started; sleep 3600"]
    terminationMessagePolicy: FallbackToLogsOnError
`, busybox), "apply", "-n", ns, "-f", "-")

	waitPod(t, ns, "updated", 2*time.Minute, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	kubectl(t, "", "patch", "pod", "updated", "-n", ns, "-p", `{"spec":{"activeDeadlineSeconds":5}}`)

	const msg = "Pod was active on the node longer than the specified deadline"
	for _, name := range []string{"at-creation", "updated"} {
		phases, failed := watchPhases(t, ns, name, 2*time.Minute, corev1.PodFailed, corev1.PodSucceeded)
		if failed.Status.Phase != corev1.PodFailed || failed.Status.Reason != "DeadlineExceeded" || failed.Status.Message != msg {
			t.Errorf("pod %s: first terminal status %s, want Failed DeadlineExceeded %q (phases %v)", name, describeStatus(failed), msg, phases)
		}
		waitEvent(t, ns, name, "DeadlineExceeded", msg, time.Minute)
		if name == "updated" {
			waitEvent(t, ns, name, "Killing", "Stopping container main", time.Minute)
		}
		stopped := waitPod(t, ns, name, time.Minute, "container stopped", func(p *corev1.Pod) bool {
			st := p.Status.ContainerStatuses
			return len(st) == 1 && st[0].State.Terminated != nil
		})
		st := stopped.Status.ContainerStatuses[0]
		if stopped.Status.Phase != corev1.PodFailed || stopped.Status.Reason != "DeadlineExceeded" || st.RestartCount != 0 {
			t.Errorf("pod %s once stopped: %s", name, describeStatus(stopped))
		}
		switch term := st.State.Terminated; name {
		case "updated":
			if term.Message != "started\n" {
				t.Errorf("pod %s: termination message %q, want the logs' %q", name, term.Message, "started\n")
			}
		case "at-creation":
			if term.Reason != "ContainerStatusUnknown" || term.ExitCode != 137 {
				t.Errorf("pod %s: the container that never started ended %s (%d), want ContainerStatusUnknown (137)", name, term.Reason, term.ExitCode)
			}
		}
	}
}

// tagImage gives the local busybox image another name in every node's Podman (removed on cleanup), as a second
// image to update pods to.
func tagImage(t *testing.T, name string) {
	t.Helper()
	for i, url := range testCluster.PodmanURLs() {
		podmanCmd := func(args ...string) *exec.Cmd {
			cmd := exec.Command("podman", append([]string{"--url", url}, args...)...)
			cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(testCluster.Config().StateDir, "podman", strconv.Itoa(i), "containers.conf"))
			return cmd
		}
		if out, err := podmanCmd("tag", busybox, name).CombinedOutput(); err != nil {
			t.Fatalf("podman tag %s %s on node %d: %v\n%s", busybox, name, i, err, out)
		}
		t.Cleanup(func() {
			if out, err := podmanCmd("untag", name, name).CombinedOutput(); err != nil {
				t.Errorf("podman untag %s on node %d: %v\n%s", name, i, err, out)
			}
		})
	}
}

// TestImageUpdate checks `kubectl set image` on bare pods, as the kubelet handles a container's new image: the
// running container is killed ("definition changed") and started again with the new image, restartCount 1, the
// killed run as lastState, whatever the restart policy (a Never pod keeps running, it is not Failed); a container
// in CrashLoopBackOff runs the new image and its back-off starts over (the conformance spec "should have their
// auto-restart back-off timer reset on image update").
func TestImageUpdate(t *testing.T) {
	newImage := "localhost/berth/busybox:e2e-image-update"
	tagImage(t, newImage)
	ns := namespace(t)
	// A pod per restart policy that runs until killed, and one whose container exits at once, in a crash loop on
	// node 1, whose back-off has the kubelet's default cap (node 0's is 20 s, TestCrashLoopBackOffCap).
	var manifest strings.Builder
	for _, pod := range []struct{ name, policy, command, node string }{
		{"always", "Always", `["sleep", "3600"]`, ""}, {"never", "Never", `["sleep", "3600"]`, ""},
		{"back-off", "Always", `["sleep", "1"]`, testCluster.NodeNames()[1]},
	} {
		fmt.Fprintf(&manifest, `---
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: %s
  terminationGracePeriodSeconds: 2
  nodeName: "%s"
  containers:
  - {name: main, image: %s, command: %s}
`, pod.name, pod.policy, pod.node, busybox, pod.command)
	}
	kubectl(t, manifest.String(), "apply", "-n", ns, "-f", "-")

	for _, name := range []string{"always", "never"} {
		before := waitPod(t, ns, name, 2*time.Minute, "running", func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
		})
		oldID := before.Status.ContainerStatuses[0].ContainerID
		kubectl(t, "", "set", "image", "-n", ns, "pod/"+name, "main="+newImage)
		after := waitPod(t, ns, name, 2*time.Minute, "running the new image", func(p *corev1.Pod) bool {
			st := p.Status.ContainerStatuses
			return len(st) == 1 && st[0].State.Running != nil && st[0].RestartCount >= 1 && st[0].ContainerID != oldID
		})
		st := after.Status.ContainerStatuses[0]
		if after.Status.Phase != corev1.PodRunning || st.RestartCount != 1 || st.Image != newImage || st.ContainerID == oldID {
			t.Errorf("pod %s after the image update: %s image=%s", name, describeStatus(after), st.Image)
		}
		if last := st.LastTerminationState.Terminated; last == nil || last.ContainerID != oldID {
			t.Errorf("pod %s: lastState %+v, want the killed run %s", name, st.LastTerminationState, oldID)
		}
		waitEvent(t, ns, name, "Killing", "Container main definition changed, will be restarted", time.Minute)
	}

	// Crash-looping: wait for the third run's back-off (40s), then update the image.
	looping := waitPod(t, ns, "back-off", 3*time.Minute, "in its 40s back-off", func(p *corev1.Pod) bool {
		st := p.Status.ContainerStatuses
		return len(st) == 1 && st[0].State.Waiting != nil && strings.HasPrefix(st[0].State.Waiting.Message, "back-off 40s ")
	})
	last := looping.Status.ContainerStatuses[0].LastTerminationState.Terminated
	kubectl(t, "", "set", "image", "-n", ns, "pod/back-off", "main="+newImage)
	renewed := waitPod(t, ns, "back-off", 2*time.Minute, "crashed once with the new image", func(p *corev1.Pod) bool {
		st := p.Status.ContainerStatuses
		return len(st) == 1 && st[0].RestartCount == 3 && st[0].State.Waiting != nil && st[0].State.Waiting.Reason == "CrashLoopBackOff" &&
			st[0].LastTerminationState.Terminated != nil && st[0].LastTerminationState.Terminated.ContainerID != last.ContainerID
	})
	st := renewed.Status.ContainerStatuses[0]
	if st.Image != newImage {
		t.Errorf("back-off: image %s, want %s", st.Image, newImage)
	}
	// That the update cuts the running back-off short is a matter of time, which the unit test
	// TestImageUpdateEndsBackOff (provider) shows without a clock: there the back-off is an hour long.
	if !strings.HasPrefix(st.State.Waiting.Message, "back-off 10s ") {
		t.Errorf("back-off after the new image's first crash: %q, want the initial 10s", st.State.Waiting.Message)
	}
}

// TestTerminationMessageConformance runs the termination message cases of the conformance specs in
// test/e2e/common/node/runtime.go ("should report termination message ..."), with their containers: the file at
// /dev/termination-log, as a non-root user at a custom path, the logs of a failed container with
// FallbackToLogsOnError, none of a succeeded one, and the file over the logs.
func TestTerminationMessageConformance(t *testing.T) {
	tests := []struct {
		pod    string
		script string
		path   string
		policy corev1.TerminationMessagePolicy
		user   string // securityContext.runAsUser, if set
		phase  corev1.PodPhase
		want   string
	}{
		{"file", "/bin/echo -n DONE > /dev/termination-log", "/dev/termination-log", corev1.TerminationMessageReadFile, "0", corev1.PodSucceeded, "DONE"},
		{"non-root-custom-path", "/bin/echo -n DONE > /dev/termination-custom-log", "/dev/termination-custom-log", corev1.TerminationMessageReadFile, "10000", corev1.PodSucceeded, "DONE"},
		{"logs-on-failure", "/bin/echo -n DONE; /bin/false", "/dev/termination-log", corev1.TerminationMessageFallbackToLogsOnError, "", corev1.PodFailed, "DONE"},
		{"no-logs-on-success", "/bin/echo -n DONE; /bin/true", "/dev/termination-log", corev1.TerminationMessageFallbackToLogsOnError, "", corev1.PodSucceeded, ""},
		{"file-on-success", "/bin/echo -n OK > /dev/termination-log; /bin/echo DONE; /bin/true", "/dev/termination-log", corev1.TerminationMessageFallbackToLogsOnError, "", corev1.PodSucceeded, "OK"},
	}
	ns := namespace(t)
	var manifest strings.Builder
	var names []string
	for _, tc := range tests {
		security := ""
		if tc.user != "" {
			security = "\n    securityContext: {runAsUser: " + tc.user + "}"
		}
		fmt.Fprintf(&manifest, `---
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: %s
    command: ["/bin/sh", "-c"]
    args: [%q]
    terminationMessagePath: %s
    terminationMessagePolicy: %s%s
`, tc.pod, busybox, tc.script, tc.path, tc.policy, security)
		names = append(names, tc.pod)
	}
	pods := runToEnd(t, ns, manifest.String(), names...)

	for _, tc := range tests {
		pod := pods[tc.pod]
		st := pod.Status.ContainerStatuses
		if pod.Status.Phase != tc.phase || len(st) != 1 || st[0].State.Terminated == nil {
			t.Errorf("pod %s: %s, want %s with the container terminated", tc.pod, describeStatus(pod), tc.phase)
			continue
		}
		if got := st[0].State.Terminated.Message; got != tc.want {
			t.Errorf("pod %s: termination message %q, want %q", tc.pod, got, tc.want)
		}
	}
}
