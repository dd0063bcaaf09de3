package podspec

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/kubernetes/pkg/securitycontext"

	"github.com/berth-dev/berth/provider/podman"
)

// FormatPod names a pod in messages as the kubelet's format.Pod does: name_namespace(uid).
func FormatPod(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// imageUID reads an image's configured user (user, uid, user:group or uid:gid) as the container runtimes report it
// to the kubelet: a numeric user is a uid, another one a username, none is root.
func imageUID(imageUser string) (uid *int64, username string) {
	u, _, _ := strings.Cut(imageUser, ":")
	if u == "" {
		return new(int64), ""
	}
	if n, err := strconv.ParseInt(u, 10, 64); err == nil {
		return &n, ""
	}
	return nil, u
}

// VerifyRunAsNonRoot checks runAsNonRoot against the user the container will run as, as the kubelet does before
// creating a container: the effective runAsUser if set, else the image's user (imageUser, as the image's config
// says it; see NeedsImageUser).
func VerifyRunAsNonRoot(pod *corev1.Pod, c *corev1.Container, imageUser string) error {
	sc := securitycontext.DetermineEffectiveSecurityContext(pod, c)
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		return nil
	}
	if sc.RunAsUser != nil {
		if *sc.RunAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", FormatPod(pod), c.Name)
		}
		return nil
	}
	uid, username := imageUID(imageUser)
	switch {
	case uid == nil:
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", username, FormatPod(pod), c.Name)
	case *uid == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", FormatPod(pod), c.Name)
	default:
		if errs := validation.IsValidUserID(*uid); len(errs) > 0 {
			return fmt.Errorf("container has runAsNonRoot and image has an invalid user id (%d). (Must be 1-(%d)): %s (pod: %q, container: %s)",
				*uid, math.MaxInt32, strings.Join(errs, "; "), FormatPod(pod), c.Name)
		}
		return nil
	}
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

// NeedsImageUser tells whether verifying runAsNonRoot (VerifyRunAsNonRoot) needs the image's user.
func NeedsImageUser(pod *corev1.Pod, c *corev1.Container) bool {
	sc := securitycontext.DetermineEffectiveSecurityContext(pod, c)
	return sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot && sc.RunAsUser == nil
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

// capName is the Linux name of a Kubernetes capability: NET_ADMIN and CAP_NET_ADMIN are CAP_NET_ADMIN; ALL stays.
func capName(c corev1.Capability) string {
	n := strings.ToUpper(string(c))
	if n == "ALL" || strings.HasPrefix(n, "CAP_") {
		return n
	}
	return "CAP_" + n
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

// privilegedRefusal says why a node that does not allow privileged containers refuses the ones listed.
func privilegedRefusal(priv []string) string {
	return "privileged containers are not allowed on this node (berth-kubelet --allow-privileged=false): " + strings.Join(priv, ", ")
}

// capabilityRefusal says why a node allowing only the given capabilities refuses the ones listed
// (forbiddenCapabilities).
func capabilityRefusal(allowed, caps []string) string {
	return fmt.Sprintf("capabilities beyond the container runtime's default set are not allowed on this node (berth-kubelet --allowed-capabilities=%s): %s",
		strings.Join(allowed, ","), strings.Join(caps, "; "))
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
