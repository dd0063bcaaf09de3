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
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/provider/podman"
)

// Bounds of a termination message, as the kubelet's: the last 4096 bytes of the file; from the logs, the last
// 2048 bytes of the last 80 lines.
const (
	maxTerminationMessageLength   = 4096
	maxTerminationMessageLogBytes = 2048
	maxTerminationMessageLogLines = 80
)

// podFilesDir is the folder of a pod's files on the node (termination logs), under Config.RootDir.
func (p *Provider) podFilesDir(uid types.UID) string {
	if p.cfg.RootDir == "" || uid == "" {
		return ""
	}
	return p.volumes().PodDir(uid)
}

// terminationLogFile is the node file bind-mounted at one run's terminationMessagePath ("" without RootDir).
func (p *Provider) terminationLogFile(pod *corev1.Pod, container string, attempt int32) string {
	dir := p.podFilesDir(pod.UID)
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "containers", container, strconv.Itoa(int(attempt)))
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

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
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
