package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/userns"
)

// TokenGetter returns a service account token for a TokenRequest, as the kubelet's token manager does (cached, and
// renewed once 80% of its life has passed).
type TokenGetter func(namespace, serviceAccount string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)

// Config is what the volume manager needs of its node.
type Config struct {
	// RootDir holds the pods' volume folders (pods/<uid>/volumes/<plugin>/<name>), as under the kubelet's
	// --root-dir. Empty: the node keeps no volumes.
	RootDir string
	// Allocatable is the node's allocatable: the size of a Memory emptyDir without a limit, and what
	// resourceFieldRef reports for a container without one.
	Allocatable corev1.ResourceList
	// Tokens fetches service account tokens for projected volumes; nil refuses them.
	Tokens TokenGetter
	// ConfigMaps and Secrets are the informer caches volume files are made from; nil refuses such volumes.
	ConfigMaps corev1listers.ConfigMapLister
	Secrets    corev1listers.SecretLister
	// Claims reads the claims of persistentVolumeClaim and generic ephemeral volumes and the PersistentVolumes they
	// are bound to; nil fails such volumes (retried).
	Claims ClaimClient
	// NodeName is the node's name: a PersistentVolume's nodeAffinity must select its labels.
	NodeName string
	// Policy is what the node allows its pods: the PersistentVolumes of claims, known only when they are mounted,
	// are admitted against it (podspec.PersistentVolumeProblem), as hostPath volumes are at admission.
	Policy podspec.Policy
	// UserNamespace is the range of host IDs of a pod with a user namespace of its own (ok false for a pod in the
	// host's): the folders and files Berth makes for such a pod are its root's (and fsGroup's) in that range. Nil:
	// no pod has one.
	UserNamespace func(pod types.UID) (r userns.Range, ok bool)
}

// Manager prepares pods' volumes on the host, binds them into containers and removes them, as the kubelet's
// volume manager does. It keeps no state of its own: everything is on disk under Config.RootDir.
type Manager struct {
	cfg Config
}

// Volume plugin folders under pods/<uid>/volumes, named as the kubelet names them.
const (
	pluginEmptyDir    = "kubernetes.io~empty-dir"
	pluginConfigMap   = "kubernetes.io~configmap"
	pluginSecret      = "kubernetes.io~secret"
	pluginDownwardAPI = "kubernetes.io~downward-api"
	pluginProjected   = "kubernetes.io~projected"
)

// New returns a volume manager.
func New(cfg Config) *Manager {
	return &Manager{cfg: cfg}
}

// PodDir is the host folder of a pod's files (its volumes, and the runner's termination logs).
func (m *Manager) PodDir(uid types.UID) string {
	return filepath.Join(m.cfg.RootDir, "pods", string(uid))
}

// SetUp prepares a pod's volumes on the host before its sandbox starts, as the kubelet's volume manager does.
// failed is told of each volume that fails (the runner's FailedMount event); the error says which failed.
func (m *Manager) SetUp(ctx context.Context, pod *corev1.Pod, failed func(v *corev1.Volume, err error)) error {
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if err := m.setUp(ctx, pod, v); err != nil {
			failed(v, err)
			errs = append(errs, fmt.Errorf("volume %q: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) setUp(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) error {
	if v.Image != nil {
		return nil // Podman mounts the image itself; nothing lives on the host
	}
	if IsClaim(v) {
		return m.setUpClaim(ctx, pod, v)
	}
	dir := m.volumeDir(pod, v)
	if v.HostPath != nil {
		return checkHostPath(dir, v.HostPath.Type)
	}
	if m.cfg.RootDir == "" {
		return errors.New("the node has no root directory for volumes (berth-kubelet --root-dir)")
	}
	ids := m.userNamespace(pod)
	if v.EmptyDir != nil {
		if err := makeVolumeDir(dir, 0o777); err != nil {
			return err
		}
		if v.EmptyDir.Medium == corev1.StorageMediumMemory {
			if err := ensureTmpfs(dir, emptyDirMemorySize(pod, v.EmptyDir, m.cfg.Allocatable), "0777"); err != nil {
				return err
			}
		}
		return giveToPod(dir, pod, false, ids)
	}
	payload, err := m.Payload(ctx, pod, v)
	if err != nil {
		return err
	}
	if err := makeVolumeDir(dir, 0o755); err != nil {
		return err
	}
	if v.Secret != nil || v.Projected != nil {
		// The kubelet keeps secrets and tokens off disk.
		if err := ensureTmpfs(dir, 0, "0755"); err != nil {
			return err
		}
	}
	w, err := newAtomicWriter(dir)
	if err != nil {
		return err
	}
	// The new files are the pod's before they are swapped in, so that it never sees them as another's.
	setPerms := func(string) error { return giveToPod(dir, pod, true, ids) }
	if err := w.write(ctx, payload, setPerms); err != nil {
		return fmt.Errorf("write files: %w", err)
	}
	if ids != nil {
		// The links the swap made.
		return mapOwners(dir, *ids)
	}
	return nil
}

// volumePlugin names the folder of a volume kind Berth keeps on the host, "" for one it does not.
func volumePlugin(v *corev1.Volume) string {
	switch {
	case v.EmptyDir != nil:
		return pluginEmptyDir
	case v.ConfigMap != nil:
		return pluginConfigMap
	case v.Secret != nil:
		return pluginSecret
	case v.DownwardAPI != nil:
		return pluginDownwardAPI
	case v.Projected != nil:
		return pluginProjected
	}
	return ""
}

// IsAPIData tells whether a volume holds files made from API objects, rewritten when the objects change.
func IsAPIData(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

// volumeDir is the host path behind a volume: the hostPath itself, or a folder of the pod.
func (m *Manager) volumeDir(pod *corev1.Pod, v *corev1.Volume) string {
	if v.HostPath != nil {
		return filepath.Clean(v.HostPath.Path)
	}
	return filepath.Join(m.PodDir(pod.UID), "volumes", volumePlugin(v), v.Name)
}

// userNamespace is the range of host IDs of a pod with a user namespace of its own, nil for a pod in the host's.
func (m *Manager) userNamespace(pod *corev1.Pod) *userns.Range {
	if m.cfg.UserNamespace == nil {
		return nil
	}
	if r, ok := m.cfg.UserNamespace(pod.UID); ok {
		return &r
	}
	return nil
}

// makeVolumeDir creates a volume's folder (and the pod's folders above it) with the given permissions.
func makeVolumeDir(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return fmt.Errorf("create volume folder: %w", err)
	}
	if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create volume folder: %w", err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		return fmt.Errorf("set volume folder permissions: %w", err)
	}
	return nil
}

// ensureTmpfs mounts a tmpfs of size bytes (0: the kernel's default) on dir unless one is there.
func ensureTmpfs(dir string, size int64, mode string) error {
	mounted, err := isMountPoint(dir)
	if err != nil {
		return fmt.Errorf("check mount of %s: %w", dir, err)
	}
	if mounted {
		return nil
	}
	opts := "mode=" + mode
	if size > 0 {
		opts += fmt.Sprintf(",size=%d", size)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NODEV|unix.MS_NOSUID, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s (%s): %w", dir, opts, err)
	}
	return nil
}

// isMountPoint tells whether dir is the root of a mount (its device differs from its parent's).
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Stat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}

// emptyDirMemorySize is the size of a Memory emptyDir's tmpfs as the kubelet computes it: the sizeLimit, bounded by
// the pod's memory limit when every container has one; without a sizeLimit, that limit or the node's allocatable.
func emptyDirMemorySize(pod *corev1.Pod, ed *corev1.EmptyDirVolumeSource, allocatable corev1.ResourceList) int64 {
	var podLimit int64
	limits := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})
	if m, ok := limits[corev1.ResourceMemory]; ok && allHaveMemoryLimits(pod) {
		podLimit = m.Value()
	}
	if ed.SizeLimit != nil && !ed.SizeLimit.IsZero() {
		if podLimit > 0 && podLimit < ed.SizeLimit.Value() {
			return podLimit
		}
		return ed.SizeLimit.Value()
	}
	if podLimit > 0 {
		return podLimit
	}
	if m, ok := allocatable[corev1.ResourceMemory]; ok {
		return m.Value()
	}
	return 0
}

func allHaveMemoryLimits(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if m, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || m.IsZero() {
			return false
		}
	}
	return true
}

// Refresh rewrites a running pod's configMap, secret, downwardAPI and projected volumes from the current API
// objects (the files change atomically, and only when their content does), renewing tokens as they age.
func (m *Manager) Refresh(ctx context.Context, pod *corev1.Pod) {
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if !IsAPIData(v) {
			continue
		}
		if err := m.setUp(ctx, pod, v); err != nil {
			klog.FromContext(ctx).V(2).Info("Refreshing volume", "volume", v.Name, "err", err)
		}
	}
}

// TearDown removes a pod's volume folders, unmounting its tmpfs first. Host paths, those of hostPath volumes and of
// claims' PersistentVolumes, are never touched.
func (m *Manager) TearDown(uid types.UID) error {
	if m.cfg.RootDir == "" || uid == "" {
		return nil
	}
	return removePodDir(m.PodDir(uid))
}

// CleanRootDir removes every pod's volume folders under a node's root directory (of a node whose Podman pods are
// gone), unmounting their tmpfs first.
func CleanRootDir(root string) error {
	ents, err := os.ReadDir(filepath.Join(root, "pods"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list pod folders: %w", err)
	}
	var errs []error
	for _, e := range ents {
		errs = append(errs, removePodDir(filepath.Join(root, "pods", e.Name())))
	}
	return errors.Join(errs...)
}

func removePodDir(dir string) error {
	uid := filepath.Base(dir)
	plugins, err := os.ReadDir(filepath.Join(dir, "volumes"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read volume folders of pod %s: %w", uid, err)
	}
	for _, pl := range plugins {
		vols, err := os.ReadDir(filepath.Join(dir, "volumes", pl.Name()))
		if err != nil {
			return fmt.Errorf("read volume folders of pod %s: %w", uid, err)
		}
		for _, v := range vols {
			if v.Type()&fs.ModeSymlink != 0 {
				continue // a claim's volume: its PersistentVolume's path, which stays as it is (os.RemoveAll removes the link alone)
			}
			if err := unmountIfMounted(filepath.Join(dir, "volumes", pl.Name(), v.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove volume folders of pod %s: %w", uid, err)
	}
	return nil
}

// unmountIfMounted unmounts dir when something is mounted on it.
func unmountIfMounted(dir string) error {
	mounted, err := isMountPoint(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check mount of %s: %w", dir, err)
	}
	if !mounted {
		return nil
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// PodDirUIDs lists the pods that have volume folders on this node.
func (m *Manager) PodDirUIDs() ([]types.UID, error) {
	if m.cfg.RootDir == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(filepath.Join(m.cfg.RootDir, "pods"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list pod folders: %w", err)
	}
	out := make([]types.UID, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, types.UID(e.Name()))
		}
	}
	return out, nil
}
