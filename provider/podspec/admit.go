package podspec

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"
)

// Reasons and events of the refusals Admit makes besides the kubelet's own rejections (SysctlForbiddenReason,
// OutOf<resource>).
const (
	// UnsupportedPodSpecReason is a pod Berth cannot run faithfully, or that the node does not allow (privileged
	// containers, host namespaces, capabilities): the pod's reason and its warning event's.
	UnsupportedPodSpecReason = "UnsupportedPodSpec"
	// UnsupportedVolumeReason is a pod with a volume Berth refuses; its warning event is FailedMountEvent.
	UnsupportedVolumeReason = "UnsupportedVolume"
	// FailedMountEvent is the reason of the warning event of a pod refused for its volumes.
	FailedMountEvent = "FailedMount"
)

// Policy is what a node allows its pods, as berth-kubelet's flags set it.
type Policy struct {
	// AllowPrivileged lets containers run privileged (--allow-privileged).
	AllowPrivileged bool
	// AllowHostNamespaces lets pods use the host's PID and IPC namespaces (hostPID, hostIPC;
	// --allow-host-namespaces).
	AllowHostNamespaces bool
	// AllowedCapabilities are the capabilities containers may add beyond the container runtime's default set
	// (--allowed-capabilities; AllCapabilities for any). Privileged containers are AllowPrivileged's concern.
	AllowedCapabilities []string
	// Sysctls are the sysctls pods may set (the safe ones and --allowed-unsafe-sysctls); nil holds the safe sysctls
	// of any kernel.
	Sysctls *SysctlAllowlist
	// Allocatable is the node's allocatable: a pod asking for more of an extended resource is rejected.
	Allocatable corev1.ResourceList
	// AllowedHostPaths are the host folders hostPath volumes may name (at or below); none when empty.
	AllowedHostPaths []string
	// ResolvePath resolves the symbolic links of the longest existing prefix of a clean absolute path, so that a
	// hostPath cannot leave the allowed folders through one; nil reads the node's filesystem.
	ResolvePath func(path string) string
	// NoUserNamespaces says why the node cannot give pods a user namespace of their own (spec.hostUsers: false),
	// such as a host whose max_user_namespaces is 0; empty when it can.
	NoUserNamespaces string
	// AppArmor and SELinux say whether the Podman host enforces them (podman info's host.security). Without
	// AppArmor, a pod asking for an AppArmor profile is rejected as the kubelet rejects it on such a host; with
	// SELinux, SELinux options are refused, since Podman would label the containers its own way.
	AppArmor, SELinux bool
}

// Rejection is why a node will not run a pod. The runner records it as the kubelet records a refused pod: a
// warning event, every container waiting in CreateContainerConfigError with Message, and phase Failed with Reason
// and Message.
type Rejection struct {
	// Reason and Message are the pod's status reason and message.
	Reason, Message string
	// EventReason and EventMessage are the warning event's reason and message.
	EventReason, EventMessage string
}

// refused is a pod Berth will not run: the event says why, and the pod's status says the same.
func refused(event, reason, msg string) *Rejection {
	return &Rejection{Reason: reason, Message: msg, EventReason: event, EventMessage: msg}
}

// rejected is a pod the kubelet's admission would reject, as its rejectPod records it: an event with the reason
// saying why, and the status message "Pod was rejected: <why>".
func rejected(reason, msg string) *Rejection {
	return &Rejection{Reason: reason, Message: "Pod was rejected: " + msg, EventReason: reason, EventMessage: msg}
}

// The kubelet's reasons for rejecting a pod that Admit also uses.
const (
	// PodOSNotSupportedReason is a pod whose spec.os is not the node's (Linux).
	PodOSNotSupportedReason = "PodOSNotSupported"
	// AppArmorReason is a pod asking for an AppArmor profile on a host without AppArmor.
	AppArmorReason = "AppArmor"
)

// Admit decides whether the node runs a pod: nil when it does, else the first refusal, in this order: an OS other
// than Linux, what Berth cannot run yet, privileged containers, host namespaces, a user namespace the node cannot
// give, capabilities, sysctls, AppArmor on a host without it, extended resources, volumes.
func Admit(pod *corev1.Pod, policy Policy) *Rejection {
	if podOS := pod.Spec.OS; podOS != nil && podOS.Name != corev1.Linux {
		return rejected(PodOSNotSupportedReason, "Failed to admit pod as the OS field doesn't match node OS")
	}
	if bad := unsupported(pod, policy); len(bad) > 0 {
		return refused(UnsupportedPodSpecReason, UnsupportedPodSpecReason, "Berth cannot run this pod yet; unsupported: "+strings.Join(bad, ", "))
	}
	if priv := privilegedContainers(pod); len(priv) > 0 && !policy.AllowPrivileged {
		return refused(UnsupportedPodSpecReason, UnsupportedPodSpecReason, privilegedRefusal(priv))
	}
	if ns := hostNamespaces(pod); len(ns) > 0 && !policy.AllowHostNamespaces {
		return refused(UnsupportedPodSpecReason, UnsupportedPodSpecReason, "the host's PID and IPC namespaces are not allowed on this node (berth-kubelet --allow-host-namespaces=false): "+strings.Join(ns, ", "))
	}
	if bad := userNamespaceProblems(pod, policy); len(bad) > 0 {
		return refused(UnsupportedPodSpecReason, UnsupportedPodSpecReason, "Berth cannot give this pod its user namespace: "+strings.Join(bad, ", "))
	}
	if caps := forbiddenCapabilities(pod, policy.AllowedCapabilities); len(caps) > 0 {
		return refused(UnsupportedPodSpecReason, UnsupportedPodSpecReason, capabilityRefusal(policy.AllowedCapabilities, caps))
	}
	if msg := policy.Sysctls.admit(pod); msg != "" {
		return rejected(SysctlForbiddenReason, msg)
	}
	if !policy.AppArmor && appArmorRequired(pod) {
		return rejected(AppArmorReason, appArmorMissing)
	}
	if reason, msg, ok := insufficientExtendedResource(pod, policy.Allocatable); ok {
		return rejected(reason, msg)
	}
	if bad := volumeProblems(pod, policy.AllowedHostPaths, policy.resolver()); len(bad) > 0 {
		return VolumeRefusal(bad)
	}
	return nil
}

// VolumeRefusal is the refusal of a pod for the volumes problems names, each "spec.volumes[<name>]: why": Admit's,
// and the volume manager's for a claim bound to a PersistentVolume the node cannot mount (PersistentVolumeProblem).
func VolumeRefusal(problems []string) *Rejection {
	return refused(FailedMountEvent, UnsupportedVolumeReason, "Berth refuses this pod's volumes: "+strings.Join(problems, "; "))
}

// AdmitEphemeral says why the node refuses an ephemeral container ("" if it does not), with the rules Admit
// applies to a pod's containers: what Berth cannot run yet, privileged containers and capabilities the node does
// not allow. Only the ephemeral container is refused; the pod runs on.
func AdmitEphemeral(c *corev1.Container, policy Policy) string {
	alone := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{*c}}}
	var msgs []string
	if !policy.AppArmor && appArmorRequired(alone) {
		msgs = append(msgs, appArmorMissing)
	}
	if bad := unsupported(alone, policy); len(bad) > 0 {
		msgs = append(msgs, "Berth cannot run this container yet; unsupported: "+strings.Join(bad, ", "))
	}
	if priv := privilegedContainers(alone); len(priv) > 0 && !policy.AllowPrivileged {
		msgs = append(msgs, privilegedRefusal(priv))
	}
	if caps := forbiddenCapabilities(alone, policy.AllowedCapabilities); len(caps) > 0 {
		msgs = append(msgs, capabilityRefusal(policy.AllowedCapabilities, caps))
	}
	return strings.ReplaceAll(strings.Join(msgs, "; "), "spec.containers[", "spec.ephemeralContainers[")
}

// resolver is the policy's ResolvePath, or the node's filesystem.
func (p Policy) resolver() func(string) string {
	if p.ResolvePath != nil {
		return p.ResolvePath
	}
	return resolveExisting
}

// unsupported lists the parts of a pod that Berth cannot run faithfully yet, each as its field path, with the value
// when only some values are refused. A non-empty list fails the pod with reason UnsupportedPodSpec rather than
// running something other than what was asked. Volumes are volumeProblems'; the inventory (inventory.go) says
// what every field of a PodSpec gets.
func unsupported(pod *corev1.Pod, policy Policy) []string {
	var out []string
	sp := pod.Spec
	// Devices through dynamic resource allocation: Berth has no DRA driver to prepare them.
	if len(sp.ResourceClaims) > 0 {
		out = append(out, "spec.resourceClaims")
	}
	if sc := sp.SecurityContext; sc != nil {
		if sc.SupplementalGroupsPolicy != nil && *sc.SupplementalGroupsPolicy != corev1.SupplementalGroupsPolicyMerge {
			out = append(out, "spec.securityContext.supplementalGroupsPolicy")
		}
		if policy.SELinux && sc.SELinuxOptions != nil {
			out = append(out, "spec.securityContext.seLinuxOptions")
		}
		if policy.SELinux && sc.SELinuxChangePolicy != nil {
			out = append(out, "spec.securityContext.seLinuxChangePolicy")
		}
	}
	check := func(path string, c *corev1.Container, restart corev1.ContainerRestartPolicy) {
		if len(c.VolumeDevices) > 0 {
			out = append(out, path+".volumeDevices")
		}
		if len(c.Resources.Claims) > 0 {
			out = append(out, path+".resources.claims")
		}
		// Nothing enforces hugepages (no hugetlb cgroup limits): refused rather than run unbounded. An
		// ephemeral-storage limit is enforced by eviction (provider/evict.go).
		for _, name := range slices.Sorted(maps.Keys(c.Resources.Limits)) {
			if v1helper.IsHugePageResourceName(name) {
				out = append(out, fmt.Sprintf("%s.resources.limits[%s]", path, name))
			}
		}
		if c.RestartPolicy != nil && *c.RestartPolicy != restart {
			out = append(out, path+".restartPolicy: "+string(*c.RestartPolicy))
		}
		if len(c.RestartPolicyRules) > 0 {
			out = append(out, path+".restartPolicyRules")
		}
		for _, m := range c.VolumeMounts {
			if m.RecursiveReadOnly != nil && *m.RecursiveReadOnly == corev1.RecursiveReadOnlyEnabled {
				out = append(out, fmt.Sprintf("%s.volumeMounts[%s].recursiveReadOnly: Enabled", path, m.Name))
			}
			if len(m.BindMountOptions) > 0 {
				out = append(out, fmt.Sprintf("%s.volumeMounts[%s].bindMountOptions", path, m.Name))
			}
		}
		sc := c.SecurityContext
		if sc == nil {
			return
		}
		if policy.SELinux && sc.SELinuxOptions != nil {
			out = append(out, path+".securityContext.seLinuxOptions")
		}
	}
	// A container's restartPolicy is honoured where it changes nothing: an init container's Always (a sidecar),
	// or the policy the container has anyway (an init container's OnFailure, Never under a Never pod; an app
	// container's, the pod's).
	initPolicy, appPolicy := corev1.ContainerRestartPolicyOnFailure, corev1.ContainerRestartPolicyAlways
	switch sp.RestartPolicy {
	case corev1.RestartPolicyNever:
		initPolicy, appPolicy = corev1.ContainerRestartPolicyNever, corev1.ContainerRestartPolicyNever
	case corev1.RestartPolicyOnFailure:
		appPolicy = corev1.ContainerRestartPolicyOnFailure
	}
	for i := range sp.InitContainers {
		c := &sp.InitContainers[i]
		restart := initPolicy
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			restart = corev1.ContainerRestartPolicyAlways // a sidecar
		}
		check(fmt.Sprintf("spec.initContainers[%s]", c.Name), c, restart)
	}
	for i := range sp.Containers {
		check(fmt.Sprintf("spec.containers[%s]", sp.Containers[i].Name), &sp.Containers[i], appPolicy)
	}
	return out
}

// isPrivileged tells whether a container asks to run privileged.
func isPrivileged(c *corev1.Container) bool {
	return c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
}

// appArmorMissing is the kubelet's message for a pod asking for AppArmor on a host without it.
const appArmorMissing = "Cannot enforce AppArmor: AppArmor is not enabled on the host"

// appArmorRequired tells whether a pod asks for AppArmor confinement (a profile other than Unconfined, for the pod
// or a container), as the kubelet's AppArmor admission reads it: on a host without AppArmor, such a pod is
// rejected.
func appArmorRequired(pod *corev1.Pod) bool {
	if sc := pod.Spec.SecurityContext; sc != nil && sc.AppArmorProfile != nil && sc.AppArmorProfile.Type != corev1.AppArmorProfileTypeUnconfined {
		return true
	}
	return !podutil.VisitContainers(&pod.Spec, podutil.AllContainers, func(c *corev1.Container, _ podutil.ContainerType) bool {
		sc := c.SecurityContext
		return sc == nil || sc.AppArmorProfile == nil || sc.AppArmorProfile.Type == corev1.AppArmorProfileTypeUnconfined
	})
}

// insufficientExtendedResource finds an extended resource (a device plugin's, such as nvidia.com/gpu) the pod
// requests beyond what the node has, as the kubelet's admission rejects such a pod that bypassed the scheduler
// (spec.nodeName). Berth has no device plugins, so a node has none unless its allocatable says otherwise; running
// the pod without the device would be running something other than what was asked. reason is the kubelet's
// OutOf<resource>; ok is false when the pod fits.
func insufficientExtendedResource(pod *corev1.Pod, allocatable corev1.ResourceList) (reason, msg string, ok bool) {
	requests := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	names := make([]corev1.ResourceName, 0, len(requests))
	for name := range requests {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !v1helper.IsExtendedResourceName(name) {
			continue
		}
		req := requests[name]
		capacity := allocatable[name]
		if req.Cmp(capacity) <= 0 {
			continue
		}
		return "OutOf" + string(name), fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d",
			name, req.Value(), 0, capacity.Value()), true
	}
	return "", "", false
}
