package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestLogsTailLines checks kubectl logs --tail as against a kubelet: --tail=1 gives the last line, --tail=0 none of
// the past ones, and -f --tail=0 only the lines written after it started; and --limit-bytes and --timestamps.
func TestLogsTailLines(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "echo one; echo two; echo three; while true; do if [ -e /tmp/go ]; then rm /tmp/go; echo four; fi; sleep 0.2; done"]
`, busybox), "apply", "-n", ns, "-f", "-")
	waitPod(t, ns, "talker", 2*time.Minute, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	deadline := time.Now().Add(30 * time.Second)
	for kubectl(t, "", "logs", "-n", ns, "talker") != "one\ntwo\nthree\n" {
		if time.Now().After(deadline) {
			t.Fatalf("logs never became one two three: %q", kubectl(t, "", "logs", "-n", ns, "talker"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := kubectl(t, "", "logs", "-n", ns, "talker", "--tail=1"); got != "three\n" {
		t.Errorf("--tail=1: %q, want the last line", got)
	}
	if got := kubectl(t, "", "logs", "-n", ns, "talker", "--tail=0"); got != "" {
		t.Errorf("--tail=0: %q, want nothing", got)
	}
	// --limit-bytes gives that many bytes of the log's start; --timestamps puts each line's RFC 3339 time first.
	if got := kubectl(t, "", "logs", "-n", ns, "talker", "--limit-bytes=5"); got != "one\nt" {
		t.Errorf("--limit-bytes=5: %q, want %q", got, "one\nt")
	}
	stamped := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (one|two|three)$`)
	if lines := strings.Split(strings.TrimSuffix(kubectl(t, "", "logs", "-n", ns, "talker", "--timestamps"), "\n"), "\n"); len(lines) != 3 {
		t.Errorf("--timestamps: %q, want three lines", lines)
	} else {
		for i, l := range lines {
			if !stamped.MatchString(l) || !strings.HasSuffix(l, " "+[]string{"one", "two", "three"}[i]) {
				t.Errorf("--timestamps line %d = %q, want an RFC 3339 time, a space and the line", i, l)
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "kubectl"), "logs", "-n", ns, "talker", "-f", "--tail=0")
	cmd.Env = append(cmd.Environ(), "KUBECONFIG="+testCluster.Kubeconfig())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	// The stream is open once kubectl has connected; give it a moment, then have the container write a line.
	time.Sleep(2 * time.Second)
	kubectl(t, "", "exec", "-n", ns, "talker", "--", "touch", "/tmp/go")
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatalf("-f --tail=0: the stream ended with no line: %v", sc.Err())
	}
	if got := strings.TrimSpace(sc.Text()); got != "four" {
		t.Errorf("-f --tail=0: first line %q, want four (no past line)", got)
	}
}
