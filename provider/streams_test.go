package provider

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	utilexec "k8s.io/utils/exec"
)

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

type testAttach struct {
	stdin          io.Reader
	stdout, stderr bytes.Buffer
}

func (a *testAttach) Stdin() io.Reader            { return a.stdin }
func (a *testAttach) Stdout() io.WriteCloser      { return nopCloser{&a.stdout} }
func (a *testAttach) Stderr() io.WriteCloser      { return nopCloser{&a.stderr} }
func (a *testAttach) TTY() bool                   { return false }
func (a *testAttach) Resize() <-chan api.TermSize { return nil }

func TestRunInContainer(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("exec", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"), testContainer("b", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.waitContainer(ctrName(pod, "b", 1), "running")
	h.fake.exit(t, ctrName(pod, "b", 1), 0)
	h.waitReported(pod, 0, "b terminated", func(p *corev1.Pod) bool { return terminatedWith(p, "b", 0) })

	tests := []struct {
		name      string
		pod, ctr  string
		cmd       []string
		stdin     string
		wantOut   string
		wantCode  int
		wantErr   string
		errOfKind func(error) bool
	}{
		{name: "output", pod: "exec", ctr: "a", cmd: []string{"echo", "hi", "there"}, wantOut: "hi there\n"},
		{name: "stdin", pod: "exec", ctr: "a", cmd: []string{"cat"}, stdin: "from stdin", wantOut: "from stdin"},
		{name: "exit code", pod: "exec", ctr: "a", cmd: []string{"exit", "3"}, wantCode: 3},
		{name: "stopped container", pod: "exec", ctr: "b", cmd: []string{"true"}, wantErr: `container "b" in pod "exec" is not running`, errOfKind: errdefs.IsInvalidInput},
		{name: "unknown container", pod: "exec", ctr: "zz", cmd: []string{"true"}, wantErr: `container not found ("zz")`, errOfKind: errdefs.IsNotFound},
		{name: "unknown pod", pod: "nope", ctr: "a", cmd: []string{"true"}, wantErr: "pod default/nope is not known", errOfKind: errdefs.IsNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &testAttach{}
			if tt.stdin != "" {
				a.stdin = strings.NewReader(tt.stdin)
			}
			err := h.p.RunInContainer(context.Background(), "default", tt.pod, tt.ctr, tt.cmd, a)
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr || !tt.errOfKind(err) {
					t.Fatalf("error %v, want %q of the right kind", err, tt.wantErr)
				}
			case tt.wantCode != 0:
				var exit utilexec.ExitError
				if !errors.As(err, &exit) || !exit.Exited() || exit.ExitStatus() != tt.wantCode {
					t.Fatalf("error %v, want exit code %d", err, tt.wantCode)
				}
			case err != nil:
				t.Fatal(err)
			}
			if a.stdout.String() != tt.wantOut {
				t.Errorf("stdout %q, want %q", a.stdout.String(), tt.wantOut)
			}
		})
	}
}

// tcpPair returns the two ends of a loopback TCP connection (which, unlike net.Pipe, can half-close).
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	t.Cleanup(func() { client.Close(); server.Close() })
	return client.(*net.TCPConn), server.(*net.TCPConn)
}

func TestPortForward(t *testing.T) {
	// The pod's server: answers "echo:" and what it read.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				_, _ = c.Write(append([]byte("echo:"), b...))
			}()
		}
	}()
	port, _ := strconv.Atoi(strings.Split(l.Addr().String(), ":")[1])

	h := newHarness(t, "busybox")
	pod := lifecyclePod("pf", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.p.mu.Lock()
	h.p.pods[key("default", "pf")].podIP = "127.0.0.1" // the fake's pod IP is not on this machine
	h.p.mu.Unlock()

	client, stream := tcpPair(t)
	done := make(chan error, 1)
	go func() { done <- h.p.PortForward(context.Background(), "default", "pf", int32(port), stream) }()
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "echo:ping" {
		t.Errorf("through the forward: %q, %v", got, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("port-forward: %v", err)
	}

	_, s2 := tcpPair(t)
	if err := h.p.PortForward(context.Background(), "default", "pf", 1, s2); err == nil || !strings.Contains(err.Error(), "failed to connect to 127.0.0.1:1") {
		t.Errorf("closed port: %v", err)
	}
	_, s3 := tcpPair(t)
	if err := h.p.PortForward(context.Background(), "default", "nope", 80, s3); !errdefs.IsNotFound(err) {
		t.Errorf("unknown pod: %v", err)
	}

	// As on a SPDY stream, the client's data waits until it is read: after a failed connection it is still
	// read (and dropped), or it would hold up the whole connection.
	pr, pw := io.Pipe()
	s4 := halfClosingStream{Reader: pr}
	if err := h.p.PortForward(context.Background(), "default", "pf", 1, s4); err == nil {
		t.Errorf("closed port: no error")
	}
	sent := make(chan error, 1)
	go func() { _, err := pw.Write([]byte("sent after the failure")); sent <- err }()
	select {
	case err := <-sent:
		if err != nil {
			t.Errorf("write after the failure: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the client's data is not read after a failed connection")
	}
	pw.Close()
}

// halfClosingStream is a port-forward stream whose Close, like a SPDY stream's, ends only the writing side.
type halfClosingStream struct{ io.Reader }

func (halfClosingStream) Write(p []byte) (int, error) { return len(p), nil }
func (halfClosingStream) Close() error                { return nil }
