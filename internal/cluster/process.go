package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one component berth started: a child in its own process group, logging to a file.
type process struct {
	name    string
	bin     string
	args    []string
	env     []string
	cmd     *exec.Cmd
	logPath string
	pidPath string
	exited  chan struct{}
	err     error
}

// start launches bin with args, its output in logDir/name.log and its pid in pidDir/name.pid.
// The child gets SIGTERM if berth dies, so that nothing outlives a killed berth.
func start(name, bin string, args, env []string, logDir, pidDir string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "\n==== %s %s %s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	// Each runs in the state folder, not where berth was started: conmon, started by a Podman service, writes an
	// "oom" marker of an OOM-killed container into its working folder.
	cmd.Dir = filepath.Dir(logDir)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSignal(name)}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, bin: bin, args: args, env: env, cmd: cmd, logPath: logPath, pidPath: filepath.Join(pidDir, name+".pid"), exited: make(chan struct{})}
	if err := os.WriteFile(p.pidPath, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("write pid of %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// deathSignal is the signal a component gets when berth dies. SIGTERM lets each stop cleanly (etcd syncs, a virtual
// kubelet releases its lease), except the apiserver: with etcd gone at the same moment its graceful shutdown can
// outlast the next berth up's 15 s wait (CI once saw it alive 45 s later), and it holds nothing SIGKILL could lose.
func deathSignal(name string) syscall.Signal {
	if name == "kube-apiserver" {
		return syscall.SIGKILL
	}
	return syscall.SIGTERM
}

// running tells whether the process is still alive.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after timeout, and removes the pid file.
func (p *process) stop(timeout time.Duration) { p.terminate(-p.cmd.Process.Pid, timeout) }

// stopLeader is stop for the process alone, not its group: children such as Podman's conmons live on.
func (p *process) stopLeader(timeout time.Duration) { p.terminate(p.cmd.Process.Pid, timeout) }

// terminate sends SIGTERM to pid (the process, or its group if negative), then SIGKILL after timeout, waits for
// the process to exit and removes its pid file.
func (p *process) terminate(pid int, timeout time.Duration) {
	defer os.Remove(p.pidPath)
	if !p.running() {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-p.exited:
		return
	case <-time.After(timeout):
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	<-p.exited
}

// kill sends SIGKILL to the process alone and waits up to timeout for it to exit; its pid file goes as with stop.
func (p *process) kill(timeout time.Duration) error {
	defer os.Remove(p.pidPath)
	if !p.running() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %s of SIGKILL", p.name, timeout)
	}
}

// failure describes why a component stopped or never became ready, with the end of its log.
func (p *process) failure(what string) error {
	tail := tailFile(p.logPath, 15)
	state := "is not ready"
	if !p.running() {
		state = fmt.Sprintf("exited (%v)", p.err)
	}
	return fmt.Errorf("%s %s %s; last lines of %s:\n%s", p.name, state, what, p.logPath, tail)
}

// tailFile returns the last n lines of a file, indented.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "    (no log)"
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return "    " + strings.Join(lines, "\n    ")
}

// waitFor polls check every interval until it succeeds, ctx ends, or the process exits.
func waitFor(ctx context.Context, p *process, what string, check func(context.Context) error) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		if p != nil && !p.running() {
			return p.failure(what)
		}
		select {
		case <-ctx.Done():
			if p != nil {
				return fmt.Errorf("%w (last check: %v)", p.failure(what), last)
			}
			return fmt.Errorf("%s: %w (last check: %v)", what, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// alivePIDs returns the pid files in dir whose processes are still running and whose command line mentions
// mark (the state folder, so that a reused pid is never taken for ours), as name → pid.
func alivePIDs(dir, mark string) map[string]int {
	out := map[string]int{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pid") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(cmdline), mark) {
			continue
		}
		out[strings.TrimSuffix(e.Name(), ".pid")] = pid
	}
	return out
}

// killPID stops a process group left by an earlier run: SIGTERM, then SIGKILL after timeout.
func killPID(pid int, timeout time.Duration) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
