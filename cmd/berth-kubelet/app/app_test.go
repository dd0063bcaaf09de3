package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/berth-dev/berth/provider"
)

func TestOptionsValidate(t *testing.T) {
	valid := func() *Options {
		return &Options{NodeIP: "192.0.2.2", Port: 10250, TLSCertFile: "c", TLSKeyFile: "k", RootDir: "/var/lib/berth-kubelet", PodmanUnreachableGrace: 40 * time.Second,
			PodmanUnreachableNodeGrace: 30 * time.Second, MaxContainerRestartPeriod: 300 * time.Second, MaxPods: 110}
	}
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{"valid", func(*Options) {}, ""},
		{"no node ip", func(o *Options) { o.NodeIP = "" }, "--node-ip is required"},
		{"loopback node ip", func(o *Options) { o.NodeIP = "127.0.0.1" }, "loopback address: the apiserver refuses to proxy"},
		{"not an ip", func(o *Options) { o.NodeIP = "host" }, `--node-ip "host" is not an IP address`},
		{"serving cert without its key", func(o *Options) { o.TLSKeyFile = "" }, "--tls-cert-file and --tls-private-key-file go together"},
		{"self-signed serving cert", func(o *Options) { o.TLSKeyFile, o.TLSCertFile = "", "" }, ""},
		{"rotated serving certs", func(o *Options) { o.TLSKeyFile, o.TLSCertFile, o.RotateServerCertificates = "", "", true }, ""},
		{"rotated serving certs and a cert file", func(o *Options) { o.RotateServerCertificates = true }, "--rotate-server-certificates requests the serving certificate from the cluster: drop --tls-cert-file"},
		{"cert dir", func(o *Options) { o.CertDir = "/var/lib/berth-kubelet/pki" }, ""},
		{"relative cert dir", func(o *Options) { o.CertDir = "pki" }, `--cert-dir "pki" must be an absolute path`},
		{"more pods than the kubelet's default", func(o *Options) { o.MaxPods = 250 }, ""},
		{"no pods", func(o *Options) { o.MaxPods = 0 }, "--max-pods 0 must be positive"},
		{"negative max pods", func(o *Options) { o.MaxPods = -1 }, "--max-pods -1 must be positive"},
		{"port out of range", func(o *Options) { o.Port = 70000 }, "--port 70000 is out of range"},
		{"taints", func(o *Options) { o.Taints = []string{"berth.dev/podman=true:NoSchedule", "dedicated:NoExecute"} }, ""},
		{"bad taint effect", func(o *Options) { o.Taints = []string{"a=b:Sometimes"} }, `--register-with-taints "a=b:Sometimes": want key=value:Effect`},
		{"bad hairpin mode", func(o *Options) { o.HairpinMode = "promiscuous-bridge" }, `--hairpin-mode "promiscuous-bridge": want hairpin-veth or none`},
		{"cluster dns", func(o *Options) { o.ClusterDNS = []string{"10.96.0.10", "fd00::a"} }, ""},
		{"bad cluster dns", func(o *Options) { o.ClusterDNS = []string{"dns.local"} }, `--cluster-dns "dns.local" is not an IP address`},
		{"root dir", func(o *Options) { o.RootDir = "/var/lib/berth-kubelet" }, ""},
		{"relative root dir", func(o *Options) { o.RootDir = "state" }, `--root-dir "state" must be an absolute path`},
		{"no root dir", func(o *Options) { o.RootDir = "" }, `--root-dir "" must be an absolute path`},
		{"allowed host paths", func(o *Options) { o.HostPaths = []string{"/srv", "/var/log"} }, ""},
		{"relative host path", func(o *Options) { o.HostPaths = []string{"srv"} }, `--allowed-host-paths "srv" must be an absolute path`},
		{"user namespaces from a later span", func(o *Options) { o.UserNamespacesFirstID = 111 * 65536 }, ""},
		{"user namespaces from the host's IDs", func(o *Options) { o.UserNamespacesFirstID = 1000 }, "--user-namespaces-first-id: the first ID, 1000, must be a multiple of 65536, at least 65536"},
		{"allowed capabilities", func(o *Options) { o.AllowedCapabilities = []string{"NET_ADMIN", "cap_sys_time", "ALL", "*"} }, ""},
		{"bad capability", func(o *Options) { o.AllowedCapabilities = []string{"NET ADMIN"} }, `--allowed-capabilities "NET ADMIN" is not a capability name`},
		{"empty capability", func(o *Options) { o.AllowedCapabilities = []string{"CAP_"} }, `--allowed-capabilities "CAP_" is not a capability name`},
		{"apiserver address", func(o *Options) { o.APIServer = "192.0.2.2:6443" }, ""},
		{"apiserver address without port", func(o *Options) { o.APIServer = "192.0.2.2" }, `--apiserver-address "192.0.2.2": want host:port`},
		{"short podman unreachable grace", func(o *Options) { o.PodmanUnreachableGrace = 10 * time.Second }, ""},
		{"zero podman unreachable grace", func(o *Options) { o.PodmanUnreachableGrace = 0 }, "--podman-unreachable-grace 0s must be positive"},
		{"short podman unreachable node grace", func(o *Options) { o.PodmanUnreachableNodeGrace = 10 * time.Second }, ""},
		{"negative podman unreachable node grace", func(o *Options) { o.PodmanUnreachableNodeGrace = -time.Second }, "--podman-unreachable-node-grace -1s must be positive"},
		{"short max container restart period", func(o *Options) { o.MaxContainerRestartPeriod = time.Second }, ""},
		{"max container restart period under 1s", func(o *Options) { o.MaxContainerRestartPeriod = 500 * time.Millisecond },
			"--max-container-restart-period 500ms must be between 1s and 5m0s, as the kubelet's crashLoopBackOff.maxContainerRestartPeriod"},
		{"max container restart period over 300s", func(o *Options) { o.MaxContainerRestartPeriod = 301 * time.Second },
			"--max-container-restart-period 5m1s must be between 1s and 5m0s, as the kubelet's crashLoopBackOff.maxContainerRestartPeriod"},
		{"allowed unsafe sysctls", func(o *Options) {
			o.AllowedUnsafeSysctls = []string{"kernel.msg*", "net.core.somaxconn", "kernel/sem", "fs.mqueue.*"}
		}, ""},
		{"unsafe sysctl not namespaced", func(o *Options) { o.AllowedUnsafeSysctls = []string{"vm.swappiness"} }, `--allowed-unsafe-sysctls: the sysctls "vm.swappiness" are not known to be namespaced`},
		{"malformed unsafe sysctl", func(o *Options) { o.AllowedUnsafeSysctls = []string{"kernel..msgmax"} }, `--allowed-unsafe-sysctls: sysctl "kernel..msgmax" must have at most 253 characters and match regex`},
		{"relative hosts file", func(o *Options) { o.HostsFile = "hosts" }, `--hosts-file "hosts" must be an absolute path`},
		{"exits folder of a local Podman", func(o *Options) {
			o.PodmanURL, o.PodmanExitsDir = "unix:///run/podman/podman.sock", "/run/libpod/exits"
		}, ""},
		{"exits folder of a remote Podman", func(o *Options) { o.PodmanURL, o.PodmanExitsDir = "tcp://192.0.2.9:8080", "/run/libpod/exits" },
			"--podman-exits-dir /run/libpod/exits: the Podman service at tcp://192.0.2.9:8080 is not on this machine (not unix://)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.mutate(o)
			err := o.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestFlagDefaults(t *testing.T) {
	cmd := NewCommand()
	for flag, want := range map[string]string{
		"allow-privileged":              "false",
		"allowed-capabilities":          "[]",
		"cluster-dns":                   "[]",
		"cluster-domain":                "cluster.local",
		"resolv-conf":                   "/etc/resolv.conf",
		"hosts-file":                    "/etc/hosts",
		"allowed-unsafe-sysctls":        "[]",
		"root-dir":                      "/var/lib/berth-kubelet",
		"podman-unreachable-grace":      "40s",
		"podman-unreachable-node-grace": "30s",
		"max-container-restart-period":  "5m0s",
		"seccomp-default":               "false",
		"runtime-handlers":              "[runc]",
		"max-pods":                      "110",
	} {
		f := cmd.Flags().Lookup(flag)
		if f == nil {
			t.Errorf("no --%s flag", flag)
			continue
		}
		if f.DefValue != want {
			t.Errorf("--%s defaults to %q, want %q", flag, f.DefValue, want)
		}
	}
}

func TestQuietRecorderDropsVirtualKubeletChatter(t *testing.T) {
	fake := record.NewFakeRecorder(10)
	q := quietRecorder{fake}
	pod := &corev1.Pod{}
	q.Event(pod, corev1.EventTypeNormal, "ProviderCreateSuccess", "Create pod in provider successfully")
	q.Eventf(pod, corev1.EventTypeNormal, "ProviderDeleteSuccess", "x")
	q.Eventf(pod, corev1.EventTypeWarning, "ProviderCreateFailed", "boom %d", 1)
	q.Event(pod, corev1.EventTypeNormal, "Started", "Started container c")
	close(fake.Events)
	var got []string
	for e := range fake.Events {
		got = append(got, e)
	}
	want := []string{"Warning ProviderCreateFailed boom 1", "Normal Started Started container c"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestSelfSignedServingCert(t *testing.T) {
	cfg, err := serverTLS(&Options{NodeName: "node-x", NodeIP: "192.0.2.7"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("192.0.2.7"); err != nil {
		t.Errorf("self-signed certificate does not name the node address: %v", err)
	}
	if err := leaf.VerifyHostname("node-x"); err != nil {
		t.Errorf("self-signed certificate does not name the node: %v", err)
	}
}

// fakeManager is a certificate manager whose current certificate the test sets.
type fakeManager struct {
	mu   sync.Mutex
	cert *tls.Certificate
}

func (f *fakeManager) Current() *tls.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cert
}

func (f *fakeManager) set(c *tls.Certificate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cert = c
}

// TestRotatedServingCert checks that a rotating node serves the self-signed certificate until the cluster issues
// one, then the issued one, and that it is the TLS configuration's only source of certificates.
func TestRotatedServingCert(t *testing.T) {
	o := &Options{NodeName: "node-x", NodeIP: "192.0.2.7"}
	fallback, err := selfSigned(o)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := selfSigned(&Options{NodeName: "issued", NodeIP: "192.0.2.8"})
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeManager{}
	cfg, err := serverTLS(o, &servingCert{manager: m, fallback: &fallback})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Certificates) != 0 || cfg.GetCertificate == nil {
		t.Fatalf("rotating TLS config has %d static certificates and GetCertificate %v, want none and a callback", len(cfg.Certificates), cfg.GetCertificate != nil)
	}
	for _, step := range []struct {
		name string
		set  *tls.Certificate
		want *tls.Certificate
	}{
		{"no certificate issued yet", nil, &fallback},
		{"issued", &issued, &issued},
	} {
		m.set(step.set)
		got, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil || got != step.want {
			t.Errorf("%s: GetCertificate = %p, %v; want %p", step.name, got, err, step.want)
		}
	}
}

// TestServingCertPendingWarns checks the Warning event a node records when no serving certificate is issued in
// time, and that it records none when one is.
func TestServingCertPendingWarns(t *testing.T) {
	issued := &tls.Certificate{}
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		want []string
	}{
		{"never issued", nil, []string{"Warning ServingCertificatePending no kubernetes.io/kubelet-serving certificate issued for node node-x after 50ms"}},
		{"issued", issued, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := record.NewFakeRecorder(10)
			s := &servingCert{manager: &fakeManager{cert: tc.cert}}
			s.warnIfPending(context.Background(), "node-x", rec, 50*time.Millisecond)
			close(rec.Events)
			var got []string
			for e := range rec.Events {
				got = append(got, e)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("event %q, want prefix %q", got[i], tc.want[i])
				}
			}
		})
	}
}

// TestRunRefusesBadRegistriesConfig checks that a bad --registries-config stops berth-kubelet with one line naming
// the flag, the file and the problem, before it reads its kubeconfig or touches Podman.
func TestRunRefusesBadRegistriesConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(bad, []byte("[[registry]]\nlocation = \"quay.io\"\nmirrors = [\"127.0.0.1:5100\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		bad:                               `--registries-config ` + bad + `: unknown key "registry.mirrors"`,
		filepath.Join(dir, "absent.conf"): `--registries-config ` + filepath.Join(dir, "absent.conf") + `: read: no such file or directory`,
	} {
		o := &Options{NodeIP: "192.0.2.1", Port: 10250, RootDir: "/var/lib/berth-kubelet", PodmanUnreachableGrace: time.Minute,
			PodmanUnreachableNodeGrace: 30 * time.Second, MaxContainerRestartPeriod: time.Minute, MaxPods: 110, Kubeconfig: filepath.Join(dir, "absent.kubeconfig"), RegistriesConfig: file}
		err := Run(context.Background(), o)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Run = %v, want %q", err, want)
		}
	}
}

// TestZeroTail checks which kubelet API requests the provider is told asked for tailLines=0.
func TestZeroTail(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"/containerLogs/ns/pod/c?tailLines=0", true},
		{"/containerLogs/ns/pod/c?tailLines=0&follow=true", true},
		{"/containerLogs/ns/pod/c?tailLines=00", true},
		{"/containerLogs/ns/pod/c", false},
		{"/containerLogs/ns/pod/c?tailLines=3", false},
		{"/containerLogs/ns/pod/c?tailLines=x", false},
		{"/exec/ns/pod/c?tailLines=0", false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			var got bool
			h := zeroTail(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got = provider.ZeroTail(r.Context())
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.url, nil))
			if got != tc.want {
				t.Errorf("zero tail = %t, want %t", got, tc.want)
			}
		})
	}
}

// TestMemAvailable checks what the node publishes as its host's available memory: MemAvailable from this machine's
// /proc for a local Podman, nothing for a remote one, and an error rather than 0 for a reading without it.
func TestMemAvailable(t *testing.T) {
	usage := func(u provider.HostUsage, err error) func() (provider.HostUsage, error) {
		return func() (provider.HostUsage, error) { return u, err }
	}
	tests := []struct {
		name    string
		usage   func() (provider.HostUsage, error)
		want    int64
		wantErr string
	}{
		{name: "MemAvailable", usage: usage(provider.HostUsage{MemTotal: 8 << 30, MemAvailable: 5 << 30}, nil), want: 5 << 30},
		{name: "no MemAvailable in meminfo", usage: usage(provider.HostUsage{MemTotal: 8 << 30}, nil), wantErr: "no MemAvailable"},
		{name: "unreadable", usage: usage(provider.HostUsage{}, os.ErrNotExist), wantErr: "file does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := memAvailable(tc.usage)()
			errOK := err == nil && tc.wantErr == "" || err != nil && tc.wantErr != "" && strings.Contains(err.Error(), tc.wantErr)
			if got != tc.want || !errOK {
				t.Errorf("= %d, %v; want %d and an error containing %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if memAvailable(hostUsage("tcp://192.0.2.1:8888")) != nil || memAvailable(hostUsage("ssh://root@192.0.2.1/run/podman/podman.sock")) != nil {
		t.Error("a remote Podman has a MemAvailable reader, want none")
	}
	read := memAvailable(hostUsage("unix:///run/podman/podman.sock"))
	if read == nil {
		t.Fatal("a local Podman has no MemAvailable reader")
	}
	if got, err := read(); err != nil || got <= 0 {
		t.Errorf("this machine's MemAvailable = %d, %v; want > 0", got, err)
	}
}

// TestNodeFs: with a local Podman the node reads its root folder's filesystem (this machine's, here a temporary
// folder's); with a remote one it has no reader, and a folder that is not there is an error, not empty figures.
func TestNodeFs(t *testing.T) {
	if nodeFs("tcp://192.0.2.1:8080", "/var/lib/berth-kubelet") != nil {
		t.Errorf("a reader for a remote Podman")
	}
	read := nodeFs("unix:///run/podman/podman.sock", t.TempDir())
	if read == nil {
		t.Fatal("no reader for a local Podman")
	}
	fs, err := read()
	if err != nil || fs.Capacity == 0 || fs.Available > fs.Capacity || fs.InodesFree > fs.Inodes {
		t.Errorf("local root folder: %+v, %v", fs, err)
	}
	if _, err := nodeFs("unix:///run/podman/podman.sock", filepath.Join(t.TempDir(), "absent"))(); err == nil {
		t.Errorf("no error for a root folder that is not there")
	}
}

// TestQueueLimiter: an item is handed over at once until it fails; its retries back off exponentially from 10 ms,
// and once forgotten (handled) it is handed over at once again.
func TestQueueLimiter(t *testing.T) {
	tests := []struct {
		name   string
		whens  int  // When calls before the one checked (failed attempts)
		forget bool // Forget after them
		want   time.Duration
	}{
		{name: "new item", want: 0},
		{name: "first retry", whens: 1, want: 10 * time.Millisecond},
		{name: "third retry", whens: 3, want: 40 * time.Millisecond},
		{name: "handled, then given again", whens: 3, forget: true, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := queueLimiter()
			for range tc.whens {
				l.When("ns/pod")
			}
			if tc.forget {
				l.Forget("ns/pod")
			}
			if got := l.When("ns/pod"); got != tc.want {
				t.Errorf("When = %s, want %s", got, tc.want)
			}
			if got := l.When("ns/other"); got != 0 {
				t.Errorf("When of another item = %s, want 0", got)
			}
		})
	}
}
