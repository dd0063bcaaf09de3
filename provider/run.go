package provider

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

// podWorker is one pod's runner, as the kubelet's pod worker: it holds the pod's record and owns the pod's path,
// from admission through the sandbox, the volumes and the init containers to the supervision of its containers
// (each attempt's steps: pull, buildSpec, create, start, wait, recordExit), and what an update, a deadline, an
// eviction or a deletion does to the pod once it runs. p is the node the pod runs on: the lock that guards every
// record, the dispatcher of status changes (changedLocked), the node's configuration and informer caches, and
// Podman behind the retries of reachability.go. Its state is the record's, so a worker is made wherever one is
// needed (Provider.worker).
type podWorker struct {
	p *Provider
	r *podRecord
}

// worker is the runner of the pod whose record is r.
func (p *Provider) worker(r *podRecord) *podWorker { return &podWorker{p: p, r: r} }

// changedLocked reports a change of the pod's state to the node's dispatcher (Provider.changedLocked). p.mu must
// be held.
func (w *podWorker) changedLocked() { w.p.changedLocked(w.r) }

// event is a Kubernetes event to record on a pod.
type event struct{ typ, reason, message string }

// failedEvent is the kubelet's warning for a container that could not be run: Failed, "Error: <what>".
func failedEvent(what string) event {
	return event{corev1.EventTypeWarning, "Failed", "Error: " + what}
}

// waitLocked leaves the container waiting with reason and message, records ev on the pod, and reports the
// change. The caller holds p.mu.
func (p *Provider) waitLocked(r *podRecord, c *containerRecord, reason, message string, ev event) {
	c.state = waiting(reason, message)
	p.cfg.Recorder.Event(r.pod, ev.typ, ev.reason, ev.message)
	p.changedLocked(r)
}

// errKind tells how a failed attempt to run a container failed.
type errKind int

const (
	noErr     errKind = iota
	pullErr           // image could not be pulled: retried whatever the restart policy (ImagePullBackOff)
	configErr         // container could not be created: retried (CreateContainerError)
	startErr          // container was created but did not start: counts as a run that failed
)

// run is a pod's runner: sandbox, init containers in order, then the app containers under supervision.
func (p *Provider) run(ctx context.Context, r *podRecord) {
	defer close(r.done)
	defer p.stopEphemeral(ctx, r)
	logger := klog.FromContext(ctx)

	if rej := podspec.Admit(r.pod, p.policy()); rej != nil {
		p.refuse(r, rej)
		return
	}

	// The kubelet reports its first status (containers waiting in ContainerCreating) before the volumes are up.
	p.mu.Lock()
	p.changedLocked(r)
	p.mu.Unlock()
	// A pod with a user namespace of its own gets its range before its volumes are made: their folders are its IDs'.
	if !p.retrySandbox(ctx, r, func() error { return p.allocateUserNamespace(r) }) {
		return
	}
	if !p.mountVolumes(ctx, r) {
		return
	}

	if !p.startSandbox(ctx, r) {
		return
	}
	p.startEphemeral(ctx, r)

	// Regular init containers run one at a time to completion; sidecars start and keep running.
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, c := range r.init {
		if c.sidecar {
			started := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.supervise(ctx, r, c, started)
			}()
			select {
			case <-started:
			case <-ctx.Done():
				return
			}
			continue
		}
		if !p.runInit(ctx, r, c) {
			return
		}
	}
	p.mu.Lock()
	r.initialized = true
	p.changedLocked(r)
	p.mu.Unlock()

	var apps sync.WaitGroup
	for _, c := range r.app {
		apps.Add(1)
		go func() {
			defer apps.Done()
			p.supervise(ctx, r, c, nil)
		}()
	}
	apps.Wait()
	if ctx.Err() != nil {
		return
	}
	// Every app container has stopped for good: the pod is terminal.
	p.finish(ctx, r)
	logger.V(2).Info("Pod finished")
}

// policy is what the node allows its pods, for admission.
func (p *Provider) policy() podspec.Policy {
	return podspec.Policy{AllowPrivileged: p.cfg.AllowPrivileged, AllowHostNamespaces: p.cfg.AllowHostNamespaces,
		AllowedCapabilities: p.cfg.AllowedCapabilities, Sysctls: p.cfg.Sysctls, Allocatable: p.cfg.Allocatable,
		AllowedHostPaths: p.cfg.AllowedHostPaths, AppArmor: p.cfg.AppArmor, SELinux: p.cfg.SELinux,
		NoUserNamespaces: p.noUserNamespaces()}
}

// refuse fails a pod the node does not admit: the rejection's warning event, every container waiting in
// CreateContainerConfigError with its message, and phase Failed with its reason and message.
func (p *Provider) refuse(r *podRecord, rej *podspec.Rejection) {
	p.cfg.Recorder.Event(r.pod, corev1.EventTypeWarning, rej.EventReason, rej.EventMessage)
	p.mu.Lock()
	defer p.mu.Unlock()
	r.terminal = true
	for _, c := range r.containers() {
		c.state = waiting("CreateContainerConfigError", rej.Message)
	}
	r.reason, r.message = rej.Reason, rej.Message
	r.finalPhase = corev1.PodFailed
	p.changedLocked(r)
}

// finish tears a terminal pod's sandbox down as the kubelet does: sidecars and the infra container stop; the
// exited containers stay (for logs) until the pod is deleted.
func (p *Provider) finish(ctx context.Context, r *podRecord) {
	p.mu.Lock()
	r.terminal = true
	p.mu.Unlock()
	// Later sidecars first, as the kubelet's termination order has it (termorder.go).
	for _, c := range slices.Backward(r.init) {
		if c.sidecar && c.id != "" {
			grace := p.preStop(ctx, r, c, c.id, gracePeriod(r.pod))
			if err := p.retryUnreachable(ctx, "stop container", func() error { return p.stopContainer(ctx, c.id, grace) }); err != nil {
				klog.FromContext(ctx).Error(err, "Stopping sidecar", "container", c.spec.Name)
			}
			p.recordExit(ctx, r, c, c.id, -1)
		}
	}
	if err := p.retryUnreachable(ctx, "stop pod", func() error { return p.cfg.Runtime.StopPod(ctx, r.podmanID, gracePeriod(r.pod)) }); err != nil {
		klog.FromContext(ctx).Error(err, "Stopping the sandbox of a finished pod")
	}
	p.releaseUserNamespace(r.pod.UID) // nothing runs in it any more, as when the kubelet's SyncTerminatedPod frees it
	p.mu.Lock()
	r.sandbox = false
	p.changedLocked(r)
	p.mu.Unlock()
}

// startSandbox creates the Podman pod and learns its IP, retrying with back-off as the kubelet does.
func (p *Provider) startSandbox(ctx context.Context, r *podRecord) bool {
	return p.retrySandbox(ctx, r, func() error { return p.createSandbox(ctx, r) })
}

// retrySandbox makes a part of the pod's sandbox until it is made, retrying with back-off as the kubelet does
// (each failure a FailedCreatePodSandBox event); false means the runner stopped first.
func (p *Provider) retrySandbox(ctx context.Context, r *podRecord, step func() error) bool {
	backoff := p.cfg.InitialBackoff
	for {
		err := step()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if p.unreachable(ctx, err) {
			// Not the sandbox's failure: it is made once Podman answers again.
			klog.FromContext(ctx).V(2).Info("Podman does not answer; creating the pod sandbox once it does", "err", err)
			if !p.waitPodman(ctx) {
				return false
			}
			continue
		}
		klog.FromContext(ctx).Error(err, "Creating pod sandbox")
		p.cfg.Recorder.Eventf(r.pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, p.cfg.MaxBackoff)
	}
}

func (p *Provider) createSandbox(ctx context.Context, r *podRecord) error {
	rt := p.cfg.Runtime
	handler, err := p.runtimeHandler(r.pod)
	if err != nil && !r.adopted {
		return err
	}
	p.mu.Lock()
	r.runtime = handler
	p.mu.Unlock()
	if r.adopted {
		// The sandbox outlived the virtual kubelet: take it as it is.
		ip, err := p.sandboxIP(ctx, r)
		var dns *podman.DNSConfig
		if err == nil && r.pod.Spec.HostNetwork {
			// Containers of a hostNetwork pod carry the pod's DNS settings themselves.
			dns, err = p.podDNS(ctx, r.pod)
		}
		if err == nil {
			p.mu.Lock()
			r.podIP, r.sandbox, r.dns = ip, true, dns
			p.changedLocked(r)
			p.mu.Unlock()
			return nil
		}
		if p.unreachable(ctx, err) {
			// Podman, not the sandbox, failed: the sandbox is taken over once Podman answers.
			return err
		}
		klog.FromContext(ctx).Error(err, "Adopted sandbox is unusable; making a new one")
		_ = rt.RemovePod(ctx, r.podmanID)
		p.mu.Lock()
		r.adopted, r.podmanID = false, ""
		p.mu.Unlock()
	}
	if r.podmanID == "" {
		// A Podman pod of the same name may be left from a failed attempt.
		_ = rt.RemovePod(ctx, r.podmanName)
		// As the kubelet's sandbox config: an FQDN too long for the kernel fails the sandbox (with the kubelet's
		// message, unwrapped, in the FailedCreatePodSandBox event) and is retried.
		hostname, err := sandboxHostname(r.pod, p.cfg.ClusterDomain)
		if err != nil {
			return err
		}
		dns, err := p.podDNS(ctx, r.pod)
		if err != nil {
			return err
		}
		p.mu.Lock()
		r.dns = dns
		p.mu.Unlock()
		// When Berth writes each container's hosts file (hosts.go), Podman's own would be unseen.
		spec := podspec.Pod(r.pod, podspec.PodInputs{Node: p.cfg.NodeName, Network: p.cfg.Network, Hostname: hostname, DNS: dns,
			HostNetns: p.cfg.HostNetns, PodmanHostsFile: !p.managesHostsFile(), HostPortIP: p.hostPortIP(),
			UserNamespace: p.userNamespace(r.pod.UID)})
		id, err := rt.CreatePod(ctx, spec)
		if err != nil {
			return err
		}
		p.mu.Lock()
		r.podmanID = id
		p.mu.Unlock()
	}
	if err := rt.StartPod(ctx, r.podmanID); err != nil {
		return err
	}
	if p.cfg.Hairpin != nil && !r.pod.Spec.HostNetwork {
		if err := p.cfg.Hairpin(ctx); err != nil {
			klog.FromContext(ctx).Error(err, "Setting hairpin mode on the pods' bridge; the pod may get no answer from itself through a Service")
		}
	}
	ip, err := p.sandboxIP(ctx, r)
	if err != nil {
		return err
	}
	p.mu.Lock()
	r.podIP = ip
	r.sandbox = true
	p.changedLocked(r)
	p.mu.Unlock()
	return nil
}

// mountVolumes sets the pod's volumes up, retrying with the kubelet volume manager's back-off (500 ms doubling to
// about 2 minutes) while, for example, a ConfigMap it needs does not exist or a claim is not bound yet; the
// containers wait in ContainerCreating meanwhile. A volume the node refuses (a claim bound to a PersistentVolume
// it cannot mount) fails the pod as admission does.
func (p *Provider) mountVolumes(ctx context.Context, r *podRecord) bool {
	backoff := 500 * time.Millisecond
	for {
		rej, err := p.setUpVolumes(ctx, r)
		if rej != nil {
			p.refuse(r, rej)
			return false
		}
		if err == nil {
			return true
		}
		klog.FromContext(ctx).V(2).Info("Setting up volumes", "err", err)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 122*time.Second)
	}
}

// hostPortIP is the address of hostPorts that name none (see podspec.PodInputs): the node's when the node is a
// network namespace other than the Podman host's.
func (p *Provider) hostPortIP() string {
	if p.cfg.HostNetns != "" {
		return p.cfg.NodeIP
	}
	return ""
}

// sandboxIP is the pod's IP: the node's for a hostNetwork pod, as the kubelet reports it, else the Podman pod's.
func (p *Provider) sandboxIP(ctx context.Context, r *podRecord) (string, error) {
	if r.pod.Spec.HostNetwork {
		return p.cfg.NodeIP, nil
	}
	return p.cfg.Runtime.PodIP(ctx, r.podmanID, p.cfg.Network)
}

// runInit runs a regular init container until it succeeds; false means the pod will not go on.
func (p *Provider) runInit(ctx context.Context, r *podRecord, c *containerRecord) bool {
	for {
		exit, kind := p.runOnce(ctx, r, c)
		if ctx.Err() != nil {
			return false
		}
		if kind == noErr && exit == 0 {
			return true
		}
		if kind == pullErr || kind == configErr {
			if !p.retryWait(ctx, r, c, kind) {
				return false
			}
			continue
		}
		if r.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			p.finish(ctx, r)
			return false
		}
		if !p.crashWait(ctx, r, c) {
			return false
		}
	}
}

// supervise runs a container and restarts it as the restart policy says, until it stops for good or ctx ends.
// started, if not nil, is closed once the container first runs.
func (p *Provider) supervise(ctx context.Context, r *podRecord, c *containerRecord, started chan struct{}) {
	once := sync.Once{}
	signal := func() {
		if started != nil {
			once.Do(func() { close(started) })
		}
	}
	// renewed is set while the run is the restart of a container killed for a new image.
	renewed := false
	for {
		exit, kind := p.runOnce(ctx, r, c, signal)
		if ctx.Err() != nil {
			return
		}
		if kind == pullErr || kind == configErr {
			if renewed && !shouldRestart(r.pod, c, 1) {
				// The restart for the new image could not run: under restartPolicy Never, the container stays
				// stopped, as the kubelet does not try it again.
				signal()
				return
			}
			if !p.retryWait(ctx, r, c, kind) {
				return
			}
			continue
		}
		if p.consumeResizeRestart(r, c) {
			continue
		}
		p.mu.Lock()
		done := r.terminal
		renewed, c.restartNow = c.restartNow, false
		p.mu.Unlock()
		if !done && renewed {
			continue // killed for a new image: it starts again at once
		}
		if done || !shouldRestart(r.pod, c, exit) {
			signal()
			return
		}
		if !p.crashWait(ctx, r, c) {
			return
		}
	}
}

// shouldRestart applies the restart policy to a container that exited with code exit.
func shouldRestart(pod *corev1.Pod, c *containerRecord, exit int32) bool {
	if c.sidecar {
		return true
	}
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exit != 0
	default:
		return true
	}
}

// crashWait shows CrashLoopBackOff for the current back-off, then lets the container run again.
func (p *Provider) crashWait(ctx context.Context, r *podRecord, c *containerRecord) bool {
	p.mu.Lock()
	// A container that ran long enough (twice the maximum back-off) starts over from the initial back-off.
	maxBackoff := p.cfg.MaxContainerRestartPeriod
	if c.backoff == 0 || time.Since(c.lastStart) > 2*maxBackoff {
		c.backoff = min(p.cfg.InitialBackoff, maxBackoff)
	} else {
		c.backoff = min(2*c.backoff, maxBackoff)
	}
	d := c.backoff
	msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", d, c.spec.Name, podspec.FormatPod(r.pod))
	if c.state.Terminated != nil {
		c.last = c.state
	}
	p.waitLocked(r, c, "CrashLoopBackOff", msg, event{corev1.EventTypeWarning, "BackOff",
		fmt.Sprintf("Back-off restarting failed container %s in pod %s", c.spec.Name, podspec.FormatPod(r.pod))})
	p.mu.Unlock()
	return p.backOff(ctx, c, d)
}

// retryWait waits before retrying an image pull or a container creation. As the kubelet shows it, a failed pull
// reads ErrImagePull first, then ImagePullBackOff until the next attempt; ErrImageNeverPull stays as it is.
func (p *Provider) retryWait(ctx context.Context, r *podRecord, c *containerRecord, kind errKind) bool {
	p.mu.Lock()
	if c.backoff == 0 {
		c.backoff = p.cfg.InitialBackoff
	} else {
		c.backoff = min(2*c.backoff, p.cfg.MaxBackoff)
	}
	d := c.backoff
	pulling := kind == pullErr && c.state.Waiting != nil && c.state.Waiting.Reason == "ErrImagePull"
	var prev string
	if pulling {
		prev = c.state.Waiting.Message
	}
	p.mu.Unlock()
	if !pulling {
		return p.backOff(ctx, c, d)
	}
	if !p.backOff(ctx, c, d/2) {
		return false
	}
	p.mu.Lock()
	if imageChangedLocked(c) {
		p.mu.Unlock()
		return true // the new image is pulled at once
	}
	msg := fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", c.spec.Image, prev)
	p.waitLocked(r, c, "ImagePullBackOff", msg, event{corev1.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", c.spec.Image)})
	p.mu.Unlock()
	return p.backOff(ctx, c, d-d/2)
}

// sleep waits for d or until ctx ends; false means ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
