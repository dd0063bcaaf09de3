//go:build kind

// Package kind tests docs/kind.md end to end: Berth installed with helm into a kind cluster of the offline node
// image (make kind-image), driving a Podman service on the machine kind runs on. It needs the build tag kind (make
// kind-e2e), so that make test and CI leave it out: it needs the node image (make kind-image, ~10 minutes the first
// time) and a kind cluster of its own; the test itself takes ~1.5 minutes.
package kind

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-dev/berth/internal/cluster"
	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/provider/podman"
)

// What the test makes: the kind cluster, the helm release, the node its virtual kubelet registers.
const (
	clusterName = "berth-kind-e2e"
	release     = "berth"
	releaseNS   = "berth-system"
	berthNode   = "podman-host"
	// socketDir is where the kind node (and the virtual kubelet's pod) sees the test's Podman socket folder.
	socketDir = "/run/berth-podman"
)

// TestKindHelmInstall follows docs/kind.md: kind create cluster with the documented configuration, Berth's images
// loaded with kind load image-archive, helm install with a Podman socket of the host, a pod of the berth-scheduler
// that runs in the host's Podman to Succeeded with its logs read through kubectl logs, helm uninstall that leaves no
// Berth object and no Podman pod, kind delete cluster.
func TestKindHelmInstall(t *testing.T) {
	start := time.Now()
	defer func() { t.Logf("wall time of the kind e2e: %s", time.Since(start).Round(time.Second)) }()
	ctx := context.Background()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(repo, "_output", "bin")
	if b := os.Getenv("BERTH_BIN_DIR"); b != "" {
		bin = b
	}
	state, err := os.MkdirTemp("", "berth-kind-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(state) })
	// The containers.conf kind's podman needs on this host (hack/kind/containers-conf.sh), given to kind.sh and to
	// the test's own podman commands (image builds, save, inspect of kind's node) with CONTAINERS_CONF: they all
	// see kind's network, which it keeps in its own folder.
	kindState := filepath.Join(state, "kind")
	containersConf := filepath.Join(state, "containers.conf")
	conf, err := exec.Command(filepath.Join(repo, "hack", "kind", "containers-conf.sh"), kindState).Output()
	if err != nil {
		t.Fatalf("hack/kind/containers-conf.sh: %v", err)
	}
	if err := os.WriteFile(containersConf, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	// kind, kubectl and helm of bin, before any on PATH: exec.Command looks names up in the test's own PATH.
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	// kind create cluster writes the cluster's kubeconfig to KUBECONFIG: the test's own, not the user's.
	kubeconfig := filepath.Join(state, "kubeconfig")
	env := append(os.Environ(), "KIND_STATE="+kindState,
		"CONTAINERS_CONF="+containersConf, "KUBECONFIG="+kubeconfig, "HELM_CACHE_HOME="+filepath.Join(state, "helm"),
		"HELM_CONFIG_HOME="+filepath.Join(state, "helm"), "HELM_DATA_HOME="+filepath.Join(state, "helm"))
	run := func(t *testing.T, stdin string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		cmd.Dir = repo
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		began := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
		}
		t.Logf("%s %s: %s", filepath.Base(name), strings.Join(args, " "), time.Since(began).Round(100*time.Millisecond))
		return out.String()
	}
	kind := func(t *testing.T, args ...string) string { return run(t, "", "hack/kind/kind.sh", args...) }
	podmanCLI := func(t *testing.T, args ...string) string { return run(t, "", "podman", args...) }

	// 1. Podman on the host: a service of the test's own (storage, configuration, socket), with the busybox image.
	hostPodman := startPodman(t, filepath.Join(state, "podman"))
	if err := cluster.ImportImagesInto(ctx, []string{hostPodman.url}, func(int, string, bool) {}); err != nil {
		t.Fatalf("import busybox into the test's Podman: %v", err)
	}
	// The virtual kubelet's root dir: the same path on the host, in kind's node and in its container, shared.
	rootDir := sharedFolder(t, filepath.Join(state, "berth-kubelet"))

	// 2. The kind cluster, from the documented configuration plus the two mounts of this host.
	config, err := os.ReadFile(filepath.Join(repo, "hack", "kind", "kind-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(config) + fmt.Sprintf(`    extraMounts:
      - hostPath: %s
        containerPath: %s
      - hostPath: %s
        containerPath: %s
        propagation: Bidirectional
`, hostPodman.dir, socketDir, rootDir, rootDir)
	cfgFile := filepath.Join(state, "kind-config.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	kind(t, "delete", "cluster", "--name", clusterName) // a cluster a killed run left
	t.Cleanup(func() {
		if t.Failed() {
			diagnostics(t, env)
		}
		kind(t, "delete", "cluster", "--name", clusterName)
	})
	kind(t, "create", "cluster", "--name", clusterName, "--config", cfgFile, "--wait", "3m")
	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(restCfg)
	t.Logf("kind cluster up after %s", time.Since(start).Round(time.Second))

	// 3. Berth's images, built locally and loaded into the node: make container-images' builds, of the binaries in
	// bin (the Dockerfile copies _output/bin/berth-*: a build context of their own holds bin's there).
	buildCtx := filepath.Join(state, "images")
	if err := os.MkdirAll(filepath.Join(buildCtx, "_output", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"berth-scheduler", "berth-kubelet"} {
		copyFile(t, filepath.Join(bin, b), filepath.Join(buildCtx, "_output", "bin", b))
	}
	dockerfile := filepath.Join(repo, "Dockerfile")
	podmanCLI(t, "build", "-f", dockerfile, "--target", "scheduler", "-t", "localhost/berth/scheduler:dev", buildCtx)
	podmanCLI(t, "build", "-f", dockerfile, "--target", "kubelet", "-t", "localhost/berth/kubelet:dev", buildCtx)
	archive := filepath.Join(state, "berth-images.tar")
	podmanCLI(t, "save", "-m", "-o", archive, "localhost/berth/scheduler:dev", "localhost/berth/kubelet:dev")
	kind(t, "load", "image-archive", archive, "--name", clusterName)

	// kube-proxy's DaemonSet tolerates every taint: kept off the Berth node (label berth.dev/podman), which has
	// no place for it (its pods would be refused, as privileged, and made again, in a loop).
	run(t, "", "kubectl", "-n", "kube-system", "patch", "daemonset", "kube-proxy", "--type=merge", "-p", kubeProxyPatch)

	// 4. helm install with the guide's values: the host's Podman socket, and where its containers reach the
	// apiserver (kind's node address on kind's network).
	nodeIP := strings.TrimSpace(podmanCLI(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
		clusterName+"-control-plane"))
	if net.ParseIP(nodeIP) == nil {
		t.Fatalf("kind node address %q", nodeIP)
	}
	run(t, "", "helm", "install", release, "charts/berth", "--namespace", releaseNS, "--create-namespace",
		"--set", "kubelet.podmanHosts[0].name="+berthNode,
		"--set", "kubelet.podmanHosts[0].url=unix://"+socketDir+"/podman.sock",
		"--set", "kubelet.rootDir="+rootDir,
		"--set", "kubelet.apiServerAddress="+net.JoinHostPort(nodeIP, "6443"),
		"--wait", "--timeout", "3m")
	waitFor(t, 2*time.Minute, "node "+berthNode+" Ready", func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, berthNode, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	t.Logf("release ready after %s", time.Since(start).Round(time.Second))

	// 5. A pod of the berth-scheduler runs in the host's Podman, Succeeds, and kubectl logs reads its output: the
	// guide's kubectl run. Its service account token reaches the container through the shared root dir, and the
	// container connects to the apiserver at kubelet.apiServerAddress (KUBERNETES_SERVICE_HOST/PORT; a TCP
	// connection: busybox's TLS has no cipher suite in common with kind's apiserver).
	const greeting = "hello from Podman"
	run(t, "", "kubectl", "run", "hello", "--image="+cluster.BusyboxImage, "--restart=Never",
		`--overrides={"spec": {"schedulerName": "berth-scheduler", "tolerations": [{"key": "berth.dev/podman", `+
			`"operator": "Equal", "value": "true", "effect": "NoSchedule"}]}}`,
		"--", "sh", "-c", "test -s /var/run/secrets/kubernetes.io/serviceaccount/token && "+
			"nc -w 5 $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT </dev/null && echo "+greeting)
	var got *corev1.Pod
	waitFor(t, 2*time.Minute, "pod hello Succeeded", func(ctx context.Context) (bool, error) {
		got, err = client.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if got.Status.Phase == corev1.PodFailed {
			return false, fmt.Errorf("pod hello failed: %+v", got.Status)
		}
		return got.Status.Phase == corev1.PodSucceeded, nil
	})
	if got.Spec.NodeName != berthNode {
		t.Errorf("pod hello ran on %q, want %s", got.Spec.NodeName, berthNode)
	}
	// Berth's scheduler (its bind plugin) annotates the pods it binds; kube-scheduler does not.
	if n := got.Annotations[wellknown.AnnotationScheduledNode]; n != berthNode {
		t.Errorf("pod hello's annotation %s = %q, want %s (bound by Berth's scheduler)",
			wellknown.AnnotationScheduledNode, n, berthNode)
	}
	if logs := run(t, "", "kubectl", "logs", "hello"); !strings.Contains(logs, greeting) {
		t.Errorf("kubectl logs hello: %q, want %q", logs, greeting)
	}
	onNode, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + berthNode})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range onNode.Items {
		if p.Name != "hello" {
			t.Errorf("pod %s/%s is bound to %s; want only hello there", p.Namespace, p.Name, berthNode)
		}
	}
	pods, err := podmanPods(ctx, hostPodman.url)
	if err != nil || len(pods) != 1 {
		t.Errorf("Podman pods on the host: %v, %v; want the one of pod hello", pods, err)
	}

	// 6. Uninstall: the pod first (its kubelet removes its Podman pod), then the release, the node and the
	// release's namespace.
	run(t, "", "kubectl", "delete", "pod", "hello", "--timeout=1m")
	waitFor(t, time.Minute, "no Podman pod left", func(ctx context.Context) (bool, error) {
		pods, err := podmanPods(ctx, hostPodman.url)
		return err == nil && len(pods) == 0, nil
	})
	run(t, "", "helm", "uninstall", release, "--namespace", releaseNS, "--wait", "--timeout", "2m")
	run(t, "", "kubectl", "delete", "node", berthNode)
	run(t, "", "kubectl", "delete", "namespace", releaseNS, "--timeout=1m")
	kinds := "deployments,replicasets,pods,services,secrets,configmaps,serviceaccounts,roles,rolebindings," +
		"poddisruptionbudgets,clusterroles,clusterrolebindings"
	waitFor(t, time.Minute, "no object of the release", func(context.Context) (bool, error) {
		cmd := exec.Command("kubectl", "get", kinds, "-A", "-l", "app.kubernetes.io/instance="+release, "-o", "name")
		cmd.Env = env
		out, err := cmd.Output()
		return err == nil && strings.TrimSpace(string(out)) == "", nil
	})
	// The node and its lease (owned by the node) are gone too, and the host has no Podman pod of Berth.
	waitFor(t, time.Minute, "node "+berthNode+" and its lease gone", func(ctx context.Context) (bool, error) {
		_, errNode := client.CoreV1().Nodes().Get(ctx, berthNode, metav1.GetOptions{})
		_, errLease := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, berthNode, metav1.GetOptions{})
		return apierrors.IsNotFound(errNode) && apierrors.IsNotFound(errLease), nil
	})
	if pods, err := podmanPods(ctx, hostPodman.url); err != nil || len(pods) != 0 {
		t.Errorf("Podman pods on the host after helm uninstall: %v, %v; want none", pods, err)
	}
}

// copyFile copies the executable from to to.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// kubeProxyPatch keeps kube-proxy's DaemonSet off the nodes of Berth (docs/kind.md, step 5).
const kubeProxyPatch = `{"spec": {"template": {"spec": {"affinity": {"nodeAffinity": {` +
	`"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [` +
	`{"matchExpressions": [{"key": "berth.dev/podman", "operator": "DoesNotExist"}]}]}}}}}}}`

// hostPodman is the Podman service the test starts for the host.
type hostPodman struct {
	dir string // the folder of its socket, podman.sock
	url string
}

// startPodman starts a Podman service with its own storage and configuration in dir, as berth up does for a node
// (internal/cluster), and stops it when the test ends.
func startPodman(t *testing.T, dir string) hostPodman {
	t.Helper()
	for _, d := range []string{"storage", "run", "tmp", "volumes", "networks"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
tmp_dir = %q
volume_path = %q
[network]
network_config_dir = %q
`, filepath.Join(dir, "tmp"), filepath.Join(dir, "volumes"), filepath.Join(dir, "networks"))
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "storage"), filepath.Join(dir, "run"))
	for name, content := range map[string]string{"containers.conf": conf, "storage.conf": storage} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "podman.sock")
	cmd := exec.Command("podman", "system", "service", "--time=0", "unix://"+sock)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"))
	logFile, err := os.Create(filepath.Join(dir, "service.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start podman service: %v", err)
	}
	t.Cleanup(func() {
		// pods a failed run left, then the service and its storage's mounts
		c := exec.Command("podman", "--url", "unix://"+sock, "pod", "rm", "-af")
		_ = c.Run()
		_ = cmd.Process.Signal(unix.SIGTERM)
		_ = cmd.Wait()
		_ = logFile.Close()
		unmountBelow(filepath.Join(dir, "storage"))
	})
	waitFor(t, 30*time.Second, "podman service", func(ctx context.Context) (bool, error) {
		_, err := podman.Dial(ctx, "unix://"+sock)
		return err == nil, nil
	})
	return hostPodman{dir: dir, url: "unix://" + sock}
}

// unmountBelow detaches the mounts below dir (Podman's overlay storage keeps some after its service stops).
func unmountBelow(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			_ = unix.Unmount(f[4], unix.MNT_DETACH)
		}
	}
}

// sharedFolder creates dir as a shared mount (a bind mount of itself) and detaches it when the test ends.
func sharedFolder(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount %s: %v", dir, err)
	}
	t.Cleanup(func() {
		unmountBelow(dir)
		_ = unix.Unmount(dir, unix.MNT_DETACH)
	})
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatalf("make %s a shared mount: %v", dir, err)
	}
	return dir
}

// podmanPods lists the names of the Podman pods Berth made in the Podman service at url.
func podmanPods(ctx context.Context, url string) ([]string, error) {
	rt, err := podman.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	pods, err := rt.ListPods(ctx, map[string]string{podman.LabelNode: berthNode})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	return names, nil
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("%s within %s: %v", what, timeout, err)
	}
}

// diagnostics logs what helps to find why a run failed: the cluster's objects and the release's logs.
func diagnostics(t *testing.T, env []string) {
	for _, args := range [][]string{
		{"get", "nodes,pods", "-A", "-o", "wide"},
		{"get", "events", "-A", "--sort-by=.lastTimestamp"},
		{"logs", "-n", releaseNS, "-l", "app.kubernetes.io/instance=" + release, "--all-containers", "--tail=80"},
	} {
		cmd := exec.Command("kubectl", args...)
		cmd.Env = env
		out, _ := cmd.CombinedOutput()
		t.Logf("kubectl %s:\n%s", strings.Join(args, " "), out)
	}
}
