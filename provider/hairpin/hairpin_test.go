package hairpin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestPorts(t *testing.T) {
	link := func(name string, index, master int) netlink.Link {
		return &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, Index: index, MasterIndex: master}}
	}
	links := []netlink.Link{
		&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0", Index: 3}},
		link("veth0", 4, 3),
		link("veth1", 5, 3),
		link("other", 6, 9),
		link("eth0", 2, 0),
	}
	tests := []struct {
		name   string
		bridge int
		want   []string
	}{
		{name: "the bridge's ports only", bridge: 3, want: []string{"veth0", "veth1"}},
		{name: "another bridge", bridge: 9, want: []string{"other"}},
		{name: "a bridge with no ports", bridge: 7, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, l := range Ports(tt.bridge, links) {
				got = append(got, l.Attrs().Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Ports(%d) = %v, want %v", tt.bridge, got, tt.want)
			}
		})
	}
}

// TestEnsure sets hairpin on the ports of a bridge in a network namespace of its own (root is needed to make one):
// ports of the bridge turn on, a port of another bridge stays off, and a missing bridge is no error.
func TestEnsure(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test makes a network namespace, which needs root (as make unit and CI run)")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	name := fmt.Sprintf("berth-hairpin-test-%d", os.Getpid())
	ns, err := netns.NewNamed(name) // also enters it
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	defer netns.DeleteNamed(name)
	defer netns.Set(orig)
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	bridge := func(name string) netlink.Link {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err := h.LinkAdd(br); err != nil {
			t.Fatal(err)
		}
		return br
	}
	port := func(name string, master netlink.Link) netlink.Link {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}
		if err := h.LinkAdd(v); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetMaster(v, master); err != nil {
			t.Fatal(err)
		}
		return v
	}
	pods, other := bridge("pods0"), bridge("other0")
	ports := []netlink.Link{port("vp0", pods), port("vp1", pods)}
	elsewhere := port("vo0", other)
	if err := netns.Set(orig); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join("/run/netns", name)
	if err := New("pods0", path).Ensure(context.Background()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	for _, l := range ports {
		if on, err := hairpinOn(h, l); err != nil || !on {
			t.Errorf("port %s of the pods' bridge: hairpin %v (%v), want on", l.Attrs().Name, on, err)
		}
	}
	if on, err := hairpinOn(h, elsewhere); err != nil || on {
		t.Errorf("port %s of another bridge: hairpin %v (%v), want off", elsewhere.Attrs().Name, on, err)
	}
	// Again, with the ports on already, and for a bridge the namespace does not have.
	if err := New("pods0", path).Ensure(context.Background()); err != nil {
		t.Errorf("Ensure again: %v", err)
	}
	if err := New("absent0", path).Ensure(context.Background()); err != nil {
		t.Errorf("Ensure for a missing bridge: %v", err)
	}
}

// hairpinOn reads a port's hairpin mode.
func hairpinOn(h *netlink.Handle, l netlink.Link) (bool, error) {
	pi, err := h.LinkGetProtinfo(l)
	if err != nil {
		return false, err
	}
	return pi.Hairpin, nil
}
