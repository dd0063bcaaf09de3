package provider

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A container's image is the one field of it a pod update may change (kubectl set image). The kubelet notices the
// container's hash change (computePodActions): a running app container or sidecar is killed ("definition
// changed") and started again at once with the new image, whatever the restart policy; its restartCount goes up.
// The crash and image-pull back-offs are keyed by image, so a container in back-off starts again at once too. A
// regular init container that runs finishes on its old image; one that stopped for good stays stopped.

// updateImagesLocked takes the containers' images from an updated pod. A container whose image changed gets the
// new one on its next run, and its runner is told. p.mu must be held.
func (w *podWorker) updateImagesLocked(pod *corev1.Pod) {
	want := map[string]string{}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			want[cs[i].Name] = cs[i].Image
		}
	}
	for _, c := range w.r.containers() {
		image := want[c.spec.Name]
		current := c.spec.Image
		if c.wantImage != "" {
			current = c.wantImage
		}
		if image == "" || image == current {
			continue
		}
		c.wantImage = image
		select {
		case c.respec <- struct{}{}:
		default: // already told
		}
	}
}

// wantImagesLocked sets the images of a copy of the record's pod to those its spec asks for now, so that the pod
// the provider reports matches the API's (virtual-kubelet updates a pod that differs). p.mu must be held.
func wantImagesLocked(r *podRecord, pod *corev1.Pod) {
	for _, c := range r.containers() {
		if c.wantImage == "" {
			continue
		}
		cs := pod.Spec.Containers
		if c.init {
			cs = pod.Spec.InitContainers
		}
		for i := range cs {
			if cs[i].Name == c.spec.Name {
				cs[i].Image = c.wantImage
			}
		}
	}
}

// imageChangedLocked tells whether the pod's spec asks for another image than the container's current run has.
// p.mu must be held.
func imageChangedLocked(c *containerRecord) bool {
	return c.wantImage != "" && c.wantImage != c.spec.Image
}

// takeNewImageLocked gives the container's next run the image the pod's spec now asks for, with a fresh back-off.
// Only the runner calls it, between runs, so that its own reads of c.spec need no lock. p.mu must be held.
func takeNewImageLocked(c *containerRecord) {
	if !imageChangedLocked(c) {
		return
	}
	spec := c.spec.DeepCopy()
	spec.Image = c.wantImage
	c.spec = spec
	c.backoff = 0
}

// watchImage kills the container's current run (id) once the pod's spec gives the container a new image, with
// the kubelet's Killing event, so that the runner starts it again with the new one. Regular init containers are
// not watched. The returned function stops watching, after a kill under way has completed.
func (w *podWorker) watchImage(ctx context.Context, c *containerRecord, id string) func() {
	if c.init && !c.sidecar {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.respec:
			}
			w.p.mu.Lock()
			changed := imageChangedLocked(c)
			c.respecKilled = changed
			grace := killGracePeriod(w.r.pod, nil)
			w.p.mu.Unlock()
			if !changed {
				continue // a change the run already has
			}
			msg := fmt.Sprintf("Container %s definition changed, will be restarted", c.spec.Name)
			if c.init {
				msg = fmt.Sprintf("Init container %s definition changed", c.spec.Name)
			}
			// The kill goes on if the watch is stopped meanwhile: the container is on its way out.
			w.killContainer(context.WithoutCancel(ctx), c, id, msg, grace)
			return
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// backOff waits d, as sleep does, for the container's next run, but ends early once the pod's spec gives the
// container a new image: the kubelet's back-offs are keyed by image, and a new one has none. False means ctx
// ended.
func (w *podWorker) backOff(ctx context.Context, c *containerRecord, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-c.respec:
			w.p.mu.Lock()
			changed := imageChangedLocked(c)
			w.p.mu.Unlock()
			if changed {
				return true
			}
		}
	}
}
