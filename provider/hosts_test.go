package provider

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

// The kubelet's managed lines before the pod's own (pkg/kubelet/kubelet_pods_test.go TestManagedHostsFileContent).
const managedHostsPrologue = "# Kubernetes-managed hosts file.\n" +
	"127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"fe00::0\tip6-mcastprefix\n" +
	"fe00::1\tip6-allnodes\n" +
	"fe00::2\tip6-allrouters\n"

func TestManagedHostsFileContent(t *testing.T) {
	for _, tc := range []struct {
		name             string
		ips              []string
		hostname, domain string
		aliases          []corev1.HostAlias
		want             string
	}{
		{
			name: "pod IP and hostname", ips: []string{"10.89.0.7"}, hostname: "web",
			want: managedHostsPrologue + "10.89.0.7\tweb\n",
		},
		{
			name: "with a domain, the FQDN first", ips: []string{"10.89.0.7"}, hostname: "web", domain: "db.shop.svc.cluster.local",
			want: managedHostsPrologue + "10.89.0.7\tweb.db.shop.svc.cluster.local\tweb\n",
		},
		{
			name: "dual stack", ips: []string{"10.89.0.7", "fd00::7"}, hostname: "web",
			want: managedHostsPrologue + "10.89.0.7\tweb\nfd00::7\tweb\n",
		},
		{
			name: "hostAliases, one line per entry", ips: []string{"10.89.0.7"}, hostname: "web",
			aliases: []corev1.HostAlias{{IP: "123.45.67.89", Hostnames: []string{"foo", "bar"}}, {IP: "2001:db8::1", Hostnames: []string{"baz"}}},
			want:    managedHostsPrologue + "10.89.0.7\tweb\n\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n2001:db8::1\tbaz\n",
		},
		{
			name: "no IP yet", hostname: "web",
			want: managedHostsPrologue,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(managedHostsFileContent(tc.ips, tc.hostname, tc.domain, tc.aliases)); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestNodeHostsFileContent(t *testing.T) {
	node := "127.0.0.1\tlocalhost\n192.0.2.5\tpodman-host\n"
	for _, tc := range []struct {
		name    string
		aliases []corev1.HostAlias
		want    string
	}{
		{name: "node's file under its header", want: "# Kubernetes-managed hosts file (host network).\n" + node},
		{
			name:    "with hostAliases",
			aliases: []corev1.HostAlias{{IP: "123.45.67.89", Hostnames: []string{"foo", "bar"}}},
			want:    "# Kubernetes-managed hosts file (host network).\n" + node + "\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(nodeHostsFileContent([]byte(node), tc.aliases)); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestPodHostnameAndDomain(t *testing.T) {
	long := strings.Repeat("a", 62) + "-bcdef"
	for _, tc := range []struct {
		name             string
		pod              func(*corev1.Pod)
		hostname, domain string
		wantErr          string
	}{
		{name: "pod name", pod: func(*corev1.Pod) {}, hostname: "web"},
		{name: "spec.hostname", pod: func(p *corev1.Pod) { p.Spec.Hostname = "front" }, hostname: "front"},
		{name: "subdomain", pod: func(p *corev1.Pod) { p.Spec.Subdomain = "db" }, hostname: "web", domain: "db.shop.svc.cluster.local"},
		{name: "hostname and subdomain", pod: func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "front", "t" }, hostname: "front", domain: "t.shop.svc.cluster.local"},
		{name: "long pod name cut to 63 without a trailing dash", pod: func(p *corev1.Pod) { p.Name = long }, hostname: strings.Repeat("a", 62)},
		{name: "hostnameOverride wins, no domain", pod: func(p *corev1.Pod) {
			p.Spec.Hostname, p.Spec.Subdomain, p.Spec.HostnameOverride = "front", "t", ptr("override.example.host")
		}, hostname: "override.example.host"},
		{name: "invalid hostnameOverride", pod: func(p *corev1.Pod) { p.Spec.HostnameOverride = ptr("Not-RFC1123") }, wantErr: `pod HostnameOverride "Not-RFC1123" is not a valid DNS subdomain`},
		{name: "invalid hostname", pod: func(p *corev1.Pod) { p.Spec.Hostname = "a.b" }, wantErr: `pod Hostname "a.b" is not a valid DNS label`},
		{name: "invalid subdomain", pod: func(p *corev1.Pod) { p.Spec.Subdomain = "A_" }, wantErr: `pod Subdomain "A_" is not a valid DNS label`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}
			tc.pod(pod)
			h, d, err := podHostnameAndDomain(pod, "cluster.local")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || h != tc.hostname || d != tc.domain {
				t.Errorf("got %q %q %v, want %q %q", h, d, err, tc.hostname, tc.domain)
			}
		})
	}
}

func TestSandboxHostname(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name    string
		pod     func(*corev1.Pod)
		want    string
		wantErr string
	}{
		{name: "short name", pod: func(*corev1.Pod) {}, want: "web"},
		{name: "setHostnameAsFQDN without a subdomain has no effect", pod: func(p *corev1.Pod) { p.Spec.SetHostnameAsFQDN = &yes }, want: "web"},
		{name: "subdomain keeps the short name", pod: func(p *corev1.Pod) { p.Spec.Subdomain = "t" }, want: "web"},
		{name: "setHostnameAsFQDN false", pod: func(p *corev1.Pod) { p.Spec.Subdomain, p.Spec.SetHostnameAsFQDN = "t", &no }, want: "web"},
		{name: "setHostnameAsFQDN", pod: func(p *corev1.Pod) { p.Spec.Subdomain, p.Spec.SetHostnameAsFQDN = "t", &yes }, want: "web.t.shop.svc.cluster.local"},
		{name: "FQDN over 64 bytes", pod: func(p *corev1.Pod) {
			p.Name, p.Spec.Subdomain, p.Spec.SetHostnameAsFQDN = "hostfqdnveryveryveryverylongforfqdntobemorethan64bytes-12345", "t", &yes
		}, wantErr: "failed to construct FQDN from pod hostname and cluster domain, FQDN hostfqdnveryveryveryverylongforfqdntobemorethan64bytes-12345.t.shop.svc.cluster.local is too long (64 characters is the max, 85 characters requested)"},
		{name: "hostNetwork has the node's", pod: func(p *corev1.Pod) { p.Spec.HostNetwork = true }, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}
			tc.pod(pod)
			got, err := sandboxHostname(pod, "cluster.local")
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
}

// TestMountHostsFile checks which containers get the pod's hosts file, and what it holds, as the kubelet's
// makeMounts decides: every container but one mounting something at /etc/hosts itself; the node's file for a
// hostNetwork pod; nothing without a root folder or before the pod has an IP.
func TestMountHostsFile(t *testing.T) {
	root := t.TempDir()
	nodeHosts := filepath.Join(root, "node-hosts")
	if err := os.WriteFile(nodeHosts, []byte("127.0.0.1\tlocalhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	aliases := []corev1.HostAlias{{IP: "123.45.67.89", Hostnames: []string{"foo", "bar"}}}
	own := corev1.Container{Name: "own", VolumeMounts: []corev1.VolumeMount{{Name: "h", MountPath: "/etc/hosts"}}}
	plain := corev1.Container{Name: "plain", VolumeMounts: []corev1.VolumeMount{{Name: "h", MountPath: "/etc/hosts-original"}}}
	for _, tc := range []struct {
		name        string
		rootDir     string
		hostNetwork bool
		c           corev1.Container
		podIP       string
		want        string // "" for no mount
	}{
		{name: "pod network", rootDir: root, c: plain, podIP: "10.89.0.7", want: managedHostsPrologue + "10.89.0.7\tweb\n\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n"},
		{name: "container mounting its own", rootDir: root, c: own, podIP: "10.89.0.7"},
		{name: "no pod IP yet", rootDir: root, c: plain},
		{name: "host network", rootDir: root, hostNetwork: true, c: plain, podIP: testNodeIP, want: "# Kubernetes-managed hosts file (host network).\n127.0.0.1\tlocalhost\n\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n"},
		{name: "no root folder", c: plain, podIP: "10.89.0.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Config{RootDir: tc.rootDir, HostsFile: nodeHosts, ClusterDomain: "cluster.local"})
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "uid-1"},
				Spec: corev1.PodSpec{HostNetwork: tc.hostNetwork, HostAliases: aliases, Containers: []corev1.Container{tc.c}}}
			mounts, err := p.mountHostsFile(pod, &tc.c, tc.podIP)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(mounts) != 0 {
					t.Errorf("mounts %+v, want none", mounts)
				}
				return
			}
			file := filepath.Join(root, "pods", "uid-1", "etc-hosts")
			if len(mounts) != 1 || mounts[0] != (podman.BindMount{Source: file, Dest: "/etc/hosts"}) {
				t.Fatalf("mounts %+v, want %s at /etc/hosts, read-write", mounts, file)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tc.want {
				t.Errorf("hosts file\n%q\nwant\n%q", data, tc.want)
			}
			if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("hosts file mode %v %v, want 0644", fi.Mode(), err)
			}
		})
	}

	// A missing node hosts file fails the container's creation rather than leaving it Podman's.
	p := New(Config{RootDir: root, HostsFile: filepath.Join(root, "missing")})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "uid-2"}, Spec: corev1.PodSpec{HostNetwork: true}}
	if _, err := p.mountHostsFile(pod, &plain, testNodeIP); err == nil || !strings.Contains(err.Error(), "read the node's hosts file") {
		t.Errorf("missing node hosts file: error %v", err)
	}
}

// TestPodHostsFileAndHostname runs pods through the provider: each container but the one mounting /etc/hosts
// itself gets the pod's hosts file with the pod's IP, Podman is given no hostAliases of its own, and the sandbox
// has the FQDN as hostname with setHostnameAsFQDN.
func TestPodHostsFileAndHostname(t *testing.T) {
	root := t.TempDir()
	h := newHarnessWith(t, func(cfg *Config) { cfg.RootDir, cfg.ClusterDomain = root, "cluster.local" }, "busybox")
	own := testContainer("own", "busybox")
	own.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/etc/hosts"}}
	pod := lifecyclePod("hosts", corev1.RestartPolicyAlways, nil, testContainer("app", "busybox"), own)
	pod.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pod.Spec.Subdomain, pod.Spec.SetHostnameAsFQDN = "t", ptr(true)
	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "123.45.67.89", Hostnames: []string{"foo", "bar"}}}
	h.create(pod)
	appSpec, ownSpec := h.runningSpec(pod, "app"), h.runningSpec(pod, "own")
	h.fake.mu.Lock()
	sandbox := h.fake.lookupPod(podspec.PodName(pod))
	podSpec, ip := sandbox.spec, sandbox.ip
	h.fake.mu.Unlock()
	if podSpec.Hostname != "hosts.t.default.svc.cluster.local" || podSpec.HostAdd != nil {
		t.Errorf("sandbox hostname %q, host entries %q; want the FQDN and none", podSpec.Hostname, podSpec.HostAdd)
	}
	file := filepath.Join(root, "pods", string(pod.UID), "etc-hosts")
	if !slices.Contains(appSpec.Mounts, podman.BindMount{Source: file, Dest: "/etc/hosts"}) {
		t.Errorf("app mounts %+v, want the pod's hosts file", appSpec.Mounts)
	}
	for _, m := range ownSpec.Mounts {
		if m.Source == file {
			t.Errorf("container mounting /etc/hosts itself got the pod's hosts file: %+v", ownSpec.Mounts)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := managedHostsPrologue + ip + "\thosts.t.default.svc.cluster.local\thosts\n\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n"
	if string(data) != want {
		t.Errorf("hosts file\n%q\nwant\n%q", data, want)
	}
}

// TestFQDNTooLongFailsSandbox checks that a pod whose FQDN does not fit the kernel's hostname stays Pending with the
// kubelet's FailedCreatePodSandBox event, and no Podman pod.
func TestFQDNTooLongFailsSandbox(t *testing.T) {
	h := newHarnessWith(t, func(cfg *Config) { cfg.ClusterDomain = "cluster.local" }, "busybox")
	rec := record.NewFakeRecorder(100)
	h.p.cfg.Recorder = rec
	pod := lifecyclePod("hostfqdnveryveryveryverylongforfqdntobemorethan64bytes-12345", corev1.RestartPolicyNever, nil, testContainer("app", "busybox"))
	pod.Spec.Subdomain, pod.Spec.SetHostnameAsFQDN = "t", ptr(true)
	h.create(pod)
	want := "Warning FailedCreatePodSandBox Failed to create pod sandbox: failed to construct FQDN from pod hostname and cluster domain, FQDN " +
		"hostfqdnveryveryveryverylongforfqdntobemorethan64bytes-12345.t.default.svc.cluster.local is too long (64 characters is the max, 88 characters requested)"
	if ev := <-rec.Events; ev != want {
		t.Errorf("event %q\nwant  %q", ev, want)
	}
	st, err := h.p.GetPodStatus(h.ctx, pod.Namespace, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", st.Phase)
	}
	if calls := h.fake.callsTo("CreatePod"); len(calls) != 0 {
		t.Errorf("CreatePod calls %q, want none", calls)
	}
}
