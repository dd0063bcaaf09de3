package provider

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/berth-dev/berth/provider/podman"
)

// HostUsage is the Podman host's own CPU and memory use.
type HostUsage struct {
	// CPUNano is the CPU time the host spent busy since boot, over all cores, in nanoseconds.
	CPUNano uint64
	// MemTotal and MemAvailable are /proc/meminfo's, in bytes.
	MemTotal, MemAvailable uint64
	Boot                   time.Time
}

// ProcHostUsage reads the host's usage from /proc; for a Podman service on the machine Berth runs on.
func ProcHostUsage() (HostUsage, error) {
	return readHostUsage("/proc")
}

// userHZ is the kernel's clock tick of /proc/stat's counters.
const userHZ = 100

func readHostUsage(proc string) (HostUsage, error) {
	var u HostUsage
	f, err := os.Open(proc + "/stat")
	if err != nil {
		return u, fmt.Errorf("read host CPU: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) > 5 && fields[0] == "cpu":
			// user nice system idle iowait irq softirq steal ...: busy is everything but idle and iowait.
			var busy uint64
			for i, v := range fields[1:] {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return u, fmt.Errorf("read host CPU: %q: %w", sc.Text(), err)
				}
				if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest times are already in user and nice
					continue
				}
				busy += n
			}
			u.CPUNano = busy * (uint64(time.Second) / userHZ)
		case len(fields) == 2 && fields[0] == "btime":
			secs, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				u.Boot = time.Unix(secs, 0)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return u, fmt.Errorf("read host CPU: %w", err)
	}
	mf, err := os.Open(proc + "/meminfo")
	if err != nil {
		return u, fmt.Errorf("read host memory: %w", err)
	}
	defer mf.Close()
	sc = bufio.NewScanner(mf)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			u.MemTotal = kb * 1024
		case "MemAvailable:":
			u.MemAvailable = kb * 1024
		}
	}
	if u.MemTotal == 0 {
		return u, errors.New("read host memory: no MemTotal in meminfo")
	}
	return u, sc.Err()
}

// cpuSample is a container's (or the node's) cumulative CPU time when last sampled, for usage rates.
type cpuSample struct {
	at   time.Time
	nano uint64
}

// rate is the CPU use in nanocores between the previous sample and this one; nil without a previous sample.
func (s cpuSample) rate(prev cpuSample, ok bool) *uint64 {
	if !ok || !s.at.After(prev.at) || s.nano < prev.nano {
		return nil
	}
	r := uint64(float64(s.nano-prev.nano) / s.at.Sub(prev.at).Seconds())
	return &r
}

// runningRef is a running container as stats report it.
type runningRef struct {
	namespace, pod, uid, container, id string
	podStart, started                  time.Time
}

// sample takes one reading of the node and its running containers.
type sample struct {
	at         time.Time
	node       HostUsage
	containers []runningRef
	stats      map[string]podman.ContainerStats
}

func (p *Provider) sample(ctx context.Context) (*sample, error) {
	s := &sample{at: p.cfg.Clock.Now(), stats: map[string]podman.ContainerStats{}}
	p.mu.Lock()
	var ids []string
	for _, r := range p.pods {
		for _, c := range r.containers() {
			if c.id == "" || c.state.Running == nil {
				continue
			}
			s.containers = append(s.containers, runningRef{namespace: r.pod.Namespace, pod: r.pod.Name, uid: string(r.pod.UID),
				container: c.spec.Name, id: c.id, podStart: r.startTime.Time, started: c.state.Running.StartedAt.Time})
			ids = append(ids, c.id)
		}
	}
	p.mu.Unlock()
	stats, err := p.cfg.Runtime.Stats(ctx, ids)
	if err != nil {
		// One container may have stopped since: ask for each alone so the others are still reported.
		stats = nil
		for _, id := range ids {
			one, err := p.cfg.Runtime.Stats(ctx, []string{id})
			if err == nil {
				stats = append(stats, one...)
			}
		}
	}
	for _, st := range stats {
		s.stats[st.ID] = st
	}
	if p.cfg.HostUsage != nil {
		u, err := p.cfg.HostUsage()
		if err != nil {
			return nil, err
		}
		s.node = u
	} else {
		// A remote Podman host: its memory from Podman, its CPU as the sum of the pods'.
		info, err := p.cfg.Runtime.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("podman info: %w", err)
		}
		s.node.MemTotal, s.node.MemAvailable = uint64(max(info.MemTotal, 0)), uint64(max(info.MemFree, 0))
		for _, st := range stats {
			s.node.CPUNano += st.CPUNano
		}
	}
	return s, nil
}

// rates turns cumulative CPU counters into usage rates against the previous sample, keeping this one for the next.
func (p *Provider) rates(s *sample) (node *uint64, containers map[string]*uint64) {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	if p.cpuSamples == nil {
		p.cpuSamples = map[string]cpuSample{}
	}
	containers = map[string]*uint64{}
	seen := map[string]bool{}
	for id, st := range s.stats {
		cur := cpuSample{at: s.at, nano: st.CPUNano}
		prev, ok := p.cpuSamples[id]
		containers[id] = cur.rate(prev, ok)
		p.cpuSamples[id] = cur
		seen[id] = true
	}
	for id := range p.cpuSamples {
		if !seen[id] && id != "" {
			delete(p.cpuSamples, id)
		}
	}
	cur := cpuSample{at: s.at, nano: s.node.CPUNano}
	node = cur.rate(p.nodeSample, !p.nodeSample.at.IsZero())
	p.nodeSample = cur
	return node, containers
}

// GetStatsSummary implements nodeutil.Provider: the kubelet's /stats/summary, from Podman's container stats and
// the host's counters.
func (p *Provider) GetStatsSummary(ctx context.Context) (*statsv1alpha1.Summary, error) {
	s, err := p.sample(ctx)
	if err != nil {
		return nil, err
	}
	nodeRate, rates := p.rates(s)
	now := metav1.NewTime(s.at)
	nodeCPU, working := s.node.CPUNano, s.node.MemTotal-min(s.node.MemAvailable, s.node.MemTotal)
	avail := s.node.MemAvailable
	sum := &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{
		NodeName:  p.cfg.NodeName,
		StartTime: metav1.NewTime(s.node.Boot),
		CPU:       &statsv1alpha1.CPUStats{Time: now, UsageCoreNanoSeconds: &nodeCPU, UsageNanoCores: nodeRate},
		Memory:    &statsv1alpha1.MemoryStats{Time: now, WorkingSetBytes: &working, UsageBytes: &working, AvailableBytes: &avail},
	}}
	pods := map[string]*statsv1alpha1.PodStats{}
	var order []string
	for _, c := range s.containers {
		st, ok := s.stats[c.id]
		if !ok {
			continue
		}
		k := c.namespace + "/" + c.pod
		ps := pods[k]
		if ps == nil {
			var zeroCPU, zeroMem uint64
			ps = &statsv1alpha1.PodStats{
				PodRef:    statsv1alpha1.PodReference{Name: c.pod, Namespace: c.namespace, UID: c.uid},
				StartTime: metav1.NewTime(c.podStart),
				CPU:       &statsv1alpha1.CPUStats{Time: now, UsageCoreNanoSeconds: &zeroCPU},
				Memory:    &statsv1alpha1.MemoryStats{Time: now, WorkingSetBytes: &zeroMem, UsageBytes: &zeroMem},
			}
			pods[k] = ps
			order = append(order, k)
		}
		cpu, mem := st.CPUNano, st.MemUsage
		cs := statsv1alpha1.ContainerStats{
			Name:      c.container,
			StartTime: metav1.NewTime(c.started),
			CPU:       &statsv1alpha1.CPUStats{Time: now, UsageCoreNanoSeconds: &cpu, UsageNanoCores: rates[c.id]},
			Memory:    &statsv1alpha1.MemoryStats{Time: now, WorkingSetBytes: &mem, UsageBytes: &mem},
		}
		if st.MemLimit > st.MemUsage {
			a := st.MemLimit - st.MemUsage
			cs.Memory.AvailableBytes = &a
		}
		ps.Containers = append(ps.Containers, cs)
		*ps.CPU.UsageCoreNanoSeconds += cpu
		*ps.Memory.WorkingSetBytes += mem
		if r := rates[c.id]; r != nil {
			if ps.CPU.UsageNanoCores == nil {
				ps.CPU.UsageNanoCores = new(uint64)
			}
			*ps.CPU.UsageNanoCores += *r
		}
	}
	for _, k := range order {
		sum.Pods = append(sum.Pods, *pods[k])
	}
	return sum, nil
}

// GetMetricsResource implements nodeutil.Provider: the kubelet's /metrics/resource (what metrics-server scrapes),
// with the kubelet's metric names and labels.
func (p *Provider) GetMetricsResource(ctx context.Context) ([]*dto.MetricFamily, error) {
	s, err := p.sample(ctx)
	if err != nil {
		return []*dto.MetricFamily{family("scrape_error", "1 if there was an error while getting container metrics, 0 otherwise", dto.MetricType_GAUGE,
			metric(nil, 1, time.Time{}))}, nil
	}
	ts := s.at
	nodeWorking := float64(s.node.MemTotal - min(s.node.MemAvailable, s.node.MemTotal))
	out := []*dto.MetricFamily{
		family("node_cpu_usage_seconds_total", "Cumulative cpu time consumed by the node in core-seconds", dto.MetricType_COUNTER,
			metric(nil, float64(s.node.CPUNano)/1e9, ts)),
		family("node_memory_working_set_bytes", "Current working set of the node in bytes", dto.MetricType_GAUGE,
			metric(nil, nodeWorking, ts)),
	}
	var cCPU, cMem, cStart, pCPU, pMem []*dto.Metric
	type podSum struct{ cpu, mem float64 }
	pods := map[[2]string]*podSum{}
	var order [][2]string
	for _, c := range s.containers {
		st, ok := s.stats[c.id]
		if !ok {
			continue
		}
		labels := []*dto.LabelPair{label("container", c.container), label("namespace", c.namespace), label("pod", c.pod)}
		cCPU = append(cCPU, metric(labels, float64(st.CPUNano)/1e9, ts))
		cMem = append(cMem, metric(labels, float64(st.MemUsage), ts))
		cStart = append(cStart, metric(labels, float64(c.started.UnixNano())/1e9, ts))
		k := [2]string{c.namespace, c.pod}
		if pods[k] == nil {
			pods[k] = &podSum{}
			order = append(order, k)
		}
		pods[k].cpu += float64(st.CPUNano) / 1e9
		pods[k].mem += float64(st.MemUsage)
	}
	for _, k := range order {
		labels := []*dto.LabelPair{label("namespace", k[0]), label("pod", k[1])}
		pCPU = append(pCPU, metric(labels, pods[k].cpu, ts))
		pMem = append(pMem, metric(labels, pods[k].mem, ts))
	}
	out = append(out,
		family("container_cpu_usage_seconds_total", "Cumulative cpu time consumed by the container in core-seconds", dto.MetricType_COUNTER, cCPU...),
		family("container_memory_working_set_bytes", "Current working set of the container in bytes", dto.MetricType_GAUGE, cMem...),
		family("container_start_time_seconds", "Start time of the container since unix epoch in seconds", dto.MetricType_GAUGE, cStart...),
		family("pod_cpu_usage_seconds_total", "Cumulative cpu time consumed by the pod in core-seconds", dto.MetricType_COUNTER, pCPU...),
		family("pod_memory_working_set_bytes", "Current working set of the pod in bytes", dto.MetricType_GAUGE, pMem...),
		family("scrape_error", "1 if there was an error while getting container metrics, 0 otherwise", dto.MetricType_GAUGE, metric(nil, 0, time.Time{})),
	)
	return out, nil
}

func family(name, help string, typ dto.MetricType, ms ...*dto.Metric) *dto.MetricFamily {
	if typ == dto.MetricType_COUNTER {
		for _, m := range ms {
			m.Counter, m.Gauge = &dto.Counter{Value: m.Gauge.Value}, nil
		}
	}
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: typ.Enum(), Metric: ms}
}

func label(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: proto.String(name), Value: proto.String(value)}
}

// metric is one sample (as a gauge; family makes it a counter for a counter family).
func metric(labels []*dto.LabelPair, v float64, ts time.Time) *dto.Metric {
	m := &dto.Metric{Label: labels, Gauge: &dto.Gauge{Value: proto.Float64(v)}}
	if !ts.IsZero() {
		m.TimestampMs = proto.Int64(ts.UnixMilli())
	}
	return m
}
