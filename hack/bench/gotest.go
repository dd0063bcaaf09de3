package main

import (
	"bufio"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/hack/internal/benchutil"
)

// berthSegment marks Berth's side in a Go benchmark's name: in Benchmark<X>/berth/<rest> the siblings
// Benchmark<X>/<other>/<rest> are its baselines (in-tree plugins, say), measured in the same run.
const berthSegment = "berth"

// goBench is one result line of `go test -bench`.
type goBench struct {
	pkg  string // import path
	name string // without the Benchmark prefix and the -GOMAXPROCS suffix
	n    int    // iterations
	// metrics by unit (ns/op, B/op, allocs/op and any b.ReportMetric unit), units in the order printed.
	metrics map[string]float64
	units   []string
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parseGoBench reads the result lines of `go test -bench` output; everything else is skipped.
func parseGoBench(r io.Reader) []goBench {
	var out []goBench
	pkg := ""
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		b := goBench{pkg: pkg, name: procsSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), ""), n: n, metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			b.metrics[f[i+1]] = v
			b.units = append(b.units, f[i+1])
		}
		out = append(out, b)
	}
	return out
}

// baselineNames describes the baselines of Berth's Go benchmarks by their name segment.
var baselineNames = map[string]string{
	"intree":                     "the in-tree plugins Berth's replace",
	"intree+ports+unschedulable": "the same and NodePorts, NodeUnschedulable",
}

// goFigures turns Go benchmark results into figures: a benchmark with a "berth" name segment is compared with each
// sibling (same name, another segment there), on its time (a custom ns/… metric such as ns/node if reported, else
// ns/op), B/op and allocs/op; any other benchmark (Berth's without a sibling too) is shown without a baseline.
func goFigures(benches []goBench) []benchutil.Figure {
	var out []benchutil.Figure
	compared := map[string]bool{}
	key := func(b goBench) string { return b.pkg + " " + b.name }
	for _, b := range benches {
		segs := strings.Split(b.name, "/")
		at := slices.Index(segs, berthSegment)
		if at < 0 {
			continue
		}
		for _, o := range benches {
			osegs := strings.Split(o.name, "/")
			if o.pkg != b.pkg || len(osegs) != len(segs) || osegs[at] == berthSegment ||
				!slices.Equal(osegs[:at], segs[:at]) || !slices.Equal(osegs[at+1:], segs[at+1:]) {
				continue
			}
			compared[key(b)], compared[key(o)] = true, true
			base := "`" + osegs[at] + "`"
			if what := baselineNames[osegs[at]]; what != "" {
				base += ", " + what
			}
			name := strings.Join(slices.Delete(slices.Clone(segs), at, at+1), "/")
			for _, unit := range goUnits(b, o) {
				out = append(out, benchutil.Figure{
					Area: goArea(b.pkg), Name: name, Unit: unit, Berth: b.metrics[unit],
					BaselineName: base, Baseline: o.metrics[unit], Samples: b.n,
				})
			}
		}
	}
	for _, b := range benches {
		if compared[key(b)] {
			continue
		}
		for _, unit := range goUnits(b, b) {
			out = append(out, benchutil.Figure{Area: goArea(b.pkg), Name: b.name, Unit: unit, Berth: b.metrics[unit], Samples: b.n})
		}
	}
	return out
}

// goUnits are the metrics to show for a and b: the time (the first custom ns/… metric both report, else ns/op),
// then B/op and allocs/op when both report them.
func goUnits(a, b goBench) []string {
	both := func(u string) bool {
		_, x := a.metrics[u]
		_, y := b.metrics[u]
		return x && y
	}
	var out []string
	for _, u := range a.units {
		if strings.HasPrefix(u, "ns/") && u != "ns/op" && both(u) {
			out = append(out, u)
			break
		}
	}
	if len(out) == 0 && both("ns/op") {
		out = append(out, "ns/op")
	}
	for _, u := range []string{"B/op", "allocs/op"} {
		if both(u) {
			out = append(out, u)
		}
	}
	return out
}

// goArea names the area of a package's Go benchmarks.
func goArea(pkg string) string {
	rel := strings.TrimPrefix(pkg, "github.com/berth-dev/berth/")
	switch {
	case rel == "plugins" || strings.HasPrefix(rel, "plugins/"):
		return "scheduler (go test -bench)"
	case rel == "provider" || strings.HasPrefix(rel, "provider/"):
		return "provider (go test -bench)"
	}
	return rel + " (go test -bench)"
}
