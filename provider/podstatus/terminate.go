package podstatus

import (
	corev1 "k8s.io/api/core/v1"
)

// ReasonStatusUnknown is the terminated reason of a container that never reached an end the node saw, once its
// pod was stopped for good (the kubelet's ContainerReasonStatusUnknown).
const ReasonStatusUnknown = "ContainerStatusUnknown"

// Unlocated is the state the kubelet's status manager gives, when a pod is terminated, each container it has no
// terminated state for (TerminatePod): since it cannot know whether the container succeeded, an error.
func Unlocated() corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason:   ReasonStatusUnknown,
		Message:  "The container could not be located when the pod was terminated",
		ExitCode: 137,
	}}
}

// Unterminated lists, by index in cs (a pod's containers, in Pod.Containers' order), the containers that the
// kubelet's TerminatePod marks Unlocated once the pod is stopped for good: once the pod has initialized, every
// regular container without a terminated state; of the init containers, those without a terminated state up to
// the last one that shows a start (always the first one), as the later ones never began.
func Unterminated(cs []Container) []int {
	var out, inits []int
	initialized := true
	for i := range cs {
		if k := cs[i].Kind; k == Init || k == Sidecar {
			inits = append(inits, i)
		}
	}
	if len(inits) > 0 {
		initialized = hasInitialized(cs, inits[len(inits)-1])
	}
	// The prefix of the init containers that show a start, at least one.
	last := -1
	for j := len(inits) - 1; j >= 0; j-- {
		if c := &cs[inits[j]]; c.State.Waiting == nil || c.LastState.Terminated != nil {
			last = j
			break
		}
	}
	if last < 0 && len(inits) > 0 {
		last = 0
	}
	for j := 0; j <= last; j++ {
		if cs[inits[j]].State.Terminated == nil {
			out = append(out, inits[j])
		}
	}
	if initialized {
		for i := range cs {
			if cs[i].Kind == Regular && cs[i].State.Terminated == nil {
				out = append(out, i)
			}
		}
	}
	return out
}

// hasInitialized is the kubelet's hasPodInitialized for a pod with init containers, the last of which is
// cs[lastInit]: a regular container has left waiting or ended before, or the last init container completed (a
// sidecar: runs and has started).
func hasInitialized(cs []Container, lastInit int) bool {
	for i := range cs {
		if c := &cs[i]; c.Kind == Regular && (c.LastState.Terminated != nil || c.State.Waiting == nil) {
			return true
		}
	}
	c := &cs[lastInit]
	if c.Kind == Sidecar {
		return c.State.Running != nil && c.Started
	}
	for _, st := range []corev1.ContainerState{c.LastState, c.State} {
		if st.Terminated != nil && st.Terminated.ExitCode == 0 {
			return true
		}
	}
	return false
}
