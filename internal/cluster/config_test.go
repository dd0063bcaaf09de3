package cluster

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

func fakeBinDir(t *testing.T, skip string) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range (&Config{NodeNetns: true}).binaries() {
		if b == skip {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testConfig is the default configuration with a state folder, component binaries (fakes) and a node address of
// its own: complete accepts it.
func testConfig(t *testing.T) Config {
	t.Helper()
	c := Default()
	c.StateDir = t.TempDir()
	c.BinDir = fakeBinDir(t, "")
	c.NodeIP = "192.0.2.10"
	return c
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
		{name: "ssh podman url", mutate: func(c *Config) { c.PodmanURLs, c.NodeNetns = []string{"ssh://root@host/run/podman/podman.sock"}, false }},
		{name: "podman url with node namespaces", mutate: func(c *Config) { c.PodmanURLs = []string{"unix:///a.sock"} }, wantErr: "pass --node-netns=false"},
		{name: "shared address without kube-proxy", mutate: func(c *Config) { c.NodeNetns = false; c.BinDir = fakeBinDir(t, "kube-proxy") }},
		{name: "node namespaces without kube-proxy", mutate: func(c *Config) { c.BinDir = fakeBinDir(t, "kube-proxy") }, wantErr: "component binary kube-proxy not found"},
		{name: "loopback node ip", mutate: func(c *Config) { c.NodeIP = "127.0.0.1" }, wantErr: "must be a non-loopback address"},
		{name: "bad node ip", mutate: func(c *Config) { c.NodeIP = "nope" }, wantErr: `--node-ip "nope"`},
		{name: "missing binary", mutate: func(c *Config) { c.BinDir = fakeBinDir(t, "kube-apiserver") }, wantErr: "component binary kube-apiserver not found"},
		{name: "more pods than the kubelet's default", mutate: func(c *Config) { c.MaxPods = 250 }},
		{name: "negative max pods", mutate: func(c *Config) { c.MaxPods = -1 }, wantErr: "--max-pods -1: must be positive"},
		{name: "user namespaces of every node's pods past 2^32", mutate: func(c *Config) { c.Nodes, c.MaxPods = 50, 1400 },
			wantErr: "--max-pods 1400: the user namespaces of 50 nodes of that many pods (65536 host IDs each) do not fit below 2^32"},
		{name: "user namespaces of every node's pods up to 2^32", mutate: func(c *Config) { c.Nodes, c.MaxPods = 50, 1310 }},
		{name: "no state", mutate: func(c *Config) { c.StateDir = "" }, wantErr: "no state folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t)
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
	conf := containersConf("/state/podman/3", nil)
	if strings.Contains(conf, "helper_binaries_dir") {
		t.Errorf("containers.conf of a node in the machine's network namespace sets helper_binaries_dir:\n%s", conf)
	}
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

const mirrorRegistries = `[[registry]]
prefix = "registry.k8s.io"
location = "registry.k8s.io"
[[registry.mirror]]
location = "127.0.0.1:5100"
insecure = true
`

// TestRegistriesConfig checks --registries-config: a good file is merged into the nodes' registries.conf, a bad or
// misplaced one is refused by complete (before anything starts) with one line naming the flag, the file and the
// problem.
func TestRegistriesConfig(t *testing.T) {
	tests := []struct {
		name string
		// content is written to the file given; absent means the file does not exist.
		content *string
		// none gives no --registries-config.
		none       bool
		podmanURLs []string
		want       []string
		wantErr    string
	}{
		{name: "none: Berth's entries", none: true,
			want: []string{`unqualified-search-registries = ["docker.io"]`, `short-name-mode = "disabled"`, `location = "127.0.0.1"`, `location = "localhost"`}},
		{name: "mirror", content: ptr.To(mirrorRegistries),
			want: []string{`unqualified-search-registries = ["docker.io"]`, `location = "127.0.0.1:5100"`, `location = "127.0.0.1"`, `location = "localhost"`}},
		{name: "missing file", wantErr: "registries.conf: read: no such file or directory"},
		{name: "unknown key", content: ptr.To("[[registry]]\nlocation = \"quay.io\"\nmirrors = [\"127.0.0.1:5100\"]\n"),
			wantErr: `registries.conf: unknown key "registry.mirrors"`},
		{name: "invalid mirror", content: ptr.To("[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\nlocation = \"http://127.0.0.1:5100\"\n"),
			wantErr: "registries.conf: invalid location 'http://127.0.0.1:5100': URI schemes are not supported"},
		{name: "with --podman-url", content: ptr.To(mirrorRegistries), podmanURLs: []string{"unix:///run/podman/podman.sock"},
			wantErr: "berth writes it only into the Podman services it starts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t)
			c.PodmanURLs = tc.podmanURLs
			if !tc.none {
				c.RegistriesConfig = filepath.Join(t.TempDir(), "registries.conf")
				if tc.content != nil {
					if err := os.WriteFile(c.RegistriesConfig, []byte(*tc.content), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			err := c.complete()
			if tc.wantErr != "" {
				want := "--registries-config " + c.RegistriesConfig + ": "
				if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line starting %q and containing %q", err, want, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			h := c.podmanHosts()[0]
			if err := h.prepare(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(h.dir, "registries.conf"))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w+"\n") {
					t.Errorf("registries.conf lacks %s:\n%s", w, b)
				}
			}
		})
	}
}

// TestRegistriesConfigAcrossRuns checks that each berth up on a state folder writes the nodes' registries.conf from
// its own --registries-config (added, changed, removed), and that berth images (which starts no service) keeps what
// the last berth up wrote.
func TestRegistriesConfigAcrossRuns(t *testing.T) {
	state := t.TempDir()
	file := filepath.Join(t.TempDir(), "registries.conf")
	// prepare writes the nodes' Podman configuration as c says and returns node 1's registries.conf.
	prepare := func(c Config) string {
		t.Helper()
		for _, h := range c.podmanHosts() {
			if err := h.prepare(); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(filepath.Join(state, "podman", "1", "registries.conf"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	up := func(content string) string {
		t.Helper()
		c := testConfig(t)
		c.StateDir, c.Nodes = state, 2
		if content != "" {
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			c.RegistriesConfig = file
		}
		if err := c.complete(); err != nil {
			t.Fatal(err)
		}
		return prepare(c)
	}
	images := func() string { return prepare(Config{StateDir: state, Nodes: 2}) }

	if got := images(); !strings.Contains(got, `location = "localhost"`) || strings.Contains(got, "5100") {
		t.Fatalf("berth images on a new state: want Berth's entries alone:\n%s", got)
	}
	if got := up(mirrorRegistries); !strings.Contains(got, `location = "127.0.0.1:5100"`) {
		t.Fatalf("berth up with a file: the mirror is missing:\n%s", got)
	}
	if got := images(); !strings.Contains(got, `location = "127.0.0.1:5100"`) {
		t.Fatalf("berth images dropped the mirror berth up wrote:\n%s", got)
	}
	changed := strings.ReplaceAll(mirrorRegistries, "5100", "5200")
	if got := up(changed); !strings.Contains(got, `location = "127.0.0.1:5200"`) || strings.Contains(got, "5100") {
		t.Fatalf("berth up with a changed file:\n%s", got)
	}
	if got := up(""); strings.Contains(got, "5200") || !strings.Contains(got, `location = "localhost"`) {
		t.Fatalf("berth up without the flag: want Berth's entries alone:\n%s", got)
	}
}
