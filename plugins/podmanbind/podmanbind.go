// Package podmanbind is the PodmanBind plugin: it binds a pod through the pods/binding subresource and, in the same
// single API write, records on the pod (Binding annotations are copied onto it) the chosen node and the score
// breakdown that chose it. A pod deleted or bound meanwhile, or a node gone, ends the attempt with a clean status
// instead of retries.
package podmanbind

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/plugins/internal/decision"
)

// Name is the plugin's name in a KubeSchedulerConfiguration.
const Name = "PodmanBind"

// Reasons of a binding that cannot succeed.
const (
	ReasonPodGone      = "pod was deleted before it could be bound"
	ReasonAlreadyBound = "pod is already bound"
	ReasonNodeGone     = "node no longer exists"
)

// PodmanBind is the bind plugin.
type PodmanBind struct {
	handle fwk.Handle
}

var _ fwk.BindPlugin = &PodmanBind{}

// New builds the plugin; it takes no arguments.
func New(_ context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
	if obj != nil {
		if _, ok := obj.(*runtime.Unknown); !ok {
			return nil, fmt.Errorf("%s takes no arguments, got %T", Name, obj)
		}
	}
	return &PodmanBind{handle: h}, nil
}

// Name implements fwk.Plugin.
func (b *PodmanBind) Name() string { return Name }

// record is the score annotation's content.
type record struct {
	Node       string              `json:"node"`
	Score      *decision.Breakdown `json:"score,omitempty"`
	Weights    any                 `json:"weights,omitempty"`
	Candidates int                 `json:"candidates,omitempty"`
	Note       string              `json:"note,omitempty"`
}

// Annotations returns what the binding records about the decision for nodeName.
func Annotations(state fwk.CycleState, nodeName string) map[string]string {
	r := record{Node: nodeName}
	if data, err := state.Read(decision.StateKey); err == nil {
		if s, ok := data.(*decision.Scores); ok {
			if bd, ok := s.Node(nodeName); ok {
				r.Score, r.Weights, r.Candidates = &bd, s.Weights, s.Candidates
			}
		}
	}
	if r.Score == nil {
		r.Note = "not scored: the only feasible node"
	}
	b, _ := json.Marshal(r)
	return map[string]string{wellknown.AnnotationScheduledNode: nodeName, wellknown.AnnotationScore: string(b)}
}

// Bind implements fwk.BindPlugin.
func (b *PodmanBind) Bind(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodeName string) *fwk.Status {
	logger := klog.FromContext(ctx)
	if lister := b.handle.SharedInformerFactory(); lister != nil {
		if _, err := lister.Core().V1().Nodes().Lister().Get(nodeName); apierrors.IsNotFound(err) {
			return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, fmt.Sprintf("%s: %s", ReasonNodeGone, nodeName))
		}
	}
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, Annotations: Annotations(state, nodeName)},
		Target:     corev1.ObjectReference{Kind: "Node", Name: nodeName},
	}
	err := b.handle.ClientSet().CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	switch {
	case err == nil:
		logger.V(3).Info("Bound pod", "pod", klog.KObj(pod), "node", nodeName)
		return nil
	case apierrors.IsNotFound(err):
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, ReasonPodGone)
	case apierrors.IsConflict(err):
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, fmt.Sprintf("%s: %v", ReasonAlreadyBound, err))
	default:
		return fwk.AsStatus(fmt.Errorf("bind pod %s/%s to node %s: %w", pod.Namespace, pod.Name, nodeName, err))
	}
}
