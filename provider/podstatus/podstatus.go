package podstatus

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ContainerIDPrefix is the runtime scheme of status.containerStatuses[].containerID.
const ContainerIDPrefix = "podman://"

// ReasonPodmanUnreachable is the pod's status.reason, and its Ready and ContainersReady conditions' reason, while
// its phase is Unknown because Podman does not answer.
const ReasonPodmanUnreachable = "PodmanUnreachable"

// Kind is the part a container plays in its pod.
type Kind int

const (
	// Regular is a container of spec.containers.
	Regular Kind = iota
	// Init is a regular init container of spec.initContainers: it runs to completion before the next one starts.
	Init
	// Sidecar is a restartable init container (restartPolicy: Always): it keeps running beside the pod's
	// containers.
	Sidecar
	// Ephemeral is a container of spec.ephemeralContainers (kubectl debug): it runs once and counts neither for
	// the pod's phase nor for its conditions.
	Ephemeral
)

// Container is what the node knows of one container of a pod.
type Container struct {
	// Spec is the container as the pod's spec gives it (an ephemeral one as a Container).
	Spec *corev1.Container
	Kind Kind
	// ID is the runtime's ID of the container's current run, "" while none exists.
	ID string
	// State is the current run's state; LastState how the previous run ended.
	State, LastState corev1.ContainerState
	// Started is set once the current run has started (its startup probe, if any, succeeded); Ready once its
	// readiness probe, if any, succeeded.
	Started, Ready bool
	// ImageID is the image the current run was made of, as the runtime names it.
	ImageID string
	// Attempts is how many runs were created so far; the restartCount is one less.
	Attempts int32
	// Hooking is set while the current run's postStart hook runs: the container is then reported in HookState,
	// its state before it started, as the kubelet whose sync is blocked in the hook shows it.
	Hooking   bool
	HookState corev1.ContainerState
	// Cgroup is what the current run's cgroup was given (the kubelet's actuated resources, as the runtime reports
	// them back); nil when not known.
	Cgroup *Cgroup
}

// Cgroup is what a container's cgroup was set to, in the runtime's terms (the CRI's LinuxContainerResources that
// the kubelet reads back into status resources).
type Cgroup struct {
	CPUQuota    int64
	CPUPeriod   uint64
	CPUShares   uint64
	MemoryLimit int64
	// MemoryRequest is the memory request the run was given, which no cgroup value holds.
	MemoryRequest resource.Quantity
}

// Pod is a snapshot of what the node knows of one pod, which its status is derived from. It may share objects with
// the caller's own records: Derive only reads it, and copies what it returns.
type Pod struct {
	// Pod is the API's pod as the node holds it: its spec (containers, restartPolicy, readinessGates), generation,
	// and status as last written (phase, QoS class, the conditions of other writers).
	Pod *corev1.Pod
	// Containers are the pod's containers: init containers in order, then the others, then ephemeral ones.
	Containers []Container
	PodIP      string
	// StartTime is when the node took the pod on (zero: not yet).
	StartTime metav1.Time
	// SandboxReady is set while the pod's sandbox runs; SandboxExists while the runtime has one (created, not
	// removed).
	SandboxReady, SandboxExists bool
	// Terminal is set once the pod's containers will not run again, whatever its restartPolicy says.
	Terminal bool
	// FinalPhase is the terminal phase once reported (latched), "" before.
	FinalPhase corev1.PodPhase
	// Reason and Message are the pod-level status.reason and status.message.
	Reason, Message string
	// ResizePending and ResizeInProgress are the pod's resize conditions, nil when absent.
	ResizePending, ResizeInProgress *corev1.PodCondition
	// Previous are the conditions last reported, whose transition times are kept while their status holds.
	Previous []corev1.PodCondition
	// Stale is the outage of Podman that made the node's knowledge of the pod stale, nil if none.
	Stale *Outage
}

// Outage is a period during which Podman did not answer.
type Outage struct {
	Since time.Time
	Err   error
}

// Message is the pods' status.message during the outage.
func (o *Outage) Message() string {
	return fmt.Sprintf("Podman has not answered since %s: %v", o.Since.UTC().Format(time.RFC3339), o.Err)
}

// Derive computes a pod's status from a snapshot, the way the kubelet's generateAPIPodStatus does. nodeIP is the
// pod's hostIP; now is the transition time of the kubelet's conditions whose status differs from the previous
// report's. It writes nothing: the caller stores what the report fixes (its conditions as the next Previous, a
// terminal phase as FinalPhase).
func Derive(p *Pod, nodeIP string, now time.Time) corev1.PodStatus {
	pod := p.Pod
	st := corev1.PodStatus{
		QOSClass: pod.Status.QOSClass,
		HostIP:   nodeIP,
		// The generation of the spec this status is of (the node's follows the API's).
		ObservedGeneration: pod.Generation,
	}
	if nodeIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: nodeIP}}
	}
	if p.PodIP != "" {
		st.PodIP = p.PodIP
		st.PodIPs = []corev1.PodIP{{IP: p.PodIP}}
	}
	if !p.StartTime.IsZero() {
		t := p.StartTime
		st.StartTime = &t
	}
	for i := range p.Containers {
		switch c := &p.Containers[i]; c.Kind {
		case Init, Sidecar:
			st.InitContainerStatuses = append(st.InitContainerStatuses, containerStatus(c))
		case Regular:
			st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(c))
		}
	}
	st.EphemeralContainerStatuses = ephemeralStatuses(p.Containers)
	st.Phase = Phase(pod, st.InitContainerStatuses, st.ContainerStatuses, p.Terminal, anyRegularContainerStarted(&st))
	// Terminal phases never go back.
	if isTerminal(pod.Status.Phase) {
		st.Phase = pod.Status.Phase
	}
	if p.FinalPhase != "" {
		st.Phase = p.FinalPhase
	}

	st.Reason, st.Message = p.Reason, p.Message
	staleStatus(&st, p.Stale)
	st.Conditions = stampConditions(conditions(p, &st), p.Previous, pod.Status.Conditions, now)
	return st
}

// isTerminal tells whether a phase is one a pod never leaves.
func isTerminal(phase corev1.PodPhase) bool {
	return phase == corev1.PodSucceeded || phase == corev1.PodFailed
}

// staleStatus turns a pod status Unknown for an outage, unless its phase is terminal, which never changes.
// Container statuses stay as last known; status.reason and message say why.
func staleStatus(st *corev1.PodStatus, o *Outage) {
	if o == nil || isTerminal(st.Phase) {
		return
	}
	st.Phase = corev1.PodUnknown
	st.Reason, st.Message = ReasonPodmanUnreachable, o.Message()
}
