package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/miekg/dns"
	"sigs.k8s.io/yaml"
)

func TestDirectives(t *testing.T) {
	upstream := slices.Clone(dnsserver.Directives)
	got, err := directives(upstream, plugins)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(plugins) {
		t.Fatalf("directives = %v, want the %d plugins %v", got, len(plugins), plugins)
	}
	// Upstream's order: each directive after the one before it in upstream's list.
	last := -1
	for _, d := range got {
		i := slices.Index(upstream, d)
		if i <= last {
			t.Fatalf("directives %v are not in upstream's order %v", got, upstream)
		}
		last = i
	}
	registered := caddy.ListPlugins()["others"]
	for _, d := range got {
		if !slices.Contains(registered, "dns."+d) {
			t.Errorf("directive %q has no plugin linked in (registered: %v)", d, registered)
		}
	}
	if _, err := directives(upstream, []string{"cache", "nosuchplugin"}); err == nil {
		t.Error("directives with an unknown plugin: no error")
	}
}

// TestManifestCorefile checks that the Corefile of Berth's CoreDNS manifest uses only plugins of this build.
func TestManifestCorefile(t *testing.T) {
	data, err := os.ReadFile("../../manifests/coredns.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var corefile string
	for doc := range strings.SplitSeq(string(data), "\n---\n") {
		var obj struct {
			Kind string
			Data map[string]string
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind == "ConfigMap" {
			corefile = obj.Data["Corefile"]
		}
	}
	if corefile == "" {
		t.Fatal("manifests/coredns.yaml has no ConfigMap with a Corefile")
	}
	blocks, err := caddyfile.Parse("Corefile", strings.NewReader(corefile), plugins)
	if err != nil {
		t.Fatalf("manifest's Corefile: %v", err)
	}
	if len(blocks) != 1 || len(blocks[0].Tokens) == 0 {
		t.Errorf("manifest's Corefile: %d server blocks, want 1 with directives", len(blocks))
	}
}

// freePort returns a port free on 127.0.0.1 for both TCP and UDP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// TestServes runs this build's CoreDNS with the plugins of kubeadm's Corefile but kubernetes (which needs an
// apiserver) in front of an upstream server on loopback, and asks it names that hosts and forward answer.
func TestServes(t *testing.T) {
	ds, err := directives(dnsserver.Directives, plugins)
	if err != nil {
		t.Fatal(err)
	}
	if err := dnsserver.SetDirectives(ds); err != nil {
		t.Fatal(err)
	}

	// The upstream: every A query gets 192.0.2.1, other types an empty answer.
	up := &dns.Server{Addr: "127.0.0.1:0", Net: "udp", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if q := r.Question[0]; q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.IPv4(192, 0, 2, 1)})
		}
		w.WriteMsg(m)
	})}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up.PacketConn = pc
	go up.ActivateAndServe()
	t.Cleanup(func() { up.Shutdown() })

	port, health, ready, metrics := freePort(t), freePort(t), freePort(t), freePort(t)
	corefile := func(extra string) caddy.CaddyfileInput {
		return caddy.CaddyfileInput{ServerTypeName: "dns", Contents: fmt.Appendf(nil, `.:%d {
    %s
    errors
    log
    health 127.0.0.1:%d
    ready 127.0.0.1:%d
    hosts {
        203.0.113.7 pinned.berth.test
        fallthrough
    }
    prometheus 127.0.0.1:%d
    forward . %s
    cache 30
    loop
    reload
    loadbalance
}
`, port, extra, health, ready, metrics, pc.LocalAddr())}
	}
	// bind is not in this build: a Corefile with it is refused, not run on every address.
	if inst, err := caddy.Start(corefile("bind 127.0.0.1")); err == nil {
		inst.Stop()
		t.Fatal("Corefile with bind, a plugin not in this build: started")
	}
	inst, err := caddy.Start(corefile(""))
	if err != nil {
		t.Fatalf("start CoreDNS: %v", err)
	}
	t.Cleanup(func() {
		inst.ShutdownCallbacks()
		inst.Stop()
	})

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, want := range map[string]string{"pinned.berth.test": "203.0.113.7", "elsewhere.berth.test": "192.0.2.1"} {
		got, err := r.LookupHost(ctx, name)
		if err != nil || !slices.Equal(got, []string{want}) {
			t.Errorf("LookupHost(%s) = %v, %v; want [%s]", name, got, err, want)
		}
	}
	// Over TCP too (the Service has port 53 for both).
	m := new(dns.Msg)
	m.SetQuestion("pinned.berth.test.", dns.TypeA)
	resp, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(m, addr)
	if err != nil || len(resp.Answer) != 1 {
		t.Errorf("TCP query: %v, %v", resp, err)
	}

	// The endpoints the Deployment's probes and the metrics port use.
	for _, u := range []string{
		fmt.Sprintf("http://127.0.0.1:%d/health", health),
		fmt.Sprintf("http://127.0.0.1:%d/ready", ready),
		fmt.Sprintf("http://127.0.0.1:%d/metrics", metrics),
	} {
		waitOK(t, u)
	}
}

// waitOK waits up to 10 s for url to answer 200.
func waitOK(t *testing.T, url string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		last = resp.Status
	}
	t.Errorf("GET %s: %s", url, last)
}
