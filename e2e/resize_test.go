package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The in-place resize tests port the checks of the upstream conformance specs (test/e2e/common/node/pod_resize.go
// and its helpers in test/e2e/common/node/framework): the pod's spec, its containers' status resources and
// allocatedResources, the cgroup values read inside each container (cgroup v1: memory.limit_in_bytes,
// cpu.cfs_quota_us, cpu.shares), restart counts, observedGeneration and the resize conditions.

// resizable is one container of a resize test, as the upstream ResizableContainerInfo: requests and limits of
// cpu and memory ("" for none), its resize policies ("" for none) and the restarts expected of it.
type resizable struct {
	name                           string
	cpuReq, cpuLim, memReq, memLim string
	cpuPolicy, memPolicy           corev1.ResourceResizeRestartPolicy
	restarts                       int32
}

// requirements are the container's resources as the upstream ContainerResources builds them (nil lists when
// empty).
func (c resizable) requirements() corev1.ResourceRequirements {
	var out corev1.ResourceRequirements
	add := func(l *corev1.ResourceList, name corev1.ResourceName, v string) {
		if v == "" {
			return
		}
		if *l == nil {
			*l = corev1.ResourceList{}
		}
		(*l)[name] = resource.MustParse(v)
	}
	add(&out.Limits, corev1.ResourceCPU, c.cpuLim)
	add(&out.Limits, corev1.ResourceMemory, c.memLim)
	add(&out.Requests, corev1.ResourceCPU, c.cpuReq)
	add(&out.Requests, corev1.ResourceMemory, c.memReq)
	return out
}

func (c resizable) container() corev1.Container {
	out := corev1.Container{
		Name:      c.name,
		Image:     busybox,
		Command:   []string{"/bin/sh"},
		Args:      []string{"-c", "grep Cpus_allowed_list /proc/self/status | cut -f2 && sleep 1d"},
		Resources: c.requirements(),
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	if c.cpuPolicy != "" {
		out.ResizePolicy = append(out.ResizePolicy, corev1.ContainerResizePolicy{ResourceName: corev1.ResourceCPU, RestartPolicy: c.cpuPolicy})
	}
	if c.memPolicy != "" {
		out.ResizePolicy = append(out.ResizePolicy, corev1.ContainerResizePolicy{ResourceName: corev1.ResourceMemory, RestartPolicy: c.memPolicy})
	}
	return out
}

// resizeTestPod is the upstream MakePodWithResizableContainers with the restricted security it mixes in.
func resizeTestPod(name, node string, cs []resizable) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			OS:                            &corev1.PodOS{Name: corev1.Linux},
			RestartPolicy:                 corev1.RestartPolicyOnFailure,
			TerminationGracePeriodSeconds: new(int64(0)),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   new(true),
				RunAsUser:      new(int64(1000)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		},
	}
	for _, c := range cs {
		pod.Spec.Containers = append(pod.Spec.Containers, c.container())
	}
	return pod
}

// resizePatch is the upstream MakeResizePatch: a strategic merge patch from one set of containers to another.
func resizePatch(t *testing.T, from, to []resizable) []byte {
	t.Helper()
	a, err := json.Marshal(resizeTestPod("", "", from))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(resizeTestPod("", "", to))
	if err != nil {
		t.Fatal(err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(a, b, corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	return patch
}

// createResizable creates the pod and waits until it runs and is ready, then checks it as the upstream
// createAndVerifyPod does.
func createResizable(t *testing.T, ns string, pod *corev1.Pod, cs []resizable) *corev1.Pod {
	t.Helper()
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	got := waitPod(t, ns, pod.Name, 2*time.Minute, "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	verifySpecResources(t, got, cs)
	if err := verifyStatusResources(got, cs); err != nil {
		t.Fatalf("status resources of the new pod: %v", err)
	}
	verifyCgroups(t, got, cs)
	return got
}

func resizeCondition(p *corev1.Pod) *corev1.PodCondition {
	for i, c := range p.Status.Conditions {
		if c.Type == corev1.PodResizePending || c.Type == corev1.PodResizeInProgress {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// verifySpecResources is the upstream VerifyPodResources and VerifyPodResizePolicy.
func verifySpecResources(t *testing.T, pod *corev1.Pod, cs []resizable) {
	t.Helper()
	for _, c := range cs {
		i := slices.IndexFunc(pod.Spec.Containers, func(s corev1.Container) bool { return s.Name == c.name })
		if i < 0 {
			t.Fatalf("no container %s in the pod's spec", c.name)
		}
		want := c.container()
		if got := pod.Spec.Containers[i]; !apiequality.Semantic.DeepEqual(got.Resources, want.Resources) || !cmp.Equal(got.ResizePolicy, want.ResizePolicy) {
			t.Errorf("spec of %s: resources %v policy %v, want %v %v", c.name, got.Resources, got.ResizePolicy, want.Resources, want.ResizePolicy)
		}
	}
}

// verifyStatusResources is the upstream VerifyPodStatusResources: each container's allocatedResources are its
// requests and its resources its requirements.
func verifyStatusResources(pod *corev1.Pod, cs []resizable) error {
	if len(pod.Status.ContainerStatuses) != len(cs) {
		return fmt.Errorf("%d container statuses, want %d", len(pod.Status.ContainerStatuses), len(cs))
	}
	var errs []string
	for i, c := range cs {
		st := pod.Status.ContainerStatuses[i]
		want := c.requirements()
		if st.Name != c.name {
			errs = append(errs, fmt.Sprintf("status %d is of %s, want %s", i, st.Name, c.name))
			continue
		}
		if !cmp.Equal(st.AllocatedResources, want.Requests) {
			errs = append(errs, fmt.Sprintf("%s: allocatedResources %v, want %v", c.name, st.AllocatedResources, want.Requests))
		}
		if st.Resources == nil || !cmp.Equal(*st.Resources, want) {
			errs = append(errs, fmt.Sprintf("%s: resources %v, want %v", c.name, st.Resources, want))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// cgroupValues reads a container's memory limit, CFS quota and cpu.shares inside it, as the upstream tests do.
func cgroupValues(ns, pod, container string) (memLimit, quota, shares int64, err error) {
	out, err := kubectlErr("", "exec", "-n", ns, pod, "-c", container, "--", "sh", "-c",
		"head -n 1 /sys/fs/cgroup/memory/memory.limit_in_bytes; head -n 1 /sys/fs/cgroup/cpu/cpu.cfs_quota_us; head -n 1 /sys/fs/cgroup/cpu/cpu.shares")
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read cgroup of %s: %w: %s", container, err, out)
	}
	f := strings.Fields(out)
	if len(f) != 3 {
		return 0, 0, 0, fmt.Errorf("cgroup of %s: %q", container, out)
	}
	var v [3]int64
	for i := range f {
		if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("cgroup of %s: %q: %w", container, out, err)
		}
	}
	return v[0], v[1], v[2], nil
}

func memBytes(v string) int64 {
	q := resource.MustParse(v)
	return q.Value()
}

// expectedQuotas are the CFS quotas the upstream getCPULimitCgroupExpectations accepts for a CPU limit: the
// kubelet's MilliCPUToQuota (-1 without a limit), or that of the limit rounded up to 10m.
func expectedQuotas(limit string) []int64 {
	if limit == "" {
		return []int64{-1}
	}
	quota := func(milli int64) int64 { return max(milli*100, 1000) }
	q := resource.MustParse(limit)
	milli := q.MilliValue()
	out := []int64{quota(milli)}
	if milli%10 != 0 {
		out = append(out, quota((milli/10+1)*10))
	}
	return out
}

// verifyCgroups is the upstream VerifyPodContainersCgroupValues: polled, as it is upstream, since the values may
// take a moment to be read back.
func verifyCgroups(t *testing.T, pod *corev1.Pod, cs []resizable) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, time.Minute, true, func(context.Context) (bool, error) {
		last = nil
		for _, c := range cs {
			mem, quota, shares, err := cgroupValues(pod.Namespace, pod.Name, c.name)
			if err != nil {
				last = err
				return false, nil
			}
			switch {
			case c.memLim != "" && mem != memBytes(c.memLim):
				last = fmt.Errorf("%s: memory.limit_in_bytes %d, want %s", c.name, mem, c.memLim)
			case !slices.Contains(expectedQuotas(c.cpuLim), quota):
				last = fmt.Errorf("%s: cpu.cfs_quota_us %d, want one of %v", c.name, quota, expectedQuotas(c.cpuLim))
			case shares <= 0:
				last = fmt.Errorf("%s: cpu.shares %d, want > 0", c.name, shares)
			}
			if last != nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("cgroup values of %s: %v", pod.Name, last)
	}
}

// waitResizeActuated is the upstream WaitForPodResizeActuation: observedGeneration caught up, no resize condition
// left, the pod ready; an infeasible resize fails at once.
func waitResizeActuated(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	return waitPod(t, ns, name, 2*time.Minute, "resize actuated", func(p *corev1.Pod) bool {
		if c := resizeCondition(p); c != nil && c.Reason == corev1.PodReasonInfeasible {
			t.Fatalf("resize is infeasible: %s", c.Message)
		}
		return p.Status.ObservedGeneration >= p.Generation && resizeCondition(p) == nil && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
}

// expectResized is the upstream ExpectPodResized: cgroup values, status resources, restart counts (on top of
// restartsBefore), no resize condition.
func expectResized(t *testing.T, pod *corev1.Pod, cs []resizable, restartsBefore map[string]int32) {
	t.Helper()
	verifyCgroups(t, pod, cs)
	if err := verifyStatusResources(pod, cs); err != nil {
		t.Errorf("status resources after the resize: %v", err)
	}
	for i, c := range cs {
		if got, want := pod.Status.ContainerStatuses[i].RestartCount, restartsBefore[c.name]+c.restarts; got != want {
			t.Errorf("%s: restartCount %d, want %d", c.name, got, want)
		}
	}
	if c := resizeCondition(pod); c != nil {
		t.Errorf("resize condition left: %+v", c)
	}
}

func restartCounts(pod *corev1.Pod) map[string]int32 {
	out := map[string]int32{}
	for _, st := range pod.Status.ContainerStatuses {
		out[st.Name] = st.RestartCount
	}
	return out
}

// patchAndVerify is the upstream patchAndVerify: resize through the resize subresource, wait for it, check it,
// and check that cpu.shares moved the way the CPU request did.
func patchAndVerify(t *testing.T, pod *corev1.Pod, from, to []resizable) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	before := map[string]int64{}
	for _, c := range from {
		if _, _, shares, err := cgroupValues(pod.Namespace, pod.Name, c.name); err == nil {
			before[c.name] = shares
		}
	}
	patched, err := client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, resizePatch(t, from, to), metav1.PatchOptions{}, "resize")
	if err != nil {
		t.Fatalf("patch pod for resize: %v", err)
	}
	restarts := restartCounts(patched)
	verifySpecResources(t, patched, to)
	resized := waitResizeActuated(t, pod.Namespace, pod.Name)
	expectResized(t, resized, to, restarts)
	for i, c := range to {
		old, ok := before[c.name]
		if !ok {
			continue
		}
		_, _, now, err := cgroupValues(pod.Namespace, pod.Name, c.name)
		if err != nil {
			continue
		}
		oldMilli, newMilli := effectiveCPU(from[i]), effectiveCPU(c)
		if (newMilli > oldMilli && now < old) || (newMilli < oldMilli && now > old) {
			t.Errorf("%s: cpu.shares went from %d to %d while the CPU request went from %dm to %dm", c.name, old, now, oldMilli, newMilli)
		}
	}
	return resized
}

// effectiveCPU is the upstream GetEffectiveCPUMilli: the request, else the limit.
func effectiveCPU(c resizable) int64 {
	r := c.requirements()
	if r.Requests.Cpu().IsZero() && !r.Limits.Cpu().IsZero() {
		return r.Limits.Cpu().MilliValue()
	}
	return r.Requests.Cpu().MilliValue()
}

// rollback is the upstream createRollbackContainers: back to the original resources, with a restart again where
// the resize restarted.
func rollback(original, resized []resizable) []resizable {
	out := slices.Clone(original)
	for i := range out {
		out[i].restarts = resized[i].restarts
	}
	return out
}

// TestPodResizeConformance runs the in-place resize conformance specs of Kubernetes 1.37 against a Berth node.
func TestPodResizeConformance(t *testing.T) {
	const (
		originalCPU, reducedCPU, increasedCPU, increasedCPULimit = "20m", "15m", "25m", "35m"
		originalMem, reducedMem, increasedMem, increasedMemLimit = "35Mi", "30Mi", "40Mi", "50Mi"
	)
	ns := namespace(t)

	t.Run("6 containers - various operations performed (including adding limits and requests)", func(t *testing.T) {
		original := []resizable{
			{name: "c1", cpuReq: originalCPU},
			{name: "c2", memReq: originalMem},
			{name: "c3", cpuReq: originalCPU, memReq: originalMem},
			{name: "c4", cpuReq: originalCPU},
			{name: "c5", memReq: originalMem},
		}
		expected := []resizable{
			{name: "c1", cpuReq: increasedCPU, cpuLim: increasedCPULimit},
			{name: "c2", memReq: reducedMem, memLim: increasedMemLimit},
			{name: "c3", cpuReq: originalCPU, memReq: reducedMem},
			{name: "c4", cpuReq: reducedCPU, memReq: originalMem},
			{name: "c5", cpuReq: originalCPU, memReq: increasedMem},
		}
		pod := createResizable(t, ns, resizeTestPod("six", "", original), original)
		patchAndVerify(t, pod, original, expected)
	})

	t.Run("resize with equivalents", func(t *testing.T) {
		original := []resizable{{name: "c1", cpuReq: "2m", cpuLim: "10m"}}
		expected := []resizable{{name: "c1", cpuReq: "1m", cpuLim: "5m"}}
		pod := createResizable(t, ns, resizeTestPod("equivalents", "", original), original)
		patchAndVerify(t, pod, original, expected)
		patchAndVerify(t, pod, expected, rollback(original, expected))
	})

	t.Run("resize pod via the replace endpoint", func(t *testing.T) {
		ctx := context.Background()
		original := []resizable{{name: "c1", cpuReq: originalCPU, memReq: originalMem}}
		desired := []resizable{{name: "c1", cpuReq: increasedCPU, memReq: increasedMem}}
		pod := createResizable(t, ns, resizeTestPod("replace", "", original), original)
		if pod.Generation != 1 {
			t.Errorf("generation %d, want 1", pod.Generation)
		}
		pod.Spec.Containers[0].Resources = desired[0].requirements()
		if _, err := client.CoreV1().Pods(ns).UpdateResize(ctx, pod.Name, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("resize pod: %v", err)
		}
		updated, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		verifySpecResources(t, updated, desired)
		if updated.Generation != 2 {
			t.Errorf("generation %d after the resize, want 2", updated.Generation)
		}
		restarts := restartCounts(updated)
		resized := waitResizeActuated(t, ns, pod.Name)
		expectResized(t, resized, desired, restarts)

		// The pod read through the resize subresource is the pod.
		err = wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
			main, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			var viaResize corev1.Pod
			if err := client.CoreV1().RESTClient().Get().Namespace(ns).Resource("pods").Name(pod.Name).SubResource("resize").Do(ctx).Into(&viaResize); err != nil {
				return false, nil
			}
			main.Kind, main.APIVersion = "", ""
			viaResize.Kind, viaResize.APIVersion = "", ""
			return apiequality.Semantic.DeepEqual(main, &viaResize), nil
		})
		if err != nil {
			t.Errorf("the pod read through the resize subresource differs from the pod")
		}
	})
}

// TestPodResizeRestartContainer resizes a container whose memory resizePolicy is RestartContainer: a memory
// change restarts it (restartCount 1, the stopped run as lastState) with the new limit; a CPU change afterwards is
// done in place.
func TestPodResizeRestartContainer(t *testing.T) {
	ns := namespace(t)
	original := []resizable{{name: "c1", cpuReq: "20m", cpuLim: "30m", memReq: "35Mi", memLim: "45Mi", cpuPolicy: corev1.NotRequired, memPolicy: corev1.RestartContainer}}
	pod := createResizable(t, ns, resizeTestPod("restart", "", original), original)
	before := pod.Status.ContainerStatuses[0]

	memResized := slices.Clone(original)
	memResized[0].memReq, memResized[0].memLim, memResized[0].restarts = "40Mi", "50Mi", 1
	after := patchAndVerify(t, pod, original, memResized)
	st := after.Status.ContainerStatuses[0]
	if st.ContainerID == before.ContainerID || st.LastTerminationState.Terminated == nil || st.LastTerminationState.Terminated.ContainerID != before.ContainerID {
		t.Errorf("after the memory resize: container %s, lastState %+v; want a new container after %s", st.ContainerID, st.LastTerminationState, before.ContainerID)
	}

	cpuResized := slices.Clone(memResized)
	cpuResized[0].cpuReq, cpuResized[0].cpuLim, cpuResized[0].restarts = "25m", "35m", 0
	again := patchAndVerify(t, after, memResized, cpuResized)
	if id := again.Status.ContainerStatuses[0].ContainerID; id != st.ContainerID {
		t.Errorf("a CPU resize replaced container %s by %s; want it resized in place", st.ContainerID, id)
	}
}

// TestPodResizePending asks for resizes a node cannot do now or ever. One beyond what the node's allocatable
// leaves beside another pod is Deferred, with the kubelet's message and event, until that pod is deleted. Those
// the node can never do are refused by the apiserver before they reach it, as for a kubelet: beyond the node's
// allocatable (PodResizeValidator, from the allocatable Berth reports); the pod is left as it was.
func TestPodResizePending(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	nodeName := testCluster.NodeNames()[0]
	node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	allocatable := node.Status.Allocatable.Cpu().MilliValue()

	// Deferred: "hog" takes most of the node's CPU; "grow" asks for more than is left, though less than the node
	// has.
	hog := []resizable{{name: "c1", cpuReq: fmt.Sprintf("%dm", allocatable*3/4)}}
	createResizable(t, ns, resizeTestPod("hog", nodeName, hog), hog)
	small := []resizable{{name: "c1", cpuReq: "100m"}}
	pod := createResizable(t, ns, resizeTestPod("grow", nodeName, small), small)
	big := []resizable{{name: "c1", cpuReq: fmt.Sprintf("%dm", allocatable/2)}}
	if _, err := client.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.StrategicMergePatchType, resizePatch(t, small, big), metav1.PatchOptions{}, "resize"); err != nil {
		t.Fatalf("patch pod for resize: %v", err)
	}
	deferred := waitPod(t, ns, pod.Name, time.Minute, "resize Deferred", func(p *corev1.Pod) bool {
		c := resizeCondition(p)
		return c != nil && c.Type == corev1.PodResizePending
	})
	c := resizeCondition(deferred)
	wantPrefix := fmt.Sprintf("Node didn't have enough resource: cpu, requested: %d, used: ", allocatable/2)
	if c.Reason != corev1.PodReasonDeferred || !strings.HasPrefix(c.Message, wantPrefix) || c.ObservedGeneration != 2 || deferred.Status.ObservedGeneration != 2 {
		t.Errorf("PodResizePending %+v (observedGeneration %d); want Deferred, %q..., generation 2", c, deferred.Status.ObservedGeneration, wantPrefix)
	}
	if err := verifyStatusResources(deferred, small); err != nil {
		t.Errorf("a deferred resize changed the status: %v", err)
	}
	waitEvent(t, ns, pod.Name, "ResizeDeferred", "Pod resize OutOfcpu: ", time.Minute)
	if err := client.CoreV1().Pods(ns).Delete(ctx, "hog", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	resized := waitResizeActuated(t, ns, pod.Name)
	expectResized(t, resized, big, nil)

	// Beyond the node's allocatable: refused by the apiserver, as the upstream test expects.
	huge := []resizable{{name: "c1", cpuReq: fmt.Sprintf("%dm", 2*allocatable)}}
	_, err = client.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.StrategicMergePatchType, resizePatch(t, big, huge), metav1.PatchOptions{}, "resize")
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Reason != metav1.StatusReasonForbidden || !strings.Contains(err.Error(), "node didn't have enough allocatable resources") ||
		status.Status().Details == nil || len(status.Status().Details.Causes) == 0 || status.Status().Details.Causes[0].Type != "NodeCapacity" {
		t.Errorf("resize beyond the node's allocatable: %v; want Forbidden for NodeCapacity", err)
	}

	// Pod-level resources are not resized here: Berth's nodes refuse pods that set them (UnsupportedPodSpec, see
	// TestRefusedPodSpecFields), so no running pod has any to resize.

	after, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != resized.Generation || resizeCondition(after) != nil {
		t.Errorf("refused resizes changed the pod: generation %d (was %d), condition %+v", after.Generation, resized.Generation, resizeCondition(after))
	}
}

// TestPodResizeAcrossKubeletRestart resizes a pod in place, restarts its node's virtual kubelet, and resizes it
// again while no virtual kubelet runs: the restarted one adopts the container as it is (its resources reported,
// not restarted), then applies the waiting resize in place.
func TestPodResizeAcrossKubeletRestart(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	original := []resizable{{name: "c1", cpuReq: "20m", cpuLim: "30m", memReq: "35Mi", memLim: "45Mi"}}
	pod := createResizable(t, ns, resizeTestPod("adopted", testCluster.NodeNames()[0], original), original)
	resized := []resizable{{name: "c1", cpuReq: "25m", cpuLim: "35m", memReq: "40Mi", memLim: "50Mi"}}
	pod = patchAndVerify(t, pod, original, resized)
	id := pod.Status.ContainerStatuses[0].ContainerID

	if err := testCluster.StopNode(0); err != nil {
		t.Fatal(err)
	}
	again := []resizable{{name: "c1", cpuReq: "30m", cpuLim: "40m", memReq: "45Mi", memLim: "55Mi"}}
	if _, err := client.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.StrategicMergePatchType, resizePatch(t, resized, again), metav1.PatchOptions{}, "resize"); err != nil {
		t.Fatalf("patch pod for resize: %v", err)
	}
	if err := testCluster.StartNode(ctx, 0); err != nil {
		t.Fatalf("restart node: %v", err)
	}
	after := waitResizeActuated(t, ns, pod.Name)
	expectResized(t, after, again, restartCounts(pod))
	if got := after.Status.ContainerStatuses[0].ContainerID; got != id {
		t.Errorf("container %s after the restart, want the adopted %s", got, id)
	}
}

// TestPodResizeInitContainer ports the upstream "should support resizing a non-sidecar init container": a running
// init container (the node declares InPlacePodVerticalScalingInitContainers) is resized and resized back, its
// status resources and cgroup values following.
func TestPodResizeInitContainer(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	original := []resizable{{name: "init-c1", cpuReq: "20m", cpuLim: "20m", memReq: "35Mi", memLim: "35Mi"}}
	resized := []resizable{{name: "init-c1", cpuReq: "25m", cpuLim: "25m", memReq: "40Mi", memLim: "40Mi"}}
	podWith := func(init []resizable) *corev1.Pod {
		pod := resizeTestPod("init", "", []resizable{{name: "main-c1", cpuReq: "20m", cpuLim: "20m", memReq: "35Mi", memLim: "35Mi"}})
		pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
		c := init[0].container()
		c.Args = []string{"-c", "tail -f /dev/null"}
		pod.Spec.InitContainers = []corev1.Container{c}
		return pod
	}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, podWith(original), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	verify := func(want []resizable) {
		t.Helper()
		got := waitPod(t, ns, "init", 2*time.Minute, "init container running with its resources", func(p *corev1.Pod) bool {
			if len(p.Status.InitContainerStatuses) != 1 || p.Status.InitContainerStatuses[0].State.Running == nil {
				return false
			}
			st := p.Status.InitContainerStatuses[0]
			r := want[0].requirements()
			return st.Resources != nil && cmp.Equal(*st.Resources, r) && cmp.Equal(st.AllocatedResources, r.Requests)
		})
		verifyCgroups(t, got, want)
	}
	verify(original)
	for _, step := range [][2][]resizable{{original, resized}, {resized, original}} {
		a, err := json.Marshal(podWith(step[0]))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(podWith(step[1]))
		if err != nil {
			t.Fatal(err)
		}
		patch, err := strategicpatch.CreateTwoWayMergePatch(a, b, corev1.Pod{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.CoreV1().Pods(ns).Patch(ctx, "init", types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "resize"); err != nil {
			t.Fatalf("patch the init container for resize: %v", err)
		}
		verify(step[1])
	}
}
