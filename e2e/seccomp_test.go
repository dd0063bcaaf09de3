package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// denyMkdir is a seccomp profile that lets every system call through but mkdir and mkdirat, which fail with EPERM.
const denyMkdir = `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`

// TestSeccompProfiles shows each seccompProfile from inside the container, as the kubelet applies them (node 0
// runs without --seccomp-default): no profile and Unconfined run with no filter (Seccomp: 0 in /proc/self/status),
// RuntimeDefault with Podman's default filter (2), and a Localhost profile from <root-dir>/seccomp with its own
// filter, which here refuses mkdir; the container's profile wins over the pod's. A Localhost profile that is not
// there fails the container with CreateContainerError.
func TestSeccompProfiles(t *testing.T) {
	ns := namespace(t)
	root := filepath.Join(testCluster.KubeletRootDir(0), "seccomp")
	profileDir := filepath.Join(root, ns)
	if err := os.MkdirAll(profileDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(profileDir) })
	if err := os.WriteFile(filepath.Join(profileDir, "deny-mkdir.json"), []byte(denyMkdir), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, podSC, containerSC string
		want                     string
	}{
		{name: "unset", want: "Seccomp:\t0 mkdir-ok"},
		{name: "unconfined", podSC: "seccompProfile: {type: RuntimeDefault}", containerSC: "seccompProfile: {type: Unconfined}", want: "Seccomp:\t0 mkdir-ok"},
		{name: "runtime-default", podSC: "seccompProfile: {type: RuntimeDefault}", want: "Seccomp:\t2 mkdir-ok"},
		{name: "localhost", podSC: "seccompProfile: {type: Localhost, localhostProfile: " + ns + "/deny-mkdir.json}", want: "Seccomp:\t2 mkdir-denied"},
	}
	var manifests []string
	for _, tc := range append(tests, struct{ name, podSC, containerSC, want string }{name: "missing",
		containerSC: "seccompProfile: {type: Localhost, localhostProfile: " + ns + "/not-there.json}"}) {
		manifests = append(manifests, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  nodeName: %s
  securityContext: {%s}
  containers:
  - name: main
    image: %s
    securityContext: {%s}
    command: ["sh", "-c", "echo $(grep Seccomp: /proc/self/status) $(mkdir /tmp/d 2>/dev/null && echo mkdir-ok || echo mkdir-denied)"]
`, tc.name, testCluster.NodeNames()[0], tc.podSC, busybox, tc.containerSC))
	}
	kubectl(t, strings.Join(manifests, "---\n"), "apply", "-n", ns, "-f", "-")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, p := watchPhases(t, ns, tc.name, 2*time.Minute, corev1.PodSucceeded, corev1.PodFailed); p.Status.Phase != corev1.PodSucceeded {
				t.Fatalf("pod %s: %s", p.Status.Phase, describeStatus(p))
			}
			// echo $(...) joins the words with single spaces; the tab of /proc/self/status comes through as one.
			want := strings.ReplaceAll(tc.want, "\t", " ")
			if out := strings.TrimSpace(kubectl(t, "", "logs", "-n", ns, tc.name)); out != want {
				t.Errorf("container said %q, want %q", out, want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		p := waitPod(t, ns, "missing", 2*time.Minute, "CreateContainerError", func(p *corev1.Pod) bool {
			st := p.Status.ContainerStatuses
			return len(st) == 1 && st[0].State.Waiting != nil && st[0].State.Waiting.Reason == "CreateContainerError"
		})
		if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "not-there.json") {
			t.Errorf("waiting message %q does not name the missing profile", msg)
		}
	})
}
