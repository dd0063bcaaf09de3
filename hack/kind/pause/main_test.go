package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain runs pause itself when the test binary is started as the pause process by the tests below.
func TestMain(m *testing.M) {
	if os.Getenv("PAUSE_TEST_RUN") == "1" {
		main()
		os.Exit(2) // main returns only for -v
	}
	os.Exit(m.Run())
}

func TestSignals(t *testing.T) {
	tests := []struct {
		name string
		sig  syscall.Signal
	}{
		{name: "SIGTERM", sig: syscall.SIGTERM},
		{name: "SIGINT", sig: syscall.SIGINT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "PAUSE_TEST_RUN=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// SIGCHLD is ignored; the stop signal ends it
			time.Sleep(200 * time.Millisecond)
			if err := cmd.Process.Signal(syscall.SIGCHLD); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("pause after %s: %v (stderr %q), want exit 0", tc.name, err, stderr.String())
				}
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("pause did not exit on %s", tc.name)
			}
		})
	}
}

func TestReap(t *testing.T) {
	child := exec.Command("true")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// once it has exited, reap collects it: a later Wait finds no child
	time.Sleep(200 * time.Millisecond)
	reap()
	if err := child.Wait(); err == nil || !strings.Contains(err.Error(), "no child processes") {
		t.Errorf("Wait after reap: %v, want no child processes", err)
	}
}
