package podspec

import (
	"fmt"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	utilsysctl "k8s.io/component-helpers/node/util/sysctl"
	"k8s.io/kubernetes/pkg/securitycontext"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
	utilsnet "k8s.io/utils/net"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/userns"
)

// PodInputs are what a pod's Podman pod needs beyond the pod itself, resolved by the caller.
type PodInputs struct {
	// Node is the node's name, put in the labels.
	Node string
	// Network is the Podman network the pod joins (none for a hostNetwork pod).
	Network string
	// Hostname is the sandbox's hostname (the FQDN when the pod asks for it); a hostNetwork pod has the node's.
	Hostname string
	// DNS is the pod's DNS configuration, nil for Podman's default.
	DNS *podman.DNSConfig
	// HostNetns is the node's network namespace (a path) when it is not the Podman host's: a hostNetwork pod joins
	// it (berth up's nodes, each a namespace of its own); "" for the host's.
	HostNetns string
	// PodmanHostsFile is set when Podman, not Berth, writes the containers' /etc/hosts (a node without a root
	// folder Podman shares): the pod's hostAliases then go to Podman.
	PodmanHostsFile bool
	// UserNamespace is the range of host IDs a pod with a user namespace of its own (OwnUserNamespace) holds on the
	// node (provider/userns); nil for one in the host's.
	UserNamespace *userns.Range
	// HostPortIP, when set, is the address of the hostPorts that name none: the node's, on a node that is a network
	// namespace of its own. Podman holds each published port open in its own namespace (the machine's), so a port
	// with no address would be taken on the machine's every address, and the same hostPort of a pod on another
	// node of the machine would find it taken.
	HostPortIP string
}

// ContainerInputs are what one run of a container needs beyond its pod and its spec, resolved by the caller.
type ContainerInputs struct {
	// Node is the node's name, put in the labels.
	Node string
	// Pod is the Podman pod the container joins, by ID or name; empty is PodName.
	Pod string
	// Attempt numbers the container's runs, so that a restart makes a new container and the previous one stays for
	// logs.
	Attempt int32
	// Env is the container's resolved environment; it also expands $(VAR) in command and args.
	Env []corev1.EnvVar
	// Mounts are the container's bind mounts: its volumes, then the node's files Berth mounts into it (termination
	// log, hosts file). Image volumes are not among them: Podman mounts those from their images.
	Mounts []podman.BindMount
	// PIDNamespaceOf is the container whose PID namespace this one joins (an ephemeral container's target), empty
	// for the pod's.
	PIDNamespaceOf string
	// DNS is the pod's DNS configuration: in the host's network, each container writes its own resolv.conf.
	DNS *podman.DNSConfig
	// PodmanHostsFile is set when Podman, not Berth, writes the containers' /etc/hosts: in the host's network, each
	// container then gets the pod's hostAliases.
	PodmanHostsFile bool
	// HostNetns is the node's network namespace (a path) when it is not the Podman host's: a container of a
	// hostNetwork pod joins it itself (Podman 4.3's pods cannot).
	HostNetns string
	// Seccomp is the node's seccomp configuration: where Localhost profiles are, and the profile of containers
	// that ask for none.
	Seccomp SeccompConfig
	// AppArmor says whether the Podman host enforces AppArmor: the container then runs with the profile it asks for.
	AppArmor bool
	// OCIRuntime is the OCI runtime the container runs under, the pod's RuntimeClass handler; empty for Podman's
	// default.
	OCIRuntime string
}

// Pod translates the pod-level parts of a PodSpec into a Podman pod.
func Pod(pod *corev1.Pod, in PodInputs) podman.PodSpec {
	ps := podman.PodSpec{
		Name:     PodName(pod),
		Labels:   podLabels(pod, in.Node),
		Network:  in.Network,
		Hostname: in.Hostname,
		DNS:      in.DNS,
		// The pod-level resources and the overhead bound the pod's cgroup, as the kubelet's pod cgroup.
		Resources: PodResources(pod),
	}
	if in.PodmanHostsFile {
		ps.HostAdd = hostAliases(pod)
	}
	ps.HostPID, ps.HostIPC = pod.Spec.HostPID, pod.Spec.HostIPC
	ps.SharePID = pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace
	if r := in.UserNamespace; r != nil && OwnUserNamespace(pod) {
		// The pod's user namespace, as the kubelet's sandbox config has it: container IDs 0 to 65535, UIDs and GIDs
		// alike, are the range's; the label keeps the range for a restarted berth-kubelet.
		ps.UserNamespace = &podman.IDMapping{HostID: r.FirstID, Size: userns.Length}
		ps.Labels[podman.LabelUserNamespace] = r.String()
	}
	if pod.Spec.HostNetwork {
		// The pod has the node's network and hostname; hostPorts are the container ports themselves.
		ps.HostNetwork, ps.Hostname, ps.Network = true, "", ""
		ps.HostNetns = in.HostNetns // its containers join it (ContainerInputs.HostNetns)
		return ps
	}
	ps.Ports = portMappings(pod, in.HostPortIP)
	return ps
}

// podLabels are the labels put on a pod's Podman pod and containers.
func podLabels(pod *corev1.Pod, node string) map[string]string {
	return map[string]string{
		podman.LabelManaged:   "true",
		podman.LabelNode:      node,
		podman.LabelNamespace: pod.Namespace,
		podman.LabelName:      pod.Name,
		podman.LabelUID:       string(pod.UID),
	}
}

// hostAliases lists a pod's hostAliases as Podman's host:ip entries, in the pod's order.
func hostAliases(pod *corev1.Pod) []string {
	var out []string
	for _, a := range pod.Spec.HostAliases {
		for _, h := range a.Hostnames {
			out = append(out, h+":"+a.IP)
		}
	}
	return out
}

// portMappings are the pod's published host ports, as the kubelet's sandbox config has them: those of the regular
// containers only (an init container's hostPort, sidecar or not, is never published), and within a container each
// port once by name (an unnamed port is named by its family, protocol, host IP and ports), as
// kubecontainer.MakePortMappings skips a port whose name it has already seen.
func portMappings(pod *corev1.Pod, defaultIP string) []podman.PortMapping {
	var out []podman.PortMapping
	for _, c := range pod.Spec.Containers {
		seen := map[string]bool{}
		for _, p := range c.Ports {
			name := p.Name
			if name == "" {
				family := "any"
				if p.HostIP != "" {
					family = "v4"
					if utilsnet.IsIPv6String(p.HostIP) {
						family = "v6"
					}
				}
				name = fmt.Sprintf("%s-%s-%s:%d:%d", family, p.Protocol, p.HostIP, p.ContainerPort, p.HostPort)
			}
			if seen[name] {
				continue
			}
			seen[name] = true
			if p.HostPort == 0 {
				continue
			}
			proto := string(p.Protocol)
			if proto == "" {
				proto = string(corev1.ProtocolTCP)
			}
			hostIP := p.HostIP
			if hostIP == "" {
				hostIP = defaultIP
			}
			out = append(out, podman.PortMapping{HostIP: hostIP, HostPort: uint16(p.HostPort), ContainerPort: uint16(p.ContainerPort), Protocol: proto})
		}
	}
	return out
}

// Container translates one Kubernetes container into a Podman container of the pod's Podman pod.
func Container(pod *corev1.Pod, c *corev1.Container, in ContainerInputs) podman.ContainerSpec {
	labels := podLabels(pod, in.Node)
	labels[podman.LabelContainer] = c.Name
	labels[podman.LabelAttempt] = strconv.Itoa(int(in.Attempt))
	s := podman.ContainerSpec{
		Name:           ContainerName(PodName(pod), c.Name, in.Attempt),
		Pod:            in.Pod,
		Image:          c.Image,
		Entrypoint:     expand(c.Command, in.Env),
		Command:        expand(c.Args, in.Env),
		WorkingDir:     c.WorkingDir,
		Labels:         labels,
		TTY:            c.TTY,
		Stdin:          c.Stdin,
		Env:            map[string]string{},
		Mounts:         in.Mounts,
		ImageMounts:    imageMounts(pod, c),
		PIDNamespaceOf: in.PIDNamespaceOf,
		OCIRuntime:     in.OCIRuntime,
	}
	if s.Pod == "" {
		s.Pod = PodName(pod)
	}
	for _, e := range in.Env {
		s.Env[e.Name] = e.Value
	}
	if c.Lifecycle != nil && c.Lifecycle.StopSignal != nil {
		// lifecycle.stopSignal (ContainerStopSignals): Podman sends it on stop instead of the image's.
		s.StopSignal = string(*c.Lifecycle.StopSignal)
	}
	s.ContainerResources = Resources(c.Resources)
	s.User = user(pod.Spec.SecurityContext, c.SecurityContext)
	applySecurityContext(&s, pod, c)
	s.Seccomp = seccompProfile(pod, c, in.Seccomp)
	if in.AppArmor {
		s.AppArmor = appArmorProfile(pod, c)
	}
	s.HostIPC = pod.Spec.HostIPC
	// The kubelet gives the sandbox the pod's sysctls; every container of the Podman pod sets them in the
	// namespaces it shares with the others.
	s.Sysctls = podSysctls(pod)
	if pod.Spec.HostNetwork {
		// In the host's network, a container of a Podman pod writes its own resolv.conf and hosts file.
		s.DNS = in.DNS
		s.Netns = in.HostNetns
		if in.PodmanHostsFile {
			s.HostAdd = hostAliases(pod)
		}
	}
	return s
}

// expand replaces $(VAR) references in a command or its arguments with the container's environment, as the
// kubelet does; $$ escapes, and unknown references stay as written.
func expand(in []string, env []corev1.EnvVar) []string {
	if in == nil {
		return nil
	}
	vars := make(map[string]string, len(env))
	for _, e := range env {
		vars[e.Name] = e.Value
	}
	mapping := expansion.MappingFuncFor(vars)
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expansion.Expand(s, mapping)
	}
	return out
}

// Image volumes (spec.volumes[].image) mount the content of an OCI image read-only into the containers that name
// them, as the kubelet does through its runtime: the image is pulled with the volume's pullPolicy before the
// container is created (a failed pull is the container's ErrImagePull, as with its own image), and Podman mounts
// the image's root filesystem. Nothing of them lives on the host's pod folder.

// MountedImageVolumes lists the image volumes a container mounts, in the order of its volumeMounts, each once: the
// images to pull before the container is created.
func MountedImageVolumes(pod *corev1.Pod, c *corev1.Container) []*corev1.ImageVolumeSource {
	var out []*corev1.ImageVolumeSource
	seen := map[string]bool{}
	for _, m := range c.VolumeMounts {
		v := podVolume(pod, m.Name)
		if v == nil || v.Image == nil || seen[m.Name] {
			continue
		}
		seen[m.Name] = true
		out = append(out, v.Image)
	}
	return out
}

// imageMounts are the Podman image mounts of a container's image volumes: always read-only, as the kubelet mounts
// them.
func imageMounts(pod *corev1.Pod, c *corev1.Container) []podman.ImageMount {
	var out []podman.ImageMount
	for _, m := range c.VolumeMounts {
		if v := podVolume(pod, m.Name); v != nil && v.Image != nil {
			out = append(out, podman.ImageMount{Image: v.Image.Reference, Dest: m.MountPath})
		}
	}
	return out
}

// user merges runAsUser and runAsGroup field by field: the container's if set, else the pod's.
func user(psc *corev1.PodSecurityContext, csc *corev1.SecurityContext) string {
	var uid, gid *int64
	if psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
	}
	if csc != nil {
		if csc.RunAsUser != nil {
			uid = csc.RunAsUser
		}
		if csc.RunAsGroup != nil {
			gid = csc.RunAsGroup
		}
	}
	switch {
	case uid == nil:
		// Podman cannot set a group without a user: the group then goes with the image's user, root.
		if gid != nil {
			return fmt.Sprintf("0:%d", *gid)
		}
		return ""
	case gid == nil:
		return fmt.Sprint(*uid)
	default:
		return fmt.Sprintf("%d:%d", *uid, *gid)
	}
}

// applySecurityContext puts a container's effective security context (and the pod's supplemental groups and
// fsGroup) into its Podman spec, as the kubelet passes them to the runtime. runAsUser and runAsGroup are user().
func applySecurityContext(s *podman.ContainerSpec, pod *corev1.Pod, c *corev1.Container) {
	if psc := pod.Spec.SecurityContext; psc != nil {
		// The kubelet gives the container's user fsGroup, then the supplemental groups, as additional groups.
		if psc.FSGroup != nil {
			s.Groups = append(s.Groups, strconv.FormatInt(*psc.FSGroup, 10))
		}
		for _, g := range psc.SupplementalGroups {
			s.Groups = append(s.Groups, strconv.FormatInt(g, 10))
		}
	}
	sc := securitycontext.DetermineEffectiveSecurityContext(pod, c)
	if sc == nil {
		return
	}
	s.Privileged = sc.Privileged != nil && *sc.Privileged
	s.ReadOnlyRootfs = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	s.NoNewPrivileges = securitycontext.AddNoNewPrivileges(sc)
	// Unmasked: no masked or read-only /proc paths, as the kubelet asks of the runtime (the API allows it only in a
	// pod with a user namespace of its own).
	s.UnmaskedProc = sc.ProcMount != nil && *sc.ProcMount == corev1.UnmaskedProcMount
	if sc.Capabilities != nil && !s.Privileged {
		s.CapAdd, s.CapDrop = capabilities(sc.Capabilities)
	}
}

// SeccompConfig is a node's seccomp configuration, as the kubelet's.
type SeccompConfig struct {
	// ProfileRoot is the folder of Localhost profiles on the Podman host (the kubelet's <root-dir>/seccomp).
	ProfileRoot string
	// DefaultRuntimeDefault gives containers that ask for no profile the runtime's default one (the kubelet's
	// --seccomp-default); otherwise they run unconfined, as under a kubelet without it.
	DefaultRuntimeDefault bool
}

// seccompProfile is the seccomp profile a container runs with (podman.ContainerSpec.Seccomp), chosen as the
// kubelet's getSeccompProfile chooses it: the container's own, else the pod's, else the node's default.
// RuntimeDefault is Podman's default profile; Localhost a profile under the node's profile root (the API allows
// only a relative path without ".." there). A privileged container asking for none runs unconfined whatever the
// default, as Podman runs privileged containers.
func seccompProfile(pod *corev1.Pod, c *corev1.Container, cfg SeccompConfig) string {
	var p *corev1.SeccompProfile
	if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		p = sc.SeccompProfile
	} else if psc := pod.Spec.SecurityContext; psc != nil && psc.SeccompProfile != nil {
		p = psc.SeccompProfile
	}
	switch {
	case p == nil && cfg.DefaultRuntimeDefault && !isPrivileged(c):
		return ""
	case p == nil:
		return podman.SeccompUnconfined
	case p.Type == corev1.SeccompProfileTypeRuntimeDefault:
		return ""
	case p.Type == corev1.SeccompProfileTypeLocalhost && p.LocalhostProfile != nil:
		return filepath.Join(cfg.ProfileRoot, *p.LocalhostProfile)
	default:
		return podman.SeccompUnconfined
	}
}

// appArmorProfile is the AppArmor profile a container runs with on a host that has AppArmor
// (podman.ContainerSpec.AppArmor), chosen as the kubelet's getAppArmorProfile chooses it: the container's own, else
// the pod's. RuntimeDefault, or none, is Podman's default profile (which a privileged container runs without, as
// under containerd); Unconfined is none; Localhost is the profile of that name loaded on the host, which the
// runtime fails the container without.
func appArmorProfile(pod *corev1.Pod, c *corev1.Container) string {
	var p *corev1.AppArmorProfile
	if sc := c.SecurityContext; sc != nil && sc.AppArmorProfile != nil {
		p = sc.AppArmorProfile
	} else if psc := pod.Spec.SecurityContext; psc != nil && psc.AppArmorProfile != nil {
		p = psc.AppArmorProfile
	}
	switch {
	case p == nil || p.Type == corev1.AppArmorProfileTypeRuntimeDefault:
		return ""
	case p.Type == corev1.AppArmorProfileTypeLocalhost && p.LocalhostProfile != nil:
		return *p.LocalhostProfile
	default:
		return podman.AppArmorUnconfined
	}
}

// podSysctls is a pod's spec.securityContext.sysctls as the runtime takes them: names with '.' separators (the
// kubelet's ConvertPodSysctlsVariableToDotsSeparator), nil for none.
func podSysctls(pod *corev1.Pod) map[string]string {
	sc := pod.Spec.SecurityContext
	if sc == nil || len(sc.Sysctls) == 0 {
		return nil
	}
	out := make(map[string]string, len(sc.Sysctls))
	for _, s := range sc.Sysctls {
		out[utilsysctl.NormalizeName(s.Name)] = s.Value
	}
	return out
}
