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
		if len(s.full) == 0 || len(s.quick) == 0 || s.full[0] != s.quick[0] {
			t.Errorf("step %s: full %q, quick %q: both modes should measure the same workloads", s.name, s.full, s.quick)
		}
		switch s.command {
		case "schedperf":
			if !strings.HasPrefix(s.full[0], "--workload=") {
				t.Errorf("step %s: full %q: an opt-in schedperf step names its workloads first", s.name, s.full)
			}
		case "podbench":
			// The kubelet baseline: podbench against a kind cluster, without the phases that only Berth has.
			for _, mode := range [][]string{s.full, s.quick} {
				if mode[0] != "--kind" || !slices.Contains(mode, "--mem-pods=0") || !slices.Contains(mode, "--scale-pods=0") {
					t.Errorf("step %s: %q: want --kind first, and --mem-pods=0 --scale-pods=0", s.name, mode)
				}
			}
		default:
			t.Errorf("opt-in step %s runs %s: no check for it here", s.name, s.command)
		}
	}
}
