package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

// A pod's sandbox is its Podman pod, made as the kubelet's kuberuntime makes a pod sandbox: under the OCI runtime
// of its RuntimeClass, with its hostname and DNS settings, then started; the pod's IP is then known.

// DefaultRuntimeHandler is the RuntimeClass handler a node runs when given none: runc, the only OCI runtime
// Berth's Podman uses by default.
const DefaultRuntimeHandler = "runc"

// startSandbox creates the Podman pod and learns its IP, retrying with back-off as the kubelet does.
func (w *podWorker) startSandbox(ctx context.Context) bool {
	return w.retrySandbox(ctx, func() error { return w.createSandbox(ctx) })
}

// createSandbox makes the pod's sandbox, once: the Podman pod (its RuntimeClass's handler, hostname, DNS and
// podspec.Pod), started, its IP learnt. An adopted pod's Podman pod is taken as it is, or replaced if unusable.
func (w *podWorker) createSandbox(ctx context.Context) error {
	rt := w.p.cfg.Runtime
	handler, err := w.p.runtimeHandler(w.r.pod)
	if err != nil && !w.r.adopted {
		return err
	}
	w.p.mu.Lock()
	w.r.runtime = handler
	w.p.mu.Unlock()
	if w.r.adopted {
		// The sandbox outlived the virtual kubelet: take it as it is.
		ip, err := w.sandboxIP(ctx)
		var dns *podman.DNSConfig
		if err == nil && w.r.pod.Spec.HostNetwork {
			// Containers of a hostNetwork pod carry the pod's DNS settings themselves.
			dns, err = w.p.podDNS(ctx, w.r.pod)
		}
		if err == nil {
			w.p.mu.Lock()
			w.r.podIP, w.r.sandbox, w.r.dns = ip, true, dns
			w.changedLocked()
			w.p.mu.Unlock()
			return nil
		}
		if w.p.unreachable(ctx, err) {
			// Podman, not the sandbox, failed: the sandbox is taken over once Podman answers.
			return err
		}
		klog.FromContext(ctx).Error(err, "Adopted sandbox is unusable; making a new one")
		_ = rt.RemovePod(ctx, w.r.podmanID)
		w.p.mu.Lock()
		w.r.adopted, w.r.podmanID = false, ""
		w.p.mu.Unlock()
	}
	if w.r.podmanID == "" {
		// As the kubelet's sandbox config: an FQDN too long for the kernel fails the sandbox (with the kubelet's
		// message, unwrapped, in the FailedCreatePodSandBox event) and is retried.
		hostname, err := sandboxHostname(w.r.pod, w.p.cfg.ClusterDomain)
		if err != nil {
			return err
		}
		t := time.Now()
		dns, err := w.p.podDNS(ctx, w.r.pod)
		if err != nil {
			return err
		}
		w.timed(phaseDNS, t)
		w.p.mu.Lock()
		w.r.dns = dns
		w.p.mu.Unlock()
		// When Berth writes each container's hosts file (hosts.go), Podman's own would be unseen.
		spec := podspec.Pod(w.r.pod, podspec.PodInputs{Node: w.p.cfg.NodeName, Network: w.p.cfg.Network, Hostname: hostname, DNS: dns,
			HostNetns: w.p.cfg.HostNetns, PodmanHostsFile: !w.p.managesHostsFile(), HostPortIP: w.p.hostPortIP(),
			UserNamespace: w.p.userNamespace(w.r.pod.UID)})
		t = time.Now()
		id, err := rt.CreatePod(ctx, spec)
		w.timed(opPodCreate, t)
		if err != nil {
			// A Podman pod of the same name may be left from an attempt whose answer was lost: it is removed and
			// the pod created once more (a removal before every creation would cost each pod a call).
			t = time.Now()
			if rerr := rt.RemovePod(ctx, w.r.podmanName); rerr != nil {
				return errors.Join(err, rerr)
			}
			w.timed(opPodRemove, t)
			t = time.Now()
			if id, err = rt.CreatePod(ctx, spec); err != nil {
				return err
			}
			w.timed(opPodCreate, t)
		}
		w.p.mu.Lock()
		w.r.podmanID = id
		w.p.mu.Unlock()
	}
	t := time.Now()
	if err := rt.StartPod(ctx, w.r.podmanID); err != nil {
		return err
	}
	w.timed(opPodStart, t)
	if w.p.cfg.Hairpin != nil && !w.r.pod.Spec.HostNetwork {
		t = time.Now()
		if err := w.p.cfg.Hairpin(ctx); err != nil {
			klog.FromContext(ctx).Error(err, "Setting hairpin mode on the pods' bridge; the pod may get no answer from itself through a Service")
		}
		w.timed(phaseHairpin, t)
	}
	t = time.Now()
	ip, err := w.sandboxIP(ctx)
	if err != nil {
		return err
	}
	w.timed(opPodIP, t)
	w.p.mu.Lock()
	w.r.podIP = ip
	w.r.sandbox = true
	w.changedLocked()
	w.p.mu.Unlock()
	return nil
}

// runtimeHandler is the OCI runtime a pod's containers run under: its RuntimeClass's handler, looked up as the
// kubelet's runtimeclass manager does ("" for a pod with no class, Podman's default runtime). A class that does not
// exist, or whose handler the node does not run, is an error that fails the pod's sandbox, as under a kubelet
// (FailedCreatePodSandBox, tried again with back-off: the class may be created or fixed), with the kubelet's
// message for a missing class and containerd's for a missing handler.
func (p *Provider) runtimeHandler(pod *corev1.Pod) (string, error) {
	name := pod.Spec.RuntimeClassName
	if name == nil || *name == "" {
		return "", nil
	}
	if p.listers.RuntimeClasses == nil {
		return "", fmt.Errorf("failed to lookup RuntimeClass %s: the node does not watch RuntimeClasses", *name)
	}
	rc, err := p.listers.RuntimeClasses.Get(*name)
	if err != nil {
		return "", err
	}
	handlers := p.cfg.RuntimeHandlers
	if len(handlers) == 0 {
		handlers = []string{DefaultRuntimeHandler}
	}
	if !slices.Contains(handlers, rc.Handler) {
		return "", fmt.Errorf("failed to get sandbox runtime: no runtime for %q is configured", rc.Handler)
	}
	return rc.Handler, nil
}

// sandboxIP is the pod's IP: the node's for a hostNetwork pod, as the kubelet reports it, else the Podman pod's.
func (w *podWorker) sandboxIP(ctx context.Context) (string, error) {
	if w.r.pod.Spec.HostNetwork {
		return w.p.cfg.NodeIP, nil
	}
	return w.p.cfg.Runtime.PodIP(ctx, w.r.podmanID, w.p.cfg.Network)
}

// hostPortIP is the address of hostPorts that name none (see podspec.PodInputs): the node's when the node is a
// network namespace other than the Podman host's.
func (p *Provider) hostPortIP() string {
	if p.cfg.HostNetns != "" {
		return p.cfg.NodeIP
	}
	return ""
}
