// Package validation checks the arguments of Berth's scheduling plugins; a bad argument stops the scheduler
// from starting with a precise field error.
package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

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
// share within 0..100, a positive observation age.
func ValidatePodmanScoreArgs(path *field.Path, args *config.PodmanScoreArgs) error {
	var errs field.ErrorList
	weights := []struct {
		name  string
		value int64
	}{{"spreadWeight", args.SpreadWeight}, {"loadWeight", args.LoadWeight}, {"imageWeight", args.ImageWeight}}
	sum := int64(0)
	for _, w := range weights {
		if w.value < 0 || w.value > MaxWeight {
			errs = append(errs, field.Invalid(path.Child(w.name), w.value, "must be between 0 and 100"))
		}
		sum += w.value
	}
	if sum == 0 && len(errs) == 0 {
		errs = append(errs, field.Invalid(path.Child("spreadWeight"), int64(0), "at least one weight (spreadWeight, loadWeight, imageWeight) must be greater than 0"))
	}
	if args.ObservedUsagePercent < 0 || args.ObservedUsagePercent > 100 {
		errs = append(errs, field.Invalid(path.Child("observedUsagePercent"), args.ObservedUsagePercent, "must be between 0 and 100"))
	}
	if args.MaxObservationAge.Duration <= 0 {
		errs = append(errs, field.Invalid(path.Child("maxObservationAge"), args.MaxObservationAge.Duration.String(), "must be greater than 0"))
	}
	return errs.ToAggregate()
}
