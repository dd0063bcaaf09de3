package podman

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containers/common/libnetwork/types"
	"github.com/containers/podman/v4/pkg/bindings"
	"github.com/containers/podman/v4/pkg/bindings/containers"
	"github.com/containers/podman/v4/pkg/bindings/images"
	"github.com/containers/podman/v4/pkg/bindings/network"
	"github.com/containers/podman/v4/pkg/bindings/pods"
	"github.com/containers/podman/v4/pkg/bindings/system"
	"github.com/containers/podman/v4/pkg/domain/entities"
	"github.com/containers/podman/v4/pkg/errorhandling"
	"github.com/containers/podman/v4/pkg/specgen"
	"github.com/distribution/reference"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Client is a Runtime over Podman's REST API.
type Client struct {
	url  string
	conn context.Context // carries the bindings connection
}

var _ Runtime = &Client{}

// Dial connects to the Podman service at url (unix://, tcp:// or ssh://) and checks that it answers.
func Dial(ctx context.Context, url string) (*Client, error) {
	conn, err := bindings.NewConnection(context.WithoutCancel(ctx), url)
	if err != nil {
		return nil, fmt.Errorf("connect to podman at %s: %w", url, err)
	}
	return &Client{url: url, conn: conn}, nil
}

// URL is the address of the Podman service.
func (c *Client) URL() string { return c.url }

// connCtx carries the caller's deadline and cancellation, and the bindings connection.
type connCtx struct {
	context.Context
	conn context.Context
}

func (c connCtx) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.conn.Value(key)
}

func (c *Client) ctx(ctx context.Context) context.Context { return connCtx{Context: ctx, conn: c.conn} }

// IsNotFound tells whether err means that the object does not exist in Podman.
func IsNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var em *errorhandling.ErrorModel
	if errors.As(err, &em) {
		return em.ResponseCode == http.StatusNotFound
	}
	return false
}

// IsUnreachable tells whether err means that the Podman service could not be reached (no socket, connection
// refused or dropped, no answer in time): an error of the transport, not an answer of Podman's. Such a failure
// says nothing about the object the call was about and is worth retrying once Podman answers again.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var ue *url.Error
	var op *net.OpError
	return errors.As(err, &ue) || errors.As(err, &op) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Ping implements Runtime.
func (c *Client) Ping(ctx context.Context) error {
	conn, err := bindings.GetClient(c.conn)
	if err != nil {
		return err
	}
	resp, err := conn.DoRequest(c.ctx(ctx), nil, http.MethodGet, "/_ping", nil, nil)
	if err != nil {
		return fmt.Errorf("ping podman at %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	if !resp.IsSuccess() {
		return fmt.Errorf("ping podman at %s: HTTP %d", c.url, resp.StatusCode)
	}
	return nil
}

// Info implements Runtime.
func (c *Client) Info(ctx context.Context) (HostInfo, error) {
	info, err := system.Info(c.ctx(ctx), nil)
	if err != nil {
		return HostInfo{}, fmt.Errorf("podman info: %w", err)
	}
	h := HostInfo{
		Hostname: info.Host.Hostname,
		CPUs:     info.Host.CPUs,
		MemTotal: info.Host.MemTotal,
		MemFree:  info.Host.MemFree,
		OS:       info.Host.OS,
		Arch:     info.Host.Arch,
		Kernel:   info.Host.Kernel,
	}
	if d := info.Host.Distribution; d.Distribution != "" {
		h.Distribution = strings.TrimSpace(d.Distribution + " " + d.Version)
		if d.Codename != "" {
			h.Distribution += " (" + d.Codename + ")"
		}
	}
	if info.Version.Version != "" {
		h.Version = info.Version.Version
	}
	if info.Store != nil {
		h.GraphRootSize = int64(info.Store.GraphRootAllocated)
		h.GraphRootFree = int64(info.Store.GraphRootAllocated - info.Store.GraphRootUsed)
	}
	return h, nil
}

// EnsureNetwork implements Runtime.
func (c *Client) EnsureNetwork(ctx context.Context, name, iface, subnet string) error {
	ok, err := network.Exists(c.ctx(ctx), name, nil)
	if err != nil {
		return fmt.Errorf("check network %s: %w", name, err)
	}
	if ok {
		return nil
	}
	sn, err := types.ParseCIDR(subnet)
	if err != nil {
		return fmt.Errorf("network %s subnet %q: %w", name, subnet, err)
	}
	_, err = network.Create(c.ctx(ctx), &types.Network{
		Name:             name,
		Driver:           types.BridgeNetworkDriver,
		NetworkInterface: iface,
		Subnets:          []types.Subnet{{Subnet: sn}},
	})
	if err != nil {
		return fmt.Errorf("create network %s: %w", name, err)
	}
	return nil
}

// ImageExists implements Runtime.
func (c *Client) ImageExists(ctx context.Context, ref string) (bool, error) {
	ok, err := images.Exists(c.ctx(ctx), ref, nil)
	if err != nil {
		return false, fmt.Errorf("check image %s: %w", ref, err)
	}
	return ok, nil
}

// PullImage implements Runtime.
func (c *Client) PullImage(ctx context.Context, ref string, opts PullOptions) error {
	o := new(images.PullOptions).WithQuiet(true).WithPolicy("always")
	if opts.Auth != nil {
		o = o.WithUsername(opts.Auth.Username).WithPassword(opts.Auth.Password)
	}
	if opts.Insecure || loopbackRegistry(ref) {
		// A registry on this machine's loopback (as tests start) speaks plain HTTP, as docker treats localhost.
		o = o.WithSkipTLSVerify(true)
	}
	if _, err := images.Pull(c.ctx(ctx), ref, o); err != nil {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	return nil
}

// TagImage implements Runtime.
func (c *Client) TagImage(ctx context.Context, ref, name string) error {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return fmt.Errorf("tag image %s as %s: %w", ref, name, err)
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return fmt.Errorf("tag image %s as %s: the name has no tag", ref, name)
	}
	if err := images.Tag(c.ctx(ctx), ref, tagged.Tag(), named.Name(), nil); err != nil {
		return fmt.Errorf("tag image %s as %s: %w", ref, name, err)
	}
	return nil
}

// loopbackRegistry tells whether an image reference names a registry on 127.0.0.0/8 or localhost with a port.
func loopbackRegistry(ref string) bool {
	host, _, ok := strings.Cut(ref, "/")
	if !ok {
		return false
	}
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// ListImages implements Runtime.
func (c *Client) ListImages(ctx context.Context) ([]Image, error) {
	list, err := images.List(c.ctx(ctx), nil)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]Image, 0, len(list))
	for _, im := range list {
		out = append(out, Image{ID: im.ID, Names: im.RepoTags, Size: im.Size})
	}
	return out, nil
}

// ImportImage implements Runtime.
func (c *Client) ImportImage(ctx context.Context, ref string, rootfs io.Reader) error {
	if _, err := images.Import(c.ctx(ctx), rootfs, new(images.ImportOptions).WithReference(ref)); err != nil {
		return fmt.Errorf("import image %s: %w", ref, err)
	}
	return nil
}

// CreatePod implements Runtime.
func (c *Client) CreatePod(ctx context.Context, spec PodSpec) (string, error) {
	ps := specgen.NewPodSpecGenerator()
	ps.Name = spec.Name
	ps.Hostname = spec.Hostname
	ps.Labels = spec.Labels
	ps.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
	if spec.Network != "" {
		ps.Networks = map[string]types.PerNetworkOptions{spec.Network: {}}
	}
	for _, p := range spec.Ports {
		ps.PortMappings = append(ps.PortMappings, types.PortMapping{
			HostIP: p.HostIP, HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: strings.ToLower(p.Protocol), Range: 1,
		})
	}
	if spec.HostNetwork {
		// The host's network and hostname, as the kubelet gives a hostNetwork pod.
		ps.NetNS = specgen.Namespace{NSMode: specgen.Host}
		ps.UtsNs = specgen.Namespace{NSMode: specgen.Host}
		ps.Hostname, ps.Networks, ps.PortMappings = "", nil, nil
	}
	ps.HostAdd = spec.HostAdd
	if spec.SharePID || spec.HostPID || spec.HostIPC {
		// Podman's default set is ipc, net and uts.
		ps.SharedNamespaces = []string{"net", "uts"}
		if !spec.HostIPC {
			ps.SharedNamespaces = append(ps.SharedNamespaces, "ipc")
		}
		if spec.SharePID || spec.HostPID {
			ps.SharedNamespaces = append(ps.SharedNamespaces, "pid")
		}
		if spec.HostPID {
			ps.Pid = specgen.Namespace{NSMode: specgen.Host}
		}
	}
	servers, searches, options, err := dnsSpec(spec.DNS)
	if err != nil {
		return "", fmt.Errorf("create pod %s: %w", spec.Name, err)
	}
	ps.DNSServer, ps.DNSSearch, ps.DNSOption = servers, searches, options
	rep, err := pods.CreatePodFromSpec(c.ctx(ctx), &entities.PodSpec{PodSpecGen: *ps})
	if err != nil {
		return "", fmt.Errorf("create pod %s: %w", spec.Name, err)
	}
	return rep.Id, nil
}

// dnsSpec is a resolv.conf's settings as Podman's pod and container specs take them.
func dnsSpec(dns *DNSConfig) (servers []net.IP, searches, options []string, err error) {
	if dns == nil {
		return nil, nil, nil, nil
	}
	for _, s := range dns.Servers {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, nil, nil, fmt.Errorf("DNS server %q is not an IP address", s)
		}
		servers = append(servers, ip)
	}
	searches = dns.Searches
	if len(searches) == 0 {
		searches = []string{"."} // Podman's way to say: no search line
	}
	return servers, searches, dns.Options, nil
}

// StartPod implements Runtime.
func (c *Client) StartPod(ctx context.Context, id string) error {
	rep, err := pods.Start(c.ctx(ctx), id, nil)
	if err != nil {
		return fmt.Errorf("start pod %s: %w", id, err)
	}
	if len(rep.Errs) > 0 {
		return fmt.Errorf("start pod %s: %w", id, errors.Join(rep.Errs...))
	}
	return nil
}

// StopPod implements Runtime.
func (c *Client) StopPod(ctx context.Context, id string, timeout time.Duration) error {
	rep, err := pods.Stop(c.ctx(ctx), id, new(pods.StopOptions).WithTimeout(int(timeout/time.Second)))
	if err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("stop pod %s: %w", id, err)
	}
	if rep != nil && len(rep.Errs) > 0 {
		return fmt.Errorf("stop pod %s: %w", id, errors.Join(rep.Errs...))
	}
	return nil
}

// PodIP implements Runtime.
func (c *Client) PodIP(ctx context.Context, id, netName string) (string, error) {
	rep, err := pods.Inspect(c.ctx(ctx), id, nil)
	if err != nil {
		return "", fmt.Errorf("inspect pod %s: %w", id, err)
	}
	if rep.InfraContainerID == "" {
		return "", fmt.Errorf("pod %s has no infra container", id)
	}
	infra, err := containers.Inspect(c.ctx(ctx), rep.InfraContainerID, nil)
	if err != nil {
		return "", fmt.Errorf("inspect infra container of pod %s: %w", id, err)
	}
	if infra.NetworkSettings == nil {
		return "", fmt.Errorf("pod %s: infra container has no network settings", id)
	}
	if n, ok := infra.NetworkSettings.Networks[netName]; ok && n.IPAddress != "" {
		return n.IPAddress, nil
	}
	for _, n := range infra.NetworkSettings.Networks {
		if n.IPAddress != "" {
			return n.IPAddress, nil
		}
	}
	return infra.NetworkSettings.IPAddress, nil
}

// labelFilter is Podman's list filter for objects carrying all the given labels.
func labelFilter(labels map[string]string) map[string][]string {
	f := make([]string, 0, len(labels))
	for k, v := range labels {
		f = append(f, k+"="+v)
	}
	return map[string][]string{"label": f}
}

// ListPods implements Runtime.
func (c *Client) ListPods(ctx context.Context, labels map[string]string) ([]PodInfo, error) {
	list, err := pods.List(c.ctx(ctx), new(pods.ListOptions).WithFilters(labelFilter(labels)))
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	out := make([]PodInfo, 0, len(list))
	for _, p := range list {
		out = append(out, PodInfo{ID: p.Id, Name: p.Name, Labels: p.Labels})
	}
	return out, nil
}

// ListContainers implements Runtime.
func (c *Client) ListContainers(ctx context.Context, labels map[string]string) ([]ContainerInfo, error) {
	list, err := containers.List(c.ctx(ctx), new(containers.ListOptions).WithAll(true).WithFilters(labelFilter(labels)))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]ContainerInfo, 0, len(list))
	for _, ct := range list {
		name := ""
		if len(ct.Names) > 0 {
			name = ct.Names[0]
		}
		out = append(out, ContainerInfo{ID: ct.ID, Name: name, PodID: ct.Pod, Labels: ct.Labels, State: ct.State, ExitCode: ct.ExitCode})
	}
	return out, nil
}

// RemovePod implements Runtime.
func (c *Client) RemovePod(ctx context.Context, id string) error {
	rep, err := pods.Remove(c.ctx(ctx), id, new(pods.RemoveOptions).WithForce(true).WithTimeout(0))
	if err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("remove pod %s: %w", id, err)
	}
	if rep != nil && rep.Err != nil {
		return fmt.Errorf("remove pod %s: %w", id, rep.Err)
	}
	return nil
}

// CreateContainer implements Runtime.
func (c *Client) CreateContainer(ctx context.Context, spec ContainerSpec) (string, error) {
	s := specgen.NewSpecGenerator(spec.Image, false)
	s.Name = spec.Name
	s.Pod = spec.Pod
	if spec.HostIPC {
		s.IpcNS = specgen.Namespace{NSMode: specgen.Host}
	}
	if spec.PIDNamespaceOf != "" {
		s.PidNS = specgen.Namespace{NSMode: specgen.FromContainer, Value: spec.PIDNamespaceOf}
	}
	s.Entrypoint = spec.Entrypoint
	s.Command = spec.Command
	s.Env = spec.Env
	s.WorkDir = spec.WorkingDir
	s.Labels = spec.Labels
	s.Terminal = spec.TTY
	s.Stdin = spec.Stdin
	s.User = spec.User
	// Restarts are Berth's (the pod's restartPolicy with the kubelet's back-off), never Podman's.
	s.RestartPolicy = "no"
	s.Groups = spec.Groups
	s.Privileged = spec.Privileged
	// A read-only root stays read-only everywhere, /tmp and /run included, as with the kubelet.
	s.ReadOnlyFilesystem, s.ReadWriteTmpfs = spec.ReadOnlyRootfs, false
	s.NoNewPrivileges = spec.NoNewPrivileges
	s.HostAdd = spec.HostAdd
	servers, searches, options, err := dnsSpec(spec.DNS)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	s.DNSServers, s.DNSSearch, s.DNSOptions = servers, searches, options
	s.CapAdd, s.CapDrop = spec.CapAdd, spec.CapDrop
	s.Sysctl = spec.Sysctls
	for _, m := range spec.Mounts {
		opts := []string{"rbind", "rw"}
		if m.ReadOnly {
			opts[1] = "ro"
		}
		if m.Propagation != "" {
			opts = append(opts, m.Propagation)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Type: "bind", Source: m.Source, Destination: m.Dest, Options: opts})
	}
	for _, m := range spec.ImageMounts {
		s.ImageVolumes = append(s.ImageVolumes, &specgen.ImageVolume{Source: m.Image, Destination: m.Dest})
	}
	if spec.StopSignal != "" {
		name := strings.ToUpper(spec.StopSignal)
		if !strings.HasPrefix(name, "SIG") {
			name = "SIG" + name
		}
		ss := unix.SignalNum(name)
		if ss == 0 {
			return "", fmt.Errorf("container %s: unknown stop signal %q", spec.Name, spec.StopSignal)
		}
		s.StopSignal = &ss
	}
	s.ResourceLimits = newLinuxResources(spec.ContainerResources)
	rep, err := containers.CreateWithSpec(c.ctx(ctx), s, nil)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	return rep.ID, nil
}

// StartContainer implements Runtime.
func (c *Client) StartContainer(ctx context.Context, id string) error {
	if err := containers.Start(c.ctx(ctx), id, nil); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	return nil
}

// WatchContainers implements Runtime. It reads /libpod/events itself (rather than through system.Events) to know
// when Podman has accepted the subscription.
func (c *Client) WatchContainers(ctx context.Context, labels map[string]string, actions []string, connected func(), handle func(ContainerEvent)) error {
	conn, err := bindings.GetClient(c.conn)
	if err != nil {
		return err
	}
	// Podman ORs the values of one filter: several labels are checked here as well.
	filters := labelFilter(labels)
	filters["type"] = []string{"container"}
	filters["event"] = actions
	params, err := new(system.EventsOptions).WithStream(true).WithFilters(filters).ToParams()
	if err != nil {
		return fmt.Errorf("podman events: %w", err)
	}
	resp, err := conn.DoRequest(c.ctx(ctx), nil, http.MethodGet, "/events", params, nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("subscribe to podman events: %w", err)
	}
	defer resp.Body.Close()
	if !resp.IsSuccess() {
		return fmt.Errorf("subscribe to podman events: %w", resp.Process(nil))
	}
	connected()
	dec := json.NewDecoder(resp.Body)
next:
	for {
		var e entities.Event
		if err := dec.Decode(&e); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return errors.New("podman ended the event stream")
			}
			return fmt.Errorf("read podman events: %w", err)
		}
		for k, v := range labels {
			if e.Actor.Attributes[k] != v {
				continue next
			}
		}
		ev := ContainerEvent{ID: e.Actor.ID, Name: e.Actor.Attributes["name"], Action: e.Action}
		if code, err := strconv.Atoi(e.Actor.Attributes["containerExitCode"]); err == nil {
			ev.ExitCode = int32(code)
		}
		if e.TimeNano != 0 {
			ev.Time = time.Unix(0, e.TimeNano)
		}
		handle(ev)
	}
}

// InspectContainer implements Runtime.
func (c *Client) InspectContainer(ctx context.Context, id string) (ContainerState, error) {
	d, err := containers.Inspect(c.ctx(ctx), id, nil)
	if err != nil {
		return ContainerState{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	st := ContainerState{ID: d.ID, ImageID: d.Image, ImageName: d.ImageName}
	if d.State != nil {
		st.Status = d.State.Status
		st.Running = d.State.Running
		st.ExitCode = d.State.ExitCode
		st.OOMKilled = d.State.OOMKilled
		st.Error = d.State.Error
		st.StartedAt = d.State.StartedAt
		st.FinishedAt = d.State.FinishedAt
	}
	return st, nil
}

// StopContainer implements Runtime.
func (c *Client) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	secs := uint(timeout / time.Second)
	if err := containers.Stop(c.ctx(ctx), id, new(containers.StopOptions).WithTimeout(secs).WithIgnore(true)); err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	return nil
}

// RemoveContainer implements Runtime.
func (c *Client) RemoveContainer(ctx context.Context, id string) error {
	if _, err := containers.Remove(c.ctx(ctx), id, new(containers.RemoveOptions).WithForce(true).WithIgnore(true).WithTimeout(0)); err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

// ImageUser implements Runtime.
func (c *Client) ImageUser(ctx context.Context, ref string) (string, error) {
	im, err := images.GetImage(c.ctx(ctx), ref, nil)
	if err != nil {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if im.ImageData != nil && im.Config != nil && im.Config.User != "" {
		return im.Config.User, nil
	}
	if im.ImageData != nil {
		return im.User, nil
	}
	return "", nil
}

// ReadFile implements Runtime.
func (c *Client) ReadFile(ctx context.Context, id, path string, max int64) ([]byte, error) {
	pr, pw := io.Pipe()
	copyFn, err := containers.CopyToArchive(c.ctx(ctx), id, path, pw)
	if err != nil {
		if IsNotFound(err) || strings.Contains(err.Error(), "no such file or directory") {
			return nil, fmt.Errorf("read %s of container %s: %w (%v)", path, id, fs.ErrNotExist, err)
		}
		return nil, fmt.Errorf("read %s of container %s: %w", path, id, err)
	}
	go func() { pw.CloseWithError(copyFn()) }()
	defer pr.Close()
	return tailOfTarFile(pr, max)
}

// tailOfTarFile reads the last max bytes of the first entry of a tar stream, which must be a regular file.
func tailOfTarFile(r io.Reader, max int64) ([]byte, error) {
	tr := tar.NewReader(r)
	h, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	if h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%s is not a regular file", h.Name)
	}
	if h.Size > max {
		if _, err := io.CopyN(io.Discard, tr, h.Size-max); err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
	}
	data, err := io.ReadAll(io.LimitReader(tr, max))
	if err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	return data, nil
}

// Logs implements Runtime. It reads Podman's multiplexed log stream itself rather than through the bindings'
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

// Stats implements Runtime.
func (c *Client) Stats(ctx context.Context, ids []string) ([]ContainerStats, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ch, err := containers.Stats(c.ctx(ctx), ids, new(containers.StatsOptions).WithStream(false))
	if err != nil {
		return nil, fmt.Errorf("container stats: %w", err)
	}
	var out []ContainerStats
	for rep := range ch {
		if rep.Error != nil {
			return nil, fmt.Errorf("container stats: %w", rep.Error)
		}
		for _, s := range rep.Stats {
			out = append(out, ContainerStats{ID: s.ContainerID, CPUNano: s.CPUNano, MemUsage: s.MemUsage, MemLimit: s.MemLimit})
		}
	}
	return out, nil
}

// maxExecOutput bounds the output Exec keeps; the rest is read and dropped.
const maxExecOutput = 64 << 10

// ErrExecTimeout is the error of an Exec whose command outlived its timeout.
var ErrExecTimeout = errors.New("command timed out")

// Exec implements Runtime: cmd's stdout and stderr together, in order, up to maxExecOutput.
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
