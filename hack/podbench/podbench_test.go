package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestGoroutines(t *testing.T) {
	tests := []struct {
		name    string
		metrics string
		want    int
		wantErr bool
	}{
		{name: "among others", metrics: "# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 412\ngo_threads 14\n", want: 412},
		{name: "last line without newline", metrics: "go_threads 14\ngo_goroutines 7", want: 7},
		{name: "exponent form", metrics: "go_goroutines 1.234e+03\n", want: 1234},
		{name: "a longer name is not it", metrics: "go_goroutines_total 3\n", wantErr: true},
		{name: "missing", metrics: "process_resident_memory_bytes 1e+07\n", wantErr: true},
		{name: "not a number", metrics: "go_goroutines many\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := goroutines([]byte(tt.metrics))
			if (err != nil) != tt.wantErr {
				t.Fatalf("goroutines() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("goroutines() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseStartPhases(t *testing.T) {
	line := `I1207 21:42:50.662008   17665 starttrace.go:122] "Observed pod start phases" pod="podbench/single-3" seen="2026-12-07T21:42:50.660836486Z" notified="2026-12-07T21:42:50.661989368Z" total="1.152882ms" queue="594.836µs" pod_create="3.386µs" image_exists="12ms x2" status="33.504µs" unaccounted="192.341µs"`
	seen := time.Date(2026, 12, 7, 21, 42, 50, 660836486, time.UTC)
	notified := time.Date(2026, 12, 7, 21, 42, 50, 661989368, time.UTC)
	tests := []struct {
		name string
		log  string
		want map[string]kubeletStart
	}{
		{
			name: "one line among others",
			log:  "I1207 21:42:50.600000   17665 provider.go:351] \"Starting pod\" pod=\"podbench/single-3\"\n" + line + "\n",
			want: map[string]kubeletStart{"single-3": {seen: seen, notified: notified, phases: []phaseDur{
				{"queue", 594836 * time.Nanosecond}, {"pod_create", 3386 * time.Nanosecond}, {"image_exists", 12 * time.Millisecond},
				{"status", 33504 * time.Nanosecond}, {"unaccounted", 192341 * time.Nanosecond}}}},
		},
		{name: "another namespace", log: strings.ReplaceAll(line, "podbench/", "other/"), want: map[string]kubeletStart{}},
		{name: "no line", log: "I1207 21:42:50.600000   17665 provider.go:351] \"Starting pod\"\n", want: map[string]kubeletStart{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStartPhases(strings.NewReader(tt.log), "podbench")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseStartPhases() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMaxPods(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want int
	}{
		{name: "make bench's sizes", cfg: Config{Burst: 50, MemPods: 100}, want: 0},
		{name: "a memory phase past the default", cfg: Config{Burst: 50, MemPods: 150}, want: 150},
		{name: "a burst past the default", cfg: Config{Burst: 120, MemPods: 100}, want: 120},
		{name: "the 250-pod scale row", cfg: Config{Burst: 1, MemPods: 100, ScalePods: 250, ChurnPods: 50}, want: 300},
		{name: "a scale phase within the default", cfg: Config{Burst: 1, MemPods: 50, ScalePods: 50, ChurnPods: 50}, want: 0},
		{name: "a scale phase's batch larger than it", cfg: Config{Burst: 1, ScalePods: 100, ChurnPods: 500}, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxPods(tt.cfg); got != tt.want {
				t.Errorf("maxPods() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestStartPhases(t *testing.T) {
	bound := time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)
	ks := kubeletStart{seen: bound.Add(10 * time.Millisecond), notified: bound.Add(300 * time.Millisecond), phases: []phaseDur{{"pod_start", 200 * time.Millisecond}}}
	pt := &podTimes{bound: bound, running: bound.Add(320 * time.Millisecond)}
	want := []phaseDur{{"bound→seen", 10 * time.Millisecond}, {"pod_start", 200 * time.Millisecond}, {"notified→watch", 20 * time.Millisecond}}
	if got := startPhases(pt, ks, true); !reflect.DeepEqual(got, want) {
		t.Errorf("startPhases() = %v, want %v", got, want)
	}
	if got := startPhases(pt, ks, false); got != nil {
		t.Errorf("startPhases() without a line = %v, want nil", got)
	}
	if got := startPhases(&podTimes{}, ks, true); got != nil {
		t.Errorf("startPhases() without a binding seen = %v, want nil", got)
	}
	s := []startSample{{phases: want}, {}, {phases: want[1:2]}}
	if got := phaseNames(s); !reflect.DeepEqual(got, []string{"bound→seen", "pod_start", "notified→watch"}) {
		t.Errorf("phaseNames() = %q", got)
	}
	if got := phaseDurations(s, "bound→seen"); !reflect.DeepEqual(got, []time.Duration{10 * time.Millisecond, 0}) {
		t.Errorf("phaseDurations() = %v", got)
	}
}
