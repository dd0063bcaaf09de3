package provider

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestTerminationOrder(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "side-a", RestartPolicy: &always},
			{Name: "init"},
			{Name: "side-b", RestartPolicy: &always},
		},
		Containers: []corev1.Container{{Name: "app"}, {Name: "helper"}},
	}}
	all := map[string]bool{"side-a": true, "side-b": true, "app": true, "helper": true}
	for _, tc := range []struct {
		name    string
		running map[string]bool
		// stop are the containers marked stopped before name waits for its turn; want is whether it may stop.
		stop  []string
		wait  string
		ready bool
	}{
		{name: "a main container never waits", running: all, wait: "app", ready: true},
		{name: "a sidecar waits for the main containers", running: all, stop: []string{"app"}, wait: "side-b", ready: false},
		{name: "the last sidecar stops once the main containers have", running: all, stop: []string{"app", "helper"}, wait: "side-b", ready: true},
		{name: "an earlier sidecar waits for a later one", running: all, stop: []string{"app", "helper"}, wait: "side-a", ready: false},
		{name: "an earlier sidecar stops after the later one", running: all, stop: []string{"app", "helper", "side-b"}, wait: "side-a", ready: true},
		{name: "containers not running are not waited for", running: map[string]bool{"side-a": true, "side-b": true, "helper": true}, stop: []string{"helper"}, wait: "side-b", ready: true},
		{name: "a sidecar not running is not waited for", running: map[string]bool{"side-a": true}, wait: "side-a", ready: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newTerminationOrder(pod, tc.running)
			for _, n := range tc.stop {
				o.done(n)
				o.done(n) // twice is harmless
			}
			if got := o.turn(tc.wait); got != tc.ready {
				t.Fatalf("%s may stop: %v, want %v", tc.wait, got, tc.ready)
			}
			const grace = 30 * time.Second
			if tc.ready {
				if left := o.waitForTurn(tc.wait, grace); left != grace {
					t.Errorf("grace left %v, want %v", left, grace)
				}
				return
			}
			// Not its turn: it waits out a short grace, all of it.
			if left := o.waitForTurn(tc.wait, time.Millisecond); left != 0 {
				t.Fatalf("%s did not wait (grace left %v)", tc.wait, left)
			}
			// Its turn comes once the rest stop, whether they stop before or while it waits.
			got := make(chan time.Duration, 1)
			go func() { got <- o.waitForTurn(tc.wait, grace) }()
			for n := range tc.running {
				if n != tc.wait && !slices.Contains(tc.stop, n) {
					o.done(n)
				}
			}
			if !o.turn(tc.wait) {
				t.Fatalf("%s may not stop once everything else has", tc.wait)
			}
			select {
			case left := <-got:
				if left <= 0 || left > grace {
					t.Errorf("grace left %v", left)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s still waits once everything else has stopped", tc.wait)
			}
		})
	}
}

func TestTerminationOrderGraceRunsOut(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "side", RestartPolicy: &always}},
		Containers:     []corev1.Container{{Name: "app"}},
	}}
	o := newTerminationOrder(pod, map[string]bool{"side": true, "app": true})
	if left := o.waitForTurn("side", 50*time.Millisecond); left != 0 {
		t.Errorf("grace left %v after waiting it all out, want 0", left)
	}
	if left := o.waitForTurn("side", 0); left != 0 {
		t.Errorf("no grace: %v", left)
	}
}
