package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/utils/exec"
)

// Soak bounds: requests in all, and the workers that send them.
const (
	soakRequests = 360
	soakWorkers  = 4
	// Slack over the starting counts: idle keep-alive connections (to Podman, from the apiserver) come and go.
	soakFDSlack     = 10
	soakThreadSlack = 6
)

// TestKubeletAPISoak sends a few hundred kubelet-API requests through the apiserver to a running pod — exec that
// succeeds, fails, is cut short or names a stopped or unknown container; logs followed and cut short by the client,
// --previous with no previous instance, of an unknown container; port-forward to an open and a closed port;
// attach cut short — each checked for the answer a kubelet gives, then checks that nothing leaked: the node's
// berth-kubelet has about as many open files and threads as before, and Podman has no exec session left.
func TestKubeletAPISoak(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: soak
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - {name: setup, image: %[1]s, command: ["true"]}
  containers:
  - {name: main, image: %[1]s, command: ["sleep", "3600"]}
  - name: chatty
    image: %[1]s
    command: ["sh", "-c", "while true; do yes line | head -n 100; sleep 0.2; done"]
  - name: web
    image: %[1]s
    command: ["sh", "-c", "mkdir -p /www && echo soak-web > /www/index.html && httpd -f -p 8080 -h /www"]
`, busybox), "apply", "-n", ns, "-f", "-")
	pod := waitPod(t, ns, "soak", 90*time.Second, "all containers running", func(p *corev1.Pod) bool {
		if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 3 {
			return false
		}
		for _, c := range p.Status.ContainerStatuses {
			if c.State.Running == nil {
				return false
			}
		}
		return true
	})
	node := pod.Spec.NodeName
	podmanURL := ""
	for i, n := range testCluster.NodeNames() {
		if n == node {
			podmanURL = testCluster.PodmanURLs()[i]
		}
	}
	pidFile := filepath.Join(testCluster.Config().StateDir, "pids", "kubelet-"+node+".pid")
	b, err := os.ReadFile(pidFile)
	if err != nil || podmanURL == "" {
		t.Fatalf("berth-kubelet of node %s: %v (podman %q)", node, err, podmanURL)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}

	s := newSoaker(t, ns, "soak", node)
	kinds := s.kinds()
	// Warm-up: every kind once per worker, so that the connections that stay (apiserver → kubelet, kubelet →
	// Podman) exist before counting.
	s.run(kinds, len(kinds)*soakWorkers)
	time.Sleep(2 * time.Second)
	fd0, th0 := procCounts(t, pid)
	t.Logf("berth-kubelet (pid %d) before: %d open files, %d threads", pid, fd0, th0)

	start := time.Now()
	counts := s.run(kinds, soakRequests)
	total := 0
	for _, n := range counts {
		total += n
	}
	t.Logf("%d requests in %s: %v", total, time.Since(start).Round(time.Millisecond), counts)

	// Streams end asynchronously after the client goes: give the counts some seconds to come back.
	var fd1, th1 int
	deadline := time.Now().Add(30 * time.Second)
	for {
		fd1, th1 = procCounts(t, pid)
		if fd1 <= fd0+soakFDSlack && th1 <= th0+soakThreadSlack || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("berth-kubelet after: %d open files, %d threads", fd1, th1)
	if fd1 > fd0+soakFDSlack {
		t.Errorf("berth-kubelet has %d open files after the soak, %d before:\n%s", fd1, fd0, fdTargets(pid))
	}
	if th1 > th0+soakThreadSlack {
		t.Errorf("berth-kubelet has %d threads after the soak, %d before", th1, th0)
	}

	pod, err = client.CoreV1().Pods(ns).Get(context.Background(), "soak", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pod.Status.ContainerStatuses {
		if c.RestartCount != 0 || c.State.Running == nil {
			t.Errorf("container %s: restarts %d, state %+v", c.Name, c.RestartCount, c.State)
		}
		id := strings.TrimPrefix(c.ContainerID, "podman://")
		// Podman 4.8 and later remove an exec session when Berth asks; before, a cleanup removes it 15 s after its
		// command ended (exit_command_delay in the containers.conf berth up writes).
		var n string
		for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); {
			out, err := exec.Command("podman", "--url", podmanURL, "inspect", id, "--format", "{{len .ExecIDs}}").CombinedOutput()
			if err != nil {
				t.Fatalf("podman inspect %s: %v\n%s", c.Name, err, out)
			}
			if n = strings.TrimSpace(string(out)); n == "0" {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if n != "0" {
			t.Errorf("container %s has %s exec sessions left in Podman", c.Name, n)
		}
	}
}

// procCounts reads a process's open file descriptors and threads from /proc.
func procCounts(t *testing.T, pid int) (fds, threads int) {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("open files of pid %d: %v", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			threads, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return len(ents), threads
}

// fdTargets lists what a process's descriptors point at, for a failure message.
func fdTargets(pid int) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	kinds := map[string]int{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if i := strings.Index(l, ":["); i > 0 {
			l = l[:i]
		}
		kinds[l]++
	}
	return fmt.Sprint(kinds)
}

// soaker sends the soak's requests to one pod.
type soaker struct {
	t       *testing.T
	ns, pod string
	node    string
	cfg     *rest.Config
	mu      sync.Mutex
	errs    int
}

func newSoaker(t *testing.T, ns, pod, node string) *soaker {
	cfg, err := clientcmd.BuildConfigFromFlags("", testCluster.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	return &soaker{t: t, ns: ns, pod: pod, node: node, cfg: cfg}
}

type soakKind struct {
	name string
	do   func(ctx context.Context) error
}

// run sends n requests (kinds in turn) from soakWorkers goroutines and returns how many of each kind were sent. A
// request that does not answer as expected within its 30 s fails the test (the first 20 are reported).
func (s *soaker) run(kinds []soakKind, n int) map[string]int {
	counts := map[string]int{}
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	for w := 0; w < soakWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n {
					mu.Unlock()
					return
				}
				k := kinds[next%len(kinds)]
				next++
				counts[k.name]++
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := k.do(ctx)
				cancel()
				if err != nil {
					s.mu.Lock()
					s.errs++
					if s.errs <= 20 {
						s.t.Errorf("%s: %v", k.name, err)
					}
					s.mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return counts
}

func (s *soaker) kinds() []soakKind {
	return []soakKind{
		{"exec ok", func(ctx context.Context) error {
			var out strings.Builder
			if err := s.exec(ctx, "main", []string{"echo", "soak"}, &out); err != nil {
				return err
			}
			if out.String() != "soak\n" {
				return fmt.Errorf("output %q", out.String())
			}
			return nil
		}},
		{"exec exit 3", func(ctx context.Context) error {
			err := s.exec(ctx, "main", []string{"sh", "-c", "exit 3"}, io.Discard)
			var ee utilexec.ExitError
			if !errors.As(err, &ee) || ee.ExitStatus() != 3 || err.Error() != "command terminated with exit code 3" {
				return fmt.Errorf("want exit code 3, got %v", err)
			}
			return nil
		}},
		{"exec stopped init container", func(ctx context.Context) error {
			return wantErr(s.exec(ctx, "setup", []string{"true"}, io.Discard), `container "setup" in pod "soak" is not running`)
		}},
		{"exec unknown container", func(ctx context.Context) error {
			return wantErr(s.exec(ctx, "nope", []string{"true"}, io.Discard), "container nope is not valid for pod soak")
		}},
		{"exec cut short", func(ctx context.Context) error {
			// Like a kubelet's runtime, Podman lets the command run on (before 4.8 it has no call to end it).
			ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			err := s.exec(ctx, "main", []string{"sleep", "3"}, io.Discard)
			if err == nil {
				return errors.New("a 3 s sleep ended within 300 ms")
			}
			return nil
		}},
		{"logs follow cut short", func(ctx context.Context) error {
			// Not tailLines: Podman 4.3 reads a tail backwards from the file's end and fails on a line conmon is
			// still writing ("is not a valid container log line").
			since := int64(1)
			rc, err := client.CoreV1().Pods(s.ns).GetLogs(s.pod, &corev1.PodLogOptions{Container: "chatty", Follow: true, SinceSeconds: &since}).Stream(ctx)
			if err != nil {
				return err
			}
			defer rc.Close()
			sc := bufio.NewScanner(rc)
			for i := 0; i < 1000; i++ { // more than a second's worth: some lines come from following
				if !sc.Scan() {
					return fmt.Errorf("log stream ended after %d lines: %v", i, sc.Err())
				}
				if sc.Text() != "line" {
					return fmt.Errorf("log line %q", sc.Text())
				}
			}
			return nil
		}},
		{"logs --previous without one", func(ctx context.Context) error {
			return wantErr(s.logsErr(ctx, &corev1.PodLogOptions{Container: "main", Previous: true}), `previous terminated container "main" in pod "soak" not found`)
		}},
		{"logs unknown container", func(ctx context.Context) error {
			return wantErr(s.logsErr(ctx, &corev1.PodLogOptions{Container: "nope"}), "container nope is not valid for pod soak")
		}},
		{"logs unknown container at the kubelet", func(ctx context.Context) error {
			// The node proxy passes the request on unchecked: the provider answers.
			rc, err := client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/" + s.node + "/proxy/containerLogs/" + s.ns + "/soak/nope").Stream(ctx)
			if err == nil {
				rc.Close()
			}
			return wantErr(err, `container "nope" in pod "soak" is not available`)
		}},
		{"port-forward open port", func(ctx context.Context) error {
			data, msg, err := s.portForward(ctx, 8080, "GET / HTTP/1.0\r\n\r\n")
			if err != nil || msg != "" {
				return fmt.Errorf("%v %q", err, msg)
			}
			if !strings.Contains(data, "200 OK") || !strings.HasSuffix(data, "soak-web\n") {
				return fmt.Errorf("answer %q", data)
			}
			return nil
		}},
		{"port-forward closed port", func(ctx context.Context) error {
			data, msg, err := s.portForward(ctx, 9, "hello")
			if err != nil {
				return err
			}
			if data != "" || !strings.Contains(msg, "error forwarding port 9 to pod soak") || !strings.Contains(msg, "connection refused") {
				return fmt.Errorf("data %q, error %q", data, msg)
			}
			return nil
		}},
		{"attach cut short", func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			pr, pw := io.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				pw.CloseWithError(s.stream(ctx, "attach", "chatty", nil, pw))
			}()
			line, err := bufio.NewReader(pr).ReadString('\n')
			cancel()
			pr.Close()
			<-done
			if err != nil || line != "line\n" {
				return fmt.Errorf("attach read %q: %v", line, err)
			}
			return nil
		}},
	}
}

// wantErr checks that err says want, in its message or (where kubectl shows the server's own words) in the
// causes of an unexpected server response.
func wantErr(err error, want string) error {
	if err == nil {
		return fmt.Errorf("no error; want %q", want)
	}
	text := err.Error()
	var se *apierrors.StatusError
	if errors.As(err, &se) && se.ErrStatus.Details != nil {
		for _, c := range se.ErrStatus.Details.Causes {
			text += "; " + c.Message
		}
	}
	if !strings.Contains(text, want) {
		return fmt.Errorf("error %q; want %q", text, want)
	}
	return nil
}

// logsErr asks for logs as kubectl logs does and returns the error.
func (s *soaker) logsErr(ctx context.Context, opts *corev1.PodLogOptions) error {
	rc, err := client.CoreV1().Pods(s.ns).GetLogs(s.pod, opts).Stream(ctx)
	if err == nil {
		rc.Close()
	}
	return err
}

func (s *soaker) exec(ctx context.Context, container string, cmd []string, out io.Writer) error {
	return s.stream(ctx, "exec", container, cmd, out)
}

// stream runs an exec (cmd) or attach with stdout only, as kubectl does with SPDY.
func (s *soaker) stream(ctx context.Context, sub, container string, cmd []string, out io.Writer) error {
	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(s.ns).Name(s.pod).SubResource(sub).
		Param("container", container).Param("stdout", "true")
	for _, c := range cmd {
		req = req.Param("command", c)
	}
	req.VersionedParams(&corev1.PodExecOptions{}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(s.cfg, http.MethodPost, req.URL())
	if err != nil {
		return err
	}
	return ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: out})
}

// portForward opens one port-forward connection as kubectl does, sends payload, half-closes and returns what came
// back and what the kubelet wrote on the error stream.
func (s *soaker) portForward(ctx context.Context, port int, payload string) (string, string, error) {
	rt, upgrader, err := spdy.RoundTripperFor(s.cfg)
	if err != nil {
		return "", "", err
	}
	u := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(s.ns).Name(s.pod).SubResource("portforward").URL()
	conn, _, err := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u).Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(port))
	h.Set(corev1.PortForwardRequestIDHeader, "0")
	errStream, err := conn.CreateStream(h)
	if err != nil {
		return "", "", err
	}
	errStream.Close() // nothing is sent on it
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := conn.CreateStream(h)
	if err != nil {
		return "", "", err
	}
	if _, err := io.WriteString(data, payload); err != nil {
		return "", "", err
	}
	data.Close() // half-close: no more data from this side
	got, err := io.ReadAll(data)
	if err != nil {
		return "", "", fmt.Errorf("read data: %w", err)
	}
	msg, err := io.ReadAll(errStream)
	if err != nil {
		return "", "", fmt.Errorf("read error stream: %w", err)
	}
	return string(got), string(msg), nil
}
