package main

import (
	"maps"
	"slices"
	"testing"
)

func TestCounts(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		steps                        []Step
		funcs, stops, files, returns int
		perFile                      map[string]int
	}{
		{name: "empty", perFile: map[string]int{}},
		{
			name:  "one file",
			steps: []Step{{"a.go", "A"}, {"a.go", "B"}},
			funcs: 2, stops: 1, files: 1, perFile: map[string]int{"a.go": 1},
		},
		{
			name:  "forward only",
			steps: []Step{{"a.go", "A"}, {"b.go", "B"}, {"b.go", "C"}, {"c.go", "D"}},
			funcs: 4, stops: 3, files: 3, perFile: map[string]int{"a.go": 1, "b.go": 1, "c.go": 1},
		},
		{
			name:  "back and forth",
			steps: []Step{{"a.go", "A"}, {"b.go", "B"}, {"a.go", "C"}, {"b.go", "D"}, {"c.go", "E"}, {"a.go", "F"}},
			funcs: 6, stops: 6, files: 3, returns: 3, perFile: map[string]int{"a.go": 3, "b.go": 2, "c.go": 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Path{Steps: tc.steps}
			funcs, stops, files, returns, perFile := p.Counts()
			if funcs != tc.funcs || stops != tc.stops || files != tc.files || returns != tc.returns {
				t.Errorf("Counts() = %d functions, %d stops, %d files, %d returns; want %d, %d, %d, %d",
					funcs, stops, files, returns, tc.funcs, tc.stops, tc.files, tc.returns)
			}
			if !maps.Equal(perFile, tc.perFile) {
				t.Errorf("stops per file = %v, want %v", perFile, tc.perFile)
			}
		})
	}
}

func TestWithin(t *testing.T) {
	p := &Path{Steps: []Step{{"provider/a.go", "A"}, {"provider/sub/b.go", "B"}, {"provider/a.go", "C"}, {"provider/c.go", "D"}}}
	got := p.Within("provider")
	want := []Step{{"provider/a.go", "A"}, {"provider/a.go", "C"}, {"provider/c.go", "D"}}
	if !slices.Equal(got.Steps, want) {
		t.Errorf("Within(provider) = %v, want %v", got.Steps, want)
	}
	if _, stops, _, returns, _ := got.Counts(); stops != 2 || returns != 0 {
		t.Errorf("Within(provider): %d stops, %d returns; want 2, 0", stops, returns)
	}
}
