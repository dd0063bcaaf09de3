package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/component-helpers/storage/ephemeral"
	storagehelpers "k8s.io/component-helpers/storage/volume"

	"github.com/berth-dev/berth/internal/persistentvolume"
	"github.com/berth-dev/berth/provider/podspec"
)

// ClaimClient reads, from the API server, the claims of pods' persistentVolumeClaim and generic ephemeral volumes,
// the PersistentVolumes they are bound to, and the node (whose labels a volume's nodeAffinity must select), as
// the kubelet's volume manager reads them: a GET each, no informer. client.CoreV1() of the node's credentials
// serves: the Node authorizer lets a node get the claims of its pods and the volumes they are bound to.
type ClaimClient interface {
	corev1client.PersistentVolumeClaimsGetter
	corev1client.PersistentVolumesGetter
	corev1client.NodesGetter
}

// Folders under pods/<uid>/volumes of the volumes of claims: each holds, named as the pod's volume, a symbolic link
// to the PersistentVolume's path on the host, which containers bind-mount. (The kubelet bind-mounts a local
// volume on a folder of that name and uses a hostPath one's path as it is.)
const (
	pluginHostPathPV = "kubernetes.io~host-path"
	pluginLocalPV    = "kubernetes.io~local-volume"
)

// pvcProtectionFinalizer is the finalizer the PVC protection controller keeps on a claim that a pod uses
// (k8s.io/kubernetes/pkg/volume/util's PVCProtectionFinalizer).
const pvcProtectionFinalizer = "kubernetes.io/pvc-protection"

// RefusedError is a volume the node will not mount whatever it waits for: the claim is bound to a PersistentVolume
// Berth cannot mount, or may not (podspec.PersistentVolumeProblem). The pod fails, with podspec.VolumeRefusal of
// the problems (Refusals), rather than wait.
type RefusedError struct {
	// Problem is "spec.volumes[<name>]: why".
	Problem string
}

func (e *RefusedError) Error() string { return e.Problem }

// Refusals lists the problems of the RefusedErrors in err (one SetUp returned), in order.
func Refusals(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		var r *RefusedError
		switch u := err.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		default:
			if errors.As(err, &r) {
				out = append(out, r.Problem)
			}
		}
	}
	walk(err)
	return out
}

// IsClaim tells whether a volume is a claim's: persistentVolumeClaim, or generic ephemeral.
func IsClaim(v *corev1.Volume) bool {
	return v.PersistentVolumeClaim != nil || v.Ephemeral != nil
}

// claimName is the name of the claim of a persistentVolumeClaim or generic ephemeral volume.
func claimName(pod *corev1.Pod, v *corev1.Volume) string {
	if v.PersistentVolumeClaim != nil {
		return v.PersistentVolumeClaim.ClaimName
	}
	return ephemeral.VolumeClaimName(pod, v)
}

// claimReadOnly tells whether a claim's volume is mounted read-only in every container (persistentVolumeClaim's
// readOnly, as the kubelet's volume spec takes it).
func claimReadOnly(v *corev1.Volume) bool {
	return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ReadOnly
}

// boundVolume finds the PersistentVolume a claim's volume is bound to, with the checks of the kubelet's
// desired-state populator (getPVCExtractPV, getPVSpec): the claim exists, is not being deleted without its
// protection finalizer, is Bound with a volumeName, belongs to the pod when it is an ephemeral volume's, and the
// volume's claimRef points back at it. Each failure is one the kubelet waits out, trying again.
func (m *Manager) boundVolume(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) (*corev1.PersistentVolume, error) {
	if m.cfg.Claims == nil {
		return nil, errors.New("the node reads no PersistentVolumeClaims (no API client)")
	}
	name := claimName(pod, v)
	fail := func(err error) error { return fmt.Errorf("error processing PVC %s/%s: %w", pod.Namespace, name, err) }
	pvc, err := authorized(ctx, func() (*corev1.PersistentVolumeClaim, error) {
		return m.cfg.Claims.PersistentVolumeClaims(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	})
	if err != nil {
		return nil, fail(fmt.Errorf("failed to fetch PVC from API server: %w", err))
	}
	if pvc.DeletionTimestamp != nil && !slices.Contains(pvc.Finalizers, pvcProtectionFinalizer) {
		return nil, fail(errors.New("PVC is being deleted"))
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		return nil, fail(errors.New("PVC is not bound"))
	}
	if pvc.Spec.VolumeName == "" {
		return nil, fail(errors.New("PVC has empty pvc.Spec.VolumeName"))
	}
	if v.Ephemeral != nil {
		if err := ephemeral.VolumeIsForPod(pod, pvc); err != nil {
			return nil, err
		}
	}
	pv, err := authorized(ctx, func() (*corev1.PersistentVolume, error) {
		return m.cfg.Claims.PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	})
	if err != nil {
		return nil, fail(fmt.Errorf("failed to fetch PV %s from API server: %w", pvc.Spec.VolumeName, err))
	}
	if pv.Spec.ClaimRef == nil {
		return nil, fail(fmt.Errorf("found PV object %s but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim", pv.Name))
	}
	if pv.Spec.ClaimRef.UID != pvc.UID {
		return nil, fail(fmt.Errorf("found PV object %s but its pv.Spec.ClaimRef.UID %s does not point to claim.UID %s", pv.Name, pv.Spec.ClaimRef.UID, pvc.UID))
	}
	return pv, nil
}

// authorizerLag is how long a get the API server forbids is tried again before its answer counts: the Node
// authorizer learns that a pod is the node's, and which claims and volumes it uses, from informers of its own, a
// moment after the node may have seen the pod. Without it the first try of most pods would end in a FailedMount
// event saying "forbidden".
const authorizerLag = 2 * time.Second

// authorized calls get until it is not forbidden, for at most authorizerLag.
func authorized[T any](ctx context.Context, get func() (T, error)) (T, error) {
	deadline := time.Now().Add(authorizerLag)
	for {
		v, err := get()
		if !apierrors.IsForbidden(err) || !time.Now().Before(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// setUpClaim prepares a claim's volume as the kubelet mounts a hostPath or local PersistentVolume: it finds the
// bound volume (boundVolume), refuses one the node cannot or may not mount (a RefusedError), checks the volume's
// nodeAffinity against the node, checks its path (a hostPath volume's type, as for a hostPath volume; a local
// volume's folder must exist), gives a local volume's files to the pod's fsGroup unless it is mounted read-only,
// and records the path for ContainerMounts as a symbolic link in the pod's folder.
func (m *Manager) setUpClaim(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) error {
	pv, err := m.boundVolume(ctx, pod, v)
	if err != nil {
		return err
	}
	if problem := podspec.PersistentVolumeProblem(pod, v, pv, m.cfg.Policy); problem != "" {
		return &RefusedError{Problem: problem}
	}
	if m.cfg.RootDir == "" {
		return errors.New("the node has no root directory for volumes (berth-kubelet --root-dir)")
	}
	if pv.Spec.NodeAffinity != nil {
		node, err := authorized(ctx, func() (*corev1.Node, error) {
			return m.cfg.Claims.Nodes().Get(ctx, m.cfg.NodeName, metav1.GetOptions{})
		})
		if err != nil {
			return fmt.Errorf("MountVolume.NodeAffinity check failed: read node %s: %w", m.cfg.NodeName, err)
		}
		if err := storagehelpers.CheckNodeAffinity(pv, node.Labels); err != nil {
			return fmt.Errorf("MountVolume.NodeAffinity check failed: %w", err)
		}
	}
	var path, plugin string
	switch {
	case pv.Spec.HostPath != nil:
		path, plugin = filepath.Clean(pv.Spec.HostPath.Path), pluginHostPathPV
		if err := checkHostPath(path, pv.Spec.HostPath.Type); err != nil {
			return err
		}
	case pv.Spec.Local != nil:
		path, plugin = filepath.Clean(pv.Spec.Local.Path), pluginLocalPV
		if !filepath.IsAbs(path) {
			return &RefusedError{Problem: fmt.Sprintf("spec.volumes[%s]: local PersistentVolume %s has a path that is not absolute: %q", v.Name, pv.Name, pv.Spec.Local.Path)}
		}
		if err := localPathIsDir(path); err != nil {
			return err
		}
		if !claimReadOnly(v) {
			// A pod with a user namespace of its own has no claims (podspec refuses them): the host's IDs.
			if err := applyFSGroup(path, pod, false, nil); err != nil {
				return err
			}
		}
	default:
		// PersistentVolumeProblem refuses any other source.
		return &RefusedError{Problem: fmt.Sprintf("spec.volumes[%s]: PersistentVolume %s of type %s", v.Name, pv.Name, persistentvolume.Type(pv))}
	}
	return recordPath(filepath.Join(m.PodDir(pod.UID), "volumes", plugin, v.Name), path)
}

// localPathIsDir checks that a local volume's path is a folder, as the kubelet's local plugin does before it
// bind-mounts it; a block device, which the kubelet would format and mount, is a file type Berth does not mount.
func localPathIsDir(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("path %q does not exist", path)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("local volume path %q is not a directory: only directories are supported", path)
	}
	return nil
}

// recordPath makes link a symbolic link to target (replacing one to another target), creating its folders.
func recordPath(link, target string) error {
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o750); err != nil {
		return fmt.Errorf("create volume folder: %w", err)
	}
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("record the volume's path: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("record the volume's path: %w", err)
	}
	return nil
}

// claimPath is the host path of a claim's volume that setUpClaim recorded.
func (m *Manager) claimPath(pod *corev1.Pod, v *corev1.Volume) (string, error) {
	for _, plugin := range []string{pluginHostPathPV, pluginLocalPV} {
		target, err := os.Readlink(filepath.Join(m.PodDir(pod.UID), "volumes", plugin, v.Name))
		if err == nil {
			return target, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("read the path of volume %q: %w", v.Name, err)
		}
	}
	return "", fmt.Errorf("volume %q of claim %s is not set up", v.Name, claimName(pod, v))
}
