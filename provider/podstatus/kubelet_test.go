// Regression tests: each checks one point where Berth once reported a pod differently from the kubelet
// (pkg/kubelet/status/generate.go, kubelet_pods.go).
package podstatus

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestKubeletFailedReadyReason(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyNever, nil, "a")
	p := snap(pod)
	running(appC(p, 0), "aid")
	exited(appC(p, 0), 1)
	p.Terminal = true
	st := Derive(p, testNodeIP, t0)
	if st.Phase != corev1.PodFailed {
		t.Fatalf("phase %s", st.Phase)
	}
	checkCondition(t, st, corev1.ContainersReady, corev1.ConditionFalse, "PodFailed", "")
	checkCondition(t, st, corev1.PodReady, corev1.ConditionFalse, "PodFailed", "")
}

func TestKubeletInitReady(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyNever, []string{"i1"}, "a")
	p := snap(pod)
	running(initC(p, 0), "iid")
	exited(initC(p, 0), 0)
	st := Derive(p, testNodeIP, t0)
	if cs := findContainerStatus(t, st.InitContainerStatuses, "i1"); !cs.Ready {
		t.Errorf("completed init container ready = false, kubelet reports true")
	}
}

func TestKubeletSidecarUnreadyMessage(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, []string{"log-sidecar"}, "a")
	p := snap(pod)
	p.SandboxReady, p.SandboxExists = true, true
	running(initC(p, 0), "sid")
	exited(initC(p, 0), 1)
	initC(p, 0).LastState = initC(p, 0).State
	initC(p, 0).State = waiting("CrashLoopBackOff", "")
	running(appC(p, 0), "aid")
	st := Derive(p, testNodeIP, t0)
	checkCondition(t, st, corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [log-sidecar]")
}

func TestKubeletOtherConditionsKept(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: "example.com/gate", Status: corev1.ConditionTrue}}
	p := snap(pod)
	st := Derive(p, testNodeIP, t0)
	findCondition(t, st, "example.com/gate")
}

func TestKubeletGateReason(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	p := snap(pod)
	p.SandboxReady, p.SandboxExists = true, true
	running(appC(p, 0), "aid")
	st := Derive(p, testNodeIP, t0)
	checkCondition(t, st, corev1.PodReady, corev1.ConditionFalse, "ReadinessGatesNotReady", "corresponding condition of pod readiness gate \"example.com/gate\" does not exist.")
}

func TestKubeletInitializedNoInit(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
	p := snap(pod)
	st := Derive(p, testNodeIP, t0)
	checkCondition(t, st, corev1.PodInitialized, corev1.ConditionTrue, "", "")
}

func TestKubeletInitializedCompleted(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyNever, nil, "a")
	p := snap(pod)
	running(appC(p, 0), "aid")
	exited(appC(p, 0), 0)
	p.Terminal = true
	st := Derive(p, testNodeIP, t0)
	checkCondition(t, st, corev1.PodInitialized, corev1.ConditionTrue, "PodCompleted", "")
}

func TestKubeletSandboxReason(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyNever, nil, "a")
	p := snap(pod)
	st := Derive(p, testNodeIP, t0)
	c := findCondition(t, st, corev1.PodReadyToStartContainers)
	if c.Reason != "PodSandboxNotReady" {
		t.Errorf("reason %q", c.Reason)
	}
}
