package provider

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podstatus"
)

// containerRecord is what the provider knows of one Kubernetes container of a pod.
type containerRecord struct {
	spec     *corev1.Container
	init     bool // an init container
	sidecar  bool
	id       string // current Podman container ID
	attempts int32  // containers created so far; restartCount is attempts-1
	state    corev1.ContainerState
	last     corev1.ContainerState
	started  bool
	imageID  string
	// resumeID is a container found running (or exited) in Podman by a restarted virtual kubelet, to be taken over
	// instead of started anew.
	resumeID string
	// backoff is the current crash back-off; lastStart when the current run started.
	backoff   time.Duration
	lastStart time.Time
	// ready is the readiness probe's latest result for the current run.
	ready bool
	// hooking is set while the postStart hook of the current run runs; the container is then reported in
	// hookState, its state before it started.
	hooking   bool
	hookState corev1.ContainerState
	// killed is set once Berth stops the current run (failed probe or postStart hook).
	killed bool
	// ephemeral marks an ephemeral container (ephemeral.go); pidOf is the Podman container whose PID namespace it
	// joins (its target's), if any.
	ephemeral bool
	pidOf     string
	// applied is what the current run's cgroup was given (the kubelet's actuated resources), nil when not known;
	// resizeRestart is set while the current run is stopped for a resize (resize.go).
	applied       *corev1.ResourceRequirements
	resizeRestart bool
	// wantImage is the image the API spec asks for once it changed from spec.Image (a pod update; "" before any):
	// the next run takes it. respec is signalled when it changes, to kill the current run or cut its back-off
	// short (images.go); respecKilled is set once the current run is being killed for it, and restartNow once it
	// ended so, for the runner to start the next run at once.
	wantImage    string
	respec       chan struct{}
	respecKilled bool
	restartNow   bool
}

// podRecord is what the provider knows of one pod. Guarded by Provider.mu.
type podRecord struct {
	pod        *corev1.Pod
	podmanName string
	podmanID   string
	podIP      string
	// dns is the pod's resolv.conf settings (nil: the host's), which containers of a hostNetwork pod take.
	dns *podman.DNSConfig
	// runtime is the OCI runtime of the pod's containers, its RuntimeClass's handler ("" for Podman's default).
	runtime   string
	sandbox   bool
	startTime metav1.Time
	init      []*containerRecord
	app       []*containerRecord
	eph       ephemeralSet
	// initialized is set once every regular init container completed.
	initialized bool
	// terminal is set once the pod's containers will not run again.
	terminal bool
	// finalPhase latches Succeeded or Failed once committed (snapshot.go).
	finalPhase corev1.PodPhase
	deleting   bool
	// evicting is set once the node stops the pod for good: evicted, or past its active deadline.
	evicting bool
	// deadline fires once the pod's activeDeadlineSeconds has passed (deadline.go); nil without one.
	deadline clock.Timer
	// removed is set once the Podman pod is gone.
	removed bool
	// adopted is set for a pod whose Podman pod outlived a restart of the virtual kubelet.
	adopted bool
	// reason and message are the pod-level status.reason and status.message.
	reason, message string
	// conditions keeps the last committed conditions so that transition times stay put; committedAt is when they
	// were committed (snapshot.go).
	conditions  []corev1.PodCondition
	committedAt time.Time
	cancel      context.CancelFunc
	done        chan struct{}
	// volMu serialises the writes of the pod's volume files (the runner's set-up and the periodic refresh).
	volMu sync.Mutex
	// resize is the pod's in-place resize state; the pod's container resources are the allocated ones.
	resize resizeState
	// imageChecks are the answers to whether its containers' images are present, asked while its sandbox is made
	// (images.go), by container; each container takes its answer once.
	imageChecks map[*containerRecord]*imageCheck
	// trace times the pod's start until its running status is handed over (starttrace.go); nil after, and for
	// an adopted pod.
	trace *startTrace
}

func newPodRecord(pod *corev1.Pod, podmanName string) *podRecord {
	r := &podRecord{pod: pod.DeepCopy(), podmanName: podmanName, done: make(chan struct{})}
	for i := range r.pod.Spec.InitContainers {
		c := &r.pod.Spec.InitContainers[i]
		r.init = append(r.init, &containerRecord{spec: c, init: true, sidecar: podstatus.IsRestartableInit(c), state: waiting("PodInitializing", ""), respec: make(chan struct{}, 1)})
	}
	appReason := "ContainerCreating"
	if len(r.init) > 0 {
		appReason = "PodInitializing"
	}
	for i := range r.pod.Spec.Containers {
		r.app = append(r.app, &containerRecord{spec: &r.pod.Spec.Containers[i], state: waiting(appReason, ""), respec: make(chan struct{}, 1)})
	}
	r.initialized = len(r.init) == 0
	r.addEphemeral()
	return r
}

func waiting(reason, msg string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

// addEphemeral makes a record, waiting as the kubelet shows a container not yet created, for each ephemeral
// container of the record's pod that has none.
func (r *podRecord) addEphemeral() {
	known := make(map[string]bool, len(r.eph.list))
	for _, c := range r.eph.list {
		known[c.spec.Name] = true
	}
	reason := "ContainerCreating"
	if len(r.pod.Spec.InitContainers) > 0 {
		reason = "PodInitializing"
	}
	for i := range r.pod.Spec.EphemeralContainers {
		ec := &r.pod.Spec.EphemeralContainers[i]
		if known[ec.Name] {
			continue
		}
		spec := corev1.Container(ec.EphemeralContainerCommon)
		r.eph.list = append(r.eph.list, &containerRecord{spec: &spec, ephemeral: true, state: waiting(reason, "")})
	}
}

// containers lists the init containers, then the app containers, then the ephemeral containers.
func (r *podRecord) containers() []*containerRecord {
	return append(append(append(make([]*containerRecord, 0, len(r.init)+len(r.app)+len(r.eph.list)), r.init...), r.app...), r.eph.list...)
}
