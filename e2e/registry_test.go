package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// registry is a real OCI registry (Debian's docker-registry) on loopback, with htpasswd authentication unless
// user is empty.
type registry struct {
	addr, user, password string
}

// startRegistry starts a registry with authentication on a free port for one test and stops it on cleanup.
func startRegistry(t *testing.T) *registry {
	t.Helper()
	return startRegistryAt(t, fmt.Sprintf("127.0.0.1:%d", freePorts(1)[0]), true)
}

// startRegistryAt starts a registry on addr for one test, with htpasswd authentication if auth, and stops it on
// cleanup.
func startRegistryAt(t *testing.T, addr string, auth bool) *registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry is not installed (make deps installs it): %v", err)
	}
	dir := t.TempDir()
	r := &registry{addr: addr}
	authConf := ""
	if auth {
		r.user, r.password = "berth", "pull-me"
		hash, err := bcrypt.GenerateFromPassword([]byte(r.password), bcrypt.DefaultCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(r.user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		authConf = fmt.Sprintf("auth:\n  htpasswd: {realm: berth-e2e, path: %s}\n", filepath.Join(dir, "htpasswd"))
	}
	cfg := fmt.Sprintf(`version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: %s}
http:
  addr: %s
`, filepath.Join(dir, "data"), r.addr) + authConf
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	want := http.StatusOK
	if auth {
		want = http.StatusUnauthorized
	}
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		resp, err := http.Get("http://" + r.addr + "/v2/")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == want, nil
	})
	if err != nil {
		t.Fatalf("registry on %s did not come up", r.addr)
	}
	return r
}

// push copies the local busybox image from node 0's Podman storage into the registry as name.
func (r *registry) push(t *testing.T, name string) string {
	t.Helper()
	ref := r.addr + "/" + name
	dir := filepath.Join(testCluster.Config().StateDir, "podman", "0")
	args := []string{"--url", testCluster.PodmanURLs()[0], "push", "--tls-verify=false"}
	if r.user != "" {
		args = append(args, "--creds", r.user+":"+r.password)
	}
	cmd := exec.Command("podman", append(args, busybox, "docker://"+ref)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("podman push %s: %v\n%s", ref, err, out)
	}
	return ref
}

// TestImagePullsFromRegistry checks pulls through a real registry: with imagePullSecrets the image is pulled and
// runs (events Pulling/Pulled); without credentials the pull fails with ErrImagePull then ImagePullBackOff; an
// absent image with imagePullPolicy Never gives ErrImageNeverPull; a malformed name gives InvalidImageName.
func TestImagePullsFromRegistry(t *testing.T) {
	reg := startRegistry(t)
	image := reg.push(t, "e2e/busybox:pulled")
	ns := namespace(t)
	kubectl(t, "", "create", "secret", "docker-registry", "regcred", "-n", ns,
		"--docker-server="+reg.addr, "--docker-username="+reg.user, "--docker-password="+reg.password)

	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: with-secret}
spec:
  restartPolicy: Never
  imagePullSecrets: [{name: regcred}]
  containers:
  - {name: main, image: %[1]s, imagePullPolicy: Always, command: ["echo", "pulled"]}
---
apiVersion: v1
kind: Pod
metadata: {name: without-secret}
spec:
  containers:
  - {name: main, image: %[2]s, imagePullPolicy: Always, command: ["echo", "never"]}
---
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  containers:
  - {name: main, image: %[2]s, imagePullPolicy: Never, command: ["echo", "never"]}
---
apiVersion: v1
kind: Pod
metadata: {name: malformed}
spec:
  containers:
  - {name: main, image: "Bad:Name!", command: ["echo", "never"]}
`, image, reg.addr+"/e2e/busybox:other"), "apply", "-n", ns, "-f", "-")

	_, pod := watchPhases(t, ns, "with-secret", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Errorf("pod pulling with its secret: %s", describeStatus(pod))
	}
	if logs := kubectl(t, "", "logs", "-n", ns, "with-secret"); logs != "pulled\n" {
		t.Errorf("logs %q", logs)
	}
	events := kubectl(t, "", "get", "events", "-n", ns, "--field-selector", "involvedObject.name=with-secret", "-o", "jsonpath={range .items[*]}{.reason} {.message}{\"\\n\"}{end}")
	if !strings.Contains(events, "Pulling Pulling image \""+image+"\"") || !strings.Contains(events, "Pulled Successfully pulled image \""+image+"\"") {
		t.Errorf("events lack Pulling/Pulled:\n%s", events)
	}

	waiting := func(name, reason string) *corev1.Pod {
		return waitPod(t, ns, name, 90*time.Second, reason, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
				p.Status.ContainerStatuses[0].State.Waiting.Reason == reason
		})
	}
	p := waiting("without-secret", "ErrImagePull")
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "authentication required") && !strings.Contains(msg, "unauthorized") {
		t.Errorf("ErrImagePull message %q does not say why", msg)
	}
	waiting("without-secret", "ImagePullBackOff")
	p = waiting("never", "ErrImageNeverPull")
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; msg != fmt.Sprintf("Container image %q is not present with pull policy of Never", reg.addr+"/e2e/busybox:other") {
		t.Errorf("ErrImageNeverPull message %q", msg)
	}
	p = waiting("malformed", "InvalidImageName")
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.HasPrefix(msg, `Failed to apply default image tag "Bad:Name!": couldn't parse image name "Bad:Name!"`) {
		t.Errorf("InvalidImageName message %q", msg)
	}
	for _, name := range []string{"without-secret", "never", "malformed"} {
		if p, _ := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{}); p != nil && p.Status.Phase != corev1.PodPending {
			t.Errorf("pod %s is %s, want Pending", name, p.Status.Phase)
		}
	}
}
