package podman

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/containers/podman/v4/pkg/bindings/images"
	"github.com/distribution/reference"
)

// ImageRuntime is the images stored on the Podman host (CRI's ImageService).
type ImageRuntime interface {
	// ImageExists tells whether an image is stored locally.
	ImageExists(ctx context.Context, ref string) (bool, error)
	// PullImage pulls an image from its registry.
	PullImage(ctx context.Context, ref string, opts PullOptions) error
	// TagImage gives the local image ref another name (a tagged reference).
	TagImage(ctx context.Context, ref, name string) error
	// ListImages lists local images.
	ListImages(ctx context.Context) ([]Image, error)
	// ImportImage imports a root filesystem tarball as an image with the given reference.
	ImportImage(ctx context.Context, ref string, rootfs io.Reader) error
	// ImageUser reports the user an image is configured to run as ("" for none: root).
	ImageUser(ctx context.Context, ref string) (string, error)
}

// Auth is a registry credential.
type Auth struct {
	Username, Password string
}

// PullOptions are how to pull an image.
type PullOptions struct {
	// Auth are the registry's credentials; nil for none.
	Auth *Auth
	// Insecure allows plain HTTP and unverified TLS (a mirror the registries config marks insecure). A registry
	// on loopback is always spoken to this way.
	Insecure bool
}

// Image is an image stored on the Podman host.
type Image struct {
	ID    string
	Names []string
	Size  int64
}

// Qualified is an image reference as Kubernetes reads it, fully qualified for Podman: "foo" is
// docker.io/library/foo:latest, "org/foo:1" docker.io/org/foo:1; a reference by digest keeps its digest. Podman
// would otherwise resolve a short name through its short-name rules (localhost/foo:latest first when such an image
// exists, then the search registries), which neither a kubelet nor its runtime does. A reference that does not
// parse is returned as it is (the provider refuses such names before it gets here, with InvalidImageName).
func Qualified(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.TagNameOnly(named).String()
}

// ImageExists implements ImageRuntime.
func (c *Client) ImageExists(ctx context.Context, ref string) (bool, error) {
	ref = Qualified(ref)
	ok, err := images.Exists(c.ctx(ctx), ref, nil)
	if err != nil {
		return false, fmt.Errorf("check image %s: %w", ref, err)
	}
	return ok, nil
}

// PullImage implements ImageRuntime.
func (c *Client) PullImage(ctx context.Context, ref string, opts PullOptions) error {
	ref = Qualified(ref)
	o := new(images.PullOptions).WithQuiet(true).WithPolicy("always")
	if opts.Auth != nil {
		o = o.WithUsername(opts.Auth.Username).WithPassword(opts.Auth.Password)
	}
	if opts.Insecure || loopbackRegistry(ref) {
		// A registry on this machine's loopback (as tests start) speaks plain HTTP, as docker treats localhost.
		o = o.WithSkipTLSVerify(true)
	}
	if _, err := images.Pull(c.ctx(ctx), ref, o); err != nil {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	return nil
}

// TagImage implements ImageRuntime.
func (c *Client) TagImage(ctx context.Context, ref, name string) error {
	ref = Qualified(ref)
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return fmt.Errorf("tag image %s as %s: %w", ref, name, err)
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return fmt.Errorf("tag image %s as %s: the name has no tag", ref, name)
	}
	if err := images.Tag(c.ctx(ctx), ref, tagged.Tag(), named.Name(), nil); err != nil {
		return fmt.Errorf("tag image %s as %s: %w", ref, name, err)
	}
	return nil
}

// loopbackRegistry tells whether an image reference names a registry on 127.0.0.0/8 or localhost with a port.
func loopbackRegistry(ref string) bool {
	host, _, ok := strings.Cut(ref, "/")
	if !ok {
		return false
	}
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// ListImages implements ImageRuntime.
func (c *Client) ListImages(ctx context.Context) ([]Image, error) {
	list, err := images.List(c.ctx(ctx), nil)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]Image, 0, len(list))
	for _, im := range list {
		out = append(out, Image{ID: im.ID, Names: im.RepoTags, Size: im.Size})
	}
	return out, nil
}

// ImportImage implements ImageRuntime.
func (c *Client) ImportImage(ctx context.Context, ref string, rootfs io.Reader) error {
	if _, err := images.Import(c.ctx(ctx), rootfs, new(images.ImportOptions).WithReference(ref)); err != nil {
		return fmt.Errorf("import image %s: %w", ref, err)
	}
	return nil
}

// ImageUser implements ImageRuntime.
func (c *Client) ImageUser(ctx context.Context, ref string) (string, error) {
	ref = Qualified(ref)
	im, err := images.GetImage(c.ctx(ctx), ref, nil)
	if err != nil {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if im.ImageData != nil && im.Config != nil && im.Config.User != "" {
		return im.Config.User, nil
	}
	if im.ImageData != nil {
		return im.User, nil
	}
	return "", nil
}
