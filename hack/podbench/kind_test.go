package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/hack/internal/benchutil"
)

func TestRunningContainers(t *testing.T) {
	tasks := "TASK    PID     STATUS    \n" +
		"aaa     101     RUNNING\n" +
		"bbb     102     STOPPED\n" +
		"ccc     103     RUNNING\n" +
		"other   104     RUNNING\n"
	tests := []struct {
		name    string
		out     string
		want    []string
		wantErr bool
	}{
		{name: "running ones of the namespace", out: "aaa\nbbb\nccc\n---\n" + tasks, want: []string{"aaa", "ccc"}},
		{name: "a stopped one is not running", out: "bbb\n---\n" + tasks},
		{name: "no container of the namespace", out: "---\n" + tasks},
		{name: "no task at all", out: "aaa\n---\nTASK    PID     STATUS    \n"},
		{name: "a prefix of an ID is not the ID", out: "aa\n---\n" + tasks},
		{name: "no separator", out: "aaa\n" + tasks, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runningContainers(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("runningContainers() error = %v, wantErr %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("runningContainers() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCRIStatusTimes(t *testing.T) {
	tests := []struct {
		name                   string
		status                 string
		wantStarted, wantEnded int64
		wantErr                string
	}{
		{
			name:        "finished",
			status:      `{"Version":"v1","Pid":0,"CreatedAt":1765130000000000000,"StartedAt":1765130001123456789,"FinishedAt":1765130002234567891,"ExitCode":0,"Reason":"Completed","Message":"","Resources":null}`,
			wantStarted: 1765130001123456789, wantEnded: 1765130002234567891,
		},
		{name: "still running", status: `{"Version":"v1","Pid":42,"StartedAt":1765130001123456789,"FinishedAt":0}`, wantErr: "not finished"},
		{name: "nested is not containerd's format", status: `{"Version":"v1","Status":{"FinishedAt":1765130002234567891}}`, wantErr: "not finished"},
		{name: "another version", status: `{"Version":"v2","FinishedAt":1}`, wantErr: `version "v2"`},
		{name: "not JSON", status: "cat: no such file", wantErr: "containerd status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started, ended, err := criStatusTimes([]byte(tt.status))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("criStatusTimes() error = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if started.UnixNano() != tt.wantStarted || ended.UnixNano() != tt.wantEnded {
				t.Errorf("criStatusTimes() = %d, %d; want %d, %d", started.UnixNano(), ended.UnixNano(), tt.wantStarted, tt.wantEnded)
			}
		})
	}
}

func TestContainerID(t *testing.T) {
	for in, want := range map[string]string{
		"podman://0123abc":     "0123abc",
		"containerd://4567def": "4567def",
		"89ab":                 "89ab",
		"":                     "",
	} {
		if got := containerID(in); got != want {
			t.Errorf("containerID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigImage(t *testing.T) {
	tests := []struct {
		name, config, want string
		wantErr            bool
	}{
		{name: "the repository's", config: "kind: Cluster\nnodes:\n  - role: control-plane\n    image: localhost/berth/kind-node:v1.37.2\n", want: "localhost/berth/kind-node:v1.37.2"},
		{name: "quoted", config: "nodes:\n- role: control-plane\n  image: \"example.com/node:v1\"\n", want: "example.com/node:v1"},
		{name: "none", config: "kind: Cluster\nnodes:\n  - role: control-plane\n", wantErr: true},
		{name: "empty", config: "nodes:\n  - image:\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kind.yaml")
			if err := os.WriteFile(path, []byte(tt.config), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := configImage(path)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("configImage() = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := configImage(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("configImage() of a missing file: no error")
	}
}

func TestRotate(t *testing.T) {
	tests := []struct {
		in   []string
		r    int
		want []string
	}{
		{in: []string{"berth", "raw"}, r: 0, want: []string{"berth", "raw"}},
		{in: []string{"berth", "raw"}, r: 1, want: []string{"raw", "berth"}},
		{in: []string{"berth", "raw"}, r: 2, want: []string{"berth", "raw"}},
		{in: []string{"berth", "raw", "kubelet"}, r: 1, want: []string{"raw", "kubelet", "berth"}},
		{in: []string{"berth", "raw", "kubelet"}, r: 5, want: []string{"kubelet", "berth", "raw"}},
		{in: nil, r: 3, want: nil},
	}
	for _, tt := range tests {
		if got := rotate(tt.in, tt.r); !slices.Equal(got, tt.want) {
			t.Errorf("rotate(%q, %d) = %q, want %q", tt.in, tt.r, got, tt.want)
		}
	}
}

func TestFiguresKubeletBaseline(t *testing.T) {
	starts := func(ms ...int) []startSample {
		var out []startSample
		for _, m := range ms {
			out = append(out, startSample{total: time.Duration(m) * time.Millisecond})
		}
		return out
	}
	exits := func(ms ...int) []exitSample {
		var out []exitSample
		for _, m := range ms {
			out = append(out, exitSample{latency: time.Duration(m) * time.Millisecond})
		}
		return out
	}
	berthOnly := results{
		berthSingle: starts(300, 400), rawSingle: starts(200, 250),
		berthBurst: starts(1000, 2000), rawBurst: starts(900, 1500),
		exits: exits(100, 120),
	}
	withKind := berthOnly
	withKind.kubeSingle, withKind.kubeBurst, withKind.kubeExits = starts(700, 900), starts(3000, 5000), exits(600, 1100)
	withKind.kindReady = 30 * time.Second

	type row struct {
		name, baseline string
		berth, base    float64
	}
	tests := []struct {
		name string
		r    results
		want []row
	}{
		{
			name: "without --kind: raw Podman only, exits without a baseline",
			r:    berthOnly,
			want: []row{
				{"pod start p50, one at a time", "raw Podman API, same service", 300, 200},
				{"pod start p99, one at a time", "raw Podman API, same service", 400, 250},
				{"pod start p50, burst of 10", "raw Podman API, same service", 1000, 900},
				{"pod start p99, burst of 10", "raw Podman API, same service", 2000, 1500},
				{"container exit → pod Succeeded p50", "", 100, 0},
				{"container exit → pod Succeeded p99", "", 120, 0},
				{"one-node cluster start to a Ready node (new state folder)", "", 4, 0},
				{"one-node cluster start to kube-proxy, cluster DNS and metrics-server ready (new state folder)", "", 9, 0},
			},
		},
		{
			name: "with --kind: a kubelet row after each raw Podman row, exits and cluster start beside kind's",
			r:    withKind,
			want: []row{
				{"pod start p50, one at a time", "raw Podman API, same service", 300, 200},
				{"pod start p99, one at a time", "raw Podman API, same service", 400, 250},
				{"pod start p50, one at a time", kubeletBaseline, 300, 700},
				{"pod start p99, one at a time", kubeletBaseline, 400, 900},
				{"pod start p50, burst of 10", "raw Podman API, same service", 1000, 900},
				{"pod start p99, burst of 10", "raw Podman API, same service", 2000, 1500},
				{"pod start p50, burst of 10", kubeletBaseline, 1000, 3000},
				{"pod start p99, burst of 10", kubeletBaseline, 2000, 5000},
				{"container exit → pod Succeeded p50", kubeletBaseline, 100, 600},
				{"container exit → pod Succeeded p99", kubeletBaseline, 120, 1100},
				{"one-node cluster start to a Ready node (new state folder)", "kind create cluster of the same node image (kubeadm, kubelet+containerd)", 4, 30},
				{"one-node cluster start to kube-proxy, cluster DNS and metrics-server ready (new state folder)", "", 9, 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			figs := figures(Config{Burst: 10}, &tt.r, 4*time.Second, 9*time.Second)
			var got []row
			for _, f := range figs {
				got = append(got, row{f.Name, f.BaselineName, f.Berth, f.Baseline})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("figures():\n got %v\nwant %v", got, tt.want)
			}
			for _, f := range figs {
				if f.BaselineName == kubeletBaseline && f.Target != "" && !strings.Contains(f.Name, "exit") {
					t.Errorf("%s against the kubelet has target %q: the targets are against raw Podman", f.Name, f.Target)
				}
			}
			// The exit p99 keeps its target with or without the kubelet.
			if i := slices.IndexFunc(figs, func(f benchutil.Figure) bool { return f.Name == "container exit → pod Succeeded p99" }); i < 0 || figs[i].Target == "" {
				t.Errorf("exit p99 lost its target: %+v", figs)
			}
		})
	}
}
