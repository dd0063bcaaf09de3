package main

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/hack/internal/benchutil"
)

func met(f benchutil.Figure, target string, ok bool) benchutil.Figure {
	return f.WithTarget(target, ok)
}

func TestTableRows(t *testing.T) {
	tests := []struct {
		name string
		f    benchutil.Figure
		want string
	}{
		{
			name: "rate beside its baseline, better",
			f: benchutil.Figure{Area: "scheduler", Name: "pods bound per second, 5000 nodes", Unit: "pods/s", Berth: 186.94,
				BaselineName: "in-tree default-scheduler profile", Baseline: 103.71, HigherIsBetter: true, Samples: 3},
			want: "| scheduler | pods bound per second, 5000 nodes ↑ | 3 | 187 pods/s | 104 pods/s (in-tree default-scheduler profile) | 1.80× (better) | — |",
		},
		{
			name: "latency beside its baseline, worse, target met",
			f: met(benchutil.Figure{Area: "provider", Name: "pod start p99, one at a time", Unit: "ms", Berth: 504.4,
				BaselineName: "raw Podman", Baseline: 340.2, Samples: 20}, "≤ 1.3 × raw + 200 ms = 642ms", true),
			want: "| provider | pod start p99, one at a time ↓ | 20 | 504 ms | 340 ms (raw Podman) | 1.48× (worse) | ≤ 1.3 × raw + 200 ms = 642ms: met |",
		},
		{
			name: "latency lower than the baseline is better",
			f:    benchutil.Figure{Area: "kubelet API", Name: "exec p99", Unit: "ms", Berth: 433.8, BaselineName: "Podman API", Baseline: 512.4},
			want: "| kubelet API | exec p99 ↓ | — | 434 ms | 512 ms (Podman API) | 0.85× (better) | — |",
		},
		{
			name: "within 2% is the same",
			f:    benchutil.Figure{Area: "a", Name: "b", Unit: "ms", Berth: 101, BaselineName: "c", Baseline: 100},
			want: "| a | b ↓ | — | 101 ms | 100 ms (c) | 1.01× (same) | — |",
		},
		{
			name: "no baseline, target missed",
			f: met(benchutil.Figure{Area: "provider", Name: "exit → Succeeded p99", Unit: "ms", Berth: 1204, Samples: 20},
				"≤ 1 s", false),
			want: "| provider | exit → Succeeded p99 ↓ | 20 | 1204 ms | — | — | ≤ 1 s: **missed** |",
		},
		{
			name: "Go benchmark with grouped digits and a pipe in a name",
			f: benchutil.Figure{Area: "scheduler (go test -bench)", Name: "FilterScore/a|b", Unit: "ns/op", Berth: 1037649,
				BaselineName: "in-tree", Baseline: 2373902, Samples: 2000},
			want: "| scheduler (go test -bench) | FilterScore/a\\|b ↓ | 2000 | 1\u2009037\u2009649 ns/op | 2\u2009373\u2009902 ns/op (in-tree) | 0.44× (better) | — |",
		},
		{
			name: "zero baseline gives no ratio",
			f:    benchutil.Figure{Area: "a", Name: "b", Unit: "allocs/op", Berth: 3, BaselineName: "c", Baseline: 0},
			want: "| a | b ↓ | — | 3.00 allocs/op | 0.00 allocs/op (c) | — | — |",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := table([]benchutil.Figure{tc.f})
			if !strings.HasPrefix(got, tableHeader) {
				t.Fatalf("table does not start with its header:\n%s", got)
			}
			if row := strings.TrimSuffix(strings.TrimPrefix(got, tableHeader), "\n"); row != tc.want {
				t.Errorf("row\n got %s\nwant %s", row, tc.want)
			}
		})
	}
}

func TestTableKeepsOrder(t *testing.T) {
	got := table([]benchutil.Figure{{Area: "z", Name: "first"}, {Area: "a", Name: "second"}})
	if strings.Index(got, "first") > strings.Index(got, "second") {
		t.Errorf("rows reordered:\n%s", got)
	}
	if n := strings.Count(got, "\n"); n != 4 {
		t.Errorf("%d lines, want 2 of header and 2 rows:\n%s", n, got)
	}
}

func TestValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{0, "ms", "0.00 ms"},
		{3.14159, "s", "3.14 s"},
		{12.345, "MiB/s", "12.3 MiB/s"},
		{99.96, "", "100.0"},
		{328.4, "ms", "328 ms"},
		{9519.2, "ms", "9519 ms"},
		{12345, "B/op", "12\u2009345 B/op"},
		{-123456, "", "-123\u2009456"},
	}
	for _, tc := range tests {
		if got := value(tc.v, tc.unit); got != tc.want {
			t.Errorf("value(%v, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestReplaceBetweenMarkers(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    string
		wantErr bool
	}{
		{
			name: "replaces the old table",
			doc:  "# B\n\n" + beginMarker + "\nold\ntable\n" + endMarker + "\n\nrest\n",
			want: "# B\n\n" + beginMarker + "\nnew\n" + endMarker + "\n\nrest\n",
		},
		{
			name: "fills an empty section",
			doc:  beginMarker + endMarker,
			want: beginMarker + "\nnew\n" + endMarker,
		},
		{name: "no markers", doc: "# B\n", wantErr: true},
		{name: "markers the wrong way round", doc: endMarker + beginMarker, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := replaceBetweenMarkers(tc.doc, "\nnew\n\n")
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want one: %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
