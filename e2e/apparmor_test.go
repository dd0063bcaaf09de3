package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestAppArmorProfiles runs pods with AppArmor profiles on node 0. On a Podman host with AppArmor, each container
// runs confined as it asks, read from /proc/self/attr/current: Podman's default profile for RuntimeDefault (or
// none), none for Unconfined. On a host without AppArmor, an Unconfined pod runs, as a kubelet admits it there
// (the profiles that it rejects are TestRefusedPodSpecFields' cases).
func TestAppArmorProfiles(t *testing.T) {
	ns := namespace(t)
	info, err := podmanInfo(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	pod := func(name, profile string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  nodeName: %s
  restartPolicy: Never
  securityContext: {appArmorProfile: {type: %s}}
  containers:
  - {name: main, image: %s, command: ["sh", "-c", "cat /proc/self/attr/current 2>&1; true"]}
`, name, testCluster.NodeNames()[0], profile, busybox)
	}
	profiles := map[string]string{"unconfined": "Unconfined"}
	if info.AppArmor {
		profiles["runtime-default"] = "RuntimeDefault"
	}
	var manifests []string
	for name, profile := range profiles {
		manifests = append(manifests, pod(name, profile))
	}
	kubectl(t, strings.Join(manifests, "---\n"), "apply", "-n", ns, "-f", "-")

	logs := map[string]string{}
	for name := range profiles {
		runToSuccess(t, ns, name)
		logs[name] = strings.TrimSpace(kubectl(t, "", "logs", "-n", ns, name))
	}
	if !info.AppArmor {
		return
	}
	if logs["unconfined"] != "unconfined" {
		t.Errorf("an Unconfined container's AppArmor label %q, want unconfined", logs["unconfined"])
	}
	if l := logs["runtime-default"]; l == "unconfined" || !strings.HasSuffix(l, "(enforce)") {
		t.Errorf("a RuntimeDefault container's AppArmor label %q, want Podman's default profile, enforced", l)
	}
}
