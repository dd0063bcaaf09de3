package node

import (
	"fmt"
	"maps"
	"runtime"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/provider/podman"
)

// maxImages bounds node.status.images as the kubelet does (nodeStatusMaxImages).
const maxImages = 50

// observation is what one look at the Podman host found.
type observation struct {
	now    time.Time
	info   podman.HostInfo
	images []podman.Image
	// err is why Podman did not answer; nil when it did.
	err error
	// memAvailable is the host's MemAvailable, if hasMemAvailable (Config.MemAvailable).
	memAvailable    int64
	hasMemAvailable bool
	// nodeFs is the filesystem of the kubelet's root folder, if hasNodeFs (Config.NodeFs).
	nodeFs    FsStats
	hasNodeFs bool
	// lastAnswer is when Podman last answered an observation: now if this one answered, zero if none ever did.
	lastAnswer time.Time
	// pressure holds the pressure conditions that are True at this observation (pressureState.update).
	pressure map[corev1.NodeConditionType]bool
}

// setter sets one part of a node's status from an observation of its host, as each of the kubelet's nodestatus
// setters does.
type setter func(node *corev1.Node, o observation)

// defaultSetters are the setters of a node, in the order they run: what the host has (only when it answered; an
// observation that fails leaves the last answer's, as the kubelet's setters read cached machine info and images),
// when it was observed, then one setter per condition.
func defaultSetters(version string, maxPods int, unreachableAfter time.Duration) []setter {
	return []setter{
		machineInfo(version, maxPods),
		images,
		freeMemory,
		observedAt,
		readyCondition(unreachableAfter),
		memoryPressureCondition,
		diskPressureCondition,
		pidPressureCondition,
	}
}

// machineInfo sets capacity, allocatable and node info from a host that answered.
func machineInfo(version string, maxPods int) setter {
	return func(node *corev1.Node, o observation) {
		if o.err == nil {
			applyHostInfo(node, o.info, version, maxPods)
		}
	}
}

// images sets the images stored on a host that answered.
func images(node *corev1.Node, o observation) {
	if o.err == nil {
		node.Status.Images = nodeImages(o.images)
	}
}

// freeMemory records, for the scheduler, the memory a host that answered has available for new pods: its
// MemAvailable, not Podman's MemFree, which counts page cache as used and so would keep pods off a host with a warm
// cache. Without a reading the annotation goes, so that the scheduler judges the node on requests alone rather
// than on an old reading that observedAt would make look fresh.
func freeMemory(node *corev1.Node, o observation) {
	switch {
	case o.err != nil:
	case o.hasMemAvailable:
		node.Annotations[AnnotationFreeMemory] = strconv.FormatInt(o.memAvailable, 10)
	default:
		delete(node.Annotations, AnnotationFreeMemory)
	}
}

// observedAt records when the host last answered an observation: the time of the available memory, capacity and
// images the node reports, whose age the scheduler's plugins check (a failed observation, which the Ready
// condition tolerates for a while, leaves them and this time as they were).
func observedAt(node *corev1.Node, o observation) {
	if o.err == nil {
		node.Annotations[AnnotationObservedAt] = o.now.UTC().Format(time.RFC3339)
	}
}

// readyCondition is Ready while Podman answers, and False with reason PodmanUnreachable once it has not answered
// for unreachableAfter, or has never answered. An observation that fails sooner after an answer leaves the
// condition as it was, with a fresh heartbeat: as the kubelet's runtimeState reports "container runtime is down"
// only once its last successful runtime status check is older than maxWaitForContainerRuntime (30 s), so one slow
// or failed call to Podman does not make the node NotReady.
//
// The message gives the time of the last answer rather than the time since, so that it stays the same from one
// observation to the next of the same outage: a changed message is a status update to write.
func readyCondition(unreachableAfter time.Duration) setter {
	return func(node *corev1.Node, o observation) {
		switch {
		case o.err == nil:
			setCondition(node, corev1.NodeReady, true, "PodmanReady", "Podman is answering", o.now)
		case o.lastAnswer.IsZero():
			setCondition(node, corev1.NodeReady, false, "PodmanUnreachable", fmt.Sprintf("Podman has not answered yet: %v", o.err), o.now)
		case !o.lastAnswer.Add(unreachableAfter).After(o.now):
			msg := fmt.Sprintf("Podman has not answered for over %s, since %s: %v", unreachableAfter, o.lastAnswer.UTC().Format(time.RFC3339), o.err)
			setCondition(node, corev1.NodeReady, false, "PodmanUnreachable", msg, o.now)
		default:
			heartbeat(node, corev1.NodeReady, o.now)
		}
	}
}

// applyHostInfo sets capacity, allocatable and node info from the Podman host, with maxPods as the pod capacity.
func applyHostInfo(node *corev1.Node, info podman.HostInfo, version string, maxPods int) {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(info.CPUs), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(info.MemTotal, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
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

// heartbeat refreshes a node condition's heartbeat, leaving the rest of it as it is.
func heartbeat(node *corev1.Node, t corev1.NodeConditionType, now time.Time) {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == t {
			node.Status.Conditions[i].LastHeartbeatTime = metav1.NewTime(now)
		}
	}
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
