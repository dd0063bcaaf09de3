package provider

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"
)

// TestNodeReadyFollowsPodman checks that the node's Ready condition follows Podman (False with PodmanUnreachable
// while it does not answer) while Ping, on which virtual-kubelet's status updates and lease renewals hang, stays
// healthy.
func TestNodeReadyFollowsPodman(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	fake := newFakeRuntime("busybox")
	n := NewNode(ctx, NodeConfig{Name: "node-a", IP: testNodeIP, Runtime: fake})
	ready := func() corev1.NodeCondition {
		var node corev1.Node
		n.Configure(&node)
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c
			}
		}
		t.Fatalf("no Ready condition in %+v", node.Status.Conditions)
		return corev1.NodeCondition{}
	}
	now := time.Now()
	steps := []struct {
		name       string
		down       bool
		wantStatus corev1.ConditionStatus
		wantReason string
	}{
		{"podman answers", false, corev1.ConditionTrue, "PodmanReady"},
		{"podman stopped", true, corev1.ConditionFalse, "PodmanUnreachable"},
		{"podman started again", false, corev1.ConditionTrue, "PodmanReady"},
	}
	for i, st := range steps {
		fake.setDown(st.down)
		changed := n.observe(ctx, now.Add(time.Duration(i)*time.Second))
		if c := ready(); c.Status != st.wantStatus || c.Reason != st.wantReason {
			t.Errorf("%s: Ready = %s (%s), want %s (%s)", st.name, c.Status, c.Reason, st.wantStatus, st.wantReason)
		}
		if i > 0 && !changed {
			t.Errorf("%s: observe reported no change", st.name)
		}
		if err := n.Ping(ctx); err != nil {
			t.Errorf("%s: Ping = %v, want nil whatever Podman's state", st.name, err)
		}
	}
}
