package node

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

func TestEnsurePodCIDRs(t *testing.T) {
	tests := []struct {
		name      string
		has       []string
		pods      []string
		want      []string
		wantEvent string
	}{
		{name: "none registered: set", has: nil, pods: []string{"10.89.3.0/24"}, want: []string{"10.89.3.0/24"}},
		{name: "the same: left", has: []string{"10.89.3.0/24"}, pods: []string{"10.89.3.0/24"}, want: []string{"10.89.3.0/24"}},
		{name: "others: kept, with a warning", has: []string{"10.244.1.0/24"}, pods: []string{"10.89.3.0/24"},
			want: []string{"10.244.1.0/24"}, wantEvent: "Warning PodCIDRMismatch Node n has spec.podCIDRs [10.244.1.0/24], but its pods get addresses in its Podman network's [10.89.3.0/24]"},
		{name: "no subnet known: nothing", has: nil, pods: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{PodCIDRs: tt.has}}
			if len(tt.has) > 0 {
				n.Spec.PodCIDR = tt.has[0]
			}
			client := fake.NewClientset(n)
			rec := record.NewFakeRecorder(4)
			if err := EnsurePodCIDRs(context.Background(), client, rec, "n", tt.pods); err != nil {
				t.Fatal(err)
			}
			got, err := client.CoreV1().Nodes().Get(context.Background(), "n", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Spec.PodCIDRs, tt.want) || (len(tt.want) > 0 && got.Spec.PodCIDR != tt.want[0]) {
				t.Errorf("podCIDR %q podCIDRs %v, want %v", got.Spec.PodCIDR, got.Spec.PodCIDRs, tt.want)
			}
			var event string
			select {
			case event = <-rec.Events:
			default:
			}
			if (tt.wantEvent == "") != (event == "") || !strings.HasPrefix(event, tt.wantEvent) {
				t.Errorf("event %q, want %q", event, tt.wantEvent)
			}
		})
	}
}
