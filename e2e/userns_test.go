package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/provider/podman"
)

// usernsScript prints what a container sees of its user namespace and of the owners of its volumes, one "key
// value..." line each, then "ready", and sleeps.
const usernsScript = `echo uid_map $(cat /proc/self/uid_map); echo gid_map $(cat /proc/self/gid_map); ` +
	`echo scratch $(stat -c %u:%g /scratch); echo creds $(stat -L -c %u:%g /creds/password) $(cat /creds/password); ` +
	`touch /scratch/mine && echo mine $(stat -c %u:%g /scratch/mine); echo ready; sleep 3600`

// usernsPod is a pod printing usernsScript's lines, on node, with an emptyDir and the Secret "creds" (mode 0400,
// which only its owner reads); spec adds lines to its spec.
func usernsPod(name, node, spec string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 2
  volumes:
  - {name: scratch, emptyDir: {}}
  - {name: creds, secret: {secretName: creds, defaultMode: 0400}}
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", %q]
    volumeMounts: [{name: scratch, mountPath: /scratch}, {name: creds, mountPath: /creds}]
%s`, name, node, busybox, usernsScript, spec)
}

// usernsView waits for a usernsPod's lines and returns them by key.
func usernsView(t *testing.T, ns, pod string) map[string]string {
	t.Helper()
	waitPod(t, ns, pod, 2*time.Minute, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	out := logsContain(t, ns, pod, "main", "ready", time.Minute)
	view := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if key, value, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			view[key] = strings.Join(strings.Fields(value), " ")
		}
	}
	return view
}

// mappedBase reads the host ID that is root in a uid_map of one line "0 <base> 65536", as the kubelet maps a
// hostUsers: false pod; it fails the test for any other map.
func mappedBase(t *testing.T, pod, uidMap string) uint64 {
	t.Helper()
	f := strings.Fields(uidMap)
	if len(f) != 3 || f[0] != "0" || f[2] != "65536" {
		t.Fatalf("pod %s: uid_map %q, want 0 <base> 65536", pod, uidMap)
	}
	base, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil || base < 65536 || base%65536 != 0 {
		t.Fatalf("pod %s: user namespace from host ID %s, want a multiple of 65536 from 65536 up (never the host's first IDs)", pod, f[1])
	}
	return base
}

// TestUserNamespaces runs pods with spec.hostUsers: false on both nodes and checks from inside that each has a user
// namespace of its own, as the kubelet gives it: root is a range of 65536 host IDs, the same for UIDs and GIDs,
// never the host's first 65536, distinct for every pod (two pods of one node, and the nodes of one machine); the
// emptyDir and the Secret (0400) Berth makes for the pod are its root's, with the fsGroup's group when it has one,
// and its root reads the Secret; what it writes is its own. The Podman pod carries the range for a restarted
// berth-kubelet. Pods with hostUsers unset or true keep the host's user namespace ("0 0 4294967295").
func TestUserNamespaces(t *testing.T) {
	ns := namespace(t)
	nodes := testCluster.NodeNames()
	// The node says so, as a kubelet whose runtime handlers have user namespaces.
	node, err := client.CoreV1().Nodes().Get(context.Background(), nodes[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range node.Status.RuntimeHandlers {
		if h.Features == nil || h.Features.UserNamespaces == nil || !*h.Features.UserNamespaces {
			t.Errorf("node %s runtime handler %q: features %+v, want user namespaces", nodes[0], h.Name, h.Features)
		}
	}
	kubectl(t, "", "create", "secret", "generic", "creds", "-n", ns, "--from-literal=password=s3cret")
	pods := []struct {
		name, node, spec string
		own              bool
		group            string // the volumes' group inside
	}{
		{name: "own-fsgroup", node: nodes[0], spec: "  hostUsers: false\n  securityContext: {fsGroup: 2000}\n", own: true, group: "2000"},
		{name: "own", node: nodes[0], spec: "  hostUsers: false\n", own: true, group: "0"},
		{name: "own-other-node", node: nodes[1], spec: "  hostUsers: false\n", own: true, group: "0"},
		{name: "host-unset", node: nodes[0], group: "0"},
		{name: "host-true", node: nodes[0], spec: "  hostUsers: true\n  securityContext: {fsGroup: 2000}\n", group: "2000"},
	}
	var manifests []string
	for _, p := range pods {
		manifests = append(manifests, usernsPod(p.name, p.node, p.spec))
	}
	kubectl(t, strings.Join(manifests, "---\n"), "apply", "-n", ns, "-f", "-")

	bases := map[uint64]string{}
	for _, p := range pods {
		view := usernsView(t, ns, p.name)
		if !p.own {
			if view["uid_map"] != "0 0 4294967295" || view["gid_map"] != "0 0 4294967295" {
				t.Errorf("pod %s: uid_map %q gid_map %q, want the host's, 0 0 4294967295", p.name, view["uid_map"], view["gid_map"])
			}
		} else {
			base := mappedBase(t, p.name, view["uid_map"])
			if view["gid_map"] != view["uid_map"] {
				t.Errorf("pod %s: gid_map %q, want the uid_map's %q", p.name, view["gid_map"], view["uid_map"])
			}
			if other, taken := bases[base]; taken {
				t.Errorf("pods %s and %s share the user namespace from host ID %d", other, p.name, base)
			}
			bases[base] = p.name
			t.Logf("pod %s on %s: user namespace from host ID %d", p.name, p.node, base)
			label := podmanPodLabel(t, p.node, ns, p.name, podman.LabelUserNamespace)
			if label != strconv.FormatUint(base, 10) {
				t.Errorf("pod %s: Podman pod label %s=%q, want its range %d", p.name, podman.LabelUserNamespace, label, base)
			}
		}
		owners := "0:" + p.group
		for key, want := range map[string]string{"scratch": owners, "creds": owners + " s3cret", "mine": owners} {
			if view[key] != want {
				t.Errorf("pod %s: %s is %q inside, want %q", p.name, key, view[key], want)
			}
		}
	}
}

// podmanPodLabel reads a label of the Podman pod of the pod ns/name on node.
func podmanPodLabel(t *testing.T, node, ns, name, label string) string {
	t.Helper()
	ctx := context.Background()
	for i, n := range testCluster.NodeNames() {
		if n != node {
			continue
		}
		rt, err := podman.Dial(ctx, testCluster.PodmanURLs()[i])
		if err != nil {
			t.Fatal(err)
		}
		list, err := rt.ListPods(ctx, map[string]string{podman.LabelNamespace: ns, podman.LabelName: name})
		if err != nil || len(list) != 1 {
			t.Fatalf("Podman pods of %s/%s on %s: %v, %v", ns, name, node, list, err)
		}
		return list[0].Labels[label]
	}
	t.Fatalf("no node %s", node)
	return ""
}

// TestUserNamespacesAfterKubeletRestart restarts a node's virtual kubelet while a hostUsers: false pod runs: the
// pod is adopted in its user namespace, and a pod created after the restart gets another, as the kubelet reads its
// allocations back after a restart.
func TestUserNamespacesAfterKubeletRestart(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	node := testCluster.NodeNames()[0]
	kubectl(t, "", "create", "secret", "generic", "creds", "-n", ns, "--from-literal=password=s3cret")
	kubectl(t, usernsPod("before", node, "  hostUsers: false\n"), "apply", "-n", ns, "-f", "-")
	view := usernsView(t, ns, "before")
	base := mappedBase(t, "before", view["uid_map"])
	running, err := client.CoreV1().Pods(ns).Get(ctx, "before", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	if err := testCluster.StopNode(0); err != nil {
		t.Fatal(err)
	}
	if err := testCluster.StartNode(ctx, 0); err != nil {
		t.Fatalf("restart node: %v", err)
	}
	kubectl(t, usernsPod("after", node, "  hostUsers: false\n"), "apply", "-n", ns, "-f", "-")
	after := mappedBase(t, "after", usernsView(t, ns, "after")["uid_map"])
	if after == base {
		t.Errorf("the pod created after the restart got the adopted pod's user namespace, from host ID %d", base)
	}
	adopted := waitPod(t, ns, "before", time.Minute, "Running after the restart", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	if got, was := adopted.Status.ContainerStatuses[0].ContainerID, running.Status.ContainerStatuses[0].ContainerID; got != was {
		t.Errorf("the adopted pod's container is %s, want the one running before the restart, %s", got, was)
	}
	if label := podmanPodLabel(t, node, ns, "before", podman.LabelUserNamespace); label != strconv.FormatUint(base, 10) {
		t.Errorf("the adopted pod's Podman pod label %s=%q, want %d", podman.LabelUserNamespace, label, base)
	}
}

// TestUnmaskedProc: procMount Unmasked (which the API allows only with hostUsers: false) runs the container
// without the runtime's masked /proc paths, read from its mount table; Default keeps them masked (/proc/kcore
// and others are mounts over the real files).
func TestUnmaskedProc(t *testing.T) {
	ns := namespace(t)
	var manifests []string
	for name, mount := range map[string]string{"masked": "Default", "unmasked": "Unmasked"} {
		manifests = append(manifests, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  nodeName: %s
  restartPolicy: Never
  hostUsers: false
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "grep -c -E ' /proc/(kcore|keys|timer_list|scsi) ' /proc/self/mountinfo; true"]
    securityContext: {procMount: %s}
`, name, testCluster.NodeNames()[0], busybox, mount))
	}
	kubectl(t, strings.Join(manifests, "---\n"), "apply", "-n", ns, "-f", "-")
	masks := map[string]string{}
	for _, name := range []string{"masked", "unmasked"} {
		runToSuccess(t, ns, name)
		masks[name] = strings.TrimSpace(kubectl(t, "", "logs", "-n", ns, name))
	}
	if masks["masked"] == "0" || masks["unmasked"] != "0" {
		t.Errorf("masked /proc paths: %s with procMount Default, %s with Unmasked; want some, then none", masks["masked"], masks["unmasked"])
	}
}
