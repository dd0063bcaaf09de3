package cluster

import (
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/internal/registries"
)

// Config describes the local cluster berth up runs.
type Config struct {
	// StateDir holds etcd data, certificates, kubeconfigs, logs and Podman storage.
	StateDir string
	// BinDir holds the component binaries (kube-apiserver, kube-controller-manager, berth-scheduler,
	// berth-kubelet, berth-etcd); default: the folder of the running executable.
	BinDir string
	// Nodes is the number of Podman-backed nodes.
	Nodes int
	// NodePrefix names the nodes <prefix>-0 .. <prefix>-N-1.
	NodePrefix string
	// PodmanURLs, if set, are existing Podman services, one per node; otherwise berth starts its own.
	PodmanURLs []string
	// NodeIP is the address the nodes advertise; default: the first non-loopback IPv4 address of this machine.
	NodeIP string
	// Ports of the components. KubeletPort is the first node's; node i uses KubeletPort+i.
	APIServerPort, EtcdPort, EtcdPeerPort, ControllerManagerPort, SchedulerPort, KubeletPort int
	// MetricsServerPort is metrics-server's, on NodeIP (when the bin folder has metrics-server).
	MetricsServerPort int
	// AwaitMetricsServer, when the bin folder has no metrics-server at the start, starts it once it appears there
	// (make run builds it in the background after the demo); otherwise the cluster runs without it.
	AwaitMetricsServer bool
	// AllowedHostPaths are the host folders the nodes let hostPath volumes name (at or below); none by default.
	AllowedHostPaths []string
	// RegistriesConfig is a containers-registries.conf(5) version 2 file (registry mirrors, insecure and blocked
	// registries) merged into the registries.conf of each Podman service berth starts (see registries.NodeConfig);
	// empty for Berth's own entries alone.
	RegistriesConfig string
	// NodeNetns makes each node a network namespace of its own, with its own address, kube-proxy and pod subnet
	// routed from the machine (see nodenet.go); otherwise the nodes share the machine's NodeIP and have no
	// kube-proxy.
	NodeNetns bool
	// MaxPods is the number of pods each node can run (berth-kubelet --max-pods, the kubelet's maxPods); 0 for the
	// kubelet's default, 110.
	MaxPods int
	// KubeletArgs are extra berth-kubelet flags, by node index (tests give nodes different settings this way).
	KubeletArgs map[int][]string
	// Out receives progress lines.
	Out io.Writer

	// registriesConf is the registries.conf written for each Podman service berth starts (set by complete).
	registriesConf string
}

// DefaultStateDir is ~/.local/share/berth (or $XDG_DATA_HOME/berth).
func DefaultStateDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "berth")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "berth")
	}
	return filepath.Join(home, ".local", "share", "berth")
}

// Default returns the configuration of a plain `berth up`.
func Default() Config {
	return Config{
		StateDir:              DefaultStateDir(),
		Nodes:                 1,
		NodePrefix:            "berth-podman",
		APIServerPort:         6443,
		EtcdPort:              2379,
		EtcdPeerPort:          2380,
		ControllerManagerPort: 10257,
		SchedulerPort:         10259,
		KubeletPort:           10250,
		NodeNetns:             true,
		MetricsServerPort:     4443,
		Out:                   io.Discard,
	}
}

// complete fills in what can be derived and checks the rest.
func (c *Config) complete() error {
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.StateDir == "" {
		return fmt.Errorf("no state folder given")
	}
	abs, err := filepath.Abs(c.StateDir)
	if err != nil {
		return fmt.Errorf("state folder %s: %w", c.StateDir, err)
	}
	c.StateDir = abs
	for _, p := range c.AllowedHostPaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("--allowed-host-paths %q: must be an absolute path", p)
		}
	}
	if err := c.completeRegistries(); err != nil {
		return err
	}
	if c.BinDir == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the component binaries: %w", err)
		}
		c.BinDir = filepath.Dir(exe)
	}
	if c.Nodes < 1 || c.Nodes > 50 {
		return fmt.Errorf("--nodes %d: must be between 1 and 50", c.Nodes)
	}
	if c.MaxPods < 0 {
		return fmt.Errorf("--max-pods %d: must be positive (0: the kubelet's default, 110)", c.MaxPods)
	}
	if last := c.userNamespacesFirstID(c.Nodes) - 1; last > math.MaxUint32 {
		return fmt.Errorf("--max-pods %d: the user namespaces of %d nodes of that many pods (65536 host IDs each) do not fit below 2^32", c.MaxPods, c.Nodes)
	}
	if len(c.PodmanURLs) > 0 && len(c.PodmanURLs) != c.Nodes {
		return fmt.Errorf("%d --podman-url values for %d nodes: give one per node, or none to let berth start Podman", len(c.PodmanURLs), c.Nodes)
	}
	for _, u := range c.PodmanURLs {
		if !strings.HasPrefix(u, "unix://") && !strings.HasPrefix(u, "tcp://") && !strings.HasPrefix(u, "ssh://") {
			return fmt.Errorf("--podman-url %q: must start with unix://, tcp:// or ssh://", u)
		}
	}
	if c.NodeNetns && len(c.PodmanURLs) > 0 {
		return fmt.Errorf("--node-netns: berth makes the network namespaces of the Podman services it starts; with --podman-url, pass --node-netns=false and run kube-proxy next to that Podman (see docs/services.md)")
	}
	if c.NodeIP == "" {
		ip, err := hostIP()
		if err != nil {
			return err
		}
		c.NodeIP = ip
	} else if ip := net.ParseIP(c.NodeIP); ip == nil || ip.IsLoopback() {
		return fmt.Errorf("--node-ip %q: must be a non-loopback address of this machine (the apiserver will not proxy logs to loopback)", c.NodeIP)
	}
	for _, b := range c.binaries() {
		if _, err := os.Stat(filepath.Join(c.BinDir, b)); err != nil {
			return fmt.Errorf("component binary %s not found in %s: run `make build` first", b, c.BinDir)
		}
	}
	return nil
}

// completeRegistries reads and checks --registries-config and merges it with Berth's own entries.
func (c *Config) completeRegistries() error {
	var user *registries.File
	if c.RegistriesConfig != "" {
		if len(c.PodmanURLs) > 0 {
			return fmt.Errorf("--registries-config %s: berth writes it only into the Podman services it starts; with --podman-url, put it in that service's registries.conf.d and restart the service (see README: Registry mirrors)", c.RegistriesConfig)
		}
		abs, err := filepath.Abs(c.RegistriesConfig)
		if err != nil {
			return fmt.Errorf("--registries-config %s: %w", c.RegistriesConfig, err)
		}
		if user, err = registries.Load(abs); err != nil {
			return fmt.Errorf("--registries-config %s: %w", c.RegistriesConfig, err)
		}
		c.RegistriesConfig = abs
	}
	conf, err := registries.NodeConfig(user)
	if err != nil && user == nil {
		return fmt.Errorf("berth's own registries.conf: %w", err)
	} else if err != nil {
		return fmt.Errorf("--registries-config %s: %w", c.RegistriesConfig, err)
	}
	c.registriesConf = conf
	return nil
}

func (c *Config) binaries() []string {
	bins := []string{"berth-etcd", "kube-apiserver", "kube-controller-manager", "berth-scheduler", "berth-kubelet"}
	if c.NodeNetns {
		bins = append(bins, "kube-proxy", CoreDNSBinary)
	}
	return bins
}

func (c *Config) bin(name string) string { return filepath.Join(c.BinDir, name) }

// nodeName is the name of node i.
func (c *Config) nodeName(i int) string { return fmt.Sprintf("%s-%d", c.NodePrefix, i) }

// kubeletRootDir holds the volume folders of node i's pods.
func (c *Config) kubeletRootDir(i int) string {
	return filepath.Join(c.StateDir, "kubelet", c.nodeName(i))
}

// ports lists every port berth will listen on, with what uses it and the flag that changes it.
func (c *Config) ports() []portUse {
	ps := []portUse{
		{"0.0.0.0", c.APIServerPort, "kube-apiserver", "--apiserver-port"},
		{"127.0.0.1", c.EtcdPort, "etcd", "--etcd-port"},
		{"127.0.0.1", c.EtcdPeerPort, "etcd (peer)", "--etcd-peer-port"},
		{"127.0.0.1", c.ControllerManagerPort, "kube-controller-manager", "--controller-manager-port"},
		{"127.0.0.1", c.SchedulerPort, "berth-scheduler", "--scheduler-port"},
	}
	for i := 0; i < c.Nodes && !c.NodeNetns; i++ {
		ps = append(ps, portUse{c.NodeIP, c.KubeletPort + i, "kubelet API of " + c.nodeName(i), "--kubelet-port"})
	}
	if c.hasMetricsServer() {
		ps = append(ps, portUse{c.NodeIP, c.MetricsServerPort, "metrics-server", "--metrics-server-port"})
	}
	return ps
}

type portUse struct {
	host string
	port int
	what string
	flag string
}

// checkPorts fails with one clear line if a port berth needs is taken.
func (c *Config) checkPorts() error {
	for _, p := range c.ports() {
		addr := net.JoinHostPort(p.host, fmt.Sprint(p.port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("port %d (%s) is already in use on %s: stop what uses it, or pass %s", p.port, p.what, p.host, p.flag)
		}
		l.Close()
	}
	return nil
}

// hostIP finds the first non-loopback IPv4 address of this machine.
func hostIP() (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list network interfaces: %w", err)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || strings.HasPrefix(ifc.Name, "podman") || strings.HasPrefix(ifc.Name, "berth") || strings.HasPrefix(ifc.Name, "bth") || strings.HasPrefix(ifc.Name, "veth") {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String(), nil
			}
		}
	}
	return "", fmt.Errorf("this machine has no non-loopback IPv4 address for the node to advertise: pass --node-ip")
}
