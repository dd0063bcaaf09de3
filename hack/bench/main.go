// Command bench runs Berth's benchmarks — the Go micro-benchmarks of the scheduler plugins and the provider,
// hack/schedperf, hack/podbench and hack/apibench — and prints one Markdown table: each figure beside its baseline
// measured in the same run (in-tree plugins and profile, raw Podman, Podman's API and CLI), the ratio, and the
// issue's target. `make bench` builds everything and runs it. See docs/benchmarks.md.
//
//	make bench                        # everything, ~15 min on 2 cores
//	BENCH_QUICK=1 make bench          # small sizes, ~5 min
//	make bench BENCH_FLAGS='--only go,schedperf --update-docs'
//	make bench BENCH_FLAGS='--only schedperf,schedperf-spread,schedperf-preemption'   # with upstream's workloads
//	make kind kind-image && make bench BENCH_FLAGS='--only kubelet'   # beside a kind node's kubelet+containerd
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	cfg := Config{Out: os.Stdout}
	var only string
	quick := os.Getenv("BENCH_QUICK")
	flag.StringVar(&cfg.BinDir, "bin-dir", "_output/bin", "folder with the component binaries and schedperf, podbench, apibench (make bench builds them)")
	flag.BoolVar(&cfg.Quick, "quick", quick != "" && quick != "0", "small sizes for a run of a few minutes (default from BENCH_QUICK=1)")
	flag.StringVar(&only, "only", strings.Join(defaultSteps(), ","), "comma-separated steps to run, of "+strings.Join(stepNames(), ", "))
	flag.StringVar(&cfg.OutFile, "out", "_output/bench.md", "file that receives the table (Markdown)")
	flag.StringVar(&cfg.LogDir, "log-dir", "_output/bench", "folder for each step's full output and figures (JSON)")
	flag.StringVar(&cfg.Docs, "update-docs", "", "also put the table into this document, between its \""+beginMarker+"\" and \""+endMarker+"\" lines (e.g. docs/benchmarks.md)")
	for _, s := range steps {
		flag.StringVar(cfg.extra(s.name), s.name+"-args", "", "extra arguments for "+s.what+", after the sizes of the mode (a later flag wins)")
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Only = append(cfg.Only, s)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	if err := Run(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}
