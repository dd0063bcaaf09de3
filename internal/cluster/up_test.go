package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpRefusesWithoutPodman checks the two ways Podman can be missing: not installed (no --podman-url), or a given
// service that does not answer; and a bad --registries-config. Each is one clear error, and nothing is left started
// or locked.
func TestUpRefusesWithoutPodman(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, c *Config)
		wantErr string
	}{
		{
			name: "podman not installed",
			setup: func(t *testing.T, c *Config) {
				t.Setenv("PATH", t.TempDir())
			},
			wantErr: "podman is not installed: apt-get install podman runc catatonit (or pass --podman-url to use a running Podman service)",
		},
		{
			name: "podman url does not answer",
			setup: func(t *testing.T, c *Config) {
				c.PodmanURLs = []string{"unix://" + filepath.Join(t.TempDir(), "absent.sock")}
				c.NodeNetns = false // as berth up does with --podman-url
			},
			wantErr: "cannot reach Podman at unix://",
		},
		{
			name: "node namespaces asked for with a podman url",
			setup: func(t *testing.T, c *Config) {
				c.PodmanURLs = []string{"unix://" + filepath.Join(t.TempDir(), "absent.sock")}
			},
			wantErr: "pass --node-netns=false",
		},
		{
			name: "bad registries config",
			setup: func(t *testing.T, c *Config) {
				c.RegistriesConfig = filepath.Join(t.TempDir(), "registries.conf")
				if err := os.WriteFile(c.RegistriesConfig, []byte("[registries.search]\nregistries = [\"docker.io\"]\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "registries.conf: version 1 format ([registries.search], [registries.insecure], ...) is not supported",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t)
			tc.setup(t, &c)
			_, err := Up(context.Background(), c)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Up error %v, want %q", err, tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(c.StateDir, "berth.pid")); err == nil {
				t.Errorf("a refused berth up left its pid file")
			}
			lock, err := lockState(c.StateDir)
			if err != nil {
				t.Fatalf("a refused berth up kept the state locked: %v", err)
			}
			lock.Close()
			if pids, _ := os.ReadDir(filepath.Join(c.StateDir, "pids")); len(pids) > 0 {
				t.Errorf("a refused berth up started processes: %v", pids)
			}
		})
	}
}

// TestUserNamespacesFirstID checks that the nodes' spans of user namespaces start at the kubelet's default and lie
// apart, each holding a range for every pod the node can run.
func TestUserNamespacesFirstID(t *testing.T) {
	tests := []struct {
		name    string
		maxPods int
		want    []uint64 // first IDs of nodes 0, 1, 2
	}{
		{name: "the kubelet's default max pods", want: []uint64{65536, 257 * 65536, 513 * 65536}},
		{name: "fewer max pods than a span", maxPods: 250, want: []uint64{65536, 257 * 65536, 513 * 65536}},
		{name: "more max pods than a span", maxPods: 300, want: []uint64{65536, 301 * 65536, 601 * 65536}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{MaxPods: tc.maxPods}
			pods := uint64(max(tc.maxPods, 110))
			for i, want := range tc.want {
				got := c.userNamespacesFirstID(i)
				if got != want {
					t.Errorf("node %d: first ID %d, want %d", i, got, want)
				}
				if next := c.userNamespacesFirstID(i + 1); got+pods*65536 > next {
					t.Errorf("node %d: %d pods from ID %d overlap node %d's span from %d", i, pods, got, i+1, next)
				}
			}
		})
	}
}
