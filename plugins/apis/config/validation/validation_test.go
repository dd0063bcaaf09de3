package validation

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berth-dev/berth/plugins/apis/config"
)

// fieldErr is what a test compares of a field error: all of it that the user sees.
type fieldErr struct {
	Type     field.ErrorType
	Field    string
	BadValue any
	Detail   string
	Message  string
}

func fieldErrs(t *testing.T, err error) []fieldErr {
	t.Helper()
	if err == nil {
		return nil
	}
	var agg utilerrors.Aggregate
	if !errors.As(err, &agg) {
		t.Fatalf("error %v (%T) is not an aggregate", err, err)
	}
	var out []fieldErr
	for _, e := range agg.Errors() {
		var fe *field.Error
		if !errors.As(e, &fe) {
			t.Fatalf("error %v (%T) is not a field error", e, e)
		}
		out = append(out, fieldErr{Type: fe.Type, Field: fe.Field, BadValue: fe.BadValue, Detail: fe.Detail, Message: fe.Error()})
	}
	return out
}

func validScoreArgs() config.PodmanScoreArgs {
	return config.PodmanScoreArgs{
		SpreadWeight: 3, LoadWeight: 2, ImageWeight: 1, ObservedUsagePercent: 50,
		MaxObservationAge: metav1.Duration{Duration: 30 * time.Second},
	}
}

func TestValidatePodmanScoreArgs(t *testing.T) {
	tests := []struct {
		name   string
		path   *field.Path
		modify func(*config.PodmanScoreArgs)
		want   []fieldErr
	}{
		{name: "defaults are valid", modify: func(*config.PodmanScoreArgs) {}},
		{
			name:   "one weight is enough",
			modify: func(a *config.PodmanScoreArgs) { a.SpreadWeight, a.LoadWeight, a.ImageWeight = 0, 0, 1 },
		},
		{
			name: "bounds are valid",
			modify: func(a *config.PodmanScoreArgs) {
				a.SpreadWeight, a.LoadWeight, a.ImageWeight = 100, 0, 100
				a.ObservedUsagePercent = 100
			},
		},
		{
			name:   "observedUsagePercent 0 is valid",
			modify: func(a *config.PodmanScoreArgs) { a.ObservedUsagePercent = 0 },
		},
		{
			name:   "negative weight",
			modify: func(a *config.PodmanScoreArgs) { a.SpreadWeight = -1 },
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "spreadWeight", BadValue: int64(-1), Detail: "must be between 0 and 100",
				Message: "spreadWeight: Invalid value: -1: must be between 0 and 100",
			}},
		},
		{
			name:   "weight over 100",
			modify: func(a *config.PodmanScoreArgs) { a.LoadWeight = 101 },
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "loadWeight", BadValue: int64(101), Detail: "must be between 0 and 100",
				Message: "loadWeight: Invalid value: 101: must be between 0 and 100",
			}},
		},
		{
			name:   "several bad weights, in field order",
			modify: func(a *config.PodmanScoreArgs) { a.ImageWeight, a.SpreadWeight = -5, 200 },
			want: []fieldErr{
				{
					Type: field.ErrorTypeInvalid, Field: "spreadWeight", BadValue: int64(200), Detail: "must be between 0 and 100",
					Message: "spreadWeight: Invalid value: 200: must be between 0 and 100",
				},
				{
					Type: field.ErrorTypeInvalid, Field: "imageWeight", BadValue: int64(-5), Detail: "must be between 0 and 100",
					Message: "imageWeight: Invalid value: -5: must be between 0 and 100",
				},
			},
		},
		{
			name:   "all weights zero",
			path:   field.NewPath("profiles").Index(1).Child("pluginConfig").Index(1).Child("args"),
			modify: func(a *config.PodmanScoreArgs) { a.SpreadWeight, a.LoadWeight, a.ImageWeight = 0, 0, 0 },
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "profiles[1].pluginConfig[1].args.spreadWeight",
				BadValue: int64(0), Detail: "at least one weight (spreadWeight, loadWeight, imageWeight, topologySpreadWeight) must be greater than 0",
				Message: `profiles[1].pluginConfig[1].args.spreadWeight: Invalid value: 0: at least one weight (spreadWeight, loadWeight, imageWeight, topologySpreadWeight) must be greater than 0`,
			}},
		},
		{
			name:   "weights summing to zero report only the bad weight",
			modify: func(a *config.PodmanScoreArgs) { a.SpreadWeight, a.LoadWeight, a.ImageWeight = -1, 1, 0 },
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "spreadWeight", BadValue: int64(-1), Detail: "must be between 0 and 100",
				Message: "spreadWeight: Invalid value: -1: must be between 0 and 100",
			}},
		},
		{
			name:   "field errors under a path",
			path:   field.NewPath("args"),
			modify: func(a *config.PodmanScoreArgs) { a.SpreadWeight = -1 },
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "args.spreadWeight", BadValue: int64(-1), Detail: "must be between 0 and 100",
				Message: "args.spreadWeight: Invalid value: -1: must be between 0 and 100",
			}},
		},
		{
			name:   "negative observedUsagePercent",
			modify: func(a *config.PodmanScoreArgs) { a.ObservedUsagePercent = -1 },
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "observedUsagePercent", BadValue: int64(-1), Detail: "must be between 0 and 100",
				Message: "observedUsagePercent: Invalid value: -1: must be between 0 and 100",
			}},
		},
		{
			name:   "observedUsagePercent over 100",
			modify: func(a *config.PodmanScoreArgs) { a.ObservedUsagePercent = 101 },
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "observedUsagePercent", BadValue: int64(101), Detail: "must be between 0 and 100",
				Message: "observedUsagePercent: Invalid value: 101: must be between 0 and 100",
			}},
		},
		{
			name:   "zero maxObservationAge",
			modify: func(a *config.PodmanScoreArgs) { a.MaxObservationAge = metav1.Duration{} },
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "maxObservationAge", BadValue: "0s", Detail: "must be greater than 0",
				Message: `maxObservationAge: Invalid value: "0s": must be greater than 0`,
			}},
		},
		{
			name:   "negative maxObservationAge",
			modify: func(a *config.PodmanScoreArgs) { a.MaxObservationAge = metav1.Duration{Duration: -5 * time.Second} },
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "maxObservationAge", BadValue: "-5s", Detail: "must be greater than 0",
				Message: `maxObservationAge: Invalid value: "-5s": must be greater than 0`,
			}},
		},
		{
			name: "every error at once",
			path: field.NewPath("args"),
			modify: func(a *config.PodmanScoreArgs) {
				a.SpreadWeight, a.LoadWeight, a.ImageWeight = 0, 0, 0
				a.ObservedUsagePercent = 150
				a.MaxObservationAge = metav1.Duration{}
			},
			want: []fieldErr{
				{
					Type: field.ErrorTypeInvalid, Field: "args.spreadWeight", BadValue: int64(0),
					Detail:  "at least one weight (spreadWeight, loadWeight, imageWeight, topologySpreadWeight) must be greater than 0",
					Message: `args.spreadWeight: Invalid value: 0: at least one weight (spreadWeight, loadWeight, imageWeight, topologySpreadWeight) must be greater than 0`,
				},
				{
					Type: field.ErrorTypeInvalid, Field: "args.observedUsagePercent", BadValue: int64(150), Detail: "must be between 0 and 100",
					Message: "args.observedUsagePercent: Invalid value: 150: must be between 0 and 100",
				},
				{
					Type: field.ErrorTypeInvalid, Field: "args.maxObservationAge", BadValue: "0s", Detail: "must be greater than 0",
					Message: `args.maxObservationAge: Invalid value: "0s": must be greater than 0`,
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := validScoreArgs()
			tc.modify(&args)
			got := fieldErrs(t, ValidatePodmanScoreArgs(tc.path, &args))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestValidatePodmanScoreArgsAllZeroWithoutPath(t *testing.T) {
	// The plugin validates with a nil path; the error still carries the detail.
	args := validScoreArgs()
	args.SpreadWeight, args.LoadWeight, args.ImageWeight = 0, 0, 0
	got := fieldErrs(t, ValidatePodmanScoreArgs(nil, &args))
	if len(got) != 1 {
		t.Fatalf("errors = %+v, want one", got)
	}
	if got[0].Type != field.ErrorTypeInvalid || got[0].Field != "spreadWeight" ||
		got[0].Detail != "at least one weight (spreadWeight, loadWeight, imageWeight, topologySpreadWeight) must be greater than 0" {
		t.Errorf("error = %+v", got[0])
	}
}

func TestValidatePodmanFitArgs(t *testing.T) {
	tests := []struct {
		name string
		path *field.Path
		args config.PodmanFitArgs
		want []fieldErr
	}{
		{
			name: "valid",
			args: config.PodmanFitArgs{ObservedMemory: true, MaxObservationAge: metav1.Duration{Duration: 30 * time.Second}},
		},
		{
			name: "observedMemory false is valid",
			args: config.PodmanFitArgs{MaxObservationAge: metav1.Duration{Duration: time.Second}},
		},
		{
			name: "zero maxObservationAge",
			args: config.PodmanFitArgs{ObservedMemory: true},
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "maxObservationAge", BadValue: "0s", Detail: "must be greater than 0",
				Message: `maxObservationAge: Invalid value: "0s": must be greater than 0`,
			}},
		},
		{
			name: "negative maxObservationAge under a path",
			path: field.NewPath("args"),
			args: config.PodmanFitArgs{MaxObservationAge: metav1.Duration{Duration: -time.Minute}},
			want: []fieldErr{{
				Type: field.ErrorTypeInvalid, Field: "args.maxObservationAge", BadValue: "-1m0s", Detail: "must be greater than 0",
				Message: `args.maxObservationAge: Invalid value: "-1m0s": must be greater than 0`,
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fieldErrs(t, ValidatePodmanFitArgs(tc.path, &tc.args))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want,+got):\n%s", diff)
			}
		})
	}
}
