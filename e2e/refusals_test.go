package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/provider/podman"
)

// refusalCase is a pod of TestRefusedPodSpecFields: spec is its spec's extra lines (indented as spec's children),
// container its container's; reason, event and message are what the user sees.
type refusalCase struct {
	name            string
	spec, container string
	reason, event   string
	message         string
}

// podmanInfo reads node i's Podman host.
func podmanInfo(ctx context.Context, i int) (podman.HostInfo, error) {
	rt, err := podman.Dial(ctx, testCluster.PodmanURLs()[i])
	if err != nil {
		return podman.HostInfo{}, err
	}
	return rt.Info(ctx)
}

// TestRefusedPodSpecFields applies, through the real apiserver, one pod per PodSpec field Berth cannot honour yet
// (docs/podspec.md) and checks that each fails as the inventory says, never running without the field: phase
// Failed, the reason and message, and the Warning event a user sees.
func TestRefusedPodSpecFields(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: ns + "-gvisor"}, Handler: "runsc"}
	if _, err := client.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.NodeV1().RuntimeClasses().Delete(context.Background(), rc.Name, metav1.DeleteOptions{})
	})
	const unsupported = "Berth cannot run this pod yet; unsupported: "
	tests := []refusalCase{
		{name: "runtime-class", spec: "runtimeClassName: " + rc.Name,
			reason: "UnsupportedPodSpec", event: "UnsupportedPodSpec", message: unsupported + "spec.runtimeClassName: " + rc.Name},
		{name: "user-namespace", spec: "hostUsers: false",
			reason: "UnsupportedPodSpec", event: "UnsupportedPodSpec", message: unsupported + "spec.hostUsers: false"},
		{name: "seccomp-unconfined", container: "securityContext: {seccompProfile: {type: Unconfined}}",
			reason: "UnsupportedPodSpec", event: "UnsupportedPodSpec", message: unsupported + "spec.containers[main].securityContext.seccompProfile: Unconfined"},
		{name: "ephemeral-storage-limit", container: "resources: {limits: {ephemeral-storage: 1Gi}}",
			reason: "UnsupportedPodSpec", event: "UnsupportedPodSpec", message: unsupported + "spec.containers[main].resources.limits[ephemeral-storage]"},
		{name: "pod-resources", spec: "resources: {limits: {cpu: 500m, memory: 128Mi}}",
			reason: "UnsupportedPodSpec", event: "UnsupportedPodSpec", message: unsupported + "spec.resources"},
	}
	// AppArmor: a host without it rejects any profile as the kubelet does; one with it runs RuntimeDefault and
	// refuses Localhost profiles.
	info, err := podmanInfo(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if info.AppArmor {
		tests = append(tests, refusalCase{name: "apparmor", container: "securityContext: {appArmorProfile: {type: Localhost, localhostProfile: e2e}}",
			reason: "UnsupportedPodSpec", event: "UnsupportedPodSpec", message: unsupported + "spec.containers[main].securityContext.appArmorProfile: Localhost"})
	} else {
		tests = append(tests, refusalCase{name: "apparmor", container: "securityContext: {appArmorProfile: {type: RuntimeDefault}}",
			reason: "AppArmor", event: "AppArmor", message: "Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host"})
	}
	var manifests []string
	for _, tc := range tests {
		m := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  nodeName: %s
  containers:
  - name: main
    image: %s
    command: ["true"]
`, tc.name, testCluster.NodeNames()[0], busybox)
		if tc.container != "" {
			m += "    " + tc.container + "\n"
		}
		if tc.spec != "" {
			m += "  " + tc.spec + "\n"
		}
		manifests = append(manifests, m)
	}
	kubectl(t, strings.Join(manifests, "---\n"), "apply", "-n", ns, "-f", "-")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := waitPod(t, ns, tc.name, 2*time.Minute, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
			if pod.Status.Reason != tc.reason || pod.Status.Message != tc.message {
				t.Errorf("status reason %q message %q, want %q %q", pod.Status.Reason, pod.Status.Message, tc.reason, tc.message)
			}
			for _, s := range pod.Status.ContainerStatuses {
				if s.State.Running != nil || s.State.Terminated != nil && s.State.Terminated.StartedAt.Unix() > 0 {
					t.Errorf("container %s ran: %+v", s.Name, s.State)
				}
			}
			want := strings.TrimPrefix(tc.message, "Pod was rejected: ")
			waitEvent(t, ns, tc.name, tc.event, want, 30*time.Second)
		})
	}
}
