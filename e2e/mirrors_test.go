package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Made-up registry hosts (no such host exists) whose images the test cluster pulls from the mirror on mirrorAddr:
// podmanMirrorHost through every node's Podman (berth up --registries-config), kubeletMirrorHost through the
// second node's virtual kubelet (berth-kubelet --registries-config). See main_test.go.
const (
	podmanMirrorHost  = "podman-mirror.example.invalid"
	kubeletMirrorHost = "kubelet-mirror.example.invalid"
)

// mirrorAddr is where TestRegistryMirrors runs the mirror registry (chosen before the cluster starts, since the
// cluster's registries configs name it).
var mirrorAddr string

// writeMirrorConfig writes a registries.conf into dir that mirrors host to mirrorAddr, and returns its path.
func writeMirrorConfig(dir, name, host string) (string, error) {
	path := filepath.Join(dir, name)
	conf := fmt.Sprintf(`# The e2e tests' mirror (see mirrors_test.go).
[[registry]]
prefix = %[1]q
location = %[1]q
[[registry.mirror]]
location = %[2]q
insecure = true
`, host, mirrorAddr)
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// TestRegistryMirrors checks that pods whose images are named under registry hosts that do not exist run, because
// the node's registries config mirrors those hosts to a registry on loopback: through the node's Podman
// (berth up --registries-config) on the first node, through the virtual kubelet (berth-kubelet
// --registries-config) on the second. The same image on the first node, whose virtual kubelet has no such config,
// fails to pull, which shows that the mirror is what made the difference.
func TestRegistryMirrors(t *testing.T) {
	reg := startRegistryAt(t, mirrorAddr, false)
	reg.push(t, "berth/busybox:1.35")
	viaPodman := podmanMirrorHost + "/berth/busybox:1.35"
	viaKubelet := kubeletMirrorHost + "/berth/busybox:1.35"
	t.Cleanup(func() { removeImages(t, viaPodman, viaKubelet, reg.addr+"/berth/busybox:1.35") })
	nodes := testCluster.NodeNames()
	ns := namespace(t)
	pod := func(name, node, image string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  nodeName: %s
  restartPolicy: Never
  containers:
  - {name: main, image: %s, imagePullPolicy: Always, command: ["echo", "mirrored"]}
`, name, node, image)
	}
	kubectl(t, pod("via-podman", nodes[0], viaPodman)+"---\n"+pod("via-kubelet", nodes[1], viaKubelet)+"---\n"+pod("unmirrored", nodes[0], viaKubelet),
		"apply", "-n", ns, "-f", "-")

	for name, image := range map[string]string{"via-podman": viaPodman, "via-kubelet": viaKubelet} {
		_, p := watchPhases(t, ns, name, 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s (%s): %s", name, image, describeStatus(p))
			continue
		}
		if logs := kubectl(t, "", "logs", "-n", ns, name); logs != "mirrored\n" {
			t.Errorf("pod %s: logs %q", name, logs)
		}
		if got := p.Status.ContainerStatuses[0].Image; got != image {
			t.Errorf("pod %s reports image %q, want %q", name, got, image)
		}
	}
	p := waitPod(t, ns, "unmirrored", 90*time.Second, "ErrImagePull", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "ErrImagePull"
	})
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, kubeletMirrorHost) {
		t.Errorf("ErrImagePull message %q does not name the unmirrored host", msg)
	}
}

// removeImages removes images by name from every node's Podman (what a test pulled), ignoring absent ones.
func removeImages(t *testing.T, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, url := range testCluster.PodmanURLs() {
		for _, name := range names {
			out, err := exec.CommandContext(ctx, "podman", "--url", url, "rmi", "--ignore", name).CombinedOutput()
			if err != nil {
				t.Logf("remove image %s from %s: %v: %s", name, url, err, out)
			}
		}
	}
}
