package podspec

import corev1 "k8s.io/api/core/v1"

// admitCase is a pod of TestAdmit: the changes to admitPod, the node's policy, and the refusal wanted (nil: the
// pod runs).
type admitCase = struct {
	name   string
	pod    []func(*corev1.Pod)
	policy Policy
	want   *Rejection
}

// userNamespaceAdmitCases are TestAdmit's pods with a user namespace of their own (hostUsers: false): run when the
// node can give it and Berth can map the pod's volumes into it, refused with the reason otherwise.
func userNamespaceAdmitCases() []admitCase {
	no := false
	refused := func(what string) *Rejection {
		msg := "Berth cannot give this pod its user namespace: " + what
		return &Rejection{Reason: "UnsupportedPodSpec", Message: msg, EventReason: "UnsupportedPodSpec", EventMessage: msg}
	}
	own := func(p *corev1.Pod) { p.Spec.HostUsers = &no }
	fsGroup := func(g int64) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: &g} }
	}
	volume := func(src corev1.VolumeSource) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: src})
		}
	}
	return []admitCase{
		{name: "a user namespace", pod: []func(*corev1.Pod){own}},
		{name: "Berth's own volume folders and an fsGroup in the namespace", pod: []func(*corev1.Pod){own, fsGroup(65535),
			volume(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}),
			volume(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}),
			volume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}})}},
		{name: "a host without user namespaces", pod: []func(*corev1.Pod){own},
			policy: Policy{NoUserNamespaces: "the host does not allow user namespaces (/proc/sys/user/max_user_namespaces is 0)"},
			want: refused("spec.hostUsers: false: the node cannot give pods a user namespace of their own: " +
				"the host does not allow user namespaces (/proc/sys/user/max_user_namespaces is 0)")},
		{name: "the host's user namespace on a host without others", policy: Policy{NoUserNamespaces: "no"}},
		// The apiserver lets hostNetwork through only with its alpha gate UserNamespacesHostNetworkSupport.
		{name: "host network", pod: []func(*corev1.Pod){own, func(p *corev1.Pod) { p.Spec.HostNetwork = true }},
			want: refused("spec.hostUsers: false with spec.hostNetwork")},
		{name: "an fsGroup outside the namespace", pod: []func(*corev1.Pod){own, fsGroup(65536)},
			want: refused("spec.securityContext.fsGroup: 65536 is not in the pod's user namespace (0 to 65535) with spec.hostUsers: false")},
		{name: "an fsGroup outside the namespace, in the host's", pod: []func(*corev1.Pod){fsGroup(65536)}},
		{name: "hostPath", pod: []func(*corev1.Pod){own, volume(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv"}})},
			policy: Policy{AllowedHostPaths: []string{"/srv"}},
			want: unsupportedVolume("spec.volumes[data]: hostPath volumes are not supported with spec.hostUsers: false " +
				"(without idmapped mounts, the host's owners of its files cannot be mapped into the pod's user namespace)")},
		{name: "image volume", pod: []func(*corev1.Pod){own, volume(corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "busybox"}})},
			want: unsupportedVolume("spec.volumes[data]: image volumes are not supported with spec.hostUsers: false " +
				"(Podman cannot mount an image into a pod's user namespace)")},
		{name: "persistent volume claim", pod: []func(*corev1.Pod){own, volume(corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}})},
			want: unsupportedVolume("spec.volumes[data]: persistent volume claims are not supported with spec.hostUsers: false " +
				"(without idmapped mounts, the host's owners of the volume's files cannot be mapped into the pod's user namespace)")},
		{name: "hostPath in the host's user namespace", pod: []func(*corev1.Pod){volume(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv"}})},
			policy: Policy{AllowedHostPaths: []string{"/srv"}}},
	}
}
