package node

import (
	"context"
	"runtime"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/nodedeclaredfeatures/features/inplacepodresize"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/provider/podman"
)

// Node labels and annotations the virtual kubelet keeps fresh for the scheduler.
const (
	AnnotationFreeMemory = wellknown.AnnotationFreeMemory
	AnnotationObservedAt = wellknown.AnnotationObservedAt
	LabelPodman          = wellknown.LabelPodman
)

// Runtime is what a node reads of its Podman host. podman.Runtime has it.
type Runtime interface {
	// Info reports the host's resources and versions.
	Info(ctx context.Context) (podman.HostInfo, error)
	// ListImages lists the images stored on the host.
	ListImages(ctx context.Context) ([]podman.Image, error)
}

// DefaultUnreachableAfter is how long Podman may go without answering before the node turns Ready=False
// (berth-kubelet --podman-unreachable-node-grace): the kubelet's maxWaitForContainerRuntime.
const DefaultUnreachableAfter = 30 * time.Second

// DefaultMaxPods is the pod capacity of a node (berth-kubelet --max-pods), the kubelet's default maxPods.
const DefaultMaxPods = 110

// Config configures the node a provider stands for.
type Config struct {
	Name        string
	IP          string
	KubeletPort int32
	// Version is reported as the node's kubelet version.
	Version string
	// MaxPods is the node's pod capacity and allocatable (berth-kubelet --max-pods), as the kubelet's maxPods.
	// Default DefaultMaxPods.
	MaxPods int
	Runtime Runtime
	// Interval between observations of the Podman host.
	Interval time.Duration
	// UnreachableAfter is how long Podman may go without answering an observation before the node turns
	// Ready=False (PodmanUnreachable); until then a slow or failed observation leaves the Ready condition as it
	// was, as a kubelet reports "container runtime is down" only once its last successful runtime status check is
	// older than maxWaitForContainerRuntime (30 s). A node whose Podman has never answered is not Ready from the
	// start. Default DefaultUnreachableAfter.
	UnreachableAfter time.Duration
	// Taints are registered with the node.
	Taints []corev1.Taint
	// PodCIDRs are the pods' subnets (the Podman network's), registered as the node's spec.podCIDR(s).
	PodCIDRs []string
	// MemAvailable reads the Podman host's MemAvailable (/proc/meminfo: what new pods can get without swapping,
	// page cache counting as available), which the node publishes for the scheduler's plugins. Nil when it cannot
	// be read, as for a remote Podman, whose API reports only MemFree (page cache counting as used): the node then
	// publishes none, and the scheduler judges it on requests alone, as the in-tree plugins do.
	MemAvailable func() (int64, error)
	// NodeFs reads the filesystem of the kubelet's root folder on the Podman host, for the DiskPressure condition's
	// nodefs thresholds; nil when it cannot be read (a remote Podman). Podman's graph root (imagefs) comes from
	// its API.
	NodeFs func() (FsStats, error)
	// RuntimeHandlers are the RuntimeClass handlers the node runs (berth-kubelet --runtime-handlers), reported in
	// status.runtimeHandlers beside the default one.
	RuntimeHandlers []string
	// UserNamespaces tells whether the node runs pods with hostUsers: false, reported as a feature of every handler.
	UserNamespaces bool
}

// Node keeps a virtual node's status tied to its Podman host: capacity from /libpod/info, Ready while Podman
// answers, observed available memory and stored images for the scheduler. It implements virtual-kubelet's
// node.NodeProvider.
type Node struct {
	cfg     Config
	setters []setter

	mu   sync.Mutex
	node *corev1.Node
	// lastAnswer is when Podman last answered an observation (the observation's time); zero if it never did.
	lastAnswer time.Time
	// pressure is when each pressure condition's signal last crossed its eviction threshold.
	pressure pressureState
}

// New builds the initial node object from one observation of the host. A host that does not answer yet gives a
// node that is not Ready.
func New(ctx context.Context, cfg Config) *Node {
	if cfg.Interval == 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.UnreachableAfter == 0 {
		cfg.UnreachableAfter = DefaultUnreachableAfter
	}
	if cfg.MaxPods <= 0 {
		cfg.MaxPods = DefaultMaxPods
	}
	n := &Node{cfg: cfg, setters: defaultSetters(cfg.Version, cfg.MaxPods, cfg.UnreachableAfter), pressure: pressureState{}}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: cfg.Name,
			Labels: map[string]string{
				corev1.LabelHostname:   cfg.Name,
				corev1.LabelOSStable:   runtime.GOOS,
				corev1.LabelArchStable: runtime.GOARCH,
				"type":                 "virtual-kubelet",
				LabelPodman:            "true",
			},
			Annotations: map[string]string{},
		},
		Spec: corev1.NodeSpec{Taints: cfg.Taints, PodCIDRs: cfg.PodCIDRs},
		Status: corev1.NodeStatus{
			Addresses:       Addresses(cfg.Name, cfg.IP),
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: cfg.KubeletPort}},
			// The features beyond the API's defaults that Berth's provider has, which the apiserver checks before
			// it lets a pod ask for them (the kubelet's NodeDeclaredFeatures): the in-place resize of non-sidecar
			// init containers (provider/resize.go), not that of pod-level resources.
			DeclaredFeatures: []string{inplacepodresize.IPPRInitContainersFeatureGate},
			RuntimeHandlers:  RuntimeHandlers(cfg.RuntimeHandlers, cfg.UserNamespaces),
		},
	}
	if len(cfg.PodCIDRs) > 0 {
		node.Spec.PodCIDR = cfg.PodCIDRs[0]
	}
	n.node = node
	n.observe(ctx, time.Now())
	return n
}

// RuntimeHandlers is status.runtimeHandlers as a kubelet reports its runtime's: the default handler (named "") and
// each named one, with the features a pod may ask of them. Berth refuses recursiveReadOnly mounts, so no handler
// has that feature; each has user namespaces when the node runs hostUsers: false pods.
func RuntimeHandlers(handlers []string, userNamespaces bool) []corev1.NodeRuntimeHandler {
	handler := func(name string) corev1.NodeRuntimeHandler {
		return corev1.NodeRuntimeHandler{Name: name, Features: &corev1.NodeRuntimeHandlerFeatures{
			RecursiveReadOnlyMounts: new(false), UserNamespaces: new(userNamespaces)}}
	}
	out := []corev1.NodeRuntimeHandler{handler("")} // the default one
	for _, name := range handlers {
		if name != "" {
			out = append(out, handler(name))
		}
	}
	return out
}

// Addresses are the status addresses of the node named name at ip: its InternalIP and its Hostname. Its serving
// certificate names the same (and berth up's approver checks that it does).
func Addresses(name, ip string) []corev1.NodeAddress {
	return []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: name}}
}

// Configure copies the node's current state into a virtual-kubelet node spec.
func (n *Node) Configure(into *corev1.Node) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.node.DeepCopyInto(into)
}

// Allocatable is the node's current allocatable.
func (n *Node) Allocatable() corev1.ResourceList {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.node.Status.Allocatable.DeepCopy()
}

// Ping implements node.NodeProvider. virtual-kubelet writes the node's status and renews its lease only while
// Ping succeeds, so it does not ask Podman: like a kubelet whose container runtime is down, the node goes on
// reporting, with Ready=False (PodmanUnreachable) from observe once Podman has not answered for UnreachableAfter,
// instead of going silent until the node lifecycle controller marks it Unknown.
func (n *Node) Ping(ctx context.Context) error {
	return ctx.Err()
}

// NotifyNodeStatus implements node.NodeProvider: it observes the host every Interval and reports changes.
func (n *Node) NotifyNodeStatus(ctx context.Context, cb func(*corev1.Node)) {
	go func() {
		t := time.NewTicker(n.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if n.observe(ctx, now) {
					n.mu.Lock()
					node := n.node.DeepCopy()
					n.mu.Unlock()
					cb(node)
				}
			}
		}
	}()
}

// observe looks at the Podman host and updates the node through its setters; it tells whether anything a user
// would see changed (conditions, capacity, images) or the available-memory reading did.
func (n *Node) observe(ctx context.Context, now time.Time) bool {
	logger := klog.FromContext(ctx)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	o := observation{now: now}
	o.info, o.err = n.cfg.Runtime.Info(cctx)
	if o.err == nil {
		o.images, o.err = n.cfg.Runtime.ListImages(cctx)
	}
	if o.err == nil && n.cfg.MemAvailable != nil {
		if avail, err := n.cfg.MemAvailable(); err != nil {
			logger.V(2).Info("Cannot read the host's available memory; the node publishes none", "err", err)
		} else {
			o.memAvailable, o.hasMemAvailable = avail, true
		}
	}
	if o.err == nil && n.cfg.NodeFs != nil {
		if fs, err := n.cfg.NodeFs(); err != nil {
			logger.V(2).Info("Cannot read the filesystem of the kubelet's root folder", "err", err)
		} else {
			o.nodeFs, o.hasNodeFs = fs, true
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if o.err == nil {
		n.lastAnswer = now
	}
	o.lastAnswer = n.lastAnswer
	o.pressure = n.pressure.update(o)
	before := n.node.DeepCopy()
	if o.err != nil {
		kv := []any{"unreachableAfter", n.cfg.UnreachableAfter}
		if !o.lastAnswer.IsZero() {
			kv = append(kv, "lastAnswer", o.lastAnswer, "unansweredFor", now.Sub(o.lastAnswer))
		}
		logger.Error(o.err, "Observing Podman host", kv...)
	}
	for _, set := range n.setters {
		set(n.node, o)
	}
	return !equalIgnoringHeartbeat(before, n.node)
}
