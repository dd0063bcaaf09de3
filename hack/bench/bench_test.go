package main

import (
	"slices"
	"strings"
	"testing"
)

func TestDefaultSteps(t *testing.T) {
	if got, want := strings.Join(defaultSteps(), ","), "go,schedperf,podbench,apibench"; got != want {
		t.Errorf("default steps %s, want %s: the opt-in steps must stay out of a plain make bench", got, want)
	}
	for _, s := range steps {
		if !s.optIn {
			continue
		}
		if !slices.Contains(stepNames(), s.name) || s.command == "" {
			t.Errorf("opt-in step %s: command %q", s.name, s.command)
		}
		if len(s.full) == 0 || len(s.quick) == 0 || !strings.HasPrefix(s.full[0], "--workload=") || s.full[0] != s.quick[0] {
			t.Errorf("step %s: full %q, quick %q: both modes should measure the same workloads", s.name, s.full, s.quick)
		}
	}
}
