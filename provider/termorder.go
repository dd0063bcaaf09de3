package provider

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podstatus"
)

// terminationOrder is the order in which a pod's running containers stop, as the kubelet's terminationOrdering has
// it: regular (and ephemeral) containers stop at once; a sidecar (restartable init container) stops only once every
// regular container has stopped and every later sidecar has, so that the main containers' preStop hooks and last
// requests can still use it. Waiting takes from the container's grace period.
type terminationOrder struct {
	// stopped closes, by container name, when that container has stopped; prereqs are what each must wait for.
	stopped map[string]chan struct{}
	prereqs map[string][]chan struct{}
}

// newTerminationOrder orders the stop of pod's containers, of which those named in running are running.
func newTerminationOrder(pod *corev1.Pod, running map[string]bool) *terminationOrder {
	o := &terminationOrder{stopped: map[string]chan struct{}{}, prereqs: map[string][]chan struct{}{}}
	channel := func(name string) chan struct{} {
		ch := make(chan struct{})
		if !running[name] {
			close(ch) // nothing waits for a container that is not running
		}
		o.stopped[name] = ch
		return ch
	}
	var mains []chan struct{}
	for _, c := range pod.Spec.Containers {
		mains = append(mains, channel(c.Name))
	}
	later := "" // the next sidecar in spec order, which stops before this one
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		ic := &pod.Spec.InitContainers[i]
		channel(ic.Name)
		if !podstatus.IsRestartableInit(ic) {
			continue
		}
		o.prereqs[ic.Name] = append(o.prereqs[ic.Name], mains...)
		if later != "" {
			o.prereqs[ic.Name] = append(o.prereqs[ic.Name], o.stopped[later])
		}
		later = ic.Name
	}
	return o
}

// turn tells whether every container name stops after has stopped: name may stop now.
func (o *terminationOrder) turn(name string) bool {
	for _, ch := range o.prereqs[name] {
		select {
		case <-ch:
		default:
			return false
		}
	}
	return true
}

// waitForTurn blocks until the containers name stops after have stopped, or for at most grace; it returns the
// grace left.
func (o *terminationOrder) waitForTurn(name string, grace time.Duration) time.Duration {
	if grace <= 0 || o.turn(name) {
		return grace
	}
	start := time.Now()
	t := time.NewTimer(grace)
	defer t.Stop()
	for _, ch := range o.prereqs[name] {
		select {
		case <-ch:
		case <-t.C:
			return 0
		}
	}
	return grace - time.Since(start).Truncate(time.Second)
}

// done marks name stopped. Called once per container.
func (o *terminationOrder) done(name string) {
	if ch, ok := o.stopped[name]; ok {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}
