package podspec

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/userns"
)

// OwnUserNamespace tells whether a pod asks for a user namespace of its own (spec.hostUsers: false): the default
// is the host's.
func OwnUserNamespace(pod *corev1.Pod) bool {
	return pod.Spec.HostUsers != nil && !*pod.Spec.HostUsers
}

// userNamespaceProblems lists why the node cannot give a pod that asks for one the user namespace the kubelet
// gives it: a host that makes none, and what the apiserver lets through that Berth cannot map into one. The API
// forbids hostPID, hostIPC and volumeDevices with hostUsers: false, and hostNetwork unless its alpha gate
// UserNamespacesHostNetworkSupport is on.
func userNamespaceProblems(pod *corev1.Pod, policy Policy) []string {
	if !OwnUserNamespace(pod) {
		return nil
	}
	if policy.NoUserNamespaces != "" {
		return []string{"spec.hostUsers: false: the node cannot give pods a user namespace of their own: " + policy.NoUserNamespaces}
	}
	var out []string
	if pod.Spec.HostNetwork {
		out = append(out, "spec.hostUsers: false with spec.hostNetwork")
	}
	// Berth gives the volume folders it makes to the pod's root and fsGroup by chown (no idmapped mounts): a group
	// the namespace does not map would be another pod's.
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		if _, ok := (userns.Range{}).HostID(*sc.FSGroup); !ok {
			out = append(out, fmt.Sprintf("spec.securityContext.fsGroup: %d is not in the pod's user namespace (0 to %d) with spec.hostUsers: false", *sc.FSGroup, userns.Length-1))
		}
	}
	return out
}

// userNamespaceVolumeProblems lists the volumes of a pod with a user namespace of its own that Berth cannot map
// into it: the host's own files (hostPath, and the hostPath and local PersistentVolumes of claims), whose owners
// only an idmapped mount would map (runc 1.1 makes none, and Berth does not chown the host's files), and image
// volumes, which Podman cannot mount there.
func userNamespaceVolumeProblems(pod *corev1.Pod) []string {
	if !OwnUserNamespace(pod) {
		return nil
	}
	var out []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.HostPath != nil:
			out = append(out, fmt.Sprintf("spec.volumes[%s]: hostPath volumes are not supported with spec.hostUsers: false (without idmapped mounts, the host's owners of its files cannot be mapped into the pod's user namespace)", v.Name))
		case v.PersistentVolumeClaim != nil || v.Ephemeral != nil:
			out = append(out, fmt.Sprintf("spec.volumes[%s]: persistent volume claims are not supported with spec.hostUsers: false (without idmapped mounts, the host's owners of the volume's files cannot be mapped into the pod's user namespace)", v.Name))
		case v.Image != nil:
			out = append(out, fmt.Sprintf("spec.volumes[%s]: image volumes are not supported with spec.hostUsers: false (Podman cannot mount an image into a pod's user namespace)", v.Name))
		}
	}
	return out
}
