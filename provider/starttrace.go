package provider

import (
	"context"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// A pod's start is timed phase by phase, from CreatePod to the status that shows every regular container running
// handed to virtual-kubelet's pod controller, which writes it to the API server (UpdateStatus). Once that status
// is handed over, one line is logged per pod, as the kubelet's pod startup latency tracker logs "Observed pod
// startup duration" for each pod: what was seen when, and how long each phase and each Podman call took. Tools
// (hack/podbench) read it from the kubelet's log to tell where a start's time goes.

// Phases of a pod start that are not Podman calls.
const (
	phaseQueue   = "queue"   // CreatePod to the pod's runner starting
	phaseAdmit   = "admit"   // admission, the first status change, the user namespace
	phaseVolumes = "volumes" // the pod's volumes
	phaseDNS     = "dns"     // the pod's resolv.conf settings
	phaseHairpin = "hairpin" // hairpin mode on the pods' bridge (Config.Hairpin)
	phaseSpec    = "spec"    // a container's spec: environment, mounts, termination log, hosts file
	phaseStatus  = "status"  // the status change that shows every container running to its hand-over
)

// Podman calls on a pod's start path, named as in Podman's API.
const (
	opPodRemove        = "pod_remove"
	opPodCreate        = "pod_create"
	opPodStart         = "pod_start"
	opPodIP            = "pod_ip" // pod inspect and infra container inspect
	opImageExists      = "image_exists"
	opContainerCreate  = "container_create"
	opContainerStart   = "container_start"
	opContainerInspect = "container_inspect"
)

// phaseTime is the time spent in one phase, over n calls.
type phaseTime struct {
	name string
	d    time.Duration
	n    int
}

// startTrace times one pod's start. Guarded by Provider.mu.
type startTrace struct {
	// seen is when CreatePod took the pod on; changed when the record last changed (changedLocked).
	seen, changed time.Time
	// phases in the order first recorded; a phase recorded again (one call per container, a retry) adds up.
	phases []phaseTime
}

func newStartTrace(seen time.Time) *startTrace { return &startTrace{seen: seen, changed: seen} }

// add records d spent in the phase name.
func (t *startTrace) add(name string, d time.Duration) {
	for i := range t.phases {
		if t.phases[i].name == name {
			t.phases[i].d += d
			t.phases[i].n++
			return
		}
	}
	t.phases = append(t.phases, phaseTime{name: name, d: d, n: 1})
}

// keysAndValues is the trace as a log line's key/value pairs, as of notified, when the status was handed over:
// the times seen and notified (RFC 3339, nanoseconds: compared with other clocks of the same machine), the total,
// each phase (a duration; "xN" after it when there were N calls), and what no phase accounts for.
func (t *startTrace) keysAndValues(notified time.Time) []any {
	t.add(phaseStatus, notified.Sub(t.changed))
	total := notified.Sub(t.seen)
	kv := []any{"seen", t.seen.UTC().Format(time.RFC3339Nano), "notified", notified.UTC().Format(time.RFC3339Nano), "total", total.String()}
	var sum time.Duration
	for _, p := range t.phases {
		sum += p.d
		v := p.d.String()
		if p.n > 1 {
			v += " x" + strconv.Itoa(p.n)
		}
		kv = append(kv, p.name, v)
	}
	// Containers started side by side overlap, so the phases may add up to more than the total.
	return append(kv, "unaccounted", max(0, total-sum).String())
}

// timed records, on the pod's start trace, the time since start in the phase name; nothing once the pod started.
// p.mu must not be held.
func (w *podWorker) timed(name string, start time.Time) {
	d := time.Since(start)
	w.p.mu.Lock()
	if w.r.trace != nil {
		w.r.trace.add(name, d)
	}
	w.p.mu.Unlock()
}

// startedLocked takes the record's start trace once the status about to be handed over shows the pod running with
// every regular container running: the trace to log once it is handed over, or nil. p.mu must be held.
func startedLocked(r *podRecord, pod *corev1.Pod) *startTrace {
	t := r.trace
	if t != nil && (r.terminal || r.deleting) {
		r.trace = nil // it will not start
		return nil
	}
	if t == nil || pod.Status.Phase != corev1.PodRunning || len(pod.Status.ContainerStatuses) != len(pod.Spec.Containers) {
		return nil
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return nil
		}
	}
	r.trace = nil
	return t
}

// logStarted logs a pod's start trace once its running status was handed over at notified.
func logStarted(ctx context.Context, pod *corev1.Pod, t *startTrace, notified time.Time) {
	klog.FromContext(ctx).Info("Observed pod start phases", append([]any{"pod", klog.KObj(pod)}, t.keysAndValues(notified)...)...)
}

// timedQueue records, on the pod's start trace, the time from CreatePod to its runner starting.
func (w *podWorker) timedQueue() {
	w.p.mu.Lock()
	if t := w.r.trace; t != nil {
		t.add(phaseQueue, time.Since(t.seen))
	}
	w.p.mu.Unlock()
}
