package provider

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
)

func TestStartTraceKeysAndValues(t *testing.T) {
	seen := time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		phases   []phaseTime
		changed  time.Duration // after seen
		notified time.Duration // after seen
		want     []any
	}{
		{
			name:     "no phase",
			notified: 5 * time.Millisecond,
			want: []any{"seen", "2026-12-07T21:00:00Z", "notified", "2026-12-07T21:00:00.005Z", "total", "5ms",
				phaseStatus, "5ms", "unaccounted", "0s"},
		},
		{
			name:     "calls in order, one phase twice, time left over",
			phases:   []phaseTime{{name: opPodCreate, d: 10 * time.Millisecond}, {name: opImageExists, d: 2 * time.Millisecond}, {name: opPodCreate, d: 5 * time.Millisecond}},
			changed:  40 * time.Millisecond,
			notified: 41 * time.Millisecond,
			want: []any{"seen", "2026-12-07T21:00:00Z", "notified", "2026-12-07T21:00:00.041Z", "total", "41ms",
				opPodCreate, "15ms x2", opImageExists, "2ms", phaseStatus, "1ms", "unaccounted", "23ms"},
		},
		{
			name:     "phases overlap (containers side by side): nothing unaccounted",
			phases:   []phaseTime{{name: opContainerStart, d: 30 * time.Millisecond}, {name: opContainerStart, d: 30 * time.Millisecond}},
			changed:  30 * time.Millisecond,
			notified: 30 * time.Millisecond,
			want: []any{"seen", "2026-12-07T21:00:00Z", "notified", "2026-12-07T21:00:00.03Z", "total", "30ms",
				opContainerStart, "60ms x2", phaseStatus, "0s", "unaccounted", "0s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newStartTrace(seen)
			for _, p := range tc.phases {
				tr.add(p.name, p.d)
			}
			tr.changed = seen.Add(tc.changed)
			got := tr.keysAndValues(seen.Add(tc.notified))
			if !slices.Equal(got, tc.want) {
				t.Errorf("keysAndValues() =\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

func TestStartedLocked(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	waitingState := waiting("ContainerCreating", "")
	twoContainers := corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}
	tests := []struct {
		name      string
		pod       corev1.Pod
		terminal  bool
		noTrace   bool
		wantTaken bool
		wantKept  bool // the record still has its trace
	}{
		{name: "pending", pod: corev1.Pod{Spec: twoContainers, Status: corev1.PodStatus{Phase: corev1.PodPending}}, wantKept: true},
		{
			name: "running, one container still waiting",
			pod: corev1.Pod{Spec: twoContainers, Status: corev1.PodStatus{Phase: corev1.PodRunning,
				ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: running}, {Name: "b", State: waitingState}}}},
			wantKept: true,
		},
		{
			name: "running, every container running",
			pod: corev1.Pod{Spec: twoContainers, Status: corev1.PodStatus{Phase: corev1.PodRunning,
				ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: running}, {Name: "b", State: running}}}},
			wantTaken: true,
		},
		{
			name: "already taken",
			pod: corev1.Pod{Spec: twoContainers, Status: corev1.PodStatus{Phase: corev1.PodRunning,
				ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: running}, {Name: "b", State: running}}}},
			noTrace: true,
		},
		{name: "terminal before it ran: dropped", pod: corev1.Pod{Spec: twoContainers, Status: corev1.PodStatus{Phase: corev1.PodFailed}}, terminal: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &podRecord{terminal: tc.terminal}
			if !tc.noTrace {
				r.trace = newStartTrace(time.Now())
			}
			got := startedLocked(r, &tc.pod)
			if (got != nil) != tc.wantTaken {
				t.Errorf("startedLocked() = %v, want taken %v", got, tc.wantTaken)
			}
			if (r.trace != nil) != tc.wantKept {
				t.Errorf("record's trace %v, want kept %v", r.trace, tc.wantKept)
			}
		})
	}
}

// logged is the key/value pairs of the entries the harness's provider logged with message msg.
func (h *harness) logged(msg string) [][]any {
	var out [][]any
	for _, e := range klog.FromContext(h.ctx).GetSink().(ktesting.Underlier).GetBuffer().Data() {
		if e.Message == msg {
			out = append(out, e.ParameterKVList)
		}
	}
	return out
}

func TestPodStartLogsPhases(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("traced", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitReported(pod, 0, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	var kv []any
	h.poll("the start phases to be logged", func() bool {
		lines := h.logged("Observed pod start phases")
		if len(lines) > 1 {
			t.Fatalf("logged %d start lines, want 1: %v", len(lines), lines)
		}
		if len(lines) == 1 {
			kv = lines[0]
		}
		return kv != nil
	})
	got := map[string]any{}
	var keys []string
	for i := 0; i+1 < len(kv); i += 2 {
		k := fmt.Sprint(kv[i])
		got[k] = kv[i+1]
		keys = append(keys, k)
	}
	if got["pod"] != klog.KObj(pod) {
		t.Errorf("pod = %v, want %v", got["pod"], klog.KObj(pod))
	}
	for _, k := range []string{"seen", "notified"} {
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(got[k])); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	// The phases of a start: what the runner does, each Podman call (the image check runs beside the sandbox's
	// calls, so its place among them varies), the status's hand-over.
	want := []string{"pod", "seen", "notified", "total", phaseQueue, phaseAdmit, phaseVolumes, phaseDNS, opPodCreate, opPodStart, opPodIP,
		opImageExists, phaseSpec, opContainerCreate, opContainerStart, opContainerInspect, phaseStatus, "unaccounted"}
	if !slices.Equal(slices.Sorted(slices.Values(keys)), slices.Sorted(slices.Values(want))) {
		t.Errorf("keys %q, want %q in any order", keys, want)
	}
	for _, k := range want[3:] {
		if _, err := time.ParseDuration(fmt.Sprint(got[k])); err != nil {
			t.Errorf("%s = %v: %v", k, got[k], err)
		}
	}
}
