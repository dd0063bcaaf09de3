package prober

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// fakeContainer is a Container that answers execs from a script and records what the prober asked of it.
type fakeContainer struct {
	mu    sync.Mutex
	state State
	// exec answers an exec of cmd; nil succeeds with no output.
	exec func(ctx context.Context, cmd []string, timeout time.Duration) ([]byte, error)

	execs   []string
	events  []string
	ready   []bool
	started int
	kills   []Type
}

var _ Container = &fakeContainer{}

func (f *fakeContainer) State() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

func (f *fakeContainer) Exec(ctx context.Context, cmd []string, timeout time.Duration) ([]byte, error) {
	f.mu.Lock()
	f.execs = append(f.execs, strings.Join(cmd, " "))
	exec := f.exec
	f.mu.Unlock()
	if exec == nil {
		return nil, nil
	}
	return exec(ctx, cmd, timeout)
}

func (f *fakeContainer) Eventf(eventType, reason, messageFmt string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, eventType+" "+reason+" "+fmt.Sprintf(messageFmt, args...))
}

func (f *fakeContainer) SetReady(ready bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ready = append(f.ready, ready)
}

func (f *fakeContainer) Started() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started++
	f.state.Started = true
}

func (f *fakeContainer) Kill(_ context.Context, t Type) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kills = append(f.kills, t)
}

// execCount is how many execs of cmd (joined by spaces) were made.
func (f *fakeContainer) execCount(cmd string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.execs {
		if c == cmd {
			n++
		}
	}
	return n
}
