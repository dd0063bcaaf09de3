package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

// dockerConfig is the .dockerconfigjson format of kubernetes.io/dockerconfigjson Secrets (and .dockercfg's inner map).
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// pull makes sure the container's image (a new one, if the pod's spec changed it) is on the node; a failure leaves
// the container waiting in ErrImagePull, ErrImageNeverPull or InvalidImageName.
func (w *podWorker) pull(ctx context.Context, c *containerRecord) bool {
	w.p.mu.Lock()
	takeNewImageLocked(c)
	w.p.mu.Unlock()
	err := w.ensureImage(ctx, c)
	if err == nil {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	reason := "ErrImagePull"
	var nv errNeverPull
	var inv errInvalidImage
	switch {
	case errors.As(err, &nv):
		reason = "ErrImageNeverPull"
	case errors.As(err, &inv):
		reason = "InvalidImageName"
	}
	w.p.mu.Lock()
	w.waitLocked(c, reason, err.Error(), failedEvent(reason))
	w.p.mu.Unlock()
	return false
}

// ensureImage makes the container's image present as its imagePullPolicy says, then the images of the image
// volumes it mounts as theirs say (the kubelet pulls image volumes before it creates the container).
func (w *podWorker) ensureImage(ctx context.Context, c *containerRecord) error {
	if err := w.ensureImageRef(ctx, c, c.spec.Image, c.spec.ImagePullPolicy); err != nil {
		return err
	}
	for _, v := range podspec.MountedImageVolumes(w.r.pod, c.spec) {
		if err := w.ensureImageRef(ctx, nil, v.Reference, v.PullPolicy); err != nil {
			return err
		}
	}
	return nil
}

// ensureImageRef makes one image present as the pull policy says: container c's (which may have its answer to
// whether the image is present asked ahead), or an image volume's (c nil).
func (w *podWorker) ensureImageRef(ctx context.Context, c *containerRecord, image string, policy corev1.PullPolicy) error {
	rt := w.p.cfg.Runtime
	host, err := normalizeImage(image)
	if err != nil {
		w.p.cfg.Recorder.Event(w.r.pod, corev1.EventTypeWarning, "InspectFailed", err.Error())
		return err
	}
	if policy != corev1.PullAlways {
		ok, found := w.takeImageCheck(ctx, c, image)
		if !found {
			t := time.Now()
			err := w.p.retryUnreachable(ctx, "check image", func() (err error) {
				ok, err = rt.ImageExists(ctx, image)
				return err
			})
			if err != nil {
				return err
			}
			w.timed(opImageExists, t)
		}
		if ok {
			w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", image)
			return nil
		}
		if policy == corev1.PullNever {
			return errNeverPull{image: image}
		}
	}
	w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", image)
	start := time.Now()
	if err := w.p.pullImage(ctx, w.r.pod, image, host); err != nil {
		w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", image, err)
		return err
	}
	w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", image, time.Since(start).Round(time.Millisecond))
	return nil
}

// errNeverPull is an image that is absent while imagePullPolicy is Never.
type errNeverPull struct{ image string }

func (e errNeverPull) Error() string {
	return fmt.Sprintf("Container image %q is not present with pull policy of Never", e.image)
}

// normalizeImage checks an image name as the kubelet does and returns its registry host (docker.io for short names).
func normalizeImage(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", errInvalidImage{image: image, detail: err.Error()}
	}
	return reference.Domain(named), nil
}

// errInvalidImage is an image name that does not parse: the kubelet reports InvalidImageName and never pulls.
type errInvalidImage struct{ image, detail string }

func (e errInvalidImage) Error() string {
	return fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name %q: %s", e.image, e.image, e.detail)
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

// A container's image is the one field of it a pod update may change (kubectl set image). The kubelet notices the
// container's hash change (computePodActions): a running app container or sidecar is killed ("definition
// changed") and started again at once with the new image, whatever the restart policy; its restartCount goes up.
// The crash and image-pull back-offs are keyed by image, so a container in back-off starts again at once too. A
// regular init container that runs finishes on its old image; one that stopped for good stays stopped.

// watchImage kills the container's current run (id) once the pod's spec gives the container a new image, with
// the kubelet's Killing event, so that the runner starts it again with the new one. Regular init containers are
// not watched. The returned function stops watching, after a kill under way has completed.
func (w *podWorker) watchImage(ctx context.Context, c *containerRecord, id string) func() {
	if c.init && !c.sidecar {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.respec:
			}
			w.p.mu.Lock()
			changed := imageChangedLocked(c)
			c.respecKilled = changed
			grace := killGracePeriod(w.r.pod, nil)
			w.p.mu.Unlock()
			if !changed {
				continue // a change the run already has
			}
			msg := fmt.Sprintf("Container %s definition changed, will be restarted", c.spec.Name)
			if c.init {
				msg = fmt.Sprintf("Init container %s definition changed", c.spec.Name)
			}
			// The kill goes on if the watch is stopped meanwhile: the container is on its way out.
			w.killContainer(context.WithoutCancel(ctx), c, id, msg, grace)
			return
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// imageChangedLocked tells whether the pod's spec asks for another image than the container's current run has.
// p.mu must be held.
func imageChangedLocked(c *containerRecord) bool {
	return c.wantImage != "" && c.wantImage != c.spec.Image
}

// takeNewImageLocked gives the container's next run the image the pod's spec now asks for, with a fresh back-off.
// Only the runner calls it, between runs, so that its own reads of c.spec need no lock. p.mu must be held.
func takeNewImageLocked(c *containerRecord) {
	if !imageChangedLocked(c) {
		return
	}
	spec := c.spec.DeepCopy()
	spec.Image = c.wantImage
	c.spec = spec
	c.backoff = 0
}

// updateImagesLocked takes the containers' images from an updated pod. A container whose image changed gets the
// new one on its next run, and its runner is told. p.mu must be held.
func (w *podWorker) updateImagesLocked(pod *corev1.Pod) {
	want := map[string]string{}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			want[cs[i].Name] = cs[i].Image
		}
	}
	for _, c := range w.r.containers() {
		image := want[c.spec.Name]
		current := c.spec.Image
		if c.wantImage != "" {
			current = c.wantImage
		}
		if image == "" || image == current {
			continue
		}
		c.wantImage = image
		select {
		case c.respec <- struct{}{}:
		default: // already told
		}
	}
}

// wantImagesLocked sets the images of a copy of the record's pod to those its spec asks for now, so that the pod
// the provider reports matches the API's (virtual-kubelet updates a pod that differs). p.mu must be held.
func wantImagesLocked(r *podRecord, pod *corev1.Pod) {
	for _, c := range r.containers() {
		if c.wantImage == "" {
			continue
		}
		cs := pod.Spec.Containers
		if c.init {
			cs = pod.Spec.InitContainers
		}
		for i := range cs {
			if cs[i].Name == c.spec.Name {
				cs[i].Image = c.wantImage
			}
		}
	}
}

// imageCheck is an answer of Podman's to whether an image is present, asked ahead (prefetchImageChecks).
type imageCheck struct {
	image string
	done  chan struct{} // closed once ok, err and at are set
	ok    bool
	err   error
	at    time.Time
}

// imageCheckFresh is how old an answer asked ahead may be when the container's pull takes it; an older one is
// asked again (the sandbox may have taken long, retried with back-off).
const imageCheckFresh = 10 * time.Second

// prefetchImageChecks asks Podman, while the pod's sandbox is made, whether the images of its containers that may
// be present (imagePullPolicy other than Always) are, so that the first attempt of each container finds the answer
// ready instead of asking once the sandbox runs. The answers are the ones the pull then takes (takeImageCheck): its
// events and their order are the same. p.mu must not be held.
func (w *podWorker) prefetchImageChecks(ctx context.Context) {
	byImage := map[string]*imageCheck{}
	byContainer := map[*containerRecord]*imageCheck{}
	w.p.mu.Lock()
	for _, c := range append(append([]*containerRecord(nil), w.r.init...), w.r.app...) {
		image := c.spec.Image
		if c.spec.ImagePullPolicy == corev1.PullAlways {
			continue
		}
		if _, err := normalizeImage(image); err != nil {
			continue // the pull tells why
		}
		if byImage[image] == nil {
			byImage[image] = &imageCheck{image: image, done: make(chan struct{})}
		}
		byContainer[c] = byImage[image]
	}
	w.r.imageChecks = byContainer
	w.p.mu.Unlock()
	for image, ic := range byImage {
		go func() {
			defer close(ic.done)
			t := time.Now()
			ic.ok, ic.err = w.p.cfg.Runtime.ImageExists(ctx, image)
			ic.at = time.Now()
			w.timed(opImageExists, t)
		}()
	}
}

// takeImageCheck is the answer asked ahead for the image of container c, waited for, if the image is still the
// one asked about; a container takes it once (a later attempt asks again). found is false when there is none to
// take: none was asked, it failed, or it is older than imageCheckFresh.
func (w *podWorker) takeImageCheck(ctx context.Context, c *containerRecord, image string) (ok, found bool) {
	w.p.mu.Lock()
	ic := w.r.imageChecks[c]
	delete(w.r.imageChecks, c)
	w.p.mu.Unlock()
	if ic == nil || image != ic.image {
		return false, false
	}
	select {
	case <-ic.done:
	case <-ctx.Done():
		return false, false
	}
	if ic.err != nil || time.Since(ic.at) > imageCheckFresh {
		return false, false
	}
	return ic.ok, true
}
