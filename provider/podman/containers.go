package podman

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/containers/common/pkg/signal"
	"github.com/containers/podman/v4/pkg/bindings/containers"
	"github.com/containers/podman/v4/pkg/specgen"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// ContainerRuntime is the life of containers in Podman pods: create, start, stop and remove them, follow their
// state, events and resource usage, and change their limits (CRI's ContainerManager and ContainerStatsManager).
type ContainerRuntime interface {
	// CreateContainer creates a container and returns its ID.
	CreateContainer(ctx context.Context, spec ContainerSpec) (string, error)
	// StartContainer starts a created or exited container.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends the stop signal, then SIGKILL after timeout.
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	// RemoveContainer force-removes a container; a missing container is not an error.
	RemoveContainer(ctx context.Context, id string) error
	// InspectContainer reports a container's state.
	InspectContainer(ctx context.Context, id string) (ContainerState, error)
	// ListContainers lists containers, running or not, carrying all the given labels.
	ListContainers(ctx context.Context, labels map[string]string) ([]ContainerInfo, error)
	// WatchContainers follows the events of the containers carrying all the given labels whose action is one of
	// actions. connected is called once Podman accepted the subscription, handle with every event, both from the
	// calling goroutine. It returns nil when ctx ends and an error when the stream could not be opened or broke.
	WatchContainers(ctx context.Context, labels map[string]string, actions []string, connected func(), handle func(ContainerEvent)) error
	// UpdateContainerResources sets the cgroup limits of a running container in place (Podman 4.3 and later);
	// the whole set is applied, so a limit left at 0 is removed.
	UpdateContainerResources(ctx context.Context, id string, r ContainerResources) error
	// Stats samples the resource usage of running containers (by ID); containers that are not running are left out.
	Stats(ctx context.Context, ids []string) ([]ContainerStats, error)
	// DiskUsage measures the disk a container takes beside its image: its writable layer and its log file.
	DiskUsage(ctx context.Context, id string) (DiskUsage, error)
}

// DiskUsage is the disk a container takes beside its image, in bytes, as the kubelet's stats count a container's
// ephemeral storage: Rootfs is its writable layer, Logs its log file (0 when the file is not on this machine).
type DiskUsage struct {
	Rootfs, Logs int64
}

// ContainerSpec is a container to create inside a Podman pod.
type ContainerSpec struct {
	Name       string
	Pod        string
	Image      string
	Entrypoint []string
	Command    []string
	Env        map[string]string
	WorkingDir string
	Labels     map[string]string
	// ContainerResources are its cgroup limits; a CPUShares of 0 leaves Podman's default.
	ContainerResources
	// StopSignal is the signal sent on stop; empty for the image's.
	StopSignal string
	TTY        bool
	Stdin      bool
	User       string
	// Mounts are bind mounts from the Podman host.
	Mounts []BindMount
	// ImageMounts mount images' root filesystems read-only (the images must be present).
	ImageMounts []ImageMount
	// HostAdd and DNS are /etc/hosts entries and resolv.conf settings of a container of a HostNetwork pod, which
	// does not take them from its pod.
	HostAdd []string
	DNS     *DNSConfig
	// Groups are supplemental groups of the container's user.
	Groups []string
	// Security settings: Privileged grants every capability and device; CapAdd and CapDrop are Linux names
	// (CAP_NET_ADMIN) or ALL.
	Privileged     bool
	ReadOnlyRootfs bool
	// UnmaskedProc leaves /proc and /sys without the runtime's masked and read-only paths (Podman's unmask=ALL).
	UnmaskedProc    bool
	NoNewPrivileges bool
	CapAdd          []string
	CapDrop         []string
	// OCIRuntime is the OCI runtime the container runs under, by the name Podman knows it; empty for its default.
	OCIRuntime string
	// Seccomp is the container's seccomp profile: empty for the runtime's default, SeccompUnconfined for none, else
	// the path of a profile on the Podman host.
	Seccomp string
	// AppArmor is the container's AppArmor profile on a host with AppArmor: empty for Podman's default,
	// AppArmorUnconfined for none, else the name of a profile loaded on the host.
	AppArmor string
	// HostIPC runs the container in the host's IPC namespace (its pod must not share one: PodSpec.HostIPC).
	HostIPC bool
	// Netns is a network namespace (a path) the container joins instead of its pod's (whose pod must then share
	// none: PodSpec.HostNetns).
	Netns string
	// PIDNamespaceOf, if set, is the ID of a container whose PID namespace this one joins (an ephemeral container
	// and its target; the pod must not share one: PodSpec.SharePID, HostPID).
	PIDNamespaceOf string
	// Sysctls are namespaced kernel parameters (dot-separated names) set in the container's namespaces; those of
	// namespaces the pod's containers share are the pod's.
	Sysctls map[string]string
}

// AppArmorUnconfined is ContainerSpec.AppArmor for a container without an AppArmor profile.
const AppArmorUnconfined = "unconfined"

// SeccompUnconfined is ContainerSpec.Seccomp for a container with no seccomp filter (Podman's own word for it).
const SeccompUnconfined = "unconfined"

// BindMount mounts a file or folder of the Podman host into a container.
type BindMount struct {
	Source   string
	Dest     string
	ReadOnly bool
	// Propagation is the mount's propagation: "" (private), "rslave" (mounts made on the host below Source appear
	// in the container) or "rshared" (also the other way round; Source must be a shared mount on the host).
	Propagation string
}

// ImageMount mounts an image's root filesystem read-only at Dest.
type ImageMount struct {
	Image string
	Dest  string
}

// ContainerState is the runtime state of a container.
type ContainerState struct {
	ID         string
	Status     string // created, running, exited, stopped, ...
	Running    bool
	ExitCode   int32
	OOMKilled  bool
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	ImageID    string
	ImageName  string
}

// ContainerInfo summarises a container.
type ContainerInfo struct {
	ID     string
	Name   string
	PodID  string
	Labels map[string]string
	// State is Podman's state of the container (created, running, stopping, exited, stopped, removing, ...);
	// ExitCode is meaningful once it exited.
	State    string
	ExitCode int32
}

// ContainerStats is one sample of a running container's resource usage.
type ContainerStats struct {
	ID string
	// CPUNano is the CPU time the container used since it started, in nanoseconds.
	CPUNano uint64
	// MemUsage is the container's memory in use (without page cache it may drop), its working set.
	MemUsage uint64
	// MemLimit is its memory limit (the host's memory when it has none).
	MemLimit uint64
}

// CreateContainer implements ContainerRuntime.
func (c *Client) CreateContainer(ctx context.Context, spec ContainerSpec) (string, error) {
	s := specgen.NewSpecGenerator(Qualified(spec.Image), false)
	s.Name = spec.Name
	s.Pod = spec.Pod
	if spec.HostIPC {
		s.IpcNS = specgen.Namespace{NSMode: specgen.Host}
	}
	if spec.Netns != "" {
		s.NetNS = specgen.Namespace{NSMode: specgen.Path, Value: spec.Netns}
	}
	if spec.PIDNamespaceOf != "" {
		s.PidNS = specgen.Namespace{NSMode: specgen.FromContainer, Value: spec.PIDNamespaceOf}
	}
	s.Entrypoint = spec.Entrypoint
	s.Command = spec.Command
	s.Env = spec.Env
	s.WorkDir = spec.WorkingDir
	s.Labels = spec.Labels
	s.Terminal = spec.TTY
	s.Stdin = spec.Stdin
	s.User = spec.User
	// Restarts are Berth's (the pod's restartPolicy with the kubelet's back-off), never Podman's.
	s.RestartPolicy = "no"
	s.Groups = spec.Groups
	s.Privileged = spec.Privileged
	// A read-only root stays read-only everywhere, /tmp and /run included, as with the kubelet.
	s.ReadOnlyFilesystem, s.ReadWriteTmpfs = spec.ReadOnlyRootfs, false
	s.NoNewPrivileges = spec.NoNewPrivileges
	if spec.UnmaskedProc {
		s.Unmask = []string{"ALL"}
	}
	s.SeccompProfilePath = spec.Seccomp
	s.ApparmorProfile = spec.AppArmor
	s.OCIRuntime = spec.OCIRuntime
	s.HostAdd = spec.HostAdd
	servers, searches, options, err := dnsSpec(spec.DNS)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	s.DNSServers, s.DNSSearch, s.DNSOptions = servers, searches, options
	s.CapAdd, s.CapDrop = spec.CapAdd, spec.CapDrop
	s.Sysctl = spec.Sysctls
	for _, m := range spec.Mounts {
		opts := []string{"rbind", "rw"}
		if m.ReadOnly {
			opts[1] = "ro"
		}
		if m.Propagation != "" {
			opts = append(opts, m.Propagation)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Type: "bind", Source: m.Source, Destination: m.Dest, Options: opts})
	}
	for _, m := range spec.ImageMounts {
		s.ImageVolumes = append(s.ImageVolumes, &specgen.ImageVolume{Source: Qualified(m.Image), Destination: m.Dest})
	}
	if spec.StopSignal != "" {
		ss, err := stopSignal(spec.StopSignal)
		if err != nil {
			return "", fmt.Errorf("container %s: %w", spec.Name, err)
		}
		s.StopSignal = &ss
	}
	s.ResourceLimits = newLinuxResources(spec.ContainerResources)
	rep, err := containers.CreateWithSpec(c.ctx(ctx), s, nil)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	return rep.ID, nil
}

// StartContainer implements ContainerRuntime.
func (c *Client) StartContainer(ctx context.Context, id string) error {
	if err := containers.Start(c.ctx(ctx), id, nil); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	return nil
}

// stopSignal reads a signal name as Podman does, including the real-time signals (SIGRTMIN+n) Kubernetes allows.
func stopSignal(name string) (syscall.Signal, error) {
	ss, err := signal.ParseSignal(name)
	if err != nil {
		return 0, fmt.Errorf("stop signal: %w", err)
	}
	return ss, nil
}

// StopContainer implements ContainerRuntime.
func (c *Client) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	secs := uint(timeout / time.Second)
	if err := containers.Stop(c.ctx(ctx), id, new(containers.StopOptions).WithTimeout(secs).WithIgnore(true)); err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	return nil
}

// forceRemoveTimeout is the stop timeout of a forced removal, in seconds: a container still running is killed at
// once (a stop with its grace period comes before, where one is due).
const forceRemoveTimeout = 0

// RemoveContainer implements ContainerRuntime.
func (c *Client) RemoveContainer(ctx context.Context, id string) error {
	if _, err := containers.Remove(c.ctx(ctx), id, new(containers.RemoveOptions).WithForce(true).WithIgnore(true).WithTimeout(forceRemoveTimeout)); err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

// InspectContainer implements ContainerRuntime.
func (c *Client) InspectContainer(ctx context.Context, id string) (ContainerState, error) {
	d, err := containers.Inspect(c.ctx(ctx), id, nil)
	if err != nil {
		return ContainerState{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	st := ContainerState{ID: d.ID, ImageID: d.Image, ImageName: d.ImageName}
	if d.State != nil {
		st.Status = d.State.Status
		st.Running = d.State.Running
		st.ExitCode = d.State.ExitCode
		st.OOMKilled = d.State.OOMKilled
		st.Error = d.State.Error
		st.StartedAt = d.State.StartedAt
		st.FinishedAt = d.State.FinishedAt
	}
	return st, nil
}

// DiskUsage implements ContainerRuntime: Podman sizes the writable layer when asked (inspect ?size=true); the log
// file (k8s-file) is measured where it is, so only for a Podman on this machine whose files this process sees.
func (c *Client) DiskUsage(ctx context.Context, id string) (DiskUsage, error) {
	d, err := containers.Inspect(c.ctx(ctx), id, new(containers.InspectOptions).WithSize(true))
	if err != nil {
		return DiskUsage{}, fmt.Errorf("measure the disk of container %s: %w", id, err)
	}
	var u DiskUsage
	if d.SizeRw != nil {
		u.Rootfs = *d.SizeRw
	}
	if strings.HasPrefix(c.url, "unix://") && d.HostConfig != nil && d.HostConfig.LogConfig != nil && d.HostConfig.LogConfig.Path != "" {
		if fi, err := os.Stat(d.HostConfig.LogConfig.Path); err == nil {
			u.Logs = fi.Size()
		}
	}
	return u, nil
}

// ListContainers implements ContainerRuntime.
func (c *Client) ListContainers(ctx context.Context, labels map[string]string) ([]ContainerInfo, error) {
	list, err := containers.List(c.ctx(ctx), new(containers.ListOptions).WithAll(true).WithFilters(labelFilter(labels)))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]ContainerInfo, 0, len(list))
	for _, ct := range list {
		name := ""
		if len(ct.Names) > 0 {
			name = ct.Names[0]
		}
		out = append(out, ContainerInfo{ID: ct.ID, Name: name, PodID: ct.Pod, Labels: ct.Labels, State: ct.State, ExitCode: ct.ExitCode})
	}
	return out, nil
}

// Stats implements ContainerRuntime.
func (c *Client) Stats(ctx context.Context, ids []string) ([]ContainerStats, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ch, err := containers.Stats(c.ctx(ctx), ids, new(containers.StatsOptions).WithStream(false))
	if err != nil {
		return nil, fmt.Errorf("container stats: %w", err)
	}
	var out []ContainerStats
	for rep := range ch {
		if rep.Error != nil {
			return nil, fmt.Errorf("container stats: %w", rep.Error)
		}
		for _, s := range rep.Stats {
			out = append(out, ContainerStats{ID: s.ContainerID, CPUNano: s.CPUNano, MemUsage: s.MemUsage, MemLimit: s.MemLimit})
		}
	}
	return out, nil
}
