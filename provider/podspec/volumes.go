package podspec

import (
	"fmt"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// volumeProblems lists the volumes Berth refuses outright, with why: kinds it does not support and hostPaths
// outside what the node allows. A non-empty list fails the pod (CreateContainerConfigError) rather than run it
// with a volume missing.
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
