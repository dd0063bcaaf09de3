package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/provider/podman"
)

// A container's end, as the kubelet reports it: the exit recorded (recordExit: the exit code, an OOM kill) with its
// termination message, read from the file the container may write it to (mounted at terminationMessagePath,
// mountTerminationLog) or from its logs.

// Bounds of a termination message, as the kubelet's: the last 4096 bytes of the file; from the logs, the last
// 2048 bytes of the last 80 lines.
const (
	maxTerminationMessageLength   = 4096
	maxTerminationMessageLogBytes = 2048
	maxTerminationMessageLogLines = 80
)

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

// recordExit records how a container's current run (id) ended, with code exit (<0: unknown, as for a run Berth
// stopped), and its termination message, as the kubelet reports an exited container; it returns the exit code.
// A run killed for a new image keeps showing as it was, its end as lastState, until the next run starts at once
// (the kubelet kills and starts it in one sync): a pod under restartPolicy Never must not look Failed meanwhile.
func (w *podWorker) recordExit(ctx context.Context, c *containerRecord, id string, exit int32) int32 {
	w.p.mu.Lock()
	attempt := c.attempts
	w.p.mu.Unlock()
	if exit < 0 && c.spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		// Whether the logs stand in for the message depends on the code.
		if st, err := w.p.cfg.Runtime.InspectContainer(ctx, id); err == nil && exitedState(st.Status) {
			exit = st.ExitCode
		}
	}
	msg := w.p.terminationMessage(ctx, w.r.pod, c.spec, id, attempt, exit)
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	c.hooking = false // a run whose postStart hook failed ends here
	run := c.state
	w.observeExit(ctx, c, exit)
	withTerminationMessage(c.state.Terminated, msg)
	exit = c.state.Terminated.ExitCode
	if c.respecKilled && !w.r.terminal && !w.r.deleting && !w.r.evicting {
		c.last, c.state, c.restartNow = c.state, run, true
	}
	c.respecKilled = false
	if !w.r.deleting && !w.r.evicting {
		// A pod being stopped is reported once all is stopped: a terminal phase computed in between would be the
		// last status virtual-kubelet writes.
		w.changedLocked()
	}
	return exit
}

// observeExit records a container's termination from Podman's view of it. p.mu must be held; exit<0 means unknown.
func (w *podWorker) observeExit(ctx context.Context, c *containerRecord, exit int32) {
	st, err := w.p.cfg.Runtime.InspectContainer(ctx, c.id)
	t := &corev1.ContainerStateTerminated{ContainerID: containerIDPrefix + c.id, ExitCode: exit}
	if c.state.Running != nil {
		t.StartedAt = c.state.Running.StartedAt
	}
	if err == nil {
		t.ExitCode = st.ExitCode
		if !st.FinishedAt.IsZero() {
			t.FinishedAt = metav1.NewTime(st.FinishedAt)
		}
		if st.OOMKilled || oomKilledByLimit(c, st.ExitCode, w.r.deleting || w.r.terminal || w.r.evicting || c.killed) {
			t.Reason = "OOMKilled"
		}
	} else if exit < 0 || podman.IsNotFound(err) {
		// The container is gone (removed behind Berth's back): the kubelet's view of a container it cannot find.
		t.ExitCode = 137
		t.Reason = "ContainerStatusUnknown"
		t.Message = "The container could not be located when the pod was terminated"
	}
	if t.FinishedAt.IsZero() {
		t.FinishedAt = metav1.Now()
	}
	if t.Reason == "" {
		t.Reason = "Completed"
		if t.ExitCode != 0 {
			t.Reason = "Error"
		}
	}
	c.state = corev1.ContainerState{Terminated: t}
}

// oomKilledByLimit recognises a container the kernel's OOM killer ended: Podman 4.3 on cgroup v1 does not report
// OOMKilled, so a SIGKILL exit (137) of a container with a memory limit that Berth did not stop is taken as one,
// as the kubelet would report it from the cgroup's OOM event.
func oomKilledByLimit(c *containerRecord, exit int32, stoppedByBerth bool) bool {
	if exit != 137 || stoppedByBerth {
		return false
	}
	m, ok := c.spec.Resources.Limits[corev1.ResourceMemory]
	return ok && !m.IsZero()
}

// exitedState tells whether a Podman container state is final (the container ran and stopped).
func exitedState(s string) bool { return s == "exited" || s == "stopped" }

// terminationMessage reads the message of a run that exited with code exit (<0: unknown) as the kubelet does:
// the file at terminationMessagePath; with FallbackToLogsOnError, the tail of the logs when the file is empty or
// missing and the run failed.
func (p *Provider) terminationMessage(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, attempt, exit int32) string {
	fallback := c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && exit != 0
	if c.TerminationMessagePath != "" {
		data, path, err := p.readTerminationLog(ctx, pod, c, id, attempt)
		switch {
		case err == nil && len(data) > 0:
			return string(data)
		case err != nil && !errors.Is(err, fs.ErrNotExist) && !podman.IsNotFound(err):
			// A file that cannot be read is the message, even with FallbackToLogsOnError.
			return fmt.Sprintf("Error on reading termination log %s: %v", path, err)
		}
	}
	if !fallback {
		return ""
	}
	// The whole log is read and only its tail kept: Podman before 4.7 leaves a last line without its newline
	// (`echo -n DONE; false`) out of a tailed log, and the kubelet's message has it.
	tail := &tailBuffer{max: maxTerminationMessageLogBytes}
	if err := p.cfg.Runtime.Logs(ctx, id, podman.LogOptions{Tail: -1}, tail); err != nil {
		return fmt.Sprintf("Error on reading termination message from logs: %v", err)
	}
	return string(lastLines(tail.buf, maxTerminationMessageLogLines))
}

// readTerminationLog reads the last 4096 bytes of a run's termination log: the node file mounted for it, or else
// the file in the container. path is the one read (the node's, as the kubelet names it in errors).
func (p *Provider) readTerminationLog(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, attempt int32) (data []byte, path string, err error) {
	if file := p.terminationLogFile(pod, c.Name, attempt); file != "" {
		data, err := readTail(file, maxTerminationMessageLength)
		if !errors.Is(err, fs.ErrNotExist) {
			return data, file, err
		}
		// Not mounted (a container an earlier Berth created): look inside the container.
	}
	data, err = p.cfg.Runtime.ReadFile(ctx, id, c.TerminationMessagePath, maxTerminationMessageLength)
	return data, c.TerminationMessagePath, err
}

// readTail reads at most the last max bytes of a file.
func readTail(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		if _, err := f.Seek(-max, io.SeekEnd); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(f, max))
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

// lastLines is the end of b that holds its last n lines (the last one may lack its newline).
func lastLines(b []byte, n int) []byte {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end-- // the last line's own newline
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] != '\n' {
			continue
		}
		if n--; n == 0 {
			return b[i+1:]
		}
	}
	return b
}

// withTerminationMessage adds a run's termination message to its terminated state, after the reason's own
// message if any, as the kubelet does.
func withTerminationMessage(t *corev1.ContainerStateTerminated, msg string) {
	if t == nil || msg == "" {
		return
	}
	if t.Message != "" {
		t.Message += ": "
	}
	t.Message += msg
}

// terminationLogFile is the node file bind-mounted at one run's terminationMessagePath ("" without RootDir).
func (p *Provider) terminationLogFile(pod *corev1.Pod, container string, attempt int32) string {
	dir := p.podFilesDir(pod.UID)
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "containers", container, strconv.Itoa(int(attempt)))
}

// podFilesDir is the folder of a pod's files on the node (termination logs), under Config.RootDir.
func (p *Provider) podFilesDir(uid types.UID) string {
	if p.cfg.RootDir == "" || uid == "" {
		return ""
	}
	return p.volumes().PodDir(uid)
}

// mountTerminationLog creates, as the kubelet does, an empty world-writable file for the run's termination
// message and returns its bind mount at terminationMessagePath. Without RootDir (a Podman host whose files Berth
// cannot reach) nothing is mounted and the message is read from the container's own filesystem.
func (p *Provider) mountTerminationLog(pod *corev1.Pod, c *corev1.Container, attempt int32) ([]podman.BindMount, error) {
	file := p.terminationLogFile(pod, c.Name, attempt)
	if file == "" || c.TerminationMessagePath == "" {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return nil, fmt.Errorf("create termination log of container %s: %w", c.Name, err)
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("create termination log of container %s: %w", c.Name, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("create termination log of container %s: %w", c.Name, err)
	}
	// Any user the container runs as may write it.
	if err := os.Chmod(file, 0o666); err != nil {
		return nil, fmt.Errorf("create termination log of container %s: %w", c.Name, err)
	}
	return []podman.BindMount{{Source: file, Dest: c.TerminationMessagePath}}, nil
}

// removeTerminationLog removes the termination log file of one run.
func (p *Provider) removeTerminationLog(pod *corev1.Pod, container string, attempt int32) {
	if file := p.terminationLogFile(pod, container, attempt); file != "" {
		_ = os.Remove(file)
	}
}
