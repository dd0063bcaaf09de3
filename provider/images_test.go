package provider

import (
	"encoding/base64"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNormalizeImage(t *testing.T) {
	tests := []struct {
		image, host string
		invalid     bool
	}{
		{image: "busybox", host: "docker.io"},
		{image: "library/busybox:1.35", host: "docker.io"},
		{image: "localhost/berth/busybox:1.35", host: "localhost"},
		{image: "127.0.0.1:5000/e2e/busybox:1", host: "127.0.0.1:5000"},
		{image: "quay.io/org/app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", host: "quay.io"},
		{image: "Not/Valid:Name!", invalid: true},
		{image: "busybox:", invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			host, err := normalizeImage(tc.image)
			var inv errInvalidImage
			if tc.invalid {
				if !errors.As(err, &inv) {
					t.Fatalf("error %v, want InvalidImageName", err)
				}
				return
			}
			if err != nil || host != tc.host {
				t.Fatalf("normalizeImage = %q, %v; want %q", host, err, tc.host)
			}
		})
	}
}

func TestPullAuth(t *testing.T) {
	json := func(s string) map[string][]byte { return map[string][]byte{corev1.DockerConfigJsonKey: []byte(s)} }
	basic := base64.StdEncoding.EncodeToString([]byte("bob:pw2"))
	secrets := []any{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "local"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: json(`{"auths":{"127.0.0.1:5000":{"username":"alice","password":"pw1"}}}`)},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hub"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: json(`{"auths":{"https://index.docker.io/v1/":{"auth":"` + basic + `"}}}`)},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "broken"}, Type: corev1.SecretTypeDockerConfigJson, Data: json(`{`)},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "opaque"}, Type: corev1.SecretTypeOpaque, Data: json(`{}`)},
	}
	tests := []struct {
		name     string
		secrets  []string
		host     string
		wantUser string
	}{
		{"registry on loopback", []string{"broken", "local"}, "127.0.0.1:5000", "alice"},
		{"docker hub by its index URL, auth field", []string{"local", "hub"}, "docker.io", "bob"},
		{"no matching registry", []string{"local"}, "quay.io", ""},
		{"missing and non-docker secrets skipped", []string{"absent", "opaque"}, "127.0.0.1:5000", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Config{})
			p.SetListers(testListers(t, secrets...))
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}}
			for _, s := range tc.secrets {
				pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
			}
			got := p.pullAuth(pod, tc.host)
			switch {
			case tc.wantUser == "" && got != nil:
				t.Errorf("got credentials %+v, want none", got)
			case tc.wantUser != "" && (got == nil || got.Username != tc.wantUser):
				t.Errorf("got %+v, want user %s", got, tc.wantUser)
			}
		})
	}
}
