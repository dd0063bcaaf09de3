package registries

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/types"
)

// noDropIns is given to containers/image as the drop-in folder when a file is read alone: it does not exist, so
// neither the host's /etc/containers/registries.conf.d nor the user's ~/.config one is merged in.
const noDropIns = "/nonexistent/berth/registries.conf.d"

// File is a registries.conf read strictly and validated by containers/image.
type File struct {
	// Path is the file's path.
	Path string
	// raw is the file's content.
	raw []byte
	// conf is the file as decoded (prefixes as written, not yet defaulted to locations).
	conf sysregistriesv2.V2RegistriesConf
}

// Load reads the registries.conf at path. Its errors do not repeat the path; callers name it with their flag.
func Load(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("read: %w", pe.Err)
		}
		return nil, fmt.Errorf("read: %w", err)
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	f := &File{Path: path, raw: raw}
	if err := decodeStrict(raw, &f.conf); err != nil {
		return nil, err
	}
	if err := validate(path); err != nil {
		return nil, err
	}
	return f, nil
}

// decodeStrict decodes a version 2 registries.conf and refuses keys it does not know, which containers/image
// would only log at debug level and ignore.
func decodeStrict(raw []byte, conf *sysregistriesv2.V2RegistriesConf) error {
	meta, err := toml.Decode(string(raw), conf)
	if err != nil {
		return err
	}
	undecoded := meta.Undecoded()
	if len(undecoded) == 0 {
		return nil
	}
	var keys []string
	for _, k := range undecoded {
		if len(k) > 0 && k[0] == "registries" {
			return fmt.Errorf("version 1 format ([registries.search], [registries.insecure], ...) is not supported: write version 2 ([[registry]] tables, see containers-registries.conf(5))")
		}
		keys = append(keys, fmt.Sprintf("%q", k.String()))
	}
	return fmt.Errorf("unknown key %s (see containers-registries.conf(5) version 2)", strings.Join(keys, ", "))
}

// sys is the containers/image context that reads the file at path alone.
func sys(path string) *types.SystemContext {
	return &types.SystemContext{SystemRegistriesConfPath: path, SystemRegistriesConfDirPath: noDropIns}
}

// validate has containers/image parse the file at path as Podman would: prefixes, locations, mirrors, conflicting
// settings of one location, short-name mode and aliases. It also loads containers/image's cache for path, which
// PullSources reads.
func validate(path string) error {
	if _, err := sysregistriesv2.TryUpdatingCache(sys(path)); err != nil {
		// containers/image says "loading registries configuration <path>: <problem>"; the caller names the file.
		if inner := errors.Unwrap(err); inner != nil && strings.HasPrefix(err.Error(), "loading registries configuration") {
			return inner
		}
		return err
	}
	return nil
}

// Berth's own entries: registries on loopback (as tests and local mirrors run them) are spoken to over plain HTTP;
// short names resolve as Kubernetes resolves them (docker.io), never by prompting.
const (
	defaultSearchRegistries = `unqualified-search-registries = ["docker.io"]`
	defaultShortNameMode    = `short-name-mode = "disabled"`
)

// loopbackRegistries are the locations Berth marks insecure.
var loopbackRegistries = []string{"127.0.0.1", "localhost"}

// NodeConfig is the registries.conf Berth writes for each Podman service berth up starts: Berth's own settings
// (unqualified-search-registries docker.io, short-name-mode disabled, 127.0.0.1 and localhost insecure) merged
// with the user's file (nil for none). The user's file wins: a top-level setting it makes replaces Berth's, and a
// [[registry]] whose prefix or location is 127.0.0.1 or localhost replaces Berth's entry for that location. The
// user's file is copied as written (comments included). The result is validated by containers/image.
func NodeConfig(user *File) (string, error) {
	var b strings.Builder
	b.WriteString("# Written by berth; edits are overwritten.\n")
	if user == nil || user.conf.UnqualifiedSearchRegistries == nil {
		b.WriteString(defaultSearchRegistries + "\n")
	}
	if user == nil || user.conf.ShortNameMode == "" {
		b.WriteString(defaultShortNameMode + "\n")
	}
	if user != nil {
		fmt.Fprintf(&b, "\n# From --registries-config %s:\n", user.Path)
		b.Write(user.raw)
		if len(user.raw) > 0 && user.raw[len(user.raw)-1] != '\n' {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "# End of %s.\n", user.Path)
	}
	for _, loc := range loopbackRegistries {
		if user != nil && user.names(loc) {
			continue
		}
		fmt.Fprintf(&b, "\n[[registry]]\nlocation = %q\ninsecure = true\n", loc)
	}
	out := b.String()
	if err := validateContent(out); err != nil {
		return "", fmt.Errorf("the merged registries.conf does not parse: %w", err)
	}
	return out, nil
}

// names tells whether the file has a [[registry]] whose prefix or location is loc.
func (f *File) names(loc string) bool {
	for _, r := range f.conf.Registries {
		prefix := r.Prefix
		if prefix == "" {
			prefix = r.Location
		}
		if strings.TrimRight(prefix, "/") == loc || strings.TrimRight(r.Location, "/") == loc {
			return true
		}
	}
	return false
}

// validateContent checks a registries.conf held in memory, as Load checks a file.
func validateContent(content string) error {
	var conf sysregistriesv2.V2RegistriesConf
	if err := decodeStrict([]byte(content), &conf); err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "berth-registries-*.conf")
	if err != nil {
		return fmt.Errorf("check registries.conf: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("check registries.conf: %w", err)
	}
	return validate(tmp.Name())
}

// Source is one place to pull an image from.
type Source struct {
	// Ref is the image reference at that place (the image's name rewritten to the mirror's location).
	Ref string
	// Insecure allows plain HTTP and unverified TLS there.
	Insecure bool
	// Mirror is true for a mirror, false for the registry the image names (or its configured location).
	Mirror bool
}

// ErrBlocked is returned by PullSources for an image whose registry the file blocks.
var ErrBlocked = errors.New("registry is blocked")

// PullSources lists where to pull image (a fully qualified reference, as reference.ParseNormalizedNamed gives) from,
// in order, as containers/image would: the mirrors of the file's [[registry]] with the longest matching prefix
// (within their mirror-by-digest-only and pull-from-mirror limits), then that entry's location. It returns nil
// when no entry matches: pull the image as named.
func (f *File) PullSources(image string) ([]Source, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return nil, fmt.Errorf("parse image %q: %w", image, err)
	}
	named = reference.TagNameOnly(named) // as the kubelet, which pulls :latest of a name without tag or digest
	reg, err := sysregistriesv2.FindRegistry(sys(f.Path), named.String())
	if err != nil {
		return nil, fmt.Errorf("registries config %s: %w", f.Path, err)
	}
	if reg == nil {
		return nil, nil
	}
	if reg.Blocked {
		return nil, fmt.Errorf("%w by %s (prefix %q)", ErrBlocked, f.Path, reg.Prefix)
	}
	pss, err := reg.PullSourcesFromReference(named)
	if err != nil {
		return nil, fmt.Errorf("rewrite %q by the registries config %s: %w", image, f.Path, err)
	}
	out := make([]Source, 0, len(pss))
	for i, ps := range pss {
		out = append(out, Source{Ref: ps.Reference.String(), Insecure: ps.Endpoint.Insecure, Mirror: i < len(pss)-1})
	}
	return out, nil
}
