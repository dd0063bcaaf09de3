package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
)

// TestInitContainerHostPortNotPublished checks that an init container's hostPort is not published, as the kubelet
// maps the regular containers' ports only: a pod whose init container declares a hostPort does not hold it, so a
// second pod on the same node serves on that port, and the first pod's own app container may declare it too.
func TestInitContainerHostPortNotPublished(t *testing.T) {
	ns := namespace(t)
	node := testCluster.NodeNames()[0]
	port := freePorts(1)[0]
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: init-port}
spec:
  nodeName: %[1]s
  initContainers:
  - name: init
    image: %[2]s
    command: ["true"]
    ports: [{containerPort: 80, hostPort: %[3]d}]
  containers:
  - {name: main, image: %[2]s, command: ["sleep", "3600"]}
`, node, busybox, port), "apply", "-n", ns, "-f", "-")
	waitPod(t, ns, "init-port", 2*time.Minute, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: app-port}
spec:
  nodeName: %[1]s
  initContainers:
  - name: init
    image: %[2]s
    command: ["true"]
    ports: [{containerPort: 8080, hostPort: %[3]d}]
  containers:
  - name: web
    image: %[2]s
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
    ports: [{containerPort: 8080, hostPort: %[3]d}]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
`, node, busybox, port), "apply", "-n", ns, "-f", "-")
	waitPod(t, ns, "app-port", 2*time.Minute, "Ready", podutil.IsPodReady)

	url := "http://" + net.JoinHostPort(testCluster.Config().NodeIP, strconv.Itoa(port)) + "/hostname"
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s (app-port's web container through its hostPort): %v", url, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := strings.TrimSpace(string(body)); got != "app-port" {
		t.Errorf("GET %s = %q, want app-port's /etc/hostname", url, got)
	}
}
