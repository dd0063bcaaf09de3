package podman

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/containers/podman/v4/pkg/bindings"
	"github.com/containers/podman/v4/pkg/bindings/containers"
)

// LogOptions selects which logs to read.
type LogOptions struct {
	Follow     bool
	Tail       int // <0 for all
	Since      time.Time
	Timestamps bool
}

// Logs implements StreamRuntime. It reads Podman's multiplexed log stream itself rather than through the bindings'
// line channels: those cost a string and a channel send per line, and their reader goroutine stays blocked on a
// full channel when the writer fails (a client that stopped following), keeping the connection to Podman open.
func (c *Client) Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error {
	o := new(containers.LogOptions).WithStdout(true).WithStderr(true).WithFollow(opts.Follow).WithTimestamps(opts.Timestamps)
	if opts.Tail >= 0 {
		o = o.WithTail(strconv.Itoa(opts.Tail))
	}
	if !opts.Since.IsZero() {
		o = o.WithSince(opts.Since.Format(time.RFC3339Nano))
	}
	params, err := o.ToParams()
	if err != nil {
		return err
	}
	cctx := c.ctx(ctx)
	conn, err := bindings.GetClient(cctx)
	if err != nil {
		return err
	}
	resp, err := conn.DoRequest(cctx, nil, http.MethodGet, "/containers/%s/logs", params, nil, id)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("logs of container %s: %w", id, err)
	}
	defer resp.Body.Close()
	if !resp.IsSuccess() && !resp.IsInformational() {
		return fmt.Errorf("logs of container %s: %w", id, resp.Process(nil))
	}
	if err := copyLogs(w, resp.Body); err != nil && ctx.Err() == nil {
		var we writeError
		if errors.As(err, &we) {
			return fmt.Errorf("write logs of %s: %w", id, we.err)
		}
		return fmt.Errorf("logs of container %s: %w", id, err)
	}
	return nil
}

// logBufferSize is the most log data gathered before a write.
const logBufferSize = 64 << 10

// writeError marks an error of the log writer (as against one reading from Podman).
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }

type markedWriter struct{ w io.Writer }

func (m markedWriter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		err = writeError{err}
	}
	return n, err
}

// copyLogs copies the frames of Podman's multiplexed log stream (an 8-byte header of stream number and big-endian
// length before each; stdout and stderr both go to w) in writes of up to logBufferSize: frames already received
// are gathered, and what was gathered is written as soon as nothing more is at hand, so a followed log is not held
// back. It ends at the stream's end or at the first write error.
func copyLogs(w io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, logBufferSize)
	bw := bufio.NewWriterSize(markedWriter{w}, logBufferSize)
	var hdr [8]byte
	for {
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return bw.Flush()
			}
			return err
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		switch hdr[0] {
		case 0, 1, 2:
			if _, err := io.CopyN(bw, br, n); err != nil {
				if errors.Is(err, io.EOF) {
					return bw.Flush()
				}
				return err
			}
		case 3:
			msg, _ := io.ReadAll(io.LimitReader(br, n))
			_ = bw.Flush()
			return fmt.Errorf("from service in stream: %s", msg)
		default:
			return fmt.Errorf("unrecognized log stream %d", hdr[0])
		}
	}
}
