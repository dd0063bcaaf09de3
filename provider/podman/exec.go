package podman

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// maxExecOutput bounds the output Exec keeps; the rest is read and dropped.
const maxExecOutput = 64 << 10

// ErrExecTimeout is the error of an Exec whose command outlived its timeout.
var ErrExecTimeout = errors.New("command timed out")

// Exec implements StreamRuntime: cmd's stdout and stderr together, in order, up to maxExecOutput.
func (c *Client) Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) (int, []byte, error) {
	sctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	out := &cappedBuffer{max: maxExecOutput}
	code, err := c.ExecStream(sctx, id, cmd, StreamOptions{Stdout: out, Stderr: out})
	if err != nil {
		if timeout > 0 && errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return 0, out.Bytes(), fmt.Errorf("%w after %s", ErrExecTimeout, timeout)
		}
		return 0, out.Bytes(), err
	}
	return code, out.Bytes(), nil
}

// cappedBuffer keeps the first max bytes written to it and drops the rest.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
