package provider

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
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

// maxPods is the pod capacity reported, as the kubelet's default.
const maxPods = 110

// maxImages bounds node.status.images as the kubelet does (nodeStatusMaxImages).
const maxImages = 50

// NodeConfig configures the node a provider stands for.
type NodeConfig struct {
	Name        string
	IP          string
	KubeletPort int32
	// Version is reported as the node's kubelet version.
	Version string
	Runtime podman.Runtime
	// Interval between observations of the Podman host.
	Interval time.Duration
	// Taints are registered with the node.
	Taints []corev1.Taint
}

// Node keeps a virtual node's status tied to its Podman host: capacity from /libpod/info, Ready while Podman
// answers, observed free memory and stored images for the scheduler. It implements virtual-kubelet's
// node.NodeProvider.
type Node struct {
	cfg NodeConfig

	mu   sync.Mutex
	node *corev1.Node
}

// NewNode builds the initial node object from one observation of the host. A host that does not answer yet
// gives a node that is not Ready.
func NewNode(ctx context.Context, cfg NodeConfig) *Node {
	if cfg.Interval == 0 {
		cfg.Interval = 5 * time.Second
	}
	n := &Node{cfg: cfg}
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
		Spec: corev1.NodeSpec{Taints: cfg.Taints},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: cfg.IP},
				{Type: corev1.NodeHostName, Address: cfg.Name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: cfg.KubeletPort}},
			// The features beyond the API's defaults that Berth's provider has, which the apiserver checks before
			// it lets a pod ask for them (the kubelet's NodeDeclaredFeatures): the in-place resize of non-sidecar
			// init containers (resize.go), not that of pod-level resources.
			DeclaredFeatures: []string{inplacepodresize.IPPRInitContainersFeatureGate},
		},
	}
	n.node = node
	n.observe(ctx, time.Now())
	return n
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
// reporting, with Ready=False (PodmanUnreachable) from observe, instead of going silent until the node lifecycle
// controller marks it Unknown.
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

// observe looks at the Podman host and updates the node; it tells whether anything a user would see changed
// (conditions, capacity, images) or the free-memory reading did.
func (n *Node) observe(ctx context.Context, now time.Time) bool {
	logger := klog.FromContext(ctx)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := n.cfg.Runtime.Info(cctx)
	var images []podman.Image
	if err == nil {
		images, err = n.cfg.Runtime.ListImages(cctx)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	before := n.node.DeepCopy()
	ready := err == nil
	msg := "Podman is answering"
	reason := "PodmanReady"
	if !ready {
		reason = "PodmanUnreachable"
		msg = fmt.Sprintf("Podman does not answer: %v", err)
		logger.Error(err, "Observing Podman host")
	} else {
		applyHostInfo(n.node, info, n.cfg.Version)
		n.node.Status.Images = nodeImages(images)
		n.node.Annotations[AnnotationFreeMemory] = strconv.FormatInt(info.MemFree, 10)
	}
	n.node.Annotations[AnnotationObservedAt] = now.UTC().Format(time.RFC3339)
	setCondition(n.node, corev1.NodeReady, ready, reason, msg, now)
	setCondition(n.node, corev1.NodeMemoryPressure, false, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", now)
	setCondition(n.node, corev1.NodeDiskPressure, false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now)
	setCondition(n.node, corev1.NodePIDPressure, false, "KubeletHasSufficientPID", "kubelet has sufficient PID available", now)
	return !equalIgnoringHeartbeat(before, n.node)
}

// applyHostInfo sets capacity, allocatable and node info from the Podman host.
func applyHostInfo(node *corev1.Node, info podman.HostInfo, version string) {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(info.CPUs), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(info.MemTotal, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(maxPods, resource.DecimalSI),
	}
	if info.GraphRootSize > 0 {
		capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(info.GraphRootSize, resource.BinarySI)
	}
	node.Status.Capacity = capacity
	node.Status.Allocatable = capacity.DeepCopy()
	node.Status.NodeInfo = corev1.NodeSystemInfo{
		KernelVersion:           info.Kernel,
		OSImage:                 info.Distribution,
		OperatingSystem:         runtime.GOOS,
		Architecture:            runtime.GOARCH,
		ContainerRuntimeVersion: "podman://" + info.Version,
		KubeletVersion:          version,
	}
	if info.Arch != "" {
		node.Status.NodeInfo.Architecture = info.Arch
	}
}

// nodeImages lists images largest first, at most maxImages, as the kubelet reports them.
func nodeImages(images []podman.Image) []corev1.ContainerImage {
	sorted := append([]podman.Image{}, images...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Size > sorted[j].Size })
	var out []corev1.ContainerImage
	for _, im := range sorted {
		names := append([]string{}, im.Names...)
		if len(names) == 0 {
			continue
		}
		out = append(out, corev1.ContainerImage{Names: names, SizeBytes: im.Size})
		if len(out) == maxImages {
			break
		}
	}
	return out
}

// setCondition sets a node condition, keeping its transition time unless its status changed.
func setCondition(node *corev1.Node, t corev1.NodeConditionType, ok bool, reason, msg string, now time.Time) {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	c := corev1.NodeCondition{Type: t, Status: status, Reason: reason, Message: msg,
		LastHeartbeatTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
	for i, old := range node.Status.Conditions {
		if old.Type != t {
			continue
		}
		if old.Status == status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		node.Status.Conditions[i] = c
		return
	}
	node.Status.Conditions = append(node.Status.Conditions, c)
}

// equalIgnoringHeartbeat compares two nodes, ignoring heartbeat and observation times.
func equalIgnoringHeartbeat(a, b *corev1.Node) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	for _, n := range []*corev1.Node{a, b} {
		delete(n.Annotations, AnnotationObservedAt)
		for i := range n.Status.Conditions {
			n.Status.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
	}
	return equality.Semantic.DeepEqual(a.Status, b.Status) && maps.Equal(a.Annotations, b.Annotations)
}
