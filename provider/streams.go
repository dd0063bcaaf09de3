package provider

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"k8s.io/klog/v2"
	utilexec "k8s.io/utils/exec"

	"github.com/berth-dev/berth/provider/podman"
)

// limitedReadCloser reads at most a limit from a stream and closes the whole stream.
type limitedReadCloser struct {
	io.Reader
	io.Closer
}

// runningContainer finds the Podman ID of a pod's running container, or says why there is none as the kubelet
// does.
func (p *Provider) runningContainer(namespace, podName, container string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[key(namespace, podName)]
	if !ok {
		return "", errdefs.NotFoundf("pod %s/%s is not known", namespace, podName)
	}
	for _, c := range r.containers() {
		if c.spec.Name != container {
			continue
		}
		if c.id == "" || c.state.Running == nil {
			return "", errdefs.InvalidInputf("container %q in pod %q is not running", container, podName)
		}
		return c.id, nil
	}
	return "", errdefs.NotFoundf("container not found (%q)", container)
}

// streams adapts virtual-kubelet's AttachIO to Podman's stream options; stop ends the resize relay.
func streams(a api.AttachIO) (s podman.StreamOptions, stop func()) {
	s.TTY = a.TTY()
	if in := a.Stdin(); in != nil {
		s.Stdin = in
	}
	if out := a.Stdout(); out != nil {
		s.Stdout = out
	}
	if errw := a.Stderr(); errw != nil {
		s.Stderr = errw
	}
	done := make(chan struct{})
	if sizes := a.Resize(); sizes != nil {
		ch := make(chan podman.TermSize)
		s.Resize = ch
		go func() {
			for {
				select {
				case <-done:
					return
				case ts, ok := <-sizes:
					if !ok {
						return
					}
					select {
					case ch <- podman.TermSize{Width: ts.Width, Height: ts.Height}:
					case <-done:
						return
					}
				}
			}
		}()
	}
	return s, func() { close(done) }
}

// RunInContainer implements nodeutil.Provider: kubectl exec. A non-zero exit reaches kubectl as "command
// terminated with exit code N", as from a kubelet.
func (p *Provider) RunInContainer(ctx context.Context, namespace, podName, container string, cmd []string, attach api.AttachIO) error {
	id, err := p.runningContainer(namespace, podName, container)
	if err != nil {
		return err
	}
	if len(cmd) == 0 {
		return errdefs.InvalidInput("no command to run")
	}
	s, stop := streams(attach)
	defer stop()
	code, err := p.cfg.Runtime.ExecStream(ctx, id, cmd, s)
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with non-zero exit code: %d", code), Code: code}
	}
	return nil
}

// AttachToContainer implements nodeutil.Provider: kubectl attach to the container's main process (stdin needs
// the container's stdin: true, a terminal its tty: true).
func (p *Provider) AttachToContainer(ctx context.Context, namespace, podName, container string, attach api.AttachIO) error {
	id, err := p.runningContainer(namespace, podName, container)
	if err != nil {
		return err
	}
	s, stop := streams(attach)
	defer stop()
	return p.cfg.Runtime.AttachStream(ctx, id, s)
}

// PortForward implements nodeutil.Provider: kubectl port-forward. The connection is made to the pod's IP from
// the node, so the pod must listen on its IP (or all addresses), not only on localhost.
func (p *Provider) PortForward(ctx context.Context, namespace, podName string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	p.mu.Lock()
	r, ok := p.pods[key(namespace, podName)]
	var ip string
	if ok {
		ip = r.podIP
	}
	p.mu.Unlock()
	if !ok {
		return errdefs.NotFoundf("pod %s/%s is not known", namespace, podName)
	}
	if ip == "" {
		return errdefs.InvalidInputf("pod %s/%s has no IP yet", namespace, podName)
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(int(port)))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		go drain(stream)
		return fmt.Errorf("failed to connect to %s of pod %s/%s: %w", addr, namespace, podName, err)
	}
	defer conn.Close()
	klog.FromContext(ctx).V(3).Info("Port-forwarding", "pod", klog.KRef(namespace, podName), "address", addr)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		_, _ = io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		wg.Done()
		drain(stream) // what the client sends after the pod's side closed
	}()
	_, err = io.Copy(stream, conn)
	stream.Close() // the client sees the end of the pod's data; the copy above ends at its next write to conn
	conn.Close()
	wg.Wait()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("port-forward to %s: %w", addr, err)
	}
	return nil
}

// drain reads and drops what is left of a port-forward stream until the client closes it or the connection ends.
// A stream's data left unread would block the frame reader of the whole SPDY connection, which then never closes.
func drain(stream io.Reader) {
	_, _ = io.Copy(io.Discard, stream)
}
