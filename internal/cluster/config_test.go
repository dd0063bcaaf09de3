package cluster

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func fakeBinDir(t *testing.T, skip string) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range (&Config{}).binaries() {
		if b == skip {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestConfigComplete(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "defaults", mutate: func(*Config) {}},
		{name: "three nodes", mutate: func(c *Config) { c.Nodes = 3 }},
		{name: "zero nodes", mutate: func(c *Config) { c.Nodes = 0 }, wantErr: "--nodes 0: must be between 1 and 50"},
		{name: "too many nodes", mutate: func(c *Config) { c.Nodes = 51 }, wantErr: "--nodes 51"},
		{name: "podman urls for other node count", mutate: func(c *Config) { c.Nodes = 2; c.PodmanURLs = []string{"unix:///a.sock"} },
			wantErr: "1 --podman-url values for 2 nodes"},
		{name: "podman url scheme", mutate: func(c *Config) { c.PodmanURLs = []string{"http://x"} }, wantErr: `--podman-url "http://x": must start with unix://, tcp:// or ssh://`},
		{name: "ssh podman url", mutate: func(c *Config) { c.PodmanURLs = []string{"ssh://root@host/run/podman/podman.sock"} }},
		{name: "loopback node ip", mutate: func(c *Config) { c.NodeIP = "127.0.0.1" }, wantErr: "must be a non-loopback address"},
		{name: "bad node ip", mutate: func(c *Config) { c.NodeIP = "nope" }, wantErr: `--node-ip "nope"`},
		{name: "missing binary", mutate: func(c *Config) { c.BinDir = fakeBinDir(t, "kube-apiserver") }, wantErr: "component binary kube-apiserver not found"},
		{name: "no state", mutate: func(c *Config) { c.StateDir = "" }, wantErr: "no state folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.StateDir = t.TempDir()
			c.BinDir = fakeBinDir(t, "")
			c.NodeIP = "192.0.2.10"
			tc.mutate(&c)
			err := c.complete()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckPortsNamesTheTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	free := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	c := Default()
	c.NodeIP = "127.0.0.1" // checkPorts binds; loopback keeps the test on this machine
	c.APIServerPort, c.EtcdPort, c.EtcdPeerPort = free(), free(), free()
	c.ControllerManagerPort, c.SchedulerPort, c.KubeletPort = free(), taken, free()
	err = c.checkPorts()
	want := "port " + strconv.Itoa(taken) + " (berth-scheduler) is already in use on 127.0.0.1: stop what uses it, or pass --scheduler-port"
	if err == nil || err.Error() != want {
		t.Fatalf("checkPorts = %v, want %q", err, want)
	}
	c.SchedulerPort = free()
	if err := c.checkPorts(); err != nil {
		t.Fatalf("all ports free: %v", err)
	}
}

func TestWriteSchedulerConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sched.yaml")
	if _, err := writeSchedulerConfig(path, "/state/pki/scheduler.kubeconfig"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Kind             string `json:"kind"`
		ClientConnection struct {
			Kubeconfig string `json:"kubeconfig"`
		} `json:"clientConnection"`
		Profiles []struct {
			SchedulerName string `json:"schedulerName"`
		} `json:"profiles"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Kind != "KubeSchedulerConfiguration" || doc.ClientConnection.Kubeconfig != "/state/pki/scheduler.kubeconfig" {
		t.Errorf("rendered config: %s", b)
	}
	var names []string
	for _, p := range doc.Profiles {
		names = append(names, p.SchedulerName)
	}
	if strings.Join(names, ",") != "default-scheduler,berth-scheduler" {
		t.Errorf("profiles %v, want default-scheduler and berth-scheduler", names)
	}
}

func TestContainersConfKeepsHostsApart(t *testing.T) {
	conf := containersConf("/state/podman/3")
	for _, want := range []string{`runtime = "runc"`, `"nofile=1024:1024"`, `"nproc=4096:4096"`, `lock_type = "file"`,
		`tmp_dir = "/state/podman/3/tmp"`, `network_config_dir = "/state/podman/3/networks"`, `exit_command_delay = 15`} {
		if !strings.Contains(conf, want) {
			t.Errorf("containers.conf lacks %s:\n%s", want, conf)
		}
	}
	if s := storageConf("/state/podman/3"); !strings.Contains(s, `graphroot = "/state/podman/3/storage"`) {
		t.Errorf("storage.conf: %s", s)
	}
}

func TestNetworksDifferAcrossStatesAndNodes(t *testing.T) {
	a := &Cluster{cfg: Config{StateDir: "/state/a", Nodes: 3}}
	b := &Cluster{cfg: Config{StateDir: "/state/b", Nodes: 3}}
	seen := map[string]bool{}
	for _, c := range []*Cluster{a, b} {
		for i := 0; i < 3; i++ {
			name := c.bridgeName(i)
			if len(name) > 15 {
				t.Errorf("bridge name %q is longer than an interface name may be", name)
			}
			if seen[name] {
				t.Errorf("bridge name %q used twice", name)
			}
			seen[name] = true
		}
		subnets := map[string]bool{}
		for i := 0; i < 3; i++ {
			s := c.subnet(i)
			if subnets[s] {
				t.Errorf("state %s: subnet %s given to two nodes", c.cfg.StateDir, s)
			}
			subnets[s] = true
			if c.subnet(i) != s {
				t.Errorf("subnet of node %d is not stable", i)
			}
		}
	}
}
