package podspec

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
	utilsnet "k8s.io/utils/net"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/userns"
)

// cpuPeriod is the CFS period used for CPU limits, as the kubelet uses.
const cpuPeriod = 100000

// PodName names the Podman pod of a Kubernetes pod; the UID part keeps a recreated pod of the same name apart.
func PodName(pod *corev1.Pod) string {
	uid := string(pod.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, uid)
}

// ContainerName names one run (attempt) of a container in the Podman pod named podmanPod (PodName): each run is a
// container of its own, so that the previous one stays for its logs.
func ContainerName(podmanPod, container string, attempt int32) string {
	return fmt.Sprintf("%s_%s_%d", podmanPod, container, attempt)
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

// Resources translates a container's resources into its cgroup limits as the kubelet sets them: the memory
// limit, cpu.shares from the CPU request and a CFS quota from the CPU limit.
func Resources(r corev1.ResourceRequirements) podman.ContainerResources {
	var out podman.ContainerResources
	if m, ok := r.Limits[corev1.ResourceMemory]; ok && !m.IsZero() {
		out.MemoryLimit = m.Value()
	}
	out.CPUShares = cpuShares(r.Requests.Cpu().MilliValue())
	if cpu, ok := r.Limits[corev1.ResourceCPU]; ok && !cpu.IsZero() {
		out.CPUPeriod = cpuPeriod
		out.CPUQuota = max(cpu.MilliValue()*cpuPeriod/1000, minQuota)
	}
	return out
}

// minQuota is the kernel's smallest CFS quota (1 ms), which the kubelet's MilliCPUToQuota applies.
const minQuota = 1000

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

// Bounds of cpu.shares, as the kubelet's MilliCPUToShares applies them.
const (
	minShares = 2
	maxShares = 262144
)

// cpuShares converts a CPU request in millicores to cgroup cpu.shares as the kubelet does: 1024 per core, at
// least 2 (a container without a request gets the minimum, not Podman's default 1024).
func cpuShares(milli int64) uint64 {
	shares := milli * 1024 / 1000
	return uint64(min(max(shares, minShares), maxShares))
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
