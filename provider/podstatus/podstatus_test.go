package podstatus

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDeriveStale(t *testing.T) {
	outage := &Outage{Since: t0, Err: errors.New("connection refused")}
	const msg = "Podman has not answered since 2025-01-02T03:04:05Z: connection refused"
	tests := []struct {
		name       string
		stale      *Outage
		finalPhase corev1.PodPhase
		wantPhase  corev1.PodPhase
		wantReason string
		wantMsg    string
	}{
		{name: "Podman answers", wantPhase: corev1.PodRunning},
		{name: "outage: Unknown, not ready", stale: outage, wantPhase: corev1.PodUnknown, wantReason: ReasonPodmanUnreachable, wantMsg: msg},
		{name: "outage of a terminal pod: its phase stays", stale: outage, finalPhase: corev1.PodSucceeded, wantPhase: corev1.PodSucceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := snap(phasePod(corev1.RestartPolicyAlways, nil, "a"))
			p.SandboxReady, p.SandboxExists = true, true
			running(appC(p, 0), "aid")
			p.Stale, p.FinalPhase = tc.stale, tc.finalPhase
			st := Derive(p, testNodeIP, t0)
			if st.Phase != tc.wantPhase || st.Reason != tc.wantReason || st.Message != tc.wantMsg {
				t.Errorf("phase %s reason %q message %q, want %s %q %q", st.Phase, st.Reason, st.Message, tc.wantPhase, tc.wantReason, tc.wantMsg)
			}
			// The containers' statuses stay as last known.
			if cs := findContainerStatus(t, st.ContainerStatuses, "a"); cs.State.Running == nil || !cs.Ready {
				t.Errorf("container status %+v, want running and ready as last known", cs)
			}
			if tc.wantPhase == corev1.PodUnknown {
				checkCondition(t, st, corev1.ContainersReady, corev1.ConditionFalse, ReasonPodmanUnreachable, msg)
				checkCondition(t, st, corev1.PodReady, corev1.ConditionFalse, ReasonPodmanUnreachable, msg)
			}
		})
	}
}

func TestDeriveResizeConditions(t *testing.T) {
	at := metav1.NewTime(t0.Add(-time.Minute))
	pending := &corev1.PodCondition{Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: corev1.PodReasonDeferred, LastTransitionTime: at}
	inProgress := &corev1.PodCondition{Type: corev1.PodResizeInProgress, Status: corev1.ConditionTrue, LastTransitionTime: at}
	tests := []struct {
		name                string
		pending, inProgress *corev1.PodCondition
		terminal            bool
		want                []corev1.PodConditionType
	}{
		{name: "none"},
		{name: "the kubelet's order", pending: pending, inProgress: inProgress, want: []corev1.PodConditionType{corev1.PodResizePending, corev1.PodResizeInProgress}},
		{name: "in progress", inProgress: inProgress, want: []corev1.PodConditionType{corev1.PodResizeInProgress}},
		{name: "a terminal pod has none", pending: pending, inProgress: inProgress, terminal: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := snap(phasePod(corev1.RestartPolicyNever, nil, "a"))
			running(appC(p, 0), "aid")
			// What the API's status says of resizes is the node's to say: it is not passed through.
			p.Pod.Status.Conditions = append(p.Pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: "Infeasible"})
			p.ResizePending, p.ResizeInProgress = tc.pending, tc.inProgress
			if tc.terminal {
				exited(appC(p, 0), 0)
				p.Terminal = true
			}
			var got []corev1.PodConditionType
			for _, c := range Derive(p, testNodeIP, t0).Conditions {
				if isResizeCondition(c.Type) {
					got = append(got, c.Type)
					if !c.LastTransitionTime.Equal(&at) {
						t.Errorf("%s at %v, want its own time %v", c.Type, c.LastTransitionTime, at)
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("resize conditions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeriveIsPure derives statuses of one snapshot at several times: the snapshot is left as it was, and once its
// previous conditions are those of the report, every later derivation is the same whatever its time.
func TestDeriveIsPure(t *testing.T) {
	build := func() *Pod {
		pod := phasePod(corev1.RestartPolicyNever, []string{"i1", "log-sidecar"}, "a", "b")
		p := snap(pod)
		p.SandboxReady, p.SandboxExists, p.PodIP, p.StartTime = true, true, "10.88.0.7", metav1.NewTime(t0)
		running(initC(p, 0), "i1id")
		exited(initC(p, 0), 0)
		running(initC(p, 1), "sid")
		running(appC(p, 0), "aid")
		exited(appC(p, 1), 0)
		p.ResizeInProgress = &corev1.PodCondition{Type: corev1.PodResizeInProgress, Status: corev1.ConditionTrue}
		return p
	}
	p, want := build(), build()
	first := Derive(p, testNodeIP, t0)
	if !apiequality.Semantic.DeepEqual(p, want) {
		t.Fatalf("Derive changed its snapshot:\n%s", cmp.Diff(want, p))
	}
	p.Previous = first.Conditions
	for _, now := range []time.Time{t0, t0.Add(time.Second), t0.Add(time.Hour)} {
		if got := Derive(p, testNodeIP, now); !apiequality.Semantic.DeepEqual(got, first) {
			t.Errorf("derived at %v (-first +got):\n%s", now, cmp.Diff(first, got))
		}
	}
}
