package benchutil

import (
	"math"
	"slices"
	"time"
)

// Pct is the nearest-rank percentile q (0 < q ≤ 1) of d, 0 for no samples: with 20 samples p99 is the slowest.
func Pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Median is the lower median of f, 0 for no samples.
func Median(f []float64) float64 {
	if len(f) == 0 {
		return 0
	}
	s := slices.Clone(f)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// Mean is the arithmetic mean of f, 0 for no samples.
func Mean(f []float64) float64 {
	if len(f) == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range f {
		sum += v
	}
	return sum / float64(len(f))
}

// Millis is d in milliseconds.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
