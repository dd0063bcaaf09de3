package config

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

// PodmanScoreArgs configures the PodmanScore plugin: the weights of its three parts.
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
func (in *PodmanScoreArgs) DeepCopyInto(out *PodmanScoreArgs) { *out = *in }

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
