package provider

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"

	"github.com/berth-dev/berth/provider/podman"
)

// cpuPeriod is the CFS period used for CPU limits, as the kubelet uses.
const cpuPeriod = 100000

// podmanPodName names the Podman pod of a Kubernetes pod; the UID part keeps a recreated pod of the same name apart.
func podmanPodName(pod *corev1.Pod) string {
	uid := string(pod.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, uid)
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

// podSpec translates the pod-level parts of a PodSpec into a Podman pod.
func podSpec(pod *corev1.Pod, node, network string) podman.PodSpec {
	ps := podman.PodSpec{
		Name:    podmanPodName(pod),
		Labels:  podLabels(pod, node),
		Network: network,
	}
	// The short hostname; the sandbox's may be the FQDN (sandboxHostname). The apiserver validated the names, so
	// an error here leaves Podman's default.
	ps.Hostname, _, _ = podHostnameAndDomain(pod, "")
	ps.HostAdd = hostAliases(pod)
	ps.HostPID, ps.HostIPC = pod.Spec.HostPID, pod.Spec.HostIPC
	ps.SharePID = pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace
	if pod.Spec.HostNetwork {
		// The pod has the node's network and hostname; hostPorts are the container ports themselves.
		ps.HostNetwork, ps.Hostname, ps.Network = true, "", ""
		return ps
	}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := string(p.Protocol)
			if proto == "" {
				proto = string(corev1.ProtocolTCP)
			}
			ps.Ports = append(ps.Ports, podman.PortMapping{HostIP: p.HostIP, HostPort: uint16(p.HostPort), ContainerPort: uint16(p.ContainerPort), Protocol: proto})
		}
	}
	return ps
}

// containerSpec translates one Kubernetes container into a Podman container of the pod's Podman pod.
// attempt numbers the container's runs, so that a restart makes a new container and the previous one stays for logs.
// env is the container's resolved environment (see environment); it also expands $(VAR) in command and args.
func containerSpec(pod *corev1.Pod, c *corev1.Container, env []corev1.EnvVar, node string, attempt int32) podman.ContainerSpec {
	labels := podLabels(pod, node)
	labels[podman.LabelContainer] = c.Name
	labels[podman.LabelAttempt] = strconv.Itoa(int(attempt))
	s := podman.ContainerSpec{
		Name:       fmt.Sprintf("%s_%s_%d", podmanPodName(pod), c.Name, attempt),
		Pod:        podmanPodName(pod),
		Image:      c.Image,
		Entrypoint: expand(c.Command, env),
		Command:    expand(c.Args, env),
		WorkingDir: c.WorkingDir,
		Labels:     labels,
		TTY:        c.TTY,
		Stdin:      c.Stdin,
		Env:        map[string]string{},
	}
	for _, e := range env {
		s.Env[e.Name] = e.Value
	}
	s.ContainerResources = containerResources(c.Resources)
	s.User = user(pod.Spec.SecurityContext, c.SecurityContext)
	applySecurityContext(&s, pod, c)
	s.HostIPC = pod.Spec.HostIPC
	// The kubelet gives the sandbox the pod's sysctls; every container of the Podman pod sets them in the
	// namespaces it shares with the others.
	s.Sysctls = podSysctls(pod)
	return s
}

// containerResources translates a container's resources into its cgroup limits as the kubelet sets them: the
// memory limit, cpu.shares from the CPU request and a CFS quota from the CPU limit.
func containerResources(r corev1.ResourceRequirements) podman.ContainerResources {
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

// unsupported lists the parts of a pod that Berth cannot run faithfully yet. A non-empty list fails the pod with
// reason UnsupportedPodSpec rather than running something other than what was asked.
func unsupported(pod *corev1.Pod) []string {
	var out []string
	sp := pod.Spec
	// Devices through dynamic resource allocation: Berth has no DRA driver to prepare them.
	if len(sp.ResourceClaims) > 0 {
		out = append(out, "spec.resourceClaims")
	}
	// Volumes themselves are checked by volumeProblems.
	if sc := sp.SecurityContext; sc != nil && sc.SupplementalGroupsPolicy != nil && *sc.SupplementalGroupsPolicy != corev1.SupplementalGroupsPolicyMerge {
		out = append(out, "spec.securityContext.supplementalGroupsPolicy")
	}
	check := func(path string, c *corev1.Container) {
		if len(c.VolumeDevices) > 0 {
			out = append(out, path+".volumeDevices")
		}
		if len(c.Resources.Claims) > 0 {
			out = append(out, path+".resources.claims")
		}
	}
	for i := range sp.InitContainers {
		check(fmt.Sprintf("spec.initContainers[%s]", sp.InitContainers[i].Name), &sp.InitContainers[i])
	}
	for i := range sp.Containers {
		check(fmt.Sprintf("spec.containers[%s]", sp.Containers[i].Name), &sp.Containers[i])
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
