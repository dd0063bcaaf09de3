package podmanfit

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	configv1 "github.com/berth-dev/berth/plugins/apis/config/v1"
)

var defaultAge = metav1.Duration{Duration: configv1.DefaultMaxObservationAge}
