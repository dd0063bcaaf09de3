package provider

import (
	"fmt"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// volumeProblems lists the volumes Berth refuses outright, with why: kinds it does not support and hostPaths
// outside what the node allows. A non-empty list fails the pod (CreateContainerConfigError) rather than run it
// with a volume missing.
func volumeProblems(pod *corev1.Pod, allowedHostPaths []string) []string {
	var out []string
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.HostPath != nil:
			if !hostPathAllowed(v.HostPath.Path, allowedHostPaths) {
				out = append(out, fmt.Sprintf("spec.volumes[%s]: hostPath %q is not under a path this node allows (%s)", v.Name, v.HostPath.Path, allowedList(allowedHostPaths)))
			}
		case v.EmptyDir != nil:
			if v.EmptyDir.Medium != corev1.StorageMediumDefault && v.EmptyDir.Medium != corev1.StorageMediumMemory {
				out = append(out, fmt.Sprintf("spec.volumes[%s]: emptyDir medium %q is not supported", v.Name, v.EmptyDir.Medium))
			}
		case v.ConfigMap != nil, v.Secret != nil, v.DownwardAPI != nil, v.Image != nil:
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ClusterTrustBundle != nil {
					out = append(out, fmt.Sprintf("spec.volumes[%s]: projected clusterTrustBundle sources are not supported", v.Name))
				}
				if s.PodCertificate != nil {
					out = append(out, fmt.Sprintf("spec.volumes[%s]: projected podCertificate sources are not supported", v.Name))
				}
			}
		case v.PersistentVolumeClaim != nil:
			out = append(out, fmt.Sprintf("spec.volumes[%s]: persistentVolumeClaim volumes are not supported (Berth has no volume attach/mount)", v.Name))
		default:
			out = append(out, fmt.Sprintf("spec.volumes[%s]: this volume type is not supported", v.Name))
		}
	}
	return append(out, imageVolumeProblems(pod)...)
}

func allowedList(allowed []string) string {
	if len(allowed) == 0 {
		return "none: berth-kubelet --allowed-host-paths is empty"
	}
	return "allowed: " + strings.Join(allowed, ", ")
}

// hostPathAllowed tells whether path lies under one of the allowed prefixes (after cleaning, so ".." cannot climb
// out, and after resolving symbolic links of the part that exists).
func hostPathAllowed(path string, allowed []string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	path = resolveExisting(filepath.Clean(path))
	for _, a := range allowed {
		a = resolveExisting(filepath.Clean(a))
		if within(a, path) {
			return true
		}
	}
	return false
}

// within tells whether path is base or below it.
func within(base, path string) bool {
	rel, err := filepath.Rel(base, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// resolveExisting resolves the symbolic links of the longest existing prefix of path.
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
