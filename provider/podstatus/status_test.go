package podstatus

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const testNodeIP = "192.168.56.10"

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// snap is the snapshot of a pod the node has just taken on: its containers wait as the kubelet shows containers
// not created yet, no sandbox, no start time.
func snap(pod *corev1.Pod) *Pod {
	p := &Pod{Pod: pod}
	appReason := "ContainerCreating"
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		kind := Init
		if IsRestartableInit(c) {
			kind = Sidecar
		}
		p.Containers = append(p.Containers, Container{Spec: c, Kind: kind, State: waiting("PodInitializing", "")})
		appReason = "PodInitializing"
	}
	for i := range pod.Spec.Containers {
		p.Containers = append(p.Containers, Container{Spec: &pod.Spec.Containers[i], State: waiting(appReason, "")})
	}
	return p
}

func waiting(reason, msg string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

// initC is the snapshot of the pod's i-th init container; appC of its i-th container.
func initC(p *Pod, i int) *Container { return &p.Containers[i] }
func appC(p *Pod, i int) *Container  { return &p.Containers[len(p.Pod.Spec.InitContainers)+i] }

// report derives the pod's status and stores what the report fixes, as the node's write side does.
func report(p *Pod, now time.Time) corev1.PodStatus {
	st := Derive(p, testNodeIP, now)
	p.Previous = st.Conditions
	if p.FinalPhase == "" && isTerminal(st.Phase) {
		p.FinalPhase = st.Phase
	}
	return st
}

// running makes a container show a running, started run with ID id.
func running(c *Container, id string) {
	c.ID = id
	c.Attempts++
	c.Started = true
	c.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0)}}
}

// exited makes a container's current run show that it exited with code.
func exited(c *Container, code int32) {
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	c.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, ContainerID: ContainerIDPrefix + c.ID,
		StartedAt: metav1.NewTime(t0), FinishedAt: metav1.NewTime(t0.Add(time.Second)),
	}}
}

func findCondition(t *testing.T, st corev1.PodStatus, typ corev1.PodConditionType) corev1.PodCondition {
	t.Helper()
	var found []corev1.PodCondition
	for _, c := range st.Conditions {
		if c.Type == typ {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("condition %s appears %d times in %+v", typ, len(found), st.Conditions)
	}
	return found[0]
}

func checkCondition(t *testing.T, st corev1.PodStatus, typ corev1.PodConditionType, status corev1.ConditionStatus, reason, msg string) {
	t.Helper()
	c := findCondition(t, st, typ)
	if c.Status != status || c.Reason != reason || c.Message != msg {
		t.Errorf("condition %s = {%s %q %q}, want {%s %q %q}", typ, c.Status, c.Reason, c.Message, status, reason, msg)
	}
}

func findContainerStatus(t *testing.T, sts []corev1.ContainerStatus, name string) corev1.ContainerStatus {
	t.Helper()
	st, ok := FindStatus(sts, name)
	if !ok {
		t.Fatalf("no status for container %s in %+v", name, sts)
	}
	return st
}

func TestDeriveFreshRecord(t *testing.T) {
	tests := []struct {
		name       string
		init       []string
		appReason  string
		initString string
	}{
		{name: "no init containers", appReason: "ContainerCreating"},
		{name: "init containers", init: []string{"i1", "i2"}, appReason: "PodInitializing", initString: "[i1 i2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := phasePod(corev1.RestartPolicyAlways, tc.init, "a", "b")
			p := snap(pod)
			st := report(p, t0)

			if st.Phase != corev1.PodPending {
				t.Errorf("phase = %s, want Pending", st.Phase)
			}
			if len(st.ContainerStatuses) != 2 || len(st.InitContainerStatuses) != len(tc.init) {
				t.Fatalf("got %d container and %d init container statuses, want 2 and %d",
					len(st.ContainerStatuses), len(st.InitContainerStatuses), len(tc.init))
			}
			check := func(cs corev1.ContainerStatus, reason string) {
				t.Helper()
				if cs.State.Waiting == nil || cs.State.Waiting.Reason != reason {
					t.Errorf("container %s state = %+v, want Waiting %s", cs.Name, cs.State, reason)
				}
				if cs.Ready || cs.Started == nil || *cs.Started || cs.RestartCount != 0 || cs.ContainerID != "" {
					t.Errorf("container %s: ready=%v started=%v restartCount=%d containerID=%q, want false, false, 0, empty",
						cs.Name, cs.Ready, cs.Started, cs.RestartCount, cs.ContainerID)
				}
				if cs.Image != "busybox" {
					t.Errorf("container %s image = %q, want busybox", cs.Name, cs.Image)
				}
				if cs.LastTerminationState.Terminated != nil {
					t.Errorf("container %s has a last termination: %+v", cs.Name, cs.LastTerminationState)
				}
			}
			for i, cs := range st.InitContainerStatuses {
				if cs.Name != tc.init[i] {
					t.Errorf("init container status %d is %s, want %s", i, cs.Name, tc.init[i])
				}
				check(cs, "PodInitializing")
			}
			for i, cs := range st.ContainerStatuses {
				if want := []string{"a", "b"}[i]; cs.Name != want {
					t.Errorf("container status %d is %s, want %s", i, cs.Name, want)
				}
				check(cs, tc.appReason)
			}

			checkCondition(t, st, corev1.PodReadyToStartContainers, corev1.ConditionFalse, "PodSandboxNotReady", "no pod sandbox exists")
			checkCondition(t, st, corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [a b]")
			checkCondition(t, st, corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [a b]")
			if len(tc.init) > 0 {
				checkCondition(t, st, corev1.PodInitialized, corev1.ConditionFalse, "ContainersNotInitialized", "containers with incomplete status: "+tc.initString)
			}
			if st.StartTime != nil {
				t.Errorf("startTime = %v, want none before the node took the pod on", st.StartTime)
			}
		})
	}
}

func TestDeriveInitialized(t *testing.T) {
	t.Run("no init containers", func(t *testing.T) {
		pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
		p := snap(pod)
		p.SandboxReady, p.SandboxExists = true, true
		st := report(p, t0)
		checkCondition(t, st, corev1.PodInitialized, corev1.ConditionTrue, "", "")
		checkCondition(t, st, corev1.PodReadyToStartContainers, corev1.ConditionTrue, "", "")
	})
	t.Run("init containers in progress then done", func(t *testing.T) {
		pod := phasePod(corev1.RestartPolicyAlways, []string{"i1", "i2"}, "a")
		p := snap(pod)
		p.SandboxReady, p.SandboxExists = true, true
		running(initC(p, 0), "i1id")
		exited(initC(p, 0), 0)
		running(initC(p, 1), "i2id")
		st := report(p, t0)
		if st.Phase != corev1.PodPending {
			t.Errorf("phase = %s, want Pending", st.Phase)
		}
		checkCondition(t, st, corev1.PodInitialized, corev1.ConditionFalse, "ContainersNotInitialized", "containers with incomplete status: [i2]")

		exited(initC(p, 1), 0)
		running(appC(p, 0), "aid")
		st = report(p, t0.Add(time.Second))
		if st.Phase != corev1.PodRunning {
			t.Errorf("phase = %s, want Running", st.Phase)
		}
		checkCondition(t, st, corev1.PodInitialized, corev1.ConditionTrue, "", "")
		checkCondition(t, st, corev1.ContainersReady, corev1.ConditionTrue, "", "")
		checkCondition(t, st, corev1.PodReady, corev1.ConditionTrue, "", "")
	})
	t.Run("sidecar started", func(t *testing.T) {
		pod := phasePod(corev1.RestartPolicyAlways, []string{"log-sidecar"}, "a")
		p := snap(pod)
		p.SandboxReady, p.SandboxExists = true, true
		running(initC(p, 0), "sid")
		running(appC(p, 0), "aid")
		st := report(p, t0)
		if st.Phase != corev1.PodRunning {
			t.Errorf("phase = %s, want Running", st.Phase)
		}
		side := findContainerStatus(t, st.InitContainerStatuses, "log-sidecar")
		if !side.Ready || side.Started == nil || !*side.Started {
			t.Errorf("sidecar ready=%v started=%v, want true and true", side.Ready, side.Started)
		}
		checkCondition(t, st, corev1.PodInitialized, corev1.ConditionTrue, "", "")
		checkCondition(t, st, corev1.ContainersReady, corev1.ConditionTrue, "", "")
		checkCondition(t, st, corev1.PodReady, corev1.ConditionTrue, "", "")
	})
}

func TestDerivePodScheduledKept(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
	scheduled := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))}
	pod.Status.Conditions = []corev1.PodCondition{scheduled}
	p := snap(pod)
	for i, now := range []time.Time{t0, t0.Add(time.Minute)} {
		st := report(p, now)
		got := findCondition(t, st, corev1.PodScheduled)
		if got.Status != scheduled.Status || !got.LastTransitionTime.Equal(&scheduled.LastTransitionTime) {
			t.Errorf("call %d: PodScheduled = %+v, want %+v", i, got, scheduled)
		}
	}
}

func TestDeriveReadyConditions(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a", "b")
	p := snap(pod)
	p.SandboxReady, p.SandboxExists = true, true
	running(appC(p, 0), "aid")
	running(appC(p, 1), "bid")

	st := report(p, t0)
	if st.Phase != corev1.PodRunning {
		t.Fatalf("phase = %s, want Running", st.Phase)
	}
	for _, typ := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		checkCondition(t, st, typ, corev1.ConditionTrue, "", "")
	}
	for _, cs := range st.ContainerStatuses {
		if !cs.Ready || cs.Started == nil || !*cs.Started {
			t.Errorf("container %s ready=%v started=%v, want true and true", cs.Name, cs.Ready, cs.Started)
		}
	}

	// b crashed and waits to restart.
	exited(appC(p, 1), 1)
	appC(p, 1).LastState = appC(p, 1).State
	appC(p, 1).State = waiting("CrashLoopBackOff", "back-off")
	st = report(p, t0.Add(time.Second))
	if st.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running", st.Phase)
	}
	checkCondition(t, st, corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [b]")
	checkCondition(t, st, corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [b]")
	b := findContainerStatus(t, st.ContainerStatuses, "b")
	if b.LastTerminationState.Terminated == nil || b.LastTerminationState.Terminated.ExitCode != 1 {
		t.Errorf("b lastState = %+v, want Terminated with exit code 1", b.LastTerminationState)
	}

	// a crashed too.
	exited(appC(p, 0), 2)
	st = report(p, t0.Add(2*time.Second))
	checkCondition(t, st, corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [a b]")
	checkCondition(t, st, corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [a b]")
}

func TestDeriveReadinessGates(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	p := snap(pod)
	p.SandboxReady, p.SandboxExists = true, true
	running(appC(p, 0), "aid")

	st := report(p, t0)
	checkCondition(t, st, corev1.ContainersReady, corev1.ConditionTrue, "", "")
	if c := findCondition(t, st, corev1.PodReady); c.Status != corev1.ConditionFalse {
		t.Errorf("Ready = %s with the gate's condition absent, want False", c.Status)
	}

	p.Pod.Status.Conditions = append(p.Pod.Status.Conditions, corev1.PodCondition{Type: "example.com/gate", Status: corev1.ConditionTrue})
	st = report(p, t0)
	checkCondition(t, st, corev1.PodReady, corev1.ConditionTrue, "", "")
}

func TestDeriveSucceeded(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyNever, nil, "a", "b")
	p := snap(pod)
	running(appC(p, 0), "aid")
	running(appC(p, 1), "bid")
	exited(appC(p, 0), 0)
	exited(appC(p, 1), 0)
	p.Terminal = true
	st := report(p, t0)
	if st.Phase != corev1.PodSucceeded {
		t.Fatalf("phase = %s, want Succeeded", st.Phase)
	}
	checkCondition(t, st, corev1.PodReadyToStartContainers, corev1.ConditionFalse, "PodSandboxNotReady", "no pod sandbox exists")
	checkCondition(t, st, corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted", "")
	checkCondition(t, st, corev1.PodReady, corev1.ConditionFalse, "PodCompleted", "")
	for _, cs := range st.ContainerStatuses {
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 || cs.State.Terminated.Reason != "Completed" {
			t.Errorf("container %s state = %+v, want Terminated Completed 0", cs.Name, cs.State)
		}
		if cs.Ready || cs.Started == nil || *cs.Started {
			t.Errorf("container %s ready=%v started=%v, want false and false", cs.Name, cs.Ready, cs.Started)
		}
	}
}

func TestDeriveTransitionTimes(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
	p := snap(pod)
	t1, t2, t3 := t0, t0.Add(10*time.Second), t0.Add(20*time.Second)

	first := report(p, t1)
	for _, c := range first.Conditions {
		if !c.LastTransitionTime.Time.Equal(t1) {
			t.Errorf("first report: %s lastTransitionTime = %v, want %v", c.Type, c.LastTransitionTime, t1)
		}
	}

	// Nothing changed: every time stays.
	second := report(p, t2)
	for _, c := range second.Conditions {
		if !c.LastTransitionTime.Time.Equal(t1) {
			t.Errorf("unchanged report: %s lastTransitionTime = %v, want %v", c.Type, c.LastTransitionTime, t1)
		}
	}

	// The sandbox comes up: only PodReadyToStartContainers changes.
	p.SandboxReady, p.SandboxExists = true, true
	third := report(p, t3)
	for _, c := range third.Conditions {
		want := t1
		if c.Type == corev1.PodReadyToStartContainers {
			want = t3
			if c.Status != corev1.ConditionTrue {
				t.Errorf("PodReadyToStartContainers = %s, want True", c.Status)
			}
		}
		if !c.LastTransitionTime.Time.Equal(want) {
			t.Errorf("after sandbox: %s lastTransitionTime = %v, want %v", c.Type, c.LastTransitionTime, want)
		}
	}

	// The container runs: ContainersReady and Ready change; PodReadyToStartContainers keeps t3.
	running(appC(p, 0), "aid")
	t4 := t0.Add(30 * time.Second)
	fourth := report(p, t4)
	for typ, want := range map[corev1.PodConditionType]time.Time{
		corev1.PodReadyToStartContainers: t3,
		corev1.ContainersReady:           t4,
		corev1.PodReady:                  t4,
	} {
		c := findCondition(t, fourth, typ)
		if c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Time.Equal(want) {
			t.Errorf("after start: %s = %s at %v, want True at %v", typ, c.Status, c.LastTransitionTime, want)
		}
	}
}

func TestDeriveContainerFields(t *testing.T) {
	tests := []struct {
		name        string
		imageID     string
		attempts    int32
		wantImageID string
		wantRestart int32
	}{
		{name: "bare image ID", imageID: "4c4a1e0a1b2c", attempts: 1, wantImageID: "sha256:4c4a1e0a1b2c", wantRestart: 0},
		{name: "image ID with algorithm", imageID: "sha256:4c4a1e0a1b2c", attempts: 2, wantImageID: "sha256:4c4a1e0a1b2c", wantRestart: 1},
		{name: "image digest reference", imageID: "docker.io/library/busybox@sha256:abcd", attempts: 5, wantImageID: "docker.io/library/busybox@sha256:abcd", wantRestart: 4},
		{name: "no image ID yet", imageID: "", attempts: 0, wantImageID: "", wantRestart: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
			p := snap(pod)
			c := appC(p, 0)
			if tc.attempts > 0 {
				running(c, "0123abcd")
			}
			c.Attempts = tc.attempts
			c.ImageID = tc.imageID
			st := report(p, t0)
			cs := findContainerStatus(t, st.ContainerStatuses, "a")
			if cs.ImageID != tc.wantImageID {
				t.Errorf("imageID = %q, want %q", cs.ImageID, tc.wantImageID)
			}
			if cs.RestartCount != tc.wantRestart {
				t.Errorf("restartCount = %d, want %d", cs.RestartCount, tc.wantRestart)
			}
			wantID := ""
			if tc.attempts > 0 {
				wantID = "podman://0123abcd"
			}
			if cs.ContainerID != wantID {
				t.Errorf("containerID = %q, want %q", cs.ContainerID, wantID)
			}
		})
	}
}

func TestDeriveTerminalPhaseSticks(t *testing.T) {
	for _, phase := range []corev1.PodPhase{corev1.PodSucceeded, corev1.PodFailed} {
		t.Run(string(phase), func(t *testing.T) {
			pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
			pod.Status.Phase = phase
			p := snap(pod)
			p.SandboxReady, p.SandboxExists = true, true
			running(appC(p, 0), "aid")
			st := report(p, t0)
			if st.Phase != phase {
				t.Errorf("phase = %s, want %s to stay", st.Phase, phase)
			}
		})
	}
}

func TestDeriveAddresses(t *testing.T) {
	pod := phasePod(corev1.RestartPolicyAlways, nil, "a")
	pod.Status.QOSClass = corev1.PodQOSBestEffort
	p := snap(pod)
	p.StartTime = metav1.NewTime(t0)

	st := report(p, t0)
	if st.HostIP != testNodeIP || len(st.HostIPs) != 1 || st.HostIPs[0].IP != testNodeIP {
		t.Errorf("hostIP = %q hostIPs = %v, want %s", st.HostIP, st.HostIPs, testNodeIP)
	}
	if st.PodIP != "" || len(st.PodIPs) != 0 {
		t.Errorf("podIP = %q podIPs = %v before the sandbox has an IP, want none", st.PodIP, st.PodIPs)
	}
	if st.StartTime == nil || !st.StartTime.Time.Equal(t0) {
		t.Errorf("startTime = %v, want %v", st.StartTime, t0)
	}
	if st.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("qosClass = %q, want BestEffort", st.QOSClass)
	}

	p.PodIP = "10.88.0.7"
	st = report(p, t0)
	if st.PodIP != "10.88.0.7" || len(st.PodIPs) != 1 || st.PodIPs[0].IP != "10.88.0.7" {
		t.Errorf("podIP = %q podIPs = %v, want 10.88.0.7", st.PodIP, st.PodIPs)
	}
}

func TestSameGates(t *testing.T) {
	gates := []corev1.PodReadinessGate{{ConditionType: "g1"}, {ConditionType: "g2"}}
	cond := func(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: s}
	}
	tests := []struct {
		name string
		a, b []corev1.PodCondition
		want bool
	}{
		{name: "both without", want: true},
		{name: "one set", a: nil, b: []corev1.PodCondition{cond("g1", corev1.ConditionTrue)}, want: false},
		{name: "status changed", a: []corev1.PodCondition{cond("g2", corev1.ConditionFalse)}, b: []corev1.PodCondition{cond("g2", corev1.ConditionTrue)}, want: false},
		{name: "other conditions differ", a: []corev1.PodCondition{cond("g1", corev1.ConditionTrue)},
			b: []corev1.PodCondition{cond("x", corev1.ConditionTrue), cond("g1", corev1.ConditionTrue)}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameGates(gates, tt.a, tt.b); got != tt.want {
				t.Errorf("SameGates = %v, want %v", got, tt.want)
			}
		})
	}
}
