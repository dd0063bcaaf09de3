// Package app is the berth-kubelet command: it registers a node backed by one Podman service and runs the pods
// bound to it through Berth's provider.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	"github.com/virtual-kubelet/virtual-kubelet/log/klogv2"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	nodev1listers "k8s.io/client-go/listers/node/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/kubelet/token"

	"github.com/berth-dev/berth/internal/kubeletapi"
	"github.com/berth-dev/berth/internal/registries"
	"github.com/berth-dev/berth/provider"
	"github.com/berth-dev/berth/provider/hairpin"
	berthnode "github.com/berth-dev/berth/provider/node"
	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/userns"
)

// Version is reported as the node's kubelet version.
const Version = "v1.37.2-berth"

// Options are the command's flags.
type Options struct {
	Kubeconfig  string
	NodeName    string
	NodeIP      string
	Port        int
	PodmanURL   string
	TLSCertFile string
	TLSKeyFile  string
	// RotateServerCertificates requests the serving certificate from the cluster (signer
	// kubernetes.io/kubelet-serving) and renews it before it expires, as the kubelet's serverTLSBootstrap.
	RotateServerCertificates bool
	// CertDir keeps the rotated serving certificates (empty: <root-dir>/pki).
	CertDir      string
	ClientCAFile string
	Network      string
	NetworkIface string
	Subnet       string
	// HostNetns is the node's network namespace (a path) when it is not the Podman host's; hostNetwork pods join it.
	HostNetns string
	// HairpinMode is the kubelet's --hairpin-mode: hairpin-veth or none.
	HairpinMode string
	Workers     int
	Taints      []string
	RootDir     string
	HostPaths   []string
	APIServer   string
	// AllowPrivileged lets pods run privileged containers.
	AllowPrivileged bool
	// AllowHostNamespaces lets pods use the host's PID and IPC namespaces.
	AllowHostNamespaces bool
	// AllowedCapabilities are the capabilities pods may add beyond the runtime's default set ("*": any).
	AllowedCapabilities []string
	// ClusterDNS, ClusterDomain and ResolvConf configure pods' DNS as the kubelet's flags of the same names.
	ClusterDNS    []string
	ClusterDomain string
	ResolvConf    string
	// HostsFile is the Podman host's hosts file, the base of hostNetwork pods' /etc/hosts.
	HostsFile string
	// AllowedUnsafeSysctls are the sysctls (or patterns ending in '*') pods may set beyond the safe ones, as the
	// kubelet's flag of the same name.
	AllowedUnsafeSysctls []string
	// PodmanUnreachableGrace is how long pods keep their phase while Podman does not answer, before they report
	// phase Unknown.
	PodmanUnreachableGrace time.Duration
	// PodmanUnreachableNodeGrace is how long Podman may go without answering before the node reports
	// Ready=False (PodmanUnreachable), as the kubelet's 30 s for its container runtime.
	PodmanUnreachableNodeGrace time.Duration
	// RegistriesConfig is a containers-registries.conf(5) v2 file whose mirrors the provider pulls through.
	RegistriesConfig string
	// SeccompDefault gives containers that ask for no seccomp profile the runtime's default, as the kubelet's flag.
	SeccompDefault bool
	// RuntimeHandlers are the RuntimeClass handlers the node runs, each an OCI runtime the Podman host knows.
	RuntimeHandlers []string
	// PodmanExitsDir is the Podman service's exits folder, watched for containers' exits when set.
	PodmanExitsDir string
	// EnableProfiling serves Go's profiles at /debug/pprof/ of the kubelet API, as the kubelet's
	// enableProfilingHandler does (authorized as nodes/proxy).
	EnableProfiling bool
	// MaxContainerRestartPeriod caps the crash-loop back-off, as the kubelet's
	// crashLoopBackOff.maxContainerRestartPeriod (1s to 300s).
	MaxContainerRestartPeriod time.Duration
	// MaxPods is the number of pods the node can run: its pods capacity and allocatable, as the kubelet's
	// maxPods.
	MaxPods int
	// UserNamespacesFirstID is the first host ID of the node's user namespaces (pods with hostUsers: false), as
	// the kubelet's subordinate IDs for its user: one range of 65536 IDs per pod the node can run from there
	// (0: 65536, the kubelet's default).
	UserNamespacesFirstID uint32
}

// NewCommand returns the berth-kubelet command.
func NewCommand() *cobra.Command {
	o := &Options{Port: 10250, NodeName: "berth-podman-0", Network: "berth", NetworkIface: "berth0", Workers: 8, HairpinMode: hairpin.Veth,
		RootDir: "/var/lib/berth-kubelet", ClusterDomain: "cluster.local", ResolvConf: "/etc/resolv.conf", HostsFile: provider.DefaultHostsFile,
		PodmanUnreachableGrace: provider.DefaultPodmanUnreachableGrace, PodmanUnreachableNodeGrace: berthnode.DefaultUnreachableAfter,
		MaxContainerRestartPeriod: maxContainerRestartPeriod, UserNamespacesFirstID: userns.Length, MaxPods: berthnode.DefaultMaxPods}
	cmd := &cobra.Command{
		Use:          "berth-kubelet",
		Short:        "A Kubernetes node whose pods run on a Podman host",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the node's identity (system:node:<name>)")
	f.StringVar(&o.NodeName, "node-name", o.NodeName, "name of the node to register")
	f.StringVar(&o.NodeIP, "node-ip", "", "address the node advertises; the apiserver reaches the kubelet API there (not loopback)")
	f.IntVar(&o.Port, "port", o.Port, "port of the kubelet API (logs)")
	f.StringVar(&o.PodmanURL, "podman-url", "unix:///run/podman/podman.sock", "Podman service: unix://, tcp:// or ssh://")
	f.StringVar(&o.PodmanExitsDir, "podman-exits-dir", "", "the Podman service's exits folder (its containers.conf engine tmp_dir, then exits; /run/libpod/exits for a root service by default), when this process sees it: conmon's exit files there tell exits at once, where Podman's event stream is polled every 250 ms (empty: the stream alone)")
	f.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serving certificate of the kubelet API (empty: a self-signed one, as the kubelet makes)")
	f.StringVar(&o.TLSKeyFile, "tls-private-key-file", "", "key of the serving certificate")
	f.BoolVar(&o.EnableProfiling, "enable-profiling", true, "serve Go's profiles (heap, goroutines, CPU) at /debug/pprof/ of the kubelet API, as the kubelet's enableProfilingHandler (authorized as nodes/proxy)")
	f.BoolVar(&o.RotateServerCertificates, "rotate-server-certificates", false, "request the serving certificate from the cluster with a kubernetes.io/kubelet-serving CSR and renew it before it expires, as the kubelet's serverTLSBootstrap (an approver must approve the CSRs; until one is issued the node serves a self-signed certificate and, after a minute, warns)")
	f.StringVar(&o.CertDir, "cert-dir", "", "folder of the rotated serving certificates (empty: <root-dir>/pki)")
	f.StringVar(&o.ClientCAFile, "client-ca-file", "", "CA that signs clients of the kubelet API (the apiserver's kubelet client certificate)")
	f.StringVar(&o.Network, "network", o.Network, "Podman network the pods join (created if missing)")
	f.StringVar(&o.NetworkIface, "network-interface", o.NetworkIface, "bridge interface of that network")
	f.StringVar(&o.Subnet, "subnet", "", "subnet of that network when it is created (empty: the first free /24 of the Podman host's default_subnet_pools, 10.89.0.0/24 unless another network or address of the host has it)")
	f.StringVar(&o.HostNetns, "host-network-namespace", "", "network namespace (a path, such as /run/netns/<name>) that is the node's when it is not the Podman host's: hostNetwork pods join it (berth up's nodes, each a namespace of its own); empty for the Podman host's")
	f.StringVar(&o.HairpinMode, "hairpin-mode", o.HairpinMode, "as the kubelet's: hairpin-veth turns hairpin on for the ports of the pods' bridge (in --host-network-namespace, else this process's namespace), so that a pod reaches itself through a Service; none leaves them as netavark makes them")
	f.IntVar(&o.Workers, "workers", o.Workers, "pods synced in parallel")
	f.StringSliceVar(&o.Taints, "register-with-taints", nil, "taints the node registers with, as key=value:Effect (like the kubelet's flag)")
	f.StringVar(&o.RootDir, "root-dir", o.RootDir, "folder of the pods' volume files (pods/<uid>/volumes); Podman bind-mounts them, so it must be a path of the Podman host")
	f.StringSliceVar(&o.HostPaths, "allowed-host-paths", nil, "host folders that hostPath volumes may name (at or below them); pods naming others fail with a FailedMount event")
	f.StringVar(&o.APIServer, "apiserver-address", "", "host:port at which containers reach the apiserver; the kubernetes service's KUBERNETES_SERVICE_HOST/PORT point there, since the node has no kube-proxy (empty: the service's cluster IP)")
	f.BoolVar(&o.AllowPrivileged, "allow-privileged", false, "let pods run privileged containers; otherwise such pods fail")
	f.BoolVar(&o.AllowHostNamespaces, "allow-host-namespaces", false, "let pods use the host's PID and IPC namespaces (hostPID, hostIPC); otherwise such pods fail")
	f.StringSliceVar(&o.AllowedCapabilities, "allowed-capabilities", nil, "capabilities containers may add beyond the container runtime's default set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT), such as NET_ADMIN; '*' for any; pods adding others fail")
	f.StringSliceVar(&o.ClusterDNS, "cluster-dns", nil, "IP addresses of the cluster DNS servers for dnsPolicy ClusterFirst pods (comma-separated); without any, such pods use the host's resolv.conf")
	f.StringVar(&o.ClusterDomain, "cluster-domain", o.ClusterDomain, "cluster DNS domain searched by ClusterFirst pods")
	f.StringVar(&o.ResolvConf, "resolv-conf", o.ResolvConf, "the host's resolver configuration, the base of pods' DNS settings (empty: none)")
	f.StringVar(&o.RegistriesConfig, "registries-config", "", "containers-registries.conf(5) v2 file: images of a registry it lists are pulled from that entry's mirrors first, by berth-kubelet itself (for a Podman service whose own registries.conf Berth cannot write)")
	f.StringVar(&o.HostsFile, "hosts-file", o.HostsFile, "the Podman host's hosts file as this process sees it; hostNetwork pods get it in their /etc/hosts, as the kubelet gives them the node's")
	f.StringSliceVar(&o.AllowedUnsafeSysctls, "allowed-unsafe-sysctls", nil, "comma-separated list of unsafe sysctls or unsafe sysctl patterns (ending in *) pods may set, beyond the safe ones (as the kubelet's flag); pods setting others fail with SysctlForbidden")
	f.DurationVar(&o.PodmanUnreachableGrace, "podman-unreachable-grace", o.PodmanUnreachableGrace, "how long pods keep their last phase while Podman does not answer; after it, every pod that is not terminal reports phase Unknown (not Ready, reason PodmanUnreachable) until Podman answers again")
	f.DurationVar(&o.PodmanUnreachableNodeGrace, "podman-unreachable-node-grace", o.PodmanUnreachableNodeGrace, "how long Podman may go without answering before the node reports Ready=False (reason PodmanUnreachable), as a kubelet waits 30 s for its container runtime; a slow or failed call within it leaves the node Ready")
	f.StringSliceVar(&o.RuntimeHandlers, "runtime-handlers", []string{provider.DefaultRuntimeHandler}, "RuntimeClass handlers the node runs, each the name of an OCI runtime the Podman host knows (its containers.conf [engine.runtimes]), such as runc or crun; a pod whose RuntimeClass names another handler, or no RuntimeClass that exists, fails to create its sandbox (FailedCreatePodSandBox) and is tried again, as under a kubelet")
	f.BoolVar(&o.SeccompDefault, "seccomp-default", false, "as the kubelet's: containers that ask for no seccomp profile get the container runtime's default one (RuntimeDefault) instead of running unconfined; Localhost profiles are read from <root-dir>/seccomp on the Podman host")
	f.DurationVar(&o.MaxContainerRestartPeriod, "max-container-restart-period", o.MaxContainerRestartPeriod, "the longest back-off between restarts of a crashing container (CrashLoopBackOff), as the kubelet's crashLoopBackOff.maxContainerRestartPeriod: 1s to 300s; the back-off starts at 10s, or at this period if it is shorter, and doubles up to it")
	f.IntVar(&o.MaxPods, "max-pods", o.MaxPods, "number of pods the node can run, reported as its pods capacity and allocatable, as the kubelet's maxPods; the scheduler places no more there")
	f.Uint32Var(&o.UserNamespacesFirstID, "user-namespaces-first-id", o.UserNamespacesFirstID, "first host ID (UID and GID) of the user namespaces of pods with hostUsers: false, a multiple of 65536 from 65536 up, as the kubelet's subordinate IDs: each such pod gets 65536 IDs of its own, and the node keeps one range per pod it can run (its max pods); nodes sharing a machine need spans apart")
	return cmd
}

// maxContainerRestartPeriod is the kubelet's longest crash-loop back-off (MaxContainerBackOff).
const maxContainerRestartPeriod = 300 * time.Second

// Validate checks the options.
func (o *Options) Validate() error {
	if o.NodeIP == "" {
		return fmt.Errorf("--node-ip is required: the apiserver reaches the kubelet API there")
	}
	ip := net.ParseIP(o.NodeIP)
	if ip == nil {
		return fmt.Errorf("--node-ip %q is not an IP address", o.NodeIP)
	}
	if ip.IsLoopback() {
		return fmt.Errorf("--node-ip %s is a loopback address: the apiserver refuses to proxy logs to it; use an address of this machine such as the Podman bridge gateway", o.NodeIP)
	}
	if o.PodmanExitsDir != "" && !localPodman(o.PodmanURL) {
		return fmt.Errorf("--podman-exits-dir %s: the Podman service at %s is not on this machine (not unix://)", o.PodmanExitsDir, o.PodmanURL)
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return fmt.Errorf("--tls-cert-file and --tls-private-key-file go together (neither: a self-signed certificate)")
	}
	if o.RotateServerCertificates && o.TLSCertFile != "" {
		return fmt.Errorf("--rotate-server-certificates requests the serving certificate from the cluster: drop --tls-cert-file and --tls-private-key-file")
	}
	if o.CertDir != "" && !filepath.IsAbs(o.CertDir) {
		return fmt.Errorf("--cert-dir %q must be an absolute path", o.CertDir)
	}
	if o.MaxPods <= 0 {
		return fmt.Errorf("--max-pods %d must be positive", o.MaxPods)
	}
	if o.Port <= 0 || o.Port > 65535 {
		return fmt.Errorf("--port %d is out of range", o.Port)
	}
	if _, err := parseTaints(o.Taints); err != nil {
		return err
	}
	if o.HairpinMode != hairpin.Veth && o.HairpinMode != hairpin.None && o.HairpinMode != "" {
		return fmt.Errorf("--hairpin-mode %q: want %s or %s", o.HairpinMode, hairpin.Veth, hairpin.None)
	}
	for _, s := range o.ClusterDNS {
		if net.ParseIP(s) == nil {
			return fmt.Errorf("--cluster-dns %q is not an IP address", s)
		}
	}
	if !filepath.IsAbs(o.RootDir) {
		return fmt.Errorf("--root-dir %q must be an absolute path", o.RootDir)
	}
	if err := userns.CheckFirstID(o.UserNamespacesFirstID); o.UserNamespacesFirstID != 0 && err != nil {
		return fmt.Errorf("--user-namespaces-first-id: %w", err)
	}
	for _, c := range o.AllowedCapabilities {
		if !podspec.ValidCapability(c) {
			return fmt.Errorf("--allowed-capabilities %q is not a capability name (such as NET_ADMIN), ALL or '*'", c)
		}
	}
	for _, h := range o.HostPaths {
		if !filepath.IsAbs(h) {
			return fmt.Errorf("--allowed-host-paths %q must be an absolute path", h)
		}
	}
	if _, err := podspec.NewSysctlAllowlist(o.AllowedUnsafeSysctls); err != nil {
		return fmt.Errorf("--allowed-unsafe-sysctls: %w", err)
	}
	if o.HostsFile != "" && !filepath.IsAbs(o.HostsFile) {
		return fmt.Errorf("--hosts-file %q must be an absolute path", o.HostsFile)
	}
	if o.PodmanUnreachableGrace <= 0 {
		return fmt.Errorf("--podman-unreachable-grace %s must be positive", o.PodmanUnreachableGrace)
	}
	if o.PodmanUnreachableNodeGrace <= 0 {
		return fmt.Errorf("--podman-unreachable-node-grace %s must be positive", o.PodmanUnreachableNodeGrace)
	}
	if o.MaxContainerRestartPeriod < time.Second || o.MaxContainerRestartPeriod > maxContainerRestartPeriod {
		return fmt.Errorf("--max-container-restart-period %s must be between 1s and %s, as the kubelet's crashLoopBackOff.maxContainerRestartPeriod", o.MaxContainerRestartPeriod, maxContainerRestartPeriod)
	}
	if o.APIServer != "" {
		if _, port, err := net.SplitHostPort(o.APIServer); err != nil || port == "" {
			return fmt.Errorf("--apiserver-address %q: want host:port", o.APIServer)
		}
	}
	return nil
}

// finalizer writes a deleted pod's final status and deletes its object at once, with its UID as precondition so
// that a pod recreated under the same name is left alone; finalizers other controllers put on it still apply.
func finalizer(client kubernetes.Interface) func(context.Context, *corev1.Pod) error {
	return func(ctx context.Context, final *corev1.Pod) error {
		pods := client.CoreV1().Pods(final.Namespace)
		cur, err := pods.Get(ctx, final.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && cur.UID != final.UID) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get pod: %w", err)
		}
		cur.Status = final.Status
		if _, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("write final status: %w", err)
		}
		opts := metav1.NewDeleteOptions(0)
		opts.Preconditions = metav1.NewUIDPreconditions(string(final.UID))
		if err := pods.Delete(ctx, final.Name, *opts); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete pod: %w", err)
		}
		return nil
	}
}

// userNamespacesRefusal says why the node's host makes no user namespaces, "" when it does. Only a Podman on this
// machine is checked: a remote host that cannot fails the pods' sandboxes itself.
func userNamespacesRefusal(o *Options) string {
	if localPodman(o.PodmanURL) {
		if err := userns.HostSupport(userns.MaxUserNamespaces); err != nil {
			return err.Error()
		}
	}
	return ""
}

// userNamespaces is the allocator of the node's user namespaces, a range per pod the node can run (allocatable's
// pods, as the kubelet requires of its span) from --user-namespaces-first-id.
func userNamespaces(o *Options, allocatable corev1.ResourceList) (*userns.Allocator, error) {
	first := o.UserNamespacesFirstID
	if first == 0 {
		first = userns.Length
	}
	a, err := userns.New(first, int(allocatable.Pods().Value()))
	if err != nil {
		return nil, fmt.Errorf("--user-namespaces-first-id: %w", err)
	}
	return a, nil
}

// localPodman tells whether the Podman service runs on this machine (a unix socket), whose /proc and filesystems
// are then the Podman host's.
func localPodman(podmanURL string) bool {
	return strings.HasPrefix(podmanURL, "unix://")
}

// hostUsage reads the node's CPU and memory from this machine's /proc when Podman runs here; for a remote Podman
// the provider falls back to Podman's numbers.
func hostUsage(podmanURL string) func() (provider.HostUsage, error) {
	if localPodman(podmanURL) {
		return provider.ProcHostUsage
	}
	return nil
}

// memAvailable reads the host's MemAvailable, which the node publishes for the scheduler, from its usage; nil
// without one (a remote Podman, whose API reports only MemFree, page cache counting as used). A reading without
// MemAvailable (kernels before 3.14) is none, not 0.
func memAvailable(usage func() (provider.HostUsage, error)) func() (int64, error) {
	if usage == nil {
		return nil
	}
	return func() (int64, error) {
		u, err := usage()
		if err != nil {
			return 0, err
		}
		if u.MemAvailable == 0 {
			return 0, errors.New("no MemAvailable in the host's /proc/meminfo")
		}
		return int64(u.MemAvailable), nil
	}
}

// nodeFs reads the filesystem of the kubelet's root folder, for the node's DiskPressure condition; nil for a
// remote Podman, whose host this process cannot see.
func nodeFs(podmanURL, rootDir string) func() (berthnode.FsStats, error) {
	if !localPodman(podmanURL) {
		return nil
	}
	return func() (berthnode.FsStats, error) {
		var st unix.Statfs_t
		if err := unix.Statfs(rootDir, &st); err != nil {
			return berthnode.FsStats{}, fmt.Errorf("statfs %s: %w", rootDir, err)
		}
		bsize := uint64(st.Bsize)
		return berthnode.FsStats{Capacity: st.Blocks * bsize, Available: st.Bavail * bsize, Inodes: st.Files, InodesFree: st.Ffree}, nil
	}
}

// parseTaints reads key=value:Effect (value optional) specs.
func parseTaints(specs []string) ([]corev1.Taint, error) {
	var out []corev1.Taint
	for _, s := range specs {
		kv, effect, ok := strings.Cut(s, ":")
		key, value, _ := strings.Cut(kv, "=")
		e := corev1.TaintEffect(effect)
		if !ok || key == "" || (e != corev1.TaintEffectNoSchedule && e != corev1.TaintEffectPreferNoSchedule && e != corev1.TaintEffectNoExecute) {
			return nil, fmt.Errorf("--register-with-taints %q: want key=value:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute", s)
		}
		out = append(out, corev1.Taint{Key: key, Value: value, Effect: e})
	}
	return out, nil
}

// Run runs the virtual kubelet until ctx ends.
func Run(ctx context.Context, o *Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	var regs *registries.File
	if o.RegistriesConfig != "" {
		var err error
		if regs, err = registries.Load(o.RegistriesConfig); err != nil {
			return fmt.Errorf("--registries-config %s: %w", o.RegistriesConfig, err)
		}
	}
	vklog.L = klogv2.New(nil)
	logger := klog.FromContext(ctx).WithValues("node", o.NodeName)
	ctx = klog.NewContext(ctx, logger)
	if regs != nil {
		logger.Info("Pulling through the mirrors of the registries config", "file", regs.Path)
	}

	rest, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", o.Kubeconfig, err)
	}
	rest.QPS, rest.Burst = 50, 100
	rest.UserAgent = "berth-kubelet/" + Version
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return fmt.Errorf("build client: %w", err)
	}

	// Before anything touches Podman: a second berth-kubelet of the same node refuses to run.
	lease := berthnode.NewLeaseClaim(client, o.NodeName, berthnode.HolderIdentity())
	if err := lease.ClaimRetrying(ctx); err != nil {
		return err
	}
	releaseOnSignal(ctx, lease)

	rt, err := podman.Dial(ctx, o.PodmanURL)
	if err != nil {
		return err
	}
	if err := rt.Ping(ctx); err != nil {
		return fmt.Errorf("podman at %s does not answer: %w", o.PodmanURL, err)
	}
	podCIDRs, err := rt.EnsureNetwork(ctx, o.Network, o.NetworkIface, o.Subnet)
	if err != nil {
		return err
	}

	// As the kubelet: the safe sysctls of the kernel that runs the containers (the Podman host's), then the
	// unsafe ones the node allows; and the security modules the host enforces, for pods' profiles.
	info, err := rt.Info(ctx)
	if err != nil {
		logger.Error(err, "Reading the Podman host's kernel version and security modules")
	}
	kernel := info.Kernel
	sysctls, err := podspec.NewSysctlAllowlist(append(podspec.SafeSysctls(ctx, kernel), o.AllowedUnsafeSysctls...))
	if err != nil {
		return fmt.Errorf("--allowed-unsafe-sysctls: %w", err)
	}

	eb := record.NewBroadcaster(record.WithContext(ctx))
	eb.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer eb.Shutdown()
	recorder := eb.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: o.NodeName})

	taints, _ := parseTaints(o.Taints)
	usage := hostUsage(o.PodmanURL)
	noUserns := userNamespacesRefusal(o)
	np := berthnode.New(ctx, berthnode.Config{Name: o.NodeName, IP: o.NodeIP, KubeletPort: int32(o.Port), Version: Version, MaxPods: o.MaxPods, Runtime: rt, Taints: taints, PodCIDRs: podCIDRs,
		UnreachableAfter: o.PodmanUnreachableNodeGrace, MemAvailable: memAvailable(usage),
		NodeFs: nodeFs(o.PodmanURL, o.RootDir), RuntimeHandlers: o.RuntimeHandlers, UserNamespaces: noUserns == ""})
	tokens := token.NewManager(client)
	var setHairpin func(context.Context) error
	if o.HairpinMode == hairpin.Veth {
		setHairpin = hairpin.New(o.NetworkIface, o.HostNetns).Ensure
	}
	var nsAlloc *userns.Allocator
	if noUserns == "" {
		if nsAlloc, err = userNamespaces(o, np.Allocatable()); err != nil {
			return err
		}
	}
	p := provider.New(provider.Config{NodeName: o.NodeName, NodeIP: o.NodeIP, Network: o.Network, HostNetns: o.HostNetns, Hairpin: setHairpin, Runtime: rt, Recorder: recorder,
		Allocatable: np.Allocatable(), RootDir: o.RootDir, AllowedHostPaths: o.HostPaths, Tokens: tokens.GetServiceAccountToken, Claims: client.CoreV1(),
		APIServer: o.APIServer, AllowPrivileged: o.AllowPrivileged, AllowHostNamespaces: o.AllowHostNamespaces, AllowedCapabilities: o.AllowedCapabilities, ClusterDNS: o.ClusterDNS, ClusterDomain: o.ClusterDomain,
		ResolvConf: o.ResolvConf, HostsFile: o.HostsFile, Sysctls: sysctls, AppArmor: info.AppArmor, SELinux: info.SELinux, HostUsage: usage, Finalize: finalizer(client), PodmanUnreachableGrace: o.PodmanUnreachableGrace,
		MaxContainerRestartPeriod: o.MaxContainerRestartPeriod, ExitsDir: o.PodmanExitsDir, SeccompDefault: o.SeccompDefault, RuntimeHandlers: o.RuntimeHandlers, Registries: regs,
		UserNamespaces: nsAlloc, NoUserNamespaces: noUserns})
	if n, err := p.Adopt(ctx); err != nil {
		return fmt.Errorf("take stock of the Podman pods of an earlier run: %w", err)
	} else if n > 0 {
		logger.Info("Found Podman pods of an earlier run to adopt", "count", n)
	}
	var rotating *servingCert
	if o.RotateServerCertificates {
		if rotating, err = startServingCertRotation(ctx, o, client, recorder); err != nil {
			return err
		}
	}
	tlsCfg, err := serverTLS(o, rotating)
	if err != nil {
		return err
	}
	var clientCA dynamiccertificates.CAContentProvider
	if o.ClientCAFile != "" {
		if clientCA, err = dynamiccertificates.NewDynamicCAContentFromFile("client-ca", o.ClientCAFile); err != nil {
			return fmt.Errorf("load client CA %s: %w", o.ClientCAFile, err)
		}
	}
	auth := kubeletapi.NewWebhookAuth(kubeletapi.Clients{Authentication: client.AuthenticationV1(), Authorization: client.AuthorizationV1()}, o.NodeName, clientCA)
	mux := http.NewServeMux()
	// As the kubelet's /metrics (nodes/metrics): the process's own Go runtime and process metrics
	// (go_goroutines, process_resident_memory_bytes, ...); virtual-kubelet's routes serve the rest, including
	// /metrics/resource.
	mux.Handle("/metrics", legacyregistry.Handler())
	if o.EnableProfiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	vk, err := newVKNode(vkNodeConfig{
		Name:   o.NodeName,
		Client: client,
		Configure: func(l provider.Listers, n *corev1.Node) (*provider.Provider, node.NodeProvider) {
			np.Configure(n)
			l.RuntimeClasses = runtimeClasses(ctx, client)
			p.SetListers(l)
			return p, np
		},
		Mux:                  mux,
		Handler:              api.InstrumentHandler(auth.Wrap(zeroTail(mux))),
		ListenAddr:           net.JoinHostPort(o.NodeIP, strconv.Itoa(o.Port)),
		TLSConfig:            tlsCfg,
		Workers:              o.Workers,
		InformerResyncPeriod: time.Minute,
		EventRecorder:        quietRecorder{recorder},
		PodController: func(c *node.PodControllerConfig) {
			// virtual-kubelet's default queues allow 10 items/s overall, which throttles a burst of pods below
			// what the client (50 QPS, as the kubelet's) and Podman can do.
			c.SyncPodsFromKubernetesRateLimiter = queueLimiter()
			c.SyncPodStatusFromProviderRateLimiter = queueLimiter()
			c.DeletePodsFromKubernetesRateLimiter = queueLimiter()
		},
	})
	if err != nil {
		return fmt.Errorf("set up node %s: %w", o.NodeName, err)
	}
	reconcileConditions(ctx, client, o.NodeName, p)
	logger.Info("Starting virtual kubelet", "podman", o.PodmanURL, "address", o.NodeIP, "port", o.Port)
	go p.Run(ctx, func(ctx context.Context) error {
		if err := vk.WaitReady(ctx); err != nil {
			return err
		}
		logger.Info("Node is registered and ready to run pods")
		if err := berthnode.EnsurePodCIDRs(ctx, client, recorder, o.NodeName, podCIDRs); err != nil {
			logger.Error(err, "Registering the pods' subnets as the node's podCIDRs")
		}
		return nil
	})
	if err := vk.Run(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("run node %s: %w", o.NodeName, err)
	}
	return nil
}

// runtimeClasses watches the cluster's RuntimeClasses, whose handlers name the OCI runtimes of pods, as the
// kubelet's runtimeclass manager does. It waits a little for the first list, so that the pods the node starts first
// find their class.
func runtimeClasses(ctx context.Context, client kubernetes.Interface) nodev1listers.RuntimeClassLister {
	factory := informers.NewSharedInformerFactory(client, 0)
	rcs := factory.Node().V1().RuntimeClasses()
	informer := rcs.Informer()
	factory.Start(ctx.Done())
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(wctx.Done(), informer.HasSynced) {
		klog.FromContext(ctx).Info("RuntimeClasses not listed yet; pods naming one wait for it")
	}
	return rcs.Lister()
}

// reconcileConditions watches the node's pods for changes of their status alone, which virtual-kubelet does not
// pass on, and gives the provider their conditions (readiness gates), as the kubelet's pod config reconciles them.
func reconcileConditions(ctx context.Context, client kubernetes.Interface, nodeName string, p *provider.Provider) {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, podsOfNode(nodeName))
	_, err := factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				p.ReconcileConditions(pod)
			}
		},
	})
	if err != nil {
		klog.FromContext(ctx).Error(err, "Watching pods' conditions; readiness gates follow only other changes")
		return
	}
	factory.Start(ctx.Done())
}

// zeroTail passes on to the provider that a container logs request asked for tailLines=0, which virtual-kubelet's
// log options cannot tell from no tailLines at all.
func zeroTail(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/containerLogs/") {
			if q := r.URL.Query(); q.Has("tailLines") {
				if n, err := strconv.Atoi(q.Get("tailLines")); err == nil && n == 0 {
					r = r.WithContext(provider.WithZeroTail(r.Context()))
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// releaseOnSignal releases the node's lease when the process is asked to stop (SIGTERM, SIGINT), then lets the
// signal end it as before: pods keep running in Podman for the next berth-kubelet of the node to adopt, and that
// one may start at once.
func releaseOnSignal(ctx context.Context, lease *berthnode.LeaseClaim) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-sigs
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		if err := lease.Release(rctx); err != nil {
			klog.FromContext(ctx).Error(err, "Releasing the node's lease")
		}
		cancel()
		klog.Flush()
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
	}()
}

// queueLimiter hands an item over at once unless it failed, retries a failing one with exponential back-off
// (10 ms to 5 min), and lets 100 items/s through overall, with bursts of 500.
func queueLimiter() workqueue.TypedRateLimiter[any] {
	return workqueue.NewTypedMaxOfRateLimiter[any](
		retryBackoff{workqueue.NewTypedItemExponentialFailureRateLimiter[any](5*time.Millisecond, 5*time.Minute)},
		&workqueue.TypedBucketRateLimiter[any]{Limiter: rate.NewLimiter(rate.Limit(100), 500)},
	)
}

// retryBackoff delays only the retries of an item: virtual-kubelet's queues ask the rate limiter for every item
// they are given and forget the item once handled, so client-go's exponential failure limiter alone would delay
// every new pod and every status change by its base delay (5 ms), which no failure called for.
type retryBackoff struct {
	workqueue.TypedRateLimiter[any]
}

// When implements workqueue.TypedRateLimiter: no delay for an item that has not failed since it was last handled.
func (r retryBackoff) When(item any) time.Duration {
	retries := r.NumRequeues(item)
	d := r.TypedRateLimiter.When(item)
	if retries == 0 {
		return 0
	}
	return d
}

// serverTLS is the kubelet API's TLS configuration: the node's serving certificate (from the files given, from the
// cluster through CSRs when rotating, or self-signed), and client certificates verified against the client CA when
// given.
func serverTLS(o *Options, rotating *servingCert) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}
	switch {
	case rotating != nil:
		cfg.GetCertificate = rotating.GetCertificate
	case o.TLSCertFile != "":
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load serving certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	default:
		// As the kubelet without --tls-cert-file: a self-signed certificate for the node's name and address.
		cert, err := selfSigned(o)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if err := clientTLS(cfg, o.ClientCAFile); err != nil {
		return nil, err
	}
	return cfg, nil
}
