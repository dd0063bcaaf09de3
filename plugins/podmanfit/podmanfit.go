// Package podmanfit is the PodmanFit filter: a node passes only if it is schedulable (not cordoned, or the pod
// tolerates node.kubernetes.io/unschedulable, as the in-tree NodeUnschedulable decides), the pod's requests fit in
// what its allocatable leaves after the pods already on it (assumed ones included), its host ports are free, and,
// on a Podman node, the pod's persistent volume claims are ones Berth mounts (hostPath and local volumes) and the
// host's observed available memory covers the pod's memory request. A node that is not Ready
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
	corev1listers "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/component-helpers/storage/ephemeral"
	storagehelpers "k8s.io/component-helpers/storage/volume"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/berth-dev/berth/internal/persistentvolume"
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
	ReasonVolumeClaims   = "Podman nodes mount only hostPath and local persistent volumes"
	preFilterStateKey    = "PreFilter" + Name
	unschedulableTaint   = corev1.TaintNodeUnschedulable
	errReasonNotFoundMsg = "node not found"
)

// noProvisioner is the provisioner of the StorageClasses of static local volumes: none provisions their
// volumes, VolumeBinding binds a claim to one of those that exist.
const noProvisioner = "kubernetes.io/no-provisioner"

// PodmanFit is the filter plugin.
type PodmanFit struct {
	args   config.PodmanFitArgs
	now    func() time.Time
	logger klog.Logger
	// The scheduler's informer caches of claims, PersistentVolumes and StorageClasses (those VolumeBinding reads);
	// nil without a handle (unit tests), when every claim is left to VolumeBinding.
	pvcs    corev1listers.PersistentVolumeClaimLister
	pvs     corev1listers.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	// obs holds the nodes' parsed host observations.
	obs hostobs.Observations
}

var (
	_ fwk.PreFilterPlugin = &PodmanFit{}
	_ fwk.FilterPlugin    = &PodmanFit{}
)

// New builds the plugin from its arguments (nil means defaults).
func New(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
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
	p := &PodmanFit{args: args, now: time.Now, logger: klog.FromContext(ctx).WithValues("plugin", Name)}
	if h != nil && h.SharedInformerFactory() != nil {
		// Asked for here, before the scheduler starts the factory, so that it starts these informers too.
		f := h.SharedInformerFactory()
		p.pvcs, p.pvs, p.classes = f.Core().V1().PersistentVolumeClaims().Lister(), f.Core().V1().PersistentVolumes().Lister(), f.Storage().V1().StorageClasses().Lister()
	}
	return p, nil
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
	// claims is why a Podman node refuses the pod for its persistent volume claims ("" if it mounts them all).
	claims string
	// now is when the cycle started, against which observations are judged.
	now time.Time
}

// Clone implements fwk.StateData; the state is read-only after PreFilter.
func (s *preFilterState) Clone() fwk.StateData { return s }

// PreFilter computes the pod's requests as the kubelet counts them: the largest of the init containers (sidecars
// added to what follows them) against the sum of the app containers, plus pod overhead; and, once per cycle,
// which of its claims a Podman node cannot mount.
func (p *PodmanFit) PreFilter(_ context.Context, state fwk.CycleState, pod *corev1.Pod, _ []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	s := &preFilterState{
		now:       p.now(),
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
	s.claims = p.unmountableClaims(pod)
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
		if avail, ok := p.obs.AvailableMemory(node, s.now, p.args.MaxObservationAge.Duration); ok && s.memory > avail {
			return fwk.NewStatus(fwk.Unschedulable, fmt.Sprintf("%s: requested %s, available %s", ReasonHostMemoryLow, bytes(s.memory), bytes(avail)))
		}
	}
	return nil
}

// unmountableClaims says why a Podman node cannot run the pod for its persistent volume claims, naming each claim
// it refuses and why, "" when it refuses none. Berth's provider mounts the claims of persistentVolumeClaim and
// generic ephemeral volumes bound to hostPath and local PersistentVolumes (of volumeMode Filesystem), and fails
// the pod on the node for any other: such a pod stays Pending instead, unless a node that is not a Podman node can
// take it. A claim is refused when it is bound (or pre-bound, by its volumeName) to another PersistentVolume, or
// when it is unbound with a StorageClass whose provisioner would make it one: any provisioner but
// kubernetes.io/no-provisioner, whose static local volumes VolumeBinding binds claims to. What VolumeBinding reports
// itself is left to it: a claim, PersistentVolume or StorageClass that does not exist (yet), an ephemeral volume's
// claim that is not the pod's, an unbound claim without a class (the PV controller binds it).
func (p *PodmanFit) unmountableClaims(pod *corev1.Pod) string {
	var names []string
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		var claim, kind string
		switch {
		case v.PersistentVolumeClaim != nil:
			claim, kind = v.PersistentVolumeClaim.ClaimName, "claim"
		case v.Ephemeral != nil:
			claim, kind = ephemeral.VolumeClaimName(pod, v), "ephemeral claim"
		default:
			continue
		}
		if why := p.claimProblem(pod, v, claim); why != "" {
			names = append(names, fmt.Sprintf("spec.volumes[%s] (%s %s: %s)", v.Name, kind, claim, why))
		}
	}
	if len(names) == 0 {
		return ""
	}
	return ReasonVolumeClaims + ": " + strings.Join(names, ", ")
}

// claimProblem says why a Podman node cannot mount the claim of volume v, "" if it can or VolumeBinding decides.
func (p *PodmanFit) claimProblem(pod *corev1.Pod, v *corev1.Volume, name string) string {
	if p.pvcs == nil {
		return ""
	}
	pvc, err := p.pvcs.PersistentVolumeClaims(pod.Namespace).Get(name)
	if err != nil {
		return ""
	}
	if v.Ephemeral != nil && ephemeral.VolumeIsForPod(pod, pvc) != nil {
		return ""
	}
	if pvc.Spec.VolumeName != "" {
		pv, err := p.pvs.Get(pvc.Spec.VolumeName)
		if err != nil {
			return ""
		}
		if what, _ := persistentvolume.Unmountable(pv); what != "" {
			return "bound to PersistentVolume " + pv.Name + " " + what
		}
		return ""
	}
	class := storagehelpers.GetPersistentVolumeClaimClass(pvc)
	if class == "" {
		return ""
	}
	sc, err := p.classes.Get(class)
	if err != nil || sc.Provisioner == noProvisioner {
		return ""
	}
	return fmt.Sprintf("StorageClass %s provisions its volumes with %s", class, sc.Provisioner)
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
