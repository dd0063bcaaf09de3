package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kschedv1 "k8s.io/kube-scheduler/config/v1"
)

// Defaults of the plugins' arguments.
const (
	DefaultSpreadWeight         int64 = 3
	DefaultLoadWeight           int64 = 2
	DefaultImageWeight          int64 = 1
	DefaultObservedUsagePercent int64 = 50
	DefaultMaxObservationAge          = 30 * time.Second
	DefaultTopologySpreadWeight int64 = 0
)

// SetDefaultsPodmanFitArgs fills unset fields with defaults.
func SetDefaultsPodmanFitArgs(obj *PodmanFitArgs) {
	if obj.ObservedMemory == nil {
		obj.ObservedMemory = new(true)
	}
	if obj.MaxObservationAge == nil {
		obj.MaxObservationAge = &metav1.Duration{Duration: DefaultMaxObservationAge}
	}
}

// SetDefaultsPodmanScoreArgs fills unset fields with defaults.
func SetDefaultsPodmanScoreArgs(obj *PodmanScoreArgs) {
	if obj.SpreadWeight == nil {
		obj.SpreadWeight = new(DefaultSpreadWeight)
	}
	if obj.LoadWeight == nil {
		obj.LoadWeight = new(DefaultLoadWeight)
	}
	if obj.ImageWeight == nil {
		obj.ImageWeight = new(DefaultImageWeight)
	}
	if obj.ObservedUsagePercent == nil {
		obj.ObservedUsagePercent = new(DefaultObservedUsagePercent)
	}
	if obj.MaxObservationAge == nil {
		obj.MaxObservationAge = &metav1.Duration{Duration: DefaultMaxObservationAge}
	}
	if obj.TopologySpreadWeight == nil {
		obj.TopologySpreadWeight = new(DefaultTopologySpreadWeight)
	}
	if obj.DefaultingType == "" {
		obj.DefaultingType = kschedv1.SystemDefaulting
	}
}
