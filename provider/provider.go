package provider

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/berth-dev/berth/internal/registries"
	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/podstatus"
	"github.com/berth-dev/berth/provider/userns"
	"github.com/berth-dev/berth/provider/volume"
)

// Config configures a Provider.
type Config struct {
	// NodeName is the node this provider runs pods for.
	NodeName string
	// NodeIP is reported as the pods' hostIP.
	NodeIP string
	// Network is the Podman network the pods join.
	Network string
	// Hairpin, when set, is called after a pod's sandbox starts, to let the pod reach itself through a Service (see
	// package hairpin); its error is logged, and the pod goes on.
	Hairpin func(context.Context) error
	// HostNetns is the node's network namespace (a path) when it is not the Podman host's: hostNetwork pods join
	// it. Empty: the Podman host's.
	HostNetns string
	// Runtime is the Podman service.
	Runtime podman.Runtime
	// Recorder records kubelet-style events on pods.
	Recorder record.EventRecorder
	// Allocatable is the node's allocatable, the limit resourceFieldRef reports for a container without one.
	Allocatable corev1.ResourceList
	// AllowPrivileged lets containers run privileged (berth-kubelet --allow-privileged); otherwise a pod asking
	// for it fails.
	AllowPrivileged bool
	// AllowHostNamespaces lets pods use the host's PID and IPC namespaces (hostPID, hostIPC; berth-kubelet
	// --allow-host-namespaces); otherwise a pod asking for either fails.
	AllowHostNamespaces bool
	// AllowedCapabilities are the capabilities containers may add beyond the container runtime's default set
	// (berth-kubelet --allowed-capabilities; "*" for any); a pod adding another fails. Privileged containers are
	// AllowPrivileged's concern.
	AllowedCapabilities []string
	// ClusterDNS are the cluster DNS servers ClusterFirst pods use (kubelet --cluster-dns); without any they get
	// the host's resolv.conf, as the kubelet gives them.
	ClusterDNS []string
	// ClusterDomain is the cluster's DNS domain (kubelet --cluster-domain), searched by ClusterFirst pods.
	ClusterDomain string
	// ResolvConf is the host's resolv.conf (kubelet --resolv-conf), the base of pods' DNS settings.
	ResolvConf string
	// HostsFile is the node's hosts file (the Podman host's, as this process reads it), which hostNetwork pods'
	// /etc/hosts is made of as the kubelet makes it of the node's /etc/hosts; default DefaultHostsFile.
	HostsFile string
	// Sysctls is the node's sysctl allowlist (the safe sysctls and berth-kubelet --allowed-unsafe-sysctls); a pod
	// setting another is rejected (SysctlForbidden). Nil holds the safe sysctls of any kernel.
	Sysctls *podspec.SysctlAllowlist
	// UserNamespaces allocates the user namespaces of pods with spec.hostUsers: false, a range of host IDs each;
	// nil when the node gives pods none, which NoUserNamespaces says why: such pods are refused.
	UserNamespaces   *userns.Allocator
	NoUserNamespaces string
	// AppArmor and SELinux say whether the Podman host enforces them (podman info): pods asking for AppArmor
	// profiles are rejected on a host without AppArmor, as by the kubelet, and SELinux options are refused on a
	// host with SELinux, where Podman labels containers its own way.
	AppArmor, SELinux bool
	// InitialBackoff and MaxBackoff bound the back-off of image pulls and sandbox creation (kubelet: 10s and
	// 300s), and of container restarts unless MaxContainerRestartPeriod is set.
	InitialBackoff, MaxBackoff time.Duration
	// RuntimeHandlers are the RuntimeClass handlers the node runs, each the name of an OCI runtime the Podman host
	// knows (containers.conf [engine.runtimes]); a pod whose class names another fails its sandbox, as with a
	// kubelet whose container runtime lacks the handler. Empty: runc only.
	RuntimeHandlers []string
	// SeccompDefault gives containers that ask for no seccomp profile the runtime's default one, as the kubelet's
	// --seccomp-default; otherwise they run unconfined, as under a kubelet without it. Localhost profiles are
	// under RootDir/seccomp, as the kubelet's.
	SeccompDefault bool
	// MaxContainerRestartPeriod caps the crash-loop back-off of container restarts, as the kubelet's
	// crashLoopBackOff.maxContainerRestartPeriod (0: MaxBackoff). Below InitialBackoff it is the initial
	// back-off too, as in the kubelet.
	MaxContainerRestartPeriod time.Duration
	// RootDir holds the pods' volume folders (pods/<uid>/volumes/<plugin>/<name>) and termination logs
	// (pods/<uid>/containers/<name>/<attempt>), as under the kubelet's --root-dir. Podman bind-mounts them, so it
	// must be a path of the Podman host. Empty: no volumes, and termination messages are read from the containers.
	RootDir string
	// AllowedHostPaths are the host folders hostPath volumes may name (at or below); none when empty.
	AllowedHostPaths []string
	// Tokens fetches service account tokens for projected volumes; nil refuses them.
	Tokens volume.TokenGetter
	// Claims reads the claims of persistentVolumeClaim and generic ephemeral volumes, their PersistentVolumes and
	// the node, from the API server as the kubelet's volume manager does (the node's client.CoreV1()); nil leaves
	// such volumes unmounted, the pod waiting in ContainerCreating.
	Claims volume.ClaimClient
	// VolumeResync is how often running pods' configMap, secret, downwardAPI and projected volumes are rewritten
	// from the API objects (kubelet: about a minute); default 10s.
	VolumeResync time.Duration
	// HostUsage reads the Podman host's CPU and memory counters (ProcHostUsage for a Podman on this machine); nil
	// takes memory from Podman and the node's CPU as the sum of its pods'.
	HostUsage func() (HostUsage, error)
	// Finalize, called once a deleted pod's containers have stopped and its sandbox and volumes are gone, writes its
	// final status and removes its API object, as the kubelet's status manager does (instead of waiting for the
	// whole grace period). Nil leaves that to virtual-kubelet's delayed deletion.
	Finalize func(ctx context.Context, pod *corev1.Pod) error
	// APIServer is the host:port at which containers reach the apiserver. The "kubernetes" service's environment
	// (KUBERNETES_SERVICE_HOST, ...) points there, since a Berth node has no kube-proxy to route the service's
	// cluster IP. Empty keeps the service's cluster IP.
	APIServer string
	// ResyncPeriod is how often the states of the containers being waited for are listed from Podman, in case its
	// event stream missed an exit (default 10s).
	ResyncPeriod time.Duration
	// ExitsDir is Podman's exits folder (its engine tmp_dir's "exits"), where conmon writes a file named for each
	// container as it exits, when this process sees Podman's files. Watched, it tells exits at once; Podman's event
	// stream, which tells them too, is read from a file Podman polls every 250 ms. Empty: the stream alone.
	ExitsDir string
	// PodmanUnreachableGrace is how long the pods keep their last phase while Podman does not answer; after it,
	// every pod that is not terminal reports phase Unknown until Podman answers again (berth-kubelet
	// --podman-unreachable-grace; default DefaultPodmanUnreachableGrace).
	PodmanUnreachableGrace time.Duration
	// Registries is berth-kubelet --registries-config: registry mirrors Berth pulls through itself, for a Podman
	// service whose own registries.conf Berth cannot write (see pullImage); nil for none.
	Registries *registries.File
	// PodmanPingInterval is how often Podman is pinged to tell whether it answers, and how often a runner waiting
	// for it to answer again tries (default 5s).
	PodmanPingInterval time.Duration
	// Clock stamps pods' startTime and the stats' samples (which CPU usage rates are computed over), and times pods'
	// activeDeadlineSeconds and the waits of a killed or stopped container for its stop and removal events (exits.go);
	// nil is the real clock (tests fake it).
	Clock clock.WithDelayedExecution
}

// Provider runs pods through Podman. It implements virtual-kubelet's nodeutil.Provider and node.PodNotifier.
type Provider struct {
	cfg Config

	listers Listers

	mu     sync.Mutex
	pods   map[string]*podRecord // by namespace/name
	notify func(*corev1.Pod)
	// notifyReady is closed (once, by notifySet) when NotifyPods gives the callback the dispatcher reports to.
	notifyReady chan struct{}
	notifySet   sync.Once
	// adopted holds, by pod UID, what Adopt found in Podman and no CreatePod has claimed yet.
	adopted map[types.UID]*adoptedPod
	// dirty holds the records whose status changed since the dispatcher last reported them; wake signals it.
	dirty map[*podRecord]bool
	wake  chan struct{}

	// statsMu guards the previous CPU samples that usage rates are computed against.
	statsMu    sync.Mutex
	cpuSamples map[string]cpuSample // by container ID
	nodeSample cpuSample
	// exits hands container exits from Podman's event stream to the runners (exits.go).
	exits *exitWatch

	// down is the current outage of the Podman service, nil while it answers; stale is set, to the outage as it
	// stood then, once it lasted longer than PodmanUnreachableGrace: the pods are then reported Unknown
	// (reachability.go). Guarded by mu.
	down, stale *outage
}

// New returns a Provider.
func New(cfg Config) *Provider {
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = 10 * time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 300 * time.Second
	}
	if cfg.MaxContainerRestartPeriod == 0 {
		cfg.MaxContainerRestartPeriod = cfg.MaxBackoff
	}
	if cfg.VolumeResync == 0 {
		cfg.VolumeResync = 10 * time.Second
	}
	if cfg.Recorder == nil {
		cfg.Recorder = &record.FakeRecorder{}
	}
	if cfg.ResyncPeriod == 0 {
		cfg.ResyncPeriod = 10 * time.Second
	}
	if cfg.PodmanUnreachableGrace == 0 {
		cfg.PodmanUnreachableGrace = DefaultPodmanUnreachableGrace
	}
	if cfg.HostsFile == "" {
		cfg.HostsFile = DefaultHostsFile
	}
	if cfg.PodmanPingInterval == 0 {
		cfg.PodmanPingInterval = 5 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Provider{cfg: cfg, exits: newExitWatch(), pods: map[string]*podRecord{}, notify: func(*corev1.Pod) {}, notifyReady: make(chan struct{}), dirty: map[*podRecord]bool{}, wake: make(chan struct{}, 1), adopted: map[types.UID]*adoptedPod{}}
}

// SetListers gives the provider the informer caches it resolves environments from (virtual-kubelet creates them
// after the provider). Call it before pods are created.
func (p *Provider) SetListers(l Listers) { p.listers = l }

func key(ns, name string) string { return ns + "/" + name }

// NotifyPods implements node.PodNotifier: cb receives every status change, in order, from the dispatcher that Run
// starts (which waits for cb), and always with a record's latest status (so a burst of changes may be reported once).
func (p *Provider) NotifyPods(_ context.Context, cb func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = cb
	p.mu.Unlock()
	p.notifySet.Do(func() { close(p.notifyReady) })
}

// Run runs the node-wide loops of the provider until ctx ends: the dispatcher of status changes (to NotifyPods'
// callback), the resync of API data volumes and emptyDir limits, the follower of Podman's exit events, and the
// watch of whether Podman answers. Once synced returns without error (the pod informer has synced; nil skips
// this), the Podman pods adopted from an earlier run that no Kubernetes pod claims are removed, and then, until
// every adopted pod is claimed, those whose object virtual-kubelet deletes without a DeletePod.
func (p *Provider) Run(ctx context.Context, synced func(context.Context) error) {
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){p.dispatch, p.resyncVolumes, p.watchExits, p.watchExitFiles, p.watchPodman} {
		wg.Go(func() { loop(ctx) })
	}
	if synced != nil {
		wg.Go(func() {
			if synced(ctx) == nil {
				p.removeUnclaimedLoop(ctx)
			}
		})
	}
	wg.Wait()
}

// resyncVolumes periodically brings running pods' API data volumes up to date, as the kubelet's pod workers do
// on each sync, so that ConfigMap, Secret and label changes and token renewals reach running containers; and
// evicts pods whose disk emptyDir outgrew its sizeLimit.
func (p *Provider) resyncVolumes(ctx context.Context) {
	t := time.NewTicker(p.cfg.VolumeResync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		var live []*podRecord
		for _, r := range p.pods {
			if r.sandbox && !r.terminal && !r.deleting {
				live = append(live, r)
			}
		}
		p.mu.Unlock()
		for _, r := range live {
			rctx := klog.NewContext(ctx, klog.FromContext(ctx).WithValues("pod", klog.KObj(r.pod)))
			if hasAPIDataVolume(r.pod) {
				p.worker(r).refreshVolumes(rctx)
			}
			// As the kubelet's eviction manager, which checks local storage limits on each housekeeping.
			if hasStorageLimits(r.pod) {
				go p.worker(r).enforceStorageLimits(rctx)
			}
		}
	}
}

func hasAPIDataVolume(pod *corev1.Pod) bool {
	for i := range pod.Spec.Volumes {
		if volume.IsAPIData(&pod.Spec.Volumes[i]) {
			return true
		}
	}
	return false
}

func (p *Provider) dispatch(ctx context.Context) {
	select { // changes wait for the callback, not reported to nobody
	case <-ctx.Done():
		return
	case <-p.notifyReady:
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		pods := make([]*corev1.Pod, 0, len(p.dirty))
		traces := make([]*startTrace, 0, len(p.dirty)) // the start traces of pods now running, by index of pods
		for r := range p.dirty {
			// What changed since the record was marked without a commit of its own is committed as reported.
			p.commitLocked(r, time.Now())
			pod := p.podLocked(r)
			pods = append(pods, pod)
			traces = append(traces, startedLocked(r, pod))
		}
		clear(p.dirty)
		notify := p.notify
		p.mu.Unlock()
		for i, pod := range pods {
			notify(pod)
			if traces[i] != nil {
				logStarted(ctx, pod, traces[i], time.Now())
			}
		}
	}
}

// CreatePod implements node.PodLifecycleHandler. It records the pod at once (virtual-kubelet may call it again
// while the pod is starting) and runs it in the background.
func (p *Provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	logger := klog.FromContext(ctx).WithValues("pod", klog.KObj(pod))
	p.mu.Lock()
	if r, ok := p.pods[key(pod.Namespace, pod.Name)]; ok && r.pod.UID == pod.UID {
		p.mu.Unlock()
		return nil
	}
	r := newPodRecord(pod, podspec.PodName(pod))
	w := p.worker(r)
	r.startTime = metav1.NewTime(p.cfg.Clock.Now())
	if pod.Status.StartTime != nil {
		r.startTime = *pod.Status.StartTime
	} else {
		r.trace = newStartTrace(time.Now()) // a pod started anew, not one a restarted kubelet takes over
	}
	if a, ok := p.adopted[pod.UID]; ok {
		r.trace = nil
		delete(p.adopted, pod.UID)
		r.adopted, r.podmanID = true, a.podmanID
		seedAdopted(r, a)
		w.adoptResourcesLocked(klog.NewContext(ctx, logger), pod)
		logger.Info("Adopting the pod's running Podman pod", "podmanPod", a.podmanID)
	}
	podCtx := klog.NewContext(context.WithoutCancel(ctx), logger)
	runCtx, cancel := context.WithCancel(podCtx)
	r.cancel = cancel
	p.pods[key(pod.Namespace, pod.Name)] = r
	p.commitLocked(r, time.Now()) // its first status, stamped when the node takes the pod on
	w.armDeadlineLocked(podCtx)
	p.mu.Unlock()
	logger.V(2).Info("Starting pod")
	go w.run(runCtx)
	return nil
}

// UpdatePod implements node.PodLifecycleHandler. Only the fields the kubelet reacts to are taken over: metadata,
// conditions, a new activeDeadlineSeconds (deadline.go), containers' new images (images.go), ephemeral containers
// (ephemeral.go) and resources (allocation.go, resize.go).
func (p *Provider) UpdatePod(ctx context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[key(pod.Namespace, pod.Name)]
	if !ok || r.pod.UID != pod.UID {
		return errdefs.NotFoundf("pod %s/%s is not known", pod.Namespace, pod.Name)
	}
	r.pod.Labels = pod.Labels
	r.pod.Annotations = pod.Annotations
	r.pod.DeletionTimestamp = pod.DeletionTimestamp
	r.pod.DeletionGracePeriodSeconds = pod.DeletionGracePeriodSeconds
	r.pod.Status.Conditions = pod.Status.Conditions
	w := p.worker(r)
	w.updateEphemeralLocked(pod)
	w.updateResourcesLocked(klog.NewContext(ctx, klog.FromContext(ctx).WithValues("pod", klog.KObj(pod))), pod)
	if !sameDeadline(r.pod.Spec.ActiveDeadlineSeconds, pod.Spec.ActiveDeadlineSeconds) {
		r.pod.Spec.ActiveDeadlineSeconds = pod.Spec.ActiveDeadlineSeconds
		w.armDeadlineLocked(klog.NewContext(context.WithoutCancel(ctx), klog.FromContext(ctx).WithValues("pod", klog.KObj(pod))))
	}
	w.updateImagesLocked(pod)
	return nil
}

// ReconcileConditions takes over a pod's conditions when only its status changed in the API, as the kubelet's
// HandlePodReconcile does for readiness gates: virtual-kubelet calls UpdatePod only for changes of metadata and spec,
// so a condition another controller sets (a readiness gate's) would otherwise reach the pod's Ready only with its
// next change. The pod's status is derived again when a readiness gate's condition changed.
func (p *Provider) ReconcileConditions(pod *corev1.Pod) {
	if len(pod.Spec.ReadinessGates) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[key(pod.Namespace, pod.Name)]
	if !ok || r.pod.UID != pod.UID || podstatus.SameGates(pod.Spec.ReadinessGates, r.pod.Status.Conditions, pod.Status.Conditions) {
		return
	}
	r.pod.Status.Conditions = pod.Status.Conditions
	p.changedLocked(r)
}

// DeletePod implements node.PodLifecycleHandler: it stops the pod's containers within the grace period, removes
// the Podman pod, and reports a terminal status. It is idempotent and returns before the containers are gone.
func (p *Provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	r, ok := p.pods[key(pod.Namespace, pod.Name)]
	if !ok || r.pod.UID != pod.UID {
		_, adopted := p.adopted[pod.UID]
		p.mu.Unlock()
		if adopted && !ok {
			// Deleted before the restarted virtual kubelet took its Podman pod over: take it over now, so that
			// it is stopped and removed like any other.
			if err := p.CreatePod(ctx, pod); err != nil {
				return err
			}
			return p.DeletePod(ctx, pod)
		}
		return errdefs.NotFoundf("pod %s/%s is not known", pod.Namespace, pod.Name)
	}
	if r.deleting {
		p.mu.Unlock()
		return nil
	}
	r.deleting = true
	r.pod.DeletionTimestamp = pod.DeletionTimestamp
	r.pod.DeletionGracePeriodSeconds = pod.DeletionGracePeriodSeconds
	grace := gracePeriod(pod)
	p.mu.Unlock()
	logger := klog.FromContext(ctx).WithValues("pod", klog.KObj(pod))
	go p.worker(r).kill(klog.NewContext(context.WithoutCancel(ctx), logger), grace)
	return nil
}

// GetPod implements node.PodLifecycleHandler.
func (p *Provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[key(namespace, name)]
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s is not known", namespace, name)
	}
	return p.podLocked(r), nil
}

// GetPodStatus implements node.PodLifecycleHandler.
func (p *Provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods implements node.PodLifecycleHandler.
func (p *Provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(p.pods))
	for _, r := range p.pods {
		out = append(out, p.podLocked(r))
	}
	return out, nil
}

// podLocked returns a deep copy of the record's pod with its current status (snapshot.go): phase Unknown while
// Podman has been unreachable for longer than the grace. It writes nothing. p.mu must be held.
func (p *Provider) podLocked(r *podRecord) *corev1.Pod {
	pod := r.pod.DeepCopy()
	r.resize.desiredResources(pod)
	wantImagesLocked(r, pod)
	pod.Status = p.statusLocked(r)
	return pod
}

// zeroTailKey marks a logs request that asked for tailLines=0.
type zeroTailKey struct{}

// WithZeroTail marks a logs request whose tailLines is 0: virtual-kubelet's ContainerLogOpts reads an absent
// tailLines and tailLines=0 both as Tail 0, but the kubelet gives no past lines for the second (kubectl logs
// --tail=0; with -f, only new lines). The kubelet API's handler sets it from the query.
func WithZeroTail(ctx context.Context) context.Context {
	return context.WithValue(ctx, zeroTailKey{}, true)
}

// ZeroTail tells whether a logs request asked for tailLines=0 (WithZeroTail).
func ZeroTail(ctx context.Context) bool {
	zero, _ := ctx.Value(zeroTailKey{}).(bool)
	return zero
}

// GetContainerLogs implements nodeutil.Provider.
func (p *Provider) GetContainerLogs(ctx context.Context, namespace, podName, containerName string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	p.mu.Lock()
	r, ok := p.pods[key(namespace, podName)]
	var id string
	found := false
	if ok {
		for _, c := range r.containers() {
			if c.spec.Name == containerName {
				found = true
				id = c.id
				if opts.Previous {
					id = ""
					if c.attempts > 1 {
						id = podspec.ContainerName(r.podmanName, c.spec.Name, c.attempts-1)
					}
				}
			}
		}
	}
	p.mu.Unlock()
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s is not known", namespace, podName)
	}
	if !found {
		return nil, errdefs.NotFoundf("container %q in pod %q is not available", containerName, podName)
	}
	if id == "" {
		if opts.Previous {
			return nil, errdefs.InvalidInputf("previous terminated container %q in pod %q not found", containerName, podName)
		}
		return nil, errdefs.InvalidInputf("container %q in pod %q is waiting to start", containerName, podName)
	}
	lo := podman.LogOptions{Follow: opts.Follow, Tail: -1, Timestamps: opts.Timestamps}
	if opts.Tail > 0 || ZeroTail(ctx) {
		lo.Tail = opts.Tail
	}
	if !opts.SinceTime.IsZero() {
		lo.Since = opts.SinceTime
	} else if opts.SinceSeconds > 0 {
		lo.Since = time.Now().Add(-time.Duration(opts.SinceSeconds) * time.Second)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(p.cfg.Runtime.Logs(ctx, id, lo, pw))
	}()
	if opts.LimitBytes > 0 {
		return limitedReadCloser{Reader: io.LimitReader(pr, int64(opts.LimitBytes)), Closer: pr}, nil
	}
	return pr, nil
}
