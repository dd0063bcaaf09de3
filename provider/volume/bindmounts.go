package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/userns"
)

// ContainerMounts lists the host paths bound into a container for its volumeMounts, with subPath and subPathExpr
// resolved inside the volume (never out of it). API data volumes are always read-only, as the kubelet mounts them,
// and so is a claim's volume whose persistentVolumeClaim says readOnly.
func (m *Manager) ContainerMounts(pod *corev1.Pod, c *corev1.Container, env []corev1.EnvVar) ([]podman.BindMount, error) {
	vols := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		vols[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var out []podman.BindMount
	for _, vm := range c.VolumeMounts {
		v, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q: no volume of that name", vm.Name)
		}
		if v.Image != nil {
			continue // mounted by Podman from the image, not from the host
		}
		src := m.volumeDir(pod, v)
		if IsClaim(v) {
			var err error
			if src, err = m.claimPath(pod, v); err != nil {
				return nil, err
			}
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			vars := make(map[string]string, len(env))
			for _, e := range env {
				vars[e.Name] = e.Value
			}
			sub = expansion.Expand(vm.SubPathExpr, expansion.MappingFuncFor(vars))
		}
		if sub != "" {
			var err error
			if src, err = subPath(src, sub, m.userNamespace(pod)); err != nil {
				return nil, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: %w", vm.Name, c.Name, err)
			}
		}
		out = append(out, podman.BindMount{Source: src, Dest: vm.MountPath, ReadOnly: vm.ReadOnly || IsAPIData(v) || claimReadOnly(v),
			Propagation: propagation(vm.MountPropagation)})
	}
	return out, nil
}

// propagation maps a volumeMount's mountPropagation to the bind mount's: HostToContainer is rslave, Bidirectional
// (which the API allows only in privileged containers) rshared; None or unset stays private.
func propagation(mp *corev1.MountPropagationMode) string {
	switch {
	case mp == nil:
		return ""
	case *mp == corev1.MountPropagationHostToContainer:
		return "rslave"
	case *mp == corev1.MountPropagationBidirectional:
		return "rshared"
	}
	return ""
}

// subPath resolves a volumeMount's subPath inside a volume's folder, creating it as a folder when absent (the
// root's of the pod's user namespace ids, nil for the host's), and refuses a path that leaves the volume (by "..",
// an absolute path, or a symbolic link).
func subPath(volume, sub string, ids *userns.Range) (string, error) {
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("subPath %q must be a relative path", sub)
	}
	for _, part := range strings.Split(sub, "/") {
		if part == ".." {
			return "", fmt.Errorf("subPath %q must not contain '..'", sub)
		}
	}
	path := filepath.Join(volume, sub)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(path, 0o750); err != nil {
			return "", fmt.Errorf("create subPath %q: %w", sub, err)
		}
		if ids != nil {
			if err := mapNewFolders(volume, path, *ids); err != nil {
				return "", fmt.Errorf("create subPath %q: %w", sub, err)
			}
		}
	}
	base, err := filepath.EvalSymlinks(volume)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	if !podspec.Within(base, real) {
		return "", fmt.Errorf("subPath %q resolves outside the volume", sub)
	}
	return real, nil
}
