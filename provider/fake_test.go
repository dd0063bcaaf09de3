package provider

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/provider/podman"
)

// fakeRuntime is an in-memory podman.Runtime. Containers run until the test makes them exit (exit), until they
// are stopped (exit code 143) or until their pod is removed. Every call is recorded.
type fakeRuntime struct {
	mu         sync.Mutex
	calls      []fakeCall
	images     map[string]bool
	pullErrs   map[string]error
	pods       map[string]*fakePod       // by ID
	containers map[string]*fakeContainer // by ID
	holds      map[string]chan struct{}  // container names whose creation waits for release
	imageUsers map[string]string         // configured users of images, by reference
	execFn     fakeExecFunc              // answers Exec (see fake_exec_test.go)
	nextID     int
	// subs are the open event streams; dropEvents makes the fake lose every event (as a stream that missed them).
	subs       map[*fakeSub]bool
	dropEvents bool
	// down makes every call fail as if the service had stopped (setDown).
	down bool
	// memUsage is the memory every running container uses (Stats; 1 MiB when 0); updateErr fails
	// UpdateContainerResources.
	memUsage  uint64
	updateErr error
}

// fakeSub is one open WatchContainers stream.
type fakeSub struct {
	labels  map[string]string
	actions []string
	events  chan podman.ContainerEvent
	broken  chan struct{} // closed to make the stream fail
	ready   bool          // connected has returned (the first resync is done)
}

type fakeCall struct {
	Method string
	Arg    string // the pod or container name or ID, or the image
}

type fakePod struct {
	id, name string
	spec     podman.PodSpec
	running  bool
	ip       string
}

type fakeContainer struct {
	id         string
	spec       podman.ContainerSpec
	status     string // created, running, exited
	exitCode   int32
	startedAt  time.Time
	finishedAt time.Time
	files      map[string]string // files written inside, by path
	logs       string            // what it printed; "log of <name>" when empty
	cpuNano    uint64            // CPU time used so far, as Stats reports it (setCPU)
	disk       podman.DiskUsage  // what DiskUsage reports
}

var _ podman.Runtime = (*fakeRuntime)(nil)

// newFakeRuntime returns a fake holding the given images.
func newFakeRuntime(images ...string) *fakeRuntime {
	f := &fakeRuntime{
		images:     map[string]bool{},
		pullErrs:   map[string]error{},
		pods:       map[string]*fakePod{},
		containers: map[string]*fakeContainer{},
		holds:      map[string]chan struct{}{},
		imageUsers: map[string]string{},
		subs:       map[*fakeSub]bool{},
	}
	for _, im := range images {
		f.images[im] = true
	}
	return f
}

func (f *fakeRuntime) record(method, arg string) {
	f.calls = append(f.calls, fakeCall{Method: method, Arg: arg})
}

func (f *fakeRuntime) newID(prefix string) string {
	f.nextID++
	return fmt.Sprintf("%s%060d", prefix, f.nextID)
}

// setPullError makes pulls of image fail with err (nil lets them succeed).
func (f *fakeRuntime) setPullError(image string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.pullErrs, image)
	} else {
		f.pullErrs[image] = err
	}
}

// withContainer calls fn, under f.mu, with the container named name; it fails the test if there is none.
func (f *fakeRuntime) withContainer(t *testing.T, name string, fn func(c *fakeContainer)) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.lookupContainer(name)
	if c == nil {
		t.Fatalf("fake: no container %q", name)
	}
	fn(c)
}

// setCPU sets the CPU time the container named name has used, as Stats reports it.
func (f *fakeRuntime) setCPU(t *testing.T, name string, nano uint64) {
	t.Helper()
	f.withContainer(t, name, func(c *fakeContainer) { c.cpuNano = nano })
}

// hold makes the creation of the container named name wait until release(name) or until its context ends.
func (f *fakeRuntime) hold(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holds[name] = make(chan struct{})
}

// release lets a held container creation go on.
func (f *fakeRuntime) release(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h, ok := f.holds[name]; ok {
		close(h)
		delete(f.holds, name)
	}
}

// callsTo returns the arguments of the recorded calls of method, in order.
func (f *fakeRuntime) callsTo(method string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c.Arg)
		}
	}
	return out
}

func (f *fakeRuntime) lookupPod(idOrName string) *fakePod {
	if p, ok := f.pods[idOrName]; ok {
		return p
	}
	for _, p := range f.pods {
		if p.name == idOrName {
			return p
		}
	}
	return nil
}

func (f *fakeRuntime) lookupContainer(idOrName string) *fakeContainer {
	if c, ok := f.containers[idOrName]; ok {
		return c
	}
	for _, c := range f.containers {
		if c.spec.Name == idOrName {
			return c
		}
	}
	return nil
}

// exitLocked makes a running container exit with code. f.mu must be held.
func (f *fakeRuntime) exitLocked(c *fakeContainer, code int32) {
	if c.status != "running" {
		return
	}
	c.status = "exited"
	c.exitCode = code
	c.finishedAt = time.Now()
	f.emitLocked(c, podman.EventDied)
}

// emitLocked sends a container event to the open streams that want it. f.mu must be held.
func (f *fakeRuntime) emitLocked(c *fakeContainer, action string) {
	if f.dropEvents {
		return
	}
	ev := podman.ContainerEvent{ID: c.id, Name: c.spec.Name, Action: action, Time: time.Now()}
	if action == podman.EventDied {
		ev.ExitCode = c.exitCode
	}
next:
	for s := range f.subs {
		for k, v := range s.labels {
			if c.spec.Labels[k] != v {
				continue next
			}
		}
		if slices.Contains(s.actions, action) {
			select {
			case s.events <- ev:
			default: // a stream that does not keep up loses events, as a real one may
			}
		}
	}
}

// setDropEvents makes the event streams lose (drop=true) or deliver events.
func (f *fakeRuntime) setDropEvents(drop bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropEvents = drop
}

// setDown makes the fake's service stop answering (every call fails as a dial to a missing socket, open event
// streams break) or answer again.
func (f *fakeRuntime) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
	if down {
		f.breakStreams()
	}
}

// unreachable is the error of every call while the fake is down.
func (f *fakeRuntime) unreachable() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return nil
	}
	return &url.Error{Op: "Get", URL: "http://d/v4.0.0/libpod/_ping", Err: &net.OpError{Op: "dial", Net: "unix", Err: syscall.ENOENT}}
}

// breakStreams makes every open event stream fail.
func (f *fakeRuntime) breakStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		close(s.broken)
		delete(f.subs, s)
	}
}

// streams reports how many event streams are open and past their connected callback.
func (f *fakeRuntime) streams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for s := range f.subs {
		if s.ready {
			n++
		}
	}
	return n
}

// exit makes the running container named name exit with code; it fails the test if there is no such container.
func (f *fakeRuntime) exit(t *testing.T, name string, code int32) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.lookupContainer(name)
	if c == nil || c.status != "running" {
		t.Fatalf("fake: no running container %q", name)
	}
	f.exitLocked(c, code)
}

// containerStatus reports the status of the container named name ("" if there is none).
func (f *fakeRuntime) containerStatus(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.lookupContainer(name); c != nil {
		return c.status
	}
	return ""
}

// podCount reports how many Podman pods exist.
func (f *fakeRuntime) podCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pods)
}

func (f *fakeRuntime) Ping(context.Context) error {
	return f.unreachable()
}

func (f *fakeRuntime) Info(context.Context) (podman.HostInfo, error) {
	if err := f.unreachable(); err != nil {
		return podman.HostInfo{}, err
	}
	return podman.HostInfo{Hostname: "fake", CPUs: 2, MemTotal: 4 << 30, MemFree: 2 << 30, OS: "fake", Arch: "amd64", Kernel: "6.0", Version: "4.9.5"}, nil
}

func (f *fakeRuntime) EnsureNetwork(_ context.Context, _, _, subnet string) ([]string, error) {
	return []string{subnet}, nil
}

func (f *fakeRuntime) ImageExists(_ context.Context, ref string) (bool, error) {
	if err := f.unreachable(); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ImageExists", ref)
	return f.images[ref], nil
}

func (f *fakeRuntime) PullImage(ctx context.Context, ref string, opts podman.PullOptions) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if opts.Insecure {
		f.record("PullImage", ref+" (insecure)")
	} else {
		f.record("PullImage", ref)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := f.pullErrs[ref]; err != nil {
		return err
	}
	f.images[ref] = true
	return nil
}

func (f *fakeRuntime) TagImage(_ context.Context, ref, name string) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("TagImage", ref+" "+name)
	if !f.images[ref] {
		return fmt.Errorf("tag image %s as %s: image not known", ref, name)
	}
	f.images[name] = true
	return nil
}

func (f *fakeRuntime) ListImages(context.Context) ([]podman.Image, error) {
	if err := f.unreachable(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []podman.Image
	for ref := range f.images {
		out = append(out, podman.Image{ID: ref, Names: []string{ref}, Size: 1 << 20})
	}
	return out, nil
}

func (f *fakeRuntime) ImportImage(_ context.Context, ref string, rootfs io.Reader) error {
	if _, err := io.Copy(io.Discard, rootfs); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ImportImage", ref)
	f.images[ref] = true
	return nil
}

func (f *fakeRuntime) CreatePod(_ context.Context, spec podman.PodSpec) (string, error) {
	if err := f.unreachable(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("CreatePod", spec.Name)
	if f.lookupPod(spec.Name) != nil {
		return "", fmt.Errorf("pod %s already exists", spec.Name)
	}
	p := &fakePod{id: f.newID("p"), name: spec.Name, spec: spec}
	f.pods[p.id] = p
	return p.id, nil
}

func (f *fakeRuntime) StartPod(_ context.Context, id string) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StartPod", id)
	p := f.lookupPod(id)
	if p == nil {
		return fmt.Errorf("no such pod %s", id)
	}
	p.running = true
	if p.ip == "" {
		p.ip = fmt.Sprintf("10.88.0.%d", 1+len(f.pods))
	}
	return nil
}

func (f *fakeRuntime) StopPod(_ context.Context, id string, _ time.Duration) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StopPod", id)
	p := f.lookupPod(id)
	if p == nil {
		return fmt.Errorf("no such pod %s", id)
	}
	p.running = false
	for _, c := range f.containers {
		if c.spec.Pod == p.id || c.spec.Pod == p.name {
			f.exitLocked(c, 143)
		}
	}
	return nil
}

func (f *fakeRuntime) PodIP(_ context.Context, id, _ string) (string, error) {
	if err := f.unreachable(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.lookupPod(id)
	if p == nil || !p.running {
		return "", fmt.Errorf("pod %s is not running", id)
	}
	return p.ip, nil
}

func (f *fakeRuntime) ListPods(_ context.Context, labels map[string]string) ([]podman.PodInfo, error) {
	if err := f.unreachable(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []podman.PodInfo
	for _, p := range f.pods {
		match := true
		for k, v := range labels {
			if p.spec.Labels[k] != v {
				match = false
			}
		}
		if match {
			status := "Running"
			if !p.running {
				status = podman.PodExited
			}
			out = append(out, podman.PodInfo{ID: p.id, Name: p.name, Labels: p.spec.Labels, Status: status})
		}
	}
	return out, nil
}

func (f *fakeRuntime) ListContainers(_ context.Context, labels map[string]string) ([]podman.ContainerInfo, error) {
	if err := f.unreachable(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ListContainers", "")
	var out []podman.ContainerInfo
next:
	for _, c := range f.containers {
		for k, v := range labels {
			if c.spec.Labels[k] != v {
				continue next
			}
		}
		podID := ""
		if p := f.lookupPod(c.spec.Pod); p != nil {
			podID = p.id
		}
		out = append(out, podman.ContainerInfo{ID: c.id, Name: c.spec.Name, PodID: podID, Labels: c.spec.Labels, State: c.status, ExitCode: c.exitCode})
	}
	return out, nil
}

func (f *fakeRuntime) RemovePod(_ context.Context, id string) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RemovePod", id)
	p := f.lookupPod(id)
	if p == nil {
		return nil
	}
	for cid, c := range f.containers {
		if c.spec.Pod == p.id || c.spec.Pod == p.name {
			f.exitLocked(c, 137)
			delete(f.containers, cid)
			f.emitLocked(c, podman.EventRemove)
		}
	}
	delete(f.pods, p.id)
	return nil
}

func (f *fakeRuntime) CreateContainer(ctx context.Context, spec podman.ContainerSpec) (string, error) {
	if err := f.unreachable(); err != nil {
		return "", err
	}
	f.mu.Lock()
	f.record("CreateContainer", spec.Name)
	h := f.holds[spec.Name]
	f.mu.Unlock()
	if h != nil {
		select {
		case <-h:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lookupPod(spec.Pod) == nil {
		return "", fmt.Errorf("no such pod %s", spec.Pod)
	}
	if f.lookupContainer(spec.Name) != nil {
		return "", fmt.Errorf("container name %s is already in use", spec.Name)
	}
	if !f.images[spec.Image] {
		return "", fmt.Errorf("image %s not known", spec.Image)
	}
	for _, m := range spec.ImageMounts {
		if !f.images[m.Image] {
			return "", fmt.Errorf("image volume %s not known", m.Image)
		}
	}
	c := &fakeContainer{id: f.newID("c"), spec: spec, status: "created"}
	f.containers[c.id] = c
	return c.id, nil
}

func (f *fakeRuntime) StartContainer(_ context.Context, id string) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StartContainer", id)
	c := f.lookupContainer(id)
	if c == nil {
		return fmt.Errorf("no such container %s", id)
	}
	if c.status == "running" {
		return nil
	}
	c.status = "running"
	c.startedAt = time.Now()
	c.finishedAt = time.Time{}
	return nil
}

func (f *fakeRuntime) WatchContainers(ctx context.Context, labels map[string]string, actions []string, connected func(), handle func(podman.ContainerEvent)) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	s := &fakeSub{labels: labels, actions: actions, events: make(chan podman.ContainerEvent, 256), broken: make(chan struct{})}
	f.mu.Lock()
	f.record("WatchContainers", "")
	f.subs[s] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}()
	connected()
	f.mu.Lock()
	s.ready = true
	f.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.broken:
			return errors.New("fake: event stream broken")
		case ev := <-s.events:
			handle(ev)
		}
	}
}

func (f *fakeRuntime) InspectContainer(_ context.Context, id string) (podman.ContainerState, error) {
	if err := f.unreachable(); err != nil {
		return podman.ContainerState{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.lookupContainer(id)
	if c == nil {
		return podman.ContainerState{}, fmt.Errorf("inspect container %s: %w", id, podman.ErrNotFound)
	}
	return podman.ContainerState{
		ID:         c.id,
		Status:     c.status,
		Running:    c.status == "running",
		ExitCode:   c.exitCode,
		StartedAt:  c.startedAt,
		FinishedAt: c.finishedAt,
		ImageID:    strings.Repeat("ab", 32),
		ImageName:  c.spec.Image,
	}, nil
}

func (f *fakeRuntime) StopContainer(_ context.Context, id string, _ time.Duration) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StopContainer", id)
	c := f.lookupContainer(id)
	if c == nil {
		return fmt.Errorf("no such container %s", id)
	}
	if c.status == "running" {
		f.emitLocked(c, podman.EventStop)
	}
	f.exitLocked(c, 143)
	return nil
}

func (f *fakeRuntime) RemoveContainer(_ context.Context, id string) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RemoveContainer", id)
	c := f.lookupContainer(id)
	if c == nil {
		return nil
	}
	// As Podman does for rm -f: stop (stop, died), then remove.
	if c.status == "running" {
		f.emitLocked(c, podman.EventStop)
	}
	f.exitLocked(c, 137)
	delete(f.containers, c.id)
	f.emitLocked(c, podman.EventRemove)
	return nil
}

func (f *fakeRuntime) Logs(_ context.Context, id string, opts podman.LogOptions, w io.Writer) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	c := f.lookupContainer(id)
	var logs string
	if c != nil {
		logs = c.logs
	}
	f.mu.Unlock()
	if c == nil {
		return errors.New("no such container " + id)
	}
	if logs == "" {
		logs = "log of " + c.spec.Name + "\n"
	}
	lines := strings.SplitAfter(logs, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if opts.Tail >= 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	_, err := io.WriteString(w, strings.Join(lines, ""))
	return err
}

func (f *fakeRuntime) ImageUser(_ context.Context, ref string) (string, error) {
	if err := f.unreachable(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ImageUser", ref)
	if !f.images[ref] {
		return "", fmt.Errorf("image %s not known", ref)
	}
	return f.imageUsers[ref], nil
}

func (f *fakeRuntime) ReadFile(_ context.Context, id, path string, max int64) ([]byte, error) {
	if err := f.unreachable(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.lookupContainer(id)
	if c == nil {
		return nil, fmt.Errorf("no such container %s: %w", id, fs.ErrNotExist)
	}
	data, ok := c.files[path]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
	}
	if int64(len(data)) > max {
		data = data[int64(len(data))-max:]
	}
	return []byte(data), nil
}

// write makes the container named name have written a file at path and printed logs (if not empty).
func (f *fakeRuntime) write(t *testing.T, name, path, data, logs string) {
	t.Helper()
	f.withContainer(t, name, func(c *fakeContainer) {
		if path != "" {
			if c.files == nil {
				c.files = map[string]string{}
			}
			c.files[path] = data
		}
		if logs != "" {
			c.logs = logs
		}
	})
}

// ExecStream runs a fake command: "echo ARGS..." prints its arguments, "cat" copies stdin, "exit N" exits N.
func (f *fakeRuntime) ExecStream(_ context.Context, id string, cmd []string, s podman.StreamOptions) (int, error) {
	f.mu.Lock()
	c := f.lookupContainer(id)
	f.record("ExecStream", strings.Join(cmd, " "))
	running := c != nil && c.status == "running"
	f.mu.Unlock()
	if !running {
		return 0, fmt.Errorf("container %s is not running", id)
	}
	switch cmd[0] {
	case "echo":
		_, err := fmt.Fprintln(s.Stdout, strings.Join(cmd[1:], " "))
		return 0, err
	case "cat":
		_, err := io.Copy(s.Stdout, s.Stdin)
		return 0, err
	case "exit":
		code, err := strconv.Atoi(cmd[1])
		return code, err
	}
	return 127, nil
}

// AttachStream prints the container's logs to stdout.
func (f *fakeRuntime) AttachStream(_ context.Context, id string, s podman.StreamOptions) error {
	f.mu.Lock()
	c := f.lookupContainer(id)
	f.record("AttachStream", id)
	f.mu.Unlock()
	if c == nil {
		return fmt.Errorf("no container %s", id)
	}
	_, err := io.WriteString(s.Stdout, c.logs)
	return err
}

// Stats reports, for each running container, the CPU time the test set (setCPU; 0 until then) and memUsage.
func (f *fakeRuntime) DiskUsage(_ context.Context, id string) (podman.DiskUsage, error) {
	if err := f.unreachable(); err != nil {
		return podman.DiskUsage{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.lookupContainer(id)
	if c == nil {
		return podman.DiskUsage{}, fmt.Errorf("measure the disk of container %s: %w", id, podman.ErrNotFound)
	}
	return c.disk, nil
}

func (f *fakeRuntime) Stats(_ context.Context, ids []string) ([]podman.ContainerStats, error) {
	if err := f.unreachable(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []podman.ContainerStats
	for _, id := range ids {
		c := f.lookupContainer(id)
		if c == nil || c.status != "running" {
			return nil, fmt.Errorf("container %s is not running", id)
		}
		out = append(out, podman.ContainerStats{ID: c.id, CPUNano: c.cpuNano, MemUsage: cmp.Or(f.memUsage, 1<<20), MemLimit: 64 << 20})
	}
	return out, nil
}
