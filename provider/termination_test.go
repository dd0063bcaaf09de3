package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

func TestTerminationMessage(t *testing.T) {
	var hundred strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&hundred, "line %03d %s\n", i, strings.Repeat("x", 20))
	}
	long := strings.Repeat("a", 5000) + "END"
	tests := []struct {
		name   string
		path   string
		policy corev1.TerminationMessagePolicy
		exit   int32
		file   string // written at path unless empty
		logs   string
		want   string
	}{
		{name: "file", path: "/dev/termination-log", exit: 1, file: "disk full", want: "disk full"},
		{name: "no file, no message", path: "/dev/termination-log", exit: 1, want: ""},
		{name: "file keeps its last 4096 bytes", path: "/dev/termination-log", file: long, want: long[len(long)-4096:]},
		{name: "fallback on failure with no file", path: "/dev/termination-log", policy: corev1.TerminationMessageFallbackToLogsOnError, exit: 2,
			logs: "starting\ncrashed\n", want: "starting\ncrashed\n"},
		{name: "fallback keeps 80 lines and 2048 bytes", path: "/dev/termination-log", policy: corev1.TerminationMessageFallbackToLogsOnError, exit: 2,
			logs: hundred.String(), want: hundred.String()[len(hundred.String())-2048:]},
		{name: "fallback keeps the last 80 of 100 short lines", path: "/dev/termination-log", policy: corev1.TerminationMessageFallbackToLogsOnError, exit: 1,
			logs: shortLines(100), want: shortLines(100)[len(shortLines(20)):]},
		{name: "fallback keeps a last line without its newline", path: "/dev/termination-log", policy: corev1.TerminationMessageFallbackToLogsOnError, exit: 1,
			logs: "DONE", want: "DONE"},
		{name: "no fallback on success", path: "/dev/termination-log", policy: corev1.TerminationMessageFallbackToLogsOnError, exit: 0,
			logs: "fine\n", want: ""},
		{name: "file wins over logs", path: "/tmp/msg", policy: corev1.TerminationMessageFallbackToLogsOnError, exit: 1,
			file: "from file", logs: "from logs\n", want: "from file"},
		{name: "unknown exit counts as failure", path: "/dev/termination-log", policy: corev1.TerminationMessageFallbackToLogsOnError, exit: -1,
			logs: "gone\n", want: "gone\n"},
		{name: "no path", policy: corev1.TerminationMessageFallbackToLogsOnError, exit: 1, logs: "x\n", want: "x\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRuntime("busybox")
			f.containers["c1"] = &fakeContainer{id: "c1", spec: podman.ContainerSpec{Name: "ctr"}, status: "exited"}
			f.write(t, "c1", tc.path, tc.file, tc.logs)
			if tc.file == "" {
				delete(f.containers["c1"].files, tc.path)
			}
			p := New(Config{Runtime: f})
			pod := lifecyclePod("msg", corev1.RestartPolicyNever, nil)
			c := &corev1.Container{Name: "main", TerminationMessagePath: tc.path, TerminationMessagePolicy: tc.policy}
			if got := p.terminationMessage(t.Context(), pod, c, "c1", 1, tc.exit); got != tc.want {
				t.Errorf("message %q, want %q", got, tc.want)
			}
		})
	}
}

// shortLines is n numbered lines of the same length.
func shortLines(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%03d\n", i)
	}
	return b.String()
}

func TestReadTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	for max, want := range map[int64]string{4: "6789", 10: "0123456789", 100: "0123456789"} {
		got, err := readTail(path, max)
		if err != nil || string(got) != want {
			t.Errorf("readTail(%d) = %q, %v; want %q", max, got, err, want)
		}
	}
	if _, err := readTail(filepath.Join(t.TempDir(), "missing"), 4); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 5}
	for _, s := range []string{"ab", "cdef", "g"} {
		_, _ = b.Write([]byte(s))
	}
	if string(b.buf) != "cdefg" {
		t.Errorf("tail %q, want cdefg", b.buf)
	}
}

func TestWithTerminationMessage(t *testing.T) {
	tests := []struct{ reason, msg, want string }{
		{"", "disk full", "disk full"},
		{"kept", "", "kept"},
		{"Container exited", "bye", "Container exited: bye"},
	}
	for _, tc := range tests {
		st := &corev1.ContainerStateTerminated{Message: tc.reason}
		withTerminationMessage(st, tc.msg)
		if st.Message != tc.want {
			t.Errorf("message %q, want %q", st.Message, tc.want)
		}
	}
	withTerminationMessage(nil, "ignored")
}

// TestTerminationMessageInStatus runs a container whose termination log is a node file (RootDir): the file is
// created empty and world-writable, bind-mounted at terminationMessagePath, read when the container exits and
// removed with the pod.
func TestTerminationMessageInStatus(t *testing.T) {
	h := newHarness(t, "busybox")
	root := t.TempDir()
	h.p.cfg.RootDir = root
	c := testContainer("main", "busybox")
	c.TerminationMessagePath = "/dev/termination-log"
	pod := lifecyclePod("msg", corev1.RestartPolicyNever, nil, c)
	h.create(pod)
	name := ctrName(pod, "main", 1)
	h.waitContainer(name, "running")
	h.fake.mu.Lock()
	mounts := h.fake.lookupContainer(name).spec.Mounts
	h.fake.mu.Unlock()
	file := filepath.Join(root, "pods", string(pod.UID), "containers", "main", "1")
	// Besides the pod's hosts file at /etc/hosts.
	if !slices.Contains(mounts, podman.BindMount{Source: file, Dest: "/dev/termination-log"}) {
		t.Fatalf("mounts %+v, want %s at /dev/termination-log", mounts, file)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o666 || st.Size() != 0 {
		t.Fatalf("termination log file: %v %v", st, err)
	}
	if err := os.WriteFile(file, []byte("bad config"), 0o666); err != nil {
		t.Fatal(err)
	}
	h.fake.exit(t, name, 1)
	failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := statusOf(failed, "main").State.Terminated; term == nil || term.Message != "bad config" || term.ExitCode != 1 {
		t.Errorf("terminated state %+v, want message %q", term, "bad config")
	}
	if err := h.p.DeletePod(h.ctx, pod); err != nil {
		t.Fatal(err)
	}
	h.poll("the pod's files to be removed", func() bool {
		_, err := os.Stat(filepath.Join(root, "pods", string(pod.UID)))
		return os.IsNotExist(err)
	})
}

// TestTerminationMessageUnreadableFile checks that a termination log that cannot be read gives the kubelet's
// error message, naming the node's file, and that the logs do not stand in for it.
func TestTerminationMessageUnreadableFile(t *testing.T) {
	f := newFakeRuntime("busybox")
	f.containers["c1"] = &fakeContainer{id: "c1", spec: podman.ContainerSpec{Name: "ctr"}, status: "exited", logs: "from logs\n"}
	p := New(Config{Runtime: f, RootDir: t.TempDir()})
	pod := lifecyclePod("msg", corev1.RestartPolicyNever, nil)
	c := &corev1.Container{Name: "main", TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError}
	file := p.terminationLogFile(pod, c.Name, 1)
	if err := os.MkdirAll(file, 0o755); err != nil { // a folder where the file should be: reading it fails
		t.Fatal(err)
	}
	got := p.terminationMessage(t.Context(), pod, c, "c1", 1, 1)
	if want := "Error on reading termination log " + file + ": "; !strings.HasPrefix(got, want) {
		t.Errorf("message %q, want it to start with %q", got, want)
	}
}

// TestTerminationMessageOfStoppedContainer checks that a container Berth stops (here, its pod deleted) gets its
// termination message too, as the kubelet reads it for every exited container: with FallbackToLogsOnError and
// the stop's non-zero code, the tail of its logs.
func TestTerminationMessageOfStoppedContainer(t *testing.T) {
	h := newHarness(t, "busybox")
	c := testContainer("main", "busybox")
	c.TerminationMessagePath = "/dev/termination-log"
	c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	pod := lifecyclePod("stopped", corev1.RestartPolicyAlways, nil, c)
	h.create(pod)
	name := ctrName(pod, "main", 1)
	h.waitContainer(name, "running")
	h.fake.write(t, name, "", "", "shutting down\n")
	if err := h.p.DeletePod(h.ctx, pod); err != nil {
		t.Fatal(err)
	}
	stopped, _ := h.waitReported(pod, 0, "its container stopped", func(p *corev1.Pod) bool { return statusOf(p, "main").State.Terminated != nil })
	if term := statusOf(stopped, "main").State.Terminated; term.ExitCode != 143 || term.Message != "shutting down\n" {
		t.Errorf("terminated state %+v, want exit 143 with the logs' message", term)
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 2, ""},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\n", 5, "a\nb\n"},
		{"DONE", 80, "DONE"},
		{"a\n\nb\n", 2, "\nb\n"},
		{"\n", 1, "\n"},
	}
	for _, tc := range tests {
		if got := string(lastLines([]byte(tc.in), tc.n)); got != tc.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
