package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
)

// berth-kubelet logs one "Observed pod start phases" line per pod start (provider/starttrace.go): when CreatePod
// took the pod on (seen), when its running status was handed to virtual-kubelet (notified), and the time of each
// phase and Podman call in between. podbench reads them from the kubelet's log file, and puts the watch's times
// around them: bound → seen (the kubelet's informer and work queue) and notified → Running seen by the watch (the
// status write through the API server).

const startPhasesMsg = `"Observed pod start phases"`

// kubeletStart is one pod's line.
type kubeletStart struct {
	seen, notified time.Time
	phases         []phaseDur // in the order logged
}

type phaseDur struct {
	name string
	d    time.Duration
}

// The line's key="value" pairs (klog's text format quotes strings; the values logged have no quote inside).
var kvRE = regexp.MustCompile(`([A-Za-z_]+)="([^"]*)"`)

// readStartPhases reads the kubelet's start lines of namespace ns, by pod name; a pod logged twice keeps its last.
func readStartPhases(path, ns string) (map[string]kubeletStart, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the kubelet's start phases: %w", err)
	}
	defer f.Close()
	return parseStartPhases(f, ns)
}

func parseStartPhases(r io.Reader, ns string) (map[string]kubeletStart, error) {
	out := map[string]kubeletStart{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, startPhasesMsg)
		if i < 0 {
			continue
		}
		var ks kubeletStart
		var pod string
		for _, m := range kvRE.FindAllStringSubmatch(line[i+len(startPhasesMsg):], -1) {
			key, val := m[1], m[2]
			switch key {
			case "pod":
				pod = val
			case "seen", "notified":
				t, err := time.Parse(time.RFC3339Nano, val)
				if err != nil {
					return nil, fmt.Errorf("start phases of %s: %s: %w", pod, key, err)
				}
				if key == "seen" {
					ks.seen = t
				} else {
					ks.notified = t
				}
			case "total":
			default:
				// "12.3ms", or "12.3ms x2" for a phase of two calls: their sum.
				d, err := time.ParseDuration(strings.Fields(val + " 0")[0])
				if err != nil {
					return nil, fmt.Errorf("start phases of %s: %s: %w", pod, key, err)
				}
				ks.phases = append(ks.phases, phaseDur{key, d})
			}
		}
		name, ok := strings.CutPrefix(pod, ns+"/")
		if !ok || ks.seen.IsZero() || ks.notified.IsZero() {
			continue
		}
		out[name] = ks
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the kubelet's start phases: %w", err)
	}
	return out, nil
}

// startPhases is a Berth start's breakdown: bound → seen, the kubelet's phases, notified → Running seen. Nil when
// the kubelet logged no line for the pod or the watch missed its binding.
func startPhases(pt *podTimes, ks kubeletStart, ok bool) []phaseDur {
	if !ok || pt.bound.IsZero() {
		return nil
	}
	out := []phaseDur{{"bound→seen", ks.seen.Sub(pt.bound)}}
	out = append(out, ks.phases...)
	return append(out, phaseDur{"notified→watch", pt.running.Sub(ks.notified)})
}

// phaseNames are the phases of any of the samples, in the order they first appear.
func phaseNames(s []startSample) []string {
	var names []string
	seen := map[string]bool{}
	for _, x := range s {
		for _, p := range x.phases {
			if !seen[p.name] {
				seen[p.name] = true
				names = append(names, p.name)
			}
		}
	}
	return names
}

// phaseDurations is each sample's time in the phase name (0 for a sample without it), for samples that have phases.
func phaseDurations(s []startSample, name string) []time.Duration {
	var out []time.Duration
	for _, x := range s {
		if len(x.phases) == 0 {
			continue
		}
		var d time.Duration
		for _, p := range x.phases {
			if p.name == name {
				d += p.d
			}
		}
		out = append(out, d)
	}
	return out
}
