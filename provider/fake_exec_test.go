package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/provider/podman"
)

// fakeExecFunc answers a command run in the container named name: its exit code and output. It may block until
// ctx ends (the exec's timeout).
type fakeExecFunc func(ctx context.Context, name string, cmd []string) (int, string, error)

// setExec makes Exec answer with fn (nil: every command succeeds without output).
func (f *fakeRuntime) setExec(fn fakeExecFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execFn = fn
}

// Exec implements podman.Runtime: it records "<container name> <command>" and asks the test's exec function.
func (f *fakeRuntime) Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) (int, []byte, error) {
	f.mu.Lock()
	c := f.lookupContainer(id)
	if c == nil || c.status != "running" {
		f.mu.Unlock()
		return 0, nil, fmt.Errorf("container %s is not running", id)
	}
	name := c.spec.Name
	f.record("Exec", name+" "+strings.Join(cmd, " "))
	fn := f.execFn
	f.mu.Unlock()
	if fn == nil {
		return 0, nil, nil
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	code, out, err := fn(ctx, name, cmd)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return 0, []byte(out), fmt.Errorf("%w after %s", podman.ErrExecTimeout, timeout)
	}
	return code, []byte(out), err
}
