package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/internal/csrapprover"
	"github.com/berth-dev/berth/manifests"
	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/userns"
	"github.com/berth-dev/berth/provider/volume"
)

// Cluster is a running local cluster.
type Cluster struct {
	cfg   Config
	creds *credentials
	lock  *os.File
	// procsMu guards procs: metrics-server may join them after Up (Config.AwaitMetricsServer).
	procsMu sync.Mutex
	procs   []*process // in start order
	hosts   []podmanHost
	client  kubernetes.Interface
	// restConfig is the admin client's configuration.
	restConfig *rest.Config
	started    time.Time
	// nodesReady is how long after the start every node was Ready with its serving certificate, before the add-ons
	// (kube-proxy, cluster DNS, metrics-server).
	nodesReady time.Duration
	stopped    sync.Once
	// stopApprover ends the approver of the nodes' serving certificates.
	stopApprover context.CancelFunc
	// nets are the nodes' network namespaces (Config.NodeNetns), nil when the nodes share the machine's.
	nets []nodeNet
	// stopLate ends the wait for a metrics-server built after Up (Config.AwaitMetricsServer); late is done
	// when that wait has returned.
	stopLate context.CancelFunc
	late     sync.WaitGroup
}

// processes are the components started so far, in start order.
func (c *Cluster) processes() []*process {
	c.procsMu.Lock()
	defer c.procsMu.Unlock()
	return slices.Clone(c.procs)
}

// Client is an admin client of the cluster.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// NodesReady is how long Up took until every node was Ready and served its kubelet API with the certificate the
// cluster issued; Up goes on with kube-proxy, cluster DNS and metrics-server after it.
func (c *Cluster) NodesReady() time.Duration { return c.nodesReady }

// Kubeconfig is the admin kubeconfig's path.
func (c *Cluster) Kubeconfig() string { return c.cfg.Kubeconfig() }

// Config is the completed configuration.
func (c *Cluster) Config() Config { return c.cfg }

// NodeNames lists the cluster's nodes.
func (c *Cluster) NodeNames() []string {
	var out []string
	for i := 0; i < c.cfg.Nodes; i++ {
		out = append(out, c.cfg.nodeName(i))
	}
	return out
}

// NodeIPs lists each node's address (InternalIP): its network namespace's with Config.NodeNetns, else the machine's.
func (c *Cluster) NodeIPs() []string {
	var out []string
	for i := 0; i < c.cfg.Nodes; i++ {
		host, _ := c.kubeletAddr(i)
		out = append(out, host)
	}
	return out
}

// NodeNetnsPaths lists each node's network namespace (Config.NodeNetns; none without).
func (c *Cluster) NodeNetnsPaths() []string {
	var out []string
	for _, n := range c.nets {
		out = append(out, n.Path())
	}
	return out
}

// PodmanURLs lists each node's Podman service.
func (c *Cluster) PodmanURLs() []string {
	var out []string
	for _, h := range c.hosts {
		out = append(out, h.url)
	}
	return out
}

// Exited delivers an error when any component started so far stops unexpectedly (a metrics-server started later,
// Config.AwaitMetricsServer, is not watched: the cluster runs on without kubectl top).
func (c *Cluster) Exited() <-chan error {
	ch := make(chan error, 1)
	for _, p := range c.processes() {
		go func() {
			<-p.exited
			select {
			case ch <- p.failure(""):
			default:
			}
		}()
	}
	return ch
}

// StopNode stops node i's virtual kubelet (SIGTERM: it releases its node's lease and exits at once, as a crash
// would otherwise), leaving its pods running in Podman.
func (c *Cluster) StopNode(i int) error {
	p, err := c.kubelet(i)
	if err != nil {
		return err
	}
	p.stop(10 * time.Second)
	return nil
}

// KillNode kills node i's virtual kubelet with SIGKILL, as a crash or the OOM killer would, and waits for it to
// exit: it releases nothing (its node's lease stays held by the dead process) and leaves its pods running in Podman.
func (c *Cluster) KillNode(i int) error {
	p, err := c.kubelet(i)
	if err != nil {
		return err
	}
	return p.kill(10 * time.Second)
}

// KubeletPID is the process ID of node i's virtual kubelet (0 when it does not run).
func (c *Cluster) KubeletPID(i int) int {
	p, err := c.kubelet(i)
	if err != nil || !p.running() {
		return 0
	}
	return p.cmd.Process.Pid
}

// KubeletRootDir is node i's kubelet root folder (berth-kubelet --root-dir), which holds pods/<uid>.
func (c *Cluster) KubeletRootDir(i int) string { return c.cfg.kubeletRootDir(i) }

// StartNode starts node i's virtual kubelet again with the same configuration and waits until the node reports
// Ready again.
func (c *Cluster) StartNode(ctx context.Context, i int) error {
	p, err := c.kubelet(i)
	if err != nil {
		return err
	}
	return c.restart(ctx, p, c.nodeReadySince(c.cfg.nodeName(i), time.Now()))
}

// StopPodman stops node i's Podman service as `systemctl stop podman.service` does (SIGTERM to the service alone,
// KillMode=process): the containers run on under their conmon. It waits until the service has exited.
func (c *Cluster) StopPodman(i int) error {
	p, err := c.component(fmt.Sprintf("podman-%d", i))
	if err != nil {
		return err
	}
	p.stopLeader(30 * time.Second)
	return nil
}

// StartPodman starts node i's Podman service again with the same configuration and waits until it answers.
func (c *Cluster) StartPodman(ctx context.Context, i int) error {
	p, err := c.component(fmt.Sprintf("podman-%d", i))
	if err != nil {
		return err
	}
	return c.restart(ctx, p, podmanAnswers(c.hosts[i].url))
}

// restart starts a stopped component again with the same command, in its place among the cluster's processes,
// and waits (up to a minute) until ready passes.
func (c *Cluster) restart(ctx context.Context, p *process, ready func(context.Context) error) error {
	np, err := c.relaunch(p)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return waitFor(wctx, np, "", ready)
}

func (c *Cluster) kubelet(i int) (*process, error) {
	return c.component("kubelet-" + c.cfg.nodeName(i))
}

// component is the process berth started under name (kubelet-<node>, podman-<i>, ...).
func (c *Cluster) component(name string) (*process, error) {
	for _, p := range c.processes() {
		if p.name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("berth started no %s", name)
}

// ErrAlreadyRunning means another berth holds the state folder.
var ErrAlreadyRunning = errors.New("berth is already running")

// saved is what berth down needs to know about a run.
type saved struct {
	PodmanURLs []string `json:"podmanURLs"`
	External   bool     `json:"external"`
}

func (c *Config) progress(format string, args ...any) {
	fmt.Fprintf(c.Out, format+"\n", args...)
}

// Up brings the cluster up and returns once every component is ready. On failure it stops whatever it started.
func Up(ctx context.Context, cfg Config) (_ *Cluster, retErr error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, started: time.Now(), hosts: cfg.podmanHosts()}
	for _, d := range []string{"logs", "pids", "pki", "etcd"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("create state folder %s: %w", cfg.StateDir, err)
		}
	}
	lock, err := lockState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	c.lock = lock
	defer func() {
		if retErr != nil {
			c.Stop(context.WithoutCancel(ctx))
		}
	}()
	// Components of a crashed run got SIGTERM when it died; give them time to finish exiting.
	alive := alivePIDs(filepath.Join(cfg.StateDir, "pids"), cfg.StateDir)
	for deadline := time.Now().Add(15 * time.Second); len(alive) > 0 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		alive = alivePIDs(filepath.Join(cfg.StateDir, "pids"), cfg.StateDir)
	}
	if len(alive) > 0 {
		var names []string
		for n, pid := range alive {
			names = append(names, fmt.Sprintf("%s pid %d", n, pid))
		}
		return nil, fmt.Errorf("processes of an earlier berth run on %s are still running (%s): run `berth down --state %s` first", cfg.StateDir, strings.Join(names, ", "), cfg.StateDir)
	}
	if len(cfg.PodmanURLs) == 0 {
		if _, err := podmanBinary(); err != nil {
			return nil, err
		}
	}
	if cfg.NodeNetns {
		if err := netnsTools(); err != nil {
			return nil, err
		}
	}
	for _, url := range cfg.PodmanURLs {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := podmanAnswers(url)(pctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("cannot reach Podman at %s (%v): start it (e.g. systemctl start podman.socket) or fix --podman-url", url, err)
		}
	}
	if err := cfg.checkPorts(); err != nil {
		return nil, err
	}
	if err := c.save(); err != nil {
		return nil, err
	}
	creds, err := cfg.makeCredentials()
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	c.creds = creds
	if cfg.NodeNetns {
		c.useLeftoverNetns()
	}
	if err := c.cleanLeftovers(ctx); err != nil {
		return nil, err
	}
	if cfg.NodeNetns {
		if err := c.setUpNodeNets(ctx); err != nil {
			return nil, err
		}
	}

	if cfg.RegistriesConfig != "" {
		cfg.progress("  registries of the nodes' Podman: Berth's entries and %s", cfg.RegistriesConfig)
	}
	// etcd and the Podman services do not depend on anything: start them together.
	etcd, err := c.startEtcd()
	if err != nil {
		return nil, err
	}
	podmans, err := c.startPodman()
	if err != nil {
		return nil, err
	}
	if err := c.step(ctx, "etcd", etcd, etcdHealthy(cfg.EtcdPort)); err != nil {
		return nil, err
	}
	if err := c.adminClient(); err != nil {
		return nil, err
	}
	apiserver, err := c.startAPIServer()
	if err != nil {
		return nil, err
	}
	// The virtual kubelets' extra permissions are granted as soon as the apiserver takes writes, before it is
	// ready and before a kubelet can have claimed its lease, while the rest starts.
	rbac := make(chan error, 1)
	go func() {
		rbac <- await(ctx, apiserver, func(ctx context.Context) error { return bootstrapRBAC(ctx, c.client) })
	}()
	for i, p := range podmans {
		if err := c.step(ctx, fmt.Sprintf("podman %d (%s)", i, c.hosts[i].url), p, podmanAnswers(c.hosts[i].url)); err != nil {
			return nil, err
		}
	}
	// The virtual kubelets start while the apiserver does: each claims its node's lease, retrying until the apiserver
	// answers, and then sets up its Podman network and registers the node. They need their Podman service (a kubelet
	// whose Podman does not answer exits), which is up by now.
	var vks []*process
	for i := 0; i < cfg.Nodes; i++ {
		vk, err := c.startKubelet(i)
		if err != nil {
			return nil, err
		}
		vks = append(vks, vk)
	}
	if err := c.step(ctx, "kube-apiserver", apiserver, c.apiserverReady); err != nil {
		return nil, err
	}
	if err := <-rbac; err != nil {
		return nil, err
	}
	// The kubelets request their serving certificates from the cluster (--rotate-server-certificates); the
	// controller-manager signs them once approved, and berth up approves those naming the node's own addresses.
	actx, stopApprover := context.WithCancel(ctx)
	c.stopApprover = stopApprover
	go csrapprover.Run(klog.NewContext(actx, klog.FromContext(ctx).WithName("csrapprover")), c.client)
	metrics := cfg.hasMetricsServer()
	switch {
	case metrics:
		if err := c.registerMetricsAPI(ctx); err != nil {
			return nil, err
		}
	case cfg.AwaitMetricsServer:
		cfg.progress("  (no %s in %s yet: berth starts it once it is built there; kubectl top works from then on)", metricsServerBinary, cfg.BinDir)
	default:
		cfg.progress("  (no %s in %s: kubectl top will not work)", metricsServerBinary, cfg.BinDir)
	}
	cm, err := c.startControllerManager()
	if err != nil {
		return nil, err
	}
	sched, err := c.startScheduler()
	if err != nil {
		return nil, err
	}
	var ms *process
	if metrics {
		if ms, err = c.startMetricsServer(); err != nil {
			return nil, err
		}
	}
	if err := c.importImages(ctx); err != nil {
		return nil, err
	}
	if err := c.step(ctx, "kube-controller-manager", cm, healthz(cfg.ControllerManagerPort, creds.ca.CertPEM)); err != nil {
		return nil, err
	}
	if err := c.step(ctx, "berth-scheduler", sched, healthz(cfg.SchedulerPort, creds.ca.CertPEM)); err != nil {
		return nil, err
	}
	for i, vk := range vks {
		if err := c.step(ctx, "node "+cfg.nodeName(i), vk, all(c.nodeReadySince(cfg.nodeName(i), c.started), c.kubeletServesIssuedCert(i))); err != nil {
			return nil, err
		}
	}
	c.nodesReady = time.Since(c.started)
	for i := range c.nets {
		kp, err := c.startKubeProxy(i)
		if err != nil {
			return nil, err
		}
		if err := c.step(ctx, "kube-proxy of "+cfg.nodeName(i), kp, kubeProxyHealthy(c.nets[i].NodeIP)); err != nil {
			return nil, err
		}
	}
	if c.nets != nil {
		if err := c.deployClusterDNS(ctx); err != nil {
			return nil, err
		}
		if err := c.step(ctx, "cluster DNS (coredns)", cm, c.clusterDNSReady); err != nil {
			return nil, err
		}
	}
	if err := c.step(ctx, "default service account", cm, c.defaultServiceAccount); err != nil {
		return nil, err
	}
	if ms != nil {
		if err := c.step(ctx, "metrics-server", ms, c.metricsServerLive()); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(cfg.StateDir, "ready"), []byte(cfg.Kubeconfig()+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("mark ready: %w", err)
	}
	cfg.progress("Cluster ready in %s.", time.Since(c.started).Round(10*time.Millisecond))
	if !metrics && cfg.AwaitMetricsServer {
		c.awaitMetricsServer(ctx)
	}
	return c, nil
}

// step waits for a component and prints a progress line.
func (c *Cluster) step(ctx context.Context, name string, p *process, check func(context.Context) error) error {
	if err := await(ctx, p, check); err != nil {
		return err
	}
	c.cfg.progress("  ✓ %-28s ready after %s", name, time.Since(c.started).Round(10*time.Millisecond))
	return nil
}

// lockState takes the state folder's lock and records this process as its holder, or says who holds it.
func lockState(dir string) (*os.File, error) {
	f, err := flockState(dir)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "berth.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		f.Close()
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	return f, nil
}

// flockState takes the state folder's lock, or says who holds it.
func flockState(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "berth.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock of %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		pid, _ := os.ReadFile(filepath.Join(dir, "berth.pid"))
		return nil, fmt.Errorf("%w on %s (pid %s): run `berth down --state %s` to stop it, or choose another --state", ErrAlreadyRunning, dir, strings.TrimSpace(string(pid)), dir)
	}
	return f, nil
}

func (c *Cluster) save() error {
	s := saved{External: len(c.cfg.PodmanURLs) > 0}
	for _, h := range c.hosts {
		s.PodmanURLs = append(s.PodmanURLs, h.url)
	}
	b, _ := json.Marshal(s)
	return os.WriteFile(filepath.Join(c.cfg.StateDir, "cluster.json"), b, 0o644)
}

// start starts the component bin of the bin folder.
func (c *Cluster) start(name, bin string, args []string, env ...string) (*process, error) {
	return c.launch(name, c.cfg.bin(bin), args, env...)
}

// launch starts the program at path as one of the cluster's processes, logging and recording its pid in the state
// folder.
func (c *Cluster) launch(name, path string, args []string, env ...string) (*process, error) {
	p, err := start(name, path, args, env, filepath.Join(c.cfg.StateDir, "logs"), filepath.Join(c.cfg.StateDir, "pids"))
	if err != nil {
		return nil, err
	}
	c.procsMu.Lock()
	c.procs = append(c.procs, p)
	c.procsMu.Unlock()
	return p, nil
}

func (c *Cluster) startEtcd() (*process, error) {
	cfg := c.cfg
	client := fmt.Sprintf("http://127.0.0.1:%d", cfg.EtcdPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", cfg.EtcdPeerPort)
	return c.start("etcd", "berth-etcd", []string{
		"--name=berth", "--data-dir=" + filepath.Join(cfg.StateDir, "etcd"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=berth=" + peer, "--log-level=warn",
		"--quota-backend-bytes=2147483648", "--snapshot-count=10000",
	})
}

func (c *Cluster) startPodman() ([]*process, error) {
	var out []*process
	for _, h := range c.hosts {
		if h.dir == "" {
			out = append(out, nil)
			continue
		}
		if err := h.prepare(); err != nil {
			return nil, err
		}
		bin, err := podmanBinary()
		if err != nil {
			return nil, err
		}
		p, err := c.launch(fmt.Sprintf("podman-%d", h.index), bin, []string{"system", "service", "--time=0", h.url}, h.env()...)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (c *Cluster) startAPIServer() (*process, error) {
	cfg, cr := c.cfg, c.creds
	// Without kube-proxy the pods reach the apiserver at the machine's address (see berth-kubelet
	// --apiserver-address) and the kubernetes Service has no endpoints; with it (Config.NodeNetns), the Service's
	// endpoint is the machine's address, kept by the apiserver as on any cluster, and the pods use its cluster IP.
	advertise := []string{"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none"}
	if cfg.NodeNetns {
		advertise = []string{"--advertise-address=" + cfg.NodeIP, "--endpoint-reconciler-type=lease"}
	}
	return c.start("kube-apiserver", "kube-apiserver", append(advertise,
		"--etcd-servers="+fmt.Sprintf("http://127.0.0.1:%d", cfg.EtcdPort),
		// On every address: the pods reach it at the machine's address, the nodes too when in namespaces of their own.
		"--bind-address=0.0.0.0",
		"--secure-port="+strconv.Itoa(cfg.APIServerPort),
		"--tls-cert-file="+cr.apiserver.CertFile, "--tls-private-key-file="+cr.apiserver.KeyFile,
		"--client-ca-file="+cr.caFile,
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer="+serviceAccountIs,
		"--service-account-key-file="+cr.saPub, "--service-account-signing-key-file="+cr.saKey,
		"--service-cluster-ip-range="+serviceCIDR,
		"--kubelet-client-certificate="+cr.apiserverKubelet.CertFile, "--kubelet-client-key="+cr.apiserverKubelet.KeyFile,
		"--kubelet-certificate-authority="+cr.caFile, "--kubelet-preferred-address-types=InternalIP",
		"--requestheader-client-ca-file="+cr.frontProxyCAFile, "--requestheader-allowed-names=front-proxy-client",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-username-headers=X-Remote-User",
		"--proxy-client-cert-file="+cr.frontProxyClient.CertFile, "--proxy-client-key-file="+cr.frontProxyClient.KeyFile,
		"--allow-privileged=true", "--profiling=false",
		// Aggregated APIs (metrics.k8s.io) are reached at their Service's endpoints: no kube-proxy routes cluster IPs.
		"--enable-aggregator-routing=true",
	))
}

func (c *Cluster) startControllerManager() (*process, error) {
	cfg, cr := c.cfg, c.creds
	return c.start("kube-controller-manager", "kube-controller-manager", []string{
		"--kubeconfig=" + cr.cmKubeconfig, "--authentication-kubeconfig=" + cr.cmKubeconfig, "--authorization-kubeconfig=" + cr.cmKubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(cfg.ControllerManagerPort),
		"--tls-cert-file=" + cr.controllerManager.CertFile, "--tls-private-key-file=" + cr.controllerManager.KeyFile,
		"--client-ca-file=" + cr.caFile, "--requestheader-client-ca-file=" + cr.frontProxyCAFile,
		"--service-account-private-key-file=" + cr.saKey, "--root-ca-file=" + cr.caFile,
		"--use-service-account-credentials=true",
		"--cluster-signing-cert-file=" + cr.caFile, "--cluster-signing-key-file=" + filepath.Join(cr.dir, "ca.key"),
		"--controllers=*,bootstrapsigner,tokencleaner", "--leader-elect=false", "--cluster-name=berth",
		"--service-cluster-ip-range=" + serviceCIDR, "--allocate-node-cidrs=false", "--profiling=false",
		// With --use-service-account-credentials each controller's client is made at the start from a ServiceAccount
		// and a token (a get, a create and a TokenRequest each, 40 controllers): at the default client limits of 20
		// requests/s (burst 30) that alone keeps every controller, the CSR signer and the ServiceAccount controller
		// among them, from starting for seconds. The apiserver's priority and fairness still limits it.
		"--kube-api-qps=200", "--kube-api-burst=400",
	})
}

func (c *Cluster) startScheduler() (*process, error) {
	cfg, cr := c.cfg, c.creds
	path, err := writeSchedulerConfig(filepath.Join(cfg.StateDir, "scheduler-config.yaml"), cr.schedulerKubeconfig)
	if err != nil {
		return nil, err
	}
	return c.start("berth-scheduler", "berth-scheduler", []string{
		"--config=" + path,
		"--authentication-kubeconfig=" + cr.schedulerKubeconfig, "--authorization-kubeconfig=" + cr.schedulerKubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(cfg.SchedulerPort),
		"--tls-cert-file=" + cr.scheduler.CertFile, "--tls-private-key-file=" + cr.scheduler.KeyFile,
		"--client-ca-file=" + cr.caFile, "--requestheader-client-ca-file=" + cr.frontProxyCAFile, "--profiling=false",
	})
}

// writeSchedulerConfig writes manifests/scheduler-config.yaml with the scheduler's kubeconfig filled in.
func writeSchedulerConfig(path, kubeconfig string) (string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(manifests.SchedulerConfig, &doc); err != nil {
		return "", fmt.Errorf("parse the embedded scheduler configuration: %w", err)
	}
	cc, _ := doc["clientConnection"].(map[string]any)
	if cc == nil {
		cc = map[string]any{}
		doc["clientConnection"] = cc
	}
	cc["kubeconfig"] = kubeconfig
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("render scheduler configuration: %w", err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return "", fmt.Errorf("write scheduler configuration: %w", err)
	}
	return path, nil
}

func (c *Cluster) startKubelet(i int) (*process, error) {
	cfg, cr := c.cfg, c.creds
	name := cfg.nodeName(i)
	host, port := c.kubeletAddr(i)
	var subnet string
	if c.nets != nil {
		subnet = c.nets[i].PodCIDR
	} else {
		subnet = c.subnet(i)
	}
	args := []string{
		"--kubeconfig=" + cr.nodeKubeconfigs[i], "--node-name=" + name, "--node-ip=" + host,
		"--port=" + strconv.Itoa(port), "--podman-url=" + c.hosts[i].url,
		"--rotate-server-certificates", "--client-ca-file=" + cr.caFile,
		"--network=" + podNetwork, "--network-interface=" + c.bridgeName(i), "--subnet=" + subnet,
		"--root-dir=" + cfg.kubeletRootDir(i), "--allowed-host-paths=" + strings.Join(cfg.AllowedHostPaths, ","),
		"--user-namespaces-first-id=" + strconv.FormatUint(cfg.userNamespacesFirstID(i), 10),
	}
	if cfg.MaxPods > 0 {
		args = append(args, "--max-pods="+strconv.Itoa(cfg.MaxPods))
	}
	if dir := c.hosts[i].dir; dir != "" {
		// The Podman service berth started: its exits folder is its tmp_dir's (containersConf).
		args = append(args, "--podman-exits-dir="+filepath.Join(dir, "tmp", "exits"))
	}
	if c.nets == nil {
		// No kube-proxy: the pods reach the apiserver at the machine's address, not the kubernetes Service's.
		args = append(args, "--apiserver-address="+net.JoinHostPort(cfg.NodeIP, strconv.Itoa(cfg.APIServerPort)))
	} else {
		// The node has kube-proxy: the pods reach the apiserver through the kubernetes Service, and cluster DNS
		// through the kube-dns Service (deployClusterDNS).
		args = append(args, "--host-network-namespace="+c.nets[i].Path(), "--cluster-dns="+clusterDNSIP, "--cluster-domain="+clusterDomain)
	}
	args = append(args, cfg.KubeletArgs[i]...)
	return c.startOnNode(i, "kubelet-"+name, "berth-kubelet", args)
}

// nodeUserNamespaces is how many user namespace ranges lie at least between the first IDs of two nodes' spans: more
// than a node's default max pods (110), so that the nodes of a machine, whose kernel is one, never give two pods the
// same IDs. Nodes of more max pods (Config.MaxPods) get spans of that many ranges.
const nodeUserNamespaces = 256

// userNamespacesFirstID is the first host ID of node i's user namespaces (berth-kubelet
// --user-namespaces-first-id): node 0's is the kubelet's default, 65536. Node Nodes's is where the last node's
// span ends.
func (c *Config) userNamespacesFirstID(i int) uint64 {
	return userns.Length * (1 + uint64(i)*uint64(max(nodeUserNamespaces, c.MaxPods)))
}

// startOnNode starts a component of node i: in the node's network namespace when it has one.
func (c *Cluster) startOnNode(i int, name, bin string, args []string) (*process, error) {
	path, args := c.inNetns(i, c.cfg.bin(bin), args)
	return c.launch(name, path, args)
}

// etcdHealthy checks etcd's /health.
func etcdHealthy(port int) func(context.Context) error {
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/health", port), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var h struct {
			Health string `json:"health"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			return err
		}
		if h.Health != "true" {
			return fmt.Errorf("etcd health %q", h.Health)
		}
		return nil
	}
}

// healthz checks a component's /healthz over TLS, trusting only berth's CA.
func healthz(port int, caPEM []byte) func(context.Context) error {
	return healthzAt("127.0.0.1", port, "/healthz", caPEM)
}

// healthzAt checks a health endpoint served with a certificate of the cluster's CA.
func healthzAt(host string, port int, path string, caPEM []byte) func(context.Context) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return httpOK(hc, "https://"+net.JoinHostPort(host, strconv.Itoa(port))+path)
}

// httpOK checks that a GET of url answers 200.
func httpOK(hc *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		return nil
	}
}

// podmanAnswers pings a Podman service.
func podmanAnswers(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		if strings.HasPrefix(url, "unix://") {
			if _, err := os.Stat(strings.TrimPrefix(url, "unix://")); err != nil {
				return err
			}
		}
		rt, err := podman.Dial(ctx, url)
		if err != nil {
			return err
		}
		return rt.Ping(ctx)
	}
}

// adminClient makes the admin client of the cluster from the admin kubeconfig (it connects on first use).
func (c *Cluster) adminClient() error {
	if c.client != nil {
		return nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", c.cfg.Kubeconfig())
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 50, 100
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	c.client, c.restConfig = client, rc
	return nil
}

func (c *Cluster) apiserverReady(ctx context.Context) error {
	if err := c.adminClient(); err != nil {
		return err
	}
	_, err := c.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}

// await polls check until it succeeds, for up to 90 s while p runs (waitFor): a component's readiness, or a call
// to the apiserver p that must go through once it takes requests.
func await(ctx context.Context, p *process, check func(context.Context) error) error {
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	return waitFor(wctx, p, "", check)
}

// nodeReadySince checks that a node reported Ready with a heartbeat no older than since: a node object kept from
// an earlier run (or from before a kubelet restart) says Ready until its new kubelet reports in.
func (c *Cluster) nodeReadySince(name string, since time.Time) func(context.Context) error {
	return func(ctx context.Context) error {
		n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			fresh := !cond.LastHeartbeatTime.Time.Before(since.Add(-time.Second))
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue && fresh {
				return nil
			}
		}
		return fmt.Errorf("node %s has not reported Ready since %s", name, since.Format(time.RFC3339))
	}
}

// KubeletServingCert is the leaf certificate node i's kubelet API presents, verified against the cluster CA for the
// node's address, as kube-apiserver --kubelet-certificate-authority verifies it.
func (c *Cluster) KubeletServingCert(ctx context.Context, i int) (*x509.Certificate, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.creds.ca.CertPEM)
	host, port := c.kubeletAddr(i)
	d := tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

// kubeletServesIssuedCert checks that node i's kubelet API presents a serving certificate the cluster CA signed
// for the node's address: the one its CSR got, which the apiserver (--kubelet-certificate-authority) verifies.
func (c *Cluster) kubeletServesIssuedCert(i int) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := c.KubeletServingCert(ctx, i); err != nil {
			return fmt.Errorf("node %s's kubelet API has no serving certificate from the cluster yet: %w", c.cfg.nodeName(i), err)
		}
		return nil
	}
}

// all passes when every check passes, trying them in order.
func all(checks ...func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, check := range checks {
			if err := check(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

func (c *Cluster) defaultServiceAccount(ctx context.Context) error {
	_, err := c.client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
	return err
}

// virtualKubeletRole is what Berth's virtual kubelets need beyond the Node authorizer: informers over the
// ConfigMaps, Secrets and Services they resolve into environments, delegated authn/authz of the kubelet API, and
// the CSRs of their serving certificates.
const virtualKubeletRole = "berth:virtual-kubelet"

// bootstrapRBAC grants the nodes (group system:nodes) the virtual kubelet's extra permissions.
func bootstrapRBAC(ctx context.Context, client kubernetes.Interface) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: virtualKubeletRole, Labels: map[string]string{"app.kubernetes.io/managed-by": "berth"}},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps", "secrets", "services"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
			{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
			// The serving certificate's CSRs, as the system:node role grants (which nothing binds any more).
			{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"create", "get", "list", "watch"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: virtualKubeletRole, Labels: map[string]string{"app.kubernetes.io/managed-by": "berth"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: virtualKubeletRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:nodes"}},
	}
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ClusterRole %s: %w", virtualKubeletRole, err)
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ClusterRoleBinding %s: %w", virtualKubeletRole, err)
	}
	return nil
}

// cleanLeftovers removes Podman pods left in berth's own Podman storage by a run that crashed.
func (c *Cluster) cleanLeftovers(ctx context.Context) error {
	for _, h := range c.hosts {
		if h.dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(h.dir, "storage")); err != nil {
			continue
		}
		if err := h.prepare(); err != nil {
			return err
		}
		out, err := h.cli(ctx, "pod", "ls", "-q")
		if err != nil {
			return fmt.Errorf("look for pods left by an earlier run: %w", err)
		}
		if strings.TrimSpace(out) == "" {
			continue
		}
		if _, err := h.cli(ctx, "pod", "rm", "-af", "-t", "0"); err != nil {
			return fmt.Errorf("remove pods left by an earlier run: %w", err)
		}
		c.cfg.progress("  removed the Podman pods an earlier run left on node %d", h.index)
	}
	return nil
}

// Stop stops every component (virtual kubelets first), removes the Podman pods berth made, and releases the state
// folder. It is safe to call more than once.
func (c *Cluster) Stop(ctx context.Context) {
	c.stopped.Do(func() {
		if c.stopApprover != nil {
			c.stopApprover()
		}
		if c.stopLate != nil {
			c.stopLate()
			c.late.Wait()
		}
		logger := klog.FromContext(ctx)
		procs := c.processes()
		byName := map[string]*process{}
		for _, p := range procs {
			byName[p.name] = p
		}
		// Kubelets (and kube-proxies) first, so that nothing restarts the containers being removed.
		var rest []*process
		for _, p := range procs {
			if strings.HasPrefix(p.name, "kubelet-") || strings.HasPrefix(p.name, "kube-proxy-") {
				p.stop(10 * time.Second)
			} else {
				rest = append(rest, p)
			}
		}
		for _, h := range c.hosts {
			if h.dir != "" && byName[fmt.Sprintf("podman-%d", h.index)] == nil || h.dir == "" && len(procs) == 0 {
				continue // never started (or never used): nothing of ours runs there
			}
			if err := removeBerthPods(ctx, h.url); err != nil {
				logger.Error(err, "Removing Berth's Podman pods", "podman", h.url)
			}
			if err := volume.CleanRootDir(c.cfg.kubeletRootDir(h.index)); err != nil {
				logger.Error(err, "Removing the pods' volume folders", "node", c.cfg.nodeName(h.index))
			}
		}
		for i := len(rest) - 1; i >= 0; i-- {
			rest[i].stop(15 * time.Second)
		}
		for _, h := range c.hosts {
			h.release()
		}
		if c.cfg.NodeNetns {
			if err := removeNodeNets(c.cfg.StateDir); err != nil {
				logger.Error(err, "Removing the nodes' network namespaces")
			}
		} else if len(procs) > 0 {
			if err := removeHostBridges(c.cfg.StateDir); err != nil {
				logger.Error(err, "Removing the pods' bridges")
			}
		}
		_ = os.Remove(filepath.Join(c.cfg.StateDir, "ready"))
		if c.lock != nil {
			_ = os.Remove(filepath.Join(c.cfg.StateDir, "berth.pid"))
			c.lock.Close()
		}
	})
}

// removeBerthPods removes every Podman pod labelled as Berth's through the service at url.
func removeBerthPods(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	rt, err := podman.Dial(ctx, url)
	if err != nil {
		return err
	}
	pods, err := rt.ListPods(ctx, map[string]string{podman.LabelManaged: "true"})
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pods {
		errs = append(errs, rt.RemovePod(ctx, p.ID))
	}
	return errors.Join(errs...)
}
