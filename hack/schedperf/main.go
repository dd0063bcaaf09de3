// Command schedperf measures how many pods per second Berth's scheduler profile binds compared with the in-tree
// default profile, on a real etcd and kube-apiserver with thousands of fake nodes.
//
// It starts berth-etcd and kube-apiserver from --bin-dir in a temporary folder, creates the fake nodes, and for
// each node count runs the two profiles in alternating order with the scheduler (both profiles, Berth's plugins
// compiled in) started in-process for every round. See docs/benchmarks.md.
//
//	go run ./hack/schedperf --nodes 500,5000 --pods 1000
//	go run ./hack/schedperf --workload TopologySpreading,PreemptionBasic --nodes 1000 --pods 1000 --rounds 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

func main() {
	cfg := Config{Out: os.Stdout}
	var nodes, workloads string
	klog.InitFlags(flag.CommandLine)
	flag.StringVar(&cfg.BinDir, "bin-dir", "_output/bin", "folder with berth-etcd and kube-apiserver (make build)")
	flag.StringVar(&workloads, "workload", workloadBerth, "comma-separated workloads to measure, in order: "+strings.Join(workloadNames, ", ")+
		" (the last three are upstream scheduler_perf's test cases)")
	flag.StringVar(&nodes, "nodes", "500,5000", "comma-separated node counts to measure")
	flag.IntVar(&cfg.Pods, "pods", 1000, "pending (measured) pods per round; PreemptionBasic measures at most one per node")
	flag.IntVar(&cfg.Rounds, "rounds", 1, "round pairs per node count (each pair runs both profiles, alternating which goes first)")
	flag.IntVar(&cfg.Owners, "owners", 10, "fake ReplicaSets per round; the pods are split among them in consecutive batches")
	flag.IntVar(&cfg.Workers, "workers", 32, "concurrent requests when creating nodes and pods")
	flag.DurationVar(&cfg.RoundTimeout, "round-timeout", 10*time.Minute, "longest a round may take to bind its pods")
	flag.StringVar(&cfg.JSON, "json", "", "also write the figures as JSON to this file (for hack/bench)")
	flag.BoolVar(&cfg.Ceiling, "ceiling", false, "also run, in each round pair, a profile without filter or score plugins (random node, default binder): the most pods/s any profile can reach on this machine")
	flag.StringVar(&cfg.CPUProfileDir, "cpu-profile-dir", "", "write a CPU profile of each round's scheduling (scheduler start to last bind) to <dir>/<round>.pprof")
	flag.StringVar(&cfg.StateDir, "state-dir", "", "folder for certificates, etcd data and logs (default: a temporary folder, removed at exit)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "schedperf: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	var err error
	if cfg.Workloads, err = parseWorkloads(workloads); err != nil {
		fmt.Fprintf(os.Stderr, "schedperf: %v\n", err)
		os.Exit(2)
	}
	for _, f := range strings.Split(nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "schedperf: --nodes: %q is not a positive number\n", f)
			os.Exit(2)
		}
		cfg.Nodes = append(cfg.Nodes, n)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	err = Run(ctx, cfg)
	klog.Flush()
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "schedperf: interrupted")
		} else {
			fmt.Fprintf(os.Stderr, "schedperf: %v\n", err)
		}
		os.Exit(1)
	}
}
