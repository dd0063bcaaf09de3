package podstatus

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestUnterminated(t *testing.T) {
	waitingIn := func(reason string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
	}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	exited := func(code int32) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}
	}
	c := func(kind Kind, state corev1.ContainerState) Container {
		return Container{Spec: &corev1.Container{}, Kind: kind, State: state}
	}
	restarted := func(kind Kind, state, last corev1.ContainerState) Container {
		ct := c(kind, state)
		ct.LastState = last
		return ct
	}
	startedSidecar := c(Sidecar, running)
	startedSidecar.Started = true

	for _, tc := range []struct {
		name string
		cs   []Container
		want []int
	}{
		{"never created, no init containers", []Container{c(Regular, waitingIn("ContainerCreating"))}, []int{0}},
		{"image pull back-off", []Container{c(Regular, waitingIn("ImagePullBackOff")), c(Regular, exited(0))}, []int{0}},
		{"all ended", []Container{c(Regular, exited(0)), c(Regular, exited(1))}, nil},
		{"crash loop: waiting after a run", []Container{restarted(Regular, waitingIn("CrashLoopBackOff"), exited(1))}, []int{0}},
		{"ephemeral containers are left alone", []Container{c(Regular, exited(0)), c(Ephemeral, running)}, nil},
		{"init not started: only the first init container",
			[]Container{c(Init, waitingIn("PodInitializing")), c(Init, waitingIn("PodInitializing")), c(Regular, waitingIn("PodInitializing"))},
			[]int{0}},
		{"second init running: both init containers up to it, not the regular one",
			[]Container{c(Init, exited(0)), c(Init, running), c(Init, waitingIn("PodInitializing")), c(Regular, waitingIn("PodInitializing"))},
			[]int{1}},
		{"init failed for good: nothing further began",
			[]Container{c(Init, exited(1)), c(Init, waitingIn("PodInitializing")), c(Regular, waitingIn("PodInitializing"))},
			nil},
		{"last init completed: regular containers count",
			[]Container{c(Init, exited(0)), c(Regular, waitingIn("ContainerCreating"))},
			[]int{1}},
		{"last init completed in an earlier run",
			[]Container{restarted(Init, waitingIn("PodInitializing"), exited(0)), c(Regular, waitingIn("PodInitializing"))},
			[]int{0, 1}},
		{"a started sidecar initializes the pod",
			[]Container{startedSidecar, c(Regular, waitingIn("ContainerCreating"))},
			[]int{0, 1}},
		{"a sidecar not yet started does not",
			[]Container{c(Sidecar, running), c(Regular, waitingIn("PodInitializing"))},
			[]int{0}},
		{"a regular container that ran initializes the pod",
			[]Container{c(Init, waitingIn("PodInitializing")), c(Regular, running)},
			[]int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unterminated(tc.cs); !slices.Equal(got, tc.want) {
				t.Errorf("Unterminated = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnlocated(t *testing.T) {
	st := Unlocated()
	if st.Terminated == nil || st.Terminated.Reason != "ContainerStatusUnknown" || st.Terminated.ExitCode != 137 ||
		st.Terminated.Message != "The container could not be located when the pod was terminated" {
		t.Errorf("Unlocated() = %+v, want the kubelet's ContainerStatusUnknown, 137", st)
	}
}
