// Package app is the berth command: up, down and images.
package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/internal/cluster"
)

// detachedEnv marks the background berth that `berth up --detach` starts.
const detachedEnv = "BERTH_DETACHED_CHILD"

// Main runs the berth command and returns its exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	cmd := NewCommand(stdout, stderr)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(stderr, "berth: %v\n", err)
		return 1
	}
	return 0
}

// NewCommand returns the berth command tree.
func NewCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "Kubernetes pods on plain Podman hosts",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newUp(stdout), newDown(stdout), newImages(stdout))
	return root
}

func newUp(stdout io.Writer) *cobra.Command {
	cfg := cluster.Default()
	var detach bool
	var podmanURLs []string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a local cluster whose nodes are Podman hosts, until Ctrl-C",
		Long: `berth up starts etcd, kube-apiserver, kube-controller-manager, the Berth scheduler, a Podman service per
node and Berth's virtual kubelets, and waits until every node is Ready. It stays in the foreground until Ctrl-C,
then stops everything and removes the containers it made. With --detach it runs in the background; berth down
stops it. The cluster's objects are kept in the state folder across runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = stdout
			cfg.AwaitMetricsServer = true
			cfg = withPodmanURLs(cfg, podmanURLs, cmd.Flags().Changed("node-netns"))
			if detach && os.Getenv(detachedEnv) == "" {
				return upDetached(cmd.Context(), cfg.StateDir, stdout)
			}
			return up(cmd.Context(), cfg, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.StateDir, "state", cfg.StateDir, "state folder: etcd data, certificates, kubeconfig, logs, Podman storage")
	f.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "number of Podman-backed nodes, each with its own Podman storage")
	f.StringVar(&cfg.NodePrefix, "node-name", cfg.NodePrefix, "node name prefix: nodes are <prefix>-0, <prefix>-1, ...")
	f.StringSliceVar(&podmanURLs, "podman-url", nil, "use running Podman services (unix://, tcp://, ssh://), one per node, instead of starting them")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "address the nodes advertise (default: this machine's first non-loopback IPv4 address)")
	f.BoolVar(&cfg.NodeNetns, "node-netns", cfg.NodeNetns, "make each node a network namespace of its own, with its own address, its pod subnet routed from this machine, upstream kube-proxy and cluster DNS, so that Services work from and to its pods (see docs/services.md); false: the nodes share this machine's address and have neither (the default with --podman-url)")
	f.IntVar(&cfg.APIServerPort, "apiserver-port", cfg.APIServerPort, "kube-apiserver port (every address: pods reach it at --node-ip)")
	f.IntVar(&cfg.MaxPods, "max-pods", cfg.MaxPods, "pods each node can run, its pods capacity (berth-kubelet --max-pods, as the kubelet's maxPods; 0: the kubelet's default, 110)")
	f.StringSliceVar(&cfg.AllowedHostPaths, "allowed-host-paths", nil, "host folders hostPath volumes may name (at or below them); none by default")
	f.StringVar(&cfg.RegistriesConfig, "registries-config", "", "containers-registries.conf(5) v2 file (registry mirrors, insecure or blocked registries) merged into each node's Podman registries.conf; its entries win over Berth's")
	f.IntVar(&cfg.EtcdPort, "etcd-port", cfg.EtcdPort, "etcd client port (127.0.0.1)")
	f.IntVar(&cfg.EtcdPeerPort, "etcd-peer-port", cfg.EtcdPeerPort, "etcd peer port (127.0.0.1)")
	f.IntVar(&cfg.ControllerManagerPort, "controller-manager-port", cfg.ControllerManagerPort, "kube-controller-manager port (127.0.0.1)")
	f.IntVar(&cfg.SchedulerPort, "scheduler-port", cfg.SchedulerPort, "berth-scheduler port (127.0.0.1)")
	f.IntVar(&cfg.KubeletPort, "kubelet-port", cfg.KubeletPort, "kubelet API port (each node on its own address); with --node-netns=false the first node's, node i uses this + i")
	f.IntVar(&cfg.MetricsServerPort, "metrics-server-port", cfg.MetricsServerPort, "metrics-server port (on --node-ip), when metrics-server is in the bin folder")
	f.StringVar(&cfg.BinDir, "bin-dir", "", "folder of the component binaries (default: beside berth)")
	f.BoolVarP(&detach, "detach", "d", false, "run in the background; stop with berth down")
	return cmd
}

// up runs the cluster in the foreground until a signal.
func up(ctx context.Context, cfg cluster.Config, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "Starting Berth in %s\n", cfg.StateDir)
	c, err := cluster.Up(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stdout, "Stopping Berth ...")
		c.Stop(context.Background())
		fmt.Fprintln(stdout, "Stopped; the cluster's objects are kept in", c.Config().StateDir)
	}()
	fmt.Fprintf(stdout, "\n  export KUBECONFIG=%s\n  kubectl get nodes\n\n", c.Kubeconfig())
	if os.Getenv(detachedEnv) == "" {
		fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-c.Exited():
		return fmt.Errorf("a component stopped unexpectedly: %w", err)
	}
}

// upDetached starts berth up in the background and returns once the cluster is ready.
func upDetached(ctx context.Context, stateDir string, stdout io.Writer) error {
	if err := os.MkdirAll(filepath.Join(stateDir, "logs"), 0o700); err != nil {
		return err
	}
	logPath := filepath.Join(stateDir, "logs", "berth.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(stateDir, "ready"))
	child := exec.Command(exe, os.Args[1:]...)
	child.Env = append(os.Environ(), detachedEnv+"=1")
	child.Stdout, child.Stderr = log, log
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return fmt.Errorf("start berth in the background: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	for {
		if b, err := os.ReadFile(filepath.Join(stateDir, "ready")); err == nil {
			fmt.Fprintf(stdout, "Berth runs in the background (pid %d); logs in %s\n\n  export KUBECONFIG=%s\n\nStop it with: berth down --state %s\n",
				child.Process.Pid, filepath.Join(stateDir, "logs"), strings.TrimSpace(string(b)), stateDir)
			return nil
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("berth up failed (%v):\n%s", err, out)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func newDown(stdout io.Writer) *cobra.Command {
	stateDir := cluster.DefaultStateDir()
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop a berth up running in the background (or clean up after a crashed one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := klog.NewContext(cmd.Context(), klog.Background())
			if err := cluster.Down(ctx, stateDir, func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) }); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "Berth is down; the cluster's objects are kept in", stateDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state", stateDir, "state folder of the run to stop")
	return cmd
}

func newImages(stdout io.Writer) *cobra.Command {
	var urls []string
	stateDir := cluster.DefaultStateDir()
	nodes := 1
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Import the local images (" + cluster.BusyboxImage + ") into the nodes' Podman, if missing",
		Long: `berth images builds the images the demo and the tests use from what this machine has (a busybox-static
root filesystem) and imports them where they are missing: into the given Podman services with --podman-url, or
else into the Podman storage of the nodes of the state folder (berth up also does this by itself).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			say := func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) }
			if len(urls) == 0 {
				return cluster.ImportImagesOffline(cmd.Context(), stateDir, nodes, say)
			}
			return cluster.ImportImagesInto(cmd.Context(), urls, func(_ int, u string, imported bool) {
				if imported {
					say("imported %s into %s", cluster.BusyboxImage, u)
				} else {
					say("%s already present in %s", cluster.BusyboxImage, u)
				}
			})
		},
	}
	cmd.Flags().StringSliceVar(&urls, "podman-url", nil, "Podman services to import into")
	cmd.Flags().StringVar(&stateDir, "state", stateDir, "state folder whose nodes' Podman storage to import into")
	cmd.Flags().IntVar(&nodes, "nodes", nodes, "number of nodes of that state folder")
	return cmd
}

// withPodmanURLs gives the configuration the Podman services to use. Berth makes network namespaces only for the
// Podman services it starts, so with some given the nodes share the machine's address unless --node-netns was set
// (which complete then refuses, saying why).
func withPodmanURLs(cfg cluster.Config, urls []string, netnsSet bool) cluster.Config {
	cfg.PodmanURLs = urls
	if len(urls) > 0 && !netnsSet {
		cfg.NodeNetns = false
	}
	return cfg
}
