package prober

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/kubernetes/pkg/probe"
	utilexec "k8s.io/utils/exec"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	tlsPort := tlsSrv.Listener.Addr().(*net.TCPAddr).Port
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
	// elsewhere is a pod IP nothing answers at (TEST-NET-1): a probe naming its host does not go there.
	const elsewhere = "192.0.2.1"
	onHost := func(p *corev1.Probe) *corev1.Probe {
		if p.HTTPGet != nil {
			p.HTTPGet.Host = "127.0.0.1"
		} else {
			p.TCPSocket.Host = "127.0.0.1"
		}
		return p
	}
	https := get("/", intstr.FromInt32(int32(tlsPort)))
	https.HTTPGet.Scheme = corev1.URISchemeHTTPS
	tests := []struct {
		name    string
		probe   *corev1.Probe
		podIP   string
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
		{name: "http to its host, not the pod", probe: onHost(get("/ok", intstr.FromString("web"), corev1.HTTPHeader{Name: "X-Check", Value: "yes"})), podIP: elsewhere, want: probe.Success},
		{name: "tcp to its host, not the pod", probe: onHost(tcp(intstr.FromString("web"))), podIP: elsewhere, want: probe.Success},
		{name: "https without verifying the certificate", probe: https, want: probe.Success},
	}
	_, ctx := ktesting.NewTestContext(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			podIP := tc.podIP
			if podIP == "" {
				podIP = "127.0.0.1"
			}
			got, out, err := runProbe(ctx, &fakeContainer{}, ctr, podIP, tc.probe)
			if got != tc.want || (err != nil) != tc.wantErr || (tc.output != "" && out != tc.output) {
				t.Errorf("runProbe = %q, %q, %v; want %q, %q, error %v", got, out, err, tc.want, tc.output, tc.wantErr)
			}
		})
	}
}

// TestRunProbeProtocols checks httpGet.protocol HTTP2 (cleartext HTTP/2 with prior knowledge) and gRPC probes
// with their service and mode (TLS without verifying the certificate), as the kubelet's prober runs them.
func TestRunProbeProtocols(t *testing.T) {
	h2c := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
		}
	}))
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetHTTP1(true)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	defer h2c.Close()
	h2cPort := h2c.Listener.Addr().(*net.TCPAddr).Port

	health := grpchealth.NewServer()
	health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	health.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	serve := func(opts ...grpc.ServerOption) int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer(opts...)
		healthpb.RegisterHealthServer(s, health)
		go func() { _ = s.Serve(l) }()
		t.Cleanup(s.Stop)
		return l.Addr().(*net.TCPAddr).Port
	}
	plainPort := serve()
	tlsPort := serve(grpc.Creds(credentials.NewServerTLSFromCert(selfSignedCert(t))))

	ctr := &corev1.Container{Name: "a"}
	http2, http1 := corev1.HTTPProtocolHTTP2, corev1.HTTPProtocolHTTP1
	get := func(p *corev1.HTTPProtocol) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(int32(h2cPort)), Protocol: p}}, TimeoutSeconds: 1}
	}
	tls, plaintext := corev1.GRPCProbeModeTLS, corev1.GRPCProbeModePlaintext
	grpcProbe := func(port int, service string, mode *corev1.GRPCProbeMode) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(port), Service: &service, Mode: mode}}, TimeoutSeconds: 1}
	}
	tests := []struct {
		name  string
		probe *corev1.Probe
		want  probe.Result
	}{
		{name: "HTTP2 speaks h2c", probe: get(&http2), want: probe.Success},
		{name: "HTTP1", probe: get(&http1), want: probe.Failure},
		{name: "no protocol is HTTP/1.1", probe: get(nil), want: probe.Failure},
		{name: "grpc serving", probe: grpcProbe(plainPort, "", nil), want: probe.Success},
		{name: "grpc service not serving", probe: grpcProbe(plainPort, "down", &plaintext), want: probe.Failure},
		{name: "grpc TLS", probe: grpcProbe(tlsPort, "", &tls), want: probe.Success},
		{name: "grpc plaintext to a TLS server", probe: grpcProbe(tlsPort, "", nil), want: probe.Failure},
	}
	_, ctx := ktesting.NewTestContext(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, out, err := runProbe(ctx, &fakeContainer{}, ctr, "127.0.0.1", tc.probe)
			if got != tc.want {
				t.Errorf("runProbe = %q, %q, %v; want %q", got, out, err, tc.want)
			}
		})
	}
}

// selfSignedCert is a certificate for 127.0.0.1 that nothing trusts.
func selfSignedCert(t *testing.T) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
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
			err:     fmt.Errorf("%w: %q timed out after %s", ErrCommandTimedOut, "sleep 5", 2*time.Second),
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
