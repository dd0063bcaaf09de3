// Package validation checks the arguments of Berth's scheduling plugins; a bad argument stops the scheduler
// from starting with a precise field error.
package validation

import (
	"errors"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedvalidation "k8s.io/kubernetes/pkg/scheduler/apis/config/validation"

	"github.com/berth-dev/berth/plugins/apis/config"
)

// MaxWeight bounds each weight of PodmanScoreArgs.
const MaxWeight = 100

// ValidatePodmanFitArgs validates PodmanFitArgs.
func ValidatePodmanFitArgs(path *field.Path, args *config.PodmanFitArgs) error {
	var errs field.ErrorList
	if args.MaxObservationAge.Duration <= 0 {
		errs = append(errs, field.Invalid(path.Child("maxObservationAge"), args.MaxObservationAge.Duration.String(), "must be greater than 0"))
	}
	return errs.ToAggregate()
}

// ValidatePodmanScoreArgs validates PodmanScoreArgs: weights within 0..100 and not all zero, the observed usage
// share within 0..100, a positive observation age, and the default topology spread constraints as the in-tree
// PodTopologySpreadArgs are validated.
func ValidatePodmanScoreArgs(path *field.Path, args *config.PodmanScoreArgs) error {
	var errs field.ErrorList
	weights := []struct {
		name  string
		value int64
	}{{"spreadWeight", args.SpreadWeight}, {"loadWeight", args.LoadWeight}, {"imageWeight", args.ImageWeight}, {"topologySpreadWeight", args.TopologySpreadWeight}}
	sum := int64(0)
	for _, w := range weights {
		if w.value < 0 || w.value > MaxWeight {
			errs = append(errs, field.Invalid(path.Child(w.name), w.value, "must be between 0 and 100"))
		}
		sum += w.value
	}
	if sum == 0 && len(errs) == 0 {
		errs = append(errs, field.Invalid(path.Child("spreadWeight"), int64(0), "at least one weight (spreadWeight, loadWeight, imageWeight, topologySpreadWeight) must be greater than 0"))
	}
	if args.ObservedUsagePercent < 0 || args.ObservedUsagePercent > 100 {
		errs = append(errs, field.Invalid(path.Child("observedUsagePercent"), args.ObservedUsagePercent, "must be between 0 and 100"))
	}
	if args.MaxObservationAge.Duration <= 0 {
		errs = append(errs, field.Invalid(path.Child("maxObservationAge"), args.MaxObservationAge.Duration.String(), "must be greater than 0"))
	}
	// An empty defaultingType is System, as the v1 defaults and New make it.
	spread := &schedconfig.PodTopologySpreadArgs{DefaultingType: args.DefaultingType, DefaultConstraints: args.DefaultConstraints}
	if spread.DefaultingType == "" {
		spread.DefaultingType = schedconfig.SystemDefaulting
	}
	if err := schedvalidation.ValidatePodTopologySpreadArgs(path, spread); err != nil {
		var agg utilerrors.Aggregate
		if !errors.As(err, &agg) {
			return append(errs, field.InternalError(path, err)).ToAggregate()
		}
		for _, e := range agg.Errors() {
			var fe *field.Error
			if !errors.As(e, &fe) {
				fe = field.InternalError(path, e)
			}
			errs = append(errs, fe)
		}
	}
	return errs.ToAggregate()
}
