package provider

import (
	"context"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/podstatus"
)

// One attempt to run a container, in the kubelet's steps (runOnce): pull its image, build its spec (the attempt
// counts from there), create it, start it, wait for it to exit, and record how it ended. An attempt may instead
// take over a container an earlier virtual kubelet started (resume).

// runOnce makes one attempt to run a container, in the kubelet's steps: take over a container an earlier virtual
// kubelet started, or pull its image, build its spec, create it, start it and wait for it to exit. It returns the
// exit code and how the attempt failed. onStart, if given, is called once the container runs.
func (w *podWorker) runOnce(ctx context.Context, c *containerRecord, onStart ...func()) (int32, errKind) {
	if exit, ok := w.resume(ctx, c, onStart...); ok {
		return exit, noErr
	}
	if !w.pull(ctx, c) {
		return 0, pullErr
	}
	t := time.Now()
	spec, applied, ok := w.buildSpec(ctx, c)
	if !ok {
		return 0, configErr
	}
	w.timed(phaseSpec, t)
	id, ok := w.create(ctx, c, spec)
	if !ok {
		return 0, configErr
	}
	startedAt, ok := w.start(ctx, c, id, applied)
	if !ok {
		if ctx.Err() != nil {
			return 0, startErr
		}
		return 128, startErr
	}
	return w.wait(ctx, c, id, startedAt, onStart), noErr
}

// resume takes over a container an earlier virtual kubelet started: a running one is waited for, an exited one
// is recorded as it ended. ok is false when there is nothing to take over.
func (w *podWorker) resume(ctx context.Context, c *containerRecord, onStart ...func()) (int32, bool) {
	w.p.mu.Lock()
	id := c.resumeID
	c.resumeID = ""
	w.p.mu.Unlock()
	if id == "" {
		return 0, false
	}
	// The previous attempt, if Podman still has it, is the container's lastState.
	last := w.previousTermination(ctx, c)
	w.p.mu.Lock()
	if last.Terminated != nil {
		c.last = last
	}
	w.p.mu.Unlock()
	var st podman.ContainerState
	err := w.p.retryUnreachable(ctx, "inspect container", func() (err error) {
		st, err = w.p.cfg.Runtime.InspectContainer(ctx, id)
		return err
	})
	if ctx.Err() != nil {
		return 0, true
	}
	if err != nil {
		klog.FromContext(ctx).Error(err, "Adopted container is gone; starting it anew", "container", c.spec.Name)
		return 0, false
	}
	if !st.Running && st.StartedAt.IsZero() && st.Error == "" {
		// Created, never started: the earlier virtual kubelet ended in between. It did not run, so it is no
		// attempt that ended (exit 0 would finish a restartPolicy Never pod that never ran); as the kubelet does
		// with a container it finds created, a new one is started in its place (the next attempt).
		klog.FromContext(ctx).V(2).Info("Adopted container was never started; starting a new one", "container", c.spec.Name)
		if err := w.p.cfg.Runtime.RemoveContainer(ctx, id); err != nil {
			klog.FromContext(ctx).Error(err, "Removing a container that was never started", "container", c.spec.Name)
		}
		return 0, false
	}
	w.p.mu.Lock()
	c.id, c.imageID, c.started = id, st.ImageID, true
	c.lastStart = st.StartedAt
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(st.StartedAt)}}
	// A taken-over container keeps the readiness last reported until its probe says otherwise.
	prev, _ := podstatus.FindStatus(w.r.pod.Status.ContainerStatuses, c.spec.Name)
	if c.init {
		prev, _ = podstatus.FindStatus(w.r.pod.Status.InitContainerStatuses, c.spec.Name)
	}
	c.ready, c.killed = prev.Ready, false
	if st.Running {
		w.resizeRunningLocked(ctx, c, c.applied)
		// An exited one is reported once its exit is recorded below, not as running meanwhile.
		w.changedLocked()
	}
	w.p.mu.Unlock()
	if st.Running {
		stopProbes := w.startProbes(ctx, c, id, st.StartedAt, onStart)
		stopWatch := w.watchImage(ctx, c, id)
		exit, err := w.p.waitExit(ctx, id)
		stopProbes()
		stopWatch()
		if ctx.Err() != nil {
			return 0, true
		}
		if err != nil {
			exit = -1
		}
		st.ExitCode = exit
	}
	return w.recordExit(ctx, c, id, st.ExitCode), true
}

// previousTermination is the lastState of an adopted container: how its previous attempt, if Podman still has it,
// ended. The zero state means there is none.
func (w *podWorker) previousTermination(ctx context.Context, c *containerRecord) corev1.ContainerState {
	w.p.mu.Lock()
	attempt := c.attempts - 1 // the one before the adopted attempt
	w.p.mu.Unlock()
	if attempt < 1 {
		return corev1.ContainerState{}
	}
	st, err := w.p.cfg.Runtime.InspectContainer(ctx, podspec.ContainerName(w.r.podmanName, c.spec.Name, attempt))
	if err != nil || !exitedState(st.Status) {
		return corev1.ContainerState{}
	}
	t := &corev1.ContainerStateTerminated{
		ExitCode: st.ExitCode, ContainerID: containerIDPrefix + st.ID,
		StartedAt: metav1.NewTime(st.StartedAt), FinishedAt: metav1.NewTime(st.FinishedAt),
	}
	switch {
	case st.StartedAt.IsZero() && st.Error != "":
		t.Reason, t.Message = "StartError", st.Error
	case st.OOMKilled || oomKilledByLimit(c, st.ExitCode, false):
		t.Reason = "OOMKilled"
	case st.ExitCode == 0:
		t.Reason = "Completed"
	default:
		t.Reason = "Error"
	}
	return corev1.ContainerState{Terminated: t}
}

// buildSpec resolves what the container's spec depends on (runAsNonRoot against the image's user, environment,
// volume mounts, the termination log, the hosts file) and builds it: the attempt it creates counts from here. It
// also returns the resources the container is created with, for resizes. A failure leaves the container waiting
// in CreateContainerConfigError.
func (w *podWorker) buildSpec(ctx context.Context, c *containerRecord) (podman.ContainerSpec, *corev1.ResourceRequirements, bool) {
	logger := klog.FromContext(ctx).WithValues("container", c.spec.Name)
	nonRootErr := w.p.checkRunAsNonRoot(ctx, w.r.pod, c.spec)
	if nonRootErr != nil && ctx.Err() != nil {
		return podman.ContainerSpec{}, nil, false
	}
	w.p.mu.Lock()
	env, err := w.p.environment(w.r.pod, c.spec, envInputs{podIP: w.r.podIP, hostIP: w.p.cfg.NodeIP, nodeAllocatable: w.p.cfg.Allocatable})
	if err == nil {
		err = nonRootErr
	}
	var mounts []podman.BindMount
	if err == nil {
		mounts, err = w.p.volumes().ContainerMounts(w.r.pod, c.spec, env)
	}
	if err != nil {
		w.waitLocked(c, "CreateContainerConfigError", err.Error(), failedEvent(err.Error()))
		w.p.mu.Unlock()
		return podman.ContainerSpec{}, nil, false
	}
	c.attempts++
	attempt := c.attempts
	podIP := w.r.podIP
	w.p.mu.Unlock()
	// Only the previous run is kept (for logs --previous).
	if attempt > 2 {
		_ = w.p.cfg.Runtime.RemoveContainer(ctx, podspec.ContainerName(w.r.podmanName, c.spec.Name, attempt-2))
		w.p.removeTerminationLog(w.r.pod, c.spec.Name, attempt-2)
	}
	logMount, err := w.p.mountTerminationLog(w.r.pod, c.spec, attempt)
	if err != nil {
		logger.Error(err, "Creating termination log")
		w.creationFailed(c, "CreateContainerConfigError", err)
		return podman.ContainerSpec{}, nil, false
	}
	hostsMount, err := w.p.mountHostsFile(w.r.pod, c.spec, podIP)
	if err != nil {
		logger.Error(err, "Writing the pod's hosts file")
		w.creationFailed(c, "CreateContainerConfigError", err)
		return podman.ContainerSpec{}, nil, false
	}
	mounts = append(append(mounts, logMount...), hostsMount...)
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	spec := podspec.Container(w.r.pod, c.spec, podspec.ContainerInputs{Node: w.p.cfg.NodeName, Pod: w.r.podmanID, Attempt: attempt, Env: env, HostNetns: w.p.cfg.HostNetns,
		Mounts: mounts, PIDNamespaceOf: c.pidOf, DNS: w.r.dns, PodmanHostsFile: !w.p.managesHostsFile(),
		Seccomp: podspec.SeccompConfig{ProfileRoot: filepath.Join(w.p.cfg.RootDir, "seccomp"), DefaultRuntimeDefault: w.p.cfg.SeccompDefault}, AppArmor: w.p.cfg.AppArmor, OCIRuntime: w.r.runtime})
	return spec, c.spec.Resources.DeepCopy(), true
}

// checkRunAsNonRoot verifies runAsNonRoot before a container is created, with the image's user when the security
// context does not say the user.
func (p *Provider) checkRunAsNonRoot(ctx context.Context, pod *corev1.Pod, c *corev1.Container) error {
	imageUser := ""
	if podspec.NeedsImageUser(pod, c) {
		var u string
		err := p.retryUnreachable(ctx, "inspect image", func() (err error) {
			u, err = p.cfg.Runtime.ImageUser(ctx, c.Image)
			return err
		})
		if err != nil {
			return err
		}
		imageUser = u
	}
	return podspec.VerifyRunAsNonRoot(pod, c, imageUser)
}

// creationFailed records an attempt whose container could not be created: the attempt does not count, the
// container waits with the reason, and a Failed event says why.
func (w *podWorker) creationFailed(c *containerRecord, reason string, err error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	c.attempts--
	w.waitLocked(c, reason, err.Error(), failedEvent(err.Error()))
}

// create creates the container from spec; a failure leaves it waiting in CreateContainerError (the attempt does not
// count).
func (w *podWorker) create(ctx context.Context, c *containerRecord, spec podman.ContainerSpec) (string, bool) {
	var id string
	retried := false
	t := time.Now()
	err := w.p.retryUnreachable(ctx, "create container", func() error {
		if retried {
			// A creation whose answer was lost may have gone through.
			_ = w.p.cfg.Runtime.RemoveContainer(ctx, spec.Name)
		}
		retried = true
		var err error
		id, err = w.p.cfg.Runtime.CreateContainer(ctx, spec)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "Creating container", "container", c.spec.Name)
			w.creationFailed(c, "CreateContainerError", err)
		}
		return "", false
	}
	w.timed(opContainerCreate, t)
	w.p.mu.Lock()
	c.id = id
	w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeNormal, "Created", "Created container: %s", c.spec.Name)
	w.p.mu.Unlock()
	return id, true
}

// start starts the created container and records it running from the time Podman says it started (not yet
// started, if it has a startup probe; in its earlier state while a postStart hook runs); applied are the
// resources it was created with. A failure records it terminated with StartError.
func (w *podWorker) start(ctx context.Context, c *containerRecord, id string, applied *corev1.ResourceRequirements) (time.Time, bool) {
	t := time.Now()
	if err := w.p.startContainer(ctx, id); err != nil {
		if ctx.Err() != nil {
			return time.Time{}, false
		}
		klog.FromContext(ctx).Error(err, "Starting container", "container", c.spec.Name)
		w.p.mu.Lock()
		now := metav1.Now()
		c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 128, Reason: "StartError", Message: err.Error(), StartedAt: metav1.Time{}, FinishedAt: now, ContainerID: containerIDPrefix + id,
		}}
		w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.changedLocked()
		w.p.mu.Unlock()
		return time.Time{}, false
	}
	w.timed(opContainerStart, t)
	t = time.Now()
	var st podman.ContainerState
	err := w.p.retryUnreachable(ctx, "inspect container", func() (err error) {
		st, err = w.p.cfg.Runtime.InspectContainer(ctx, id)
		return err
	})
	w.timed(opContainerInspect, t)
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	startedAt := metav1.Now()
	if err == nil && !st.StartedAt.IsZero() {
		startedAt = metav1.NewTime(st.StartedAt)
	}
	if err == nil {
		c.imageID = st.ImageID
	}
	c.lastStart = startedAt.Time
	if hasPostStart(c.spec) {
		c.hooking, c.hookState = true, c.state
	}
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}
	// With a startup probe, the container has started once the probe succeeds.
	c.started = c.spec.StartupProbe == nil
	c.ready, c.killed = false, false
	w.resizeRunningLocked(ctx, c, applied)
	w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeNormal, "Started", "Started container %s", c.spec.Name)
	w.changedLocked()
	return startedAt.Time, true
}

// startContainer starts a created container. Failures to reach Podman are retried once it answers; a start whose
// answer was lost may have gone through, so the container is only started again if it is still merely created.
func (p *Provider) startContainer(ctx context.Context, id string) error {
	retried := false
	return p.retryUnreachable(ctx, "start container", func() error {
		if retried {
			st, err := p.cfg.Runtime.InspectContainer(ctx, id)
			if err != nil {
				return err
			}
			if st.Status != "created" && st.Status != "configured" && st.Status != "initialized" {
				return nil
			}
		}
		retried = true
		return p.cfg.Runtime.StartContainer(ctx, id)
	})
}

// hasPostStart tells whether a container has a postStart hook.
func hasPostStart(c *corev1.Container) bool {
	return c.Lifecycle != nil && c.Lifecycle.PostStart != nil
}

// wait runs the started container's postStart hook, then its probes and the watch for a new image, until it exits;
// it returns the exit code recorded (0 once ctx ends).
func (w *podWorker) wait(ctx context.Context, c *containerRecord, id string, startedAt time.Time, onStart []func()) int32 {
	stopProbes := func() {}
	if w.postStart(ctx, c, id) {
		stopProbes = w.startProbes(ctx, c, id, startedAt, onStart)
	}
	stopWatch := w.watchImage(ctx, c, id)
	exit, err := w.p.waitExit(ctx, id)
	stopProbes()
	stopWatch()
	if ctx.Err() != nil {
		return 0
	}
	if err != nil {
		klog.FromContext(ctx).Error(err, "Waiting for container", "container", c.spec.Name)
		exit = -1
	}
	return w.recordExit(ctx, c, id, exit)
}
