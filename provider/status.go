package provider

import (
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
	running := c.state.Running != nil
	started := running && c.started
	st.Started = &started
	// Without readiness probes a running container is ready.
	st.Ready = running
	return st
}

// buildStatus computes the pod status from a record, the way the kubelet's generateAPIPodStatus does.
// now stamps conditions whose status changed since the last report.
func buildStatus(r *podRecord, nodeIP string, now time.Time) corev1.PodStatus {
	pod := r.pod
	st := corev1.PodStatus{
		QOSClass: pod.Status.QOSClass,
		HostIP:   nodeIP,
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
	st.Phase = podPhase(pod, st.InitContainerStatuses, st.ContainerStatuses, r.terminal, r.initialized)
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		// Terminal phases never go back.
		st.Phase = pod.Status.Phase
	}

	conds := []corev1.PodCondition{}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			conds = append(conds, c)
		}
	}
	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	conds = append(conds, condition(corev1.PodReadyToStartContainers, r.sandbox && !r.terminal && !terminal, "", ""))

	initDone := r.initialized
	initReason, initMsg := "", ""
	if !initDone {
		initReason = "ContainersNotInitialized"
		initMsg = "containers with incomplete status: " + notDone(r.init)
	}
	conds = append(conds, condition(corev1.PodInitialized, initDone, initReason, initMsg))

	ready := st.Phase == corev1.PodRunning && len(r.app) > 0
	for _, c := range st.ContainerStatuses {
		ready = ready && c.Ready
	}
	for _, c := range st.InitContainerStatuses {
		if r.init != nil && isSidecarStatus(r, c.Name) {
			ready = ready && c.Ready
		}
	}
	readyReason, readyMsg := "", ""
	if !ready {
		readyReason = "ContainersNotReady"
		readyMsg = "containers with unready status: " + unready(st.ContainerStatuses)
		if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
			readyReason, readyMsg = "PodCompleted", ""
		}
	}
	conds = append(conds, condition(corev1.ContainersReady, ready, readyReason, readyMsg))
	conds = append(conds, condition(corev1.PodReady, ready && gatesPass(pod), readyReason, readyMsg))

	for i := range conds {
		conds[i].LastTransitionTime = metav1.NewTime(now)
		for _, old := range r.conditions {
			if old.Type == conds[i].Type && old.Status == conds[i].Status {
				conds[i].LastTransitionTime = old.LastTransitionTime
			}
		}
		for _, old := range pod.Status.Conditions {
			if old.Type == conds[i].Type && old.Status == conds[i].Status && conds[i].Type == corev1.PodScheduled {
				conds[i] = old
			}
		}
	}
	r.conditions = conds
	st.Conditions = conds
	return st
}

func isSidecarStatus(r *podRecord, name string) bool {
	for _, c := range r.init {
		if c.spec.Name == name {
			return c.sidecar
		}
	}
	return false
}

// gatesPass tells whether every readiness gate's condition is True.
func gatesPass(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func condition(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
	c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
	if ok {
		c.Status = corev1.ConditionTrue
		c.Reason, c.Message = "", ""
	}
	return c
}

func notDone(cs []*containerRecord) string {
	names := "["
	first := true
	for _, c := range cs {
		if c.sidecar && c.state.Running != nil && c.started {
			continue
		}
		if !c.sidecar && c.state.Terminated != nil && c.state.Terminated.ExitCode == 0 {
			continue
		}
		if !first {
			names += " "
		}
		names += c.spec.Name
		first = false
	}
	return names + "]"
}

func unready(sts []corev1.ContainerStatus) string {
	names := "["
	first := true
	for _, s := range sts {
		if s.Ready {
			continue
		}
		if !first {
			names += " "
		}
		names += s.Name
		first = false
	}
	return names + "]"
}
