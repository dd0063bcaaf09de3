package node

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet's default hard eviction thresholds on Linux (DefaultEvictionHard) and its
// --eviction-pressure-transition-period, from which the node's pressure conditions follow.
const (
	// memoryAvailableMin is memory.available<100Mi.
	memoryAvailableMin = 100 << 20
	// nodeFsAvailableMin and nodeFsInodesFreeMin are nodefs.available<10% and nodefs.inodesFree<5%: the
	// filesystem of the kubelet's root folder.
	nodeFsAvailableMin  = 0.10
	nodeFsInodesFreeMin = 0.05
	// imageFsAvailableMin is imagefs.available<15%: the filesystem of the container runtime's images, Podman's
	// graph root.
	imageFsAvailableMin = 0.15
	// pressureTransitionPeriod is how long a pressure condition stays True after its signal last crossed the
	// threshold, so that the condition does not flap.
	pressureTransitionPeriod = 5 * time.Minute
)

// FsStats are a filesystem's size and what is left of it, as statfs gives them.
type FsStats struct {
	Capacity, Available uint64
	Inodes, InodesFree  uint64
}

// below tells whether part is under min of whole; a whole of 0 (not known) never is.
func below(part, whole uint64, min float64) bool {
	return whole > 0 && float64(part) < min*float64(whole)
}

// crossedThresholds lists the pressure conditions whose eviction signals an observation of a host that answered
// finds over the kubelet's default thresholds. A signal the observation has no reading of crosses nothing.
func crossedThresholds(o observation) []corev1.NodeConditionType {
	var out []corev1.NodeConditionType
	if o.hasMemAvailable && o.memAvailable < memoryAvailableMin {
		out = append(out, corev1.NodeMemoryPressure)
	}
	imageFs := o.err == nil && o.info.GraphRootFree >= 0 && below(uint64(o.info.GraphRootFree), uint64(max(o.info.GraphRootSize, 0)), imageFsAvailableMin)
	nodeFs := o.hasNodeFs && (below(o.nodeFs.Available, o.nodeFs.Capacity, nodeFsAvailableMin) || below(o.nodeFs.InodesFree, o.nodeFs.Inodes, nodeFsInodesFreeMin))
	if imageFs || nodeFs {
		out = append(out, corev1.NodeDiskPressure)
	}
	return out
}

// pressureState keeps when each pressure condition's signal last crossed its threshold.
type pressureState map[corev1.NodeConditionType]time.Time

// update records the thresholds an observation crossed and returns the conditions under pressure at its time: those
// crossed within the transition period, as the kubelet's eviction manager keeps a condition for that long after
// its signal last crossed.
func (s pressureState) update(o observation) map[corev1.NodeConditionType]bool {
	for _, c := range crossedThresholds(o) {
		s[c] = o.now
	}
	out := map[corev1.NodeConditionType]bool{}
	for c, at := range s {
		if o.now.Sub(at) < pressureTransitionPeriod {
			out[c] = true
		}
	}
	return out
}

// pressureCondition sets one pressure condition with the kubelet's reasons and messages.
func pressureCondition(typ corev1.NodeConditionType, trueReason, trueMsg, falseReason, falseMsg string) setter {
	return func(node *corev1.Node, o observation) {
		if o.pressure[typ] {
			setCondition(node, typ, true, trueReason, trueMsg, o.now)
			return
		}
		setCondition(node, typ, false, falseReason, falseMsg, o.now)
	}
}

var (
	// memoryPressureCondition is True while the host's MemAvailable is under 100Mi, and for the transition
	// period after.
	memoryPressureCondition = pressureCondition(corev1.NodeMemoryPressure,
		"KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
		"KubeletHasSufficientMemory", "kubelet has sufficient memory available")
	// diskPressureCondition is True while the kubelet root folder's filesystem has under 10% of its space or 5%
	// of its inodes free, or Podman's graph root under 15% of its space, and for the transition period after.
	diskPressureCondition = pressureCondition(corev1.NodeDiskPressure,
		"KubeletHasDiskPressure", "kubelet has disk pressure",
		"KubeletHasNoDiskPressure", "kubelet has no disk pressure")
	// pidPressureCondition is always False: the kubelet has no default threshold for process IDs.
	pidPressureCondition = pressureCondition(corev1.NodePIDPressure,
		"KubeletHasInsufficientPID", "kubelet has insufficient PID available",
		"KubeletHasSufficientPID", "kubelet has sufficient PID available")
)
