package provider

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podman"
)

// unclaimedRetry is how often the adopted Podman pods that are left unclaimed are looked at again.
const unclaimedRetry = 2 * time.Second

// adoptedPod is what a restarted virtual kubelet found of one pod in Podman.
type adoptedPod struct {
	podmanID   string
	containers map[string]adoptedContainer // by Kubernetes container name: the latest attempt
}

type adoptedContainer struct {
	id      string
	attempt int32
}

// Adopt takes stock of the Podman pods this node's earlier virtual kubelet left running, so that CreatePod takes
// them over (no container restarted or duplicated) instead of starting the pods again. Call it before the
// pod controller starts; RemoveUnclaimed later removes what no Kubernetes pod claims.
func (p *Provider) Adopt(ctx context.Context) (int, error) {
	labels := map[string]string{podman.LabelManaged: "true", podman.LabelNode: p.cfg.NodeName}
	pods, err := p.cfg.Runtime.ListPods(ctx, labels)
	if err != nil {
		return 0, err
	}
	ctrs, err := p.cfg.Runtime.ListContainers(ctx, labels)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	byPodmanID := map[string]*adoptedPod{}
	for _, pp := range pods {
		uid := types.UID(pp.Labels[podman.LabelUID])
		if uid == "" {
			continue
		}
		a := &adoptedPod{podmanID: pp.ID, containers: map[string]adoptedContainer{}}
		p.adopted[uid] = a
		byPodmanID[pp.ID] = a
	}
	p.recordUserNamespaces(ctx, pods)
	for _, c := range ctrs {
		a := byPodmanID[c.PodID]
		name := c.Labels[podman.LabelContainer]
		attempt, err := strconv.Atoi(c.Labels[podman.LabelAttempt])
		if a == nil || name == "" || err != nil {
			continue
		}
		if cur, ok := a.containers[name]; !ok || int32(attempt) > cur.attempt {
			a.containers[name] = adoptedContainer{id: c.ID, attempt: int32(attempt)}
		}
	}
	return len(p.adopted), nil
}

// seedAdopted prepares a record to take an adopted Podman pod over: each container resumes its latest attempt, and
// until the runner has looked at them the pod keeps the status the earlier virtual kubelet last reported of the
// same containers (a restart of the virtual kubelet must not send a running pod back to ContainerCreating, take its
// IP away or lower a restartCount).
func seedAdopted(r *podRecord, a *adoptedPod) {
	reported := map[string]corev1.ContainerStatus{}
	for _, st := range slices.Concat(r.pod.Status.InitContainerStatuses, r.pod.Status.ContainerStatuses, r.pod.Status.EphemeralContainerStatuses) {
		reported[st.Name] = st
	}
	for _, c := range r.containers() {
		ac, ok := a.containers[c.spec.Name]
		if !ok {
			continue
		}
		c.resumeID, c.attempts = ac.id, ac.attempt
		st, ok := reported[c.spec.Name]
		if !ok || st.ContainerID != containerIDPrefix+ac.id {
			continue
		}
		c.id, c.imageID = ac.id, st.ImageID
		c.state, c.last, c.ready = *st.State.DeepCopy(), *st.LastTerminationState.DeepCopy(), st.Ready
		c.started = st.Started != nil && *st.Started
	}
	for _, cond := range r.pod.Status.Conditions {
		switch {
		case cond.Type == corev1.PodInitialized && cond.Status == corev1.ConditionTrue:
			r.initialized = true
		case cond.Type == corev1.PodReadyToStartContainers && cond.Status == corev1.ConditionTrue:
			r.sandbox, r.podIP = true, r.pod.Status.PodIP
		}
	}
}

// RemoveUnclaimed removes the adopted Podman pods whose Kubernetes pod no longer exists (exists tells, by UID), and
// the volume folders of pods that do not exist.
func (p *Provider) RemoveUnclaimed(ctx context.Context, exists func(types.UID) bool) (int, error) {
	gone, _, err := p.removeUnclaimedAdopted(ctx, exists)
	errs := []error{err}
	// Volume folders of pods that are gone (whose Podman pod a crash may have taken already).
	uids, err := p.volumes().PodDirUIDs()
	errs = append(errs, err)
	for _, uid := range uids {
		if _, ok := gone[uid]; ok || exists(uid) {
			continue
		}
		errs = append(errs, p.volumes().TearDown(uid))
	}
	return len(gone), errors.Join(errs...)
}

// RemoveUnclaimedAdopted removes the adopted Podman pods whose Kubernetes pod no longer exists, as RemoveUnclaimed
// does, and tells how many adopted pods are left for CreatePod (or DeletePod) to claim. Call it again while some
// are left: virtual-kubelet deletes the object of a pod deleted while no kubelet ran whose containers are not
// running (one in CrashLoopBackOff) without a DeletePod, so its Podman pod goes once its object has.
func (p *Provider) RemoveUnclaimedAdopted(ctx context.Context, exists func(types.UID) bool) (removed, left int, err error) {
	gone, left, err := p.removeUnclaimedAdopted(ctx, exists)
	return len(gone), left, err
}

func (p *Provider) removeUnclaimedAdopted(ctx context.Context, exists func(types.UID) bool) (map[types.UID]*adoptedPod, int, error) {
	p.mu.Lock()
	gone := map[types.UID]*adoptedPod{}
	for uid, a := range p.adopted {
		if !exists(uid) {
			gone[uid] = a
			delete(p.adopted, uid)
		}
	}
	left := len(p.adopted)
	p.mu.Unlock()
	var errs []error
	for uid, a := range gone {
		errs = append(errs, p.cfg.Runtime.RemovePod(ctx, a.podmanID), p.volumes().TearDown(uid))
		p.releaseUserNamespace(uid)
	}
	return gone, left, errors.Join(errs...)
}

// claimed tells whether a Kubernetes pod of this UID exists in the pod informer's cache and has not finished; a
// pod the cache cannot be read for counts as claimed (nothing is removed on doubt).
func (p *Provider) claimed(uid types.UID) bool {
	if p.listers.Pods == nil {
		return true
	}
	list, err := p.listers.Pods.List(labels.Everything())
	if err != nil {
		return true
	}
	for _, pod := range list {
		if pod.UID == uid {
			return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
		}
	}
	return false
}

// removeUnclaimedLoop removes, once the pod informer has synced, the adopted Podman pods (and the volume folders)
// that no Kubernetes pod claims; then, until every adopted pod is claimed, those whose object virtual-kubelet
// deletes without telling the provider (see RemoveUnclaimedAdopted).
func (p *Provider) removeUnclaimedLoop(ctx context.Context) {
	logger := klog.FromContext(ctx)
	n, err := p.RemoveUnclaimed(ctx, p.claimed)
	for left := -1; ; {
		if err != nil {
			logger.Error(err, "Removing Podman pods no Kubernetes pod claims")
		} else if n > 0 {
			logger.Info("Removed Podman pods no Kubernetes pod claims", "count", n)
		}
		if left == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(unclaimedRetry):
		}
		n, left, err = p.RemoveUnclaimedAdopted(ctx, p.claimed)
	}
}
