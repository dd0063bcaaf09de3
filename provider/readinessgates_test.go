package provider

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestReconcileConditionsReadinessGate: a pod whose readiness gate's condition is missing is not Ready with its
// containers ready; once the API's pod has the condition True (a status change alone, which virtual-kubelet does
// not pass to UpdatePod), ReconcileConditions makes it Ready, and a change of another condition is ignored.
func TestReconcileConditionsReadinessGate(t *testing.T) {
	h := newHarness(t, "busybox")
	const gate = "example.com/gate"
	pod := lifecyclePod("gated", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: gate}}
	h.create(pod)
	_, next := h.waitReported(pod, 0, "containers ready, not Ready", func(p *corev1.Pod) bool {
		return podCondition(p, corev1.ContainersReady) == corev1.ConditionTrue && podCondition(p, corev1.PodReady) == corev1.ConditionFalse
	})

	other := pod.DeepCopy()
	other.Status.Conditions = append(other.Status.Conditions, corev1.PodCondition{Type: "example.com/other", Status: corev1.ConditionTrue})
	h.p.ReconcileConditions(other)
	h.p.mu.Lock()
	kept := len(h.p.pods[key(pod.Namespace, pod.Name)].pod.Status.Conditions)
	h.p.mu.Unlock()
	if kept != len(pod.Status.Conditions) {
		t.Errorf("a condition that is no readiness gate's was taken over (%d conditions, want %d)", kept, len(pod.Status.Conditions))
	}

	open := pod.DeepCopy()
	open.Status.Conditions = append(open.Status.Conditions, corev1.PodCondition{Type: gate, Status: corev1.ConditionTrue})
	h.p.ReconcileConditions(open)
	h.waitReported(pod, next, "Ready with its gate True", func(p *corev1.Pod) bool {
		return podCondition(p, corev1.PodReady) == corev1.ConditionTrue && podCondition(p, gate) == corev1.ConditionTrue
	})
}
