package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func spec(container, leaf string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{
		LeafNodeType:            types.NodeTypeIt,
		ContainerHierarchyTexts: []string{container},
		LeafNodeText:            leaf,
		State:                   state,
		Failure:                 types.Failure{Message: msg},
	}
}

func TestRun(t *testing.T) {
	const focus, skip = `\[sig-node\].*\[Conformance\]`, `\[Slow\]`
	tests := []struct {
		name     string
		specs    types.SpecReports
		wantOK   bool
		wantOut  []string
		wantGone []string
	}{
		{
			name: "all selected pass",
			specs: types.SpecReports{
				spec("[sig-node] Pods", "runs [Conformance]", types.SpecStatePassed, ""),
				spec("[sig-node] Pods", "not selected", types.SpecStateSkipped, ""),
			},
			wantOK:   true,
			wantOut:  []string{"PASS", "[sig-node] Pods runs [Conformance]", "conformance: 1 passed, 0 failed"},
			wantGone: []string{"not selected"},
		},
		{
			name: "a failure is listed with its first line and fails the run",
			specs: types.SpecReports{
				spec("[sig-node] Pods", "runs [Conformance]", types.SpecStatePassed, ""),
				spec("[sig-node] Hooks", "prestop [Conformance]", types.SpecStateFailed, "timed out\nstack"),
				spec("[sig-node] Hooks", "slow one [Slow] [Conformance]", types.SpecStateFailed, "never selected"),
			},
			wantOut:  []string{"FAIL", "failed: timed out", "conformance: 1 passed, 1 failed"},
			wantGone: []string{"stack", "never selected"},
		},
		{
			name: "a selected spec skipped at run time does not pass",
			specs: types.SpecReports{
				spec("[sig-node] Sysctls", "works [Conformance]", types.SpecStateSkipped, "no sysctl support"),
			},
			wantOut: []string{"skipped at run time: no sysctl support", "conformance: 0 passed, 1 failed"},
		},
		{
			name:    "nothing run is not a pass",
			wantOut: []string{"conformance: 0 passed, 0 failed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data, err := json.Marshal([]types.Report{{SpecReports: tc.specs}})
			if err != nil {
				t.Fatal(err)
			}
			report := filepath.Join(dir, "report.json")
			if err := os.WriteFile(report, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			md := filepath.Join(dir, "results.md")
			ok, err := run([]string{"--json", report, "--focus", focus, "--skip", skip, "--markdown", md}, &out)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if ok != tc.wantOK {
				t.Errorf("ok = %v, want %v; output:\n%s", ok, tc.wantOK, out.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, g := range tc.wantGone {
				if strings.Contains(out.String(), g) {
					t.Errorf("output has %q:\n%s", g, out.String())
				}
			}
			if _, err := os.Stat(md); err != nil {
				t.Errorf("no markdown table: %v", err)
			}
		})
	}
}
