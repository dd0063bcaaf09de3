package podman

import (
	"context"
	"errors"
	"io"
	"time"
)

// Labels Berth puts on every Podman pod and container it creates.
const (
	LabelManaged   = "berth.dev/managed"
	LabelNode      = "berth.dev/node"
	LabelNamespace = "berth.dev/namespace"
	LabelName      = "berth.dev/name"
	LabelUID       = "berth.dev/uid"
	LabelContainer = "berth.dev/container"
	LabelAttempt   = "berth.dev/attempt"
)

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
}

// Auth is a registry credential.
type Auth struct {
	Username, Password string
}

// PullOptions are how to pull an image.
type PullOptions struct {
	// Auth are the registry's credentials; nil for none.
	Auth *Auth
	// Insecure allows plain HTTP and unverified TLS (a mirror the registries config marks insecure). A registry
	// on loopback is always spoken to this way.
	Insecure bool
}

// Image is an image stored on the Podman host.
type Image struct {
	ID    string
	Names []string
	Size  int64
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
}

// DNSConfig is a pod's resolv.conf. Empty Servers or Options keep the host's; empty Searches means none.
type DNSConfig struct {
	Servers  []string
	Searches []string
	Options  []string
}

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

// PortMapping maps a host port to a pod port.
type PortMapping struct {
	HostIP        string
	HostPort      uint16
	ContainerPort uint16
	Protocol      string
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
	Privileged      bool
	ReadOnlyRootfs  bool
	NoNewPrivileges bool
	CapAdd          []string
	CapDrop         []string
	// HostIPC runs the container in the host's IPC namespace (its pod must not share one: PodSpec.HostIPC).
	HostIPC bool
	// PIDNamespaceOf, if set, is the ID of a container whose PID namespace this one joins (an ephemeral container
	// and its target; the pod must not share one: PodSpec.SharePID, HostPID).
	PIDNamespaceOf string
	// Sysctls are namespaced kernel parameters (dot-separated names) set in the container's namespaces; those of
	// namespaces the pod's containers share are the pod's.
	Sysctls map[string]string
}

// ContainerResources are the cgroup settings of a container that can change while it runs.
type ContainerResources struct {
	// MemoryLimit in bytes, 0 for none. Swap is held to the same limit (no swap), as the kubelet sets it.
	MemoryLimit int64
	// CPUShares is the cgroup cpu.shares weight.
	CPUShares uint64
	// CPUQuota and CPUPeriod in microseconds; a quota of 0 is no limit.
	CPUQuota  int64
	CPUPeriod uint64
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

// Container event actions Berth follows (Podman's event statuses).
const (
	EventStop   = "stop"
	EventDied   = "died"
	EventRemove = "remove"
)

// ContainerEvent is one event of Podman's event stream about a container.
type ContainerEvent struct {
	ID     string
	Name   string
	Action string // EventDied, EventRemove, ...
	// ExitCode is the container's exit code on EventDied.
	ExitCode int32
	Time     time.Time
}

// ErrNotFound is what a Runtime's error wraps when the object does not exist (see IsNotFound).
var ErrNotFound = errors.New("no such object")

// PodInfo summarises a Podman pod.
type PodInfo struct {
	ID     string
	Name   string
	Labels map[string]string
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

// LogOptions selects which logs to read.
type LogOptions struct {
	Follow     bool
	Tail       int // <0 for all
	Since      time.Time
	Timestamps bool
}

// Runtime is the set of Podman operations Berth uses. Implementations must be safe for concurrent use.
type Runtime interface {
	// Ping checks that the Podman service answers.
	Ping(ctx context.Context) error
	// Info reports the host's resources and versions.
	Info(ctx context.Context) (HostInfo, error)
	// EnsureNetwork creates the bridge network if it does not exist.
	EnsureNetwork(ctx context.Context, name, iface, subnet string) error
	// ImageExists tells whether an image is stored locally.
	ImageExists(ctx context.Context, ref string) (bool, error)
	// PullImage pulls an image from its registry.
	PullImage(ctx context.Context, ref string, opts PullOptions) error
	// TagImage gives the local image ref another name (a tagged reference).
	TagImage(ctx context.Context, ref, name string) error
	// ListImages lists local images.
	ListImages(ctx context.Context) ([]Image, error)
	// ImportImage imports a root filesystem tarball as an image with the given reference.
	ImportImage(ctx context.Context, ref string, rootfs io.Reader) error
	// CreatePod creates (but does not start) a pod and returns its ID.
	CreatePod(ctx context.Context, spec PodSpec) (string, error)
	// StartPod starts the pod's infra container so its network exists.
	StartPod(ctx context.Context, id string) error
	// StopPod stops the pod's containers, infra included, giving each timeout before SIGKILL.
	StopPod(ctx context.Context, id string, timeout time.Duration) error
	// PodIP reports the pod's IP on the given network.
	PodIP(ctx context.Context, id, network string) (string, error)
	// ListPods lists pods carrying all the given labels.
	ListPods(ctx context.Context, labels map[string]string) ([]PodInfo, error)
	// ListContainers lists containers, running or not, carrying all the given labels.
	ListContainers(ctx context.Context, labels map[string]string) ([]ContainerInfo, error)
	// RemovePod force-removes a pod and its containers; a missing pod is not an error.
	RemovePod(ctx context.Context, id string) error
	// CreateContainer creates a container and returns its ID.
	CreateContainer(ctx context.Context, spec ContainerSpec) (string, error)
	// StartContainer starts a created or exited container.
	StartContainer(ctx context.Context, id string) error
	// WatchContainers follows the events of the containers carrying all the given labels whose action is one of
	// actions. connected is called once Podman accepted the subscription, handle with every event, both from the
	// calling goroutine. It returns nil when ctx ends and an error when the stream could not be opened or broke.
	WatchContainers(ctx context.Context, labels map[string]string, actions []string, connected func(), handle func(ContainerEvent)) error
	// InspectContainer reports a container's state.
	InspectContainer(ctx context.Context, id string) (ContainerState, error)
	// UpdateContainerResources sets the cgroup limits of a running container in place (Podman 4.3 and later);
	// the whole set is applied, so a limit left at 0 is removed.
	UpdateContainerResources(ctx context.Context, id string, r ContainerResources) error
	// StopContainer sends the stop signal, then SIGKILL after timeout.
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	// RemoveContainer force-removes a container; a missing container is not an error.
	RemoveContainer(ctx context.Context, id string) error
	// ImageUser reports the user an image is configured to run as ("" for none: root).
	ImageUser(ctx context.Context, ref string) (string, error)
	// ReadFile reads at most the last max bytes of a regular file of a container, running or exited. A missing
	// file is an error for which IsNotFound holds.
	ReadFile(ctx context.Context, id, path string, max int64) ([]byte, error)
	// Stats samples the resource usage of running containers (by ID); containers that are not running are left out.
	Stats(ctx context.Context, ids []string) ([]ContainerStats, error)
	// ExecStream runs cmd in a running container with the given streams and returns its exit code.
	ExecStream(ctx context.Context, id string, cmd []string, s StreamOptions) (int, error)
	// AttachStream connects the streams to a running container's main process until it exits or ctx ends.
	AttachStream(ctx context.Context, id string, s StreamOptions) error
	// Logs copies a container's stdout and stderr to w.
	Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error
	// Exec runs cmd in a running container without a TTY or stdin and returns its exit code and its stdout and
	// stderr combined (the first 64 KiB). A command still running after timeout (0: none) is left to itself and
	// an error wrapping ErrExecTimeout is returned.
	Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) (int, []byte, error)
}
