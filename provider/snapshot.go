package provider

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/podstatus"
)

// The status of a pod is derived, by podstatus, from a snapshot of its record; reading it writes nothing. What a
// report fixes (the transition times of the conditions whose status changed, a terminal phase latched once) is
// stored on the write side, when the record changes (changedLocked) and when the dispatcher reports it, so that two
// reads without a change in between return the same status.

// containerIDPrefix is the runtime scheme of status.containerStatuses[].containerID.
const containerIDPrefix = podstatus.ContainerIDPrefix

// changedLocked reports a change of the pod's state to the node's dispatcher (Provider.changedLocked). p.mu must
// be held.
func (w *podWorker) changedLocked() { w.p.changedLocked(w.r) }

// changedLocked records that the record's state changed: its status is committed (conditions whose status changed
// are stamped now, a terminal phase is latched) and queued for the dispatcher. p.mu must be held.
func (p *Provider) changedLocked(r *podRecord) {
	now := time.Now()
	if r.trace != nil {
		r.trace.changed = now
	}
	p.commitLocked(r, now)
	p.dirty[r] = true
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// commitLocked stores what the record's status fixes as of now: the transition times of its conditions (now for
// those whose status changed) and its phase once terminal, which never changes after. Only the write side calls
// it. p.mu must be held.
func (p *Provider) commitLocked(r *podRecord, now time.Time) {
	st := podstatus.Derive(r.snapshot(p.stale), p.cfg.NodeIP, now)
	r.conditions, r.committedAt = st.Conditions, now
	if r.finalPhase == "" && (st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed) {
		r.finalPhase = st.Phase
	}
}

// snapshot is what the record's status is derived from, during the outage stale (none if nil). It shares the
// record's objects: p.mu must be held until the status is derived.
func (r *podRecord) snapshot(stale *outage) *podstatus.Pod {
	s := &podstatus.Pod{
		Pod:              r.pod,
		Containers:       make([]podstatus.Container, 0, len(r.init)+len(r.app)+len(r.eph.list)),
		PodIP:            r.podIP,
		StartTime:        r.startTime,
		SandboxReady:     r.sandbox,
		SandboxExists:    r.podmanID != "" && !r.removed,
		Terminal:         r.terminal,
		FinalPhase:       r.finalPhase,
		Reason:           r.reason,
		Message:          r.message,
		ResizePending:    r.resize.pending,
		ResizeInProgress: r.resize.inProgress,
		Previous:         r.conditions,
	}
	for _, c := range r.containers() {
		s.Containers = append(s.Containers, c.snapshot())
	}
	if stale != nil {
		s.Stale = &podstatus.Outage{Since: stale.since, Err: stale.err}
	}
	return s
}

// snapshot is what the container's status is derived from. It shares the record's objects.
func (c *containerRecord) snapshot() podstatus.Container {
	s := podstatus.Container{
		Spec: c.spec, Kind: c.kind(), ID: c.id, State: c.state, LastState: c.last, Started: c.started, Ready: c.ready,
		ImageID: c.imageID, Attempts: c.attempts, Hooking: c.hooking, HookState: c.hookState,
	}
	if c.applied != nil {
		cg := podspec.Resources(*c.applied)
		s.Cgroup = &podstatus.Cgroup{CPUQuota: cg.CPUQuota, CPUPeriod: cg.CPUPeriod, CPUShares: cg.CPUShares,
			MemoryLimit: cg.MemoryLimit, MemoryRequest: *c.applied.Requests.Memory()}
	}
	return s
}

// kind is the part the container plays in its pod.
func (c *containerRecord) kind() podstatus.Kind {
	switch {
	case c.ephemeral:
		return podstatus.Ephemeral
	case c.sidecar:
		return podstatus.Sidecar
	case c.init:
		return podstatus.Init
	}
	return podstatus.Regular
}

// statusLocked is the record's status as a reader sees it: derived from what is stored, writing nothing. Conditions
// whose status changed since the last commit (state written without changedLocked) take the last commit's time.
// p.mu must be held.
func (p *Provider) statusLocked(r *podRecord) corev1.PodStatus {
	return podstatus.Derive(r.snapshot(p.stale), p.cfg.NodeIP, r.committedAt)
}
