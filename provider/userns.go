package provider

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/userns"
)

// A pod with spec.hostUsers: false gets a user namespace of its own, as from the kubelet's userns manager: a range
// of host IDs (Config.UserNamespaces) taken before its volumes are made, since their folders are chown'd to it,
// and given to its Podman pod, whose containers all share it. The range is recorded as a label of the Podman pod
// (podman.LabelUserNamespace), read back by Adopt after a restart; it is freed once nothing runs in it any more
// (the pod finished, or was removed).

// allocateUserNamespace gives a pod that asks for a user namespace of its own its range of host IDs: the one it
// holds (an adopted pod's, recorded by Adopt), else a free one. The error is the kubelet's when none is free.
func (w *podWorker) allocateUserNamespace() error {
	if !podspec.OwnUserNamespace(w.r.pod) {
		return nil
	}
	if w.p.cfg.UserNamespaces == nil {
		return fmt.Errorf("create user namespace: %s", w.p.noUserNamespaces())
	}
	if _, err := w.p.cfg.UserNamespaces.Allocate(w.r.pod.UID); err != nil {
		return fmt.Errorf("create user namespace: %w", err)
	}
	return nil
}

// userNamespace is the range a pod holds, nil for none.
func (p *Provider) userNamespace(uid types.UID) *userns.Range {
	if p.cfg.UserNamespaces == nil {
		return nil
	}
	if r, ok := p.cfg.UserNamespaces.Get(uid); ok {
		return &r
	}
	return nil
}

// releaseUserNamespace frees the range of a pod in which nothing runs any more.
func (p *Provider) releaseUserNamespace(uid types.UID) {
	if p.cfg.UserNamespaces != nil {
		p.cfg.UserNamespaces.Release(uid)
	}
}

// recordUserNamespaces records the ranges the Podman pods of an earlier run hold, so that they are not given again
// and their pods keep theirs. Those of pods something still runs in come first: a pod nothing runs in (its Podman
// pod exited) had its range freed when it finished, and another pod may hold it since; one whose range is still
// free keeps it, so that a pod that starts again (its Podman pod stopped with the host) finds its files its own.
func (p *Provider) recordUserNamespaces(ctx context.Context, pods []podman.PodInfo) {
	if p.cfg.UserNamespaces == nil {
		return
	}
	for _, exited := range []bool{false, true} {
		for _, pp := range pods {
			label, ok := pp.Labels[podman.LabelUserNamespace]
			uid := types.UID(pp.Labels[podman.LabelUID])
			if !ok || uid == "" || (pp.Status == podman.PodExited) != exited {
				continue
			}
			r, err := userns.ParseRange(label)
			if err == nil {
				err = p.cfg.UserNamespaces.Record(uid, r)
			}
			if err != nil && !exited {
				klog.FromContext(ctx).Error(err, "Recording the user namespace of a Podman pod of an earlier run", "podmanPod", pp.Name)
			}
		}
	}
}
