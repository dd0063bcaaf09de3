package benchutil

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestPct(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	twenty := ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	tests := []struct {
		name string
		d    []time.Duration
		q    float64
		want time.Duration
	}{
		{name: "no samples", d: nil, q: 0.5, want: 0},
		{name: "one sample", d: ms(7), q: 0.99, want: 7 * time.Millisecond},
		{name: "p50 of 20 is the 10th", d: twenty, q: 0.5, want: 10 * time.Millisecond},
		{name: "p99 of 20 is the slowest", d: twenty, q: 0.99, want: 20 * time.Millisecond},
		{name: "p0 is the fastest", d: twenty, q: 0, want: time.Millisecond},
		{name: "above 1 is clamped", d: twenty, q: 2, want: 20 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Pct(tc.d, tc.q); got != tc.want {
				t.Errorf("Pct(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestMedianMean(t *testing.T) {
	tests := []struct {
		name         string
		f            []float64
		median, mean float64
	}{
		{name: "none", f: nil, median: 0, mean: 0},
		{name: "odd", f: []float64{3, 1, 2}, median: 2, mean: 2},
		{name: "even takes the lower", f: []float64{4, 1, 3, 2}, median: 2, mean: 2.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Median(tc.f); got != tc.median {
				t.Errorf("Median = %v, want %v", got, tc.median)
			}
			if got := Mean(tc.f); got != tc.mean {
				t.Errorf("Mean = %v, want %v", got, tc.mean)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		name   string
		f      Figure
		want   float64
		wantOK bool
	}{
		{name: "latency", f: Figure{Berth: 330, Baseline: 220, BaselineName: "raw Podman"}, want: 1.5, wantOK: true},
		{name: "rate", f: Figure{Berth: 200, Baseline: 100, BaselineName: "in-tree", HigherIsBetter: true}, want: 2, wantOK: true},
		{name: "no baseline", f: Figure{Berth: 80}, wantOK: false},
		{name: "zero baseline", f: Figure{Berth: 1, BaselineName: "x"}, wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.f.Ratio()
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("Ratio() = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestFiguresRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "figures.json")
	in := []Figure{
		Figure{Area: "provider", Name: "pod start p99", Unit: "ms", Berth: 504, BaselineName: "raw Podman", Baseline: 340, Samples: 20}.WithTarget(
			"≤ 1.3 × raw + 200 ms = 642 ms", true),
		{Area: "cluster", Name: "start", Unit: "s", Berth: 9.3},
	}
	if err := WriteFigures(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadFigures(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("read %+v, wrote %+v", out, in)
	}
	if err := WriteFigures("", in); err != nil {
		t.Errorf("WriteFigures with no path: %v", err)
	}
}
