package podstatus

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Container statuses for the phase tests, shaped as the kubelet reports them.

func stRunning(name string) corev1.ContainerStatus {
	started := true
	return corev1.ContainerStatus{Name: name, Started: &started, Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}
}

func stRunningNotStarted(name string) corev1.ContainerStatus {
	started := false
	return corev1.ContainerStatus{Name: name, Started: &started,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}
}

func stExited(name string, code int32) corev1.ContainerStatus {
	started := false
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	return corev1.ContainerStatus{Name: name, Started: &started,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}}}
}

func stWaiting(name, reason string) corev1.ContainerStatus {
	started := false
	return corev1.ContainerStatus{Name: name, Started: &started,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

// stCrashLoop is a container waiting to be restarted after it exited with code.
func stCrashLoop(name string, code int32) corev1.ContainerStatus {
	st := stWaiting(name, "CrashLoopBackOff")
	st.LastTerminationState = stExited(name, code).State
	st.RestartCount = 1
	return st
}

// phasePod builds a pod whose init containers are named in init (a name ending in "-sidecar" makes a
// restartable init container) and whose app containers are named in apps.
func phasePod(policy corev1.RestartPolicy, init []string, apps ...string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "phase", UID: "11111111-2222-3333-4444-555555555555"},
		Spec:       corev1.PodSpec{RestartPolicy: policy},
	}
	for _, n := range init {
		c := corev1.Container{Name: n, Image: "busybox"}
		if len(n) > len("-sidecar") && n[len(n)-len("-sidecar"):] == "-sidecar" {
			always := corev1.ContainerRestartPolicyAlways
			c.RestartPolicy = &always
		}
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, c)
	}
	for _, n := range apps {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: n, Image: "busybox"})
	}
	return pod
}

type phaseCase struct {
	name              string
	pod               *corev1.Pod
	init, app         []corev1.ContainerStatus
	podIsTerminal     bool
	podHasInitialized bool
	want              corev1.PodPhase
}

// phaseCases are checked against the kubelet's getPhase (pkg/kubelet/kubelet_pods.go, v1.37.2, with the
// ContainerRestartRules feature gate off); want is what getPhase returns for the same statuses.
var phaseCases = []phaseCase{
	{
		name: "no statuses yet",
		pod:  phasePod(corev1.RestartPolicyAlways, nil, "a"),
		want: corev1.PodPending,
	},
	{
		name: "waiting ContainerCreating",
		pod:  phasePod(corev1.RestartPolicyAlways, nil, "a", "b"),
		app:  []corev1.ContainerStatus{stWaiting("a", "ContainerCreating"), stWaiting("b", "ContainerCreating")},
		want: corev1.PodPending,
	},
	{
		name: "one running one still creating",
		pod:  phasePod(corev1.RestartPolicyAlways, nil, "a", "b"),
		app:  []corev1.ContainerStatus{stRunning("a"), stWaiting("b", "ContainerCreating")},
		want: corev1.PodPending,
	},
	{
		name:              "running",
		pod:               phasePod(corev1.RestartPolicyAlways, nil, "a"),
		app:               []corev1.ContainerStatus{stRunning("a")},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name:              "one running one exited under Never",
		pod:               phasePod(corev1.RestartPolicyNever, nil, "a", "b"),
		app:               []corev1.ContainerStatus{stRunning("a"), stExited("b", 1)},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name:              "all exited 0 under Never",
		pod:               phasePod(corev1.RestartPolicyNever, nil, "a", "b"),
		app:               []corev1.ContainerStatus{stExited("a", 0), stExited("b", 0)},
		podHasInitialized: true,
		want:              corev1.PodSucceeded,
	},
	{
		name:              "all exited 0 under OnFailure",
		pod:               phasePod(corev1.RestartPolicyOnFailure, nil, "a", "b"),
		app:               []corev1.ContainerStatus{stExited("a", 0), stExited("b", 0)},
		podHasInitialized: true,
		want:              corev1.PodSucceeded,
	},
	{
		name:              "one failed under Never",
		pod:               phasePod(corev1.RestartPolicyNever, nil, "a", "b"),
		app:               []corev1.ContainerStatus{stExited("a", 0), stExited("b", 2)},
		podHasInitialized: true,
		want:              corev1.PodFailed,
	},
	{
		name:              "failed under OnFailure is restarting",
		pod:               phasePod(corev1.RestartPolicyOnFailure, nil, "a", "b"),
		app:               []corev1.ContainerStatus{stExited("a", 0), stExited("b", 1)},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name:              "exited containers under Always",
		pod:               phasePod(corev1.RestartPolicyAlways, nil, "a", "b"),
		app:               []corev1.ContainerStatus{stExited("a", 0), stExited("b", 1)},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name:              "all exited 0 under Always",
		pod:               phasePod(corev1.RestartPolicyAlways, nil, "a"),
		app:               []corev1.ContainerStatus{stExited("a", 0)},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name:              "terminal pod with a failure under Always",
		pod:               phasePod(corev1.RestartPolicyAlways, nil, "a", "b"),
		app:               []corev1.ContainerStatus{stExited("a", 0), stExited("b", 143)},
		podIsTerminal:     true,
		podHasInitialized: true,
		want:              corev1.PodFailed,
	},
	{
		name:              "terminal pod all exited 0 under Always",
		pod:               phasePod(corev1.RestartPolicyAlways, nil, "a", "b"),
		app:               []corev1.ContainerStatus{stExited("a", 0), stExited("b", 0)},
		podIsTerminal:     true,
		podHasInitialized: true,
		want:              corev1.PodSucceeded,
	},
	{
		name:              "terminal pod with a failure under OnFailure",
		pod:               phasePod(corev1.RestartPolicyOnFailure, nil, "a"),
		app:               []corev1.ContainerStatus{stExited("a", 1)},
		podIsTerminal:     true,
		podHasInitialized: true,
		want:              corev1.PodFailed,
	},
	{
		name: "init container failed under Never",
		pod:  phasePod(corev1.RestartPolicyNever, []string{"init"}, "a"),
		init: []corev1.ContainerStatus{stExited("init", 1)},
		app:  []corev1.ContainerStatus{stWaiting("a", "PodInitializing")},
		want: corev1.PodFailed,
	},
	{
		name: "second init container failed under Never",
		pod:  phasePod(corev1.RestartPolicyNever, []string{"i1", "i2"}, "a"),
		init: []corev1.ContainerStatus{stExited("i1", 0), stExited("i2", 3)},
		app:  []corev1.ContainerStatus{stWaiting("a", "PodInitializing")},
		want: corev1.PodFailed,
	},
	{
		name: "init container failed under OnFailure",
		pod:  phasePod(corev1.RestartPolicyOnFailure, []string{"init"}, "a"),
		init: []corev1.ContainerStatus{stExited("init", 1)},
		app:  []corev1.ContainerStatus{stWaiting("a", "PodInitializing")},
		want: corev1.PodPending,
	},
	{
		name: "init container running",
		pod:  phasePod(corev1.RestartPolicyAlways, []string{"init"}, "a"),
		init: []corev1.ContainerStatus{stRunning("init")},
		app:  []corev1.ContainerStatus{stWaiting("a", "PodInitializing")},
		want: corev1.PodPending,
	},
	{
		name: "init container waiting to start",
		pod:  phasePod(corev1.RestartPolicyAlways, []string{"init"}, "a"),
		init: []corev1.ContainerStatus{stWaiting("init", "PodInitializing")},
		app:  []corev1.ContainerStatus{stWaiting("a", "PodInitializing")},
		want: corev1.PodPending,
	},
	{
		name: "second init container waiting after the first completed",
		pod:  phasePod(corev1.RestartPolicyNever, []string{"i1", "i2"}, "a"),
		init: []corev1.ContainerStatus{stExited("i1", 0), stWaiting("i2", "PodInitializing")},
		app:  []corev1.ContainerStatus{stWaiting("a", "PodInitializing")},
		want: corev1.PodPending,
	},
	{
		name: "init container waiting after a failure under OnFailure",
		pod:  phasePod(corev1.RestartPolicyOnFailure, []string{"init"}, "a"),
		init: []corev1.ContainerStatus{stCrashLoop("init", 1)},
		app:  []corev1.ContainerStatus{stWaiting("a", "PodInitializing")},
		want: corev1.PodPending,
	},
	{
		name: "init container waiting after a failure under Always",
		pod:  phasePod(corev1.RestartPolicyAlways, []string{"init"}, "a"),
		init: []corev1.ContainerStatus{stCrashLoop("init", 1)},
		app:  []corev1.ContainerStatus{stWaiting("a", "PodInitializing")},
		want: corev1.PodPending,
	},
	{
		name:              "init containers completed and app running",
		pod:               phasePod(corev1.RestartPolicyNever, []string{"i1", "i2"}, "a"),
		init:              []corev1.ContainerStatus{stExited("i1", 0), stExited("i2", 0)},
		app:               []corev1.ContainerStatus{stRunning("a")},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name:              "sidecar running and started with app running",
		pod:               phasePod(corev1.RestartPolicyNever, []string{"log-sidecar"}, "a"),
		init:              []corev1.ContainerStatus{stRunning("log-sidecar")},
		app:               []corev1.ContainerStatus{stRunning("a")},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name: "sidecar running but not started and pod not initialized",
		pod:  phasePod(corev1.RestartPolicyAlways, []string{"log-sidecar"}, "a"),
		init: []corev1.ContainerStatus{stRunningNotStarted("log-sidecar")},
		app:  []corev1.ContainerStatus{stWaiting("a", "PodInitializing")},
		want: corev1.PodPending,
	},
	{
		name: "sidecar waiting to start and pod not initialized",
		pod:  phasePod(corev1.RestartPolicyAlways, []string{"log-sidecar"}, "a"),
		init: []corev1.ContainerStatus{stWaiting("log-sidecar", "PodInitializing")},
		app:  []corev1.ContainerStatus{stWaiting("a", "PodInitializing")},
		want: corev1.PodPending,
	},
	{
		name:              "sidecar restarting in an initialized pod",
		pod:               phasePod(corev1.RestartPolicyAlways, []string{"log-sidecar"}, "a"),
		init:              []corev1.ContainerStatus{stCrashLoop("log-sidecar", 1)},
		app:               []corev1.ContainerStatus{stRunning("a")},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name:              "sidecar running with app completed under Never",
		pod:               phasePod(corev1.RestartPolicyNever, []string{"log-sidecar"}, "a"),
		init:              []corev1.ContainerStatus{stRunning("log-sidecar")},
		app:               []corev1.ContainerStatus{stExited("a", 0)},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name:              "sidecar stopped with app completed in a terminal pod",
		pod:               phasePod(corev1.RestartPolicyNever, []string{"log-sidecar"}, "a"),
		init:              []corev1.ContainerStatus{stExited("log-sidecar", 143)},
		app:               []corev1.ContainerStatus{stExited("a", 0)},
		podIsTerminal:     true,
		podHasInitialized: true,
		want:              corev1.PodSucceeded,
	},
	{
		name:              "waiting with a previous termination under Always",
		pod:               phasePod(corev1.RestartPolicyAlways, nil, "a"),
		app:               []corev1.ContainerStatus{stCrashLoop("a", 1)},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name:              "one running one in CrashLoopBackOff under Always",
		pod:               phasePod(corev1.RestartPolicyAlways, nil, "a", "b"),
		app:               []corev1.ContainerStatus{stRunning("a"), stCrashLoop("b", 1)},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
	{
		name:              "waiting with a previous termination under OnFailure",
		pod:               phasePod(corev1.RestartPolicyOnFailure, nil, "a"),
		app:               []corev1.ContainerStatus{stCrashLoop("a", 1)},
		podHasInitialized: true,
		want:              corev1.PodRunning,
	},
}

func TestPodPhase(t *testing.T) {
	for _, tc := range phaseCases {
		t.Run(tc.name, func(t *testing.T) {
			got := Phase(tc.pod, tc.init, tc.app, tc.podIsTerminal, tc.podHasInitialized)
			if got != tc.want {
				t.Errorf("Phase() = %s, want %s", got, tc.want)
			}
		})
	}
}
