package provider

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

// Limits of a pod's resolv.conf, as the apiserver validates them and the kubelet applies them.
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
	maxDNSSearchLen       = 253
	maxResolvConfLength   = 10 << 20
)

// hostResolvConf is a resolv.conf's nameservers, search domains and options.
type hostResolvConf struct {
	servers, searches, options []string
}

// parseResolvConf reads a resolv.conf as the kubelet does: the last search line wins, "." and trailing dots are
// dropped, options merge by name.
func parseResolvConf(r io.Reader) (hostResolvConf, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxResolvConfLength))
	if err != nil {
		return hostResolvConf{}, err
	}
	var out hostResolvConf
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) >= 2 {
				out.servers = append(out.servers, f[1])
			}
		case "search":
			out.searches = nil
			for _, s := range f[1:] {
				if s != "." {
					out.searches = append(out.searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			out.options = mergeOptions(out.options, f[1:])
		}
	}
	return out, nil
}

// mergeOptions adds resolver options (name or name:value) to a list; a later option replaces one of the same name
// in place.
func mergeOptions(options, more []string) []string {
	var out []string
	out = append(out, options...)
	for _, o := range more {
		name, _, _ := strings.Cut(o, ":")
		replaced := false
		for i, cur := range out {
			if n, _, _ := strings.Cut(cur, ":"); n == name {
				out[i], replaced = o, true
				break
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

// omitDuplicates keeps the first of equal strings.
func omitDuplicates(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// dnsSettings is what the node contributes to pods' DNS: the cluster DNS servers and domain (kubelet
// --cluster-dns, --cluster-domain) and the host's resolv.conf (kubelet --resolv-conf).
type dnsSettings struct {
	clusterDNS    []string
	clusterDomain string
	host          func() (hostResolvConf, error)
}

// podDNSResult is a pod's DNS as Podman takes it, with the events to record.
type podDNSResult struct {
	// dns is nil for the host's resolv.conf unchanged (Podman's default).
	dns *podman.DNSConfig
	// missingClusterDNS is set when ClusterFirst fell back to Default for want of a cluster DNS server.
	missingClusterDNS bool
	// warnings are DNSConfigForming messages: limits the kubelet applied.
	warnings []string
}

// podDNS computes a pod's resolv.conf from its dnsPolicy and dnsConfig as the kubelet's GetPodDNS does.
func (d dnsSettings) podDNS(pod *corev1.Pod) (podDNSResult, error) {
	var res podDNSResult
	policy := pod.Spec.DNSPolicy
	switch policy {
	case "", corev1.DNSClusterFirstWithHostNet:
		policy = corev1.DNSClusterFirst
	case corev1.DNSClusterFirst:
		if pod.Spec.HostNetwork {
			policy = corev1.DNSDefault
		}
	case corev1.DNSDefault, corev1.DNSNone:
	default:
		policy = corev1.DNSClusterFirst // the kubelet falls back to ClusterFirst for an invalid policy
	}
	if policy == corev1.DNSClusterFirst && len(d.clusterDNS) == 0 {
		res.missingClusterDNS = true
		policy = corev1.DNSDefault
	}
	if policy == corev1.DNSDefault && pod.Spec.DNSConfig == nil {
		return res, nil // the host's resolv.conf, as Podman writes it
	}
	var cfg podman.DNSConfig
	if policy != corev1.DNSNone {
		host, err := d.host()
		if err != nil {
			return res, err
		}
		cfg = podman.DNSConfig{Servers: host.servers, Searches: host.searches, Options: host.options}
	}
	if policy == corev1.DNSClusterFirst {
		cfg.Servers = append([]string{}, d.clusterDNS...)
		if d.clusterDomain != "" {
			cluster := []string{fmt.Sprintf("%s.svc.%s", pod.Namespace, d.clusterDomain), "svc." + d.clusterDomain, d.clusterDomain}
			cfg.Searches = omitDuplicates(append(cluster, cfg.Searches...))
		}
		cfg.Options = []string{"ndots:5"}
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.Servers = omitDuplicates(append(cfg.Servers, dc.Nameservers...))
		cfg.Searches = omitDuplicates(append(cfg.Searches, dc.Searches...))
		var opts []string
		for _, o := range dc.Options {
			if o.Value != nil {
				opts = append(opts, o.Name+":"+*o.Value)
			} else {
				opts = append(opts, o.Name)
			}
		}
		cfg.Options = mergeOptions(cfg.Options, opts)
	}
	res.warnings = fitDNSLimits(&cfg)
	res.dns = &cfg
	return res, nil
}

// fitDNSLimits trims the nameservers and search domains to the resolver's limits as the kubelet does, and says
// what it applied.
func fitDNSLimits(cfg *podman.DNSConfig) []string {
	var warnings []string
	if len(cfg.Servers) > maxDNSNameservers {
		cfg.Servers = cfg.Servers[:maxDNSNameservers]
		warnings = append(warnings, "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: "+strings.Join(cfg.Servers, " "))
	}
	exceeded := false
	if len(cfg.Searches) > maxDNSSearchPaths {
		cfg.Searches, exceeded = cfg.Searches[:maxDNSSearchPaths], true
	}
	var kept []string
	for _, s := range cfg.Searches {
		if len(s) > maxDNSSearchLen {
			exceeded = true
			continue
		}
		kept = append(kept, s)
	}
	for len(strings.Join(kept, " ")) > maxDNSSearchListChars {
		kept, exceeded = kept[:len(kept)-1], true
	}
	cfg.Searches = kept
	if exceeded {
		warnings = append(warnings, "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: "+strings.Join(kept, " "))
	}
	return warnings
}

// readResolvConf returns a reader of the host's resolv.conf at path.
func readResolvConf(path string) func() (hostResolvConf, error) {
	return func() (hostResolvConf, error) {
		if path == "" {
			return hostResolvConf{}, nil
		}
		f, err := os.Open(path)
		if err != nil {
			return hostResolvConf{}, fmt.Errorf("read the host's resolv.conf: %w", err)
		}
		defer f.Close()
		rc, err := parseResolvConf(f)
		if err != nil {
			return hostResolvConf{}, fmt.Errorf("read the host's resolv.conf %s: %w", path, err)
		}
		return rc, nil
	}
}

// podDNS is the pod's resolv.conf for its Podman pod; it records the kubelet's DNS events.
func (p *Provider) podDNS(ctx context.Context, pod *corev1.Pod) (*podman.DNSConfig, error) {
	d := dnsSettings{clusterDNS: p.cfg.ClusterDNS, clusterDomain: p.cfg.ClusterDomain, host: readResolvConf(p.cfg.ResolvConf)}
	res, err := d.podDNS(pod)
	if err != nil {
		return nil, err
	}
	if res.missingClusterDNS {
		msg := fmt.Sprintf("kubelet does not have ClusterDNS IP configured and cannot create Pod using %q policy. Falling back to %q policy.", corev1.DNSClusterFirst, corev1.DNSDefault)
		node := &corev1.ObjectReference{Kind: "Node", Name: p.cfg.NodeName, UID: types.UID(p.cfg.NodeName)}
		p.cfg.Recorder.Eventf(node, corev1.EventTypeWarning, "MissingClusterDNS", "%s", msg)
		p.cfg.Recorder.Eventf(pod, corev1.EventTypeWarning, "MissingClusterDNS", "pod: %q. %s", podspec.FormatPod(pod), msg)
	}
	for _, w := range res.warnings {
		klog.FromContext(ctx).Info("DNS limits applied", "detail", w)
		p.cfg.Recorder.Event(pod, corev1.EventTypeWarning, "DNSConfigForming", w)
	}
	return res.dns, nil
}
