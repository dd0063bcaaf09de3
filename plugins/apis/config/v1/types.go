package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kschedv1 "k8s.io/kube-scheduler/config/v1"
)

// PodmanFitArgs configures the PodmanFit filter.
type PodmanFitArgs struct {
	metav1.TypeMeta `json:",inline"`

	// ObservedMemory makes Podman nodes also pass only if the host's observed available memory (MemAvailable) covers the pod's
	// memory request. Default true.
	ObservedMemory *bool `json:"observedMemory,omitempty"`
	// MaxObservationAge: an observation older than this is not trusted. Default 30s.
	MaxObservationAge *metav1.Duration `json:"maxObservationAge,omitempty"`
}

// PodmanScoreArgs configures the PodmanScore plugin.
type PodmanScoreArgs struct {
	metav1.TypeMeta `json:",inline"`

	// SpreadWeight weighs spreading the pods of one controller over nodes. Default 3.
	SpreadWeight *int64 `json:"spreadWeight,omitempty"`
	// LoadWeight weighs preferring the least loaded node. Default 2.
	LoadWeight *int64 `json:"loadWeight,omitempty"`
	// ImageWeight weighs preferring nodes that already store the pod's images. Default 1.
	ImageWeight *int64 `json:"imageWeight,omitempty"`
	// ObservedUsagePercent is how much of the load part comes from the host's observed usage. Default 50.
	ObservedUsagePercent *int64 `json:"observedUsagePercent,omitempty"`
	// MaxObservationAge: an observation older than this is not trusted. Default 30s.
	MaxObservationAge *metav1.Duration `json:"maxObservationAge,omitempty"`
	// TopologySpreadWeight weighs soft topology spread (PodTopologySpread's score folded in). Default 0: left to
	// PodTopologySpread's own score.
	TopologySpreadWeight *int64 `json:"topologySpreadWeight,omitempty"`
	// DefaultingType is PodTopologySpreadArgs' defaultingType: System (default) or List.
	DefaultingType kschedv1.PodTopologySpreadConstraintsDefaulting `json:"defaultingType,omitempty"`
	// DefaultConstraints is PodTopologySpreadArgs' defaultConstraints, with defaultingType List.
	DefaultConstraints []corev1.TopologySpreadConstraint `json:"defaultConstraints,omitempty"`
}

// DeepCopyInto copies the receiver into out.
func (in *PodmanFitArgs) DeepCopyInto(out *PodmanFitArgs) {
	*out = *in
	if in.ObservedMemory != nil {
		out.ObservedMemory = new(*in.ObservedMemory)
	}
	if in.MaxObservationAge != nil {
		out.MaxObservationAge = new(*in.MaxObservationAge)
	}
}

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
	for _, p := range []**int64{&out.SpreadWeight, &out.LoadWeight, &out.ImageWeight, &out.ObservedUsagePercent, &out.TopologySpreadWeight} {
		if *p != nil {
			*p = new(**p)
		}
	}
	if in.MaxObservationAge != nil {
		out.MaxObservationAge = new(*in.MaxObservationAge)
	}
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
