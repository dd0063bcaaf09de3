package podstatus

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeletConditions are the pod conditions the kubelet owns; the others (PodScheduled, readiness gates,
// DisruptionTarget, ...) belong to other writers and are passed through.
var kubeletConditions = map[corev1.PodConditionType]bool{
	corev1.PodReadyToStartContainers: true,
	corev1.PodInitialized:            true,
	corev1.ContainersReady:           true,
	corev1.PodReady:                  true,
}

// IsKubeletCondition tells whether a pod condition is one the kubelet's status manager generates and stamps; the
// others are passed through as their writers left them.
func IsKubeletCondition(t corev1.PodConditionType) bool {
	return kubeletConditions[t]
}

// isResizeCondition tells the kubelet's resize conditions apart.
func isResizeCondition(t corev1.PodConditionType) bool {
	return t == corev1.PodResizePending || t == corev1.PodResizeInProgress
}

// Condition reasons, as the kubelet's status/generate.go words them.
const (
	reasonSandboxNotReady        = "PodSandboxNotReady"
	reasonContainersNotInit      = "ContainersNotInitialized"
	reasonContainersNotReady     = "ContainersNotReady"
	reasonReadinessGatesNotReady = "ReadinessGatesNotReady"
	reasonPodCompleted           = "PodCompleted"
	reasonPodFailed              = "PodFailed"
)

// conditions generates the kubelet's conditions for a status whose phase and container statuses are set.
func conditions(p *Pod, st *corev1.PodStatus) []corev1.PodCondition {
	pod := p.Pod
	var out []corev1.PodCondition
	for _, c := range pod.Status.Conditions {
		if !kubeletConditions[c.Type] && !isResizeCondition(c.Type) {
			out = append(out, c)
		}
	}
	terminal := isTerminal(st.Phase)
	if !terminal {
		out = append(out, resizeConditions(p)...)
	}

	sandbox := corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue}
	if !p.SandboxReady || terminal {
		sandbox = corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionFalse, Reason: reasonSandboxNotReady, Message: "pod sandbox is not ready"}
		if !p.SandboxExists {
			sandbox.Message = "no pod sandbox exists"
		}
	}
	out = append(out, sandbox)
	out = append(out, initializedCondition(pod, st))
	ready := containersReadyCondition(pod, st)
	if st.Phase == corev1.PodUnknown {
		// The containers' readiness is not known (Podman does not answer).
		ready = corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: st.Reason, Message: st.Message}
	}
	out = append(out, ready)
	out = append(out, podReadyCondition(pod, out, ready))
	for i := range out {
		if kubeletConditions[out[i].Type] {
			out[i].ObservedGeneration = pod.Generation
		}
	}
	return out
}

// resizeConditions are the pod's resize conditions, in the kubelet's order.
func resizeConditions(p *Pod) []corev1.PodCondition {
	var out []corev1.PodCondition
	for _, c := range []*corev1.PodCondition{p.ResizePending, p.ResizeInProgress} {
		if c != nil {
			out = append(out, *c.DeepCopy())
		}
	}
	return out
}

func initializedCondition(pod *corev1.Pod, st *corev1.PodStatus) corev1.PodCondition {
	var incomplete []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs, _ := FindStatus(st.InitContainerStatuses, c.Name)
		if IsRestartableInit(c) {
			if cs.Started == nil || !*cs.Started {
				incomplete = append(incomplete, c.Name)
			}
		} else if !cs.Ready {
			incomplete = append(incomplete, c.Name)
		}
	}
	switch {
	case st.Phase == corev1.PodSucceeded:
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, Reason: reasonPodCompleted}
	case anyRegularContainerStarted(st) || len(incomplete) == 0:
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	}
	return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionFalse, Reason: reasonContainersNotInit,
		Message: fmt.Sprintf("containers with incomplete status: %s", incomplete)}
}

func containersReadyCondition(pod *corev1.Pod, st *corev1.PodStatus) corev1.PodCondition {
	switch st.Phase {
	case corev1.PodSucceeded:
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: reasonPodCompleted}
	case corev1.PodFailed:
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: reasonPodFailed}
	}
	var unready []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if cs, _ := FindStatus(st.InitContainerStatuses, c.Name); IsRestartableInit(c) && !cs.Ready {
			unready = append(unready, c.Name)
		}
	}
	for _, c := range pod.Spec.Containers {
		if cs, _ := FindStatus(st.ContainerStatuses, c.Name); !cs.Ready {
			unready = append(unready, c.Name)
		}
	}
	if len(unready) > 0 {
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: reasonContainersNotReady,
			Message: fmt.Sprintf("containers with unready status: %s", unready)}
	}
	return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
}

func podReadyCondition(pod *corev1.Pod, conds []corev1.PodCondition, containersReady corev1.PodCondition) corev1.PodCondition {
	if containersReady.Status != corev1.ConditionTrue {
		return corev1.PodCondition{Type: corev1.PodReady, Status: containersReady.Status, Reason: containersReady.Reason, Message: containersReady.Message}
	}
	var msgs []string
	for _, g := range pod.Spec.ReadinessGates {
		var found *corev1.PodCondition
		for i := range conds {
			if conds[i].Type == g.ConditionType {
				found = &conds[i]
			}
		}
		if found == nil {
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(g.ConditionType)))
		} else if found.Status != corev1.ConditionTrue {
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(g.ConditionType), found.Status))
		}
	}
	if len(msgs) > 0 {
		return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: reasonReadinessGatesNotReady, Message: strings.Join(msgs, ", ")}
	}
	return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
}

// stampConditions sets the transition times of the kubelet's conditions: kept from the previous report (else from
// the API's status) while a condition's status holds, now when it changed. Conditions of other writers keep their
// own times. It writes only into conds.
func stampConditions(conds, previous, api []corev1.PodCondition, now time.Time) []corev1.PodCondition {
	for i := range conds {
		if !kubeletConditions[conds[i].Type] {
			continue
		}
		conds[i].LastTransitionTime = metav1.NewTime(now)
		if old, ok := sameStatus(conds[i], previous, api); ok {
			conds[i].LastTransitionTime = old.LastTransitionTime
		}
	}
	return conds
}

// sameStatus finds, in the lists in order, a stamped condition of c's type with c's status.
func sameStatus(c corev1.PodCondition, lists ...[]corev1.PodCondition) (corev1.PodCondition, bool) {
	for _, list := range lists {
		for _, old := range list {
			if old.Type == c.Type && old.Status == c.Status && !old.LastTransitionTime.IsZero() {
				return old, true
			}
		}
	}
	return corev1.PodCondition{}, false
}

// SameGates reports whether two lists of conditions agree on the status of each readiness gate's condition.
func SameGates(gates []corev1.PodReadinessGate, a, b []corev1.PodCondition) bool {
	status := func(conds []corev1.PodCondition, t corev1.PodConditionType) corev1.ConditionStatus {
		for _, c := range conds {
			if c.Type == t {
				return c.Status
			}
		}
		return ""
	}
	for _, g := range gates {
		if status(a, g.ConditionType) != status(b, g.ConditionType) {
			return false
		}
	}
	return true
}
