package prober

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/probe"
	grpcprobe "k8s.io/kubernetes/pkg/probe/grpc"
	httpprobe "k8s.io/kubernetes/pkg/probe/http"
	tcpprobe "k8s.io/kubernetes/pkg/probe/tcp"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
)

// Type is the kind of a container probe.
type Type int

// The probe types.
const (
	Liveness Type = iota
	Readiness
	Startup
)

// String is the probe type as the kubelet's events name it.
func (t Type) String() string {
	switch t {
	case Readiness:
		return "Readiness"
	case Liveness:
		return "Liveness"
	default:
		return "Startup"
	}
}

// Probe is c's probe of type t, nil if it has none.
func (t Type) Probe(c *corev1.Container) *corev1.Probe {
	switch t {
	case Readiness:
		return c.ReadinessProbe
	case Liveness:
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
)

// probeOnce runs a probe once (retrying one that errors) and records the kubelet's events for its outcome. ok
// tells whether it succeeded; err is set when it could not tell, which the worker ignores.
func probeOnce(ctx context.Context, c Container, spec *corev1.Container, podIP string, t Type, pr *corev1.Probe) (bool, error) {
	logger := klog.FromContext(ctx).WithValues("container", spec.Name, "probeType", t.String())
	var (
		result probe.Result
		output string
		err    error
	)
	for range maxProbeRetries {
		result, output, err = runProbe(ctx, c, spec, podIP, pr)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		logger.V(1).Info("Probe errored", "probeResult", result, "err", err)
		c.Eventf(corev1.EventTypeWarning, "Unhealthy", "%s probe errored and resulted in %s state: %s", t, result, err)
		return false, err
	}
	switch result {
	case probe.Success:
		logger.V(3).Info("Probe succeeded")
		return true, nil
	case probe.Warning:
		c.Eventf(corev1.EventTypeWarning, "ProbeWarning", "%s probe warning: %s", t, output)
		return true, nil
	case probe.Failure:
		logger.V(1).Info("Probe failed", "output", output)
		c.Eventf(corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", t, output)
		return false, nil
	default:
		return false, nil
	}
}

// runProbe runs a probe's handler once against container spec of c, as the kubelet's prober does.
func runProbe(ctx context.Context, c Container, spec *corev1.Container, podIP string, pr *corev1.Probe) (probe.Result, string, error) {
	timeout := settingsOf(pr).timeout
	switch {
	case pr.Exec != nil:
		// As the kubelet, only the container's literal env values expand $(VAR) in the command.
		cmd := expandStatic(pr.Exec.Command, spec.Env)
		out, err := c.Exec(ctx, cmd, timeout)
		return execProbe(ctx, out, err)
	case pr.HTTPGet != nil:
		req, err := httpprobe.NewRequestForHTTPGetAction(pr.HTTPGet, spec, podIP, "probe")
		if err != nil {
			return probe.Unknown, "", fmt.Errorf("http probe request: %w", err)
		}
		if pr.HTTPGet.Protocol != nil && *pr.HTTPGet.Protocol == corev1.HTTPProtocolHTTP2 {
			// HTTP/2 over cleartext with prior knowledge, as the kubelet probes with H2CContainerProbe.
			return httpProber.ProbeH2C(req.WithContext(ctx), timeout)
		}
		return httpProber.Probe(req.WithContext(ctx), timeout)
	case pr.TCPSocket != nil:
		port, err := probe.ResolveContainerPort(pr.TCPSocket.Port, spec)
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
		// TLS without verifying the server's certificate, as the kubelet with GRPCContainerProbeTLS.
		useTLS := pr.GRPC.Mode != nil && *pr.GRPC.Mode == corev1.GRPCProbeModeTLS
		return grpcProber.Probe(podIP, service, int(pr.GRPC.Port), timeout, grpcprobe.ProbeOptions{UseTLS: useTLS})
	default:
		return probe.Unknown, "", fmt.Errorf("missing probe handler for container %s", spec.Name)
	}
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
