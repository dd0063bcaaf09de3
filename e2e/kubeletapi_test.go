package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// runningPod applies a one-container pod and waits until it runs.
func runningPod(t *testing.T, ns, manifest string) {
	t.Helper()
	kubectl(t, manifest, "apply", "-n", ns, "-f", "-")
	name := regexp.MustCompile(`(?m)^  name: (\S+)`).FindStringSubmatch(manifest)[1]
	waitPod(t, ns, name, 90*time.Second, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil
	})
}

// fixedSize is a terminal that reports one size.
type fixedSize struct{ sent bool }

func (f *fixedSize) Next() *remotecommand.TerminalSize {
	if f.sent {
		time.Sleep(time.Hour) // no more changes; the stream's end abandons this call
		return nil
	}
	f.sent = true
	return &remotecommand.TerminalSize{Width: 123, Height: 45}
}

// stream runs an exec or attach through the apiserver and the node's kubelet API, as kubectl does.
func stream(t *testing.T, ns, pod, sub string, params map[string]string, opts remotecommand.StreamOptions) error {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", testCluster.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource(sub)
	for k, v := range params {
		req = req.Param(k, v)
	}
	req.VersionedParams(&corev1.PodExecOptions{}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(cfg, http.MethodPost, req.URL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return exec.StreamWithContext(ctx, opts)
}

// TestExec checks kubectl exec: output and exit codes, stdin, a TTY with its size, errors for a container that is
// not running, and kubectl cp (which is exec of tar).
func TestExec(t *testing.T) {
	ns := namespace(t)
	runningPod(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: shell
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - {name: setup, image: %[1]s, command: ["true"]}
  containers:
  - {name: main, image: %[1]s, command: ["sleep", "3600"]}
`, busybox))

	// stdout and stderr travel apart, so only their contents are compared.
	out := kubectl(t, "", "exec", "-n", ns, "shell", "-c", "main", "--", "sh", "-c", "echo out; echo err >&2; hostname")
	if lines := strings.Fields(out); len(lines) != 3 || !strings.Contains(out, "out\n") || !strings.Contains(out, "err\n") || !strings.Contains(out, "shell\n") {
		t.Errorf("exec output %q", out)
	}
	out, err := kubectlErr("", "exec", "-n", ns, "shell", "-c", "main", "--", "sh", "-c", "exit 7")
	if err == nil || !strings.Contains(out, "command terminated with exit code 7") {
		t.Errorf("exit 7: %v %q", err, out)
	}
	if code := exitCode(err); code != 7 {
		t.Errorf("kubectl exit code %d, want 7", code)
	}
	if out := kubectl(t, "hello from stdin", "exec", "-i", "-n", ns, "shell", "-c", "main", "--", "sh", "-c", "cat | tr a-z A-Z"); out != "HELLO FROM STDIN" {
		t.Errorf("stdin round trip %q", out)
	}
	out, err = kubectlErr("", "exec", "-n", ns, "shell", "-c", "setup", "--", "true")
	if err == nil || !strings.Contains(out, `container "setup" in pod "shell" is not running`) {
		t.Errorf("exec into a finished init container: %v %q", err, out)
	}
	out, err = kubectlErr("", "exec", "-n", ns, "shell", "-c", "nope", "--", "true")
	if err == nil || !strings.Contains(out, "nope") {
		t.Errorf("exec into an unknown container: %v %q", err, out)
	}

	var tty bytes.Buffer
	err = stream(t, ns, "shell", "exec", map[string]string{"container": "main", "command": "sh", "tty": "true", "stdout": "true", "stdin": "true"},
		remotecommand.StreamOptions{Stdin: strings.NewReader("stty size; tty; exit\n"), Stdout: &tty, Tty: true, TerminalSizeQueue: &fixedSize{}})
	if err != nil {
		t.Fatalf("exec with a TTY: %v", err)
	}
	if !strings.Contains(tty.String(), "45 123") || !strings.Contains(tty.String(), "/dev/pts/") {
		t.Errorf("TTY session printed %q; want the terminal size 45x123 and a /dev/pts terminal", tty.String())
	}

	local := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(local, []byte("copied through exec\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "", "cp", "-c", "main", local, ns+"/shell:/tmp/in.txt")
	if out := kubectl(t, "", "exec", "-n", ns, "shell", "-c", "main", "--", "cat", "/tmp/in.txt"); out != "copied through exec\n" {
		t.Errorf("after kubectl cp the pod has %q", out)
	}
	back := filepath.Join(t.TempDir(), "back.txt")
	kubectl(t, "", "cp", "-c", "main", ns+"/shell:/tmp/in.txt", back)
	if b, err := os.ReadFile(back); err != nil || string(b) != "copied through exec\n" {
		t.Errorf("copied back %q, %v", b, err)
	}
}

func exitCode(err error) int {
	if e, ok := err.(*exec.ExitError); ok {
		return e.ExitCode()
	}
	return -1
}

// TestAttach attaches to a container's main process: what is sent to its stdin comes back on stdout.
func TestAttach(t *testing.T) {
	ns := namespace(t)
	runningPod(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: echo
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "while read line; do echo \"got $line\"; done"]
    stdin: true
`, busybox))
	pr, pw := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- stream(t, ns, "echo", "attach", map[string]string{"container": "main", "stdin": "true", "stdout": "true", "stderr": "true"},
			remotecommand.StreamOptions{Stdin: pr, Stdout: &out, Stderr: io.Discard})
	}()
	fmt.Fprintln(pw, "one")
	fmt.Fprintln(pw, "two")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "got two") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	pw.Close()
	if !strings.Contains(out.String(), "got one\ngot two") {
		t.Errorf("attach output %q", out.String())
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("attach ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("attach did not end after stdin closed")
	}
}

// TestPortForward forwards a local port to a pod's HTTP server with kubectl port-forward, and a port nothing
// listens on fails the forwarded connection.
func TestPortForward(t *testing.T) {
	ns := namespace(t)
	runningPod(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "mkdir -p /www && echo served-by-pod > /www/index.html && httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080}]
`, busybox))
	cmd := kubectlCmd(testCluster.Kubeconfig(), "port-forward", "-n", ns, "pod/web", ":8080", ":9")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ports := map[string]string{}
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)`)
	for len(ports) < 2 && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			ports[m[2]] = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if len(ports) < 2 {
		t.Fatalf("kubectl port-forward did not report both ports: %v", ports)
	}
	hc := &http.Client{Timeout: 20 * time.Second}
	for i := 0; i < 3; i++ { // several connections through one forward
		resp, err := hc.Get("http://127.0.0.1:" + ports["8080"] + "/")
		if err != nil {
			t.Fatalf("GET through the forward: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "served-by-pod\n" {
			t.Errorf("body %q", body)
		}
	}
	if resp, err := hc.Get("http://127.0.0.1:" + ports["9"] + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("a forward to a closed port answered %s", resp.Status)
	}
}

// TestStatsAndResourceMetrics reads the node's /stats/summary and /metrics/resource through the apiserver's node
// proxy: a busy pod shows CPU time and memory, with the kubelet's metric names and labels.
func TestStatsAndResourceMetrics(t *testing.T) {
	ns := namespace(t)
	runningPod(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: busy
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: spin
    image: %s
    command: ["sh", "-c", "while true; do :; done"]
`, busybox))
	pod, err := client.CoreV1().Pods(ns).Get(context.Background(), "busy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node := pod.Spec.NodeName
	raw := func(path string) []byte {
		b, err := client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/" + node + "/proxy" + path).DoRaw(context.Background())
		if err != nil {
			t.Fatalf("GET %s of node %s: %v\n%s", path, node, err, b)
		}
		return b
	}
	var sum statsv1alpha1.Summary
	var podStats *statsv1alpha1.PodStats
	err = wait.PollUntilContextTimeout(context.Background(), time.Second, 30*time.Second, true, func(context.Context) (bool, error) {
		if err := json.Unmarshal(raw("/stats/summary"), &sum); err != nil {
			return false, err
		}
		for i := range sum.Pods {
			ps := &sum.Pods[i]
			if ps.PodRef.Namespace == ns && ps.PodRef.Name == "busy" && ps.CPU != nil && ps.CPU.UsageNanoCores != nil {
				podStats = ps
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no CPU rate for the pod in /stats/summary: %v", err)
	}
	if sum.Node.NodeName != node || sum.Node.CPU == nil || *sum.Node.CPU.UsageCoreNanoSeconds == 0 || *sum.Node.Memory.WorkingSetBytes == 0 {
		t.Errorf("node stats %+v", sum.Node)
	}
	// A busy loop uses most of a core.
	if r := *podStats.CPU.UsageNanoCores; r < 2e8 {
		t.Errorf("busy pod uses %d nanocores, want a large part of a core", r)
	}
	if len(podStats.Containers) != 1 || podStats.Containers[0].Name != "spin" || *podStats.Containers[0].Memory.WorkingSetBytes == 0 {
		t.Errorf("container stats %+v", podStats.Containers)
	}

	// metrics-server scrapes the node's /metrics/resource: kubectl top shows the busy pod and the nodes.
	var top string
	err = wait.PollUntilContextTimeout(context.Background(), 3*time.Second, 120*time.Second, true, func(context.Context) (bool, error) {
		out, err := kubectlErr("", "top", "pod", "-n", ns, "busy", "--no-headers")
		top = out
		f := strings.Fields(out)
		return err == nil && len(f) == 3 && f[0] == "busy" && f[1] != "0m", nil
	})
	if err != nil {
		t.Errorf("kubectl top pod never showed the busy pod's CPU: %q", top)
	}
	// metrics-server serves a node's usage only after two scrapes of it (a rate needs two points), while a new
	// pod's usage may be served after one (its container start time is the first point): poll for the node too.
	err = wait.PollUntilContextTimeout(context.Background(), 3*time.Second, 120*time.Second, true, func(context.Context) (bool, error) {
		out, err := kubectlErr("", "top", "node", "--no-headers")
		top = out
		return err == nil && strings.Contains(out, node), nil
	})
	if err != nil {
		t.Errorf("kubectl top node never showed node %s: %q", node, top)
	}

	metrics := string(raw("/metrics/resource"))
	for _, want := range []string{
		"# TYPE container_cpu_usage_seconds_total counter",
		fmt.Sprintf(`container_cpu_usage_seconds_total{container="spin",namespace="%s",pod="busy"}`, ns),
		fmt.Sprintf(`container_memory_working_set_bytes{container="spin",namespace="%s",pod="busy"}`, ns),
		fmt.Sprintf(`pod_cpu_usage_seconds_total{namespace="%s",pod="busy"}`, ns),
		"node_cpu_usage_seconds_total", "node_memory_working_set_bytes", "scrape_error 0",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics/resource lacks %q:\n%s", want, metrics)
		}
	}
}

// TestKubeletAPIRefusesStrangers calls a node's kubelet API directly: without credentials it answers 401, with a
// service account's token that has no rights on nodes 403, and runs nothing either way.
func TestKubeletAPIRefusesStrangers(t *testing.T) {
	ns := namespace(t)
	cfg := testCluster.Config()
	base := fmt.Sprintf("https://%s:%d", cfg.NodeIP, cfg.KubeletPort)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // only the status code matters here
	tok, err := client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), "default", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {"not-a-token", http.StatusUnauthorized}, {tok.Status.Token, http.StatusForbidden}} {
		for _, path := range []string{"/pods", "/stats/summary", "/containerLogs/kube-system/x/y", "/run/kube-system/x/y?cmd=true"} {
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			if strings.HasPrefix(path, "/run") {
				req.Method = http.MethodPost
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s with token %.10q: %d, want %d", path, tc.token, resp.StatusCode, tc.want)
			}
		}
	}
}
