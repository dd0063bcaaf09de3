package volume

import (
	"context"
	"errors"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	podresource "k8s.io/kubernetes/pkg/api/v1/resource"
	"k8s.io/kubernetes/pkg/fieldpath"
)

// defaultVolumeMode is the API's default file mode of configMap, secret, downwardAPI and projected files.
const defaultVolumeMode int32 = 0o644

// Payload computes the files of a configMap, secret, downwardAPI or projected volume.
func (m *Manager) Payload(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) (map[string]FileProjection, error) {
	switch {
	case v.ConfigMap != nil:
		s := v.ConfigMap
		cm, err := m.configMap(pod.Namespace, s.Name, s.Optional)
		if err != nil {
			return nil, err
		}
		return configMapPayload(s.Items, cm, modeOr(s.DefaultMode), optional(s.Optional))
	case v.Secret != nil:
		s := v.Secret
		sec, err := m.secret(pod.Namespace, s.SecretName, s.Optional)
		if err != nil {
			return nil, err
		}
		return secretPayload(s.Items, sec, modeOr(s.DefaultMode), optional(s.Optional))
	case v.DownwardAPI != nil:
		return m.downwardAPIPayload(pod, v.DownwardAPI.Items, modeOr(v.DownwardAPI.DefaultMode))
	case v.Projected != nil:
		return m.projectedPayload(ctx, pod, v.Projected)
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
func (m *Manager) configMap(ns, name string, opt *bool) (*corev1.ConfigMap, error) {
	if m.cfg.ConfigMaps == nil {
		return nil, errors.New("no ConfigMap informer")
	}
	cm, err := m.cfg.ConfigMaps.ConfigMaps(ns).Get(name)
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
func (m *Manager) secret(ns, name string, opt *bool) (*corev1.Secret, error) {
	if m.cfg.Secrets == nil {
		return nil, errors.New("no Secret informer")
	}
	s, err := m.cfg.Secrets.Secrets(ns).Get(name)
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
func configMapPayload(items []corev1.KeyToPath, cm *corev1.ConfigMap, mode int32, opt bool) (map[string]FileProjection, error) {
	if cm == nil {
		return map[string]FileProjection{}, nil
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
func secretPayload(items []corev1.KeyToPath, s *corev1.Secret, mode int32, opt bool) (map[string]FileProjection, error) {
	if s == nil {
		return map[string]FileProjection{}, nil
	}
	return keyPayload(items, s.Data, mode, opt, "references non-existent secret key: %s")
}

func keyPayload(items []corev1.KeyToPath, data map[string][]byte, mode int32, opt bool, missing string) (map[string]FileProjection, error) {
	out := make(map[string]FileProjection, len(data))
	if len(items) == 0 {
		for k, v := range data {
			out[k] = FileProjection{Data: v, Mode: mode}
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
		out[it.Path] = FileProjection{Data: v, Mode: m}
	}
	return out, nil
}

// downwardAPIPayload is the files of a downwardAPI volume (or projection): pod fields and container resources.
func (m *Manager) downwardAPIPayload(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, mode int32) (map[string]FileProjection, error) {
	out := make(map[string]FileProjection, len(items))
	var errs []error
	for _, it := range items {
		fileMode := mode
		if it.Mode != nil {
			fileMode = *it.Mode
		}
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = fieldpath.ExtractFieldPathAsString(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = podresource.ExtractResourceValueByContainerNameAndNodeAllocatable(it.ResourceFieldRef, pod, it.ResourceFieldRef.ContainerName, m.cfg.Allocatable)
		default:
			err = errors.New("no fieldRef or resourceFieldRef")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", it.Path, err))
			continue
		}
		out[it.Path] = FileProjection{Data: []byte(v), Mode: fileMode}
	}
	return out, errors.Join(errs...)
}

// projectedPayload merges a projected volume's sources, the service account token among them.
func (m *Manager) projectedPayload(ctx context.Context, pod *corev1.Pod, pv *corev1.ProjectedVolumeSource) (map[string]FileProjection, error) {
	mode := modeOr(pv.DefaultMode)
	out := map[string]FileProjection{}
	merge := func(files map[string]FileProjection) {
		for k, v := range files {
			out[k] = v
		}
	}
	for _, s := range pv.Sources {
		switch {
		case s.ConfigMap != nil:
			cm, err := m.configMap(pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Optional)
			if err != nil {
				return nil, err
			}
			files, err := configMapPayload(s.ConfigMap.Items, cm, mode, optional(s.ConfigMap.Optional))
			if err != nil {
				return nil, err
			}
			merge(files)
		case s.Secret != nil:
			sec, err := m.secret(pod.Namespace, s.Secret.Name, s.Secret.Optional)
			if err != nil {
				return nil, err
			}
			files, err := secretPayload(s.Secret.Items, sec, mode, optional(s.Secret.Optional))
			if err != nil {
				return nil, err
			}
			merge(files)
		case s.DownwardAPI != nil:
			files, err := m.downwardAPIPayload(pod, s.DownwardAPI.Items, mode)
			if err != nil {
				return nil, err
			}
			merge(files)
		case s.ServiceAccountToken != nil:
			tok, err := m.serviceAccountToken(ctx, pod, s.ServiceAccountToken)
			if err != nil {
				return nil, err
			}
			out[s.ServiceAccountToken.Path] = FileProjection{Data: []byte(tok), Mode: mode}
		default:
			return nil, errors.New("projected source type is not supported")
		}
	}
	return out, nil
}

// serviceAccountToken asks for a token bound to the pod, as the kubelet does for a serviceAccountToken projection.
func (m *Manager) serviceAccountToken(_ context.Context, pod *corev1.Pod, s *corev1.ServiceAccountTokenProjection) (string, error) {
	if m.cfg.Tokens == nil {
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
	tr, err := m.cfg.Tokens(pod.Namespace, sa, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         audiences,
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
	}})
	if err != nil {
		return "", fmt.Errorf("fetch token: %w", err)
	}
	return tr.Status.Token, nil
}
