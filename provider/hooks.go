package provider

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	httpprobe "k8s.io/kubernetes/pkg/probe/http"
	utilexec "k8s.io/utils/exec"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/prober"
)

// minGracePeriod is the shortest time a stopped container gets before SIGKILL (kubelet's
// minimumGracePeriodInSeconds).
const minGracePeriod = 2 * time.Second

// maxHookRespBody is how much of an HTTP hook's response is read (kubelet: 10 KiB).
const maxHookRespBody = 10 << 10

// hookClient makes the HTTP requests of lifecycle hooks as the kubelet's insecureContainerLifecycleHTTPClient: HTTPS
// without verifying the server's certificate (nothing says which to trust), redirects followed on the same host
// only. It must never carry credentials.
var hookClient = &http.Client{
	Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	CheckRedirect: httpprobe.RedirectChecker(false),
}

// preStop runs a container's preStop hook, if any, before it is stopped with grace, as the kubelet's
// executePreStopHook: the hook gets at most the grace period, a failure is a FailedPreStopHook event and the stop
// goes on. It returns the grace period left for the stop signal (whole seconds spent are taken off; at least 2s).
func (w *podWorker) preStop(ctx context.Context, c *containerRecord, id string, grace time.Duration) time.Duration {
	if c.spec.Lifecycle == nil || c.spec.Lifecycle.PreStop == nil || grace <= 0 {
		return max(grace, minGracePeriod)
	}
	logger := klog.FromContext(ctx).WithValues("container", c.spec.Name)
	logger.V(3).Info("Running preStop hook")
	start := time.Now()
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		msg, err := w.runHandler(hctx, c, id, c.spec.Lifecycle.PreStop)
		if err != nil && hctx.Err() == nil {
			logger.Error(err, "PreStop hook failed", "message", msg)
			w.p.cfg.Recorder.Event(w.r.pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed")
		}
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-t.C:
		logger.V(2).Info("PreStop hook not completed in grace period", "gracePeriod", grace)
	case <-done:
	}
	grace -= time.Since(start).Truncate(time.Second)
	return max(grace, minGracePeriod)
}

// postStart runs a container's postStart hook right after the container started, as the kubelet does: until the
// hook completes the container is reported as it was before it started. A failed hook kills the container
// (FailedPostStartHook), and false is returned; the runner then sees it exit.
func (w *podWorker) postStart(ctx context.Context, c *containerRecord, id string) bool {
	if !hasPostStart(c.spec) {
		return true
	}
	logger := klog.FromContext(ctx).WithValues("container", c.spec.Name)
	msg, err := w.runHandler(ctx, c, id, c.spec.Lifecycle.PostStart)
	if err == nil {
		w.p.mu.Lock()
		c.hooking = false
		w.changedLocked()
		w.p.mu.Unlock()
		return true
	}
	if ctx.Err() == nil {
		logger.Error(err, "Failed to execute PostStartHook", "message", msg)
		// As the kubelet, the event does not carry the message, which may hold secrets.
		w.p.cfg.Recorder.Event(w.r.pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed")
		w.p.mu.Lock()
		grace := killGracePeriod(w.r.pod, nil)
		w.p.mu.Unlock()
		w.killContainer(ctx, c, id, "FailedPostStartHook", grace)
	}
	// The runner records the exit next (recordExit ends hooking): until then the container is still shown as it
	// was before it started, so that it is never reported running.
	return false
}

// runHandler runs a lifecycle hook handler in or against container id, as the kubelet's handlerRunner does. msg
// describes a failure (for logs, not events: it may hold secrets).
func (w *podWorker) runHandler(ctx context.Context, c *containerRecord, id string, h *corev1.LifecycleHandler) (string, error) {
	switch {
	case h.Exec != nil:
		out, err := w.p.exec(ctx, id, h.Exec.Command, 0)
		if err != nil {
			return fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q", h.Exec.Command, c.spec.Name, podspec.FormatPod(w.r.pod), err, string(out)), err
		}
		return "", nil
	case h.HTTPGet != nil:
		if err := w.runHTTPHandler(ctx, c, h.HTTPGet); err != nil {
			return fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v", h.HTTPGet.Path, c.spec.Name, podspec.FormatPod(w.r.pod), err), err
		}
		return "", nil
	case h.Sleep != nil:
		if !sleep(ctx, time.Duration(h.Sleep.Seconds)*time.Second) {
			err := errors.New("container terminated before sleep hook finished")
			return fmt.Sprintf("Sleep lifecycle hook (%d) for Container %q in Pod %q failed - error: %v", h.Sleep.Seconds, c.spec.Name, podspec.FormatPod(w.r.pod), err), err
		}
		return "", nil
	default:
		err := fmt.Errorf("invalid handler: %v", h)
		return fmt.Sprintf("Cannot run handler: %v", err), err
	}
}

// exec runs a command in a container as the kubelet's RunInContainer does: its output, and for a non-zero exit a
// utilexec.CodeExitError; a command outliving timeout is prober.ErrCommandTimedOut, as the CRI's ErrCommandTimedOut.
func (p *Provider) exec(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, error) {
	code, out, err := p.cfg.Runtime.Exec(ctx, id, cmd, timeout)
	if err != nil {
		if errors.Is(err, podman.ErrExecTimeout) {
			return out, fmt.Errorf("%w: %q timed out after %s", prober.ErrCommandTimedOut, strings.Join(cmd, " "), timeout)
		}
		return out, fmt.Errorf("exec %q: %w", strings.Join(cmd, " "), err)
	}
	if code != 0 {
		return out, utilexec.CodeExitError{Err: fmt.Errorf("command '%s' exited with %d: %s", strings.Join(cmd, " "), code, out), Code: code}
	}
	return out, nil
}

// runHTTPHandler makes an HTTP hook's GET (host: the pod's IP by default). A response of any status succeeds; an
// HTTPS request answered in plain HTTP is retried in HTTP, as the kubelet does.
func (w *podWorker) runHTTPHandler(ctx context.Context, c *containerRecord, get *corev1.HTTPGetAction) error {
	host := get.Host
	if host == "" {
		w.p.mu.Lock()
		host = w.r.podIP
		w.p.mu.Unlock()
		if host == "" {
			return errors.New("failed to find networking container: the pod has no IP")
		}
	}
	req, err := httpprobe.NewRequestForHTTPGetAction(get, c.spec, host, "lifecycle")
	if err != nil {
		return fmt.Errorf("lifecycle hook request: %w", err)
	}
	resp, err := hookClient.Do(req.WithContext(ctx))
	discardBody(resp)
	var ue *url.Error
	if err != nil && errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "server gave HTTP response to HTTPS client") {
		req = req.Clone(ctx)
		req.URL.Scheme = "http"
		req.Header.Del("Authorization")
		resp, httpErr := hookClient.Do(req)
		discardBody(resp)
		if httpErr == nil {
			w.p.cfg.Recorder.Eventf(w.r.pod, corev1.EventTypeWarning, "LifecycleHTTPFallback", "request to HTTPS lifecycle hook %s got HTTP response, retry with HTTP succeeded", req.URL.Host)
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("lifecycle hook GET: %w", err)
	}
	return nil
}

func discardBody(resp *http.Response) {
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHookRespBody))
}
