package podman

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/containers/podman/v4/pkg/api/handlers"
	"github.com/containers/podman/v4/pkg/bindings"
	"github.com/containers/podman/v4/pkg/bindings/containers"
)

// StreamRuntime carries data out of and into running containers: their logs, a file, and commands run in them
// or the streams of their main process (CRI's ExecSync, Exec and Attach, and the kubelet's log reading).
type StreamRuntime interface {
	// Logs copies a container's stdout and stderr to w.
	Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error
	// ReadFile reads at most the last max bytes of a regular file of a container, running or exited. A missing
	// file is an error for which IsNotFound holds.
	ReadFile(ctx context.Context, id, path string, max int64) ([]byte, error)
	// Exec runs cmd in a running container without a TTY or stdin and returns its exit code and its stdout and
	// stderr combined (the first 64 KiB). A command still running after timeout (0: none) is left to itself and
	// an error wrapping ErrExecTimeout is returned.
	Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) (int, []byte, error)
	// ExecStream runs cmd in a running container with the given streams and returns its exit code.
	ExecStream(ctx context.Context, id string, cmd []string, s StreamOptions) (int, error)
	// AttachStream connects the streams to a running container's main process until it exits or ctx ends.
	AttachStream(ctx context.Context, id string, s StreamOptions) error
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Width, Height uint16
}

// StreamOptions are the standard streams of an exec session or an attach. A nil stream is not attached.
type StreamOptions struct {
	TTY    bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Resize delivers terminal size changes (TTY only).
	Resize <-chan TermSize
}

// initialSizeWait is how long an exec with a terminal waits for the client's first terminal size.
const initialSizeWait = 500 * time.Millisecond

// An exec session's exit code may be recorded a moment after its output ends: it is inspected up to
// execExitPolls more times, execExitPollInterval apart.
const (
	execExitPolls        = 20
	execExitPollInterval = 50 * time.Millisecond
)

// streamAPIVersion is the libpod API version in the paths of the streaming calls (Podman 4.0 and later serve it).
const streamAPIVersion = "v4.0.0"

// ExecStream runs cmd in a running container with the given streams and returns its exit code. The streams are
// copied until the command exits (or ctx ends, which ends the session's connection).
func (c *Client) ExecStream(ctx context.Context, id string, cmd []string, s StreamOptions) (int, error) {
	cfg := &handlers.ExecCreateConfig{}
	cfg.Cmd = cmd
	cfg.Tty = s.TTY
	cfg.AttachStdin = s.Stdin != nil
	cfg.AttachStdout = s.Stdout != nil
	cfg.AttachStderr = s.Stderr != nil && !s.TTY
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// Once created, a session is always started, even if ctx ends meanwhile: Podman before 4.8 cannot remove a
	// session (ExecRemove below fails there), and only a started one is cleaned up after its command exits; one
	// created and never started would stay until the container stops. The streams still end with ctx.
	sctx := context.WithoutCancel(ctx)
	session, err := containers.ExecCreate(c.ctx(sctx), id, cfg)
	if err != nil {
		return 0, fmt.Errorf("create exec session in container %s: %w", id, err)
	}
	// Removing the session (Podman 4.8 and later; force ends a command still running) keeps Podman's list short.
	defer func() {
		_ = containers.ExecRemove(c.ctx(context.WithoutCancel(ctx)), session, new(containers.ExecRemoveOptions).WithForce(true))
	}()

	start := map[string]any{"Detach": false, "Tty": s.TTY}
	if s.TTY && s.Resize != nil {
		// The terminal's first size goes with the start: a resize before the session runs would be refused.
		select {
		case ts, ok := <-s.Resize:
			if ok {
				start["h"], start["w"] = ts.Height, ts.Width
			}
		case <-time.After(initialSizeWait):
		case <-ctx.Done():
		}
	}
	body, _ := json.Marshal(start)
	conn, br, err := c.hijack(sctx, "/exec/"+url.PathEscape(session)+"/start", nil, body)
	if err != nil {
		return 0, fmt.Errorf("start exec session in container %s: %w", id, err)
	}
	resizeDone := c.forwardResize(ctx, s.Resize, func(ts TermSize) error {
		return containers.ResizeExecTTY(c.ctx(ctx), session, new(containers.ResizeExecTTYOptions).WithWidth(int(ts.Width)).WithHeight(int(ts.Height)))
	})
	err = pump(ctx, conn, br, s)
	close(resizeDone)
	if err != nil {
		return 0, fmt.Errorf("exec in container %s: %w", id, err)
	}
	// The session's exit code may be recorded a moment after its output ends (execExitPolls).
	for i := 0; ; i++ {
		info, err := containers.ExecInspect(c.ctx(context.WithoutCancel(ctx)), session, nil)
		if err != nil {
			return 0, fmt.Errorf("inspect exec session in container %s: %w", id, err)
		}
		if !info.Running || i == execExitPolls {
			return info.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("exec in container %s: %w", id, ctx.Err())
		case <-time.After(execExitPollInterval):
		}
	}
}

// AttachStream connects the streams to a running container's main process until it exits or ctx ends.
func (c *Client) AttachStream(ctx context.Context, id string, s StreamOptions) error {
	q := url.Values{}
	q.Set("stream", "true")
	q.Set("stdin", fmt.Sprint(s.Stdin != nil))
	q.Set("stdout", fmt.Sprint(s.Stdout != nil))
	q.Set("stderr", fmt.Sprint(s.Stderr != nil))
	q.Set("logs", "false")
	conn, br, err := c.hijack(ctx, "/containers/"+url.PathEscape(id)+"/attach", q, nil)
	if err != nil {
		return fmt.Errorf("attach to container %s: %w", id, err)
	}
	resizeDone := c.forwardResize(ctx, s.Resize, func(ts TermSize) error {
		return containers.ResizeContainerTTY(c.ctx(ctx), id, new(containers.ResizeTTYOptions).WithWidth(int(ts.Width)).WithHeight(int(ts.Height)))
	})
	defer close(resizeDone)
	if err := pump(ctx, conn, br, s); err != nil {
		return fmt.Errorf("attach to container %s: %w", id, err)
	}
	return nil
}

// hijack sends a POST to a libpod streaming endpoint on a connection of its own and returns that connection,
// taken over for the raw stream, with the reader positioned after the response header.
func (c *Client) hijack(ctx context.Context, path string, q url.Values, body []byte) (net.Conn, *bufio.Reader, error) {
	bc, err := bindings.GetClient(c.ctx(ctx))
	if err != nil {
		return nil, nil, err
	}
	tr, ok := bc.Client.Transport.(*http.Transport)
	if !ok || tr.DialContext == nil {
		return nil, nil, errors.New("the Podman connection cannot be dialled for a stream")
	}
	conn, err := tr.DialContext(ctx, "tcp", "d")
	if err != nil {
		return nil, nil, fmt.Errorf("dial podman: %w", err)
	}
	u := "http://d/" + streamAPIVersion + "/libpod" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("send request: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var e struct {
			Message string `json:"message"`
			Cause   string `json:"cause"`
		}
		if json.Unmarshal(msg, &e) == nil && e.Message != "" {
			return nil, nil, fmt.Errorf("%s (%d)", e.Message, resp.StatusCode)
		}
		return nil, nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return conn, br, nil
}

// forwardResize passes terminal size changes to resize until the returned channel is closed.
func (c *Client) forwardResize(ctx context.Context, sizes <-chan TermSize, resize func(TermSize) error) chan struct{} {
	done := make(chan struct{})
	if sizes == nil {
		return done
	}
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case ts, ok := <-sizes:
				if !ok {
					return
				}
				_ = resize(ts) // a resize racing the session's start or end is harmless
			}
		}
	}()
	return done
}

// pump copies stdin to the connection and the connection's output to stdout and stderr (demultiplexed unless a
// TTY) until the output ends. It closes the connection.
func pump(ctx context.Context, conn net.Conn, br *bufio.Reader, s StreamOptions) error {
	var once sync.Once
	closeConn := func() { once.Do(func() { conn.Close() }) }
	defer closeConn()
	stop := context.AfterFunc(ctx, closeConn)
	defer stop()
	if s.Stdin != nil {
		go func() {
			_, _ = io.Copy(conn, s.Stdin)
			if cw, ok := conn.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
		}()
	}
	var err error
	if s.TTY {
		out := s.Stdout
		if out == nil {
			out = io.Discard
		}
		_, err = io.Copy(out, br)
	} else {
		err = demux(br, s.Stdout, s.Stderr)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// demux splits Podman's multiplexed stream (an 8-byte header of stream number and big-endian length before each
// frame) into stdout and stderr.
func demux(r io.Reader, stdout, stderr io.Writer) error {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		w := io.Discard
		switch {
		case hdr[0] == 1 && stdout != nil:
			w = stdout
		case hdr[0] == 2 && stderr != nil:
			w = stderr
		}
		if _, err := io.CopyN(w, r, n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
