package podman

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/containers/common/libnetwork/types"
	"github.com/containers/podman/v4/pkg/bindings"
	"github.com/containers/podman/v4/pkg/bindings/network"
	"github.com/containers/podman/v4/pkg/bindings/system"
)

// HostRuntime is the Podman service and its host: whether it answers, what the host has, and the pods' network
// (CRI's Status and Version).
type HostRuntime interface {
	// Ping checks that the Podman service answers.
	Ping(ctx context.Context) error
	// Info reports the host's resources and versions.
	Info(ctx context.Context) (HostInfo, error)
	// EnsureNetwork creates the bridge network if it does not exist, with subnet or, when subnet is empty, one that
	// Podman picks free, and returns its subnets (the pods' addresses).
	EnsureNetwork(ctx context.Context, name, iface, subnet string) ([]string, error)
}

// HostInfo is what the provider needs to know about the Podman host.
type HostInfo struct {
	Hostname string
	CPUs     int
	MemTotal int64
	MemFree  int64
	OS       string
	// Distribution is the host's OS image, e.g. "debian 12 (bookworm)".
	Distribution  string
	Arch          string
	Kernel        string
	Version       string
	GraphRootFree int64
	GraphRootSize int64
	// AppArmor and SELinux say whether the host enforces them on its containers.
	AppArmor, SELinux bool
}

// Ping implements HostRuntime.
func (c *Client) Ping(ctx context.Context) error {
	conn, err := bindings.GetClient(c.conn)
	if err != nil {
		return err
	}
	resp, err := conn.DoRequest(c.ctx(ctx), nil, http.MethodGet, "/_ping", nil, nil)
	if err != nil {
		return fmt.Errorf("ping podman at %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	if !resp.IsSuccess() {
		return fmt.Errorf("ping podman at %s: HTTP %d", c.url, resp.StatusCode)
	}
	return nil
}

// Info implements HostRuntime.
func (c *Client) Info(ctx context.Context) (HostInfo, error) {
	info, err := system.Info(c.ctx(ctx), nil)
	if err != nil {
		return HostInfo{}, fmt.Errorf("podman info: %w", err)
	}
	h := HostInfo{
		Hostname: info.Host.Hostname,
		CPUs:     info.Host.CPUs,
		MemTotal: info.Host.MemTotal,
		MemFree:  info.Host.MemFree,
		OS:       info.Host.OS,
		Arch:     info.Host.Arch,
		Kernel:   info.Host.Kernel,
		AppArmor: info.Host.Security.AppArmorEnabled,
		SELinux:  info.Host.Security.SELinuxEnabled,
	}
	if d := info.Host.Distribution; d.Distribution != "" {
		h.Distribution = strings.TrimSpace(d.Distribution + " " + d.Version)
		if d.Codename != "" {
			h.Distribution += " (" + d.Codename + ")"
		}
	}
	if info.Version.Version != "" {
		h.Version = info.Version.Version
	}
	if info.Store != nil {
		h.GraphRootSize = int64(info.Store.GraphRootAllocated)
		h.GraphRootFree = int64(info.Store.GraphRootAllocated - info.Store.GraphRootUsed)
	}
	return h, nil
}

// EnsureNetwork implements HostRuntime.
func (c *Client) EnsureNetwork(ctx context.Context, name, iface, subnet string) ([]string, error) {
	ok, err := network.Exists(c.ctx(ctx), name, nil)
	if err != nil {
		return nil, fmt.Errorf("check network %s: %w", name, err)
	}
	if ok {
		n, err := network.Inspect(c.ctx(ctx), name, nil)
		if err != nil {
			return nil, fmt.Errorf("inspect network %s: %w", name, err)
		}
		var subnets []string
		for _, s := range n.Subnets {
			subnets = append(subnets, s.Subnet.String())
		}
		return subnets, nil
	}
	n := &types.Network{Name: name, Driver: types.BridgeNetworkDriver, NetworkInterface: iface}
	if subnet != "" {
		sn, err := types.ParseCIDR(subnet)
		if err != nil {
			return nil, fmt.Errorf("network %s subnet %q: %w", name, subnet, err)
		}
		n.Subnets = []types.Subnet{{Subnet: sn}}
	}
	// Without a subnet Podman takes the first one of its default_subnet_pools that no network of its own and no
	// address of the host has (another Podman network, such as kind's, may hold 10.89.0.0/24).
	created, err := network.Create(c.ctx(ctx), n)
	if err != nil {
		return nil, fmt.Errorf("create network %s: %w", name, err)
	}
	var subnets []string
	for _, s := range created.Subnets {
		subnets = append(subnets, s.Subnet.String())
	}
	if len(subnets) == 0 {
		return nil, fmt.Errorf("create network %s: Podman gave it no subnet", name)
	}
	return subnets, nil
}
