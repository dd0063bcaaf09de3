package podspec

import (
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/storage/ephemeral"

	"github.com/berth-dev/berth/internal/persistentvolume"
)

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
