package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

// TestHostNamespaces checks hostPID and hostIPC: refused on a node not started with --allow-host-namespaces (an
// event and the pod's message name the fields, nothing runs); on the node allowing them the container is in this
// machine's PID and IPC namespaces (Podman runs here).
func TestHostNamespaces(t *testing.T) {
	ns := namespace(t)
	manifest := func(name, node string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  hostPID: true
  hostIPC: true
  containers:
  - name: main
    image: %[3]s
    command: ["sh", "-c", "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc"]
`, name, node, busybox)
	}
	kubectl(t, manifest("refused", plainNode)+"---\n"+manifest("allowed", configuredNode), "apply", "-n", ns, "-f", "-")

	want := "the host's PID and IPC namespaces are not allowed on this node (berth-kubelet --allow-host-namespaces=false): spec.hostPID, spec.hostIPC"
	pod := waitPod(t, ns, "refused", 2*time.Minute, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if pod.Status.Reason != "UnsupportedPodSpec" || pod.Status.Message != want {
		t.Errorf("pod asking for the host's namespaces on a node refusing them: %s", describeStatus(pod))
	}
	waitEvent(t, ns, "refused", "UnsupportedPodSpec", want, 30*time.Second)
	if left, err := podmanPods(t.Context(), map[string]string{podman.LabelNamespace: ns, podman.LabelName: "refused"}); err != nil || len(left) > 0 {
		t.Errorf("the refused pod has Podman pods %v (%v)", left, err)
	}

	_, pod = watchPhases(t, ns, "allowed", 2*time.Minute, corev1.PodSucceeded, corev1.PodFailed)
	logs := succeeded(t, ns, pod)
	var host []string
	for _, n := range []string{"pid", "ipc"} {
		l, err := os.Readlink("/proc/self/ns/" + n)
		if err != nil {
			t.Fatal(err)
		}
		host = append(host, l)
	}
	if got := strings.Fields(logs); strings.Join(got, " ") != strings.Join(host, " ") {
		t.Errorf("namespaces of the hostPID/hostIPC container %q, this machine's %q", got, host)
	}
}

// TestShareProcessNamespace checks that with shareProcessNamespace a container sees its sibling's processes, and
// without it does not.
func TestShareProcessNamespace(t *testing.T) {
	ns := namespace(t)
	manifest := func(name string, share bool) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  shareProcessNamespace: %[2]v
  containers:
  - name: sleeper
    image: %[3]s
    command: ["sleep", "7777"]
  - name: looker
    image: %[3]s
    # The sleeper's command line, which no process of the looker's has (the pattern is computed).
    command:
    - sh
    - -c
    - |
      n=$((7000+777))
      for i in $(seq 10); do
        for f in /proc/[0-9]*/cmdline; do
          case "$(tr '\0' ' ' < $f 2>/dev/null)" in "sleep $n ") echo seen; exit 0;; esac
        done
        sleep 1
      done
      echo missing
`, name, share, busybox)
	}
	kubectl(t, manifest("shared", true)+"---\n"+manifest("private", false), "apply", "-n", ns, "-f", "-")
	for name, want := range map[string]string{"shared": "seen\n", "private": "missing\n"} {
		pod := waitPod(t, ns, name, 2*time.Minute, "looker done", func(p *corev1.Pod) bool {
			for _, c := range p.Status.ContainerStatuses {
				if c.Name == "looker" && c.State.Terminated != nil {
					return true
				}
			}
			return false
		})
		if logs := kubectl(t, "", "logs", "-n", ns, name, "-c", "looker"); logs != want {
			t.Errorf("%s: the looker printed %q, want %q; %s", name, logs, want, describeStatus(pod))
		}
	}
}
