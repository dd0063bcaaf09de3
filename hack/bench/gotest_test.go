package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/berth-dev/berth/hack/internal/benchutil"
)

const goTestOutput = `goos: linux
goarch: amd64
pkg: github.com/berth-dev/berth/plugins
cpu: AMD EPYC
BenchmarkFilterScore/berth/nodes=1000-2         	    2000	   1037649 ns/op	      1038 ns/node	  135984 B/op	    1034 allocs/op
BenchmarkFilterScore/intree/nodes=1000-2        	    2000	   2373902 ns/op	      2374 ns/node	  367368 B/op	    7113 allocs/op
--- BENCH: BenchmarkFilterScore/intree/nodes=1000-2
    bench_test.go:1: a log line
PASS
ok  	github.com/berth-dev/berth/plugins	12.3s
pkg: github.com/berth-dev/berth/provider
BenchmarkPodStatus-2   	  500000	      2400 ns/op	    1200 B/op	      20 allocs/op
BenchmarkNoMem         	 1000000	      1000 ns/op
ok  	github.com/berth-dev/berth/provider	3.1s
`

func TestParseGoBench(t *testing.T) {
	got := parseGoBench(strings.NewReader(goTestOutput))
	want := []goBench{
		{pkg: "github.com/berth-dev/berth/plugins", name: "FilterScore/berth/nodes=1000", n: 2000,
			metrics: map[string]float64{"ns/op": 1037649, "ns/node": 1038, "B/op": 135984, "allocs/op": 1034},
			units:   []string{"ns/op", "ns/node", "B/op", "allocs/op"}},
		{pkg: "github.com/berth-dev/berth/plugins", name: "FilterScore/intree/nodes=1000", n: 2000,
			metrics: map[string]float64{"ns/op": 2373902, "ns/node": 2374, "B/op": 367368, "allocs/op": 7113},
			units:   []string{"ns/op", "ns/node", "B/op", "allocs/op"}},
		{pkg: "github.com/berth-dev/berth/provider", name: "PodStatus", n: 500000,
			metrics: map[string]float64{"ns/op": 2400, "B/op": 1200, "allocs/op": 20}, units: []string{"ns/op", "B/op", "allocs/op"}},
		{pkg: "github.com/berth-dev/berth/provider", name: "NoMem", n: 1000000,
			metrics: map[string]float64{"ns/op": 1000}, units: []string{"ns/op"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", got, want)
	}
}

func TestGoFigures(t *testing.T) {
	b := func(pkg, name string, m map[string]float64, units ...string) goBench {
		return goBench{pkg: "github.com/berth-dev/berth/" + pkg, name: name, n: 10, metrics: m, units: units}
	}
	timed := func(ns, node float64) map[string]float64 {
		return map[string]float64{"ns/op": ns, "ns/node": node, "B/op": 2 * ns, "allocs/op": ns / 10}
	}
	const plugins = "scheduler (go test -bench)"
	tests := []struct {
		name    string
		benches []goBench
		want    []benchutil.Figure
	}{
		{
			name: "berth against each sibling on time, bytes and allocations",
			benches: []goBench{
				b("plugins", "FilterScore/berth/nodes=1000", timed(100, 1), "ns/op", "ns/node", "B/op", "allocs/op"),
				b("plugins", "FilterScore/intree/nodes=1000", timed(200, 2), "ns/op", "ns/node", "B/op", "allocs/op"),
				b("plugins", "FilterScore/other/nodes=1000", timed(400, 4), "ns/op", "ns/node", "B/op", "allocs/op"),
				b("plugins", "FilterScore/intree/nodes=10", timed(9, 9), "ns/op", "ns/node", "B/op", "allocs/op"),
			},
			want: []benchutil.Figure{
				{Area: plugins, Name: "FilterScore/nodes=1000", Unit: "ns/node", Berth: 1, BaselineName: "`intree`, the in-tree plugins Berth's replace", Baseline: 2, Samples: 10},
				{Area: plugins, Name: "FilterScore/nodes=1000", Unit: "B/op", Berth: 200, BaselineName: "`intree`, the in-tree plugins Berth's replace", Baseline: 400, Samples: 10},
				{Area: plugins, Name: "FilterScore/nodes=1000", Unit: "allocs/op", Berth: 10, BaselineName: "`intree`, the in-tree plugins Berth's replace", Baseline: 20, Samples: 10},
				{Area: plugins, Name: "FilterScore/nodes=1000", Unit: "ns/node", Berth: 1, BaselineName: "`other`", Baseline: 4, Samples: 10},
				{Area: plugins, Name: "FilterScore/nodes=1000", Unit: "B/op", Berth: 200, BaselineName: "`other`", Baseline: 800, Samples: 10},
				{Area: plugins, Name: "FilterScore/nodes=1000", Unit: "allocs/op", Berth: 10, BaselineName: "`other`", Baseline: 40, Samples: 10},
				// No berth sibling at 10 nodes: shown alone.
				{Area: plugins, Name: "FilterScore/intree/nodes=10", Unit: "ns/node", Berth: 9, Samples: 10},
				{Area: plugins, Name: "FilterScore/intree/nodes=10", Unit: "B/op", Berth: 18, Samples: 10},
				{Area: plugins, Name: "FilterScore/intree/nodes=10", Unit: "allocs/op", Berth: 0.9, Samples: 10},
			},
		},
		{
			name: "no baseline: ns/op, and only the metrics reported",
			benches: []goBench{
				b("provider", "PodStatus", map[string]float64{"ns/op": 2400, "B/op": 1200, "allocs/op": 20}, "ns/op", "B/op", "allocs/op"),
				b("provider/podman", "NoMem", map[string]float64{"ns/op": 1000}, "ns/op"),
			},
			want: []benchutil.Figure{
				{Area: "provider (go test -bench)", Name: "PodStatus", Unit: "ns/op", Berth: 2400, Samples: 10},
				{Area: "provider (go test -bench)", Name: "PodStatus", Unit: "B/op", Berth: 1200, Samples: 10},
				{Area: "provider (go test -bench)", Name: "PodStatus", Unit: "allocs/op", Berth: 20, Samples: 10},
				{Area: "provider (go test -bench)", Name: "NoMem", Unit: "ns/op", Berth: 1000, Samples: 10},
			},
		},
		{
			name: "a sibling in another package is no baseline",
			benches: []goBench{
				b("plugins", "X/berth", map[string]float64{"ns/op": 1}, "ns/op"),
				b("provider", "X/intree", map[string]float64{"ns/op": 2}, "ns/op"),
			},
			want: []benchutil.Figure{
				{Area: plugins, Name: "X/berth", Unit: "ns/op", Berth: 1, Samples: 10},
				{Area: "provider (go test -bench)", Name: "X/intree", Unit: "ns/op", Berth: 2, Samples: 10},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := goFigures(tc.benches)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("figures\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}
