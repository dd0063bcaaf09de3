package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// berthCLI runs the berth binary and returns its combined output.
func berthCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "berth"), args...).CombinedOutput()
	return string(out), err
}

// processesMentioning lists the processes whose command line contains s.
func processesMentioning(s string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(b), "\x00", " ")))
		}
	}
	return out
}

// podmanCLI runs podman against the storage berth gives node 0 of a state folder.
func podmanCLI(t *testing.T, state string, args ...string) string {
	t.Helper()
	dir := filepath.Join(state, "podman", "0")
	cmd := exec.Command("podman", args...)
	cmd.Env = append(os.Environ(),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podman %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestBerthUpDownLifecycle drives the berth command: up --detach, a second up on the same state and an up on a
// taken port (each one clear error), a pod running, down leaving no process, container or pod, and a restart on
// the same state that keeps the cluster's objects and re-adopts the node.
func TestBerthUpDownLifecycle(t *testing.T) {
	state := t.TempDir()
	ports := freePorts(6)
	flags := []string{"--state", state, "--node-name", "cli",
		"--apiserver-port", fmt.Sprint(ports[0]), "--etcd-port", fmt.Sprint(ports[1]), "--etcd-peer-port", fmt.Sprint(ports[2]),
		"--controller-manager-port", fmt.Sprint(ports[3]), "--scheduler-port", fmt.Sprint(ports[4]), "--kubelet-port", fmt.Sprint(ports[5])}
	up := func() {
		t.Helper()
		out, err := berthCLI(t, append([]string{"up", "--detach"}, flags...)...)
		if err != nil {
			t.Fatalf("berth up --detach: %v\n%s", err, out)
		}
		if !strings.Contains(out, "export KUBECONFIG="+filepath.Join(state, "kubeconfig")) {
			t.Errorf("berth up output does not tell how to use the cluster:\n%s", out)
		}
	}
	down := func() {
		t.Helper()
		if out, err := berthCLI(t, "down", "--state", state); err != nil {
			t.Fatalf("berth down: %v\n%s", err, out)
		}
	}
	up()
	t.Cleanup(func() { _, _ = berthCLI(t, "down", "--state", state) })

	// A second berth on the same state is refused with one clear line, and leaves the first one running.
	out, err := berthCLI(t, append([]string{"up"}, flags...)...)
	if err == nil || !strings.Contains(out, "berth is already running on "+state) || !strings.Contains(out, "berth down --state "+state) {
		t.Errorf("second berth up on the same state: err=%v, output:\n%s", err, out)
	}
	// A taken port is named, with the flag that changes it, and nothing is started.
	other := t.TempDir()
	out, err = berthCLI(t, "up", "--state", other, "--apiserver-port", fmt.Sprint(ports[0]))
	if err == nil || !strings.Contains(out, fmt.Sprintf("port %d (kube-apiserver) is already in use", ports[0])) || !strings.Contains(out, "--apiserver-port") {
		t.Errorf("berth up on a taken port: err=%v, output:\n%s", err, out)
	}
	if left := processesMentioning(other); len(left) > 0 {
		t.Errorf("a refused berth up left processes: %v", left)
	}

	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(state, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(rc)
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "keeper", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: busybox, Command: []string{"sleep", "3600"},
		}}, TerminationGracePeriodSeconds: new(int64(2))},
	}
	waitRunning := func() {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
			if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
				return false, nil
			}
			p, err := cs.CoreV1().Pods("default").Get(ctx, "keeper", metav1.GetOptions{})
			if err != nil {
				if _, cerr := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); cerr != nil {
					t.Logf("create pod: %v", cerr)
				}
				return false, nil
			}
			return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil, nil
		})
		if err != nil {
			t.Fatalf("pod keeper did not run: %v", err)
		}
	}
	waitRunning()
	first, err := cs.CoreV1().Pods("default").Get(ctx, "keeper", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	down()
	if left := processesMentioning(state); len(left) > 0 {
		t.Errorf("berth down left processes: %v", left)
	}
	if out := podmanCLI(t, state, "ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("berth down left containers: %s", out)
	}
	if out := podmanCLI(t, state, "pod", "ps", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("berth down left Podman pods: %s", out)
	}
	if _, err := os.Stat(filepath.Join(state, "ready")); err == nil {
		t.Errorf("berth down left the ready marker")
	}

	// Up again on the same state: the pod object is still there (same UID) and runs again on the re-adopted node.
	up()
	waitRunning()
	again, err := cs.CoreV1().Pods("default").Get(ctx, "keeper", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.UID != first.UID {
		t.Errorf("pod UID changed across restart: %s then %s; the cluster's objects were not kept", first.UID, again.UID)
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, "cli-0", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("node after restart: %v", err)
	}
	if node.CreationTimestamp.After(first.CreationTimestamp.Time) {
		t.Errorf("node cli-0 was created anew (%s) rather than re-adopted", node.CreationTimestamp)
	}
	down()
	if left := processesMentioning(state); len(left) > 0 {
		t.Errorf("berth down left processes: %v", left)
	}
}

// TestBerthUpAfterCrash kills a foreground berth up with SIGKILL while a pod runs, and checks that its components
// died with it, and that the next berth up on the same state cleans the Podman pods it left and runs the pod again.
func TestBerthUpAfterCrash(t *testing.T) {
	state := t.TempDir()
	ports := freePorts(6)
	flags := []string{"--state", state, "--node-name", "crash",
		"--apiserver-port", fmt.Sprint(ports[0]), "--etcd-port", fmt.Sprint(ports[1]), "--etcd-peer-port", fmt.Sprint(ports[2]),
		"--controller-manager-port", fmt.Sprint(ports[3]), "--scheduler-port", fmt.Sprint(ports[4]), "--kubelet-port", fmt.Sprint(ports[5])}
	fg := exec.Command(filepath.Join(binDir, "berth"), append([]string{"up"}, flags...)...)
	if err := fg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = fg.Process.Kill()
		_, _ = berthCLI(t, "down", "--state", state)
	})
	ctx := context.Background()
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
		_, err := os.Stat(filepath.Join(state, "ready"))
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("berth up did not get ready: %v", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(state, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(rc)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "survivor", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: busybox, Command: []string{"sleep", "3600"}}}},
	}
	running := func(cs kubernetes.Interface) error {
		return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "survivor", metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning, nil
		})
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := running(cs); err != nil {
		t.Fatalf("pod did not run: %v", err)
	}

	if err := fg.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = fg.Wait()
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return len(processesMentioning(filepath.Join(state, "pki"))) == 0, nil
	})
	if err != nil {
		t.Errorf("components outlived a killed berth: %v", processesMentioning(filepath.Join(state, "pki")))
	}

	out, err := berthCLI(t, append([]string{"up", "--detach"}, flags...)...)
	if err != nil {
		t.Fatalf("berth up after a crash: %v\n%s", err, out)
	}
	log, _ := os.ReadFile(filepath.Join(state, "logs", "berth.log"))
	if !strings.Contains(string(log), "removed the Podman pods an earlier run left on node 0") {
		t.Errorf("berth up after a crash did not say it removed the leftovers; log:\n%s", log)
	}
	if err := running(cs); err != nil {
		t.Fatalf("pod did not run again after the restart: %v", err)
	}
	if out, err := berthCLI(t, "down", "--state", state); err != nil {
		t.Fatalf("berth down: %v\n%s", err, out)
	}
	if left := processesMentioning(state); len(left) > 0 {
		t.Errorf("berth down left processes: %v", left)
	}
}
