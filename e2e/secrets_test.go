package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// TestSecretsStayOnTmpfsAndOutOfLogs gives a pod a secret as a volume (mode 0440), as a variable and through
// envFrom, and a second pod a secret key that does not exist: the volume is a tmpfs with the mode asked for, the
// values reach the container, and no log of the cluster's components and no event carries a value.
func TestSecretsStayOnTmpfsAndOutOfLogs(t *testing.T) {
	ns := namespace(t)
	value := "v-" + rand.String(24)
	kubectl(t, "", "create", "secret", "generic", "creds", "-n", ns, "--from-literal=token="+value)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  restartPolicy: Never
  volumes: [{name: creds, secret: {secretName: creds, defaultMode: 0440}}]
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "grep ' /creds ' /proc/mounts | cut -d' ' -f3; stat -L -c %%a /creds/token; [ \"$(cat /creds/token)\" = \"$TOKEN\" ] && [ \"$token\" = \"$TOKEN\" ] && echo same"]
    env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: token}}}]
    envFrom: [{secretRef: {name: creds}}]
    volumeMounts: [{name: creds, mountPath: /creds}]
---
apiVersion: v1
kind: Pod
metadata: {name: wrong-key}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: %[1]s
    command: ["true"]
    env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: nope}}}]
`, busybox), "apply", "-n", ns, "-f", "-")
	_, pod := watchPhases(t, ns, "user", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if got := strings.Fields(succeeded(t, ns, pod)); strings.Join(got, " ") != "tmpfs 440 same" {
		t.Errorf("the container saw %q, want a tmpfs, mode 440 and the value in the file and both variables", got)
	}
	waitEvent(t, ns, "wrong-key", "Failed", `couldn't find key nope in Secret`, 60*time.Second)

	events := kubectl(t, "", "get", "events", "-n", ns, "-o", "yaml")
	statuses := kubectl(t, "", "get", "pods", "-n", ns, "-o", "yaml")
	if strings.Contains(events, value) || strings.Contains(statuses, value) {
		t.Errorf("the secret's value is in the namespace's events or pod statuses")
	}
	logs, err := filepath.Glob(filepath.Join(testCluster.Config().StateDir, "logs", "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no component logs found (%v)", err)
	}
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), value) {
			t.Errorf("%s carries the secret's value", filepath.Base(l))
		}
	}
}
