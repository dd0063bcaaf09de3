package provider

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/volume"
)

// volumes is the node's volume manager over the provider's configuration and informer caches as they stand.
func (p *Provider) volumes() *volume.Manager {
	cfg := volume.Config{RootDir: p.cfg.RootDir, Allocatable: p.cfg.Allocatable, Tokens: p.cfg.Tokens,
		ConfigMaps: p.listers.ConfigMaps, Secrets: p.listers.Secrets, Claims: p.cfg.Claims, NodeName: p.cfg.NodeName, Policy: p.policy()}
	if p.cfg.UserNamespaces != nil {
		cfg.UserNamespace = p.cfg.UserNamespaces.Get
	}
	return volume.New(cfg)
}

// setUpVolumes prepares a pod's volumes on the host before its sandbox starts. Each failing volume gets a
// FailedMount event; the error says which failed. A volume the node refuses whatever it waits for (a claim bound
// to a PersistentVolume it cannot mount) gives instead the rejection the pod fails with, and no event of its own
// (the rejection's is FailedMount).
func (w *podWorker) setUpVolumes(ctx context.Context) (*podspec.Rejection, error) {
	w.r.volMu.Lock()
	defer w.r.volMu.Unlock()
	w.p.mu.Lock()
	pod := w.r.pod.DeepCopy()
	w.p.mu.Unlock()
	err := w.p.volumes().SetUp(ctx, pod, func(v *corev1.Volume, err error) {
		var refused *volume.RefusedError
		if errors.As(err, &refused) {
			return
		}
		w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed for volume %q : %v", v.Name, err)
	})
	if refusals := volume.Refusals(err); len(refusals) > 0 {
		return podspec.VolumeRefusal(refusals), err
	}
	return nil, err
}

// refreshVolumes rewrites a running pod's configMap, secret, downwardAPI and projected volumes from the current
// API objects, renewing tokens as they age. A pod being deleted is left alone: the periodic resync lists the pods
// to refresh before it gets to each, and a refresh after the deletion's tear-down would write the pod's folder
// again, for good.
func (w *podWorker) refreshVolumes(ctx context.Context) {
	w.r.volMu.Lock()
	defer w.r.volMu.Unlock()
	w.p.mu.Lock()
	gone := w.r.deleting || w.r.removed
	pod := w.r.pod.DeepCopy()
	w.p.mu.Unlock()
	if gone {
		return
	}
	w.p.volumes().Refresh(ctx, pod)
}
