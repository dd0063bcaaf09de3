package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/hack/internal/benchutil"
)

// Config configures a run.
type Config struct {
	// BinDir holds the component binaries and the benchmark commands.
	BinDir string
	// Quick selects the small sizes.
	Quick bool
	// Only are the steps to run, by name.
	Only []string
	// OutFile receives the table; LogDir each step's output and figures.
	OutFile, LogDir string
	// Docs, if set, is a document whose marked section receives the table.
	Docs string
	// Extra are extra arguments per step, space-separated.
	Extra map[string]*string
	// Out receives the steps' output as they run, then the table.
	Out io.Writer
}

func (c *Config) extra(step string) *string {
	if c.Extra == nil {
		c.Extra = map[string]*string{}
	}
	if c.Extra[step] == nil {
		c.Extra[step] = new(string)
	}
	return c.Extra[step]
}

// step is one benchmark the driver runs.
type step struct {
	name, what string
	// full and quick are the sizes of each mode.
	full, quick []string
	// goTest steps run `go test` in the module and parse its output; the others run the command <name> (or
	// command) of the bin folder with --bin-dir and -json.
	goTest  bool
	command string
	// optIn steps run only when --only names them.
	optIn bool
}

// steps are run in this order: cheapest first.
var steps = []step{
	{
		name: "go", what: "the Go micro-benchmarks (go test -bench . ./plugins/... ./provider/...)", goTest: true,
		full:  []string{"-benchtime=1s"},
		quick: []string{"-benchtime=0.2s"},
	},
	{
		name: "schedperf", what: "hack/schedperf (scheduler throughput against the in-tree default profile)",
		full:  []string{"--nodes=500,5000", "--pods=1000", "--rounds=1"},
		quick: []string{"--nodes=500,2000", "--pods=500", "--rounds=1"},
	},
	{
		// Upstream scheduler_perf's topology_spreading test cases (TopologySpreading 5000Nodes: 5000 nodes, 5000
		// init pods, 2000 measured), the same comparison on a workload that is not Berth's.
		name: "schedperf-spread", command: "schedperf", optIn: true,
		what:  "hack/schedperf --workload TopologySpreading,PreferredTopologySpreading (upstream scheduler_perf's, against the in-tree default profile)",
		full:  []string{"--workload=TopologySpreading,PreferredTopologySpreading", "--nodes=500,5000", "--pods=1000", "--rounds=1"},
		quick: []string{"--workload=TopologySpreading,PreferredTopologySpreading", "--nodes=500", "--pods=500", "--rounds=1"},
	},
	{
		// Upstream's PreemptionBasic at upstream's 1000Nodes size is long on 2 cores: every pod preempts.
		name: "schedperf-preemption", command: "schedperf", optIn: true,
		what:  "hack/schedperf --workload PreemptionBasic (upstream scheduler_perf's, against the in-tree default profile)",
		full:  []string{"--workload=PreemptionBasic", "--nodes=500", "--pods=500", "--rounds=1"},
		quick: []string{"--workload=PreemptionBasic", "--nodes=200", "--pods=200", "--rounds=1"},
	},
	{
		name: "podbench", what: "hack/podbench (pod start and exit latency, kubelet memory, against raw Podman)",
		full:  []string{"--singles=20", "--burst=50", "--burst-rounds=2", "--exit-pods=20", "--mem-pods=100", "--scale-pods=250", "--churn-rounds=5", "--churn-pods=50"},
		quick: []string{"--singles=5", "--burst=10", "--burst-rounds=1", "--exit-pods=5", "--mem-pods=20", "--scale-pods=20", "--churn-rounds=2", "--churn-pods=10"},
	},
	{
		// The kubelet baseline: a kind cluster of the offline node image (make kind-image) beside Berth's, the
		// same pods started and finished on both in alternation. Opt-in: it needs the node image and kind.
		name: "kubelet", command: "podbench", optIn: true,
		what:  "hack/podbench --kind (pod start and exit latency against a kind node's kubelet+containerd and raw Podman)",
		full:  []string{"--kind", "--singles=20", "--burst=50", "--burst-rounds=2", "--exit-pods=20", "--mem-pods=0", "--scale-pods=0"},
		quick: []string{"--kind", "--singles=5", "--burst=10", "--burst-rounds=1", "--exit-pods=5", "--mem-pods=0", "--scale-pods=0"},
	},
	{
		name: "apibench", what: "hack/apibench (exec round trip and followed logs, against Podman's API and CLI)",
		full:  []string{"--execs=100", "--log-mb=50", "--log-rounds=3"},
		quick: []string{"--execs=20", "--log-mb=10", "--log-rounds=1"},
	},
}

func stepNames() []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.name)
	}
	return out
}

// defaultSteps are the steps run when --only is not given: all but the opt-in ones.
func defaultSteps() []string {
	var out []string
	for _, s := range steps {
		if !s.optIn {
			out = append(out, s.name)
		}
	}
	return out
}

// stepResult is what a step gave.
type stepResult struct {
	step    step
	args    []string
	took    time.Duration
	figures []benchutil.Figure
	err     error
}

// Run runs the selected steps one after the other, then prints and writes the table. A failing step does not stop
// the others; the run then ends with an error naming it.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	var selected []step
	for _, name := range cfg.Only {
		i := slices.IndexFunc(steps, func(s step) bool { return s.name == name })
		if i < 0 {
			return fmt.Errorf("--only: no step %q (steps: %s)", name, strings.Join(stepNames(), ", "))
		}
		selected = append(selected, steps[i])
	}
	slices.SortStableFunc(selected, func(a, b step) int { return slices.Index(stepNames(), a.name) - slices.Index(stepNames(), b.name) })
	binDir, err := filepath.Abs(cfg.BinDir)
	if err != nil {
		return fmt.Errorf("resolve --bin-dir: %w", err)
	}
	if cfg.LogDir, err = filepath.Abs(cfg.LogDir); err != nil {
		return fmt.Errorf("resolve --log-dir: %w", err)
	}
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return fmt.Errorf("create the log folder: %w", err)
	}

	load := startLoadSampler(ctx)
	begin := time.Now()
	background := benchutil.Background()
	// What is measured is the tree at the start: a run may end by writing the docs.
	commit := gitDescribe(ctx)
	var results []stepResult
	for _, s := range selected {
		if ctx.Err() != nil {
			break
		}
		res := runStep(ctx, cfg, s, binDir)
		results = append(results, res)
		if res.err != nil {
			fmt.Fprintf(cfg.Out, "\nbench: %s failed: %v\n", s.name, res.err)
		}
	}
	run := runInfo{
		begin: begin, took: time.Since(begin), quick: cfg.Quick, cpus: runtime.NumCPU(),
		commit: commit, background: background,
	}
	run.loadMin, run.loadMax, run.loadMean = load.stop()
	report := render(run, results)
	fmt.Fprintf(cfg.Out, "\n%s", report)

	var errs []error
	if err := os.WriteFile(cfg.OutFile, []byte(report), 0o644); err != nil {
		errs = append(errs, fmt.Errorf("write the table: %w", err))
	} else {
		fmt.Fprintf(cfg.Out, "\nTable written to %s; each step's output in %s.\n", cfg.OutFile, cfg.LogDir)
	}
	if cfg.Docs != "" {
		if err := updateDocs(cfg.Docs, report); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(cfg.Out, "Table put into %s.\n", cfg.Docs)
		}
	}
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.step.name, r.err))
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// runStep runs one step with its output going to cfg.Out and to <LogDir>/<step>.log.
func runStep(ctx context.Context, cfg Config, s step, binDir string) stepResult {
	res := stepResult{step: s}
	args := slices.Clone(s.full)
	if cfg.Quick {
		args = slices.Clone(s.quick)
	}
	if extra := cfg.Extra[s.name]; extra != nil {
		args = append(args, strings.Fields(*extra)...)
	}
	res.args = args
	logPath := filepath.Join(cfg.LogDir, s.name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		res.err = fmt.Errorf("create its log: %w", err)
		return res
	}
	defer logFile.Close()
	var captured bytes.Buffer
	out := io.MultiWriter(cfg.Out, logFile, &captured)

	var cmd *exec.Cmd
	jsonPath := filepath.Join(cfg.LogDir, s.name+".json")
	if s.goTest {
		goCmd := os.Getenv("GO")
		if goCmd == "" {
			goCmd = "go"
		}
		cmd = exec.CommandContext(ctx, goCmd, append(append([]string{"test", "-run=^$", "-bench=.", "-benchmem", "-count=1"}, args...),
			"./plugins/...", "./provider/...")...)
	} else {
		_ = os.Remove(jsonPath)
		command := s.command
		if command == "" {
			command = s.name
		}
		cmd = exec.CommandContext(ctx, filepath.Join(binDir, command), append([]string{"--bin-dir=" + binDir, "-json=" + jsonPath}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// On Ctrl-C the commands get an interrupt and time to stop their clusters, not a kill.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 3 * time.Minute
	fmt.Fprintf(out, "\n==> %s: %s\n", s.name, strings.Join(cmd.Args, " "))
	start := time.Now()
	err = cmd.Run()
	res.took = time.Since(start)
	fmt.Fprintf(out, "==> %s took %s\n", s.name, res.took.Round(time.Second))
	if err != nil {
		res.err = err
		return res
	}
	if s.goTest {
		res.figures = goFigures(parseGoBench(&captured))
		if err := benchutil.WriteFigures(jsonPath, res.figures); err != nil {
			res.err = err
		}
		return res
	}
	res.figures, res.err = benchutil.ReadFigures(jsonPath)
	return res
}

// runInfo describes the run as a whole.
type runInfo struct {
	begin                      time.Time
	took                       time.Duration
	quick                      bool
	cpus                       int
	commit                     string
	background                 string
	loadMin, loadMax, loadMean float64
}

// render is the report: what ran where, the table, and each step's settings.
func render(run runInfo, results []stepResult) string {
	var b strings.Builder
	mode := "full run"
	if run.quick {
		mode = "quick run (BENCH_QUICK=1: small sizes, figures are rough)"
	}
	fmt.Fprintf(&b, "Berth %s, %s, %s, took %s. Machine: %d CPUs; 1-minute load average %.1f–%.1f (mean %.1f) during the run; at its start: %s.\n\n",
		run.commit, run.begin.UTC().Format("2006-01-02 15:04 UTC"), mode, run.took.Round(time.Second),
		run.cpus, run.loadMin, run.loadMax, run.loadMean, run.background)
	var figures []benchutil.Figure
	for _, r := range results {
		figures = append(figures, r.figures...)
	}
	b.WriteString(table(figures))
	b.WriteString("\n")
	for _, r := range results {
		status := "ok"
		if r.err != nil {
			status = "**failed**: " + r.err.Error()
		}
		fmt.Fprintf(&b, "- `%s` %s: %s, took %s — %s\n", r.step.name, strings.Join(r.args, " "), status, r.took.Round(time.Second), r.step.what)
	}
	return b.String()
}

// updateDocs puts the report into the marked section of a document.
func updateDocs(path, report string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("update docs: %w", err)
	}
	out, err := replaceBetweenMarkers(string(doc), report)
	if err != nil {
		return fmt.Errorf("update docs %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return fmt.Errorf("update docs: %w", err)
	}
	return nil
}

// gitDescribe names the commit measured, e.g. "at 1a2b3c4" or "at 1a2b3c4 with uncommitted changes".
func gitDescribe(ctx context.Context) string {
	rev, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "(commit unknown)"
	}
	s := "at " + strings.TrimSpace(string(rev))
	if status, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(status)) > 0 {
		s += " with uncommitted changes"
	}
	return s
}

// loadSampler samples the 1-minute load average every 10 s.
type loadSampler struct {
	mu      sync.Mutex
	samples []float64
	cancel  context.CancelFunc
	done    chan struct{}
}

func startLoadSampler(ctx context.Context) *loadSampler {
	ctx, cancel := context.WithCancel(ctx)
	l := &loadSampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			if v := benchutil.Load1(); v >= 0 {
				l.mu.Lock()
				l.samples = append(l.samples, v)
				l.mu.Unlock()
			}
			if !benchutil.SleepCtx(ctx, 10*time.Second) {
				return
			}
		}
	}()
	return l
}

// stop ends the sampling and returns the lowest, highest and mean load seen.
func (l *loadSampler) stop() (lo, hi, mean float64) {
	l.cancel()
	<-l.done
	if v := benchutil.Load1(); v >= 0 {
		l.samples = append(l.samples, v)
	}
	if len(l.samples) == 0 {
		return 0, 0, 0
	}
	return slices.Min(l.samples), slices.Max(l.samples), benchutil.Mean(l.samples)
}
