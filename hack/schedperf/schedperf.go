package main

// The benchmark, step by step:
//
//  1. A control plane only: berth-etcd and kube-apiserver from --bin-dir, on free loopback ports, with certificates
//     from internal/pki and the apiserver flags berth up uses (internal/cluster/up.go). No controller-manager, no
//     kubelets, no Podman: the namespace and its default ServiceAccount are created here, and pods do not mount a
//     service account token.
//  2. For each workload (workload.go) and node count, fake nodes: created, their not-ready taint removed (the node
//     lifecycle controller's job), and their status set as a Berth virtual kubelet reports it (Ready, observed free
//     memory and its time in annotations, the Podman label). The workload decides their shape: berth's are big
//     (32 cpu, 128Gi, 110 pods, a few images), the upstream workloads' are upstream scheduler_perf's (4 cpu, 32Gi).
//     Between workloads every node and pod is deleted.
//  3. For each profile, in alternating order: the workload's init pods are topped up (created and bound directly,
//     not measured; preemption deletes some), the node heartbeats and observations are refreshed, --pods pending
//     pods with spec.schedulerName set to the profile are created (berth's owned by fake ReplicaSets, in
//     consecutive batches; the upstream workloads' from upstream's templates), then kube-scheduler with both
//     profiles and Berth's plugins (what cmd/berth-scheduler runs, configured with manifests/scheduler-config.yaml)
//     is started in-process. A watch records when each pod gets its node. Once all are bound the scheduler is
//     stopped and the round's pods are deleted.
//
// Throughput is (pods-1) / (last bind - first write): the scheduler starts with its whole queue pending, so this is
// the scheduling and binding rate alone, without pod creation or the scheduler's informer sync (shown apart as
// "start→1st write"). The first write is the scheduler's first change to one of the round's pods: the first bind,
// or for preemptors the first nomination, so that the preemptions before the first bind count.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/component-base/configz"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
	"k8s.io/kubernetes/cmd/kube-scheduler/app/options"
	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/hack/internal/benchutil"
	"github.com/berth-dev/berth/internal/pki"
	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/manifests"
	"github.com/berth-dev/berth/plugins/podmanbind"
	"github.com/berth-dev/berth/plugins/podmanfit"
	"github.com/berth-dev/berth/plugins/podmanscore"
)

const (
	// defaultProfile and berthProfile are the two profiles of manifests/scheduler-config.yaml.
	defaultProfile = corev1.DefaultSchedulerName
	berthProfile   = "berth-scheduler"
	// ceilingProfile, added to the configuration by schedperf, has no filter, score or preemption plugin: it binds
	// each pod to a node at random with the default binder. Its rate is the most any profile can reach on the
	// machine, with the scheduler's queue and the control plane's writes as the only costs (--ceiling).
	ceilingProfile = "bind-ceiling"
	// bareProfile, added with ceilingProfile, is berthProfile with Berth's own plugins (PodmanFit, PodmanScore,
	// PodmanBind) taken out and the default binder back: the in-tree plugins the profile keeps, and the framework.
	// Its rate is the most berthProfile could reach if Berth's plugins cost nothing.
	bareProfile = "berth-bare"

	namespace  = "schedperf"
	zones      = 10
	podImage   = "docker.io/library/nginx:1.27"
	roundLabel = "schedperf.berth.dev/round"

	// configzName is what app.Run registers in the process-wide configz registry; it is removed before every
	// in-process start so that the scheduler can be started again.
	configzName = "componentconfig"
)

// Config holds the benchmark's settings.
type Config struct {
	// BinDir holds berth-etcd and kube-apiserver.
	BinDir string
	// StateDir is where certificates, etcd data and logs go; empty means a temporary folder removed at exit.
	StateDir string
	// Workloads are the workloads to measure (workloadNames), in order.
	Workloads []string
	// Nodes are the node counts to measure, in order.
	Nodes []int
	// Pods is the number of pending pods per round (capped at the node count by workloads whose pods take a
	// whole node).
	Pods int
	// Rounds is the number of round pairs (one round per profile) per node count.
	Rounds int
	// Owners is the number of fake ReplicaSets the pods of a round are split among.
	Owners int
	// Workers is the number of concurrent requests when creating nodes and pods.
	Workers int
	// RoundTimeout bounds the time a round may take to bind its pods.
	RoundTimeout time.Duration
	// CPUProfileDir, if set, receives a CPU profile of each round's scheduling (the whole process: scheduler,
	// watches; the control plane runs in other processes), named after the round.
	CPUProfileDir string
	// Ceiling adds ceilingProfile and bareProfile to each round pair of the workloads without init pods.
	Ceiling bool
	// JSON, if set, is a file that receives the figures (benchutil.Figure) for hack/bench.
	JSON string
	// Out receives the results table.
	Out io.Writer
}

// result is one measured round.
type result struct {
	workload *workload
	nodes    int
	profile  string
	round    int
	pods     int
	// preempted is how many init pods the round's pods preempted.
	preempted int
	// startup is from the scheduler's start to its first write (informer sync and the first cycle).
	startup time.Duration
	// elapsed is from the scheduler's first write to one of the pods (a bind or a nomination) to the last bind.
	elapsed time.Duration
	// otherCPU is how many cores other processes (neither this one nor etcd or kube-apiserver) kept busy
	// meanwhile, on average: the other load the measurement competed with.
	otherCPU float64
}

// podsPerSecond is the binding rate between the scheduler's first write and the last bind.
func (r result) podsPerSecond() float64 {
	if r.elapsed <= 0 || r.pods < 2 {
		return 0
	}
	return float64(r.pods-1) / r.elapsed.Seconds()
}

// Run starts the control plane, measures every node count and profile, prints the table and stops everything.
func Run(ctx context.Context, cfg Config) (retErr error) {
	if err := cfg.validate(); err != nil {
		return err
	}
	logger := klog.FromContext(ctx)
	dir := cfg.StateDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "schedperf-")
		if err != nil {
			return fmt.Errorf("create state folder: %w", err)
		}
		dir = tmp
		defer func() {
			if err := os.RemoveAll(tmp); err != nil {
				logger.Error(err, "Removing the state folder", "dir", tmp)
			}
		}()
	} else if entries, err := os.ReadDir(filepath.Join(dir, "etcd")); err == nil && len(entries) > 0 {
		return fmt.Errorf("--state-dir %s holds the etcd data of an earlier run: remove it or choose another folder", dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state folder: %w", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolve state folder: %w", err)
	}

	cp, err := startControlPlane(ctx, cfg.BinDir, dir)
	if err != nil {
		return err
	}
	defer cp.stop(logger)
	// Any component exiting ends the run, with its log as the cause.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cp.watchExits(cancel)
	defer func() {
		if retErr != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(retErr, cause) {
				retErr = fmt.Errorf("%w (%w)", retErr, cause)
			}
		}
	}()

	schedConfig, clientConn, err := writeSchedulerConfig(filepath.Join(dir, "scheduler-config.yaml"), cp.kubeconfig)
	if err != nil {
		return err
	}
	if err := prepareNamespace(ctx, cp.client); err != nil {
		return err
	}
	owners, err := createOwners(ctx, cp.client, cfg.Owners, cfg.Pods)
	if err != nil {
		return err
	}

	fmt.Fprintf(cfg.Out, "schedperf: %d CPUs (GOMAXPROCS %d), load average %s; control plane in %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), benchutil.LoadAvg(), dir)
	fmt.Fprintf(cfg.Out, "Workloads: %s. Each round: the workload's init pods are topped up (bound directly, not measured), "+
		"%d pending pods are created, then the scheduler (both profiles, Berth's plugins compiled in, "+
		"secure serving off) starts in-process; seconds = first write (bind or nomination) → last bind seen by a watch; pods/s = (pods-1)/seconds.\n",
		strings.Join(cfg.Workloads, ", "), cfg.Pods)
	fmt.Fprintf(cfg.Out, "Scheduler client from manifests/scheduler-config.yaml: qps %v, burst %v.\n", clientConn["qps"], clientConn["burst"])

	var results []result
	have := 0
	for wi, name := range cfg.Workloads {
		w, err := newWorkload(name)
		if err != nil {
			return err
		}
		if wi > 0 {
			// Another workload, other nodes: start from an empty cluster.
			if err := resetCluster(ctx, cp.client); err != nil {
				return err
			}
			have = 0
		}
		if err := ensurePriorityClasses(ctx, cp.client, w.priorityClasses); err != nil {
			return err
		}
		pair := 0
		for _, n := range cfg.Nodes {
			start := time.Now()
			if w.initPerNode > 0 && have > 0 {
				// The init pods are placed for a node count; ensureInitPods places them anew.
				if err := deletePods(ctx, cp.client, initLabel); err != nil {
					return err
				}
			}
			if err := ensureNodes(ctx, cp.client, w, have, n, cfg.Workers); err != nil {
				return err
			}
			have = n
			logger.Info("Nodes ready", "workload", w.name, "nodes", n, "took", time.Since(start).Round(time.Millisecond))
			for r := 0; r < cfg.Rounds; r++ {
				order := []string{defaultProfile, berthProfile}
				if pair%2 == 1 {
					order = []string{berthProfile, defaultProfile}
				}
				pair++
				if cfg.Ceiling && w.initPerNode == 0 {
					order = append(order, ceilingProfile, bareProfile)
				}
				for _, profile := range order {
					res, err := runRound(ctx, cp, cfg, w, schedConfig, owners, n, profile, r+1)
					if err != nil {
						return fmt.Errorf("%s, %d nodes, %s, round %d: %w", w.name, n, profile, r+1, err)
					}
					logger.Info("Round done", "workload", w.name, "nodes", n, "profile", profile, "round", r+1,
						"podsPerSecond", fmt.Sprintf("%.1f", res.podsPerSecond()), "seconds", fmt.Sprintf("%.2f", res.elapsed.Seconds()),
						"preempted", res.preempted)
					results = append(results, res)
				}
			}
		}
	}
	printResults(cfg.Out, results)
	return benchutil.WriteFigures(cfg.JSON, figures(results))
}

func (c *Config) validate() error {
	switch {
	case len(c.Nodes) == 0:
		return errors.New("no node counts given")
	case c.Pods < 2:
		return fmt.Errorf("--pods %d: need at least 2 pods to measure a rate", c.Pods)
	case c.Rounds < 1:
		return fmt.Errorf("--rounds %d: need at least 1", c.Rounds)
	case c.Owners < 1 || c.Owners > c.Pods:
		return fmt.Errorf("--owners %d: need between 1 and --pods", c.Owners)
	case c.Workers < 1:
		return fmt.Errorf("--workers %d: need at least 1", c.Workers)
	case c.RoundTimeout <= 0:
		return fmt.Errorf("--round-timeout %s: must be positive", c.RoundTimeout)
	case len(c.Workloads) == 0:
		return errors.New("no workload given")
	}
	for _, name := range c.Workloads {
		w, err := newWorkload(name)
		if err != nil {
			return err
		}
		if n := slices.Min(c.Nodes); w.measuredPods(n, c.Pods) < 2 {
			return fmt.Errorf("--workload %s: at %d nodes it measures %d pod (one per node at most): need at least 2", name, n, w.measuredPods(n, c.Pods))
		}
	}
	for _, name := range []string{"berth-etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(c.BinDir, name)); err != nil {
			return fmt.Errorf("%s not found in --bin-dir %s (run make build): %w", name, c.BinDir, err)
		}
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	return nil
}

// printResults prints one line per round, then each workload's and node count's rates and ratios.
func printResults(out io.Writer, results []result) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tnodes\tprofile\tround\tpods\tpreempted\tseconds\tpods/s\tstart→1st write\tother CPU\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%.2f\t%.1f\t%.2fs\t%.2f cores\t\n",
			r.workload.name, r.nodes, r.profile, r.round, r.pods, r.preempted, r.elapsed.Seconds(), r.podsPerSecond(), r.startup.Seconds(), r.otherCPU)
	}
	_ = tw.Flush()
	fmt.Fprintln(out)
	for _, m := range summarize(results) {
		fmt.Fprintf(out, "%s: %s %.1f pods/s mean, %.1f median; %s %.1f mean, %.1f median; berth/default %.2f (means), %.2f (medians)",
			m.describe, berthProfile, benchutil.Mean(m.berth), benchutil.Median(m.berth), defaultProfile, benchutil.Mean(m.dflt), benchutil.Median(m.dflt),
			m.meanRatio(), m.medianRatio())
		if lo, hi, ok := m.pairRatios(); ok {
			fmt.Fprintf(out, ", %.2f–%.2f per round pair", lo, hi)
		}
		if len(m.ceiling) > 0 {
			c := benchutil.Mean(m.ceiling)
			fmt.Fprintf(out, "; %s (no plugins) %.1f mean: %s reaches %.2f of it, %s %.2f, so %s can be at most %.2f× %s here",
				ceilingProfile, c, berthProfile, ratio(benchutil.Mean(m.berth), c), defaultProfile, ratio(benchutil.Mean(m.dflt), c),
				berthProfile, ratio(c, benchutil.Mean(m.dflt)), defaultProfile)
		}
		if len(m.bare) > 0 {
			b := benchutil.Mean(m.bare)
			fmt.Fprintf(out, "; %s (%s without Berth's plugins) %.1f mean: %s reaches %.2f of it, so with its plugins free %s would be %.2f× %s here",
				bareProfile, berthProfile, b, berthProfile, ratio(benchutil.Mean(m.berth), b), berthProfile, ratio(b, benchutil.Mean(m.dflt)), defaultProfile)
		}
		fmt.Fprintln(out)
	}
}

// summary gathers each profile's rates of one workload at one node count, in the order measured.
type summary struct {
	workload    *workload
	nodes, pods int
	describe    string
	berth, dflt []float64
	// ceiling, bare: the rates of ceilingProfile and bareProfile, when measured.
	ceiling, bare []float64
}

// meanRatio is berth's mean rate over the default profile's.
func (m summary) meanRatio() float64 { return ratio(benchutil.Mean(m.berth), benchutil.Mean(m.dflt)) }

// medianRatio is berth's median rate over the default profile's.
func (m summary) medianRatio() float64 {
	return ratio(benchutil.Median(m.berth), benchutil.Median(m.dflt))
}

// pairRatios is the lowest and highest berth/default ratio of a round pair, when there are several pairs.
func (m summary) pairRatios() (lo, hi float64, ok bool) {
	if len(m.berth) < 2 || len(m.berth) != len(m.dflt) {
		return 0, 0, false
	}
	var rs []float64
	for i := range m.berth {
		rs = append(rs, ratio(m.berth[i], m.dflt[i]))
	}
	return slices.Min(rs), slices.Max(rs), true
}

// ratio is a/b, 0 when b is.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// summarize groups the rounds by workload and node count, in the order measured.
func summarize(results []result) []summary {
	var out []summary
	for _, r := range results {
		i := slices.IndexFunc(out, func(m summary) bool { return m.workload == r.workload && m.nodes == r.nodes })
		if i < 0 {
			out = append(out, summary{workload: r.workload, nodes: r.nodes, pods: r.pods, describe: r.workload.describe(r.nodes, r.pods)})
			i = len(out) - 1
		}
		switch r.profile {
		case berthProfile:
			out[i].berth = append(out[i].berth, r.podsPerSecond())
		case ceilingProfile:
			out[i].ceiling = append(out[i].ceiling, r.podsPerSecond())
		case bareProfile:
			out[i].bare = append(out[i].bare, r.podsPerSecond())
		default:
			out[i].dflt = append(out[i].dflt, r.podsPerSecond())
		}
	}
	return out
}

// figures are the run's results for hack/bench: each workload's and node count's mean rate beside the in-tree
// default profile's. The berth workload's figures keep the names they had before there were other workloads.
func figures(results []result) []benchutil.Figure {
	var out []benchutil.Figure
	for _, m := range summarize(results) {
		name := "pods bound per second, " + m.describe
		if m.workload.upstream != "" {
			name = "pods bound per second, upstream " + m.describe
		}
		out = append(out, benchutil.Figure{
			Area: "scheduler", Name: name, Unit: "pods/s",
			Berth: benchutil.Mean(m.berth), BaselineName: "in-tree default-scheduler profile", Baseline: benchutil.Mean(m.dflt),
			HigherIsBetter: true, Samples: len(m.berth),
		})
	}
	return out
}

// ---- control plane ----

// controlPlane is a running etcd and kube-apiserver.
type controlPlane struct {
	dir        string
	procs      []*process
	kubeconfig string
	client     kubernetes.Interface
	stopping   atomic.Bool
}

// process is a child in its own process group, logging to a file.
type process struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error
}

// startControlPlane creates the certificates and starts etcd and kube-apiserver on free loopback ports, waiting
// until both are ready. On failure it stops whatever it started.
func startControlPlane(ctx context.Context, binDir, dir string) (_ *controlPlane, retErr error) {
	logger := klog.FromContext(ctx)
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return nil, fmt.Errorf("resolve --bin-dir: %w", err)
	}
	cp := &controlPlane{dir: dir, kubeconfig: filepath.Join(dir, "kubeconfig")}
	defer func() {
		if retErr != nil {
			cp.stop(logger)
		}
	}()
	for _, d := range []string{"pki", "etcd", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	ports, err := benchutil.FreePorts(3)
	if err != nil {
		return nil, err
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]

	pkiDir := filepath.Join(dir, "pki")
	ca, err := pki.LoadOrCreateCA(pkiDir, "ca", "schedperf-ca")
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	serving, err := ca.LoadOrIssue(pkiDir, "apiserver", pki.CertSpec{
		CommonName: "kube-apiserver", Server: true,
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPs:      []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
	})
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	admin, err := ca.LoadOrIssue(pkiDir, "admin", pki.CertSpec{CommonName: "schedperf-admin", Organization: []string{"system:masters"}, Client: true})
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	saKey, saPub, err := pki.LoadOrCreateServiceAccountKey(pkiDir, "sa")
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	if err := pki.WriteKubeconfig(cp.kubeconfig, "schedperf", server, ca.CertPEM, admin); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	etcd, err := cp.start("etcd", filepath.Join(binDir, "berth-etcd"),
		"--name=schedperf", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=schedperf="+peerURL, "--log-level=warn",
		"--quota-backend-bytes=2147483648", "--snapshot-count=10000",
	)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, etcd, 60*time.Second, etcdHealthy(etcdURL)); err != nil {
		return nil, err
	}
	logger.Info("etcd ready", "url", etcdURL)

	// The flags of berth up (internal/cluster/up.go), without the kubelet client and front-proxy settings that
	// only kubelets and aggregated APIs would use.
	apiserver, err := cp.start("kube-apiserver", filepath.Join(binDir, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+serving.CertFile, "--tls-private-key-file="+serving.KeyFile,
		"--client-ca-file="+filepath.Join(pkiDir, "ca.crt"),
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saPub, "--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true", "--profiling=false",
	)
	if err != nil {
		return nil, err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cp.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", cp.kubeconfig, err)
	}
	// Setup creates thousands of objects: do not let client-side throttling slow it down.
	rc.QPS, rc.Burst = 5000, 5000
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	cp.client = client
	if err := waitReady(ctx, apiserver, 120*time.Second, func(ctx context.Context) error {
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	logger.Info("kube-apiserver ready", "url", server)
	return cp, nil
}

// start launches a component, its output in logs/<name>.log. The child gets SIGTERM if this process dies.
func (cp *controlPlane) start(name, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(cp.dir, "logs", name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	cp.procs = append(cp.procs, p)
	return p, nil
}

// watchExits calls cancel with the component's log when one exits before stop.
func (cp *controlPlane) watchExits(cancel context.CancelCauseFunc) {
	for _, p := range cp.procs {
		go func() {
			<-p.exited
			if !cp.stopping.Load() {
				cancel(p.failure())
			}
		}()
	}
}

// stop stops the components in reverse order: SIGTERM to the process group, SIGKILL after 15 s.
func (cp *controlPlane) stop(logger klog.Logger) {
	cp.stopping.Store(true)
	for i := len(cp.procs) - 1; i >= 0; i-- {
		p := cp.procs[i]
		select {
		case <-p.exited:
			continue
		default:
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			logger.Info("Component did not stop on SIGTERM, killing it", "component", p.name)
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
	}
}

// failure describes an exited or unready component with the end of its log.
func (p *process) failure() error {
	state := "is not ready"
	select {
	case <-p.exited:
		state = fmt.Sprintf("exited (%v)", p.err)
	default:
	}
	return fmt.Errorf("%s %s; last lines of %s:\n%s", p.name, state, p.log, tail(p.log, 15))
}

// tail returns the last n lines of a file, indented.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "    (no log)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// waitReady polls check until it succeeds, the component exits, or timeout passes.
func waitReady(ctx context.Context, p *process, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last := check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.exited:
			return p.failure()
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last check: %v)", p.name, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// etcdHealthy checks etcd's /health.
func etcdHealthy(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
		if err != nil {
			return fmt.Errorf("etcd health request: %w", err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("etcd health: %w", err)
		}
		defer resp.Body.Close()
		var h struct {
			Health string `json:"health"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			return fmt.Errorf("etcd health: %w", err)
		}
		if h.Health != "true" {
			return fmt.Errorf("etcd health %q", h.Health)
		}
		return nil
	}
}

// writeSchedulerConfig writes manifests/scheduler-config.yaml with clientConnection.kubeconfig set to kubeconfig,
// as berth up does (internal/cluster/up.go), and returns its path and its clientConnection.
func writeSchedulerConfig(path, kubeconfig string) (string, map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(manifests.SchedulerConfig, &doc); err != nil {
		return "", nil, fmt.Errorf("parse the embedded scheduler configuration: %w", err)
	}
	cc, _ := doc["clientConnection"].(map[string]any)
	if cc == nil {
		cc = map[string]any{}
		doc["clientConnection"] = cc
	}
	cc["kubeconfig"] = kubeconfig
	profiles, _ := doc["profiles"].([]any)
	bare, err := bareOf(profiles)
	if err != nil {
		return "", nil, err
	}
	doc["profiles"] = append(profiles, map[string]any{
		"schedulerName": ceilingProfile,
		"plugins": map[string]any{"multiPoint": map[string]any{
			"disabled": []any{map[string]any{"name": "*"}},
			"enabled":  []any{map[string]any{"name": "PrioritySort"}, map[string]any{"name": "DefaultBinder"}},
		}},
	}, bare)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", nil, fmt.Errorf("render scheduler configuration: %w", err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return "", nil, fmt.Errorf("write scheduler configuration: %w", err)
	}
	return path, cc, nil
}

// bareOf returns bareProfile: a copy of berthProfile among profiles (the manifest's) with Berth's plugins out of
// multiPoint's enabled list and their args out of pluginConfig, and DefaultBinder out of the disabled list.
func bareOf(profiles []any) (map[string]any, error) {
	var berth map[string]any
	for _, p := range profiles {
		if m, _ := p.(map[string]any); m != nil && m["schedulerName"] == berthProfile {
			berth = m
		}
	}
	if berth == nil {
		return nil, fmt.Errorf("the embedded scheduler configuration has no %s profile", berthProfile)
	}
	// A deep copy, through YAML, so that the berth profile itself is left as it is.
	data, err := yaml.Marshal(berth)
	if err != nil {
		return nil, fmt.Errorf("copy the %s profile: %w", berthProfile, err)
	}
	var bare map[string]any
	if err := yaml.Unmarshal(data, &bare); err != nil {
		return nil, fmt.Errorf("copy the %s profile: %w", berthProfile, err)
	}
	bare["schedulerName"] = bareProfile
	berths := []string{podmanfit.Name, podmanscore.Name, podmanbind.Name}
	without := func(list any, names ...string) []any {
		var out []any
		items, _ := list.([]any)
		for _, it := range items {
			m, _ := it.(map[string]any)
			if name, _ := m["name"].(string); !slices.Contains(names, name) {
				out = append(out, it)
			}
		}
		return out
	}
	plugins, _ := bare["plugins"].(map[string]any)
	mp, _ := plugins["multiPoint"].(map[string]any)
	if mp == nil {
		return nil, fmt.Errorf("the %s profile has no multiPoint plugins", berthProfile)
	}
	mp["enabled"] = without(mp["enabled"], berths...)
	mp["disabled"] = without(mp["disabled"], "DefaultBinder")
	bare["pluginConfig"] = without(bare["pluginConfig"], berths...)
	return bare, nil
}

// cpuSample is a reading of the CPU time the whole machine spent busy and of the CPU time this process, etcd and
// kube-apiserver used, in seconds.
type cpuSample struct {
	at         time.Time
	busy, ours float64
}

// clockTicks is USER_HZ, the unit of /proc's CPU times; 100 on every Linux architecture Go supports.
const clockTicks = 100

// sampleCPU reads /proc/stat and /proc/<pid>/stat. Unreadable files count as zero.
func (cp *controlPlane) sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		for i, v := range f {
			if i == 0 || i == 4 || i == 5 || i > 8 {
				continue // the label, idle, iowait, guest (already in user)
			}
			n, _ := strconv.ParseFloat(v, 64)
			s.busy += n / clockTicks
		}
	}
	pids := []int{os.Getpid()}
	for _, p := range cp.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	for _, pid := range pids {
		if f := benchutil.StatFields(pid); len(f) > 12 {
			ut, _ := strconv.ParseFloat(f[11], 64)
			st, _ := strconv.ParseFloat(f[12], 64)
			s.ours += (ut + st) / clockTicks
		}
	}
	return s
}

// otherCores is the average number of cores that other processes kept busy between two samples.
func otherCores(a, b cpuSample) float64 {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return 0
	}
	return max(0, ((b.busy-b.ours)-(a.busy-a.ours))/wall)
}

// ---- objects ----

// prepareNamespace creates the namespace and its default ServiceAccount (no controller-manager creates it, and
// the ServiceAccount admission plugin refuses pods without it).
func prepareNamespace(ctx context.Context, client kubernetes.Interface) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	no := false
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}, AutomountServiceAccountToken: &no}
	if _, err := client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service account %s/default: %w", namespace, err)
	}
	return nil
}

// createOwners creates the fake ReplicaSets that own the pods. They exist, so that the in-tree default spreading
// finds their selector, but no controller acts on them.
func createOwners(ctx context.Context, client kubernetes.Interface, n, pods int) ([]*appsv1.ReplicaSet, error) {
	var out []*appsv1.ReplicaSet
	replicas := int32((pods + n - 1) / n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("perf-rs-%02d", i)
		labels := map[string]string{"app": name}
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: appsv1.ReplicaSetSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: podImage}}},
				},
			},
		}
		created, err := client.AppsV1().ReplicaSets(namespace).Create(ctx, rs, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			created, err = client.AppsV1().ReplicaSets(namespace).Get(ctx, name, metav1.GetOptions{})
		}
		if err != nil {
			return nil, fmt.Errorf("create ReplicaSet %s: %w", name, err)
		}
		out = append(out, created)
	}
	return out, nil
}

// nodeName is the name of fake node i.
func nodeName(i int) string { return fmt.Sprintf("perf-node-%05d", i) }

// nodeObservation is what a virtual kubelet reports about node i's Podman host: 64 to 111 GiB free.
func nodeObservation(i int, now time.Time) map[string]string {
	return map[string]string{
		wellknown.AnnotationFreeMemory: strconv.FormatInt(int64(64+i%48)<<30, 10),
		wellknown.AnnotationObservedAt: now.UTC().Format(time.RFC3339),
	}
}

// berthNode is fake node i of the berth workload with its status: hostname, Podman and one of 10 zones; 32 cpu,
// 128Gi, 110 pods, and a few images (a third of the nodes store the benchmark pods' image).
func berthNode(i int, now time.Time) *corev1.Node {
	labels := nodeLabels(i)
	labels[corev1.LabelTopologyZone] = fmt.Sprintf("zone-%d", i%zones)
	res := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("32"),
		corev1.ResourceMemory:           resource.MustParse("128Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("500Gi"),
	}
	images := []corev1.ContainerImage{
		{Names: []string{"registry.k8s.io/pause:3.10"}, SizeBytes: 750_000},
		{Names: []string{"docker.io/library/busybox:1.37", "busybox:1.37"}, SizeBytes: 4_400_000},
	}
	if i%3 == 0 {
		images = append(images, corev1.ContainerImage{Names: []string{podImage, "nginx:1.27"}, SizeBytes: 190_000_000})
	}
	if i%4 == 0 {
		images = append(images, corev1.ContainerImage{Names: []string{"docker.io/library/postgres:17"}, SizeBytes: 430_000_000})
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: nodeName(i), Labels: labels, Annotations: nodeObservation(i, now)},
		Status: corev1.NodeStatus{
			Capacity:    res,
			Allocatable: res.DeepCopy(),
			Conditions:  []corev1.NodeCondition{readyCondition(now)},
			Addresses:   []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: nodeName(i)}},
			Images:      images,
			NodeInfo:    nodeInfo(),
		},
	}
}

// readyCondition is a Ready condition with a heartbeat at now.
func readyCondition(now time.Time) corev1.NodeCondition {
	return corev1.NodeCondition{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "schedperf fake node",
		LastHeartbeatTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now),
	}
}

// nodeInfo is what every fake node says about its system.
func nodeInfo() corev1.NodeSystemInfo {
	return corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KubeletVersion: "v1.37.2"}
}

// ensureNodes grows the workload's fake nodes from have to want (or deletes the extra ones).
func ensureNodes(ctx context.Context, client kubernetes.Interface, w *workload, have, want, workers int) error {
	nodes := client.CoreV1().Nodes()
	if want < have {
		return parallel(ctx, have-want, workers, func(ctx context.Context, i int) error {
			if err := nodes.Delete(ctx, nodeName(want+i), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete node %s: %w", nodeName(want+i), err)
			}
			return nil
		})
	}
	return parallel(ctx, want-have, workers, func(ctx context.Context, j int) error {
		i := have + j
		want := w.node(i, time.Now())
		n, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: want.ObjectMeta, Spec: want.Spec}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node %s: %w", nodeName(i), err)
		}
		// The TaintNodesByCondition admission plugin taints new nodes not-ready; the node lifecycle controller,
		// which does not run here, would remove the taint once the node is Ready.
		if len(n.Spec.Taints) > 0 {
			n.Spec.Taints = nil
			if n, err = nodes.Update(ctx, n, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("untaint node %s: %w", nodeName(i), err)
			}
		}
		n.Status = want.Status
		if _, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("set status of node %s: %w", nodeName(i), err)
		}
		return nil
	})
}

// refreshNodes renews every node's heartbeat and Podman observation, as virtual kubelets do every few seconds, so
// that the observations are fresh (within maxObservationAge) when the round starts.
func refreshNodes(ctx context.Context, client kubernetes.Interface, w *workload, count, workers int) error {
	now := time.Now()
	return parallel(ctx, count, workers, func(ctx context.Context, i int) error {
		patch := map[string]any{
			"metadata": map[string]any{"annotations": w.observation(i, now)},
			"status":   map[string]any{"conditions": []corev1.NodeCondition{readyCondition(now)}},
		}
		data, err := json.Marshal(patch)
		if err != nil {
			return fmt.Errorf("encode patch: %w", err)
		}
		n, err := client.CoreV1().Nodes().Patch(ctx, nodeName(i), types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
		if err != nil {
			return fmt.Errorf("refresh node %s: %w", nodeName(i), err)
		}
		if got, want := n.Annotations[wellknown.AnnotationObservedAt], now.UTC().Format(time.RFC3339); got != want {
			return fmt.Errorf("refresh node %s: observed-at is %q after the patch, want %q", nodeName(i), got, want)
		}
		return nil
	})
}

// newPod is pending pod i of a round: the profile's schedulerName, 100m/128Mi, owned by owner.
func newPod(name, profile, round string, owner *appsv1.ReplicaSet) *corev1.Pod {
	no := false
	var zero int64
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: map[string]string{"app": owner.Labels["app"], roundLabel: round},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner.Name, UID: owner.UID, Controller: ptrTo(true),
			}},
		},
		Spec: corev1.PodSpec{
			SchedulerName:                 profile,
			AutomountServiceAccountToken:  &no,
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name:  "app",
				Image: podImage,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("100m"),
					corev1.ResourceMemory: resource.MustParse("128Mi"),
				}},
			}},
		},
	}
}

func ptrTo[T any](v T) *T { return &v }

// parallel runs fn(0..n-1) on up to workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// ---- rounds ----

// runRound tops up the init pods, creates the round's pending pods, starts the scheduler, waits until every pod is
// bound, stops the scheduler and deletes the round's pods.
func runRound(ctx context.Context, cp *controlPlane, cfg Config, w *workload, schedConfig string, owners []*appsv1.ReplicaSet, nodes int, profile string, round int) (_ result, retErr error) {
	logger := klog.FromContext(ctx)
	client := cp.client
	id := roundID(w, nodes, profile, round)
	selector := roundLabel + "=" + id
	pods := w.measuredPods(nodes, cfg.Pods)

	// Leave no pods of this round behind for the next one; when the run is cancelled the whole control plane goes.
	defer func() {
		if ctx.Err() != nil {
			return
		}
		if err := deletePods(ctx, client, selector); err != nil && retErr == nil {
			retErr = err
		}
	}()

	start := time.Now()
	initPods, err := ensureInitPods(ctx, client, w, nodes, cfg.Workers)
	if err != nil {
		return result{}, err
	}
	initTook := time.Since(start)
	start = time.Now()
	if err := refreshNodes(ctx, client, w, nodes, cfg.Workers); err != nil {
		return result{}, err
	}
	refreshed := time.Since(start)
	start = time.Now()
	perOwner := (pods + len(owners) - 1) / len(owners)
	if err := parallel(ctx, pods, cfg.Workers, func(ctx context.Context, i int) error {
		pod := w.newMeasuredPod(fmt.Sprintf("perf-%s-%05d", id, i), profile, id, owners[i/perOwner])
		if _, err := client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create pod %s: %w", pod.Name, err)
		}
		return nil
	}); err != nil {
		return result{}, err
	}
	logger.Info("Round prepared", "workload", w.name, "nodes", nodes, "profile", profile, "round", round,
		"initPods", initPods, "placeInitPods", initTook.Round(time.Millisecond),
		"refreshNodes", refreshed.Round(time.Millisecond), "createPods", time.Since(start).Round(time.Millisecond))

	list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return result{}, fmt.Errorf("list pods: %w", err)
	}
	if len(list.Items) != pods {
		return result{}, fmt.Errorf("found %d pods of the round, created %d", len(list.Items), pods)
	}
	pw, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return client.CoreV1().Pods(namespace).Watch(ctx, o)
		},
	})
	if err != nil {
		return result{}, fmt.Errorf("watch pods: %w", err)
	}
	defer pw.Stop()

	before := cp.sampleCPU()
	if cfg.CPUProfileDir != "" {
		stop, err := startCPUProfile(filepath.Join(cfg.CPUProfileDir, id+".pprof"))
		if err != nil {
			return result{}, err
		}
		defer stop()
	}
	sched, err := startScheduler(ctx, schedConfig)
	if err != nil {
		return result{}, err
	}
	defer func() {
		if err := sched.stop(); err != nil && retErr == nil {
			retErr = err
		}
	}()

	first, last, err := waitBound(ctx, pw, sched, pods, profile, cfg.RoundTimeout)
	if err != nil {
		return result{}, err
	}
	other := otherCores(before, cp.sampleCPU())
	// Let the scheduler finish writing its Scheduled events, so that none is cut off by the stop or written
	// during the next round. Not measured.
	bound := time.Now()
	waitEvents(ctx, client, pods)
	logger.V(2).Info("Events written", "profile", profile, "after", time.Since(bound).Round(time.Millisecond))
	res := result{workload: w, nodes: nodes, profile: profile, round: round, pods: pods, startup: first.Sub(sched.started), elapsed: last.Sub(first), otherCPU: other}
	if initPods > 0 {
		left, err := countPods(ctx, client, initLabel)
		if err != nil {
			return result{}, err
		}
		res.preempted = initPods - left
	}
	// Each measured pod of a full cluster must have taken its node from init pods: else the profile bound them
	// without preempting, and the round did not measure what it says.
	if w.onePerNode && res.preempted < pods {
		return result{}, fmt.Errorf("%d pods bound with %d pods preempted: each needed to preempt", pods, res.preempted)
	}
	return res, nil
}

// roundID names a round in its pods' names and label: lower case, as names must be.
func roundID(w *workload, nodes int, profile string, round int) string {
	prefix := ""
	if w.name != workloadBerth {
		prefix = strings.ToLower(w.name) + "-"
	}
	return fmt.Sprintf("%sn%d-%s-r%d", prefix, nodes, strings.TrimSuffix(profile, "-scheduler"), round)
}

// waitBound reads pod events until want pods have a node and returns when the scheduler's first write to one of the
// pods (a bind, or a preemptor's nomination) and the last bind were seen: nothing else changes the round's pods,
// so the first event is the scheduler's. Where pods bind at their first attempt that is the first bind; a
// preemptor's first bind waits for its victims to go, and the preemptions before it count. Every pod bound by the
// berth profile must carry PodmanBind's annotation, and no pod bound by the default profile.
func waitBound(ctx context.Context, w watch.Interface, sched *scheduler, want int, profile string, timeout time.Duration) (first, last time.Time, err error) {
	logger := klog.FromContext(ctx)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	bound := map[string]bool{}
	for len(bound) < want {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return first, last, fmt.Errorf("pod watch ended with %d of %d pods bound", len(bound), want)
			}
			now := time.Now()
			if ev.Type == watch.Error {
				return first, last, fmt.Errorf("pod watch: %w", apierrors.FromObject(ev.Object))
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if first.IsZero() && ev.Type == watch.Modified {
				first = now
			}
			if pod.Spec.NodeName == "" || bound[pod.Name] {
				continue
			}
			_, annotated := pod.Annotations[wellknown.AnnotationScheduledNode]
			if annotated != (profile == berthProfile) {
				return first, last, fmt.Errorf("pod %s was bound by %s but has PodmanBind's annotation: %v; the profile is not what the benchmark expects", pod.Name, profile, annotated)
			}
			bound[pod.Name] = true
			last = now
		case <-sched.exited:
			return first, last, fmt.Errorf("scheduler stopped with %d of %d pods bound: %w", len(bound), want, sched.err)
		case <-progress.C:
			logger.Info("Binding", "profile", profile, "bound", len(bound), "of", want)
		case <-ctx.Done():
			return first, last, fmt.Errorf("%d of %d pods bound: %w", len(bound), want, context.Cause(ctx))
		}
	}
	return first, last, nil
}

// waitEvents waits up to 20 s until the namespace holds want events or their number stops growing for a second.
func waitEvents(ctx context.Context, client kubernetes.Interface, want int) {
	deadline := time.Now().Add(20 * time.Second)
	last, stableSince := -1, time.Now()
	for time.Now().Before(deadline) {
		list, err := client.EventsV1().Events(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			klog.FromContext(ctx).V(2).Info("Listing events", "err", err)
			return
		}
		n := len(list.Items)
		if n >= want {
			return
		}
		if n != last {
			last, stableSince = n, time.Now()
		} else if time.Since(stableSince) > time.Second {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// deletePods deletes the pods matching selector (all of the namespace's when empty) at once, with no grace period
// (no kubelet would confirm a graceful deletion, and no pod has finalizers), and waits until they are gone; the
// scheduler's events go with them. A deletion of thousands of pods can outlast the apiserver's request timeout: it
// is then asked again.
func deletePods(ctx context.Context, client kubernetes.Interface, selector string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var zero int64
	pods := client.CoreV1().Pods(namespace)
	for {
		err := pods.DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{LabelSelector: selector})
		if err != nil && !apierrors.IsTimeout(err) && !apierrors.IsServerTimeout(err) {
			return fmt.Errorf("delete pods %q: %w", selector, err)
		}
		if err == nil {
			break
		}
		klog.FromContext(ctx).V(2).Info("Deleting pods timed out, asking again", "selector", selector, "err", err)
	}
	if err := client.CoreV1().Events(namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		return fmt.Errorf("delete events: %w", err)
	}
	for {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: 1})
		if err != nil {
			return fmt.Errorf("list pods %q: %w", selector, err)
		}
		if len(list.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pods %q still there: %w", selector, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// countPods counts the pods matching selector that are not being deleted.
func countPods(ctx context.Context, client kubernetes.Interface, selector string) (int, error) {
	list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return 0, fmt.Errorf("list pods %q: %w", selector, err)
	}
	n := 0
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp == nil {
			n++
		}
	}
	return n, nil
}

// ensureInitPods tops the workload's init pods up to its count at this node count and returns that count: the
// missing ones (never made, or preempted in the round before) are created and bound, init pod j to node j mod
// nodes. That is where a scheduler would put them too (upstream's do, not measured): the nodes are alike and
// LeastAllocated spreads the pods evenly; PreemptionBasic's 4 pods per node fill every node, wherever they go. So
// both profiles start their rounds from the same cluster, without the cost of scheduling thousands of pods twice.
func ensureInitPods(ctx context.Context, client kubernetes.Interface, w *workload, nodes, workers int) (int, error) {
	want := w.initPods(nodes)
	if want == 0 {
		return 0, nil
	}
	pods := client.CoreV1().Pods(namespace)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: initLabel})
	if err != nil {
		return 0, fmt.Errorf("list init pods: %w", err)
	}
	have := map[string]bool{}
	for i := range list.Items {
		if p := &list.Items[i]; p.DeletionTimestamp == nil && p.Spec.NodeName != "" {
			have[p.Name] = true
		}
	}
	var missing []int
	for j := 0; j < want; j++ {
		if !have[initPodName(j)] {
			missing = append(missing, j)
		}
	}
	err = parallel(ctx, len(missing), workers, func(ctx context.Context, k int) error {
		pod, node := w.newInitPod(missing[k], nodes)
		created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create init pod %s: %w", pod.Name, err)
		}
		binding := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: created.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: node},
		}
		if err := pods.Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("bind init pod %s to %s: %w", pod.Name, node, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	klog.FromContext(ctx).V(2).Info("Init pods placed", "workload", w.name, "created", len(missing), "total", want)
	return want, nil
}

// resetCluster deletes every pod and fake node, so that another workload starts from an empty cluster.
func resetCluster(ctx context.Context, client kubernetes.Interface) error {
	if err := deletePods(ctx, client, ""); err != nil {
		return err
	}
	nodes := client.CoreV1().Nodes()
	if err := nodes.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: fakeLabel}); err != nil {
		return fmt.Errorf("delete nodes: %w", err)
	}
	return benchutil.Poll(ctx, 200*time.Millisecond, 5*time.Minute, "the fake nodes to go", func(ctx context.Context) (bool, error) {
		list, err := nodes.List(ctx, metav1.ListOptions{LabelSelector: fakeLabel, Limit: 1})
		if err != nil {
			return false, fmt.Errorf("list nodes: %w", err)
		}
		return len(list.Items) == 0, nil
	})
}

// ensurePriorityClasses creates the classes a workload's pods name.
func ensurePriorityClasses(ctx context.Context, client kubernetes.Interface, classes []*schedulingv1.PriorityClass) error {
	for _, pc := range classes {
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create PriorityClass %s: %w", pc.Name, err)
		}
	}
	return nil
}

// ---- scheduler ----

// scheduler is kube-scheduler running in this process.
type scheduler struct {
	cancel  context.CancelFunc
	started time.Time
	// exited is closed when app.Run has returned, with its error in err.
	exited chan struct{}
	err    error
}

var setGlobalsOnce sync.Once

// startScheduler sets up kube-scheduler from the configuration file, with Berth's plugins registered as
// cmd/berth-scheduler does and secure serving off, and runs it in a goroutine.
func startScheduler(ctx context.Context, configFile string) (*scheduler, error) {
	logger := klog.FromContext(ctx)
	opts := options.NewOptions()
	setGlobalsOnce.Do(func() {
		// Settle the feature gates and versions once, as the command does after parsing its flags.
		if err := opts.ComponentGlobalsRegistry.Set(); err != nil {
			logger.Error(err, "Setting the scheduler's feature gates")
		}
	})
	opts.ConfigFile = configFile
	opts.SecureServing.BindPort = 0
	sctx, cancel := context.WithCancel(ctx)
	cc, sched, err := app.Setup(sctx, opts,
		app.WithPlugin(podmanfit.Name, podmanfit.New),
		app.WithPlugin(podmanscore.Name, podmanscore.New),
		app.WithPlugin(podmanbind.Name, podmanbind.New),
	)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("set up the scheduler: %w", err)
	}
	if qps := cc.ComponentConfig.ClientConnection.QPS; qps < 1000 {
		logger.Info("Warning: the scheduler's client QPS is low, binds may be throttled", "qps", qps)
	}
	logger.V(2).Info("Scheduler client", "qps", cc.ComponentConfig.ClientConnection.QPS, "burst", cc.ComponentConfig.ClientConnection.Burst)
	// app.Run registers the configuration in the process-wide configz registry, once per process.
	configz.Delete(configzName)
	s := &scheduler{cancel: cancel, exited: make(chan struct{}), started: time.Now()}
	go func() {
		s.err = app.Run(sctx, cc, sched)
		close(s.exited)
	}()
	return s, nil
}

// stop stops the scheduler and waits for app.Run to return.
func (s *scheduler) stop() error {
	s.cancel()
	select {
	case <-s.exited:
		// Without leader election app.Run always ends with "finished without leader elect".
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("the in-process scheduler did not stop within 30s")
	}
}

// startCPUProfile profiles the process into file until the returned function is called.
func startCPUProfile(file string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, fmt.Errorf("cpu profile folder: %w", err)
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start cpu profile %s: %w", file, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
