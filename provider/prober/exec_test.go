package prober

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/klog/v2/ktesting"
	"k8s.io/kubernetes/pkg/probe"
	utilexec "k8s.io/utils/exec"
)

// TestExecProbe checks that an exec probe is judged as the kubelet's exec prober judges it, output, timeouts and
// errors alike.
func TestExecProbe(t *testing.T) {
	long := strings.Repeat("x", maxExecProbeOutput+100)
	timedOut := fmt.Errorf("%w: %q timed out after %s", ErrCommandTimedOut, "sleep 5", 2*time.Second)
	tests := []struct {
		name    string
		out     string
		err     error
		want    probe.Result
		output  string
		wantErr bool
	}{
		{name: "exit 0", out: "fine", want: probe.Success, output: "fine"},
		{name: "an exit error of status 0", out: "fine", err: utilexec.CodeExitError{Err: errors.New("exit 0"), Code: 0}, want: probe.Success, output: "fine"},
		{name: "non-zero exit", out: "sick", err: utilexec.CodeExitError{Err: errors.New("exit 3"), Code: 3}, want: probe.Failure, output: "sick"},
		{name: "output past 10 KiB is cut", out: long, want: probe.Success, output: long[:10240]},
		{name: "failure output past 10 KiB is cut", out: long, err: utilexec.CodeExitError{Err: errors.New("exit 1"), Code: 1}, want: probe.Failure, output: long[:10240]},
		{name: "timed out", out: "partial", err: timedOut, want: probe.Failure, output: `command timed out: "sleep 5" timed out after 2s`},
		{name: "the CRI's timeout text", err: ErrCommandTimedOut, want: probe.Failure, output: "command timed out"},
		{name: "exec error", out: "ignored", err: errors.New("no such container"), want: probe.Unknown, wantErr: true},
		{name: "a wrapped exit error is an exec error", err: fmt.Errorf("exec: %w", utilexec.CodeExitError{Err: errors.New("exit 1"), Code: 1}), want: probe.Unknown, wantErr: true},
	}
	_, ctx := ktesting.NewTestContext(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, out, err := execProbe(ctx, []byte(tc.out), tc.err)
			if got != tc.want || out != tc.output || (err != nil) != tc.wantErr {
				t.Errorf("execProbe = %q, %d bytes %.40q, %v; want %q, %d bytes %.40q, error %v", got, len(out), out, err, tc.want, len(tc.output), tc.output, tc.wantErr)
			}
		})
	}
}
