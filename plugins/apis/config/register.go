package config

import (
	"k8s.io/apimachinery/pkg/runtime"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
)

// SchemeGroupVersion is the internal version of the kube-scheduler configuration group.
var SchemeGroupVersion = schedconfig.SchemeGroupVersion

var (
	localSchemeBuilder = &schedconfig.SchemeBuilder
	// AddToScheme registers the internal argument types.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	localSchemeBuilder.Register(addKnownTypes)
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &PodmanFitArgs{}, &PodmanScoreArgs{})
	return nil
}
