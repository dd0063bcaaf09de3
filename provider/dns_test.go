package provider

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want hostResolvConf
	}{
		{name: "empty", in: "", want: hostResolvConf{}},
		{
			name: "full",
			in:   "# comment\nnameserver 10.0.0.1\nnameserver 10.0.0.2\nsearch a.example. b.example\noptions ndots:2 rotate\noptions ndots:3\n",
			want: hostResolvConf{servers: []string{"10.0.0.1", "10.0.0.2"}, searches: []string{"a.example", "b.example"}, options: []string{"ndots:3", "rotate"}},
		},
		{
			name: "last search line wins and . is dropped",
			in:   "search one.example\nsearch .\n",
			want: hostResolvConf{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseResolvConf(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPodDNS(t *testing.T) {
	host := hostResolvConf{servers: []string{"192.0.2.1"}, searches: []string{"corp.example"}, options: []string{"rotate"}}
	ndots := "2"
	cfgWithAll := &corev1.PodDNSConfig{
		Nameservers: []string{"192.0.2.53"},
		Searches:    []string{"extra.example", "corp.example"},
		Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}, {Name: "edns0"}},
	}
	clusterSearch := []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local"}
	tests := []struct {
		name        string
		clusterDNS  []string
		policy      corev1.DNSPolicy
		hostNetwork bool
		dnsConfig   *corev1.PodDNSConfig
		want        *podman.DNSConfig
		wantMissing bool
	}{
		{
			name: "ClusterFirst with cluster DNS", clusterDNS: []string{"10.96.0.10"}, policy: corev1.DNSClusterFirst,
			want: &podman.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: append(clusterSearch, "corp.example"), Options: []string{"ndots:5"}},
		},
		{
			name: "ClusterFirst merges dnsConfig", clusterDNS: []string{"10.96.0.10"}, policy: corev1.DNSClusterFirst, dnsConfig: cfgWithAll,
			want: &podman.DNSConfig{Servers: []string{"10.96.0.10", "192.0.2.53"}, Searches: append(clusterSearch, "corp.example", "extra.example"),
				Options: []string{"ndots:2", "edns0"}},
		},
		{
			name: "ClusterFirst without cluster DNS falls back to the host's", policy: corev1.DNSClusterFirst,
			want: nil, wantMissing: true,
		},
		{
			name: "ClusterFirst without cluster DNS, with dnsConfig", policy: corev1.DNSClusterFirst, dnsConfig: cfgWithAll,
			want: &podman.DNSConfig{Servers: []string{"192.0.2.1", "192.0.2.53"}, Searches: []string{"corp.example", "extra.example"},
				Options: []string{"rotate", "ndots:2", "edns0"}},
			wantMissing: true,
		},
		{name: "Default is the host's", clusterDNS: []string{"10.96.0.10"}, policy: corev1.DNSDefault, want: nil},
		{
			name: "Default with dnsConfig", clusterDNS: []string{"10.96.0.10"}, policy: corev1.DNSDefault, dnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}},
			want: &podman.DNSConfig{Servers: []string{"192.0.2.1", "192.0.2.53"}, Searches: []string{"corp.example"}, Options: []string{"rotate"}},
		},
		{
			name: "None takes only dnsConfig", clusterDNS: []string{"10.96.0.10"}, policy: corev1.DNSNone,
			dnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}},
			want:      &podman.DNSConfig{Servers: []string{"192.0.2.53"}},
		},
		{name: "ClusterFirst with hostNetwork is Default", clusterDNS: []string{"10.96.0.10"}, policy: corev1.DNSClusterFirst, hostNetwork: true, want: nil},
		{
			name: "ClusterFirstWithHostNet", clusterDNS: []string{"10.96.0.10"}, policy: corev1.DNSClusterFirstWithHostNet, hostNetwork: true,
			want: &podman.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: append(clusterSearch, "corp.example"), Options: []string{"ndots:5"}},
		},
		{
			name: "too many nameservers", clusterDNS: []string{"10.96.0.10", "10.96.0.11"}, policy: corev1.DNSClusterFirst,
			dnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.53", "192.0.2.54"}},
			want:      &podman.DNSConfig{Servers: []string{"10.96.0.10", "10.96.0.11", "192.0.2.53"}, Searches: append(clusterSearch, "corp.example"), Options: []string{"ndots:5"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := dnsSettings{clusterDNS: tc.clusterDNS, clusterDomain: "cluster.local", host: func() (hostResolvConf, error) { return host, nil }}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
				Spec: corev1.PodSpec{DNSPolicy: tc.policy, HostNetwork: tc.hostNetwork, DNSConfig: tc.dnsConfig}}
			got, err := d.podDNS(pod)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.dns, tc.want) {
				t.Errorf("dns = %+v, want %+v", got.dns, tc.want)
			}
			if got.missingClusterDNS != tc.wantMissing {
				t.Errorf("missingClusterDNS = %v, want %v", got.missingClusterDNS, tc.wantMissing)
			}
		})
	}
}

func TestFitDNSLimits(t *testing.T) {
	long := strings.Repeat("a", 254)
	var many []string
	for i := 0; i < 40; i++ {
		many = append(many, "d"+strings.Repeat("x", 60)+string(rune('a'+i%26)))
	}
	tests := []struct {
		name         string
		in           podman.DNSConfig
		wantServers  int
		wantSearches int
		wantWarnings int
	}{
		{name: "within limits", in: podman.DNSConfig{Servers: []string{"a", "b", "c"}, Searches: []string{"x"}}, wantServers: 3, wantSearches: 1},
		{name: "four servers", in: podman.DNSConfig{Servers: []string{"a", "b", "c", "d"}}, wantServers: 3, wantWarnings: 1},
		{name: "too long a domain", in: podman.DNSConfig{Searches: []string{long, "ok"}}, wantSearches: 1, wantWarnings: 1},
		{name: "too many and too long in all", in: podman.DNSConfig{Searches: many}, wantSearches: 32, wantWarnings: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.in
			w := fitDNSLimits(&cfg)
			if len(cfg.Servers) != tc.wantServers || len(cfg.Searches) > tc.wantSearches || len(w) != tc.wantWarnings {
				t.Errorf("servers %d searches %d warnings %q", len(cfg.Servers), len(cfg.Searches), w)
			}
			if n := len(strings.Join(cfg.Searches, " ")); n > maxDNSSearchListChars {
				t.Errorf("search line of %d characters", n)
			}
		})
	}
}

func TestProviderPodDNSEvents(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	p := New(Config{NodeName: "node-a", Recorder: rec, ClusterDomain: "cluster.local"})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u-1"}, Spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}}
	dns, err := p.podDNS(t.Context(), pod)
	if err != nil || dns != nil {
		t.Fatalf("podDNS = %+v, %v; want the host's", dns, err)
	}
	msg := `kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`
	for _, want := range []string{"Warning MissingClusterDNS " + msg, `Warning MissingClusterDNS pod: "web_shop(u-1)". ` + msg} {
		if got := <-rec.Events; got != want {
			t.Errorf("event %q, want %q", got, want)
		}
	}

	p.cfg.ResolvConf = "/nonexistent/resolv.conf"
	pod.Spec.DNSPolicy = corev1.DNSNone
	pod.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}}
	if dns, err := p.podDNS(t.Context(), pod); err != nil || dns == nil || dns.Servers[0] != "192.0.2.53" {
		t.Errorf("None needs no resolv.conf: %+v, %v", dns, err)
	}
	pod.Spec.DNSPolicy = corev1.DNSDefault
	if _, err := p.podDNS(t.Context(), pod); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Default with dnsConfig and no resolv.conf: err %v", err)
	}
}

// TestHostNetworkPod checks a hostNetwork pod through the runner: the node's IP as pod IP, a host-network Podman
// pod, and each container carrying the pod's DNS settings and hostAliases (Podman does not pass a host-network
// pod's own to its containers).
func TestHostNetworkPod(t *testing.T) {
	h := newHarness(t, "busybox")
	h.p.cfg.ClusterDNS, h.p.cfg.ClusterDomain, h.p.cfg.ResolvConf = []string{"10.96.0.10"}, "cluster.local", ""
	pod := lifecyclePod("hostnet", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	pod.Spec.HostNetwork = true
	pod.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "192.0.2.9", Hostnames: []string{"db"}}}
	h.create(pod)
	name := ctrName(pod, "a", 1)
	h.waitContainer(name, "running")
	running, _ := h.waitReported(pod, 0, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if running.Status.PodIP != testNodeIP {
		t.Errorf("podIP %q, want the node's %q", running.Status.PodIP, testNodeIP)
	}
	h.fake.mu.Lock()
	spec := h.fake.lookupContainer(name).spec
	podSpec := h.fake.lookupPod(podspec.PodName(pod)).spec
	h.fake.mu.Unlock()
	if !podSpec.HostNetwork {
		t.Errorf("Podman pod not in the host network: %+v", podSpec)
	}
	want := &podman.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}, Options: []string{"ndots:5"}}
	if !reflect.DeepEqual(spec.DNS, want) || !reflect.DeepEqual(spec.HostAdd, []string{"db:192.0.2.9"}) {
		t.Errorf("container DNS %+v hosts %q; want %+v and db:192.0.2.9", spec.DNS, spec.HostAdd, want)
	}
}
