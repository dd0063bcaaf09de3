package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/provider/podspec"
)

// TestPodLevelResources: pod-level resources and a RuntimeClass's overhead (which the apiserver's RuntimeClass
// admission copies into spec.overhead) bound the Podman pod's own cgroup as they bound the kubelet's pod cgroup:
// the host's cgroup of the pod has cpu.shares from the requests plus the overhead, and the CFS quota and memory
// limit from the limits plus the overhead; and a container with no limit of its own is killed at the pod's memory
// limit.
func TestPodLevelResources(t *testing.T) {
	ns := namespace(t)
	class := ns + "-overhead"
	createRuntimeClass(t, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: class}, Handler: "runc",
		Overhead: &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}})
	node := testCluster.NodeNames()[0]
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: bounded}
spec:
  nodeName: %[1]s
  runtimeClassName: %[2]s
  terminationGracePeriodSeconds: 1
  resources:
    requests: {cpu: 250m, memory: 32Mi}
    limits: {cpu: 500m, memory: 64Mi}
  containers:
  - {name: main, image: %[3]s, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  nodeName: %[1]s
  restartPolicy: Never
  resources:
    limits: {memory: 32Mi}
  containers:
  - {name: main, image: %[3]s, command: ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=256M count=1"]}
`, node, class, busybox), "apply", "-n", ns, "-f", "-")

	pod := waitPod(t, ns, "bounded", 2*time.Minute, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if got := pod.Spec.Overhead.Memory().String(); got != "16Mi" {
		t.Fatalf("spec.overhead memory %q: the RuntimeClass admission did not set it", got)
	}
	cgroup := strings.TrimSpace(podmanCLI(t, testCluster.Config().StateDir, "--url", testCluster.PodmanURLs()[0],
		"pod", "inspect", "--format", "{{.CgroupPath}}", podspec.PodName(pod)))
	if cgroup == "" {
		t.Fatalf("Podman pod %s has no cgroup", podspec.PodName(pod))
	}
	// (250m + 100m) * 1024 shares; (500m + 100m) of a 100 ms period; 64Mi + 16Mi.
	want := map[string]int64{"shares": 358, "quota": 60000, "period": 100000, "memory": 80 << 20}
	if cgroupV2() {
		want["shares"] = 1 + (358-2)*9999/262142 // cpu.weight, as runc converts shares
	}
	if got := podCgroup(t, cgroup); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pod cgroup %s: %v, want %v", cgroup, got, want)
	}

	_, hog := watchPhases(t, ns, "hog", 2*time.Minute, corev1.PodSucceeded, corev1.PodFailed)
	term := hog.Status.ContainerStatuses[0].State.Terminated
	if hog.Status.Phase != corev1.PodFailed || term == nil || term.ExitCode != 137 {
		t.Errorf("a container over its pod's 32Mi memory limit (it has none of its own): %s, want Failed, killed (137)", describeStatus(hog))
	}
}

// cgroupV2 tells whether the machine has the unified cgroup hierarchy.
func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// podCgroup reads a cgroup's CPU shares (its cpu.weight on cgroup v2), CFS quota and period, and memory limit from
// the host's cgroup file system.
func podCgroup(t *testing.T, cgroup string) map[string]int64 {
	t.Helper()
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read the pod's cgroup: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	num := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("cgroup value %q: %v", s, err)
		}
		return n
	}
	if cgroupV2() {
		dir := filepath.Join("/sys/fs/cgroup", cgroup)
		quota, period, _ := strings.Cut(read(filepath.Join(dir, "cpu.max")), " ")
		return map[string]int64{"shares": num(read(filepath.Join(dir, "cpu.weight"))), "quota": num(quota), "period": num(period),
			"memory": num(read(filepath.Join(dir, "memory.max")))}
	}
	cpu, mem := filepath.Join("/sys/fs/cgroup/cpu", cgroup), filepath.Join("/sys/fs/cgroup/memory", cgroup)
	return map[string]int64{"shares": num(read(filepath.Join(cpu, "cpu.shares"))), "quota": num(read(filepath.Join(cpu, "cpu.cfs_quota_us"))),
		"period": num(read(filepath.Join(cpu, "cpu.cfs_period_us"))), "memory": num(read(filepath.Join(mem, "memory.limit_in_bytes")))}
}
