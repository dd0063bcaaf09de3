package provider

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// containerIDPrefix is the runtime scheme of status.containerStatuses[].containerID.
const containerIDPrefix = "podman://"

func containerStatus(c *containerRecord) corev1.ContainerStatus {
	st := corev1.ContainerStatus{
		Name:                 c.spec.Name,
		State:                *c.state.DeepCopy(),
		LastTerminationState: *c.last.DeepCopy(),
		RestartCount:         c.restartCount(),
		Image:                c.spec.Image,
		ImageID:              c.imageID,
	}
	if st.ImageID != "" && !strings.Contains(st.ImageID, ":") {
		st.ImageID = "sha256:" + st.ImageID
	}
	if c.id != "" {
		st.ContainerID = containerIDPrefix + c.id
	}
	resizeStatus(c, &st)
	running := c.state.Running != nil
	if c.hooking {
		// As the kubelet, whose sync is blocked in the postStart hook, the container is shown as it was before.
		st.State = *c.hookState.DeepCopy()
		running = false
	}
	started := running && c.started
	st.Started = &started
	// A started container is ready without a readiness probe, else once the probe succeeds; a regular init
	// container is ready once it completed.
	st.Ready = started && (c.spec.ReadinessProbe == nil || c.ready)
	if c.init && !c.sidecar {
		st.Ready = c.state.Terminated != nil && c.state.Terminated.ExitCode == 0
	}
	return st
}

// buildStatus computes the pod status from a record, the way the kubelet's generateAPIPodStatus does.
// now stamps conditions whose status changed since the last report.
func buildStatus(r *podRecord, nodeIP string, now time.Time) corev1.PodStatus {
	return buildStatusStale(r, nodeIP, now, nil)
}

// buildStatusStale is buildStatus during an outage of Podman (none if nil) that made the record's status stale: a pod not
// yet terminal then reports phase Unknown, and neither ContainersReady nor Ready.
func buildStatusStale(r *podRecord, nodeIP string, now time.Time, stale *outage) corev1.PodStatus {
	pod := r.pod
	st := corev1.PodStatus{
		QOSClass: pod.Status.QOSClass,
		HostIP:   nodeIP,
		// The generation of the spec this status is of (the record follows the API's).
		ObservedGeneration: pod.Generation,
	}
	if nodeIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: nodeIP}}
	}
	if r.podIP != "" {
		st.PodIP = r.podIP
		st.PodIPs = []corev1.PodIP{{IP: r.podIP}}
	}
	if !r.startTime.IsZero() {
		t := r.startTime
		st.StartTime = &t
	}
	for _, c := range r.init {
		st.InitContainerStatuses = append(st.InitContainerStatuses, containerStatus(c))
	}
	for _, c := range r.app {
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(c))
	}
	st.EphemeralContainerStatuses = ephemeralStatuses(r)
	st.Phase = podPhase(pod, st.InitContainerStatuses, st.ContainerStatuses, r.terminal, anyRegularContainerStarted(&st))
	// Terminal phases never go back.
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		st.Phase = pod.Status.Phase
	}
	if r.finalPhase != "" {
		st.Phase = r.finalPhase
	} else if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		r.finalPhase = st.Phase
	}

	st.Reason, st.Message = r.reason, r.message
	staleStatus(&st, stale)
	st.Conditions = r.stampConditions(conditions(r, &st), now)
	return st
}

// kubeletConditions are the pod conditions the kubelet owns; the others (PodScheduled, readiness gates,
// DisruptionTarget, ...) belong to other writers and are passed through.
var kubeletConditions = map[corev1.PodConditionType]bool{
	corev1.PodReadyToStartContainers: true,
	corev1.PodInitialized:            true,
	corev1.ContainersReady:           true,
	corev1.PodReady:                  true,
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
func conditions(r *podRecord, st *corev1.PodStatus) []corev1.PodCondition {
	pod := r.pod
	var out []corev1.PodCondition
	for _, c := range pod.Status.Conditions {
		if !kubeletConditions[c.Type] && !isResizeCondition(c.Type) {
			out = append(out, c)
		}
	}
	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	if !terminal {
		out = append(out, r.resize.conditions()...)
	}

	sandbox := corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue}
	if !r.sandbox || terminal {
		sandbox = corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionFalse, Reason: reasonSandboxNotReady, Message: "pod sandbox is not ready"}
		if r.podmanID == "" || r.removed {
			sandbox.Message = "no pod sandbox exists"
		}
	}
	out = append(out, sandbox)
	out = append(out, initializedCondition(pod, st))
	ready := containersReadyCondition(pod, st)
	if st.Phase == corev1.PodUnknown {
		// The containers' readiness is not known (reachability.go).
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

// anyRegularContainerStarted tells whether an app container has run (kubecontainer.HasAnyRegularContainerStarted).
func anyRegularContainerStarted(st *corev1.PodStatus) bool {
	for _, c := range st.ContainerStatuses {
		if c.State.Running != nil || c.State.Terminated != nil || c.LastTerminationState.Terminated != nil {
			return true
		}
	}
	return false
}

func initializedCondition(pod *corev1.Pod, st *corev1.PodStatus) corev1.PodCondition {
	var incomplete []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs, _ := findStatus(st.InitContainerStatuses, c.Name)
		if isRestartableInit(c) {
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
		if cs, _ := findStatus(st.InitContainerStatuses, c.Name); isRestartableInit(c) && !cs.Ready {
			unready = append(unready, c.Name)
		}
	}
	for _, c := range pod.Spec.Containers {
		if cs, _ := findStatus(st.ContainerStatuses, c.Name); !cs.Ready {
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

// stampConditions sets transition times: kept from the last report while a condition's status holds, now when it
// changes. Conditions of other writers keep their own times.
func (r *podRecord) stampConditions(conds []corev1.PodCondition, now time.Time) []corev1.PodCondition {
	for i := range conds {
		if !kubeletConditions[conds[i].Type] {
			continue
		}
		conds[i].LastTransitionTime = metav1.NewTime(now)
		for _, old := range append(append([]corev1.PodCondition{}, r.conditions...), r.pod.Status.Conditions...) {
			if old.Type == conds[i].Type && old.Status == conds[i].Status && !old.LastTransitionTime.IsZero() {
				conds[i].LastTransitionTime = old.LastTransitionTime
				break
			}
		}
	}
	r.conditions = conds
	return conds
}
