package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podman"
)

// Container exits reach the runners from one Podman event stream per provider (died and remove events of the
// node's containers), with a resync (one container list) when the stream (re)connects and every ResyncPeriod as a
// safety net. A runner waits for its container with waitExit; nothing polls per container.

// Back-off between attempts to (re)open the event stream.
const (
	streamInitialBackoff = 250 * time.Millisecond
	streamMaxBackoff     = 10 * time.Second
)

// removalGrace is how long the exit of a container stopped by someone else than Berth waits for its removal: a
// `podman rm -f` stops the container (stop and died events) before it removes it, and such a container is
// reported as vanished (ContainerStatusUnknown), not as having exited.
const removalGrace = 5 * time.Second

// stopGrace is how long a SIGKILL exit (137) not preceded by a stop event waits for one (the events file is polled
// every 250 ms by Podman): an OOM kill is reported that much later.
const stopGrace = 500 * time.Millisecond

// exitNote is what a waiter learns: the container's exit code, that it is gone (code -1), or that someone stopped
// it (its exit follows).
type exitNote struct {
	code    int32
	gone    bool
	stopped bool
}

type exitWaiter struct {
	// seq orders registrations against resyncs: a resync only judges waiters registered before its list started.
	seq uint64
	ch  chan exitNote // buffered; notes beyond its capacity are dropped
}

// exitWatch hands the exits seen by the event stream or a resync to the runners waiting for them.
type exitWatch struct {
	mu      sync.Mutex
	seq     uint64
	waiters map[string][]*exitWaiter // by container ID
	// ours holds the containers Berth itself is stopping: their stop is no sign of a removal behind its back.
	ours map[string]bool
}

func newExitWatch() *exitWatch {
	return &exitWatch{waiters: map[string][]*exitWaiter{}, ours: map[string]bool{}}
}

// expectStop records that Berth is about to stop container id.
func (w *exitWatch) expectStop(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ours[id] = true
}

// stoppedByUs tells whether Berth stopped container id, and forgets it.
func (w *exitWatch) stoppedByUs(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	ours := w.ours[id]
	delete(w.ours, id)
	return ours
}

func (w *exitWatch) add(id string) *exitWaiter {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	x := &exitWaiter{seq: w.seq, ch: make(chan exitNote, 8)}
	w.waiters[id] = append(w.waiters[id], x)
	return x
}

func (w *exitWatch) remove(id string, x *exitWaiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.waiters[id]
	for i := range list {
		if list[i] == x {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.waiters, id)
	} else {
		w.waiters[id] = list
	}
}

// deliver tells the waiters of container id registered up to seq (0: all) what became of it.
func (w *exitWatch) deliver(id string, n exitNote, seq uint64) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	sent := 0
	for _, x := range w.waiters[id] {
		if seq != 0 && x.seq > seq {
			continue
		}
		select {
		case x.ch <- n:
			sent++
		default:
		}
	}
	return sent
}

// waited returns the current registration sequence and the IDs of the containers waited for.
func (w *exitWatch) waited() (uint64, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, 0, len(w.waiters))
	for id := range w.waiters {
		ids = append(ids, id)
	}
	return w.seq, ids
}

// handleEvent passes an event of the stream on to the waiters.
func (w *exitWatch) handleEvent(ctx context.Context, ev podman.ContainerEvent) {
	var n exitNote
	switch ev.Action {
	case podman.EventDied:
		n = exitNote{code: ev.ExitCode}
	case podman.EventRemove:
		n = exitNote{code: -1, gone: true}
	case podman.EventStop:
		n = exitNote{code: -1, stopped: true}
	default:
		return
	}
	if sent := w.deliver(ev.ID, n, 0); sent > 0 {
		klog.FromContext(ctx).V(4).Info("Container event delivered", "containerID", ev.ID, "name", ev.Name, "action", ev.Action, "exitCode", ev.ExitCode)
	}
}

// waitExit waits until the container id, which has been started, is no longer running, and returns its exit
// code, or -1 when it vanished (removed behind Berth's back); the error is ctx's. It registers with the event
// watcher first, then checks the container's state once, so that an exit between its start and the registration
// is not missed.
func (p *Provider) waitExit(ctx context.Context, id string) (int32, error) {
	x := p.exits.add(id)
	defer p.exits.remove(id, x)
	st, err := p.cfg.Runtime.InspectContainer(ctx, id)
	switch {
	case ctx.Err() != nil:
		return -1, ctx.Err()
	case podman.IsNotFound(err):
		return -1, nil
	case err != nil:
		// The event stream or the next resync will tell.
		klog.FromContext(ctx).Error(err, "Checking a container's state before waiting for its exit", "containerID", id)
	case exitedState(st.Status):
		return st.ExitCode, nil
	}
	stopped := false
	for {
		var n exitNote
		select {
		case n = <-x.ch:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
		switch {
		case n.stopped:
			stopped = true
			continue
		case n.gone || (!stopped && n.code != 137):
			return n.code, nil
		case p.exits.stoppedByUs(id):
			return n.code, nil
		}
		// Stopped from outside, or killed: a `podman rm -f` stops the container (its stop and died events may come
		// in either order) before it removes it. Wait for the removal once the stop is seen, and a little for the
		// stop event after a SIGKILL.
		wait := removalGrace
		if !stopped {
			wait = stopGrace
		}
		t := p.cfg.Clock.NewTimer(wait)
		defer t.Stop()
		for {
			select {
			case m := <-x.ch:
				switch {
				case m.gone:
					return -1, nil
				case m.stopped && !stopped:
					stopped = true
					t.Reset(removalGrace)
				}
			case <-t.C():
				return n.code, nil
			case <-ctx.Done():
				return -1, ctx.Err()
			}
		}
	}
}

// watchExits follows Podman's event stream for the node's containers until ctx ends, reconnecting with back-off
// and resyncing on every connection, and resyncs every ResyncPeriod meanwhile.
func (p *Provider) watchExits(ctx context.Context) {
	logger := klog.FromContext(ctx)
	go func() {
		t := time.NewTicker(p.cfg.ResyncPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := p.resync(ctx); err != nil && ctx.Err() == nil {
				logger.Error(err, "Resyncing container states")
				p.unreachable(ctx, err)
			}
		}
	}()
	labels := map[string]string{podman.LabelNode: p.cfg.NodeName}
	actions := []string{podman.EventStop, podman.EventDied, podman.EventRemove}
	backoff := streamInitialBackoff
	for {
		connected := false
		err := p.cfg.Runtime.WatchContainers(ctx, labels, actions, func() {
			connected = true
			backoff = streamInitialBackoff
			logger.V(2).Info("Following Podman's container events")
			// What happened while no stream was open is caught up with.
			if err := p.resync(ctx); err != nil && ctx.Err() == nil {
				logger.Error(err, "Resyncing container states")
			}
		}, func(ev podman.ContainerEvent) { p.exits.handleEvent(ctx, ev) })
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = fmt.Errorf("podman's event stream ended")
		}
		logger.Error(err, "Podman event stream lost; reconnecting", "connected", connected, "backoff", backoff)
		p.unreachable(ctx, err)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, streamMaxBackoff)
	}
}

// watchExitFiles watches Podman's exits folder (Config.ExitsDir) until ctx ends, telling waiters of an exit as
// soon as conmon writes the container's exit file (named for its ID, holding its exit code): sooner than the event
// stream, which Podman writes once its cleanup process has run and reads by polling a file. The stream still
// follows, a duplicate note that a finished wait drops, and still tells stops and removals.
func (p *Provider) watchExitFiles(ctx context.Context) {
	if p.cfg.ExitsDir == "" {
		return
	}
	logger := klog.FromContext(ctx).WithValues("dir", p.cfg.ExitsDir)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		logger.Error(err, "Cannot watch Podman's exit files; exits are told by its event stream alone")
		return
	}
	defer w.Close()
	for backoff := streamInitialBackoff; ; backoff = min(2*backoff, streamMaxBackoff) {
		err := w.Add(p.cfg.ExitsDir)
		if err == nil {
			break
		}
		logger.Error(err, "Cannot watch Podman's exit files yet; trying again", "backoff", backoff)
		if !sleep(ctx, backoff) {
			return
		}
	}
	logger.V(2).Info("Watching Podman's exit files")
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-w.Errors:
			logger.Error(err, "Watching Podman's exit files")
		case ev := <-w.Events:
			if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) {
				continue
			}
			id, code, ok := readExitFile(ev.Name)
			if ok && p.exits.deliver(id, exitNote{code: code}, 0) > 0 {
				logger.V(4).Info("Container exit file delivered", "containerID", id, "exitCode", code)
			}
		}
	}
}

// readExitFile reads a conmon exit file: its name is the container's ID, its content the exit code. ok is false
// for another file (conmon's temporary one) or one not written yet.
func readExitFile(path string) (id string, code int32, ok bool) {
	id = filepath.Base(path)
	if id == "" || strings.Trim(id, "0123456789abcdef") != "" { // a container ID is hex; conmon's temporary file is <id>.<suffix>
		return "", 0, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return "", 0, false
	}
	return id, int32(n), true
}

// resync lists the node's containers once and tells the waiters of containers that exited or no longer exist.
func (p *Provider) resync(ctx context.Context) error {
	seq, ids := p.exits.waited()
	if len(ids) == 0 {
		return nil
	}
	list, err := p.cfg.Runtime.ListContainers(ctx, map[string]string{podman.LabelManaged: "true", podman.LabelNode: p.cfg.NodeName})
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	byID := make(map[string]podman.ContainerInfo, len(list))
	for _, c := range list {
		byID[c.ID] = c
	}
	logger := klog.FromContext(ctx)
	for _, id := range ids {
		c, ok := byID[id]
		switch {
		case !ok:
			if p.exits.deliver(id, exitNote{code: -1, gone: true}, seq) > 0 {
				logger.V(2).Info("Resync: a waited-for container no longer exists", "containerID", id)
			}
		case exitedState(c.State):
			if p.exits.deliver(id, exitNote{code: c.ExitCode}, seq) > 0 {
				logger.V(2).Info("Resync: caught a container exit the event stream missed", "containerID", id, "exitCode", c.ExitCode)
			}
		}
	}
	return nil
}
