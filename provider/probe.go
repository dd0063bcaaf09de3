package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	remote "k8s.io/cri-client/pkg"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/probe"
	execprobe "k8s.io/kubernetes/pkg/probe/exec"
	grpcprobe "k8s.io/kubernetes/pkg/probe/grpc"
	httpprobe "k8s.io/kubernetes/pkg/probe/http"
	tcpprobe "k8s.io/kubernetes/pkg/probe/tcp"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
	utilexec "k8s.io/utils/exec"

	"github.com/berth-dev/berth/provider/podman"
)

// probeType is the kind of a container probe.
type probeType int

const (
	liveness probeType = iota
	readiness
	startup
)

// String is the probe type as the kubelet's events name it.
func (t probeType) String() string {
	switch t {
	case readiness:
		return "Readiness"
	case liveness:
		return "Liveness"
	default:
		return "Startup"
	}
}

func probeOf(c *corev1.Container, t probeType) *corev1.Probe {
	switch t {
	case readiness:
		return c.ReadinessProbe
	case liveness:
		return c.LivenessProbe
	default:
		return c.StartupProbe
	}
}

// maxProbeRetries is how often a probe that errors is tried in a row, as the kubelet does.
const maxProbeRetries = 3

// The kubelet's probers, shared: the HTTP one skips TLS verification and does not follow redirects to other hosts.
var (
	httpProber = httpprobe.New(false)
	tcpProber  = tcpprobe.New()
	grpcProber = grpcprobe.New()
	execProber = execprobe.New()
)

// probeSettings are a probe's timings and thresholds with the API's defaults for unset fields.
type probeSettings struct {
	initialDelay, period, timeout time.Duration
	success, failure              int
}

func settingsOf(pr *corev1.Probe) probeSettings {
	s := probeSettings{
		initialDelay: time.Duration(pr.InitialDelaySeconds) * time.Second,
		period:       time.Duration(pr.PeriodSeconds) * time.Second,
		timeout:      time.Duration(pr.TimeoutSeconds) * time.Second,
		success:      int(pr.SuccessThreshold),
		failure:      int(pr.FailureThreshold),
	}
	if s.period <= 0 {
		s.period = 10 * time.Second
	}
	if s.timeout <= 0 {
		s.timeout = time.Second
	}
	s.success = max(s.success, 1)
	if s.failure <= 0 {
		s.failure = 3
	}
	return s
}

// probeTick, when not zero, replaces the probes' periods (unit tests run probes faster than once a second).
var probeTick time.Duration

// containerProbes are the probe workers of one run of a container.
type containerProbes struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// triggers make a worker probe at once, by probe type.
	triggers map[probeType]chan struct{}
}

// stop ends the workers and waits until they are gone.
func (cp *containerProbes) stop() {
	cp.cancel()
	cp.wg.Wait()
}

func (cp *containerProbes) trigger(t probeType) {
	if ch, ok := cp.triggers[t]; ok {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// startProbes starts one worker per probe of a container that now runs as id (started at startedAt), as the
// kubelet's prober manager does. onStarted are called once the container counts as started: at once if it has
// (no startup probe), else when the startup probe first succeeds. The returned function stops the workers.
func (p *Provider) startProbes(ctx context.Context, r *podRecord, c *containerRecord, id string, startedAt time.Time, onStarted []func()) func() {
	ctx, cancel := context.WithCancel(ctx)
	cp := &containerProbes{cancel: cancel, triggers: map[probeType]chan struct{}{}}
	var types []probeType
	for _, t := range []probeType{startup, liveness, readiness} {
		if probeOf(c.spec, t) != nil {
			types = append(types, t)
			cp.triggers[t] = make(chan struct{}, 1)
		}
	}
	// Without a startup probe (or for a container taken over that had started), the container has started.
	p.mu.Lock()
	started := c.started
	p.mu.Unlock()
	if started {
		for _, f := range onStarted {
			f()
		}
	}
	for _, t := range types {
		w := &probeWorker{p: p, r: r, c: c, id: id, typ: t, spec: probeOf(c.spec, t), startedAt: startedAt, probes: cp}
		if t == startup {
			w.onStarted = onStarted
		}
		cp.wg.Add(1)
		go func() {
			defer cp.wg.Done()
			w.run(ctx)
		}()
	}
	return cp.stop
}

// probeWorker probes one container run periodically with one of its probes, as the kubelet's prober worker.
type probeWorker struct {
	p         *Provider
	r         *podRecord
	c         *containerRecord
	id        string
	typ       probeType
	spec      *corev1.Probe
	startedAt time.Time
	probes    *containerProbes
	onStarted []func()

	lastResult bool
	resultRun  int
	// onHold stops probing once the container is to be killed (or has started, for a startup probe).
	onHold bool
}

func (w *probeWorker) run(ctx context.Context) {
	period := settingsOf(w.spec).period
	if probeTick > 0 {
		period = probeTick
	}
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for w.doProbe(ctx) {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-w.probes.triggers[w.typ]:
			ticker.Reset(period)
		}
	}
}

// doProbe probes once if the probe is due and acts on the result; false ends the worker.
func (w *probeWorker) doProbe(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	p, r, c := w.p, w.r, w.c
	s := settingsOf(w.spec)
	p.mu.Lock()
	started, deleting, podIP := c.started, r.deleting || r.pod.DeletionTimestamp != nil, r.podIP
	p.mu.Unlock()
	if deleting && w.typ != readiness {
		// A pod shutting down is not killed for failing liveness or startup.
		return false
	}
	if w.onHold {
		return true
	}
	// As the kubelet, the initial delay counts whole seconds since the container started.
	if int64(time.Since(w.startedAt)/time.Second) < int64(s.initialDelay/time.Second) {
		return true
	}
	if started != (w.typ != startup) {
		// A startup probe runs until the container has started; the others only after.
		return true
	}
	ok, err := p.probe(ctx, r, c, w.id, podIP, w.typ, w.spec)
	if err != nil || ctx.Err() != nil {
		return ctx.Err() == nil
	}
	if w.lastResult == ok && w.resultRun > 0 {
		w.resultRun++
	} else {
		w.lastResult, w.resultRun = ok, 1
	}
	if (!ok && w.resultRun < s.failure) || (ok && w.resultRun < s.success) {
		return true
	}
	switch w.typ {
	case readiness:
		p.mu.Lock()
		if c.ready != ok && c.id == w.id {
			c.ready = ok
			p.changedLocked(r)
		}
		p.mu.Unlock()
	case startup:
		w.onHold, w.resultRun = true, 0
		if ok {
			p.mu.Lock()
			if c.id == w.id {
				c.started = true
				p.changedLocked(r)
			}
			p.mu.Unlock()
			for _, f := range w.onStarted {
				f()
			}
			// As the kubelet's status update does, the other probes run at once.
			w.probes.trigger(readiness)
			w.probes.trigger(liveness)
			return true
		}
		p.killForProbe(ctx, r, c, w.id, startup)
	case liveness:
		if !ok {
			w.onHold, w.resultRun = true, 0
			p.killForProbe(ctx, r, c, w.id, liveness)
		}
	}
	return true
}

// probe runs a probe once (retrying one that errors) and records the kubelet's events for its outcome. ok tells
// whether it succeeded; err is set when it could not tell, which the worker ignores.
func (p *Provider) probe(ctx context.Context, r *podRecord, c *containerRecord, id, podIP string, t probeType, pr *corev1.Probe) (bool, error) {
	logger := klog.FromContext(ctx).WithValues("container", c.spec.Name, "probeType", t.String())
	var (
		result probe.Result
		output string
		err    error
	)
	for range maxProbeRetries {
		result, output, err = p.runProbe(ctx, c, id, podIP, pr)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		logger.V(1).Info("Probe errored", "probeResult", result, "err", err)
		p.cfg.Recorder.Eventf(r.pod, corev1.EventTypeWarning, "Unhealthy", "%s probe errored and resulted in %s state: %s", t, result, err)
		return false, err
	}
	switch result {
	case probe.Success:
		logger.V(3).Info("Probe succeeded")
		return true, nil
	case probe.Warning:
		p.cfg.Recorder.Eventf(r.pod, corev1.EventTypeWarning, "ProbeWarning", "%s probe warning: %s", t, output)
		return true, nil
	case probe.Failure:
		logger.V(1).Info("Probe failed", "output", output)
		p.cfg.Recorder.Eventf(r.pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", t, output)
		return false, nil
	default:
		return false, nil
	}
}

// runProbe runs a probe's handler once, as the kubelet's prober does.
func (p *Provider) runProbe(ctx context.Context, c *containerRecord, id, podIP string, pr *corev1.Probe) (probe.Result, string, error) {
	timeout := settingsOf(pr).timeout
	switch {
	case pr.Exec != nil:
		// As the kubelet, only the container's literal env values expand $(VAR) in the command.
		cmd := expandStatic(pr.Exec.Command, c.spec.Env)
		return execProber.Probe(&execCmd{run: func() ([]byte, error) { return p.exec(ctx, id, cmd, timeout) }})
	case pr.HTTPGet != nil:
		req, err := httpprobe.NewRequestForHTTPGetAction(pr.HTTPGet, c.spec, podIP, "probe")
		if err != nil {
			return probe.Unknown, "", fmt.Errorf("http probe request: %w", err)
		}
		return httpProber.Probe(req.WithContext(ctx), timeout)
	case pr.TCPSocket != nil:
		port, err := probe.ResolveContainerPort(pr.TCPSocket.Port, c.spec)
		if err != nil {
			return probe.Unknown, "", fmt.Errorf("tcp probe port: %w", err)
		}
		host := pr.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		return tcpProber.Probe(host, port, timeout)
	case pr.GRPC != nil:
		service := ""
		if pr.GRPC.Service != nil {
			service = *pr.GRPC.Service
		}
		return grpcProber.Probe(podIP, service, int(pr.GRPC.Port), timeout, grpcprobe.ProbeOptions{})
	default:
		return probe.Unknown, "", fmt.Errorf("missing probe handler for container %s", c.spec.Name)
	}
}

// exec runs a command in a container as the kubelet's RunInContainer does: its output, and for a non-zero exit a
// utilexec.CodeExitError; a command outliving timeout is the CRI's ErrCommandTimedOut.
func (p *Provider) exec(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, error) {
	code, out, err := p.cfg.Runtime.Exec(ctx, id, cmd, timeout)
	if err != nil {
		if errors.Is(err, podman.ErrExecTimeout) {
			return out, fmt.Errorf("%w: %q timed out after %s", remote.ErrCommandTimedOut, strings.Join(cmd, " "), timeout)
		}
		return out, fmt.Errorf("exec %q: %w", strings.Join(cmd, " "), err)
	}
	if code != 0 {
		return out, utilexec.CodeExitError{Err: fmt.Errorf("command '%s' exited with %d: %s", strings.Join(cmd, " "), code, out), Code: code}
	}
	return out, nil
}

// expandStatic expands $(VAR) in a command with the container's literal env values only.
func expandStatic(cmd []string, env []corev1.EnvVar) []string {
	vars := map[string]string{}
	for _, e := range env {
		vars[e.Name] = e.Value
	}
	mapping := expansion.MappingFuncFor(vars)
	out := make([]string, 0, len(cmd))
	for _, s := range cmd {
		out = append(out, expansion.Expand(s, mapping))
	}
	return out
}

// execCmd adapts a command run in a container to the utilexec.Cmd the kubelet's exec prober takes.
type execCmd struct {
	run    func() ([]byte, error)
	writer io.Writer
}

func (e *execCmd) Run() error                      { return nil }
func (e *execCmd) CombinedOutput() ([]byte, error) { return e.run() }
func (e *execCmd) Output() ([]byte, error)         { return nil, errors.New("unimplemented") }
func (e *execCmd) SetDir(string)                   {}
func (e *execCmd) SetStdin(io.Reader)              {}
func (e *execCmd) SetStdout(out io.Writer)         { e.writer = out }
func (e *execCmd) SetStderr(out io.Writer)         { e.writer = out }
func (e *execCmd) SetEnv([]string)                 {}
func (e *execCmd) Stop()                           {}
func (e *execCmd) Wait() error                     { return nil }
func (e *execCmd) StdoutPipe() (io.ReadCloser, error) {
	return nil, errors.New("unimplemented")
}
func (e *execCmd) StderrPipe() (io.ReadCloser, error) {
	return nil, errors.New("unimplemented")
}

func (e *execCmd) Start() error {
	data, err := e.run()
	if e.writer != nil {
		_, _ = e.writer.Write(data)
	}
	return err
}

// killForProbe kills a container that failed its liveness or startup probe, as the kubelet does; the runner then
// sees it exit and applies the restart policy.
func (p *Provider) killForProbe(ctx context.Context, r *podRecord, c *containerRecord, id string, t probeType) {
	what := "liveness"
	if t == startup {
		what = "startup"
	}
	msg := fmt.Sprintf("Container %s failed %s probe", c.spec.Name, what)
	if c.sidecar || r.pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		msg += ", will be restarted"
	}
	p.mu.Lock()
	grace := killGracePeriod(r.pod, probeOf(c.spec, t))
	p.mu.Unlock()
	// The kill goes on if the worker is stopped meanwhile: the container is on its way out.
	p.killContainer(context.WithoutCancel(ctx), r, c, id, msg, grace)
}

// killGracePeriod is the grace period of a container killed for failing a probe (setTerminationGracePeriod): the
// pod's deletion grace period while it is deleted, else the probe's own terminationGracePeriodSeconds, else the
// pod's. pr may be nil.
func killGracePeriod(pod *corev1.Pod, pr *corev1.Probe) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pr != nil && pr.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pr.TerminationGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return minGracePeriod
}
