package provider

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

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

// policy is what the node allows its pods, for admission.
func (p *Provider) policy() podspec.Policy {
	return podspec.Policy{AllowPrivileged: p.cfg.AllowPrivileged, AllowHostNamespaces: p.cfg.AllowHostNamespaces,
		AllowedCapabilities: p.cfg.AllowedCapabilities, Sysctls: p.cfg.Sysctls, Allocatable: p.cfg.Allocatable,
		AllowedHostPaths: p.cfg.AllowedHostPaths, AppArmor: p.cfg.AppArmor, SELinux: p.cfg.SELinux,
		NoUserNamespaces: p.noUserNamespaces()}
}

// noUserNamespaces says why the node gives pods no user namespace of their own, "" when it does.
func (p *Provider) noUserNamespaces() string {
	if p.cfg.UserNamespaces != nil {
		return ""
	}
	if p.cfg.NoUserNamespaces != "" {
		return p.cfg.NoUserNamespaces
	}
	return "the node has no user namespace IDs to give"
}

// mountVolumes sets the pod's volumes up, retrying with the kubelet volume manager's back-off (500 ms doubling to
// about 2 minutes) while, for example, a ConfigMap it needs does not exist or a claim is not bound yet; the
// containers wait in ContainerCreating meanwhile. A volume the node refuses (a claim bound to a PersistentVolume
// it cannot mount) fails the pod as admission does.
func (w *podWorker) mountVolumes(ctx context.Context) bool {
	backoff := 500 * time.Millisecond
	for {
		rej, err := w.setUpVolumes(ctx)
		if rej != nil {
			w.refuse(rej)
			return false
		}
		if err == nil {
			return true
		}
		klog.FromContext(ctx).V(2).Info("Setting up volumes", "err", err)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 122*time.Second)
	}
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
