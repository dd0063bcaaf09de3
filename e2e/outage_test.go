package e2e

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/berth-dev/berth/provider"
	"github.com/berth-dev/berth/provider/podman"
)

// outageGrace and outageNodeGrace are node 0's --podman-unreachable-grace and --podman-unreachable-node-grace
// (see main_test.go), well within the 30 s outage below: with the node's default grace of 30 s it would turn
// NotReady only as Podman comes back.
const (
	outageGrace     = 10 * time.Second
	outageNodeGrace = 10 * time.Second
)

// TestPodmanOutage stops node 0's Podman service for 30 s under a running pod and a completed one, as
// `systemctl stop podman` does (the containers run on under conmon). The node goes Ready=False once Podman has not
// answered for its grace, and back; beyond the pods' grace the running pod reports phase Unknown, not Ready, with
// reason PodmanUnreachable, while the completed one stays Succeeded; once Podman answers, the running pod is
// Running and Ready again with the very same container, started once and never restarted. A pod created during
// the outage (restartPolicy Never, which a failed start would fail) waits for Podman and then runs.
func TestPodmanOutage(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	node := testCluster.NodeNames()[0]
	overrides := `{"spec":{"nodeName":"` + node + `","terminationGracePeriodSeconds":2}}`
	kubectl(t, "", "run", "runner", "-n", ns, "--image="+busybox, "--overrides", overrides, "--", "sleep", "3600")
	kubectl(t, "", "run", "done", "-n", ns, "--restart=Never", "--image="+busybox, "--overrides", overrides, "--", "true")
	runner := waitPod(t, ns, "runner", 60*time.Second, "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	waitPod(t, ns, "done", 60*time.Second, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	before := runner.Status.ContainerStatuses[0]
	id := strings.TrimPrefix(before.ContainerID, "podman://")
	rt, err := podman.Dial(ctx, testCluster.PodmanURLs()[0])
	if err != nil {
		t.Fatal(err)
	}
	started, err := rt.InspectContainer(ctx, id)
	if err != nil || !started.Running {
		t.Fatalf("runner's container before the outage: %+v, %v", started, err)
	}

	// Every phase both pods report from now on.
	phases := watchNamespacePhases(t, ns)

	if err := testCluster.StopPodman(0); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	stopped := true
	t.Cleanup(func() {
		// Other tests need the node's Podman.
		if stopped {
			if err := testCluster.StartPodman(ctx, 0); err != nil {
				t.Errorf("start Podman again: %v", err)
			}
		}
	})

	// Podman last answered no later than the stop, so the node turns NotReady at most the grace after it (the
	// observation that finds the grace over fails at once: the socket refuses); the rest is room for load.
	waitNode(t, node, outageNodeGrace+20*time.Second, "Ready=False (PodmanUnreachable)", func(n *corev1.Node) bool {
		reason, ok := nodeReadyReason(n, corev1.ConditionFalse)
		return ok && reason == "PodmanUnreachable"
	})
	t.Logf("node %s NotReady %s after Podman stopped (grace %s)", node, time.Since(down).Round(time.Second), outageNodeGrace)
	// Its runner meets an unreachable Podman at once.
	kubectl(t, "", "run", "late", "-n", ns, "--restart=Never", "--image="+busybox, "--overrides", overrides, "--", "sleep", "3600")
	unknown := waitPod(t, ns, "runner", outageGrace+20*time.Second, "phase Unknown", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodUnknown
	})
	if took := time.Since(down); took < outageGrace {
		t.Errorf("the runner went Unknown %s after Podman stopped, before the grace of %s", took, outageGrace)
	}
	if unknown.Status.Reason != provider.ReasonPodmanUnreachable || !strings.Contains(unknown.Status.Message, "Podman has not answered since") {
		t.Errorf("Unknown pod's reason/message = %q/%q, want %s and since when", unknown.Status.Reason, unknown.Status.Message, provider.ReasonPodmanUnreachable)
	}
	for _, typ := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		if !podConditionIs(unknown, typ, corev1.ConditionFalse, provider.ReasonPodmanUnreachable) {
			t.Errorf("Unknown pod's %s condition: want False with reason %s; conditions %+v", typ, provider.ReasonPodmanUnreachable, unknown.Status.Conditions)
		}
	}
	if got := unknown.Status.ContainerStatuses; len(got) != 1 || got[0].ContainerID != before.ContainerID || got[0].State.Running == nil {
		t.Errorf("Unknown pod's container statuses %+v, want the last known (running %s)", got, before.ContainerID)
	}
	if p, err := client.CoreV1().Pods(ns).Get(ctx, "done", metav1.GetOptions{}); err != nil || p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("completed pod during the outage: %s, %v; want Succeeded", describeStatus(p), err)
	}

	time.Sleep(time.Until(down.Add(30 * time.Second)))
	if err := testCluster.StartPodman(ctx, 0); err != nil {
		t.Fatalf("start Podman again: %v", err)
	}
	stopped = false

	waitNode(t, node, 30*time.Second, "Ready=True again", nodeReady)
	after := waitPod(t, ns, "runner", 30*time.Second, "Running and Ready again", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	if got := after.Status.ContainerStatuses[0]; got.ContainerID != before.ContainerID || got.RestartCount != 0 || got.State.Running == nil ||
		!got.State.Running.StartedAt.Equal(&before.State.Running.StartedAt) {
		t.Errorf("runner's container after the outage: id %s restarts %d state %+v; want %s, 0 restarts, running since %v",
			got.ContainerID, got.RestartCount, got.State, before.ContainerID, before.State.Running.StartedAt)
	}
	if st, err := rt.InspectContainer(ctx, id); err != nil || !st.Running || !st.StartedAt.Equal(started.StartedAt) {
		t.Errorf("runner's container in Podman after the outage: %+v, %v; want running, started at %v (once)", st, err, started.StartedAt)
	}
	if ids, err := rt.ListContainers(ctx, map[string]string{podman.LabelNamespace: ns, podman.LabelName: "runner", podman.LabelContainer: "runner"}); err != nil || len(ids) != 1 {
		t.Errorf("runner's containers in Podman after the outage: %+v, %v; want the one", ids, err)
	}
	if p, err := client.CoreV1().Pods(ns).Get(ctx, "done", metav1.GetOptions{}); err != nil || p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("completed pod after the outage: %s, %v; want Succeeded", describeStatus(p), err)
	}
	late := waitPod(t, ns, "late", 60*time.Second, "Running after the outage", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	if rc := late.Status.ContainerStatuses[0].RestartCount; rc != 0 {
		t.Errorf("pod created during the outage: restartCount %d, want 0", rc)
	}
	// The watch may lag behind the reads above.
	var seen map[string][]corev1.PodPhase
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		seen = phases()
		running := func(l []corev1.PodPhase) bool { return len(l) > 0 && l[len(l)-1] == corev1.PodRunning }
		return running(seen["runner"]) && running(seen["late"]), nil
	})
	t.Logf("phases seen from the outage on: %v", seen)
	if got := seen["late"]; len(got) == 0 || slices.Contains(got, corev1.PodFailed) || got[len(got)-1] != corev1.PodRunning {
		t.Errorf("phases of the pod created during the outage: %v, want it Running in the end and never Failed", got)
	}
	if got := seen["done"]; len(got) > 1 || (len(got) == 1 && got[0] != corev1.PodSucceeded) {
		t.Errorf("completed pod's phases during and after the outage: %v, want Succeeded only", got)
	}
	if got, want := seen["runner"], []corev1.PodPhase{corev1.PodUnknown, corev1.PodRunning}; !slices.Equal(got, want) && !slices.Equal(got, append([]corev1.PodPhase{corev1.PodRunning}, want...)) {
		t.Errorf("runner's phases during and after the outage: %v, want %v", got, want)
	}
}

// watchNamespacePhases watches the pods of ns from now on; the function returned gives, by pod name, the distinct
// phases reported in order.
func watchNamespacePhases(t *testing.T, ns string) func() map[string][]corev1.PodPhase {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		t.Fatalf("watch pods: %v", err)
	}
	var mu sync.Mutex
	seen := map[string][]corev1.PodPhase{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			mu.Lock()
			if l := seen[pod.Name]; len(l) == 0 || l[len(l)-1] != pod.Status.Phase {
				seen[pod.Name] = append(l, pod.Status.Phase)
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		w.Stop()
		<-done
	})
	return func() map[string][]corev1.PodPhase {
		mu.Lock()
		defer mu.Unlock()
		out := map[string][]corev1.PodPhase{}
		for k, v := range seen {
			out[k] = append([]corev1.PodPhase{}, v...)
		}
		return out
	}
}

// podConditionIs tells whether the pod has the condition with the status and the reason.
func podConditionIs(p *corev1.Pod, typ corev1.PodConditionType, status corev1.ConditionStatus, reason string) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c.Status == status && c.Reason == reason
		}
	}
	return false
}

// nodeReadyReason is the reason of the node's Ready condition when its status is status, "" otherwise.
func nodeReadyReason(n *corev1.Node, status corev1.ConditionStatus) (string, bool) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == status {
			return c.Reason, true
		}
	}
	return "", false
}
