package registries

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/types"
)

// write puts content in a file of its own and returns its path.
func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const mirrorConf = `# Air-gapped: everything from registry.k8s.io through the local mirror.
[[registry]]
prefix = "registry.k8s.io"
location = "registry.k8s.io"
[[registry.mirror]]
location = "127.0.0.1:5100"
insecure = true
`

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{name: "mirror", content: mirrorConf},
		{name: "empty", content: ""},
		{name: "every v2 setting", content: `unqualified-search-registries = ["quay.io"]
short-name-mode = "enforcing"
credential-helpers = ["containers-auth.json"]

[aliases]
"pause" = "registry.k8s.io/pause"

[[registry]]
prefix = "*.example.com"
blocked = true

[[registry]]
prefix = "docker.io/library"
location = "docker.io/library"
mirror-by-digest-only = true
[[registry.mirror]]
location = "mirror.example.org/library"
`},
		{name: "pull-from-mirror", content: `[[registry]]
location = "quay.io"
[[registry.mirror]]
location = "127.0.0.1:5100"
pull-from-mirror = "tag-only"
`},
		{name: "syntax error", content: "[[registry]\nlocation = 1\n", wantErr: "toml: line 2: expected end of table array name"},
		{name: "wrong type", content: "[[registry]]\nlocation = 1\n", wantErr: "toml: line 2"},
		{name: "unknown key in a registry", content: "[[registry]]\nlocation = \"quay.io\"\nmirrors = [\"x\"]\n",
			wantErr: `unknown key "registry.mirrors"`},
		{name: "unknown key in a mirror", content: "[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\nlocation = \"m\"\ninsecure_ = true\n",
			wantErr: `unknown key "registry.mirror.insecure_"`},
		{name: "unknown top-level key", content: "search-registries = [\"quay.io\"]\n", wantErr: `unknown key "search-registries"`},
		{name: "version 1", content: "[registries.search]\nregistries = [\"docker.io\"]\n", wantErr: "version 1 format"},
		{name: "mirror without location", content: "[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\ninsecure = true\n",
			wantErr: "mirror location is unset"},
		{name: "neither prefix nor location", content: "[[registry]]\ninsecure = true\n", wantErr: "both location and prefix are unset"},
		{name: "URL as location", content: "[[registry]]\nlocation = \"https://quay.io\"\n", wantErr: "URI schemes are not supported"},
		{name: "bad short-name mode", content: "short-name-mode = \"sometimes\"\n", wantErr: `invalid short-name mode: "sometimes"`},
		{name: "bad search registry", content: "unqualified-search-registries = [\"Not A Host\"]\n", wantErr: "Invalid unqualified-search-registries entry"},
		{name: "conflicting insecure", content: "[[registry]]\nprefix = \"a.example\"\nlocation = \"quay.io\"\ninsecure = true\n[[registry]]\nprefix = \"b.example\"\nlocation = \"quay.io\"\n",
			wantErr: "conflicting 'insecure' setting"},
		{name: "wildcard with a port", content: "[[registry]]\nprefix = \"*.example.com:5000\"\nlocation = \"x.example.com\"\n", wantErr: "Wildcarded prefix"},
		{name: "bad pull-from-mirror", content: "[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"never\"\n",
			wantErr: `unsupported pull-from-mirror value "never"`},
		{name: "short name as alias target", content: "[aliases]\n\"pause\" = \"pause\"\n", wantErr: "pause"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, tc.content)
			f, err := Load(path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if f.Path != path {
					t.Errorf("Path %q, want %q", f.Path, path)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), path) {
				t.Errorf("error %q repeats the path; the caller names the file", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.conf"))
	if err == nil || err.Error() != "read: no such file or directory" {
		t.Fatalf("error %v, want read: no such file or directory", err)
	}
}

// registry is what containers/image resolves a reference to in a registries.conf: nil for no entry.
type registry struct {
	Location string
	Insecure bool
	Mirrors  []string
}

func resolve(t *testing.T, path, ref string) *registry {
	t.Helper()
	reg, err := sysregistriesv2.FindRegistry(sys(path), ref)
	if err != nil {
		t.Fatalf("FindRegistry %s: %v", ref, err)
	}
	if reg == nil {
		return nil
	}
	out := &registry{Location: reg.Location, Insecure: reg.Insecure}
	for _, m := range reg.Mirrors {
		out.Mirrors = append(out.Mirrors, m.Location)
	}
	return out
}

func TestNodeConfig(t *testing.T) {
	loopback := func(loc string) *registry { return &registry{Location: loc, Insecure: true} }
	tests := []struct {
		name string
		// user is the --registries-config content; absent for none.
		user *string
		// want maps references to what containers/image resolves them to in the merged file.
		want         map[string]*registry
		wantSearch   []string
		wantShortMod types.ShortNameMode
		// wantText are lines the merged file has, in this order.
		wantText []string
	}{
		{
			name:         "no user file: Berth's entries",
			want:         map[string]*registry{"127.0.0.1:5000/x": loopback("127.0.0.1"), "localhost:5000/x": loopback("localhost"), "quay.io/x": nil},
			wantSearch:   []string{"docker.io"},
			wantShortMod: types.ShortNameModeDisabled,
		},
		{
			name: "mirror added to Berth's entries",
			user: ptr(mirrorConf),
			want: map[string]*registry{
				"registry.k8s.io/e2e-test-images/agnhost:2.53": {Location: "registry.k8s.io", Mirrors: []string{"127.0.0.1:5100"}},
				"127.0.0.1:5100/e2e-test-images/agnhost:2.53":  loopback("127.0.0.1"),
				"localhost:5000/x": loopback("localhost"),
			},
			wantSearch:   []string{"docker.io"},
			wantShortMod: types.ShortNameModeDisabled,
			wantText:     []string{"# Air-gapped: everything from registry.k8s.io through the local mirror.", `location = "127.0.0.1:5100"`, `location = "localhost"`},
		},
		{
			name:         "user's search registries and short-name mode replace Berth's",
			user:         ptr("unqualified-search-registries = [\"quay.io\", \"docker.io\"]\nshort-name-mode = \"permissive\""),
			want:         map[string]*registry{"127.0.0.1:5000/x": loopback("127.0.0.1")},
			wantSearch:   []string{"quay.io", "docker.io"},
			wantShortMod: types.ShortNameModePermissive,
		},
		{
			name:         "empty search list is kept",
			user:         ptr("unqualified-search-registries = []\n"),
			wantSearch:   []string{},
			wantShortMod: types.ShortNameModeDisabled,
		},
		{
			name: "user's entry for 127.0.0.1 wins",
			user: ptr("[[registry]]\nlocation = \"127.0.0.1\"\ninsecure = false\nblocked = false\n"),
			want: map[string]*registry{"127.0.0.1:5000/x": {Location: "127.0.0.1"}, "localhost:5000/x": loopback("localhost")},
		},
		{
			name: "user's entry with localhost as location under another prefix wins",
			user: ptr("[[registry]]\nprefix = \"images.example\"\nlocation = \"localhost\"\n"),
			want: map[string]*registry{"images.example/x": {Location: "localhost"}, "localhost:5000/x": nil, "127.0.0.1:5000/x": loopback("127.0.0.1")},
		},
		{
			name: "user's entry for a port of 127.0.0.1 keeps Berth's entry",
			user: ptr("[[registry]]\nlocation = \"127.0.0.1:5443\"\n"),
			want: map[string]*registry{"127.0.0.1:5443/x": {Location: "127.0.0.1:5443"}, "127.0.0.1:5000/x": loopback("127.0.0.1")},
		},
		{
			name: "prefix with a trailing slash names the same registry",
			user: ptr("[[registry]]\nprefix = \"localhost/\"\nlocation = \"localhost\"\ninsecure = false\n"),
			want: map[string]*registry{"localhost:5000/x": {Location: "localhost"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var user *File
			if tc.user != nil {
				f, err := Load(write(t, *tc.user))
				if err != nil {
					t.Fatal(err)
				}
				user = f
			}
			out, err := NodeConfig(user)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out, "# Written by berth; edits are overwritten.\n") {
				t.Errorf("no header:\n%s", out)
			}
			if user != nil && !strings.Contains(out, strings.TrimSpace(*tc.user)) {
				t.Errorf("the user's file is not copied as written:\n%s", out)
			}
			rest := out
			for _, line := range tc.wantText {
				i := strings.Index(rest, line+"\n")
				if i < 0 {
					t.Fatalf("merged file lacks %q (in this order):\n%s", line, out)
				}
				rest = rest[i+len(line):]
			}
			path := write(t, out)
			if _, err := Load(path); err != nil {
				t.Fatalf("merged file does not load: %v\n%s", err, out)
			}
			for ref, want := range tc.want {
				if got := resolve(t, path, ref); !reflect.DeepEqual(got, want) {
					t.Errorf("%s resolves to %+v, want %+v", ref, got, want)
				}
			}
			if tc.wantSearch != nil {
				got, err := sysregistriesv2.UnqualifiedSearchRegistries(sys(path))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.wantSearch) {
					t.Errorf("unqualified-search-registries %q, want %q", got, tc.wantSearch)
				}
			}
			if tc.wantShortMod != 0 {
				got, err := sysregistriesv2.GetShortNameMode(sys(path))
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.wantShortMod {
					t.Errorf("short-name mode %v, want %v", got, tc.wantShortMod)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestPullSources(t *testing.T) {
	f, err := Load(write(t, `[[registry]]
prefix = "mirror.example.invalid"
location = "mirror.example.invalid"
[[registry.mirror]]
location = "127.0.0.1:5100"
insecure = true

[[registry]]
prefix = "registry.k8s.io/e2e-test-images"
location = "registry.k8s.io/e2e-test-images"
[[registry.mirror]]
location = "127.0.0.1:5100/e2e"
insecure = true
[[registry.mirror]]
location = "mirror.example.org/e2e"

[[registry]]
prefix = "docker.io"
location = "docker.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "mirror.example.org"

[[registry]]
location = "evil.example"
blocked = true
`))
	if err != nil {
		t.Fatal(err)
	}
	const digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	tests := []struct {
		image   string
		want    []Source
		wantErr string
	}{
		{image: "mirror.example.invalid/berth/busybox:1.35", want: []Source{
			{Ref: "127.0.0.1:5100/berth/busybox:1.35", Insecure: true, Mirror: true},
			{Ref: "mirror.example.invalid/berth/busybox:1.35"},
		}},
		{image: "registry.k8s.io/e2e-test-images/agnhost:2.53", want: []Source{
			{Ref: "127.0.0.1:5100/e2e/agnhost:2.53", Insecure: true, Mirror: true},
			{Ref: "mirror.example.org/e2e/agnhost:2.53", Mirror: true},
			{Ref: "registry.k8s.io/e2e-test-images/agnhost:2.53"},
		}},
		{image: "registry.k8s.io/pause:3.10", want: nil},
		{image: "busybox", want: []Source{{Ref: "docker.io/library/busybox:latest"}}},
		{image: "busybox@" + digest, want: []Source{
			{Ref: "mirror.example.org/library/busybox@" + digest, Mirror: true},
			{Ref: "docker.io/library/busybox@" + digest},
		}},
		{image: "evil.example/x:1", wantErr: "registry is blocked by "},
		{image: "Bad:Name!", wantErr: `parse image "Bad:Name!"`},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			got, err := f.PullSources(tc.image)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(tc.wantErr, "blocked") && !errors.Is(err, ErrBlocked) {
					t.Errorf("error %v is not ErrBlocked", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
