package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestMountPropagation checks that a volumeMount's mountPropagation is its bind mount's, on hostPath folders that
// are shared mounts on the Podman host: with HostToContainer (rslave) a container sees what the host mounts below
// the folder after the container started, and a container of the same pod mounting the folder without propagation
// (None) does not; with Bidirectional (rshared, which the API allows only in privileged containers: node 1 allows
// them) the host sees what a container mounts there.
func TestMountPropagation(t *testing.T) {
	ns := namespace(t)
	base := filepath.Join(testCluster.Config().AllowedHostPaths[1], ns)
	toContainer := sharedFolder(t, filepath.Join(base, "host-to-container"))
	bidirectional := sharedFolder(t, filepath.Join(base, "bidirectional"))
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: host-to-container}
spec:
  nodeName: %[1]s
  terminationGracePeriodSeconds: 1
  volumes: [{name: h, hostPath: {path: %[3]s}}]
  containers:
  - {name: slave, image: %[4]s, command: [sleep, "3600"], volumeMounts: [{name: h, mountPath: /h, mountPropagation: HostToContainer}]}
  - {name: private, image: %[4]s, command: [sleep, "3600"], volumeMounts: [{name: h, mountPath: /h, mountPropagation: None}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bidirectional}
spec:
  nodeName: %[2]s
  terminationGracePeriodSeconds: 1
  volumes: [{name: h, hostPath: {path: %[5]s}}]
  containers:
  - name: main
    image: %[4]s
    command: [sh, -c, "mkdir -p /h/from-pod && mount -t tmpfs e2e /h/from-pod && echo from-pod > /h/from-pod/marker && sleep 3600"]
    securityContext: {privileged: true}
    volumeMounts: [{name: h, mountPath: /h, mountPropagation: Bidirectional}]
`, testCluster.NodeNames()[0], testCluster.NodeNames()[1], toContainer, busybox, bidirectional), "apply", "-n", ns, "-f", "-")
	// Whatever the container mounted reached the host, and stays there after the container: the kubelet's caveat
	// of Bidirectional. Registered after sharedFolder, it runs before the folder's own unmount.
	fromPod := filepath.Join(bidirectional, "from-pod")
	t.Cleanup(func() { _ = unix.Unmount(fromPod, unix.MNT_DETACH) })

	t.Run("HostToContainer", func(t *testing.T) {
		waitPod(t, ns, "host-to-container", 2*time.Minute, "both containers running", func(p *corev1.Pod) bool {
			running := 0
			for _, s := range p.Status.ContainerStatuses {
				if s.State.Running != nil {
					running++
				}
			}
			return running == 2
		})
		// A tmpfs mounted on the host below the folder once both containers run, with a marker file in it.
		sub := filepath.Join(toContainer, "from-host")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("e2e", sub, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatalf("mount a tmpfs on %s: %v", sub, err)
		}
		t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
		if err := os.WriteFile(filepath.Join(sub, "marker"), []byte("from-host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cat := func(container string) (string, error) {
			return kubectlErr("", "exec", "-n", ns, "host-to-container", "-c", container, "--", "cat", "/h/from-host/marker")
		}
		var out string
		err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			var err error
			out, err = cat("slave")
			return err == nil, nil
		})
		if err != nil || out != "from-host\n" {
			t.Errorf("HostToContainer container does not see the host's mount: %q, %v", out, err)
		}
		// Mount events propagate at once: by now the private container would have it too if it were to.
		if out, err := cat("private"); err == nil {
			t.Errorf("container without propagation sees the host's later mount: %q", out)
		}
		if out := kubectl(t, "", "exec", "-n", ns, "host-to-container", "-c", "private", "--", "ls", "-A", "/h/from-host"); out != "" {
			t.Errorf("container without propagation: /h/from-host holds %q, want the empty folder below the host's mount", out)
		}
	})

	t.Run("Bidirectional", func(t *testing.T) {
		var b []byte
		err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
			var err error
			b, err = os.ReadFile(filepath.Join(fromPod, "marker"))
			return err == nil, nil
		})
		if err != nil || string(b) != "from-pod\n" {
			pod, _ := client.CoreV1().Pods(ns).Get(context.Background(), "bidirectional", metav1.GetOptions{})
			t.Fatalf("the host does not see the container's Bidirectional mount: %q, %v; pod: %s", b, err, describeStatus(pod))
		}
		var st unix.Statfs_t
		if err := unix.Statfs(fromPod, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
			t.Errorf("%s on the host: filesystem type %#x, %v; want the container's tmpfs", fromPod, st.Type, err)
		}
	})
}
