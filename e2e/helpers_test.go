package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/berth-dev/berth/internal/cluster"
	"github.com/berth-dev/berth/provider/podman"
)

const busybox = cluster.BusyboxImage

// kubectl runs the kubectl built from this module against the test cluster.
func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectlErr(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func kubectlErr(stdin string, args ...string) (string, error) {
	cmd := kubectlCmd(testCluster.Kubeconfig(), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// kubectlCmd is a kubectl command line against the cluster of kubeconfig.
func kubectlCmd(kubeconfig string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	return cmd
}

// namespace creates a namespace for one test; on cleanup it deletes it and checks that Podman has no pod of it left.
func namespace(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	name := "e2e-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(name) > 50 {
		name = name[:50]
	}
	name += "-" + rand.String(4)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	// Pods are refused until the namespace's default ServiceAccount exists.
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("default service account of %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			left, err := podmanPods(ctx, map[string]string{podman.LabelNamespace: name})
			return err == nil && len(left) == 0, nil
		})
		if err != nil {
			left, _ := podmanPods(ctx, map[string]string{podman.LabelNamespace: name})
			t.Errorf("Podman pods of namespace %s left after its deletion: %v", name, left)
		}
	})
	return name
}

// podmanPods lists the Podman pods carrying labels on every node.
func podmanPods(ctx context.Context, labels map[string]string) ([]string, error) {
	var out []string
	for _, url := range testCluster.PodmanURLs() {
		rt, err := podman.Dial(ctx, url)
		if err != nil {
			return nil, err
		}
		pods, err := rt.ListPods(ctx, labels)
		if err != nil {
			return nil, err
		}
		for _, p := range pods {
			out = append(out, p.Name)
		}
	}
	return out, nil
}

// watchPod watches the pod named name (from its creation, if it does not exist yet) until ctx ends.
func watchPod(ctx context.Context, t *testing.T, ns, name string) watch.Interface {
	t.Helper()
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		t.Fatalf("watch pod %s/%s: %v", ns, name, err)
	}
	return w
}

// deleteAndWatch deletes a pod and watches it until it is gone, and returns its last state: the status the kubelet
// wrote before the pod object was removed.
func deleteAndWatch(t *testing.T, ns, name string, timeout time.Duration) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	w := watchPod(ctx, t, ns, name)
	defer w.Stop()
	if err := client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var last *corev1.Pod
	for ev := range w.ResultChan() {
		if p, ok := ev.Object.(*corev1.Pod); ok {
			last = p
			if ev.Type == watch.Deleted {
				return last
			}
		}
	}
	t.Fatalf("pod %s/%s still exists after %s: %s", ns, name, timeout, describeStatus(last))
	return nil
}

// watchPhases watches a pod from its creation and returns the distinct phases it went through, once it reaches
// one of until (or fails the test after timeout).
func watchPhases(t *testing.T, ns, name string, timeout time.Duration, until ...corev1.PodPhase) ([]corev1.PodPhase, *corev1.Pod) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	w := watchPod(ctx, t, ns, name)
	defer w.Stop()
	var phases []corev1.PodPhase
	for ev := range w.ResultChan() {
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		if len(phases) == 0 || phases[len(phases)-1] != pod.Status.Phase {
			phases = append(phases, pod.Status.Phase)
		}
		for _, u := range until {
			if pod.Status.Phase == u {
				return phases, pod
			}
		}
	}
	p, _ := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	t.Fatalf("pod %s/%s did not reach %v within %s; phases seen %v; status now: %s", ns, name, until, timeout, phases, describeStatus(p))
	return nil, nil
}

// waitPod polls a pod until cond holds.
func waitPod(t *testing.T, ns, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		last = p
		return cond(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s: %s: %v; status: %s", ns, name, what, err, describeStatus(last))
	}
	return last
}

func describeStatus(p *corev1.Pod) string {
	if p == nil {
		return "<none>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s reason=%s message=%q", p.Status.Phase, p.Status.Reason, p.Status.Message)
	for _, c := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, " [%s restarts=%d state=%+v last=%+v]", c.Name, c.RestartCount, c.State, c.LastTerminationState)
	}
	return b.String()
}

// runToSuccess waits for a pod to succeed, failing the test with its status if it fails.
func runToSuccess(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	_, p := watchPhases(t, ns, name, 2*time.Minute, corev1.PodSucceeded, corev1.PodFailed)
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: %s", name, describeStatus(p))
	}
	return p
}
