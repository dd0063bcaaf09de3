package provider

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

// errInvalidImage is an image name that does not parse: the kubelet reports InvalidImageName and never pulls.
type errInvalidImage struct{ image, detail string }

func (e errInvalidImage) Error() string {
	return fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name %q: %s", e.image, e.image, e.detail)
}

// normalizeImage checks an image name as the kubelet does and returns its registry host (docker.io for short names).
func normalizeImage(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", errInvalidImage{image: image, detail: err.Error()}
	}
	return reference.Domain(named), nil
}

// dockerConfig is the .dockerconfigjson format of kubernetes.io/dockerconfigjson Secrets (and .dockercfg's inner map).
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// pullAuth finds credentials for an image's registry in the pod's imagePullSecrets, as the kubelet's keyring does
// (first matching secret wins). Secrets that are missing or malformed are skipped.
func (p *Provider) pullAuth(pod *corev1.Pod, host string) *podman.Auth {
	if p.listers.Secrets == nil {
		return nil
	}
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := p.listers.Secrets.Secrets(pod.Namespace).Get(ref.Name)
		if err != nil {
			continue
		}
		var cfg dockerConfig
		switch s.Type {
		case corev1.SecretTypeDockerConfigJson:
			if json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg) != nil {
				continue
			}
		case corev1.SecretTypeDockercfg:
			if json.Unmarshal(s.Data[corev1.DockerConfigKey], &cfg.Auths) != nil {
				continue
			}
		default:
			continue
		}
		for server, a := range cfg.Auths {
			if registryHost(server) != host {
				continue
			}
			if a.Username == "" && a.Auth != "" {
				if raw, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
					a.Username, a.Password, _ = strings.Cut(string(raw), ":")
				}
			}
			if a.Username != "" {
				return &podman.Auth{Username: a.Username, Password: a.Password}
			}
		}
	}
	return nil
}

// registryHost reduces a docker config server key ("https://index.docker.io/v1/", "127.0.0.1:5000") to a host.
func registryHost(server string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	switch h {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return h
}
