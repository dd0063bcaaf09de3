// Package podmanfit is the PodmanFit filter: a node passes only if it is schedulable (not cordoned, or the pod
// tolerates node.kubernetes.io/unschedulable, as the in-tree NodeUnschedulable decides), the pod's requests fit in
// what its allocatable leaves after the pods already on it (assumed ones included), its host ports are free, and,
// on a Podman node, the pod has no persistent volume claims (Berth mounts none) and the host's observed available
// memory covers the pod's memory request. A node that is not Ready
// is left to the taints, as in-tree: the node lifecycle controller taints it node.kubernetes.io/not-ready or
// unreachable, and TaintToleration keeps off it the pods that do not tolerate that.
package podmanfit

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/component-helpers/storage/ephemeral"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/berth-dev/berth/plugins/apis/config"
	_ "github.com/berth-dev/berth/plugins/apis/config/scheme" // registers the arguments
	"github.com/berth-dev/berth/plugins/apis/config/validation"
	"github.com/berth-dev/berth/plugins/internal/hostobs"
)

// Name is the plugin's name in a KubeSchedulerConfiguration.
const Name = "PodmanFit"

// Reasons a node is filtered out; each is the start of the status message kubectl describe shows.
const (
	ReasonUnschedulable  = "node is unschedulable"
	ReasonTooManyPods    = "Too many pods"
	ReasonInsufficient   = "Insufficient"
	ReasonHostPortInUse  = "host port is already in use"
	ReasonHostMemoryLow  = "Insufficient memory on Podman host"
	ReasonVolumeClaims   = "Podman nodes cannot mount persistent volume claims"
	preFilterStateKey    = "PreFilter" + Name
	unschedulableTaint   = corev1.TaintNodeUnschedulable
	errReasonNotFoundMsg = "node not found"
)

// PodmanFit is the filter plugin.
type PodmanFit struct {
	args   config.PodmanFitArgs
	now    func() time.Time
	logger klog.Logger
}

var (
	_ fwk.PreFilterPlugin = &PodmanFit{}
	_ fwk.FilterPlugin    = &PodmanFit{}
)

// New builds the plugin from its arguments (nil means defaults).
func New(ctx context.Context, obj runtime.Object, _ fwk.Handle) (fwk.Plugin, error) {
	args := config.PodmanFitArgs{}
	switch a := obj.(type) {
	case nil:
		args = DefaultArgs()
	case *config.PodmanFitArgs:
		args = *a
	default:
		return nil, fmt.Errorf("want args to be of type PodmanFitArgs, got %T", obj)
	}
	if err := validation.ValidatePodmanFitArgs(nil, &args); err != nil {
		return nil, err
	}
	return &PodmanFit{args: args, now: time.Now, logger: klog.FromContext(ctx).WithValues("plugin", Name)}, nil
}

// DefaultArgs are the arguments used when none are configured.
func DefaultArgs() config.PodmanFitArgs {
	return config.PodmanFitArgs{ObservedMemory: true, MaxObservationAge: defaultAge}
}

// Name implements fwk.Plugin.
func (p *PodmanFit) Name() string { return Name }

// preFilterState is what PreFilter computes once per pod.
type preFilterState struct {
	cpu, memory, ephemeral int64
	scalar                 map[corev1.ResourceName]int64
	ports                  []corev1.ContainerPort
	// claims is why a Podman node refuses the pod for its persistent volume claims ("" if it has none).
	claims string
}

// Clone implements fwk.StateData; the state is read-only after PreFilter.
func (s *preFilterState) Clone() fwk.StateData { return s }

// PreFilter computes the pod's requests as the kubelet counts them: the largest of the init containers (sidecars
// added to what follows them) against the sum of the app containers, plus pod overhead.
func (p *PodmanFit) PreFilter(_ context.Context, state fwk.CycleState, pod *corev1.Pod, _ []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	s := &preFilterState{
		cpu:       reqs.Cpu().MilliValue(),
		memory:    reqs.Memory().Value(),
		ephemeral: reqs.StorageEphemeral().Value(),
	}
	for name, q := range reqs {
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods:
		default:
			if s.scalar == nil {
				s.scalar = map[corev1.ResourceName]int64{}
			}
			s.scalar[name] = q.Value()
		}
	}
	// Host ports held while the pod runs: its app containers' and its sidecars' (as NodeInfo counts them); a
	// run-once init container's port is free again before the app containers start.
	addPorts := func(c *corev1.Container) {
		for _, port := range c.Ports {
			if port.HostPort > 0 {
				s.ports = append(s.ports, port)
			}
		}
	}
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addPorts(c)
		}
	}
	for i := range pod.Spec.Containers {
		addPorts(&pod.Spec.Containers[i])
	}
	s.claims = claims(pod)
	state.Write(preFilterStateKey, s)
	return nil, nil
}

// PreFilterExtensions implements fwk.PreFilterPlugin; Filter reads the node's pods itself.
func (p *PodmanFit) PreFilterExtensions() fwk.PreFilterExtensions { return nil }

// Filter implements fwk.FilterPlugin.
func (p *PodmanFit) Filter(_ context.Context, state fwk.CycleState, pod *corev1.Pod, nodeInfo fwk.NodeInfo) *fwk.Status {
	node := nodeInfo.Node()
	if node == nil {
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, errReasonNotFoundMsg)
	}
	data, err := state.Read(preFilterStateKey)
	if err != nil {
		return fwk.AsStatus(fmt.Errorf("reading %q from cycle state: %w", preFilterStateKey, err))
	}
	s, ok := data.(*preFilterState)
	if !ok {
		return fwk.AsStatus(fmt.Errorf("%+v cannot be converted to podmanfit.preFilterState", data))
	}
	if node.Spec.Unschedulable && !tolerates(pod, unschedulableTaint) {
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, ReasonUnschedulable)
	}
	// Before the resources: preemption cannot help a node that cannot mount the pod's volumes.
	if s.claims != "" && hostobs.Podman(node) {
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, s.claims)
	}
	if st := fits(s, nodeInfo); st != nil {
		return st
	}
	used := nodeInfo.GetUsedPorts()
	for _, port := range s.ports {
		proto := string(port.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		if used.CheckConflict(port.HostIP, proto, port.HostPort) {
			return fwk.NewStatus(fwk.Unschedulable, fmt.Sprintf("%s: %d/%s", ReasonHostPortInUse, port.HostPort, proto))
		}
	}
	if p.args.ObservedMemory && s.memory > 0 {
		if avail, ok := hostobs.AvailableMemory(node, p.now(), p.args.MaxObservationAge.Duration); ok && s.memory > avail {
			return fwk.NewStatus(fwk.Unschedulable, fmt.Sprintf("%s: requested %s, available %s", ReasonHostMemoryLow, bytes(s.memory), bytes(avail)))
		}
	}
	return nil
}

// claims says why a Podman node cannot run the pod for its persistent volume claims, naming each: its
// persistentVolumeClaim volumes and its generic ephemeral volumes (whose claim the ephemeral volume controller
// makes). Berth's provider mounts no claim, whatever its volume (provider/podspec refuses both kinds, with the pod
// failing on the node), so no binding or provisioning of the claim would change that: the pod stays Pending
// instead, unless a node that is not a Podman node can take it. When the provider mounts local and hostPath
// persistent volumes, this must pass the claims bound (or bindable) to those and refuse the others.
func claims(pod *corev1.Pod) string {
	var names []string
	for i := range pod.Spec.Volumes {
		switch v := &pod.Spec.Volumes[i]; {
		case v.PersistentVolumeClaim != nil:
			names = append(names, fmt.Sprintf("spec.volumes[%s] (claim %s)", v.Name, v.PersistentVolumeClaim.ClaimName))
		case v.Ephemeral != nil:
			names = append(names, fmt.Sprintf("spec.volumes[%s] (ephemeral claim %s)", v.Name, ephemeral.VolumeClaimName(pod, v)))
		}
	}
	if len(names) == 0 {
		return ""
	}
	return ReasonVolumeClaims + ": " + strings.Join(names, ", ")
}

// tolerates tells whether the pod tolerates a NoSchedule taint with this key and no value, as the in-tree
// NodeUnschedulable checks it (comparison operators are an alpha feature, off; they never match a taint without a
// value anyway).
func tolerates(pod *corev1.Pod, key string) bool {
	taint := &corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}
	for i := range pod.Spec.Tolerations {
		if pod.Spec.Tolerations[i].ToleratesTaint(klog.Background(), taint, false) {
			return true
		}
	}
	return false
}

// fits checks the pod's requests against what the node's allocatable leaves.
func fits(s *preFilterState, nodeInfo fwk.NodeInfo) *fwk.Status {
	alloc := nodeInfo.GetAllocatable()
	req := nodeInfo.GetRequested()
	if len(nodeInfo.GetPods())+1 > alloc.GetAllowedPodNumber() {
		return fwk.NewStatus(fwk.Unschedulable, fmt.Sprintf("%s: %d of %d in use", ReasonTooManyPods, len(nodeInfo.GetPods()), alloc.GetAllowedPodNumber()))
	}
	var reasons []string
	if s.cpu > 0 && s.cpu > alloc.GetMilliCPU()-req.GetMilliCPU() {
		reasons = append(reasons, fmt.Sprintf("%s cpu: requested %dm, free %dm", ReasonInsufficient, s.cpu, alloc.GetMilliCPU()-req.GetMilliCPU()))
	}
	if s.memory > 0 && s.memory > alloc.GetMemory()-req.GetMemory() {
		reasons = append(reasons, fmt.Sprintf("%s memory: requested %s, free %s", ReasonInsufficient, bytes(s.memory), bytes(alloc.GetMemory()-req.GetMemory())))
	}
	if s.ephemeral > 0 && s.ephemeral > alloc.GetEphemeralStorage()-req.GetEphemeralStorage() {
		reasons = append(reasons, fmt.Sprintf("%s ephemeral-storage: requested %s, free %s", ReasonInsufficient, bytes(s.ephemeral), bytes(alloc.GetEphemeralStorage()-req.GetEphemeralStorage())))
	}
	for name, v := range s.scalar {
		free := alloc.GetScalarResources()[name] - req.GetScalarResources()[name]
		if v > free {
			reasons = append(reasons, fmt.Sprintf("%s %s: requested %d, free %d", ReasonInsufficient, name, v, free))
		}
	}
	if len(reasons) > 0 {
		return fwk.NewStatus(fwk.Unschedulable, reasons...)
	}
	return nil
}

// bytes prints a byte count as Kubernetes quantities read: exact units (512Mi), else whole Mi rounded down.
func bytes(n int64) string {
	const mi = 1 << 20
	if n%mi == 0 || n < mi {
		return resource.NewQuantity(n, resource.BinarySI).String()
	}
	return fmt.Sprintf("%dMi", n/mi)
}
