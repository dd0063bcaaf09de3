package podspec

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/storage/ephemeral"

	"github.com/berth-dev/berth/internal/persistentvolume"
)

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

// PersistentVolumeProblem says why the node refuses to mount the PersistentVolume that the claim of a pod's
// persistentVolumeClaim or generic ephemeral volume v is bound to, "" if it does not. Berth mounts what a kubelet
// without CSI drivers or other volume plugins mounts itself: hostPath PersistentVolumes (under the folders the node
// allows hostPath volumes, as for a hostPath volume) and local ones, of volumeMode Filesystem. Any other source
// (nfs, csi, ...) needs a volume plugin Berth does not have; the PersistentVolume's source does not change once
// bound, so the pod fails rather than wait.
func PersistentVolumeProblem(pod *corev1.Pod, v *corev1.Volume, pv *corev1.PersistentVolume, policy Policy) string {
	claim := ""
	switch {
	case v.PersistentVolumeClaim != nil:
		claim = "claim " + v.PersistentVolumeClaim.ClaimName
	case v.Ephemeral != nil:
		claim = "ephemeral claim " + ephemeral.VolumeClaimName(pod, v)
	default:
		return fmt.Sprintf("spec.volumes[%s]: not a volume of a claim", v.Name)
	}
	bound := fmt.Sprintf("spec.volumes[%s]: %s is bound to PersistentVolume %s", v.Name, claim, pv.Name)
	if what, why := persistentvolume.Unmountable(pv); what != "" {
		return bound + " " + what + "; " + why
	}
	if hp := pv.Spec.HostPath; hp != nil && !hostPathAllowed(hp.Path, policy.AllowedHostPaths, policy.resolver()) {
		return fmt.Sprintf("%s of type hostPath, whose path %q is not under a path this node allows (%s)", bound, hp.Path, allowedList(policy.AllowedHostPaths))
	}
	return ""
}

// emptyDirMode is the permission bits of the emptyDirs Berth makes, the API's default mode.
const emptyDirMode = 0o777

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

// allowedList names the host folders a node allows, for a refusal's message.
func allowedList(allowed []string) string {
	if len(allowed) == 0 {
		return "none: berth-kubelet --allowed-host-paths is empty"
	}
	return "allowed: " + strings.Join(allowed, ", ")
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

// resolveExisting resolves the symbolic links of the longest existing prefix of path: the only part of admission
// that reads the node's filesystem (Policy.ResolvePath stands in for it).
func resolveExisting(path string) string {
	rest := ""
	for p := path; ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		if p == "/" || p == "." {
			return path
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}
