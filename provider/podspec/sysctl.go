package podspec

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/version"
	utilsysctl "k8s.io/component-helpers/node/util/sysctl"
	"k8s.io/klog/v2"
	utilkernel "k8s.io/kubernetes/pkg/util/kernel"
)

// SysctlForbiddenReason is the kubelet's reason for a pod rejected for its sysctls.
const SysctlForbiddenReason = "SysctlForbidden"

// safeSysctls are the kubelet's safe sysctls (pkg/kubelet/sysctl): namespaced and isolated from other pods, so
// allowed on every node. Some became namespaced in a given kernel version; on an older kernel they are not safe.
var safeSysctls = []struct{ name, kernel string }{
	{name: "kernel.shm_rmid_forced"},
	{name: "net.ipv4.ip_local_port_range"},
	{name: "net.ipv4.tcp_syncookies"},
	{name: "net.ipv4.ping_group_range"},
	{name: "net.ipv4.ip_unprivileged_port_start"},
	{name: "net.ipv4.ip_local_reserved_ports", kernel: utilkernel.IPLocalReservedPortsNamespacedKernelVersion},
	{name: "net.ipv4.tcp_keepalive_time", kernel: utilkernel.TCPKeepAliveTimeNamespacedKernelVersion},
	{name: "net.ipv4.tcp_fin_timeout", kernel: utilkernel.TCPFinTimeoutNamespacedKernelVersion},
	{name: "net.ipv4.tcp_keepalive_intvl", kernel: utilkernel.TCPKeepAliveIntervalNamespacedKernelVersion},
	{name: "net.ipv4.tcp_keepalive_probes", kernel: utilkernel.TCPKeepAliveProbesNamespacedKernelVersion},
	{name: "net.ipv4.tcp_rmem", kernel: utilkernel.TCPReceiveMemoryNamespacedKernelVersion},
	{name: "net.ipv4.tcp_wmem", kernel: utilkernel.TCPTransmitMemoryNamespacedKernelVersion},
	{name: "net.ipv4.tcp_slow_start_after_idle", kernel: utilkernel.TCPSlowStartAfterIdleNamespacedKernelVersion},
	{name: "net.ipv4.tcp_notsent_lowat", kernel: utilkernel.TCPNotSentLowatNamespacedKernelVersion},
}

// SafeSysctls lists the kubelet's safe sysctls for a host running kernel (its release, such as 6.1.0-18-amd64:
// the Podman host's, which runs the containers). Those namespaced only in a later kernel than it, or in any
// kernel when the release cannot be read, are left out, as the kubelet leaves them out.
func SafeSysctls(ctx context.Context, kernel string) []string {
	logger := klog.FromContext(ctx)
	v, err := version.ParseGeneric(strings.TrimSpace(kernel))
	if err != nil {
		logger.Error(err, "Failed to get kernel version, unable to determine which sysctls are available")
		v = nil
	}
	var out []string
	for _, s := range safeSysctls {
		if s.kernel == "" || (v != nil && v.AtLeast(version.MustParseGeneric(s.kernel))) {
			out = append(out, s.name)
			continue
		}
		logger.Info("Kernel version is too old, dropping the sysctl from safe sysctl list", "kernelVersion", kernel, "sysctl", s.name)
	}
	return out
}

// Sysctl patterns as the kubelet validates --allowed-unsafe-sysctls (pkg/apis/policy/validation
// IsValidSysctlPattern): segments separated by '.' or '/', the last possibly ending in '*'.
const (
	sysctlMaxLength     = 253
	sysctlSegmentFmt    = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
	sysctlPatternSegFmt = "([a-z0-9][-_a-z0-9]*)?[a-z0-9*]"
	sysctlPatternFmt    = "(" + sysctlSegmentFmt + "[\\./])*" + sysctlPatternSegFmt
)

var sysctlPatternRegexp = regexp.MustCompile("^" + sysctlPatternFmt + "$")

// validSysctlPattern tells whether s is a sysctl or a pattern of sysctls (ending in '*').
func validSysctlPattern(s string) bool {
	return len(s) <= sysctlMaxLength && sysctlPatternRegexp.MatchString(s)
}

// SysctlAllowlist is the kubelet's sysctl admission (pkg/kubelet/sysctl): the sysctls and sysctl prefixes a pod
// may set, each with the kernel namespace it belongs to.
type SysctlAllowlist struct {
	sysctls  map[string]utilsysctl.Namespace
	prefixes map[string]utilsysctl.Namespace
}

// NewSysctlAllowlist builds an allowlist of sysctls and patterns ending in '*' (the safe ones, then those of
// --allowed-unsafe-sysctls), refusing, as the kubelet does at start, a malformed one or one not known to be
// namespaced.
func NewSysctlAllowlist(patterns []string) (*SysctlAllowlist, error) {
	w := &SysctlAllowlist{sysctls: map[string]utilsysctl.Namespace{}, prefixes: map[string]utilsysctl.Namespace{}}
	for _, s := range patterns {
		if !validSysctlPattern(s) {
			return nil, fmt.Errorf("sysctl %q must have at most %d characters and match regex %s", s, sysctlMaxLength, sysctlPatternFmt)
		}
		ns, sysctlOrPrefix, prefixed := utilsysctl.GetNamespace(s)
		if ns == utilsysctl.UnknownNamespace {
			return nil, fmt.Errorf("the sysctls %q are not known to be namespaced", sysctlOrPrefix)
		}
		if prefixed {
			w.prefixes[sysctlOrPrefix] = ns
		} else {
			w.sysctls[sysctlOrPrefix] = ns
		}
	}
	return w, nil
}

// validate checks one sysctl as the kubelet does: allowlisted, and not in a namespace the pod shares with the host.
func (w *SysctlAllowlist) validate(sysctl string, hostNet, hostIPC, hostUsers bool) error {
	sysctl = utilsysctl.NormalizeName(sysctl)
	shared := func(ns utilsysctl.Namespace) error {
		if (ns == utilsysctl.IPCNamespace && hostIPC) || (ns == utilsysctl.NetNamespace && hostNet) || (ns == utilsysctl.UserNamespace && hostUsers) {
			return fmt.Errorf("%q not allowed with host %s enabled", sysctl, ns)
		}
		return nil
	}
	if ns, ok := w.sysctls[sysctl]; ok {
		return shared(ns)
	}
	for p, ns := range w.prefixes {
		if strings.HasPrefix(sysctl, p) {
			return shared(ns)
		}
	}
	return fmt.Errorf("%q not allowlisted", sysctl)
}

// admit is the kubelet's sysctl admission of a pod: "" when every sysctl of spec.securityContext.sysctls is
// allowed, else the rejection message (reason SysctlForbiddenReason). A nil allowlist holds the safe sysctls every
// kernel namespaces.
func (w *SysctlAllowlist) admit(pod *corev1.Pod) string {
	sc := pod.Spec.SecurityContext
	if sc == nil || len(sc.Sysctls) == 0 {
		return ""
	}
	if w == nil {
		w = defaultSysctlAllowlist
	}
	hostUsers := pod.Spec.HostUsers == nil || *pod.Spec.HostUsers
	for _, s := range sc.Sysctls {
		if err := w.validate(s.Name, pod.Spec.HostNetwork, pod.Spec.HostIPC, hostUsers); err != nil {
			return fmt.Sprintf("forbidden sysctl: %v", err)
		}
	}
	return ""
}

// defaultSysctlAllowlist holds the safe sysctls of any kernel.
var defaultSysctlAllowlist = func() *SysctlAllowlist {
	var names []string
	for _, s := range safeSysctls {
		if s.kernel == "" {
			names = append(names, s.name)
		}
	}
	w, err := NewSysctlAllowlist(names)
	if err != nil {
		panic(err) // the fixed list above is valid
	}
	return w
}()
