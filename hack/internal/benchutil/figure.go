package benchutil

import (
	"encoding/json"
	"fmt"
	"os"
)

// Figure is one measured number of a benchmark, beside the baseline measured in the same run, if it has one.
type Figure struct {
	// Area is what the figure is about: "scheduler", "provider", "kubelet API", "cluster", ...
	Area string `json:"area"`
	// Name says what was measured, e.g. "pod start p99, one at a time".
	Name string `json:"name"`
	// Unit of Berth and Baseline, e.g. "ms", "pods/s", "MiB/s", "ns/node".
	Unit string `json:"unit"`
	// Berth is Berth's value.
	Berth float64 `json:"berth"`
	// BaselineName says what the baseline is ("raw Podman API", "in-tree default-scheduler"); empty when the
	// figure has none.
	BaselineName string  `json:"baselineName,omitempty"`
	Baseline     float64 `json:"baseline,omitempty"`
	// HigherIsBetter is set for rates (pods/s, MiB/s); latencies, memory and costs are better lower.
	HigherIsBetter bool `json:"higherIsBetter,omitempty"`
	// Target is the target for the figure in words (e.g. "≤ 1 s"), empty if there is none; Met says
	// whether this run met it.
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
	// Samples is the number of samples behind each of Berth's and the baseline's values (0: not counted).
	Samples int `json:"samples,omitempty"`
}

// Ratio is Berth's value over the baseline's; ok is false when there is no baseline or it is not positive.
func (f Figure) Ratio() (r float64, ok bool) {
	if f.BaselineName == "" || f.Baseline <= 0 {
		return 0, false
	}
	return f.Berth / f.Baseline, true
}

// WithTarget returns f with a target and whether it was met.
func (f Figure) WithTarget(target string, met bool) Figure {
	f.Target, f.Met = target, &met
	return f
}

// WriteFigures writes figures to path as JSON; an empty path writes nothing.
func WriteFigures(path string, figures []Figure) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(figures, "", "  ")
	if err != nil {
		return fmt.Errorf("encode figures: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write figures: %w", err)
	}
	return nil
}

// ReadFigures reads what WriteFigures wrote.
func ReadFigures(path string) ([]Figure, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read figures: %w", err)
	}
	var out []Figure
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode figures of %s: %w", path, err)
	}
	return out, nil
}
