package e2e

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"
)

// sizeQueue is a terminal whose size changes when the test sends one: Next returns the sizes sent, nil once closed.
type sizeQueue chan remotecommand.TerminalSize

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q
	if !ok {
		return nil
	}
	return &s
}

// ttySession is an exec or attach with a TTY to an interactive shell, whose terminal the test resizes.
type ttySession struct {
	t      *testing.T
	stdin  *io.PipeWriter
	lines  chan string // the session's output, line by line; closed at its end
	sizes  sizeQueue
	done   chan error // the session's end
	asked  int
	answer []string // the sizes the shell answered, in order, a repeated answer once
}

// startTTY starts an exec or attach (sub) with a TTY of the size first, through the apiserver as kubectl does.
func startTTY(t *testing.T, ns, pod, sub string, params map[string]string, first remotecommand.TerminalSize) *ttySession {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &ttySession{t: t, stdin: inW, lines: make(chan string, 64), sizes: make(sizeQueue, 1), done: make(chan error, 1)}
	s.sizes <- first
	go func() {
		err := stream(t, ns, pod, sub, params, remotecommand.StreamOptions{Stdin: inR, Stdout: outW, Tty: true, TerminalSizeQueue: s.sizes})
		outW.Close()
		s.done <- err
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	return s
}

// resize pushes a new terminal size through the session's size queue, as a client's terminal does on SIGWINCH.
func (s *ttySession) resize(height, width uint16) {
	s.sizes <- remotecommand.TerminalSize{Width: width, Height: height}
}

// size asks the shell for its terminal's size (stty size: "rows columns") and returns its answer. The question is
// numbered so that its answer is told apart from the terminal's echo of it and from earlier answers.
func (s *ttySession) size(deadline <-chan time.Time) string {
	s.t.Helper()
	s.asked++
	if _, err := fmt.Fprintf(s.stdin, "echo \"size%d=$(stty size)\"\n", s.asked); err != nil {
		s.t.Fatalf("write to the session: %v", err)
	}
	re := regexp.MustCompile(fmt.Sprintf(`size%d=(\d+ \d+)`, s.asked))
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("the session ended (%v) before the shell answered question %d; sizes answered: %q", <-s.done, s.asked, s.answer)
			}
			if m := re.FindStringSubmatch(line); m != nil {
				if len(s.answer) == 0 || s.answer[len(s.answer)-1] != m[1] {
					s.answer = append(s.answer, m[1])
				}
				return m[1]
			}
		case <-deadline:
			s.t.Fatalf("no answer to question %d; sizes answered: %q", s.asked, s.answer)
		}
	}
}

// waitSize asks the shell for its terminal size until it answers want. A resize travels apart from stdin (on the
// stream's resize channel, then as a Podman API call), so a question sent just after it may still see the size
// before.
func (s *ttySession) waitSize(want string) {
	s.t.Helper()
	deadline := time.After(45 * time.Second)
	for s.size(deadline) != want {
		select {
		case <-deadline:
			s.t.Fatalf("the terminal never became %q; sizes answered to %d questions: %q", want, s.asked, s.answer)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// exit ends the shell and checks that the session ends without an error.
func (s *ttySession) exit() {
	s.t.Helper()
	fmt.Fprintln(s.stdin, "exit")
	s.stdin.Close()
	go func() {
		for range s.lines { // drain what is left of the output
		}
	}()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("the session ended with %v", err)
		}
	case <-time.After(60 * time.Second):
		s.t.Errorf("the session did not end after the shell exited")
	}
	close(s.sizes)
}

// resizeDuringSession opens a TTY session at 24x80, checks the shell sees that size, resizes the terminal to
// 40x132 mid-session, checks the shell sees the new size, and exits the shell.
func resizeDuringSession(t *testing.T, ns, pod, sub string, params map[string]string) {
	s := startTTY(t, ns, pod, sub, params, remotecommand.TerminalSize{Width: 80, Height: 24})
	s.waitSize("24 80")
	s.resize(40, 132)
	s.waitSize("40 132")
	t.Logf("sizes answered to %d questions: %q", s.asked, s.answer)
	s.exit()
}

// TestTTYResize checks that a terminal resized during an exec or attach session reaches the container: the
// shell's stty size follows the client's terminal, as with kubectl exec -it and kubectl attach -it.
func TestTTYResize(t *testing.T) {
	ns := namespace(t)
	runningPod(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: term
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    command: ["sh"]
    stdin: true
    tty: true
`, busybox))
	t.Run("exec", func(t *testing.T) {
		resizeDuringSession(t, ns, "term", "exec", map[string]string{"container": "main", "command": "sh", "tty": "true", "stdin": "true", "stdout": "true"})
	})
	// Last: exiting the attached shell ends the container.
	t.Run("attach", func(t *testing.T) {
		resizeDuringSession(t, ns, "term", "attach", map[string]string{"container": "main", "tty": "true", "stdin": "true", "stdout": "true"})
	})
}
