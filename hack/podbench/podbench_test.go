package main

import "testing"

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
