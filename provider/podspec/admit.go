package podspec

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"

	"github.com/berth-dev/berth/provider/userns"
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

// The kubelet's reasons for rejecting a pod that Admit also uses.
const (
	// PodOSNotSupportedReason is a pod whose spec.os is not the node's (Linux).
	PodOSNotSupportedReason = "PodOSNotSupported"
	// AppArmorReason is a pod asking for an AppArmor profile on a host without AppArmor.
	AppArmorReason = "AppArmor"
)

// appArmorMissing is the kubelet's message for a pod asking for AppArmor on a host without it.
const appArmorMissing = "Cannot enforce AppArmor: AppArmor is not enabled on the host"

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

// rejected is a pod the kubelet's admission would reject, as its rejectPod records it: an event with the reason
// saying why, and the status message "Pod was rejected: <why>".
func rejected(reason, msg string) *Rejection {
	return &Rejection{Reason: reason, Message: "Pod was rejected: " + msg, EventReason: reason, EventMessage: msg}
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

// refused is a pod Berth will not run: the event says why, and the pod's status says the same.
func refused(event, reason, msg string) *Rejection {
	return &Rejection{Reason: reason, Message: msg, EventReason: event, EventMessage: msg}
}

// privilegedContainers lists the containers that ask to run privileged.
func privilegedContainers(pod *corev1.Pod) []string {
	var out []string
	visit := func(path string, cs []corev1.Container) {
		for i := range cs {
			if c := &cs[i]; isPrivileged(c) {
				out = append(out, fmt.Sprintf("%s[%s].securityContext.privileged", path, c.Name))
			}
		}
	}
	visit("spec.initContainers", pod.Spec.InitContainers)
	visit("spec.containers", pod.Spec.Containers)
	return out
}

// isPrivileged tells whether a container asks to run privileged.
func isPrivileged(c *corev1.Container) bool {
	return c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
}

// privilegedRefusal says why a node that does not allow privileged containers refuses the ones listed.
func privilegedRefusal(priv []string) string {
	return "privileged containers are not allowed on this node (berth-kubelet --allow-privileged=false): " + strings.Join(priv, ", ")
}

// hostNamespaces lists the host namespaces a pod asks for (hostPID, hostIPC), which let its containers see and
// signal the host's processes or use its shared memory.
func hostNamespaces(pod *corev1.Pod) []string {
	var out []string
	if pod.Spec.HostPID {
		out = append(out, "spec.hostPID")
	}
	if pod.Spec.HostIPC {
		out = append(out, "spec.hostIPC")
	}
	return out
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

// OwnUserNamespace tells whether a pod asks for a user namespace of its own (spec.hostUsers: false): the default
// is the host's.
func OwnUserNamespace(pod *corev1.Pod) bool {
	return pod.Spec.HostUsers != nil && !*pod.Spec.HostUsers
}

// runtimeDefaultCapabilities are the capabilities a container of Berth's Podman has without asking: Podman 4.3's
// built-in default set (containers/common DefaultCapabilities; Berth's containers.conf keeps it), which is Docker's
// less AUDIT_WRITE, MKNOD and NET_RAW. Adding one of them changes nothing.
var runtimeDefaultCapabilities = map[string]bool{
	"CAP_CHOWN": true, "CAP_DAC_OVERRIDE": true, "CAP_FOWNER": true, "CAP_FSETID": true, "CAP_KILL": true,
	"CAP_NET_BIND_SERVICE": true, "CAP_SETFCAP": true, "CAP_SETGID": true, "CAP_SETPCAP": true, "CAP_SETUID": true,
	"CAP_SYS_CHROOT": true,
}

// AllCapabilities, as an allowed capability (berth-kubelet --allowed-capabilities=*), lets containers add any.
const AllCapabilities = "*"

// forbiddenCapabilities lists the containers that add capabilities beyond the runtime's default set which the node
// does not allow (allowed holds Kubernetes or Linux names, ALL, or AllCapabilities), with those capabilities.
// A capability also dropped is not added; privileged containers are the privileged gate's concern.
func forbiddenCapabilities(pod *corev1.Pod, allowed []string) []string {
	allow := map[string]bool{}
	for _, a := range allowed {
		if a == AllCapabilities {
			return nil
		}
		allow[capName(corev1.Capability(a))] = true
	}
	var out []string
	visit := func(path string, cs []corev1.Container) {
		for _, c := range cs {
			sc := c.SecurityContext
			if sc == nil || sc.Capabilities == nil || (sc.Privileged != nil && *sc.Privileged) {
				continue
			}
			add, _ := capabilities(sc.Capabilities)
			var bad []string
			seen := map[string]bool{}
			for _, n := range add {
				if runtimeDefaultCapabilities[n] || allow[n] || seen[n] {
					continue
				}
				seen[n] = true
				bad = append(bad, strings.TrimPrefix(n, "CAP_"))
			}
			if len(bad) > 0 {
				out = append(out, fmt.Sprintf("%s[%s].securityContext.capabilities.add: %s", path, c.Name, strings.Join(bad, ", ")))
			}
		}
	}
	visit("spec.initContainers", pod.Spec.InitContainers)
	visit("spec.containers", pod.Spec.Containers)
	return out
}

// capName is the Linux name of a Kubernetes capability: NET_ADMIN and CAP_NET_ADMIN are CAP_NET_ADMIN; ALL stays.
func capName(c corev1.Capability) string {
	n := strings.ToUpper(string(c))
	if n == "ALL" || strings.HasPrefix(n, "CAP_") {
		return n
	}
	return "CAP_" + n
}

// capabilities translates Kubernetes capability names (NET_ADMIN, ALL) into Podman's (CAP_NET_ADMIN, ALL), with
// the runtimes' precedence: ALL added, then ALL dropped, then each added one, then each dropped one.
func capabilities(caps *corev1.Capabilities) (add, drop []string) {
	dropped := map[string]bool{}
	for _, c := range caps.Drop {
		dropped[capName(c)] = true
	}
	for _, c := range caps.Add {
		n := capName(c)
		// A capability both added and dropped ends dropped; so does ALL when ALL is dropped too.
		if !dropped[n] {
			add = append(add, n)
		}
	}
	for _, c := range caps.Drop {
		drop = append(drop, capName(c))
	}
	return add, drop
}

// capabilityRefusal says why a node allowing only the given capabilities refuses the ones listed
// (forbiddenCapabilities).
func capabilityRefusal(allowed, caps []string) string {
	return fmt.Sprintf("capabilities beyond the container runtime's default set are not allowed on this node (berth-kubelet --allowed-capabilities=%s): %s",
		strings.Join(allowed, ","), strings.Join(caps, "; "))
}

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

// volumeProblems lists the volumes Berth refuses outright, with why: kinds it does not support and hostPaths
// outside what the node allows. A non-empty list fails the pod (CreateContainerConfigError) rather than run it
// with a volume missing. persistentVolumeClaim and generic ephemeral volumes pass: what decides is the
// PersistentVolume their claim is bound to, which only the volume manager, reading the API when it mounts them,
// knows (PersistentVolumeProblem).
func volumeProblems(pod *corev1.Pod, allowedHostPaths []string, resolve func(string) string) []string {
	var out []string
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.HostPath != nil:
			if !hostPathAllowed(v.HostPath.Path, allowedHostPaths, resolve) {
				out = append(out, fmt.Sprintf("spec.volumes[%s]: hostPath %q is not under a path this node allows (%s)", v.Name, v.HostPath.Path, allowedList(allowedHostPaths)))
			}
		case v.EmptyDir != nil:
			if v.EmptyDir.Medium != corev1.StorageMediumDefault && v.EmptyDir.Medium != corev1.StorageMediumMemory {
				out = append(out, fmt.Sprintf("spec.volumes[%s]: emptyDir medium %q is not supported", v.Name, v.EmptyDir.Medium))
			}
			if m := v.EmptyDir.Mode; m != nil && *m != emptyDirMode {
				out = append(out, fmt.Sprintf("spec.volumes[%s]: emptyDir mode %04o is not supported (Berth makes emptyDirs %04o)", v.Name, *m, emptyDirMode))
			}
		case v.ConfigMap != nil, v.Secret != nil, v.DownwardAPI != nil, v.Image != nil:
			if fileOwners(v) {
				out = append(out, fmt.Sprintf("spec.volumes[%s]: file owners (defaultUser, items[].user) are not supported", v.Name))
			}
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ClusterTrustBundle != nil {
					out = append(out, fmt.Sprintf("spec.volumes[%s]: projected clusterTrustBundle sources are not supported", v.Name))
				}
				if s.PodCertificate != nil {
					out = append(out, fmt.Sprintf("spec.volumes[%s]: projected podCertificate sources are not supported", v.Name))
				}
			}
			if fileOwners(v) {
				out = append(out, fmt.Sprintf("spec.volumes[%s]: file owners (defaultUser, items[].user, serviceAccountToken.user) are not supported", v.Name))
			}
		case v.PersistentVolumeClaim != nil, v.Ephemeral != nil:
			// Decided at mount time, from the claim's PersistentVolume (PersistentVolumeProblem).
		default:
			out = append(out, fmt.Sprintf("spec.volumes[%s]: this volume type is not supported", v.Name))
		}
	}
	out = append(out, userNamespaceVolumeProblems(pod)...)
	return append(out, imageVolumeProblems(pod)...)
}

// hostPathAllowed tells whether path lies under one of the allowed prefixes (after cleaning, so ".." cannot climb
// out, and after resolving, with resolve, symbolic links of the part that exists).
func hostPathAllowed(path string, allowed []string, resolve func(string) string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	path = resolve(filepath.Clean(path))
	for _, a := range allowed {
		a = resolve(filepath.Clean(a))
		if Within(a, path) {
			return true
		}
	}
	return false
}

// Within tells whether path is base or below it.
func Within(base, path string) bool {
	rel, err := filepath.Rel(base, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// allowedList names the host folders a node allows, for a refusal's message.
func allowedList(allowed []string) string {
	if len(allowed) == 0 {
		return "none: berth-kubelet --allowed-host-paths is empty"
	}
	return "allowed: " + strings.Join(allowed, ", ")
}

// fileOwners tells whether a configMap, secret, downwardAPI or projected volume asks for the owner of its files
// (defaultUser, an item's user): Berth writes them as the node's user.
func fileOwners(v *corev1.Volume) bool {
	keys := func(items []corev1.KeyToPath) bool {
		return slices.ContainsFunc(items, func(it corev1.KeyToPath) bool { return it.User != nil })
	}
	fields := func(items []corev1.DownwardAPIVolumeFile) bool {
		return slices.ContainsFunc(items, func(it corev1.DownwardAPIVolumeFile) bool { return it.User != nil })
	}
	switch {
	case v.ConfigMap != nil:
		return v.ConfigMap.DefaultUser != nil || keys(v.ConfigMap.Items)
	case v.Secret != nil:
		return v.Secret.DefaultUser != nil || keys(v.Secret.Items)
	case v.DownwardAPI != nil:
		return v.DownwardAPI.DefaultUser != nil || fields(v.DownwardAPI.Items)
	case v.Projected != nil:
		if v.Projected.DefaultUser != nil {
			return true
		}
		for _, s := range v.Projected.Sources {
			switch {
			case s.ConfigMap != nil && keys(s.ConfigMap.Items), s.Secret != nil && keys(s.Secret.Items),
				s.DownwardAPI != nil && fields(s.DownwardAPI.Items), s.ServiceAccountToken != nil && s.ServiceAccountToken.User != nil:
				return true
			}
		}
	}
	return false
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

// imageVolumeProblems lists the mounts of image volumes Berth cannot honour: Podman mounts an image whole, so a
// subPath (or subPathExpr) into one is refused rather than mounted as the whole image.
func imageVolumeProblems(pod *corev1.Pod) []string {
	var out []string
	check := func(kind string, c *corev1.Container) {
		for _, m := range c.VolumeMounts {
			v := podVolume(pod, m.Name)
			if v == nil || v.Image == nil || (m.SubPath == "" && m.SubPathExpr == "") {
				continue
			}
			out = append(out, fmt.Sprintf("spec.%s[%s].volumeMounts[%s]: subPath into an image volume is not supported (Podman mounts the image whole)", kind, c.Name, m.Name))
		}
	}
	for i := range pod.Spec.InitContainers {
		check("initContainers", &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		check("containers", &pod.Spec.Containers[i])
	}
	return out
}

// podVolume finds a pod's volume by name.
func podVolume(pod *corev1.Pod, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

// resolver is the policy's ResolvePath, or the node's filesystem.
func (p Policy) resolver() func(string) string {
	if p.ResolvePath != nil {
		return p.ResolvePath
	}
	return resolveExisting
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

// ValidCapability tells whether s can name a capability for --allowed-capabilities: AllCapabilities, ALL, or a
// name such as NET_ADMIN or CAP_NET_ADMIN (any case).
func ValidCapability(s string) bool {
	if s == AllCapabilities {
		return true
	}
	n := capName(corev1.Capability(s))
	if n == "ALL" {
		return true
	}
	rest := strings.TrimPrefix(n, "CAP_")
	if rest == "" {
		return false
	}
	for _, r := range rest {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}
