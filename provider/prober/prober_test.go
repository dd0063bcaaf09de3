package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	remote "k8s.io/cri-client/pkg"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/kubernetes/pkg/probe"
	utilexec "k8s.io/utils/exec"
)

func TestRunProbeHandlers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			if r.Header.Get("X-Check") != "yes" {
				w.WriteHeader(http.StatusBadRequest)
			}
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	ctr := &corev1.Container{Name: "a", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	get := func(path string, p intstr.IntOrString, headers ...corev1.HTTPHeader) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: p, HTTPHeaders: headers}}, TimeoutSeconds: 1}
	}
	tcp := func(p intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: p}}, TimeoutSeconds: 1}
	}
	tests := []struct {
		name    string
		probe   *corev1.Probe
		want    probe.Result
		output  string
		wantErr bool
	}{
		{name: "http ok by port name with header", probe: get("/ok", intstr.FromString("web"), corev1.HTTPHeader{Name: "X-Check", Value: "yes"}), want: probe.Success},
		{name: "http without the header", probe: get("/ok", intstr.FromInt32(int32(port))), want: probe.Failure, output: "HTTP probe failed with statuscode: 400"},
		{name: "http 500", probe: get("/bad", intstr.FromInt32(int32(port))), want: probe.Failure, output: "HTTP probe failed with statuscode: 500"},
		{name: "http unknown port name", probe: get("/ok", intstr.FromString("nope")), want: probe.Unknown, wantErr: true},
		{name: "tcp open", probe: tcp(intstr.FromString("web")), want: probe.Success},
		{name: "tcp closed", probe: tcp(intstr.FromInt32(int32(closedPort))), want: probe.Failure},
	}
	_, ctx := ktesting.NewTestContext(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, out, err := runProbe(ctx, &fakeContainer{}, ctr, "127.0.0.1", tc.probe)
			if got != tc.want || (err != nil) != tc.wantErr || (tc.output != "" && out != tc.output) {
				t.Errorf("runProbe = %q, %q, %v; want %q, %q, error %v", got, out, err, tc.want, tc.output, tc.wantErr)
			}
		})
	}
}

func TestRunProbeExec(t *testing.T) {
	exitErr := func(code int) error {
		return utilexec.CodeExitError{Err: fmt.Errorf("command exited with %d", code), Code: code}
	}
	tests := []struct {
		name     string
		command  []string
		env      []corev1.EnvVar
		timeout  int32
		out      string
		err      error
		wantCmd  string
		want     probe.Result
		output   string
		wantErr  bool
		wantTime time.Duration
	}{
		{name: "exit 0", command: []string{"true"}, out: "fine", wantCmd: "true", want: probe.Success, output: "fine", wantTime: time.Second},
		{name: "non-zero exit", command: []string{"false"}, out: "sick", err: exitErr(1), wantCmd: "false", want: probe.Failure, output: "sick", wantTime: time.Second},
		{
			name: "timed out", command: []string{"sleep", "5"}, timeout: 2,
			err:     fmt.Errorf("%w: %q timed out after %s", remote.ErrCommandTimedOut, "sleep 5", 2*time.Second),
			wantCmd: "sleep 5", want: probe.Failure, output: `command timed out: "sleep 5" timed out after 2s`, wantTime: 2 * time.Second,
		},
		{name: "exec error", command: []string{"x"}, err: errors.New("no such container"), wantCmd: "x", want: probe.Unknown, wantErr: true, wantTime: time.Second},
		{
			name: "literal env values expand", command: []string{"check", "$(A)", "$(B)", "$$(A)"},
			env:     []corev1.EnvVar{{Name: "A", Value: "one"}, {Name: "B", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			wantCmd: "check one  $(A)", want: probe.Success, wantTime: time.Second,
		},
	}
	_, ctx := ktesting.NewTestContext(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotTimeout time.Duration
			c := &fakeContainer{exec: func(_ context.Context, _ []string, timeout time.Duration) ([]byte, error) {
				gotTimeout = timeout
				return []byte(tc.out), tc.err
			}}
			pr := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: tc.command}}, TimeoutSeconds: tc.timeout}
			got, out, err := runProbe(ctx, c, &corev1.Container{Name: "a", Env: tc.env}, "127.0.0.1", pr)
			if got != tc.want || (err != nil) != tc.wantErr || out != tc.output {
				t.Errorf("runProbe = %q, %q, %v; want %q, %q, error %v", got, out, err, tc.want, tc.output, tc.wantErr)
			}
			if len(c.execs) != 1 || c.execs[0] != tc.wantCmd || gotTimeout != tc.wantTime {
				t.Errorf("execs %q with timeout %s, want one of %q with %s", c.execs, gotTimeout, tc.wantCmd, tc.wantTime)
			}
		})
	}
}

func TestProbeOnceEvents(t *testing.T) {
	tests := []struct {
		name      string
		typ       Type
		out       string
		err       error
		wantOK    bool
		wantErr   bool
		wantExecs int
		want      []string
	}{
		{name: "success records nothing", typ: Liveness, wantOK: true, wantExecs: 1},
		{
			name: "failure", typ: Readiness, out: "not yet", err: utilexec.CodeExitError{Err: errors.New("exit 1"), Code: 1}, wantExecs: 1,
			want: []string{"Warning Unhealthy Readiness probe failed: not yet"},
		},
		{
			name: "an error is retried, then recorded", typ: Startup, err: errors.New("gone"), wantErr: true, wantExecs: maxProbeRetries,
			want: []string{"Warning Unhealthy Startup probe errored and resulted in unknown state: gone"},
		},
	}
	_, ctx := ktesting.NewTestContext(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeContainer{exec: func(context.Context, []string, time.Duration) ([]byte, error) { return []byte(tc.out), tc.err }}
			pr := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}}
			ok, err := probeOnce(ctx, c, &corev1.Container{Name: "a"}, "", tc.typ, pr)
			if ok != tc.wantOK || (err != nil) != tc.wantErr {
				t.Errorf("probeOnce = %v, %v; want %v, error %v", ok, err, tc.wantOK, tc.wantErr)
			}
			if len(c.execs) != tc.wantExecs {
				t.Errorf("%d execs, want %d", len(c.execs), tc.wantExecs)
			}
			if strings.Join(c.events, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(c.events, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestSettingsOf(t *testing.T) {
	tests := []struct {
		name  string
		probe corev1.Probe
		want  settings
	}{
		{name: "API defaults for unset fields", want: settings{period: 10 * time.Second, timeout: time.Second, success: 1, failure: 3}},
		{
			name:  "set fields",
			probe: corev1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 2, TimeoutSeconds: 3, SuccessThreshold: 2, FailureThreshold: 7},
			want:  settings{initialDelay: 5 * time.Second, period: 2 * time.Second, timeout: 3 * time.Second, success: 2, failure: 7},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := settingsOf(&tc.probe); got != tc.want {
				t.Errorf("settingsOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}
