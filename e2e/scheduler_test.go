package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/berth-dev/berth/internal/cluster"
	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/provider/podman"
)

// TestBerthSchedulerSpreadsReplicas checks that a 6-replica Deployment on the berth-scheduler profile spreads 3/3
// over the two Podman nodes, and that each pod records the decision (node and score breakdown).
func TestBerthSchedulerSpreadsReplicas(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: spread
spec:
  replicas: 6
  selector:
    matchLabels: {app: spread}
  template:
    metadata:
      labels: {app: spread}
    spec:
      schedulerName: berth-scheduler
      terminationGracePeriodSeconds: 2
      containers:
      - name: main
        image: %s
        command: ["sleep", "3600"]
        resources:
          requests: {cpu: 10m, memory: 8Mi}
`, busybox), "apply", "-n", ns, "-f", "-")
	kubectl(t, "", "rollout", "status", "-n", ns, "deployment/spread", "--timeout=120s")
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: labels.Set{"app": "spread"}.String()})
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, p := range pods.Items {
		perNode[p.Spec.NodeName]++
		if got := p.Annotations[wellknown.AnnotationScheduledNode]; got != p.Spec.NodeName {
			t.Errorf("pod %s: %s=%q, bound to %q", p.Name, wellknown.AnnotationScheduledNode, got, p.Spec.NodeName)
		}
		var rec struct {
			Node  string `json:"node"`
			Score *struct {
				Total, Spread, Load, Image int64
			} `json:"score"`
		}
		if err := json.Unmarshal([]byte(p.Annotations[wellknown.AnnotationScore]), &rec); err != nil || rec.Node != p.Spec.NodeName || rec.Score == nil {
			t.Errorf("pod %s: score annotation %q (err %v)", p.Name, p.Annotations[wellknown.AnnotationScore], err)
		}
	}
	for _, n := range testCluster.NodeNames() {
		if perNode[n] != 3 {
			t.Errorf("replicas per node %v, want 3 on each of %v", perNode, testCluster.NodeNames())
			break
		}
	}
}

// TestBerthSchedulerReportsTooLargePod checks that a pod no node can hold stays Pending, with PodmanFit's reason
// in its FailedScheduling event.
func TestBerthSchedulerReportsTooLargePod(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: huge
spec:
  schedulerName: berth-scheduler
  containers:
  - name: main
    image: %s
    command: ["sleep", "3600"]
    resources:
      requests: {memory: 100Ti}
`, busybox), "apply", "-n", ns, "-f", "-")
	checkUnschedulable(t, ns, "huge", "Insufficient memory: requested 100Ti, free")
}

// checkUnschedulable waits for a FailedScheduling event of the pod whose message gives reason for every node,
// and checks that the pod is Pending and unbound.
func checkUnschedulable(t *testing.T, ns, pod, reason string) {
	t.Helper()
	all := fmt.Sprintf("0/%d nodes are available", len(testCluster.NodeNames()))
	var msgs []string
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.Set{"involvedObject.name": pod, "reason": "FailedScheduling"}.String()})
		if err != nil {
			return false, nil
		}
		msgs = msgs[:0]
		for _, ev := range evs.Items {
			if strings.Contains(ev.Message, reason) && strings.Contains(ev.Message, all) {
				return true, nil
			}
			msgs = append(msgs, ev.Message)
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no FailedScheduling event for pod %s with %q and %q: %v; events: %q", pod, all, reason, err, msgs)
	}
	p, err := client.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodPending || p.Spec.NodeName != "" {
		t.Errorf("pod %s is %s on %q, want Pending and unbound", pod, p.Status.Phase, p.Spec.NodeName)
	}
}

// TestBerthSchedulerKeepsClaimPending checks that a pod whose persistent volume claim no Podman node can mount (here
// one a dynamic provisioner would make a volume for: Berth mounts hostPath and local volumes only) stays Pending,
// with PodmanFit's reason naming the claim and why, instead of being bound to a Podman node that would fail it;
// and that nothing was provisioned for it. (TestPersistentVolumeClaims keeps a claim bound to an nfs volume Pending.)
func TestBerthSchedulerKeepsClaimPending(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	// A StorageClass is cluster-wide: one of this namespace's name. WaitForFirstConsumer, so that VolumeBinding
	// passes the nodes (the claim would be provisioned once the pod has one) and PodmanFit decides.
	class := ns + "-dynamic"
	createStorageClass(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: class}, Provisioner: "example.com/e2e",
		VolumeBindingMode: new(storagev1.VolumeBindingWaitForFirstConsumer)})
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: %s
  resources:
    requests: {storage: 1Gi}
`, class), "apply", "-n", ns, "-f", "-")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "claim"},
		Spec: corev1.PodSpec{
			SchedulerName: "berth-scheduler",
			Containers: []corev1.Container{{Name: "main", Image: busybox, Command: []string{"sleep", "3600"},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}},
		},
	}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	checkUnschedulable(t, ns, "claim", fmt.Sprintf("Podman nodes mount only hostPath and local persistent volumes: spec.volumes[data] (claim data: StorageClass %s provisions its volumes with example.com/e2e)", class))
	c, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status.Phase != corev1.ClaimPending || c.Annotations["volume.kubernetes.io/selected-node"] != "" {
		t.Errorf("claim data: phase %s, annotations %v; want Pending with no node selected for provisioning", c.Status.Phase, c.Annotations)
	}
}

// TestBerthSchedulerPrefersNodeWithImage imports an image into the second node's Podman only and checks that a pod
// using it lands there.
func TestBerthSchedulerPrefersNodeWithImage(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	nodes := testCluster.NodeNames()
	target := nodes[len(nodes)-1]
	image := "localhost/berth/only-on-last:" + strings.TrimPrefix(ns, "e2e-")[:8]
	rt, err := podman.Dial(ctx, testCluster.PodmanURLs()[len(nodes)-1])
	if err != nil {
		t.Fatal(err)
	}
	rootfs, err := cluster.BusyboxRootfs()
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.ImportImage(ctx, image, bytes.NewReader(rootfs)); err != nil {
		t.Fatal(err)
	}
	// Wait until the node reports the image, as the scheduler sees it.
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, target, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, im := range n.Status.Images {
			for _, name := range im.Names {
				if name == image {
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("node %s never reported image %s", target, image)
	}
	kubectl(t, "", "run", "local", "-n", ns, "--image="+image, "--overrides", `{"spec":{"schedulerName":"berth-scheduler"}}`, "--", "sleep", "3600")
	pod := waitPod(t, ns, "local", 60*time.Second, "bound", func(p *corev1.Pod) bool { return p.Spec.NodeName != "" })
	if pod.Spec.NodeName != target {
		t.Errorf("pod landed on %s (score %s), want %s which stores its image", pod.Spec.NodeName, pod.Annotations[wellknown.AnnotationScore], target)
	}
}

// TestSchedulerRefusesBadPluginArgs checks that the scheduler refuses to start on bad plugin arguments, naming the
// field: an unknown field, a negative weight, all weights zero.
func TestSchedulerRefusesBadPluginArgs(t *testing.T) {
	kubeconfig := testCluster.Kubeconfig()
	tests := []struct {
		name, args, want string
	}{
		{"unknown field", "spreadWieght: 3", `decoding args for plugin PodmanScore: strict decoding error: unknown field \"spreadWieght\"`},
		{"negative weight", "spreadWeight: -1", "spreadWeight: Invalid value: -1: must be between 0 and 100"},
		{"all weights zero", "spreadWeight: 0\n          loadWeight: 0\n          imageWeight: 0\n          topologySpreadWeight: 0", "spreadWeight: Invalid value: 0: at least one weight (spreadWeight, loadWeight, imageWeight, topologySpreadWeight) must be greater than 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %s
leaderElection:
  leaderElect: false
profiles:
  - schedulerName: bad
    plugins:
      multiPoint:
        enabled:
          - name: PodmanScore
    pluginConfig:
      - name: PodmanScore
        args:
          %s
`, kubeconfig, tc.args)
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, filepath.Join(binDir, "berth-scheduler"), "--config", path, "--secure-port", "0").CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("the scheduler started on bad arguments; output:\n%s", out)
			}
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("err=%v; output lacks %q:\n%s", err, tc.want, out)
			}
		})
	}
}

// TestBerthSchedulerPreempts checks preemption with the berth-scheduler profile, whose DefaultPreemption stays as
// in-tree: on a Berth node whose CPU a low-priority pod holds, a high-priority pod that fits only without it
// preempts it. The victim is deleted with the DisruptionTarget condition (PreemptionByScheduler), the preemptor is
// nominated to the node and then runs there.
func TestBerthSchedulerPreempts(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	node := testCluster.NodeNames()[0]
	for name, value := range map[string]int32{ns + "-low": 1, ns + "-high": 1000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = client.SchedulingV1().PriorityClasses().Delete(context.Background(), name, metav1.DeleteOptions{})
		})
	}
	// Each pod asks for most of the CPU the node has left, so that either fits alone and not both.
	cpu := freeMilliCPU(t, node) - 100
	if cpu < 200 {
		t.Fatalf("node %s has only %dm CPU left for the test", node, cpu+100)
	}
	manifest := func(name, priority string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  schedulerName: berth-scheduler
  priorityClassName: %s
  nodeSelector: {kubernetes.io/hostname: %s}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    command: ["sleep", "3600"]
    resources:
      requests: {cpu: %dm}
`, name, priority, node, busybox, cpu)
	}
	kubectl(t, manifest("low", ns+"-low"), "apply", "-n", ns, "-f", "-")
	waitPod(t, ns, "low", 2*time.Minute, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	w := watchPod(wctx, t, ns, "low")
	defer w.Stop()
	kubectl(t, manifest("high", ns+"-high"), "apply", "-n", ns, "-f", "-")
	var disruption *corev1.PodCondition
	for ev := range w.ResultChan() {
		if ev.Type == watch.Deleted {
			break
		}
		if p, ok := ev.Object.(*corev1.Pod); ok {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
					disruption = c.DeepCopy()
				}
			}
		}
	}
	if wctx.Err() != nil {
		t.Fatalf("the low-priority pod was not deleted: %v", wctx.Err())
	}
	if disruption == nil || disruption.Reason != "PreemptionByScheduler" {
		t.Errorf("the victim's DisruptionTarget condition: %+v, want reason PreemptionByScheduler", disruption)
	}
	high := waitPod(t, ns, "high", 2*time.Minute, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if high.Spec.NodeName != node {
		t.Errorf("the preemptor runs on %q, want %s", high.Spec.NodeName, node)
	}
	waitEvent(t, ns, "low", "Preempted", "Preempted by pod "+string(high.UID)+" on node "+node, 30*time.Second)
}

// freeMilliCPU is the CPU of a node's allocatable that its pods do not request, in millicores.
func freeMilliCPU(t *testing.T, node string) int64 {
	t.Helper()
	ctx := context.Background()
	n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
	if err != nil {
		t.Fatal(err)
	}
	free := n.Status.Allocatable.Cpu().MilliValue()
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, c := range p.Spec.Containers {
			free -= c.Resources.Requests.Cpu().MilliValue()
		}
	}
	return free
}
