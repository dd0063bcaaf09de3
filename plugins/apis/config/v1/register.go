package v1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	kschedv1 "k8s.io/kube-scheduler/config/v1"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"

	"github.com/berth-dev/berth/plugins/apis/config"
)

// SchemeGroupVersion is kubescheduler.config.k8s.io/v1.
var SchemeGroupVersion = kschedv1.SchemeGroupVersion

var (
	localSchemeBuilder = &kschedv1.SchemeBuilder
	// AddToScheme registers the v1 argument types, their defaults and conversions.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	localSchemeBuilder.Register(addKnownTypes, addDefaultingFuncs, addConversionFuncs)
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &PodmanFitArgs{}, &PodmanScoreArgs{})
	return nil
}

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	scheme.AddTypeDefaultingFunc(&PodmanFitArgs{}, func(obj any) { SetDefaultsPodmanFitArgs(obj.(*PodmanFitArgs)) })
	scheme.AddTypeDefaultingFunc(&PodmanScoreArgs{}, func(obj any) { SetDefaultsPodmanScoreArgs(obj.(*PodmanScoreArgs)) })
	return nil
}

func addConversionFuncs(scheme *runtime.Scheme) error {
	funcs := []struct {
		a, b any
		fn   conversion.ConversionFunc
	}{
		{(*PodmanFitArgs)(nil), (*config.PodmanFitArgs)(nil), func(a, b any, _ conversion.Scope) error {
			return ConvertPodmanFitArgsToInternal(a.(*PodmanFitArgs), b.(*config.PodmanFitArgs))
		}},
		{(*config.PodmanFitArgs)(nil), (*PodmanFitArgs)(nil), func(a, b any, _ conversion.Scope) error {
			ConvertPodmanFitArgsFromInternal(a.(*config.PodmanFitArgs), b.(*PodmanFitArgs))
			return nil
		}},
		{(*PodmanScoreArgs)(nil), (*config.PodmanScoreArgs)(nil), func(a, b any, _ conversion.Scope) error {
			return ConvertPodmanScoreArgsToInternal(a.(*PodmanScoreArgs), b.(*config.PodmanScoreArgs))
		}},
		{(*config.PodmanScoreArgs)(nil), (*PodmanScoreArgs)(nil), func(a, b any, _ conversion.Scope) error {
			ConvertPodmanScoreArgsFromInternal(a.(*config.PodmanScoreArgs), b.(*PodmanScoreArgs))
			return nil
		}},
	}
	for _, f := range funcs {
		if err := scheme.AddConversionFunc(f.a, f.b, f.fn); err != nil {
			return err
		}
	}
	return nil
}

// ConvertPodmanFitArgsToInternal converts defaulted v1 arguments to the internal type.
func ConvertPodmanFitArgsToInternal(in *PodmanFitArgs, out *config.PodmanFitArgs) error {
	in = in.DeepCopy()
	SetDefaultsPodmanFitArgs(in)
	out.ObservedMemory = *in.ObservedMemory
	out.MaxObservationAge = *in.MaxObservationAge
	return nil
}

// ConvertPodmanFitArgsFromInternal converts internal arguments to v1.
func ConvertPodmanFitArgsFromInternal(in *config.PodmanFitArgs, out *PodmanFitArgs) {
	out.ObservedMemory = new(in.ObservedMemory)
	out.MaxObservationAge = new(in.MaxObservationAge)
}

// ConvertPodmanScoreArgsToInternal converts defaulted v1 arguments to the internal type.
func ConvertPodmanScoreArgsToInternal(in *PodmanScoreArgs, out *config.PodmanScoreArgs) error {
	if in == nil {
		return fmt.Errorf("nil PodmanScoreArgs")
	}
	in = in.DeepCopy()
	SetDefaultsPodmanScoreArgs(in)
	out.SpreadWeight = *in.SpreadWeight
	out.LoadWeight = *in.LoadWeight
	out.ImageWeight = *in.ImageWeight
	out.ObservedUsagePercent = *in.ObservedUsagePercent
	out.MaxObservationAge = *in.MaxObservationAge
	out.TopologySpreadWeight = *in.TopologySpreadWeight
	out.DefaultingType = schedconfig.PodTopologySpreadConstraintsDefaulting(in.DefaultingType)
	out.DefaultConstraints = in.DefaultConstraints
	return nil
}

// ConvertPodmanScoreArgsFromInternal converts internal arguments to v1.
func ConvertPodmanScoreArgsFromInternal(in *config.PodmanScoreArgs, out *PodmanScoreArgs) {
	out.SpreadWeight = new(in.SpreadWeight)
	out.LoadWeight = new(in.LoadWeight)
	out.ImageWeight = new(in.ImageWeight)
	out.ObservedUsagePercent = new(in.ObservedUsagePercent)
	out.MaxObservationAge = new(in.MaxObservationAge)
	out.TopologySpreadWeight = new(in.TopologySpreadWeight)
	out.DefaultingType = kschedv1.PodTopologySpreadConstraintsDefaulting(in.DefaultingType)
	out.DefaultConstraints = in.DeepCopy().DefaultConstraints
}
