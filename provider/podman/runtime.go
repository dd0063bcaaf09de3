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
}

// PortMapping maps a host port to a pod port.
type PortMapping struct {
	HostIP        string
	HostPort      uint16
	ContainerPort uint16
	Protocol      string
}

// VolumeMount mounts a named volume into a container.
type VolumeMount struct {
	Volume   string
	Dest     string
	ReadOnly bool
}

// VolumeSpec is a named volume: on the host's disk, or a tmpfs when Memory.
type VolumeSpec struct {
	Name   string
	Labels map[string]string
	Memory bool
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
	// MemoryLimit in bytes, 0 for none.
	MemoryLimit int64
	// CPUQuota and CPUPeriod in microseconds, 0 for none.
	CPUQuota  int64
	CPUPeriod uint64
	// StopSignal is the signal sent on stop; empty for the image's.
	StopSignal string
	TTY        bool
	Stdin      bool
	User       string
	Volumes    []VolumeMount
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
	// PullImage pulls an image from its registry, with credentials if auth is not nil.
	PullImage(ctx context.Context, ref string, auth *Auth) error
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
	// CreateVolume creates a named volume unless it exists.
	CreateVolume(ctx context.Context, spec VolumeSpec) error
	// RemoveVolumes removes the named volumes carrying all the given labels (unused by any container).
	RemoveVolumes(ctx context.Context, labels map[string]string) error
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
	// StopContainer sends the stop signal, then SIGKILL after timeout.
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	// RemoveContainer force-removes a container; a missing container is not an error.
	RemoveContainer(ctx context.Context, id string) error
	// Logs copies a container's stdout and stderr to w.
	Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error
}
