// Regression tests: each checks one point where Berth once reported a pod differently from the kubelet
// (pkg/kubelet/status/generate.go, kubelet_pods.go).
package provider

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestKubeletFailedReadyReason(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyNever, nil, "a")
	r := newPodRecord(pod, podmanPodName(pod))
	r.initialized = true
	recRunning(r.app[0], "aid")
	recExited(r.app[0], 1)
	r.terminal = true
	st := buildStatus(r, testNodeIP, t0)
	if st.Phase != corev1.PodFailed {
		t.Fatalf("phase %s", st.Phase)
	}
	checkCondition(t, st, corev1.ContainersReady, corev1.ConditionFalse, "PodFailed", "")
	checkCondition(t, st, corev1.PodReady, corev1.ConditionFalse, "PodFailed", "")
}

func TestKubeletInitReady(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyNever, []string{"i1"}, "a")
	r := newPodRecord(pod, podmanPodName(pod))
	recRunning(r.init[0], "iid")
	recExited(r.init[0], 0)
	st := buildStatus(r, testNodeIP, t0)
	if cs := findContainerStatus(t, st.InitContainerStatuses, "i1"); !cs.Ready {
		t.Errorf("completed init container ready = false, kubelet reports true")
	}
}

func TestKubeletSidecarUnreadyMessage(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, []string{"log-sidecar"}, "a")
	r := newPodRecord(pod, podmanPodName(pod))
	r.sandbox, r.initialized = true, true
	recRunning(r.init[0], "sid")
	recExited(r.init[0], 1)
	r.init[0].last = r.init[0].state
	r.init[0].state = waiting("CrashLoopBackOff", "")
	recRunning(r.app[0], "aid")
	st := buildStatus(r, testNodeIP, t0)
	checkCondition(t, st, corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [log-sidecar]")
}

func TestKubeletOtherConditionsKept(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: "example.com/gate", Status: corev1.ConditionTrue}}
	r := newPodRecord(pod, podmanPodName(pod))
	st := buildStatus(r, testNodeIP, t0)
	findCondition(t, st, "example.com/gate")
}

func TestKubeletGateReason(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	r := newPodRecord(pod, podmanPodName(pod))
	r.sandbox, r.initialized = true, true
	recRunning(r.app[0], "aid")
	st := buildStatus(r, testNodeIP, t0)
	checkCondition(t, st, corev1.PodReady, corev1.ConditionFalse, "ReadinessGatesNotReady", "corresponding condition of pod readiness gate \"example.com/gate\" does not exist.")
}

func TestKubeletInitializedNoInit(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
	r := newPodRecord(pod, podmanPodName(pod))
	st := buildStatus(r, testNodeIP, t0)
	checkCondition(t, st, corev1.PodInitialized, corev1.ConditionTrue, "", "")
}

func TestKubeletInitializedCompleted(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyNever, nil, "a")
	r := newPodRecord(pod, podmanPodName(pod))
	r.initialized = true
	recRunning(r.app[0], "aid")
	recExited(r.app[0], 0)
	r.terminal = true
	st := buildStatus(r, testNodeIP, t0)
	checkCondition(t, st, corev1.PodInitialized, corev1.ConditionTrue, "PodCompleted", "")
}

func TestKubeletSandboxReason(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyNever, nil, "a")
	r := newPodRecord(pod, podmanPodName(pod))
	st := buildStatus(r, testNodeIP, t0)
	c := findCondition(t, st, corev1.PodReadyToStartContainers)
	if c.Reason != "PodSandboxNotReady" {
		t.Errorf("reason %q", c.Reason)
	}
}

func TestKubeletHostnameTruncate(t *testing.T) {
	pod := translatePod()
	pod.Name = strings.Repeat("a", 62) + "-bcdef"
	got := podSpec(pod, "n", "net").Hostname
	if got != strings.Repeat("a", 62) {
		t.Errorf("hostname %q (%d)", got, len(got))
	}
}

func TestKubeletUserMerge(t *testing.T) {
	id := func(v int64) *int64 { return &v }
	pod := translatePod()
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: id(10), RunAsGroup: id(20)}
	c := &corev1.Container{Name: "app", Image: "x", SecurityContext: &corev1.SecurityContext{RunAsUser: id(1000)}}
	if got := containerSpec(pod, c, c.Env, "n", 1).User; got != "1000:20" {
		t.Errorf("user %q want 1000:20", got)
	}
	c = &corev1.Container{Name: "app", Image: "x", SecurityContext: &corev1.SecurityContext{RunAsGroup: id(30)}}
	if got := containerSpec(pod, c, c.Env, "n", 1).User; got != "10:30" {
		t.Errorf("user %q want 10:30", got)
	}
}
