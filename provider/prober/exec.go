package prober

import (
	"context"
	"errors"

	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/probe"
	utilexec "k8s.io/utils/exec"
)

// ErrCommandTimedOut is the error, wrapped with the command and its timeout, of a command run in a container that
// outlived its timeout: the CRI client's ErrCommandTimedOut (k8s.io/cri-client), with the same text, which the
// kubelet's exec prober and hook runner look for. Berth has its own so as not to link the CRI client, and with it
// the CRI API and gRPC's OpenTelemetry instrumentation, for one error value.
var ErrCommandTimedOut = errors.New("command timed out")

// maxExecProbeOutput is how much of an exec probe's output is kept, as the kubelet's exec prober keeps 10 KiB.
const maxExecProbeOutput = 10 << 10

// execProbe judges an exec probe from its command's combined output and error, as the kubelet's exec prober
// (k8s.io/kubernetes/pkg/probe/exec) does: a zero exit succeeds and a non-zero one fails, both with the output; a
// timeout fails with the timeout's message; any other error leaves the result unknown. That prober is a few lines
// over an os/exec-shaped command; Berth judges the result of its Podman exec directly, and so links neither the
// prober nor the CRI client it imports for ErrCommandTimedOut.
func execProbe(ctx context.Context, out []byte, err error) (probe.Result, string, error) {
	if len(out) > maxExecProbeOutput {
		out = out[:maxExecProbeOutput]
	}
	klog.FromContext(ctx).V(4).Info("Exec probe response", "output", string(out))
	if err == nil {
		return probe.Success, string(out), nil
	}
	// As the kubelet's prober, an exit error counts only as such, not wrapped.
	if exit, ok := err.(utilexec.ExitError); ok { //nolint:errorlint // the kubelet's prober asserts the type
		if exit.ExitStatus() == 0 {
			return probe.Success, string(out), nil
		}
		return probe.Failure, string(out), nil
	}
	if errors.Is(err, ErrCommandTimedOut) {
		return probe.Failure, err.Error(), nil
	}
	return probe.Unknown, "", err
}
