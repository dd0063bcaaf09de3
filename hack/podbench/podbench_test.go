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
