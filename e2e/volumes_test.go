package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// podFolderGone waits until no node keeps volume folders of the pod.
func podFolderGone(t *testing.T, uid string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		left, _ := filepath.Glob(filepath.Join(testCluster.Config().StateDir, "kubelet", "*", "pods", uid))
		return len(left) == 0, nil
	})
	if err != nil {
		t.Errorf("the volume folders of pod %s were not removed with it", uid)
	}
}

// TestEmptyDirVolumes checks emptyDir volumes: an init container writes into one, the app container reads it (and a
// subPath of it); a Memory emptyDir is a tmpfs of its sizeLimit; the folders go with the pod.
func TestEmptyDirVolumes(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  restartPolicy: Never
  volumes:
  - {name: data, emptyDir: {}}
  - {name: fast, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
  initContainers:
  - name: writer
    image: %[1]s
    command: ["sh", "-c", "echo written-by-init > /data/msg; mkdir -p /data/sub; echo in-sub > /data/sub/file"]
    volumeMounts: [{name: data, mountPath: /data}]
  containers:
  - name: reader
    image: %[1]s
    command: ["sh", "-c", "cat /data/msg; cat /sub/file; grep ' /fast ' /proc/mounts | cut -d' ' -f3; df -k /fast | tail -1 | awk '{print $2}'"]
    volumeMounts:
    - {name: data, mountPath: /data, readOnly: true}
    - {name: data, mountPath: /sub, subPath: sub}
    - {name: fast, mountPath: /fast}
`, busybox), "apply", "-n", ns, "-f", "-")
	_, pod := watchPhases(t, ns, "shared", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: %s", pod.Status.Phase, describeStatus(pod))
	}
	got := strings.Fields(kubectl(t, "", "logs", "-n", ns, "shared", "-c", "reader"))
	want := []string{"written-by-init", "in-sub", "tmpfs", "8192"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("reader saw %q; want %q (the init container's files, a subPath, a tmpfs of 8Mi)", got, want)
	}
	if err := client.CoreV1().Pods(ns).Delete(context.Background(), "shared", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ns, "shared", 60*time.Second)
	podFolderGone(t, string(pod.UID))
}

// logsContain waits until a container's logs contain want.
func logsContain(t *testing.T, ns, pod, container, want string, timeout time.Duration) string {
	t.Helper()
	var out string
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, timeout, true, func(context.Context) (bool, error) {
		o, err := kubectlErr("", "logs", "-n", ns, pod, "-c", container)
		out = o
		return err == nil && strings.Contains(o, want), nil
	})
	if err != nil {
		t.Fatalf("logs of %s/%s never contained %q; last:\n%s", pod, container, want, out)
	}
	return out
}

// TestConfigMapSecretAndDownwardAPIVolumes checks the API data volumes inside a container: configMap items and
// modes, a secret with its defaultMode, downward API labels, all read-only; and that a ConfigMap, a Secret and a
// label change reach the running container, as with a kubelet.
func TestConfigMapSecretAndDownwardAPIVolumes(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "", "create", "configmap", "settings", "-n", ns, "--from-literal=mode=fast", "--from-literal=level=3")
	kubectl(t, "", "create", "secret", "generic", "creds", "-n", ns, "--from-literal=password=s3cret")
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: data
  labels: {app: data, round: "one"}
spec:
  volumes:
  - name: conf
    configMap:
      name: settings
      items: [{key: mode, path: app/mode.txt, mode: 0600}]
  - name: creds
    secret: {secretName: creds, defaultMode: 0400}
  - name: meta
    downwardAPI:
      items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]
  - name: optional
    configMap: {name: not-there, optional: true}
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "cat /conf/app/mode.txt; echo; stat -L -c %%a /conf/app/mode.txt; ls /conf; cat /creds/password; echo; stat -L -c %%a /creds/password; ls /optional | wc -l; touch /conf/x 2>/dev/null || echo read-only; echo ready; while true; do echo \"mode=$(cat /conf/app/mode.txt) password=$(cat /creds/password) $(grep round /meta/labels)\"; sleep 1; done"]
    volumeMounts:
    - {name: conf, mountPath: /conf}
    - {name: creds, mountPath: /creds}
    - {name: meta, mountPath: /meta}
    - {name: optional, mountPath: /optional}
`, busybox), "apply", "-n", ns, "-f", "-")
	waitPod(t, ns, "data", 90*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	out := logsContain(t, ns, "data", "main", "ready", 30*time.Second)
	head := strings.Fields(out[:strings.Index(out, "ready")])
	want := []string{"fast", "600", "app", "s3cret", "400", "0", "read-only"}
	if strings.Join(head, " ") != strings.Join(want, " ") {
		t.Errorf("container saw %q, want %q", head, want)
	}
	kubectl(t, "", "patch", "configmap", "settings", "-n", ns, "-p", `{"data":{"mode":"slow"}}`)
	kubectl(t, "", "patch", "secret", "creds", "-n", ns, "-p", `{"stringData":{"password":"n3w"}}`)
	kubectl(t, "", "label", "pod", "data", "-n", ns, "--overwrite", "round=two")
	logsContain(t, ns, "data", "main", `mode=slow password=n3w round="two"`, 60*time.Second)
}

// TestMissingConfigMapVolumeWaits checks that a pod whose configMap or secret volume does not exist waits in
// ContainerCreating with FailedMount events, and starts once the object is created.
func TestMissingConfigMapVolumeWaits(t *testing.T) {
	ns := namespace(t)
	kinds := []struct{ kind, source string }{{"configmap", "configMap: {name: later}"}, {"secret", "secret: {secretName: later}"}}
	var manifests []string
	for _, k := range kinds {
		manifests = append(manifests, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: waits-%s
spec:
  volumes: [{name: conf, %s}]
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "cat /conf/k; sleep 3600"]
    volumeMounts: [{name: conf, mountPath: /conf}]
`, k.kind, k.source, busybox))
	}
	kubectl(t, strings.Join(manifests, "---\n"), "apply", "-n", ns, "-f", "-")
	for _, k := range kinds {
		name := "waits-" + k.kind
		waitEvent(t, ns, name, "FailedMount", fmt.Sprintf(`MountVolume.SetUp failed for volume "conf" : %s "later" not found`, k.kind), 60*time.Second)
		// The status is written apart from the events, as the kubelet's is.
		pod := waitPod(t, ns, name, 30*time.Second, "ContainerCreating", func(p *corev1.Pod) bool {
			st := p.Status.ContainerStatuses
			return len(st) == 1 && st[0].State.Waiting != nil && st[0].State.Waiting.Reason == "ContainerCreating"
		})
		if pod.Status.Phase != corev1.PodPending {
			t.Errorf("while the %s is missing: %s", k.kind, describeStatus(pod))
		}
	}
	kubectl(t, "", "create", "configmap", "later", "-n", ns, "--from-literal=k=from-configmap")
	kubectl(t, "", "create", "secret", "generic", "later", "-n", ns, "--from-literal=k=from-secret")
	for _, k := range kinds {
		name := "waits-" + k.kind
		waitPod(t, ns, name, 150*time.Second, "Running once the object exists", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		logsContain(t, ns, name, "main", "from-"+k.kind, 30*time.Second)
	}
}

// TestServiceAccountTokenInClusterClient runs kubectl inside a container (mounted by a hostPath volume) with no
// configuration but the pod's: the projected service account token, ca.crt and namespace, and the kubernetes
// service's environment. The apiserver must see the pod's service account, bound to the pod.
func TestServiceAccountTokenInClusterClient(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: incluster
spec:
  restartPolicy: Never
  volumes:
  - name: kubectl
    hostPath: {path: %s, type: File}
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; /kubectl auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.extra.authentication\\.kubernetes\\.io/pod-name}'"]
    volumeMounts: [{name: kubectl, mountPath: /kubectl, readOnly: true}]
`, filepath.Join(binDir, "kubectl"), busybox), "apply", "-n", ns, "-f", "-")
	_, pod := watchPhases(t, ns, "incluster", 120*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	logs := kubectl(t, "", "logs", "-n", ns, "incluster")
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: %s\n%s", pod.Status.Phase, describeStatus(pod), logs)
	}
	want := fmt.Sprintf("%s\nsystem:serviceaccount:%s:default [\"incluster\"]", ns, ns)
	if strings.TrimSpace(logs) != want {
		t.Errorf("in-cluster kubectl said %q, want %q", logs, want)
	}
}

// TestHostPathVolumes checks that a hostPath under an allowed folder is shared with the host (DirectoryOrCreate
// makes it), and that one outside fails the pod with a clear event and CreateContainerConfigError.
func TestHostPathVolumes(t *testing.T) {
	ns := namespace(t)
	dir := filepath.Join(testCluster.Config().AllowedHostPaths[1], ns)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: host-ok
spec:
  restartPolicy: Never
  volumes: [{name: h, hostPath: {path: %s, type: DirectoryOrCreate}}]
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "echo from-container > /h/out"]
    volumeMounts: [{name: h, mountPath: /h}]
`, dir, busybox), "apply", "-n", ns, "-f", "-")
	_, pod := watchPhases(t, ns, "host-ok", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: %s", pod.Status.Phase, describeStatus(pod))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "out")); err != nil || string(b) != "from-container\n" {
		t.Errorf("host file: %q, %v", b, err)
	}

	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: host-refused
spec:
  volumes: [{name: etc, hostPath: {path: /etc}}]
  containers:
  - name: main
    image: %s
    command: ["cat", "/host/shadow"]
    volumeMounts: [{name: etc, mountPath: /host}]
`, busybox), "apply", "-n", ns, "-f", "-")
	pod = waitPod(t, ns, "host-refused", 60*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if cs := pod.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Waiting == nil || cs[0].State.Waiting.Reason != "CreateContainerConfigError" ||
		!strings.Contains(cs[0].State.Waiting.Message, `hostPath "/etc" is not under a path this node allows`) {
		t.Errorf("refused hostPath: %s", describeStatus(pod))
	}
	events := kubectl(t, "", "get", "events", "-n", ns, "--field-selector", "involvedObject.name=host-refused,reason=FailedMount", "-o", "jsonpath={.items[*].message}")
	if !strings.Contains(events, "/etc") {
		t.Errorf("no FailedMount event naming /etc: %q", events)
	}
}

// TestEmptyDirSizeLimitEviction checks that a pod writing more than its disk emptyDir's sizeLimit is evicted as
// by the kubelet's eviction manager: phase Failed, reason Evicted, the kubelet's message and event.
func TestEmptyDirSizeLimitEviction(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: grows
spec:
  volumes: [{name: scratch, emptyDir: {sizeLimit: 1Mi}}]
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "dd if=/dev/zero of=/scratch/fill bs=1024 count=4096; sleep 3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
`, busybox), "apply", "-n", ns, "-f", "-")
	wantEvicted(t, ns, "grows", `Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". `)
}

// wantEvicted waits for a pod to be evicted as by the kubelet's eviction manager: phase Failed, reason Evicted
// with the message, its containers terminated, and an Evicted event with the message.
func wantEvicted(t *testing.T, ns, name, want string) {
	t.Helper()
	pod := waitPod(t, ns, name, 90*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if pod.Status.Reason != "Evicted" || pod.Status.Message != want {
		t.Errorf("%s: status %s %q, want Evicted %q", name, pod.Status.Reason, pod.Status.Message, want)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Terminated == nil {
			t.Errorf("%s: container %s not terminated: %s", name, cs.Name, describeStatus(pod))
		}
	}
	events := kubectl(t, "", "get", "events", "-n", ns, "--field-selector", "involvedObject.name="+name+",reason=Evicted", "-o", "jsonpath={.items[*].message}")
	if !strings.Contains(events, want) {
		t.Errorf("%s: no Evicted event: %q", name, events)
	}
}

// TestEphemeralStorageEviction checks the kubelet's evictions for ephemeral-storage limits: a container whose
// writable layer outgrows its own limit, one whose logs do, and a pod whose containers together outgrow the sum
// of their limits (one has none: its usage counts toward the pod's total all the same). The pod's total is checked
// first, as by the kubelet, so a container's own limit shows beside a roomy one (spare) in the same pod.
func TestEphemeralStorageEviction(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: rootfs}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "dd if=/dev/zero of=/fill bs=1024 count=4096; sleep 3600"]
    resources: {limits: {ephemeral-storage: 1Mi}}
  - {name: spare, image: %[1]s, command: ["sleep", "3600"], resources: {limits: {ephemeral-storage: 64Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: logs}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "i=0; while [ $i -lt 40000 ]; do echo 'a line of log, long enough to fill a megabyte in no time'; i=$((i+1)); done; sleep 3600"]
    resources: {limits: {ephemeral-storage: 1Mi}}
  - {name: spare, image: %[1]s, command: ["sleep", "3600"], resources: {limits: {ephemeral-storage: 64Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: total}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: limited
    image: %[1]s
    command: ["sleep", "3600"]
    resources: {limits: {ephemeral-storage: 2Mi}}
  - name: unlimited
    image: %[1]s
    command: ["sh", "-c", "dd if=/dev/zero of=/fill bs=1024 count=4096; sleep 3600"]
`, busybox), "apply", "-n", ns, "-f", "-")
	wantEvicted(t, ns, "rootfs", `Container main exceeded its local ephemeral storage limit "1Mi". `)
	wantEvicted(t, ns, "logs", `Container main exceeded its local ephemeral storage limit "1Mi". `)
	wantEvicted(t, ns, "total", `Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. `)
}

// TestImageVolume mounts an image's files into a container read-only (spec.volumes[].image), as the kubelet does,
// and refuses a subPath into one with the reason.
func TestImageVolume(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: image-volume
spec:
  restartPolicy: Never
  volumes:
  - {name: img, image: {reference: %[1]s, pullPolicy: IfNotPresent}}
  containers:
  - name: reader
    image: %[1]s
    command: ["sh", "-c", "ls /img/bin/busybox; grep ' /img ' /proc/mounts | grep -c ' ro[ ,]'; touch /img/x 2>/dev/null || echo read-only"]
    volumeMounts: [{name: img, mountPath: /img}]
`, busybox), "apply", "-n", ns, "-f", "-")
	_, pod := watchPhases(t, ns, "image-volume", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: %s", pod.Status.Phase, describeStatus(pod))
	}
	got := strings.Fields(kubectl(t, "", "logs", "-n", ns, "image-volume", "-c", "reader"))
	want := []string{"/img/bin/busybox", "1", "read-only"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("reader saw %q; want %q (the image's files, mounted read-only)", got, want)
	}

	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: image-volume-subpath
spec:
  restartPolicy: Never
  volumes:
  - {name: img, image: {reference: %[1]s, pullPolicy: IfNotPresent}}
  containers:
  - name: reader
    image: %[1]s
    command: ["true"]
    volumeMounts: [{name: img, mountPath: /img, subPath: bin}]
`, busybox), "apply", "-n", ns, "-f", "-")
	waitPod(t, ns, "image-volume-subpath", 60*time.Second, "a refusal naming the subPath", func(p *corev1.Pod) bool {
		return strings.Contains(describeStatus(p), "subPath into an image volume is not supported")
	})
}
