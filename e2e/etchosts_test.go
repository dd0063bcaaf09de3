package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The kubelet's hosts file before a pod's own line (pkg/kubelet/kubelet_pods.go managedHostsFileContent).
const managedHostsPrologue = "# Kubernetes-managed hosts file.\n" +
	"127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"fe00::0\tip6-mcastprefix\n" +
	"fe00::1\tip6-allnodes\n" +
	"fe00::2\tip6-allrouters\n"

// TestEtcHostsKubeletManaged is the conformance spec "KubeletManagedEtcHosts should test kubelet managed /etc/hosts
// file" with exact contents: on the pod network, every container has the kubelet's hosts file but the one mounting
// a file at /etc/hosts itself; a hostNetwork pod's containers have the node's hosts file under the host-network
// header. The file lives in the pod's folder and goes with the pod.
func TestEtcHostsKubeletManaged(t *testing.T) {
	ns := namespace(t)
	// The conformance spec mounts the node's /etc/hosts (hostPath FileOrCreate); a file of the test's stands in, so
	// that nothing of this machine is mounted writable.
	hostFile := filepath.Join(testCluster.Config().StateDir, "host", ns+"-hosts")
	if err := os.WriteFile(hostFile, []byte("127.0.0.1\tlocalhost\n192.0.2.1\tstand-in-for-the-node\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(hostFile) })
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: test-pod}
spec:
  nodeName: %[2]s
  terminationGracePeriodSeconds: 1
  volumes: [{name: host-etc-hosts, hostPath: {path: %[3]s, type: FileOrCreate}}]
  containers:
  - {name: busybox-1, image: %[1]s, command: [sleep, "3600"], volumeMounts: [{name: host-etc-hosts, mountPath: /etc/hosts-original}]}
  - {name: busybox-2, image: %[1]s, command: [sleep, "3600"], volumeMounts: [{name: host-etc-hosts, mountPath: /etc/hosts-original}]}
  - name: busybox-3
    image: %[1]s
    command: [sleep, "3600"]
    volumeMounts: [{name: host-etc-hosts, mountPath: /etc/hosts-original}, {name: host-etc-hosts, mountPath: /etc/hosts}]
---
apiVersion: v1
kind: Pod
metadata: {name: test-host-network-pod}
spec:
  nodeName: %[2]s
  terminationGracePeriodSeconds: 1
  hostNetwork: true
  securityContext: {}
  volumes: [{name: host-etc-hosts, hostPath: {path: %[3]s, type: FileOrCreate}}]
  containers:
  - {name: busybox-1, image: %[1]s, command: [sleep, "3600"], volumeMounts: [{name: host-etc-hosts, mountPath: /etc/hosts-original}]}
  - {name: busybox-2, image: %[1]s, command: [sleep, "3600"], volumeMounts: [{name: host-etc-hosts, mountPath: /etc/hosts-original}]}
`, busybox, plainNode, hostFile), "apply", "-n", ns, "-f", "-")
	running := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }
	pod := waitPod(t, ns, "test-pod", 2*time.Minute, "run", running)
	hostNet := waitPod(t, ns, "test-host-network-pod", 2*time.Minute, "run", running)

	cat := func(pod, container, path string) string {
		return kubectl(t, "", "exec", "-n", ns, pod, "-c", container, "--", "cat", path)
	}
	want := managedHostsPrologue + pod.Status.PodIP + "\ttest-pod\n"
	for _, c := range []string{"busybox-1", "busybox-2"} {
		if got := cat("test-pod", c, "/etc/hosts"); got != want {
			t.Errorf("test-pod %s: /etc/hosts\n%q\nwant the kubelet's\n%q", c, got, want)
		}
	}
	if got, orig := cat("test-pod", "busybox-3", "/etc/hosts"), readFile(t, hostFile); got != orig {
		t.Errorf("test-pod busybox-3 mounts /etc/hosts itself: got\n%q\nwant its own\n%q", got, orig)
	}
	// The Podman host is this machine.
	want = "# Kubernetes-managed hosts file (host network).\n" + readFile(t, "/etc/hosts")
	for _, c := range []string{"busybox-1", "busybox-2"} {
		got := cat("test-host-network-pod", c, "/etc/hosts")
		if got != want {
			t.Errorf("test-host-network-pod %s: /etc/hosts\n%q\nwant the node's under the host-network header\n%q", c, got, want)
		}
		// What the conformance spec checks: not "managed" (the pod-network header), and not the mounted original.
		if strings.HasPrefix(got, "# Kubernetes-managed hosts file.") {
			t.Errorf("test-host-network-pod %s: /etc/hosts has the pod-network header", c)
		}
	}

	// One file per pod, in the pod's folder, gone with the pod.
	for _, p := range []*corev1.Pod{pod, hostNet} {
		file := filepath.Join(testCluster.KubeletRootDir(0), "pods", string(p.UID), "etc-hosts")
		if _, err := os.Stat(file); err != nil {
			t.Errorf("pod %s: hosts file: %v", p.Name, err)
		}
		kubectl(t, "", "delete", "pod", "-n", ns, p.Name, "--wait=true")
		err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			_, err := os.Stat(file)
			return errors.Is(err, fs.ErrNotExist), nil
		})
		if err != nil {
			t.Errorf("pod %s: hosts file %s left after the pod's deletion", p.Name, file)
		}
	}
}

// TestEtcHostsNames checks hostnames and hostAliases as the kubelet writes them: the conformance spec
// "Kubelet ... hostAliases should write entries to /etc/hosts" (also with hostNetwork), a subdomain's FQDN in
// /etc/hosts, setHostnameAsFQDN, hostnameOverride, and an FQDN too long for the kernel failing the sandbox.
func TestEtcHostsNames(t *testing.T) {
	// The test's name is short: the namespace is part of the FQDN, which must fit the kernel's 64 bytes.
	ns := namespace(t)
	pods := runToEnd(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: aliases}
spec:
  restartPolicy: Never
  hostAliases: [{ip: 123.45.67.89, hostnames: [foo, bar]}, {ip: "2001:db8::1", hostnames: [baz]}]
  containers: [{name: main, image: %[1]s, command: [cat, /etc/hosts]}]
---
apiVersion: v1
kind: Pod
metadata: {name: aliases-hostnet}
spec:
  restartPolicy: Never
  hostNetwork: true
  hostAliases: [{ip: 123.45.67.89, hostnames: [foo, bar]}]
  containers: [{name: main, image: %[1]s, command: [cat, /etc/hosts]}]
---
apiVersion: v1
kind: Pod
metadata: {name: sub}
spec:
  restartPolicy: Never
  hostname: front
  subdomain: t
  containers: [{name: main, image: %[1]s, command: [sh, -c, "hostname; cat /etc/hosts"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: fqdn}
spec:
  restartPolicy: Never
  subdomain: t
  setHostnameAsFQDN: true
  containers: [{name: main, image: %[1]s, command: [sh, -c, "hostname; cat /etc/hosts"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: override}
spec:
  restartPolicy: Never
  hostname: custom-host
  subdomain: t
  hostnameOverride: override.example.host
  containers: [{name: main, image: %[1]s, command: [sh, -c, "hostname; cat /etc/hosts"]}]
`, busybox), "aliases", "aliases-hostnet", "sub", "fqdn", "override")

	aliases := "\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n"
	pod := pods["aliases"]
	if got, want := succeeded(t, ns, pod), managedHostsPrologue+pod.Status.PodIP+"\taliases\n"+aliases+"2001:db8::1\tbaz\n"; got != want {
		t.Errorf("hostAliases: /etc/hosts\n%q\nwant\n%q", got, want)
	}
	if got, want := succeeded(t, ns, pods["aliases-hostnet"]), "# Kubernetes-managed hosts file (host network).\n"+readFile(t, "/etc/hosts")+aliases; got != want {
		t.Errorf("hostAliases with hostNetwork: /etc/hosts\n%q\nwant\n%q", got, want)
	}
	domain := ".t." + ns + ".svc.cluster.local"
	pod = pods["sub"]
	if got, want := succeeded(t, ns, pod), "front\n"+managedHostsPrologue+pod.Status.PodIP+"\tfront"+domain+"\tfront\n"; got != want {
		t.Errorf("subdomain: hostname and /etc/hosts\n%q\nwant\n%q", got, want)
	}
	pod = pods["fqdn"]
	if got, want := succeeded(t, ns, pod), "fqdn"+domain+"\n"+managedHostsPrologue+pod.Status.PodIP+"\tfqdn"+domain+"\tfqdn\n"; got != want {
		t.Errorf("setHostnameAsFQDN: hostname and /etc/hosts\n%q\nwant\n%q", got, want)
	}
	pod = pods["override"]
	if got, want := succeeded(t, ns, pod), "override.example.host\n"+managedHostsPrologue+pod.Status.PodIP+"\toverride.example.host\n"; got != want {
		t.Errorf("hostnameOverride: hostname and /etc/hosts\n%q\nwant\n%q", got, want)
	}

	// As the kubelet: the sandbox fails with FailedCreatePodSandBox, retried, and the pod stays Pending.
	long := "hostfqdnveryveryveryverylongforfqdntobemorethan64bytes-1"
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[2]s}
spec:
  restartPolicy: Never
  subdomain: t
  setHostnameAsFQDN: true
  containers: [{name: main, image: %[1]s, command: [hostname]}]
`, busybox, long), "apply", "-n", ns, "-f", "-")
	wantMsg := "Failed to create pod sandbox: failed to construct FQDN from pod hostname and cluster domain, FQDN " + long + domain + " is too long"
	var events string
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		events = kubectl(t, "", "get", "events", "-n", ns, "--field-selector", "involvedObject.name="+long+",reason=FailedCreatePodSandBox", "-o", "jsonpath={.items[*].message}")
		return strings.Contains(events, wantMsg), nil
	})
	if err != nil {
		t.Errorf("no FailedCreatePodSandBox event %q; events: %q", wantMsg, events)
	}
	if p, err := client.CoreV1().Pods(ns).Get(context.Background(), long, metav1.GetOptions{}); err != nil || p.Status.Phase != corev1.PodPending {
		t.Errorf("pod with a too long FQDN: %v, status %s; want Pending", err, describeStatus(p))
	}
}
