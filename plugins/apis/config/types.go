package config

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
)

// PodmanFitArgs configures the PodmanFit filter.
type PodmanFitArgs struct {
	metav1.TypeMeta

	// ObservedMemory makes Podman nodes also pass only if the host's observed available memory (MemAvailable) covers the pod's
	// memory request.
	ObservedMemory bool
	// MaxObservationAge: an observation older than this is not trusted (the node then passes on requests alone).
	MaxObservationAge metav1.Duration
}

// PodmanScoreArgs configures the PodmanScore plugin: the weights of its four parts, and the cluster's default
// topology spread constraints for its topology spread part.
type PodmanScoreArgs struct {
	metav1.TypeMeta

	// SpreadWeight weighs spreading the pods of one controller over nodes.
	SpreadWeight int64
	// LoadWeight weighs preferring the least loaded node.
	LoadWeight int64
	// ImageWeight weighs preferring nodes that already store the pod's images.
	ImageWeight int64
	// ObservedUsagePercent is how much of the load part comes from the host's observed usage (the rest from
	// requests), 0..100.
	ObservedUsagePercent int64
	// MaxObservationAge: an observation older than this is not trusted (load then comes from requests alone).
	MaxObservationAge metav1.Duration
	// TopologySpreadWeight weighs soft topology spread, PodTopologySpread's score folded in: 0 leaves it to that
	// plugin's score.
	TopologySpreadWeight int64
	// DefaultingType and DefaultConstraints are the cluster's default topology spread constraints for pods that
	// have none, as PodTopologySpreadArgs' fields of the same names; keep them equal to that plugin's args.
	DefaultingType     schedconfig.PodTopologySpreadConstraintsDefaulting
	DefaultConstraints []corev1.TopologySpreadConstraint
}

// DeepCopyInto copies the receiver into out.
func (in *PodmanFitArgs) DeepCopyInto(out *PodmanFitArgs) { *out = *in }

// DeepCopy returns a copy of the receiver.
func (in *PodmanFitArgs) DeepCopy() *PodmanFitArgs {
	if in == nil {
		return nil
	}
	out := new(PodmanFitArgs)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *PodmanFitArgs) DeepCopyObject() runtime.Object { return in.DeepCopy() }

// DeepCopyInto copies the receiver into out.
func (in *PodmanScoreArgs) DeepCopyInto(out *PodmanScoreArgs) {
	*out = *in
	if in.DefaultConstraints != nil {
		out.DefaultConstraints = make([]corev1.TopologySpreadConstraint, len(in.DefaultConstraints))
		for i := range in.DefaultConstraints {
			in.DefaultConstraints[i].DeepCopyInto(&out.DefaultConstraints[i])
		}
	}
}

// DeepCopy returns a copy of the receiver.
func (in *PodmanScoreArgs) DeepCopy() *PodmanScoreArgs {
	if in == nil {
		return nil
	}
	out := new(PodmanScoreArgs)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *PodmanScoreArgs) DeepCopyObject() runtime.Object { return in.DeepCopy() }
