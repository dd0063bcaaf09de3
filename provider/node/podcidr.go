package node

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
)

// ReasonPodCIDRMismatch is the node's Warning event when its spec.podCIDRs are not the subnets its pods get.
const ReasonPodCIDRMismatch = "PodCIDRMismatch"

// EnsurePodCIDRs makes the registered node's spec.podCIDRs the pods' subnets. A node registered with none (by an
// earlier Berth, which did not set them) gets them; spec.podCIDRs cannot change once set, so a node whose differ
// (allocated by the controller-manager's node IPAM, or an earlier network) keeps them and gets a Warning event
// saying which subnet its pods really have.
func EnsurePodCIDRs(ctx context.Context, client kubernetes.Interface, recorder record.EventRecorder, name string, cidrs []string) error {
	if len(cidrs) == 0 {
		return nil
	}
	n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", name, err)
	}
	switch {
	case slices.Equal(n.Spec.PodCIDRs, cidrs):
		return nil
	case len(n.Spec.PodCIDRs) == 0 && n.Spec.PodCIDR == "":
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidrs[0], "podCIDRs": cidrs}})
		if _, err := client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("set node %s's podCIDRs to %v: %w", name, cidrs, err)
		}
		klog.FromContext(ctx).Info("Registered the pods' subnets as the node's podCIDRs", "podCIDRs", cidrs)
		return nil
	default:
		ref := &corev1.ObjectReference{Kind: "Node", Name: name, UID: types.UID(name)}
		recorder.Eventf(ref, corev1.EventTypeWarning, ReasonPodCIDRMismatch,
			"Node %s has spec.podCIDRs %v, but its pods get addresses in its Podman network's %v (a node's podCIDRs cannot change: delete the node, or give the network those subnets)",
			name, n.Spec.PodCIDRs, cidrs)
		return nil
	}
}
