package provider

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/registries"
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

// TestPullThroughRegistriesConfig checks pulls under berth-kubelet --registries-config: the mirrors of the image's
// registry are tried in order (insecure as configured), then the registry itself; an image pulled under a mirror's
// name gets the pod's name for it, so that its container is created; an image of no listed registry is pulled as
// named; a blocked registry and a pull that fails everywhere give ErrImagePull naming each failure.
func TestPullThroughRegistriesConfig(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(conf, []byte(`[[registry]]
prefix = "mirror.example.invalid"
location = "mirror.example.invalid"
[[registry.mirror]]
location = "127.0.0.1:5100"
insecure = true
[[registry.mirror]]
location = "mirror.example.org/cache"

[[registry]]
location = "blocked.example"
blocked = true
`), 0o644); err != nil {
		t.Fatal(err)
	}
	regs, err := registries.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	const (
		image   = "mirror.example.invalid/berth/busybox:1.35"
		first   = "127.0.0.1:5100/berth/busybox:1.35"
		second  = "mirror.example.org/cache/berth/busybox:1.35"
		primary = "mirror.example.invalid/berth/busybox:1.35"
	)
	tests := []struct {
		name       string
		image      string
		pullErrs   []string
		wantPulls  []string
		wantTags   []string
		wantReason string // empty: the container runs
		wantMsg    []string
	}{
		{name: "first mirror", image: image, wantPulls: []string{first + " (insecure)"}, wantTags: []string{first + " " + image}},
		{name: "second mirror", image: image, pullErrs: []string{first},
			wantPulls: []string{first + " (insecure)", second}, wantTags: []string{second + " " + image}},
		{name: "registry itself", image: image, pullErrs: []string{first, second},
			wantPulls: []string{first + " (insecure)", second, primary}},
		{name: "everywhere fails", image: image, pullErrs: []string{first, second, primary},
			wantPulls: []string{first + " (insecure)", second, primary}, wantReason: "ErrImagePull",
			wantMsg: []string{"no " + first, "no " + second, "no " + primary}},
		{name: "not listed", image: "quay.io/berth/busybox:1.35", wantPulls: []string{"quay.io/berth/busybox:1.35"}},
		{name: "blocked", image: "blocked.example/x:1", wantReason: "ErrImagePull", wantMsg: []string{"registry is blocked by " + conf}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, func(c *Config) { c.Registries = regs })
			for _, ref := range tc.pullErrs {
				h.fake.setPullError(ref, errors.New("no "+ref))
			}
			pod := lifecyclePod("mirrored", corev1.RestartPolicyAlways, nil, testContainer("a", tc.image))
			h.create(pod)
			if tc.wantReason == "" {
				h.waitContainer(ctrName(pod, "a", 1), "running")
			} else {
				p, _ := h.waitReported(pod, 0, tc.wantReason, func(p *corev1.Pod) bool { return waitingFor(p, "a", tc.wantReason) })
				msg := statusOf(p, "a").State.Waiting.Message
				for _, w := range tc.wantMsg {
					if !strings.Contains(msg, w) {
						t.Errorf("message %q lacks %q", msg, w)
					}
				}
			}
			if got := h.fake.callsTo("PullImage"); len(tc.wantPulls) > 0 && !slices.Equal(got[:min(len(got), len(tc.wantPulls))], tc.wantPulls) {
				t.Errorf("pulls %q, want %q first", got, tc.wantPulls)
			}
			if got := h.fake.callsTo("TagImage"); !slices.Equal(got, tc.wantTags) {
				t.Errorf("tags %q, want %q", got, tc.wantTags)
			}
		})
	}
}

// TestImageChecksAskedAhead: whether a pod's images are present is asked once per image while its sandbox is made,
// and the first attempt of each container takes that answer: the same events as when asked then.
func TestImageChecksAskedAhead(t *testing.T) {
	tests := []struct {
		name       string
		present    []string
		containers []corev1.Container
		wantExists []string // ImageExists calls, sorted
		wantPulls  []string
		wantEvents []string // by prefix, in order for each container
	}{
		{
			name:       "present, two containers of one image",
			present:    []string{"busybox"},
			containers: []corev1.Container{testContainer("a", "busybox"), testContainer("b", "busybox")},
			wantExists: []string{"busybox"},
			wantEvents: []string{`Normal Pulled Container image "busybox" already present on machine`},
		},
		{
			name:       "absent: pulled",
			containers: []corev1.Container{testContainer("a", "example.com/app:1")},
			wantExists: []string{"example.com/app:1"},
			wantPulls:  []string{"example.com/app:1"},
			wantEvents: []string{`Normal Pulling Pulling image "example.com/app:1"`, `Normal Pulled Successfully pulled image "example.com/app:1"`},
		},
		{
			name:       "pull policy Always: not asked",
			containers: []corev1.Container{{Name: "a", Image: "example.com/app:1", ImagePullPolicy: corev1.PullAlways}},
			wantPulls:  []string{"example.com/app:1"},
			wantEvents: []string{`Normal Pulling Pulling image "example.com/app:1"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.present...)
			ev := &eventLog{}
			h.p.cfg.Recorder = ev
			pod := lifecyclePod("prefetch", corev1.RestartPolicyAlways, nil, tc.containers...)
			h.create(pod)
			h.waitReported(pod, 0, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
			if got := slices.Sorted(slices.Values(h.fake.callsTo("ImageExists"))); !slices.Equal(got, tc.wantExists) {
				t.Errorf("ImageExists calls %q, want %q", got, tc.wantExists)
			}
			if got := h.fake.callsTo("PullImage"); !slices.Equal(got, tc.wantPulls) {
				t.Errorf("PullImage calls %q, want %q", got, tc.wantPulls)
			}
			for _, want := range tc.wantEvents {
				if !ev.has(want) {
					t.Errorf("no event %q in %q", want, ev.events)
				}
			}
		})
	}
}
