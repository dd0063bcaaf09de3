package provider

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// DefaultRuntimeHandler is the RuntimeClass handler a node runs when given none: runc, the only OCI runtime
// Berth's Podman uses by default.
const DefaultRuntimeHandler = "runc"

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
