package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// TestShortImageNameIsDockerHub checks that a short image name means docker.io/library/<name>:latest, as Kubernetes
// reads it: with an image of that short name stored locally as localhost/<name>:latest (which Podman's short-name
// rules would pick), the pod does not run that image but pulls docker.io's, which this machine cannot reach.
func TestShortImageNameIsDockerHub(t *testing.T) {
	ns := namespace(t)
	name := "e2e-shortname-" + ns[len(ns)-4:]
	url := testCluster.PodmanURLs()[0]
	podmanCLI := func(args ...string) {
		t.Helper()
		out, err := exec.Command("podman", append([]string{"--remote", "--url", url}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	podmanCLI("tag", busybox, "localhost/"+name+":latest")
	t.Cleanup(func() {
		_ = exec.Command("podman", "--remote", "--url", url, "rmi", "localhost/"+name+":latest").Run()
	})
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: short}
spec:
  nodeName: %s
  containers:
  - {name: main, image: %s, imagePullPolicy: IfNotPresent, command: ["sleep", "3600"]}
`, testCluster.NodeNames()[0], name), "apply", "-n", ns, "-f", "-")
	pod := waitPod(t, ns, "short", 3*time.Minute, "waiting on its image pull", func(p *corev1.Pod) bool {
		for _, s := range p.Status.ContainerStatuses {
			if w := s.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") {
				return true
			}
		}
		return false
	})
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending: the local localhost/%s must not stand in for docker.io/library/%s", pod.Status.Phase, name, name)
	}
	events, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "short").String()})
	if err != nil {
		t.Fatal(err)
	}
	want := "docker.io/library/" + name + ":latest"
	var msgs []string
	for _, e := range events.Items {
		msgs = append(msgs, e.Reason+": "+e.Message)
		if e.Reason == "Failed" && strings.Contains(e.Message, want) {
			return
		}
	}
	t.Errorf("no Failed event naming %s; events:\n%s", want, strings.Join(msgs, "\n"))
}
