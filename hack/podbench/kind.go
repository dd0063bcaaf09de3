package main

// The kubelet baseline (--kind): a one-node kind cluster of Berth's offline node image (make kind-image: a real
// kubelet with containerd 1.6 and runc, kubeadm's control plane) on the same machine, in the same run. Its pods are
// the same as Berth's (same image, imported into the node's containerd with kind load image-archive, same spec and
// command), measured the same way: from the Create call to the watch event with phase Running and the container
// running; exit = the container's FinishedAt as containerd records it (nanoseconds, in the CRI plugin's status
// file; the node shares the machine's clock) → the watch event with phase Succeeded.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/hack/internal/benchutil"
	"github.com/berth-dev/berth/internal/cluster"
)

// kubeletBaseline names the kind cluster's kubelet in the figures.
const kubeletBaseline = "kubelet+containerd (kind node, same machine)"

// criContainers is where containerd's CRI plugin keeps each container's status file (<id>/status).
const criContainers = "/var/lib/containerd/io.containerd.grpc.v1.cri/containers"

// kindCluster is the kind cluster of the kubelet baseline.
type kindCluster struct {
	name   string
	dir    string // kind's state (containers.conf, its network, the kubeconfig, the image archive)
	script string // hack/kind/kind.sh
	env    []string
	client kubernetes.Interface
	track  *tracker
	ready  time.Duration // kind create cluster, to a Ready node
}

// node is the name of the cluster's one node, also its Podman container.
func (k *kindCluster) node() string { return k.name + "-control-plane" }

// startKind creates the kind cluster and loads the benchmark's image from the Podman service at podmanURL into
// its node. The returned cluster is set even on error, for deleteKind.
func startKind(ctx context.Context, cfg Config, podmanURL string) (*kindCluster, error) {
	binDir, err := filepath.Abs(cfg.BinDir)
	if err != nil {
		return nil, fmt.Errorf("resolve the bin folder: %w", err)
	}
	script, err := filepath.Abs(cfg.KindScript)
	if err != nil {
		return nil, fmt.Errorf("resolve --kind-script: %w", err)
	}
	config, err := filepath.Abs(cfg.KindConfig)
	if err != nil {
		return nil, fmt.Errorf("resolve --kind-config: %w", err)
	}
	if _, err := exec.LookPath(filepath.Join(binDir, "kind")); err != nil {
		if _, err := exec.LookPath("kind"); err != nil {
			return nil, fmt.Errorf("--kind needs the kind command in %s or on PATH (make kind): %w", binDir, err)
		}
	}
	dir, err := os.MkdirTemp("", "podbench-kind-")
	if err != nil {
		return nil, fmt.Errorf("create kind's state folder: %w", err)
	}
	k := &kindCluster{name: kindName(os.Getpid()), dir: dir, script: script}
	conf, err := exec.CommandContext(ctx, filepath.Join(filepath.Dir(script), "containers-conf.sh"), filepath.Join(dir, "state")).Output()
	if err != nil {
		return k, fmt.Errorf("containers-conf.sh: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "containers.conf"), conf, 0o644); err != nil {
		return k, fmt.Errorf("write kind's containers.conf: %w", err)
	}
	k.env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KIND_STATE="+filepath.Join(dir, "state"), "CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"KUBECONFIG="+filepath.Join(dir, "kubeconfig"))

	image := cfg.KindImage
	if image == "" {
		if image, err = configImage(config); err != nil {
			return k, err
		}
	}
	if _, err := k.run(ctx, "podman", "image", "exists", image); err != nil {
		return k, fmt.Errorf("kind node image %s not in Podman's storage (make kind-image): %w", image, err)
	}
	fmt.Fprintf(cfg.Out, "Creating kind cluster %s of %s for the kubelet baseline (background: %s)\n", k.name, image, benchutil.Background())
	start := time.Now()
	if _, err := k.run(ctx, k.script, "create", "cluster", "--name", k.name, "--config", config, "--image", image, "--wait", "3m"); err != nil {
		return k, err
	}
	k.ready = time.Since(start)
	fmt.Fprintf(cfg.Out, "  kind cluster Ready after %s\n", k.ready.Round(100*time.Millisecond))

	// The same image as Berth's pods, from the Berth node's Podman, into the node's containerd.
	archive := filepath.Join(dir, "image.tar")
	if _, err := k.run(ctx, "podman", "--url", podmanURL, "save", "-o", archive, cluster.BusyboxImage); err != nil {
		return k, err
	}
	if _, err := k.run(ctx, k.script, "load", "image-archive", archive, "--name", k.name); err != nil {
		return k, err
	}

	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		return k, fmt.Errorf("kind's kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 1000, 1000
	rc.UserAgent = "podbench"
	if k.client, err = kubernetes.NewForConfig(rc); err != nil {
		return k, fmt.Errorf("kind's client: %w", err)
	}
	if _, err := k.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return k, fmt.Errorf("kind: create namespace: %w", err)
	}
	if err := benchutil.Poll(ctx, 100*time.Millisecond, 60*time.Second, "kind: default ServiceAccount of "+namespace, func(ctx context.Context) (bool, error) {
		_, err := k.client.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return k, err
	}
	k.track = newTracker()
	return k, k.track.start(ctx, k.client, namespace)
}

// deleteKind deletes the cluster and its state folder, within two minutes even when ctx has ended.
func deleteKind(ctx context.Context, k *kindCluster) error {
	if k.env == nil { // nothing was started
		return os.RemoveAll(k.dir)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	_, err := k.run(ctx, k.script, "delete", "cluster", "--name", k.name)
	if err == nil {
		err = os.RemoveAll(k.dir)
	}
	return err
}

// run runs a command with kind's environment and returns its standard output; an error carries its output.
func (k *kindCluster) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = k.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	klog.FromContext(ctx).V(2).Info("ran", "command", filepath.Base(name), "args", args, "took", time.Since(began), "err", err)
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// exec runs a command in the kind node.
func (k *kindCluster) exec(ctx context.Context, args ...string) (string, error) {
	return k.run(ctx, "podman", append([]string{"exec", k.node()}, args...)...)
}

// running lists the containers (pod sandboxes included) of the benchmark's namespace that containerd still runs.
func (k *kindCluster) running(ctx context.Context) ([]string, error) {
	out, err := k.exec(ctx, "sh", "-c", `ctr -n k8s.io containers ls -q 'labels."io.kubernetes.pod.namespace"==`+namespace+`'; echo ---; ctr -n k8s.io tasks ls`)
	if err != nil {
		return nil, err
	}
	return runningContainers(out)
}

// finished reads when containerd saw a container start and exit.
func (k *kindCluster) finished(ctx context.Context, id string) (started, finished time.Time, err error) {
	out, err := k.exec(ctx, "cat", filepath.Join(criContainers, id, "status"))
	if err != nil {
		return started, finished, err
	}
	return criStatusTimes([]byte(out))
}

// kindName is the cluster's name: one per process, so that runs side by side do not meet.
func kindName(pid int) string { return fmt.Sprintf("podbench-%d", pid) }

// configImage is the node image of a kind configuration (its first node's image:).
func configImage(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read --kind-config: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "image:"); ok {
			if v = strings.Trim(strings.TrimSpace(v), `"'`); v != "" {
				return v, nil
			}
		}
	}
	return "", fmt.Errorf("%s names no node image: give --kind-image", path)
}

// runningContainers reads `ctr containers ls -q` (the namespace's containers), a line "---", then `ctr tasks ls`
// (TASK PID STATUS), and returns the containers whose task is RUNNING.
func runningContainers(out string) ([]string, error) {
	ids, tasks, ok := strings.Cut(out, "---\n")
	if !ok {
		return nil, fmt.Errorf("unexpected output of ctr: %q", out)
	}
	var ours []string
	for line := range strings.Lines(ids) {
		if id := strings.TrimSpace(line); id != "" {
			ours = append(ours, id)
		}
	}
	var running []string
	for line := range strings.Lines(tasks) {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "RUNNING" && slices.Contains(ours, f[0]) {
			running = append(running, f[0])
		}
	}
	return running, nil
}

// criStatusTimes reads the start and exit of a container from its status file in containerd's CRI plugin
// ({"Version":"v1","Pid":0,"CreatedAt":<unix ns>,"StartedAt":<unix ns>,"FinishedAt":<unix ns>,...}: containerd
// embeds its Status in the versioned record, so the fields are at the top).
func criStatusTimes(b []byte) (started, finished time.Time, err error) {
	var v struct {
		Version               string
		StartedAt, FinishedAt int64
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return started, finished, fmt.Errorf("containerd status: %w", err)
	}
	if v.Version != "v1" {
		return started, finished, fmt.Errorf("containerd status version %q, want v1", v.Version)
	}
	if v.FinishedAt == 0 {
		return started, finished, errors.New("containerd status: the container has not finished")
	}
	return time.Unix(0, v.StartedAt), time.Unix(0, v.FinishedAt), nil
}

// containerID is the ID of a status's containerID (runtime://id).
func containerID(s string) string {
	if _, id, ok := strings.Cut(s, "://"); ok {
		return id
	}
	return s
}
