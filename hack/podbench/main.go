// Command podbench measures pod start latency on a real one-node Berth cluster, side by side with the same
// containers started through the same Podman service directly, plus the container exit → pod Succeeded latency and
// the virtual kubelet's memory with many running pods. It prints numbers and ratios; it never asserts timings.
// See docs/benchmarks-pods.md.
//
//	go run ./hack/podbench
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
	flag.StringVar(&cfg.StateDir, "state-dir", "", "state folder of the cluster, kept (default: a temporary folder, removed at exit unless the run fails)")
	flag.BoolVar(&cfg.KeepState, "keep-state", false, "keep the temporary state folder (logs in <state>/logs) after the run")
	flag.IntVar(&cfg.Singles, "singles", 20, "single-pod starts per path (Berth and raw Podman, alternating)")
	flag.IntVar(&cfg.Burst, "burst", 50, "pods started at once per burst")
	flag.IntVar(&cfg.BurstRounds, "burst-rounds", 2, "bursts per path (alternating which path goes first)")
	flag.IntVar(&cfg.Workers, "workers", 10, "goroutines creating the pods of a Berth burst")
	flag.IntVar(&cfg.ExitPods, "exit-pods", 20, "pods measured for container exit → Succeeded")
	flag.IntVar(&cfg.ExitConcurrency, "exit-concurrency", 1, "exit pods in flight at once")
	flag.BoolVar(&cfg.ExitSpread, "exit-spread", false, "exit pods sleep 1.000–1.249s (different per pod) instead of exactly 1s")
	flag.StringVar(&cfg.JSON, "json", "", "also write the figures as JSON to this file (for hack/bench)")
	flag.IntVar(&cfg.MemPods, "mem-pods", 100, "running pods when the virtual kubelet's memory is read (0: skip)")
	flag.IntVar(&cfg.ScalePods, "scale-pods", 0, "running pods held for the churn phase (0: skip)")
	flag.IntVar(&cfg.ChurnRounds, "churn-rounds", 5, "rounds of the churn phase, each replacing --churn-pods of the --scale-pods")
	flag.IntVar(&cfg.ChurnPods, "churn-pods", 50, "pods replaced per churn round (and started at once while scaling up)")
	flag.BoolVar(&cfg.Kind, "kind", false, "also measure a kind cluster's kubelet+containerd (make kind-image, make kind) with the same pods, starts and exits, in the same run")
	flag.StringVar(&cfg.KindScript, "kind-script", "hack/kind/kind.sh", "the kind wrapper for this host (with --kind; its folder also has containers-conf.sh)")
	flag.StringVar(&cfg.KindConfig, "kind-config", "hack/kind/kind-config.yaml", "the kind cluster's configuration (with --kind)")
	flag.StringVar(&cfg.KindImage, "kind-image", "", "the kind node image (with --kind; default: the one --kind-config names)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "podbench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	err := Run(ctx, cfg)
	klog.Flush()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "podbench: interrupted")
		} else {
			fmt.Fprintf(os.Stderr, "podbench: %v\n", err)
		}
		os.Exit(1)
	}
}
