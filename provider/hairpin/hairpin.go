// Package hairpin turns hairpin mode on for the ports of the pods' bridge, as the kubelet does with
// --hairpin-mode=hairpin-veth: a pod that reaches a Service whose endpoint is itself sends its packet to the bridge,
// kube-proxy's DNAT sends it back to the port it came from, and a bridge port forwards there only in hairpin mode.
// Netavark (Podman's network backend) leaves hairpin off, so without this a pod gets no answer from itself through
// a Service's ClusterIP.
package hairpin

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"k8s.io/klog/v2"
)

// Modes of --hairpin-mode, the kubelet's names.
const (
	// Veth sets hairpin on each port of the pods' bridge.
	Veth = "hairpin-veth"
	// None leaves the ports as the network backend makes them.
	None = "none"
)

// Setter sets hairpin mode on the ports of one bridge, in one network namespace.
type Setter struct {
	bridge string
	netns  string // a path; "" for this process's
	mu     sync.Mutex
	warned bool
}

// New returns a Setter for the bridge named bridge in the network namespace at netnsPath ("": this process's).
func New(bridge, netnsPath string) *Setter {
	return &Setter{bridge: bridge, netns: netnsPath}
}

// Ensure turns hairpin on for every port of the bridge. A bridge that is not in the namespace (a
// Podman host elsewhere than the kubelet) is reported once, and then only at a higher verbosity.
func (s *Setter) Ensure(ctx context.Context) error {
	h, err := s.handle()
	if err != nil {
		return err
	}
	defer h.Close()
	br, err := h.LinkByName(s.bridge)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			s.mu.Lock()
			first := !s.warned
			s.warned = true
			s.mu.Unlock()
			if first {
				klog.FromContext(ctx).Info("The pods' bridge is not in this network namespace (is the Podman host another machine?); "+
					"hairpin mode is not set, so a pod gets no answer from itself through a Service", "bridge", s.bridge, "netns", s.netns)
			}
			return nil
		}
		return fmt.Errorf("find bridge %s: %w", s.bridge, err)
	}
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	// Setting hairpin on a port that has it is a no-op; asking first would cost a dump of every bridge port per
	// port (netlink answers IFLA_PROTINFO only to a dump), on each pod start.
	var errs []error
	for _, l := range Ports(br.Attrs().Index, links) {
		if err := h.LinkSetHairpin(l, true); err != nil {
			errs = append(errs, fmt.Errorf("set hairpin on %s: %w", l.Attrs().Name, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Setter) handle() (*netlink.Handle, error) {
	if s.netns == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink: %w", err)
		}
		return h, nil
	}
	ns, err := netns.GetFromPath(s.netns)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", s.netns, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", s.netns, err)
	}
	return h, nil
}

// Ports are the links whose master is the bridge of index bridge.
func Ports(bridge int, links []netlink.Link) []netlink.Link {
	var out []netlink.Link
	for _, l := range links {
		if a := l.Attrs(); a != nil && a.MasterIndex == bridge && a.Index != bridge {
			out = append(out, l)
		}
	}
	return out
}
