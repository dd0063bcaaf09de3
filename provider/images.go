package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

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

// pullImage pulls a container's image. With berth-kubelet --registries-config naming the image's registry, it
// tries that entry's mirrors in order, then the registry itself (as containers/image would, see
// registries.File.PullSources), each with the pod's imagePullSecrets for that host and the entry's insecure
// setting, and names the image pulled from elsewhere as the pod does, so that Podman finds it by that name.
// Otherwise it pulls the image as named, and the Podman service's own registries.conf applies.
func (p *Provider) pullImage(ctx context.Context, pod *corev1.Pod, image, host string) error {
	rt := p.cfg.Runtime
	pull := func(ref, host string, insecure bool) error {
		return p.retryUnreachable(ctx, "pull image", func() error {
			return rt.PullImage(ctx, ref, podman.PullOptions{Auth: p.pullAuth(pod, host), Insecure: insecure})
		})
	}
	if p.cfg.Registries == nil {
		return pull(image, host, false)
	}
	sources, err := p.cfg.Registries.PullSources(image)
	if err != nil {
		return err
	}
	if len(sources) == 0 {
		return pull(image, host, false)
	}
	var failed pullErrors
	for _, s := range sources {
		sourceHost, err := normalizeImage(s.Ref)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		err = pull(s.Ref, sourceHost, s.Insecure)
		if err == nil {
			return p.nameImage(ctx, s.Ref, image)
		}
		if ctx.Err() != nil {
			return err
		}
		klog.FromContext(ctx).V(2).Info("Pull failed; trying the next source", "pod", klog.KObj(pod), "image", image, "source", s.Ref, "err", err)
		failed = append(failed, err)
	}
	return failed
}

// nameImage gives the image pulled as pulled the name image, unless it has it already. An image named by digest
// needs no other name: Podman finds an image by its digest.
func (p *Provider) nameImage(ctx context.Context, pulled, image string) error {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return errInvalidImage{image: image, detail: err.Error()}
	}
	if _, digested := named.(reference.Digested); digested {
		return nil
	}
	name := reference.TagNameOnly(named).String()
	if name == pulled {
		return nil
	}
	return p.retryUnreachable(ctx, "tag image", func() error { return p.cfg.Runtime.TagImage(ctx, pulled, name) })
}

// pullErrors are the failed pulls of an image from each of its sources, in order.
type pullErrors []error

func (e pullErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e pullErrors) Unwrap() []error { return e }
