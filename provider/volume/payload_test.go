package volume

import (
	"context"
	"reflect"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestKeyPayloads(t *testing.T) {
	cm := &corev1.ConfigMap{Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"bin": {0, 1}}}
	sec := &corev1.Secret{Data: map[string][]byte{"user": []byte("admin")}}
	tests := []struct {
		name    string
		got     func() (map[string]FileProjection, error)
		want    map[string]FileProjection
		wantErr string
	}{
		{name: "every key with the default mode", got: func() (map[string]FileProjection, error) {
			return configMapPayload(nil, cm, 0o644, false)
		}, want: map[string]FileProjection{"a": {Data: []byte("1"), Mode: 0o644}, "b": {Data: []byte("2"), Mode: 0o644}, "bin": {Data: []byte{0, 1}, Mode: 0o644}}},
		{name: "items with paths and modes", got: func() (map[string]FileProjection, error) {
			return configMapPayload([]corev1.KeyToPath{{Key: "a", Path: "conf/a.txt", Mode: ptr[int32](0o600)}, {Key: "bin", Path: "b.bin"}}, cm, 0o444, false)
		}, want: map[string]FileProjection{"conf/a.txt": {Data: []byte("1"), Mode: 0o600}, "b.bin": {Data: []byte{0, 1}, Mode: 0o444}}},
		{name: "missing key", got: func() (map[string]FileProjection, error) {
			return configMapPayload([]corev1.KeyToPath{{Key: "zzz", Path: "z"}}, cm, 0o644, false)
		}, wantErr: "configmap references non-existent config key: zzz"},
		{name: "missing key of an optional volume is skipped", got: func() (map[string]FileProjection, error) {
			return configMapPayload([]corev1.KeyToPath{{Key: "zzz", Path: "z"}, {Key: "a", Path: "a"}}, cm, 0o644, true)
		}, want: map[string]FileProjection{"a": {Data: []byte("1"), Mode: 0o644}}},
		{name: "absent optional configMap", got: func() (map[string]FileProjection, error) {
			return configMapPayload(nil, nil, 0o644, true)
		}, want: map[string]FileProjection{}},
		{name: "secret", got: func() (map[string]FileProjection, error) {
			return secretPayload(nil, sec, 0o400, false)
		}, want: map[string]FileProjection{"user": {Data: []byte("admin"), Mode: 0o400}}},
		{name: "secret missing key", got: func() (map[string]FileProjection, error) {
			return secretPayload([]corev1.KeyToPath{{Key: "pass", Path: "p"}}, sec, 0o400, false)
		}, wantErr: "references non-existent secret key: pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("payload %v, want %v", got, tt.want)
			}
		})
	}
}

func volumeTestPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u-1", Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"note": "hi"}},
		Spec: corev1.PodSpec{ServiceAccountName: "builder", Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
		}}}},
	}
}

func TestDownwardAPIPayload(t *testing.T) {
	m := New(Config{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}})
	items := []corev1.DownwardAPIVolumeFile{
		{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}, Mode: ptr[int32](0o600)},
		{Path: "note", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['note']"}},
		{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
		{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu"}},
	}
	got, err := m.downwardAPIPayload(volumeTestPod(), items, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"labels": "app=\"web\"\ntier=\"front\"", "name": "web", "note": "hi", "mem": "64", "cpu": "2"}
	for k, v := range want {
		if string(got[k].Data) != v {
			t.Errorf("%s = %q, want %q", k, got[k].Data, v)
		}
	}
	if got["name"].Mode != 0o600 || got["labels"].Mode != 0o644 {
		t.Errorf("modes %o %o", got["name"].Mode, got["labels"].Mode)
	}
	if _, err := m.downwardAPIPayload(volumeTestPod(), []corev1.DownwardAPIVolumeFile{{Path: "x", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.bogus"}}}, 0o644); err == nil {
		t.Error("an unknown field path gave no error")
	}
}

func TestProjectedServiceAccountVolume(t *testing.T) {
	var asked []*authenticationv1.TokenRequest
	var askedFor []string
	m := New(withListers(t, Config{Tokens: func(ns, sa string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
		asked, askedFor = append(asked, tr), append(askedFor, ns+"/"+sa)
		return &authenticationv1.TokenRequest{Status: authenticationv1.TokenRequestStatus{Token: "jwt-" + string(tr.Spec.BoundObjectRef.UID)}}, nil
	}}, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "kube-root-ca.crt"}, Data: map[string]string{"ca.crt": "PEM"}}))
	// The volume the ServiceAccount admission plugin adds to every pod.
	pv := &corev1.ProjectedVolumeSource{DefaultMode: ptr[int32](0o644), Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr[int64](3607), Path: "token"}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
	}}
	got, err := m.projectedPayload(context.Background(), volumeTestPod(), pv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]FileProjection{"token": {Data: []byte("jwt-u-1"), Mode: 0o644}, "ca.crt": {Data: []byte("PEM"), Mode: 0o644}, "namespace": {Data: []byte("shop"), Mode: 0o644}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payload %v, want %v", got, want)
	}
	if len(asked) != 1 || askedFor[0] != "shop/builder" {
		t.Fatalf("token requests %v for %v", asked, askedFor)
	}
	spec := asked[0].Spec
	if *spec.ExpirationSeconds != 3607 || spec.Audiences != nil || spec.BoundObjectRef.Kind != "Pod" || spec.BoundObjectRef.Name != "web" {
		t.Errorf("token request %+v", spec)
	}

	pv.Sources[0].ServiceAccountToken.Audience = "vault"
	if _, err := m.projectedPayload(context.Background(), volumeTestPod(), pv); err != nil || !reflect.DeepEqual(asked[1].Spec.Audiences, []string{"vault"}) {
		t.Errorf("audience: %v, %v", err, asked[1].Spec.Audiences)
	}

	missing := &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}}
	if _, err := m.projectedPayload(context.Background(), volumeTestPod(), missing); err == nil || err.Error() != `secret "nope" not found` {
		t.Errorf("missing secret: %v", err)
	}
	noTokens := New(Config{})
	if _, err := noTokens.projectedPayload(context.Background(), volumeTestPod(), pv); err == nil {
		t.Error("a node without a token getter projected a token")
	}
}
