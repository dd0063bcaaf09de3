// Command summary reads the JSON report of a ginkgo run of the conformance specs and prints one line per spec
// that was selected to run, then the closing line `conformance: N passed, N failed`. With --markdown it also
// writes the same result as a Markdown table (docs/conformance.md takes it). It exits 1 if a spec failed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	ok, err := run(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "summary: %v\n", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// result is one spec's outcome.
type result struct {
	name    string
	state   string // passed, failed, or ginkgo's other terminal states
	runTime time.Duration
	reason  string // the failure's first line, for failed specs
}

// run prints the summary and reports whether every selected spec passed.
func run(args []string, out io.Writer) (bool, error) {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	report := fs.String("json", "", "ginkgo JSON report (--ginkgo.json-report)")
	focus := fs.String("focus", "", "the run's focus regexp: specs outside it were never selected")
	skip := fs.String("skip", "", "the run's skip regexp")
	markdown := fs.String("markdown", "", "also write a Markdown table of the results to this file")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if *report == "" {
		return false, fmt.Errorf("--json is required")
	}
	data, err := os.ReadFile(*report)
	if err != nil {
		return false, fmt.Errorf("read the report: %w", err)
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		return false, fmt.Errorf("decode the report %s: %w", *report, err)
	}
	selected, err := selector(*focus, *skip)
	if err != nil {
		return false, err
	}
	results := collect(reports, selected)
	passed, failed := 0, 0
	for _, r := range results {
		switch r.state {
		case "passed":
			passed++
			fmt.Fprintf(out, "PASS %7.1fs  %s\n", r.runTime.Seconds(), r.name)
		default:
			failed++
			fmt.Fprintf(out, "FAIL %7.1fs  %s\n        %s: %s\n", r.runTime.Seconds(), r.name, r.state, r.reason)
		}
	}
	if *markdown != "" {
		if err := os.WriteFile(*markdown, []byte(table(results)), 0o644); err != nil {
			return false, fmt.Errorf("write %s: %w", *markdown, err)
		}
	}
	fmt.Fprintf(out, "conformance: %d passed, %d failed\n", passed, failed)
	return failed == 0 && passed > 0, nil
}

// selector reports whether a spec's full text was selected by the run's focus and skip.
func selector(focus, skip string) (func(string) bool, error) {
	var f, s *regexp.Regexp
	var err error
	if focus != "" {
		if f, err = regexp.Compile(focus); err != nil {
			return nil, fmt.Errorf("--focus: %w", err)
		}
	}
	if skip != "" {
		if s, err = regexp.Compile(skip); err != nil {
			return nil, fmt.Errorf("--skip: %w", err)
		}
	}
	return func(text string) bool {
		return (f == nil || f.MatchString(text)) && (s == nil || !s.MatchString(text))
	}, nil
}

// collect keeps the selected specs (It nodes), sorted by name. A selected spec that was skipped at run time
// (ginkgo's Skip, e.g. a missing feature the spec probes for) counts as not passed.
func collect(reports []types.Report, selected func(string) bool) []result {
	var out []result
	for _, rep := range reports {
		for _, sr := range rep.SpecReports {
			if sr.LeafNodeType != types.NodeTypeIt {
				if sr.State.Is(types.SpecStateFailureStates) {
					out = append(out, result{name: sr.LeafNodeType.String() + " " + sr.FullText(), state: sr.State.String(), reason: firstLine(sr.Failure.Message)})
				}
				continue
			}
			name := sr.FullText()
			if labels := sr.Labels(); len(labels) > 0 {
				name += " [" + strings.Join(labels, ", ") + "]"
			}
			if !selected(name) && !selected(sr.FullText()) {
				continue
			}
			r := result{name: sr.FullText(), state: sr.State.String(), runTime: sr.RunTime}
			if sr.State != types.SpecStatePassed {
				r.reason = firstLine(sr.Failure.Message)
				if sr.State == types.SpecStateSkipped {
					r.reason = "skipped at run time: " + firstLine(sr.Failure.Message)
				}
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// table renders the results as Markdown.
func table(results []result) string {
	var b strings.Builder
	b.WriteString("| spec | result | seconds | failure |\n|---|---|---|---|\n")
	for _, r := range results {
		reason := strings.ReplaceAll(r.reason, "|", "\\|")
		fmt.Fprintf(&b, "| %s | %s | %.1f | %s |\n", strings.ReplaceAll(r.name, "|", "\\|"), r.state, r.runTime.Seconds(), reason)
	}
	return b.String()
}
