package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/berth-dev/berth/provider/podman"
)

// allowedCapability is the capability the configured node lets pods add (main_test.go); the plain node allows
// none beyond the runtime's default set.
const allowedCapability = "NET_ADMIN"

// TestHardeningCapabilities checks that a pod adding a capability beyond the runtime's default set fails on a
// node that does not allow it (a Warning event and the pod's message name the field, the container waits in
// CreateContainerConfigError, nothing runs), and runs with the capability on a node started with
// --allowed-capabilities naming it.
func TestHardeningCapabilities(t *testing.T) {
	ns := namespace(t)
	manifest := func(name, node string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  containers:
  - name: main
    image: %[3]s
    command: ["sh", "-c", "grep -E '^CapEff:' /proc/self/status"]
    securityContext:
      capabilities: {add: [%[4]s]}
`, name, node, busybox, allowedCapability)
	}
	kubectl(t, manifest("refused", plainNode)+"---\n"+manifest("allowed", configuredNode), "apply", "-n", ns, "-f", "-")

	want := "spec.containers[main].securityContext.capabilities.add: " + allowedCapability
	pod := waitPod(t, ns, "refused", 2*time.Minute, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if pod.Status.Reason != "UnsupportedPodSpec" || !strings.Contains(pod.Status.Message, "capabilities beyond the container runtime's default set are not allowed on this node") ||
		!strings.Contains(pod.Status.Message, want) {
		t.Errorf("pod adding %s on a node refusing it: %s", allowedCapability, describeStatus(pod))
	}
	if len(pod.Status.ContainerStatuses) != 1 || pod.Status.ContainerStatuses[0].State.Waiting == nil ||
		pod.Status.ContainerStatuses[0].State.Waiting.Reason != "CreateContainerConfigError" {
		t.Errorf("refused pod's container: %s", describeStatus(pod))
	}
	waitEvent(t, ns, "refused", "UnsupportedPodSpec", want, 30*time.Second)
	if left, err := podmanPods(t.Context(), map[string]string{podman.LabelNamespace: ns, podman.LabelName: "refused"}); err != nil || len(left) > 0 {
		t.Errorf("the refused pod has Podman pods %v (%v)", left, err)
	}

	_, pod = watchPhases(t, ns, "allowed", 2*time.Minute, corev1.PodSucceeded, corev1.PodFailed)
	logs := succeeded(t, ns, pod)
	if capEff := hexCaps(t, statusLine(logs, "CapEff")); capEff&(1<<12) == 0 { // CAP_NET_ADMIN
		t.Errorf("container on the node allowing %s: CapEff %x", allowedCapability, capEff)
	}
}

// TestHardeningSecondKubeletRefused starts a second berth-kubelet by hand with the node name, kubeconfig and
// flags of a running one (another port): it exits non-zero within seconds saying the node is already served,
// before touching Podman, and the first keeps its lease and its node Ready.
func TestHardeningSecondKubeletRefused(t *testing.T) {
	node := plainNode
	pidFile := filepath.Join(testCluster.Config().StateDir, "pids", "kubelet-"+node+".pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("pid of the node's kubelet: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("command line of the node's kubelet: %v", err)
	}
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	args := []string{}
	for _, a := range argv[1:] {
		if strings.HasPrefix(a, "--port=") {
			a = fmt.Sprintf("--port=%d", freePorts(1)[0])
		}
		args = append(args, a)
	}
	ctx := t.Context()
	before, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("lease of %s: %v", node, err)
	}

	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(cctx, argv[0], args...).CombinedOutput()
	took := time.Since(start)
	if err == nil || cctx.Err() != nil {
		t.Fatalf("second berth-kubelet of %s: %v after %s, want a non-zero exit within seconds; output:\n%s", node, err, took, out)
	}
	want := fmt.Sprintf("node %q is already served by another berth-kubelet (lease kube-node-lease/%s held by %q", node, node, *before.Spec.HolderIdentity)
	// klog quotes the error (command failed err="...").
	plain := strings.ReplaceAll(string(out), `\"`, `"`)
	if !strings.Contains(plain, want) || !strings.Contains(plain, "stop it first or choose another --node-name") {
		t.Errorf("second berth-kubelet's output lacks %q:\n%s", want, out)
	}
	// The first renews its lease, so a second that waited for the lease instead of refusing would run until the
	// context ends, which fails above: the time it took is for the log only.
	t.Logf("the second berth-kubelet refused after %s", took)

	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("the first berth-kubelet is gone: %v", err)
	}
	// The first keeps its lease (renewing it) and its node Ready.
	err = wait.PollUntilContextTimeout(ctx, time.Second, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != *before.Spec.HolderIdentity {
			return false, fmt.Errorf("lease now %+v (%v), held by %q before", l.Spec, err, *before.Spec.HolderIdentity)
		}
		return l.Spec.RenewTime.After(before.Spec.RenewTime.Time), nil
	})
	if err != nil {
		t.Errorf("the first berth-kubelet's lease: %v", err)
	}
	n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			t.Errorf("node %s not Ready after the refused second kubelet: %+v", node, c)
		}
	}
	// It still runs pods.
	ns := namespace(t)
	pods := runToEnd(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: still-served}
spec:
  restartPolicy: Never
  nodeName: %s
  containers:
  - {name: main, image: %s, command: ["true"]}
`, node, busybox), "still-served")
	succeeded(t, ns, pods["still-served"])
}
