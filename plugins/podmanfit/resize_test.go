package podmanfit

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	st "k8s.io/kubernetes/pkg/scheduler/testing"
)

// TestFilterCountsResizes checks that a pod being resized in place takes what the in-tree NodeResourcesFit counts
// for it: the largest of its spec, its allocation and what its containers run with (status resources), but not a
// spec whose resize the kubelet found infeasible.
func TestFilterCountsResizes(t *testing.T) {
	cpu := func(v string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(v)}
	}
	// resizing is a pod on node1 whose spec asks for spec while its container was allocated allocated and runs
	// with running.
	resizing := func(spec, allocated, running string, pending string) *corev1.Pod {
		p := existing("e1", map[corev1.ResourceName]string{corev1.ResourceCPU: spec}).Obj()
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name:               p.Spec.Containers[0].Name,
			State:              corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			AllocatedResources: cpu(allocated),
			Resources:          &corev1.ResourceRequirements{Requests: cpu(running)},
		}}
		if pending != "" {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: pending})
		}
		return p
	}
	incoming := st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "600m"}).Obj()
	tests := []struct {
		name     string
		existing *corev1.Pod
		want     *fwk.Status
	}{
		{name: "resize done", existing: resizing("500m", "500m", "500m", "")},
		{name: "deferred resize counts the spec", existing: resizing("1500m", "500m", "500m", corev1.PodReasonDeferred),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 600m, free 500m")},
		{name: "infeasible resize counts the allocation", existing: resizing("1500m", "500m", "500m", corev1.PodReasonInfeasible)},
		{name: "shrink in progress counts what runs", existing: resizing("500m", "500m", "1500m", ""),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 600m, free 500m")},
		{name: "growth allocated, not yet applied, counts the allocation", existing: resizing("1500m", "1500m", "500m", ""),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 600m, free 500m")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			node := nodeWrapper("node1").Obj()
			f, _ := newFramework(ctx, t, nil, []*corev1.Node{node}, []*corev1.Pod{tc.existing})
			state := framework.NewCycleState()
			if _, s, _ := f.RunPreFilterPlugins(ctx, state, incoming); !s.IsSuccess() {
				t.Fatalf("PreFilter: %v", s)
			}
			nodeInfo := framework.NewNodeInfo(tc.existing)
			nodeInfo.SetNode(node)
			got := f.RunFilterPlugins(ctx, state, incoming, nodeInfo)
			want := tc.want
			if want != nil {
				want = want.WithPlugin(Name)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Filter status (-want,+got):\n%s", diff)
			}
		})
	}
}
