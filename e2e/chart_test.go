package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/provider/podman"
)

// The helm release TestHelmChart installs, the node its virtual kubelet registers and its scheduler's profile.
const (
	chartRelease = "berth-e2e" // resources are named berth-e2e-scheduler, berth-e2e-kubelet-<node>
	chartNode    = "berth-chart-e2e"
	chartProfile = "berth-chart"
	chartTaint   = "berth.dev/podman"
)

// TestHelmChart installs charts/berth with helm into the test cluster. The chart's pods run on node
// berth-podman-1 (which allows privileged pods) from images built into that node's Podman storage: the virtual
// kubelet drives the same Podman service through its mounted socket and registers node berth-chart-e2e; the
// scheduler (its own profile, no leader election) places test pods. Then helm upgrade changes a PodmanScore weight
// and the restarted scheduler uses it, and helm uninstall removes every object the release made; the node the
// virtual kubelet registered stays, as a kubelet's does, and turns NotReady. Neither component's log may show a
// "forbidden" answer, and their RBAC is checked to be narrow.
func TestHelmChart(t *testing.T) {
	helm := helmCommand(t)
	ctx := context.Background()
	cfg := testCluster.Config()
	hostNode := testCluster.NodeNames()[1]
	podmanURL := testCluster.PodmanURLs()[1]
	// TestMain's cluster starts its own Podman services, on local sockets, which the chart's kubelet mounts.
	if !strings.HasPrefix(podmanURL, "unix://") {
		t.Fatalf("node %s's Podman is not a local socket: %s", hostNode, podmanURL)
	}
	ns := namespace(t)

	start := time.Now()
	buildChartImages(t, podmanURL)
	t.Logf("images built into %s's Podman storage in %s", hostNode, time.Since(start).Round(time.Millisecond))

	// The virtual kubelet mounts tmpfs (tokens, secrets) below its root dir inside its container; Podman, outside,
	// must see them: the folder is a shared mount, which the container's Bidirectional mount joins.
	rootDir := sharedFolder(t, filepath.Join(cfg.StateDir, "host", "chart-kubelet"))
	values := fmt.Sprintf(`scheduler:
  profileName: %[1]s
  leaderElection: {enabled: false}
  nodeSelector: {kubernetes.io/hostname: %[2]s}
  extraArgs: [--v=2]
kubelet:
  nodeSelector: {kubernetes.io/hostname: %[2]s}
  podmanHosts:
    - {name: %[3]s, url: %[4]q}
  rootDir: %[5]q
  apiServerAddress: %[6]q
kubeProxy: {enabled: true}
`, chartProfile, hostNode, chartNode, podmanURL, rootDir, net.JoinHostPort(cfg.NodeIP, strconv.Itoa(cfg.APIServerPort)))
	valuesFile := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(valuesFile, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// After a failure: leave no release and no node behind for the other tests.
		_, _ = helm("uninstall", chartRelease, "-n", ns, "--ignore-not-found", "--wait", "--timeout=60s")
		_ = client.CoreV1().Nodes().Delete(ctx, chartNode, metav1.DeleteOptions{})
		_ = client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, chartNode, metav1.DeleteOptions{})
	})
	t.Cleanup(func() {
		if t.Failed() {
			chartDiagnostics(t, ns)
		}
	})

	// Install: the scheduler turns Ready (its readiness probe is /readyz of its secure port), the node Ready.
	helmOK(t, helm, "install", chartRelease, "../charts/berth", "-n", ns, "-f", valuesFile)
	schedName, kubeletName := chartRelease+"-scheduler", chartRelease+"-kubelet-"+chartNode
	waitDeploymentRolled(t, ns, schedName, 2*time.Minute)
	waitDeploymentRolled(t, ns, kubeletName, 2*time.Minute)
	waitNode(t, chartNode, time.Minute, "Ready", nodeReady)
	t.Logf("release ready after %s", time.Since(start).Round(time.Millisecond))
	for _, name := range []string{schedName, kubeletName} {
		for _, p := range deploymentPods(t, ns, name) {
			if p.Spec.NodeName != hostNode {
				t.Errorf("pod %s runs on %s, want %s (values' nodeSelector)", p.Name, p.Spec.NodeName, hostNode)
			}
		}
	}
	node, err := client.CoreV1().Nodes().Get(ctx, chartNode, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(node.Spec.Taints) != 1 || node.Spec.Taints[0].Key != chartTaint {
		t.Errorf("node %s taints %v, want the chart's %s", chartNode, node.Spec.Taints, chartTaint)
	}

	// A pod of the installed scheduler's profile, pinned to the installed node, runs there; its service account
	// token (a tmpfs the virtual kubelet mounted in its container) reaches the container through Podman.
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount"
	onNode := chartTestPod("on-node", map[string]string{corev1.LabelHostname: chartNode},
		"sh", "-c", fmt.Sprintf(`test -s %[1]s/token && test "$(cat %[1]s/namespace)" = %[2]s`, sa, ns))
	createPod(t, ns, onNode)
	phases, done := watchPhases(t, ns, onNode.Name, 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if done.Status.Phase != corev1.PodSucceeded {
		t.Errorf("pod on-node: phases %v, want Succeeded (token mounted); status %s", phases, describeStatus(done))
	}
	if done.Spec.NodeName != chartNode || done.Annotations[wellknown.AnnotationScheduledNode] != chartNode {
		t.Errorf("pod on-node: bound to %q, %s=%q; want %s by the installed scheduler", done.Spec.NodeName,
			wellknown.AnnotationScheduledNode, done.Annotations[wellknown.AnnotationScheduledNode], chartNode)
	}
	if pods, err := podmanPodsAt(ctx, podmanURL, map[string]string{podman.LabelNode: chartNode}); err != nil || len(pods) != 1 {
		t.Errorf("Podman pods of node %s at %s: %v, %v; want the one of on-node", chartNode, podmanURL, pods, err)
	}

	// With three feasible nodes the binding records PodmanScore's weights: the values' (default) spread weight 15.
	if w := scoredSpreadWeight(t, ns, "scored-1"); w != 15 {
		t.Errorf("pod scored-1: spread weight %d, want 15 (the chart's default)", w)
	}
	checkChartLogs(t, ns)
	checkChartRBAC(t, ns)
	checkChartKubeProxy(t, ns)

	// Upgrade: a new weight changes the ConfigMap's checksum in the pod template, so the scheduler restarts on it.
	oldPods := podNames(deploymentPods(t, ns, schedName))
	helmOK(t, helm, "upgrade", chartRelease, "../charts/berth", "-n", ns, "-f", valuesFile,
		"--set", "scheduler.plugins.podmanScore.spreadWeight=9")
	waitDeploymentRolled(t, ns, schedName, 2*time.Minute)
	if newPods := podNames(deploymentPods(t, ns, schedName)); strings.Join(newPods, ",") == strings.Join(oldPods, ",") {
		t.Errorf("scheduler pods %v unchanged by an upgrade of its configuration", newPods)
	}
	if w := scoredSpreadWeight(t, ns, "scored-2"); w != 9 {
		t.Errorf("pod scored-2: spread weight %d after the upgrade, want 9", w)
	}
	checkChartLogs(t, ns)

	// Uninstall: first the test pods (the installed kubelet removes its Podman pod), then the release.
	for _, name := range []string{onNode.Name, "scored-1", "scored-2"} {
		if err := client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "e2e-chart-test"})
		if err != nil || len(list.Items) > 0 {
			return false, nil
		}
		// On every node, only the release's own Podman pods (named <namespace>_<pod>_<uid>) may be left.
		left, err := podmanPods(ctx, map[string]string{podman.LabelNamespace: ns})
		if err != nil {
			return false, nil
		}
		for _, name := range left {
			if !strings.HasPrefix(name, ns+"_"+chartRelease+"-") {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		left, _ := podmanPods(ctx, map[string]string{podman.LabelNamespace: ns})
		t.Fatalf("test pods or their Podman pods left: %v; Podman pods of the namespace: %v", err, left)
	}
	start = time.Now()
	helmOK(t, helm, "uninstall", chartRelease, "-n", ns, "--wait", "--timeout=2m")
	kinds := "deployments,replicasets,pods,services,secrets,configmaps,serviceaccounts,roles,rolebindings," +
		"poddisruptionbudgets,clusterroles,clusterrolebindings"
	var left string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		left = strings.TrimSpace(kubectl(t, "", "get", kinds, "-A", "-l", "app.kubernetes.io/instance="+chartRelease, "-o", "name"))
		return left == "", nil
	})
	if err != nil {
		t.Errorf("objects of the release left after helm uninstall: %s", left)
	}
	if pods, err := podmanPodsAt(ctx, podmanURL, map[string]string{podman.LabelNamespace: ns}); err != nil || len(pods) > 0 {
		t.Errorf("Podman pods of the release left: %v, %v", pods, err)
	}
	// The node is not the release's object: like a kubelet's, it outlives its kubelet (which may only be
	// restarting: a deleted node would take its pods along) and turns NotReady once its lease runs out.
	n := waitNode(t, chartNode, 2*time.Minute, "NotReady", func(n *corev1.Node) bool { return !nodeReady(n) })
	t.Logf("node %s NotReady %s after the uninstall: %s", chartNode, time.Since(start).Round(time.Second), readyCondition(n))
}

// helmCommand returns a runner of the helm that make build puts in the bin folder, with the test cluster's
// kubeconfig and helm's own folders in a temporary directory.
func helmCommand(t *testing.T) func(args ...string) (string, error) {
	t.Helper()
	bin := filepath.Join(binDir, "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("helm is missing from %s (make build builds it): %v", binDir, err)
	}
	home := t.TempDir()
	return func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+testCluster.Kubeconfig(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

func helmOK(t *testing.T, helm func(...string) (string, error), args ...string) string {
	t.Helper()
	out, err := helm(args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// buildChartImages builds localhost/berth/scheduler:dev and localhost/berth/kubelet:dev from the repository's
// Dockerfile into the storage of the Podman service at url; each build's context holds just its binary.
func buildChartImages(t *testing.T, url string) {
	t.Helper()
	for _, target := range []string{"scheduler", "kubelet"} {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "_output", "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		copyFile(t, "../Dockerfile", filepath.Join(dir, "Dockerfile"))
		bin := "berth-" + target
		if err := os.Link(filepath.Join(binDir, bin), filepath.Join(dir, "_output", "bin", bin)); err != nil {
			copyFile(t, filepath.Join(binDir, bin), filepath.Join(dir, "_output", "bin", bin))
		}
		cmd := exec.Command("podman", "--url", url, "build", "--target", target, "-t", "localhost/berth/"+target+":dev", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("podman build --target %s: %v\n%s", target, err, out)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
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
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatalf("make %s a shared mount: %v", dir, err)
	}
	return dir
}

// chartTestPod is a pod of the installed scheduler's profile that tolerates the chart's taint.
func chartTestPod(name string, nodeSelector map[string]string, command ...string) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"e2e-chart-test": "true"}},
		Spec: corev1.PodSpec{
			SchedulerName:                 chartProfile,
			NodeSelector:                  nodeSelector,
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			Tolerations: []corev1.Toleration{{Key: chartTaint, Operator: corev1.TolerationOpEqual, Value: "true",
				Effect: corev1.TaintEffectNoSchedule}},
			Containers: []corev1.Container{{Name: "main", Image: busybox, Command: command}},
		},
	}
}

func createPod(t *testing.T, ns string, pod *corev1.Pod) {
	t.Helper()
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
}

// scoredSpreadWeight creates a pod the installed scheduler may place on any of the three nodes and returns the
// spread weight its binding recorded.
func scoredSpreadWeight(t *testing.T, ns, name string) int64 {
	t.Helper()
	createPod(t, ns, chartTestPod(name, nil, "sleep", "3600"))
	// Running, so that its kubelet is done creating it before the test deletes it.
	p := waitPod(t, ns, name, 90*time.Second, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	var rec struct {
		Weights *struct {
			Spread int64 `json:"spread"`
		} `json:"weights"`
		Candidates int `json:"candidates"`
	}
	raw := p.Annotations[wellknown.AnnotationScore]
	if err := json.Unmarshal([]byte(raw), &rec); err != nil || rec.Weights == nil {
		t.Fatalf("pod %s: %s=%q: no weights (%v)", name, wellknown.AnnotationScore, raw, err)
	}
	if rec.Candidates != 3 {
		t.Errorf("pod %s: %d candidate nodes, want 3 (%s)", name, rec.Candidates, raw)
	}
	return rec.Weights.Spread
}

// checkChartLogs fails the test if a pod of the release logged a "forbidden" answer of the apiserver.
func checkChartLogs(t *testing.T, ns string) {
	t.Helper()
	list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + chartRelease})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		logs := kubectl(t, "", "logs", "-n", ns, p.Name, "--all-containers")
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(strings.ToLower(line), "forbidden") {
				t.Errorf("pod %s logged: %s", p.Name, line)
			}
		}
	}
}

// checkChartRBAC checks what the release's service accounts may and may not do.
func checkChartRBAC(t *testing.T, ns string) {
	t.Helper()
	sched := "system:serviceaccount:" + ns + ":" + chartRelease + "-scheduler"
	vk := "system:serviceaccount:" + ns + ":" + chartRelease + "-kubelet"
	cases := []struct {
		as   string
		args []string
		want string
	}{
		{sched, []string{"create", "pods", "--subresource=binding", "-n", ns}, "yes"},
		{sched, []string{"get", "secrets", "-A"}, "no"},
		{sched, []string{"delete", "nodes"}, "no"},
		{sched, []string{"create", "pods"}, "no"},
		{vk, []string{"patch", "nodes/" + chartNode}, "yes"},
		{vk, []string{"patch", "nodes/" + chartNode, "--subresource=status"}, "yes"},
		{vk, []string{"patch", "nodes/berth-podman-0"}, "no"},
		{vk, []string{"update", "leases/berth-podman-0", "-n", corev1.NamespaceNodeLease}, "no"},
		{vk, []string{"delete", "nodes/" + chartNode}, "no"},
		{vk, []string{"create", "pods"}, "no"},
		{vk, []string{"update", "secrets"}, "no"},
		{vk, []string{"create", "clusterrolebindings"}, "no"},
	}
	for _, c := range cases {
		out, _ := kubectlErr("", append([]string{"auth", "can-i", "--as", c.as}, c.args...)...)
		// The answer is the last line (after warnings such as "resource 'nodes' is not namespace scoped").
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := lines[len(lines)-1]; got != c.want {
			t.Errorf("%s can-i %v: %q, want %s", c.as, c.args, got, c.want)
		}
	}
	crbs, err := client.RbacV1().ClusterRoleBindings().List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + chartRelease})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range crbs.Items {
		if b.RoleRef.Name == "cluster-admin" || b.RoleRef.Name == "admin" || b.RoleRef.Name == "edit" {
			t.Errorf("ClusterRoleBinding %s grants %s", b.Name, b.RoleRef.Name)
		}
	}
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// deploymentPods lists the pods a Deployment's selector matches.
func deploymentPods(t *testing.T, ns, name string) []corev1.Pod {
	t.Helper()
	ctx := context.Background()
	d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// waitDeploymentRolled waits until a Deployment's pods are all of its current template, available, and alone.
func waitDeploymentRolled(t *testing.T, ns, name string, timeout time.Duration) {
	t.Helper()
	var d *appsv1.Deployment
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		d, err = client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.AvailableReplicas == want && s.Replicas == want, nil
	})
	if err != nil {
		status := "<none>"
		if d != nil {
			status = fmt.Sprintf("%+v", d.Status)
		}
		t.Fatalf("deployment %s/%s not rolled out within %s: %s", ns, name, timeout, status)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func readyCondition(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
		}
	}
	return "no Ready condition"
}

func waitNode(t *testing.T, name string, timeout time.Duration, what string, cond func(*corev1.Node) bool) *corev1.Node {
	t.Helper()
	var last *corev1.Node
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = n
		return cond(n), nil
	})
	if err != nil {
		state := "absent"
		if last != nil {
			state = readyCondition(last)
		}
		t.Fatalf("node %s not %s within %s: %s", name, what, timeout, state)
	}
	return last
}

// podmanPodsAt lists the Podman pods carrying labels in the Podman service at url.
func podmanPodsAt(ctx context.Context, url string, labels map[string]string) ([]string, error) {
	rt, err := podman.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	pods, err := rt.ListPods(ctx, labels)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out, nil
}

// chartDiagnostics logs the release's pods, their statuses and logs, and the node.
func chartDiagnostics(t *testing.T, ns string) {
	out, _ := kubectlErr("", "get", "pods,deployments,nodes", "-n", ns, "-o", "wide")
	t.Logf("objects:\n%s", out)
	list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range list.Items {
		p := &list.Items[i]
		t.Logf("pod %s on %s: %s", p.Name, p.Spec.NodeName, describeStatus(p))
		if strings.HasPrefix(p.Name, chartRelease) {
			logs, _ := kubectlErr("", "logs", "-n", ns, p.Name, "--all-containers", "--tail=60")
			t.Logf("logs of %s:\n%s", p.Name, logs)
		}
	}
	ev, _ := kubectlErr("", "get", "events", "-n", ns, "--sort-by=.lastTimestamp")
	t.Logf("events:\n%s", ev)
}

// checkChartKubeProxy follows the chart's NOTES for a Podman host's kube-proxy: a kubeconfig made from the token
// Secret authenticates as the release's kube-proxy ServiceAccount, which may do what kube-proxy does (the cluster's
// system:node-proxier role) and nothing more; kube-proxy accepts the ConfigMap's configuration (checked with
// --cleanup in a network namespace of the test's own, so the machine's rules are not touched).
func checkChartKubeProxy(t *testing.T, ns string) {
	t.Helper()
	name := chartRelease + "-kube-proxy"
	var token, ca string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		sec, err := client.CoreV1().Secrets(ns).Get(ctx, name+"-token", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		token, ca = string(sec.Data["token"]), string(sec.Data["ca.crt"])
		return token != "" && ca != "", nil
	})
	if err != nil {
		t.Fatalf("the token Secret %s-token is not filled: %v", name, err)
	}
	dir := t.TempDir()
	caFile, kubeconfig := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "kube-proxy.kubeconfig")
	if err := os.WriteFile(caFile, []byte(ca), 0o600); err != nil {
		t.Fatal(err)
	}
	server := fmt.Sprintf("https://%s", net.JoinHostPort(testCluster.Config().NodeIP, strconv.Itoa(testCluster.Config().APIServerPort)))
	for _, args := range [][]string{
		{"config", "set-cluster", "c", "--server=" + server, "--certificate-authority=" + caFile, "--embed-certs"},
		{"config", "set-credentials", "kube-proxy", "--token=" + token},
		{"config", "set-context", "c", "--cluster=c", "--user=kube-proxy"},
		{"config", "use-context", "c"},
	} {
		if out, err := kubectlCmd(kubeconfig, args...).CombinedOutput(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", args[:2], err, out)
		}
	}
	who, err := kubectlCmd(kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").CombinedOutput()
	if want := "system:serviceaccount:" + ns + ":" + name; err != nil || string(who) != want {
		t.Errorf("the kube-proxy kubeconfig is %q (%v), want %s", who, err, want)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", "services", "-A"}, "yes"},
		{[]string{"list", "endpointslices.discovery.k8s.io", "-A"}, "yes"},
		{[]string{"get", "nodes/" + chartNode}, "yes"},
		{[]string{"create", "events.events.k8s.io", "-n", ns}, "yes"},
		{[]string{"get", "secrets", "-n", ns}, "no"},
		{[]string{"create", "pods", "-n", ns}, "no"},
		{[]string{"patch", "nodes/" + chartNode}, "no"},
	} {
		out, _ := kubectlCmd(kubeconfig, append([]string{"auth", "can-i"}, c.args...)...).CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if got := lines[len(lines)-1]; got != c.want {
			t.Errorf("kube-proxy can-i %v: %q, want %s", c.args, got, c.want)
		}
	}

	cm, err := client.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if unit := cm.Data["systemd-unit"]; !strings.Contains(unit, "--config=/etc/kubernetes/kube-proxy.conf --hostname-override=%i") {
		t.Errorf("the ConfigMap's unit does not run kube-proxy on its config for the node of its instance:\n%s", unit)
	}
	conf := filepath.Join(dir, "kube-proxy.conf")
	if err := os.WriteFile(conf, []byte(cm.Data["config.conf"]), 0o600); err != nil {
		t.Fatal(err)
	}
	netnsName := fmt.Sprintf("berth-e2e-kp-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", netnsName).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	defer exec.Command("ip", "netns", "delete", netnsName).Run()
	out, err := exec.Command("ip", "netns", "exec", netnsName, filepath.Join(binDir, "kube-proxy"),
		"--config="+conf, "--hostname-override="+chartNode, "--cleanup").CombinedOutput()
	if err != nil || strings.Contains(string(out), "lenient decoding") {
		t.Errorf("kube-proxy on the ConfigMap's configuration: %v\n%s", err, out)
	}
}
