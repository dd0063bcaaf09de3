package podman

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/containers/common/libnetwork/types"
	"github.com/containers/podman/v4/libpod/define"
	"github.com/containers/podman/v4/pkg/bindings/containers"
	"github.com/containers/podman/v4/pkg/bindings/pods"
	"github.com/containers/podman/v4/pkg/domain/entities"
	"github.com/containers/podman/v4/pkg/specgen"
	"github.com/containers/storage/pkg/idtools"
	storagetypes "github.com/containers/storage/types"
)

// PodRuntime is Podman's pods, the sandboxes of Kubernetes pods: one network namespace (and more, see PodSpec)
// shared by the containers created in it (CRI's PodSandboxManager).
type PodRuntime interface {
	// CreatePod creates (but does not start) a pod and returns its ID.
	CreatePod(ctx context.Context, spec PodSpec) (string, error)
	// StartPod starts the pod's infra container so its network exists.
	StartPod(ctx context.Context, id string) error
	// StopPod stops the pod's containers, infra included, giving each timeout before SIGKILL.
	StopPod(ctx context.Context, id string, timeout time.Duration) error
	// RemovePod force-removes a pod and its containers; a missing pod is not an error.
	RemovePod(ctx context.Context, id string) error
	// PodIP reports the pod's IP on the given network.
	PodIP(ctx context.Context, id, network string) (string, error)
	// ListPods lists pods carrying all the given labels.
	ListPods(ctx context.Context, labels map[string]string) ([]PodInfo, error)
}

// PodSpec is a Podman pod to create: one network namespace shared by its containers.
type PodSpec struct {
	Name     string
	Hostname string
	Labels   map[string]string
	Network  string
	Ports    []PortMapping
	// HostNetwork runs the pod in the host's network and UTS namespaces (Network, Hostname and Ports are unused).
	HostNetwork bool
	// HostNetns, with HostNetwork, is the network namespace (a path) that is the node's when it is not the
	// Podman host's. Podman 4.3 cannot put a pod in one, so the pod gets no network and shares none: each of its
	// containers joins the namespace itself (ContainerSpec.Netns).
	HostNetns string
	// SharePID puts the pod's containers in one PID namespace, whose PID 1 is the infra container's init (the
	// kubelet's shareProcessNamespace, where it is the pause process); HostPID makes that namespace the host's.
	SharePID, HostPID bool
	// HostIPC leaves the IPC namespace out of what the pod's containers share: each then joins the host's
	// (ContainerSpec.HostIPC), as Podman 4.3 does not put a pod's infra container in the host's IPC namespace.
	HostIPC bool
	// HostAdd are extra /etc/hosts entries, as host:ip.
	HostAdd []string
	// DNS replaces parts of the host's resolv.conf in the pod; nil keeps Podman's default (the host's).
	DNS *DNSConfig
	// Resources are the limits of the pod's own cgroup, which holds its containers; nil leaves it as Podman makes
	// it (no limit).
	Resources *ContainerResources
	// UserNamespace, when set, gives the pod a user namespace of its own, which its infra container makes and
	// every container of the pod joins; nil keeps the host's.
	UserNamespace *IDMapping
}

// IDMapping maps a user namespace's IDs, UIDs and GIDs alike, from 0 to Size-1, to the host's HostID to
// HostID+Size-1.
type IDMapping struct {
	HostID, Size uint32
}

// PortMapping maps a host port to a pod port.
type PortMapping struct {
	HostIP        string
	HostPort      uint16
	ContainerPort uint16
	Protocol      string
}

// DNSConfig is a pod's resolv.conf. Empty Servers or Options keep the host's; empty Searches means none.
type DNSConfig struct {
	Servers  []string
	Searches []string
	Options  []string
}

// PodInfo summarises a Podman pod.
type PodInfo struct {
	ID     string
	Name   string
	Labels map[string]string
	// Status is Podman's state of the pod as a whole: PodExited once every container of it, infra included, has
	// exited.
	Status string
}

// PodExited is the Status of a pod none of whose containers runs.
const PodExited = "Exited"

// CreatePod implements PodRuntime.
func (c *Client) CreatePod(ctx context.Context, spec PodSpec) (string, error) {
	ps, err := podSpecGen(spec)
	if err != nil {
		return "", fmt.Errorf("create pod %s: %w", spec.Name, err)
	}
	rep, err := pods.CreatePodFromSpec(c.ctx(ctx), &entities.PodSpec{PodSpecGen: *ps})
	if err != nil {
		return "", fmt.Errorf("create pod %s: %w", spec.Name, err)
	}
	return rep.Id, nil
}

// podSpecGen is Podman's spec of the pod.
func podSpecGen(spec PodSpec) (*specgen.PodSpecGenerator, error) {
	ps := specgen.NewPodSpecGenerator()
	ps.Name = spec.Name
	ps.Hostname = spec.Hostname
	ps.Labels = spec.Labels
	ps.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
	if spec.Network != "" {
		ps.Networks = map[string]types.PerNetworkOptions{spec.Network: {}}
	}
	for _, p := range spec.Ports {
		ps.PortMappings = append(ps.PortMappings, types.PortMapping{
			HostIP: p.HostIP, HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: strings.ToLower(p.Protocol), Range: 1,
		})
	}
	if spec.HostNetwork {
		// The host's network and hostname, as the kubelet gives a hostNetwork pod.
		ps.NetNS = specgen.Namespace{NSMode: specgen.Host}
		if spec.HostNetns != "" {
			ps.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
		}
		ps.UtsNs = specgen.Namespace{NSMode: specgen.Host}
		ps.Hostname, ps.Networks, ps.PortMappings = "", nil, nil
	}
	ps.HostAdd = spec.HostAdd
	if spec.SharePID || spec.HostPID || spec.HostIPC || spec.HostNetns != "" {
		// Podman's default set is ipc, net and uts.
		ps.SharedNamespaces = []string{"net", "uts"}
		if spec.HostNetwork && spec.HostNetns != "" {
			ps.SharedNamespaces = []string{"uts"}
		}
		if !spec.HostIPC {
			ps.SharedNamespaces = append(ps.SharedNamespaces, "ipc")
		}
		if spec.SharePID || spec.HostPID {
			ps.SharedNamespaces = append(ps.SharedNamespaces, "pid")
		}
		if spec.HostPID {
			ps.Pid = specgen.Namespace{NSMode: specgen.Host}
		}
	}
	servers, searches, options, err := dnsSpec(spec.DNS)
	if err != nil {
		return nil, err
	}
	ps.DNSServer, ps.DNSSearch, ps.DNSOption = servers, searches, options
	if spec.Resources != nil {
		ps.ResourceLimits = newLinuxResources(*spec.Resources)
	}
	if m := spec.UserNamespace; m != nil {
		// A private user namespace with explicit maps (no /etc/subuid): Podman 4.3 gives it to the pod's infra
		// container, and the pod's containers, created without a user namespace of their own, join it.
		ids := []idtools.IDMap{{ContainerID: 0, HostID: int(m.HostID), Size: int(m.Size)}}
		ps.Userns = specgen.Namespace{NSMode: specgen.Private}
		ps.IDMappings = &storagetypes.IDMappingOptions{UIDMap: ids, GIDMap: ids}
	}
	return ps, nil
}

// dnsSpec is a resolv.conf's settings as Podman's pod and container specs take them.
func dnsSpec(dns *DNSConfig) (servers []net.IP, searches, options []string, err error) {
	if dns == nil {
		return nil, nil, nil, nil
	}
	for _, s := range dns.Servers {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, nil, nil, fmt.Errorf("DNS server %q is not an IP address", s)
		}
		servers = append(servers, ip)
	}
	searches = dns.Searches
	if len(searches) == 0 {
		searches = []string{"."} // Podman's way to say: no search line
	}
	return servers, searches, dns.Options, nil
}

// StartPod implements PodRuntime.
func (c *Client) StartPod(ctx context.Context, id string) error {
	rep, err := pods.Start(c.ctx(ctx), id, nil)
	if err != nil {
		return fmt.Errorf("start pod %s: %w", id, err)
	}
	if len(rep.Errs) > 0 {
		return fmt.Errorf("start pod %s: %w", id, errors.Join(rep.Errs...))
	}
	return nil
}

// StopPod implements PodRuntime.
func (c *Client) StopPod(ctx context.Context, id string, timeout time.Duration) error {
	rep, err := pods.Stop(c.ctx(ctx), id, new(pods.StopOptions).WithTimeout(int(timeout/time.Second)))
	if err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("stop pod %s: %w", id, err)
	}
	if rep != nil && len(rep.Errs) > 0 {
		return fmt.Errorf("stop pod %s: %w", id, errors.Join(rep.Errs...))
	}
	return nil
}

// RemovePod implements PodRuntime.
func (c *Client) RemovePod(ctx context.Context, id string) error {
	rep, err := pods.Remove(c.ctx(ctx), id, new(pods.RemoveOptions).WithForce(true).WithTimeout(forceRemoveTimeout))
	if err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("remove pod %s: %w", id, err)
	}
	if rep != nil && rep.Err != nil {
		return fmt.Errorf("remove pod %s: %w", id, rep.Err)
	}
	return nil
}

// PodIP implements PodRuntime. The IP is the pod's infra container's. Podman names that container after the pod's
// ID (the ID's first 12 characters and "-infra", specgen's MakePod), so given the ID it is inspected at once by that
// name, one call; given a name, or when no container of that name belongs to the pod, the pod is inspected for its
// infra container's ID first.
func (c *Client) PodIP(ctx context.Context, id, netName string) (string, error) {
	if name, ok := infraName(id); ok {
		if infra, err := containers.Inspect(c.ctx(ctx), name, nil); err == nil && infra.Pod == id {
			return infraIP(id, infra, netName)
		}
	}
	rep, err := pods.Inspect(c.ctx(ctx), id, nil)
	if err != nil {
		return "", fmt.Errorf("inspect pod %s: %w", id, err)
	}
	if rep.InfraContainerID == "" {
		return "", fmt.Errorf("pod %s has no infra container", id)
	}
	infra, err := containers.Inspect(c.ctx(ctx), rep.InfraContainerID, nil)
	if err != nil {
		return "", fmt.Errorf("inspect infra container of pod %s: %w", id, err)
	}
	return infraIP(id, infra, netName)
}

// infraName is the name Podman gives the infra container of the pod whose full ID is id; ok is false when id is
// not a full ID (64 hexadecimal digits).
func infraName(id string) (string, bool) {
	if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", false
	}
	return id[:12] + "-infra", true
}

// infraIP is the IP of pod id on the network netName (else on any network) as its infra container's inspect says.
func infraIP(id string, infra *define.InspectContainerData, netName string) (string, error) {
	if infra.NetworkSettings == nil {
		return "", fmt.Errorf("pod %s: infra container has no network settings", id)
	}
	if n, ok := infra.NetworkSettings.Networks[netName]; ok && n.IPAddress != "" {
		return n.IPAddress, nil
	}
	for _, n := range infra.NetworkSettings.Networks {
		if n.IPAddress != "" {
			return n.IPAddress, nil
		}
	}
	return infra.NetworkSettings.IPAddress, nil
}

// ListPods implements PodRuntime.
func (c *Client) ListPods(ctx context.Context, labels map[string]string) ([]PodInfo, error) {
	list, err := pods.List(c.ctx(ctx), new(pods.ListOptions).WithFilters(labelFilter(labels)))
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	out := make([]PodInfo, 0, len(list))
	for _, p := range list {
		out = append(out, PodInfo{ID: p.Id, Name: p.Name, Labels: p.Labels, Status: p.Status})
	}
	return out, nil
}
