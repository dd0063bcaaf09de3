package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	testingclock "k8s.io/utils/clock/testing"
)

func TestReadHostUsage(t *testing.T) {
	tests := []struct {
		name, stat, meminfo string
		want                HostUsage
		wantErr             bool
	}{
		{
			name:    "busy is all but idle and iowait",
			stat:    "cpu  100 20 30 1000 50 5 5 0 7 0\ncpu0 50 10 15 500 25 2 3 0 0 0\nbtime 1700000000\n",
			meminfo: "MemTotal:       16000 kB\nMemFree:         2000 kB\nMemAvailable:    8000 kB\n",
			want:    HostUsage{CPUNano: 160 * 10_000_000, MemTotal: 16000 * 1024, MemAvailable: 8000 * 1024, Boot: time.Unix(1700000000, 0)},
		},
		{name: "garbage", stat: "cpu  a b c d e f\n", meminfo: "MemTotal: 1 kB\n", wantErr: true},
		{name: "no memory total", stat: "cpu  1 2 3 4 5 6\n", meminfo: "MemFree: 1 kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(tt.stat), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "meminfo"), []byte(tt.meminfo), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readHostUsage(dir)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error; got %+v", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := ProcHostUsage(); err != nil {
		t.Errorf("this machine's /proc: %v", err)
	}
}

func TestStatsSummaryAndResourceMetrics(t *testing.T) {
	// The samples' times are the fake clock's and the CPU counters the test's, so the rates are exact.
	fc := testingclock.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	host := HostUsage{CPUNano: 5e9, MemTotal: 8 << 30, MemAvailable: 6 << 30, Boot: time.Unix(1700000000, 0)}
	h := newHarnessWith(t, func(c *Config) {
		c.Clock = fc
		c.HostUsage = func() (HostUsage, error) { host.CPUNano += 1e9; return host, nil }
	}, "busybox")
	pod := lifecyclePod("busy", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"), testContainer("b", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.waitContainer(ctrName(pod, "b", 1), "running")
	h.waitReported(pod, 0, "both running", func(p *corev1.Pod) bool { return isRunning(p, "a") && isRunning(p, "b") })

	h.fake.setCPU(t, ctrName(pod, "a", 1), 1e9)
	h.fake.setCPU(t, ctrName(pod, "b", 1), 2e9)
	first, err := h.p.GetStatsSummary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if first.Node.NodeName != "node-a" || *first.Node.Memory.WorkingSetBytes != 2<<30 || first.Node.CPU.UsageNanoCores != nil {
		t.Errorf("node stats %+v (first sample has no rate yet)", first.Node)
	}
	if len(first.Pods) != 1 || len(first.Pods[0].Containers) != 2 || first.Pods[0].PodRef.Name != "busy" {
		t.Fatalf("pods %+v", first.Pods)
	}
	ps := first.Pods[0]
	if *ps.Memory.WorkingSetBytes != 2<<20 || *ps.CPU.UsageCoreNanoSeconds != *ps.Containers[0].CPU.UsageCoreNanoSeconds+*ps.Containers[1].CPU.UsageCoreNanoSeconds {
		t.Errorf("pod sums: memory %d cpu %d", *ps.Memory.WorkingSetBytes, *ps.CPU.UsageCoreNanoSeconds)
	}
	if *ps.CPU.UsageCoreNanoSeconds != 3e9 || ps.CPU.UsageNanoCores != nil {
		t.Errorf("pod cpu %d ns, rate %v on the first sample", *ps.CPU.UsageCoreNanoSeconds, ps.CPU.UsageNanoCores)
	}
	// Two seconds later, a has used two more seconds of CPU (one core), b one more (half a core), and the node's
	// counter one more (half a core).
	fc.Step(2 * time.Second)
	h.fake.setCPU(t, ctrName(pod, "a", 1), 3e9)
	h.fake.setCPU(t, ctrName(pod, "b", 1), 3e9)
	second, err := h.p.GetStatsSummary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rate := func(r *uint64) string {
		if r == nil {
			return "none"
		}
		return fmt.Sprint(*r)
	}
	sp := second.Pods[0]
	for i, want := range []uint64{1e9, 5e8} {
		if r := sp.Containers[i].CPU.UsageNanoCores; r == nil || *r != want {
			t.Errorf("container %s rate %s nanocores, want %d", sp.Containers[i].Name, rate(r), want)
		}
	}
	if r := sp.CPU.UsageNanoCores; r == nil || *r != 15e8 {
		t.Errorf("pod rate %s nanocores, want 1500000000", rate(r))
	}
	if r := second.Node.CPU.UsageNanoCores; r == nil || *r != 5e8 {
		t.Errorf("node rate %s nanocores, want 500000000", rate(r))
	}
	if !sp.CPU.Time.Time.Equal(fc.Now()) || !second.Node.CPU.Time.Time.Equal(fc.Now()) {
		t.Errorf("sampled at %s (pod), %s (node); want the clock's %s", sp.CPU.Time, second.Node.CPU.Time, fc.Now())
	}

	h.fake.exit(t, ctrName(pod, "b", 1), 0)
	h.waitReported(pod, 0, "b terminated", func(p *corev1.Pod) bool { return terminatedWith(p, "b", 0) })
	fams, err := h.p.GetMetricsResource(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	cpu := byName["container_cpu_usage_seconds_total"]
	if cpu == nil || cpu.GetType() != dto.MetricType_COUNTER || len(cpu.Metric) != 1 || cpu.Metric[0].GetCounter() == nil {
		t.Fatalf("container cpu family %v", cpu)
	}
	labels := map[string]string{}
	for _, l := range cpu.Metric[0].Label {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["container"] != "a" || labels["pod"] != "busy" || labels["namespace"] != "default" {
		t.Errorf("labels %v", labels)
	}
	for _, name := range []string{"node_cpu_usage_seconds_total", "node_memory_working_set_bytes", "container_memory_working_set_bytes",
		"container_start_time_seconds", "pod_cpu_usage_seconds_total", "pod_memory_working_set_bytes", "scrape_error"} {
		if byName[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if v := byName["scrape_error"].Metric[0].GetGauge().GetValue(); v != 0 {
		t.Errorf("scrape_error %v", v)
	}
}
