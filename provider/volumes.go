package provider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/klog/v2"
	podresource "k8s.io/kubernetes/pkg/api/v1/resource"
	"k8s.io/kubernetes/pkg/fieldpath"
	volumeutil "k8s.io/kubernetes/pkg/volume/util"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

// TokenGetter returns a service account token for a TokenRequest, as the kubelet's token manager does (cached, and
// renewed once 80% of its life has passed).
type TokenGetter func(namespace, serviceAccount string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)

// Volume plugin folders under pods/<uid>/volumes, named as the kubelet names them.
const (
	pluginEmptyDir    = "kubernetes.io~empty-dir"
	pluginConfigMap   = "kubernetes.io~configmap"
	pluginSecret      = "kubernetes.io~secret"
	pluginDownwardAPI = "kubernetes.io~downward-api"
	pluginProjected   = "kubernetes.io~projected"
)

// defaultVolumeMode is the API's default file mode of configMap, secret, downwardAPI and projected files.
const defaultVolumeMode int32 = 0o644

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

// isAPIDataVolume tells whether a volume holds files made from API objects, rewritten when the objects change.
func isAPIDataVolume(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

// podDir is the host folder of a pod's volumes.
func (p *Provider) podDir(uid types.UID) string {
	return filepath.Join(p.cfg.RootDir, "pods", string(uid))
}

// volumeDir is the host path behind a volume: the hostPath itself, or a folder of the pod.
func (p *Provider) volumeDir(pod *corev1.Pod, v *corev1.Volume) string {
	if v.HostPath != nil {
		return filepath.Clean(v.HostPath.Path)
	}
	return filepath.Join(p.podDir(pod.UID), "volumes", volumePlugin(v), v.Name)
}

// setUpVolumes prepares a pod's volumes on the host before its sandbox starts, as the kubelet's volume manager
// does. Each failing volume gets a FailedMount event; the error says which failed.
func (p *Provider) setUpVolumes(ctx context.Context, r *podRecord) error {
	r.volMu.Lock()
	defer r.volMu.Unlock()
	p.mu.Lock()
	pod := r.pod.DeepCopy()
	p.mu.Unlock()
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if err := p.setUpVolume(ctx, pod, v); err != nil {
			p.cfg.Recorder.Eventf(r.pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed for volume %q : %v", v.Name, err)
			errs = append(errs, fmt.Errorf("volume %q: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// refreshVolumes rewrites a running pod's configMap, secret, downwardAPI and projected volumes from the current
// API objects (the files change atomically, and only when their content does), renewing tokens as they age.
// A pod being deleted is left alone: the periodic resync lists the pods to refresh before it gets to each, and a
// refresh after the deletion's tear-down would write the pod's folder again, for good.
func (p *Provider) refreshVolumes(ctx context.Context, r *podRecord) {
	r.volMu.Lock()
	defer r.volMu.Unlock()
	p.mu.Lock()
	gone := r.deleting || r.removed
	pod := r.pod.DeepCopy()
	p.mu.Unlock()
	if gone {
		return
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if !isAPIDataVolume(v) {
			continue
		}
		if err := p.setUpVolume(ctx, pod, v); err != nil {
			klog.FromContext(ctx).V(2).Info("Refreshing volume", "volume", v.Name, "err", err)
		}
	}
}

func (p *Provider) setUpVolume(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) error {
	if v.Image != nil {
		return nil // Podman mounts the image itself; nothing lives on the host
	}
	dir := p.volumeDir(pod, v)
	if v.HostPath != nil {
		return checkHostPath(dir, v.HostPath.Type)
	}
	if p.cfg.RootDir == "" {
		return errors.New("the node has no root directory for volumes (berth-kubelet --root-dir)")
	}
	if v.EmptyDir != nil {
		if err := makeVolumeDir(dir, 0o777); err != nil {
			return err
		}
		if v.EmptyDir.Medium == corev1.StorageMediumMemory {
			if err := ensureTmpfs(dir, emptyDirMemorySize(pod, v.EmptyDir, p.cfg.Allocatable), "0777"); err != nil {
				return err
			}
		}
		return applyFSGroup(dir, pod, false)
	}
	payload, err := p.payload(ctx, pod, v)
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
	w, err := volumeutil.NewAtomicWriter(dir, fmt.Sprintf("pod %s/%s volume %s", pod.Namespace, pod.Name, v.Name))
	if err != nil {
		return err
	}
	setPerms := func(string) error { return applyFSGroup(dir, pod, true) }
	if err := w.Write(payload, setPerms); err != nil {
		return fmt.Errorf("write files: %w", err)
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

// checkHostPath checks (or, for the *OrCreate types, makes) what a hostPath volume names, as the kubelet does.
func checkHostPath(path string, t *corev1.HostPathType) error {
	typ := corev1.HostPathUnset
	if t != nil {
		typ = *t
	}
	fi, err := os.Stat(path)
	exists := err == nil
	switch typ {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if !exists {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return fmt.Errorf("hostPath type check failed: create directory %s: %w", path, err)
			}
			return nil
		}
		if !fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", path)
		}
	case corev1.HostPathFileOrCreate:
		if !exists {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return fmt.Errorf("hostPath type check failed: create directory %s: %w", filepath.Dir(path), err)
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("hostPath type check failed: create file %s: %w", path, err)
			}
			if f != nil {
				_ = f.Close()
			}
			return nil
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", path)
		}
	case corev1.HostPathDirectory:
		if !exists || !fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", path)
		}
	case corev1.HostPathFile:
		if !exists || !fi.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", path)
		}
	case corev1.HostPathSocket:
		if !exists || fi.Mode()&fs.ModeSocket == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", path)
		}
	case corev1.HostPathCharDev:
		if !exists || fi.Mode()&fs.ModeCharDevice == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", path)
		}
	case corev1.HostPathBlockDev:
		if !exists || fi.Mode()&fs.ModeDevice == 0 || fi.Mode()&fs.ModeCharDevice != 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", path)
		}
	default:
		return fmt.Errorf("hostPath type %q is not known", typ)
	}
	return nil
}

// payload computes the files of a configMap, secret, downwardAPI or projected volume.
func (p *Provider) payload(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) (map[string]volumeutil.FileProjection, error) {
	switch {
	case v.ConfigMap != nil:
		s := v.ConfigMap
		cm, err := p.configMap(pod.Namespace, s.Name, s.Optional)
		if err != nil {
			return nil, err
		}
		return configMapPayload(s.Items, cm, modeOr(s.DefaultMode), optional(s.Optional))
	case v.Secret != nil:
		s := v.Secret
		sec, err := p.secret(pod.Namespace, s.SecretName, s.Optional)
		if err != nil {
			return nil, err
		}
		return secretPayload(s.Items, sec, modeOr(s.DefaultMode), optional(s.Optional))
	case v.DownwardAPI != nil:
		return p.downwardAPIPayload(pod, v.DownwardAPI.Items, modeOr(v.DownwardAPI.DefaultMode))
	case v.Projected != nil:
		return p.projectedPayload(ctx, pod, v.Projected)
	}
	return nil, fmt.Errorf("volume %q has no files to project", v.Name)
}

func modeOr(m *int32) int32 {
	if m == nil {
		return defaultVolumeMode
	}
	return *m
}

func optional(b *bool) bool { return b != nil && *b }

// configMap reads a ConfigMap from the informer cache; an absent optional one is nil without error.
func (p *Provider) configMap(ns, name string, opt *bool) (*corev1.ConfigMap, error) {
	if p.listers.ConfigMaps == nil {
		return nil, errors.New("no ConfigMap informer")
	}
	cm, err := p.listers.ConfigMaps.ConfigMaps(ns).Get(name)
	if apierrors.IsNotFound(err) {
		if optional(opt) {
			return nil, nil
		}
		return nil, fmt.Errorf("configmap %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get configmap %q: %w", name, err)
	}
	return cm, nil
}

// secret reads a Secret from the informer cache; an absent optional one is nil without error.
func (p *Provider) secret(ns, name string, opt *bool) (*corev1.Secret, error) {
	if p.listers.Secrets == nil {
		return nil, errors.New("no Secret informer")
	}
	s, err := p.listers.Secrets.Secrets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		if optional(opt) {
			return nil, nil
		}
		return nil, fmt.Errorf("secret %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %q: %w", name, err)
	}
	return s, nil
}

// configMapPayload is the files of a ConfigMap: every key, or the listed items (a missing key is an error unless
// the volume is optional). A nil ConfigMap (optional and absent) gives no files.
func configMapPayload(items []corev1.KeyToPath, cm *corev1.ConfigMap, mode int32, opt bool) (map[string]volumeutil.FileProjection, error) {
	if cm == nil {
		return map[string]volumeutil.FileProjection{}, nil
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyPayload(items, data, mode, opt, "configmap references non-existent config key: %s")
}

// secretPayload is the files of a Secret, as configMapPayload.
func secretPayload(items []corev1.KeyToPath, s *corev1.Secret, mode int32, opt bool) (map[string]volumeutil.FileProjection, error) {
	if s == nil {
		return map[string]volumeutil.FileProjection{}, nil
	}
	return keyPayload(items, s.Data, mode, opt, "references non-existent secret key: %s")
}

func keyPayload(items []corev1.KeyToPath, data map[string][]byte, mode int32, opt bool, missing string) (map[string]volumeutil.FileProjection, error) {
	out := make(map[string]volumeutil.FileProjection, len(data))
	if len(items) == 0 {
		for k, v := range data {
			out[k] = volumeutil.FileProjection{Data: v, Mode: mode}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if opt {
				continue
			}
			return nil, fmt.Errorf(missing, it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = *it.Mode
		}
		out[it.Path] = volumeutil.FileProjection{Data: v, Mode: m}
	}
	return out, nil
}

// downwardAPIPayload is the files of a downwardAPI volume (or projection): pod fields and container resources.
func (p *Provider) downwardAPIPayload(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, mode int32) (map[string]volumeutil.FileProjection, error) {
	out := make(map[string]volumeutil.FileProjection, len(items))
	var errs []error
	for _, it := range items {
		m := mode
		if it.Mode != nil {
			m = *it.Mode
		}
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = fieldpath.ExtractFieldPathAsString(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = podresource.ExtractResourceValueByContainerNameAndNodeAllocatable(it.ResourceFieldRef, pod, it.ResourceFieldRef.ContainerName, p.cfg.Allocatable)
		default:
			err = errors.New("no fieldRef or resourceFieldRef")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", it.Path, err))
			continue
		}
		out[it.Path] = volumeutil.FileProjection{Data: []byte(v), Mode: m}
	}
	return out, errors.Join(errs...)
}

// projectedPayload merges a projected volume's sources, the service account token among them.
func (p *Provider) projectedPayload(ctx context.Context, pod *corev1.Pod, pv *corev1.ProjectedVolumeSource) (map[string]volumeutil.FileProjection, error) {
	mode := modeOr(pv.DefaultMode)
	out := map[string]volumeutil.FileProjection{}
	merge := func(files map[string]volumeutil.FileProjection) {
		for k, v := range files {
			out[k] = v
		}
	}
	for _, s := range pv.Sources {
		switch {
		case s.ConfigMap != nil:
			cm, err := p.configMap(pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Optional)
			if err != nil {
				return nil, err
			}
			files, err := configMapPayload(s.ConfigMap.Items, cm, mode, optional(s.ConfigMap.Optional))
			if err != nil {
				return nil, err
			}
			merge(files)
		case s.Secret != nil:
			sec, err := p.secret(pod.Namespace, s.Secret.Name, s.Secret.Optional)
			if err != nil {
				return nil, err
			}
			files, err := secretPayload(s.Secret.Items, sec, mode, optional(s.Secret.Optional))
			if err != nil {
				return nil, err
			}
			merge(files)
		case s.DownwardAPI != nil:
			files, err := p.downwardAPIPayload(pod, s.DownwardAPI.Items, mode)
			if err != nil {
				return nil, err
			}
			merge(files)
		case s.ServiceAccountToken != nil:
			tok, err := p.serviceAccountToken(ctx, pod, s.ServiceAccountToken)
			if err != nil {
				return nil, err
			}
			out[s.ServiceAccountToken.Path] = volumeutil.FileProjection{Data: []byte(tok), Mode: mode}
		default:
			return nil, errors.New("projected source type is not supported")
		}
	}
	return out, nil
}

// serviceAccountToken asks for a token bound to the pod, as the kubelet does for a serviceAccountToken projection.
func (p *Provider) serviceAccountToken(_ context.Context, pod *corev1.Pod, s *corev1.ServiceAccountTokenProjection) (string, error) {
	if p.cfg.Tokens == nil {
		return "", errors.New("the node cannot request service account tokens")
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	var audiences []string
	if s.Audience != "" {
		audiences = []string{s.Audience}
	}
	exp := int64(3600)
	if s.ExpirationSeconds != nil {
		exp = *s.ExpirationSeconds
	}
	tr, err := p.cfg.Tokens(pod.Namespace, sa, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         audiences,
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
	}})
	if err != nil {
		return "", fmt.Errorf("fetch token: %w", err)
	}
	return tr.Status.Token, nil
}

// containerMounts lists the host paths bound into a container for its volumeMounts, with subPath and subPathExpr
// resolved inside the volume (never out of it). API data volumes are always read-only, as the kubelet mounts them.
func (p *Provider) containerMounts(pod *corev1.Pod, c *corev1.Container, env []corev1.EnvVar) ([]podman.BindMount, error) {
	vols := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		vols[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var out []podman.BindMount
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q: no volume of that name", m.Name)
		}
		if v.Image != nil {
			continue // mounted by Podman from the image (imageMounts)
		}
		src := p.volumeDir(pod, v)
		sub := m.SubPath
		if m.SubPathExpr != "" {
			vars := make(map[string]string, len(env))
			for _, e := range env {
				vars[e.Name] = e.Value
			}
			sub = expansion.Expand(m.SubPathExpr, expansion.MappingFuncFor(vars))
		}
		if sub != "" {
			var err error
			if src, err = subPath(src, sub); err != nil {
				return nil, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: %w", m.Name, c.Name, err)
			}
		}
		out = append(out, podman.BindMount{Source: src, Dest: m.MountPath, ReadOnly: m.ReadOnly || isAPIDataVolume(v),
			Propagation: propagation(m.MountPropagation)})
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

// subPath resolves a volumeMount's subPath inside a volume's folder, creating it as a folder when absent, and
// refuses a path that leaves the volume (by "..", an absolute path, or a symbolic link).
func subPath(volume, sub string) (string, error) {
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

// tearDownVolumes removes a pod's volume folders, unmounting its tmpfs first. Host paths are never touched.
func (p *Provider) tearDownVolumes(uid types.UID) error {
	if p.cfg.RootDir == "" || uid == "" {
		return nil
	}
	return removePodDir(p.podDir(uid))
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

// podDirUIDs lists the pods that have volume folders on this node.
func (p *Provider) podDirUIDs() ([]types.UID, error) {
	if p.cfg.RootDir == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(filepath.Join(p.cfg.RootDir, "pods"))
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
