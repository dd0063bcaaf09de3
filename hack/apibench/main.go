// Command apibench measures the kubelet API's streaming calls on a real Berth cluster, side by side with the same
// calls made to the node's Podman service directly, in one run: the round trip of `kubectl exec ... -- true`, and
// the throughput of a followed log of a container that printed many megabytes. It prints numbers and ratios; it
// never asserts timings. See docs/benchmarks.md.
//
//	go run ./hack/apibench                                   # starts a one-node cluster in a temporary folder
//	go run ./hack/apibench --kubeconfig K --podman-url URL   # an existing cluster and its node's Podman service
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/klog/v2"
)

func main() {
	cfg := Config{Out: os.Stdout}
	klog.InitFlags(flag.CommandLine)
	flag.StringVar(&cfg.BinDir, "bin-dir", "_output/bin", "folder with the component binaries (make build)")
	flag.StringVar(&cfg.StateDir, "state-dir", "", "state folder of the cluster started (default: a temporary folder, removed at exit unless the run fails)")
	flag.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "use this cluster instead of starting one (needs --podman-url)")
	flag.StringVar(&cfg.PodmanURL, "podman-url", "", "with --kubeconfig: the Podman service of the node the benchmark pod runs on")
	flag.StringVar(&cfg.Node, "node", "", "with --kubeconfig: the node to run the benchmark pod on (default: the scheduler's choice)")
	flag.IntVar(&cfg.Execs, "execs", 100, "exec round trips per path (alternating)")
	flag.IntVar(&cfg.LogMB, "log-mb", 50, "MiB the log container prints")
	flag.IntVar(&cfg.LogRounds, "log-rounds", 3, "followed reads of the whole log per path (alternating)")
	flag.StringVar(&cfg.JSON, "json", "", "also write the figures as JSON to this file (for hack/bench)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "apibench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := Run(ctx, cfg)
	klog.Flush()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "apibench: interrupted")
		} else {
			fmt.Fprintf(os.Stderr, "apibench: %v\n", err)
		}
		os.Exit(1)
	}
}
