package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/internal/registries"
)

// podmanHost is the Podman service of one node: either one berth runs with its own configuration and storage,
// or an existing one given by URL.
type podmanHost struct {
	index int
	dir   string // empty for an external service
	url   string
	// registries is the registries.conf to write; empty keeps the one there (Berth's own entries if none).
	registries string
	// netns is the node's network namespace (a path) when it has one: the service runs netavark in it.
	netns string
}

func (c *Config) podmanHosts() []podmanHost {
	hosts := make([]podmanHost, c.Nodes)
	for i := range hosts {
		if len(c.PodmanURLs) > 0 {
			hosts[i] = podmanHost{index: i, url: c.PodmanURLs[i]}
			continue
		}
		dir := filepath.Join(c.StateDir, "podman", fmt.Sprint(i))
		hosts[i] = podmanHost{index: i, dir: dir, url: "unix://" + filepath.Join(dir, "podman.sock"), registries: c.registriesConf}
	}
	return hosts
}

// execCleanupDelay is the seconds an ended exec session stays in Berth's Podman services (see containersConf).
const execCleanupDelay = 15

// containersConf is Berth's own Podman configuration: runc (crun fails on hybrid cgroups), ulimits within the
// host's, file locks and temporary files of its own so that several services on one machine never share state.
// An exec session created over the API is removed by a cleanup its conmon runs exit_command_delay seconds after
// the command exits; Podman before 4.8 has no call to remove it sooner, so the default of 300 s would keep a
// conmon process and the session's files for every exec (kubectl exec, exec probes) for five minutes. Berth reads
// the exit code at once, so a short delay does.
func containersConf(dir string, helpers []string) string {
	helperDirs := ""
	if len(helpers) > 0 {
		quoted := make([]string, len(helpers))
		for i, h := range helpers {
			quoted[i] = strconv.Quote(h)
		}
		helperDirs = "helper_binaries_dir = [" + strings.Join(quoted, ", ") + "]\n"
	}
	return fmt.Sprintf(`# Written by berth; edits are overwritten.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"
pids_limit = 4096

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
exit_command_delay = %d
lock_type = "file"
tmp_dir = %q
volume_path = %q
%s
[network]
network_backend = "netavark"
network_config_dir = %q
`, execCleanupDelay, filepath.Join(dir, "tmp"), filepath.Join(dir, "volumes"), helperDirs, filepath.Join(dir, "networks"))
}

func storageConf(dir string) string {
	return fmt.Sprintf(`# Written by berth; edits are overwritten.
[storage]
driver = "overlay"
graphroot = %q
runroot = %q
`, filepath.Join(dir, "storage"), filepath.Join(dir, "run"))
}

// env is the environment of podman commands for this host.
func (h podmanHost) env() []string {
	return []string{
		"CONTAINERS_CONF=" + filepath.Join(h.dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(h.dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(h.dir, "registries.conf"),
	}
}

// prepare writes the host's configuration files.
func (h podmanHost) prepare() error {
	for _, d := range []string{"tmp", "volumes", "networks", "storage", "run"} {
		if err := os.MkdirAll(filepath.Join(h.dir, d), 0o700); err != nil {
			return fmt.Errorf("create podman folder: %w", err)
		}
	}
	// A node with a network namespace of its own has its netavark run there (see nodenet.go): a wrapper of that
	// name comes first among Podman's helper folders, the default ones after it.
	var helpers []string
	if h.netns != "" {
		wrapper, err := netavarkWrapper(h.netns, netavarkPaths)
		if err != nil {
			return err
		}
		dir := filepath.Join(h.dir, "helpers")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create podman helper folder: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "netavark"), []byte(wrapper), 0o755); err != nil {
			return fmt.Errorf("write netavark wrapper: %w", err)
		}
		helpers = append([]string{dir}, netavarkPaths...)
	}
	files := map[string]string{
		"containers.conf": containersConf(h.dir, helpers),
		"storage.conf":    storageConf(h.dir),
	}
	// berth up writes the registries.conf of its configuration (Berth's entries and --registries-config, see
	// registries.NodeConfig), so that a changed or removed --registries-config takes effect; others (berth images)
	// keep what the last berth up wrote.
	regPath := filepath.Join(h.dir, "registries.conf")
	if h.registries != "" {
		files["registries.conf"] = h.registries
	} else if _, err := os.Stat(regPath); err != nil {
		conf, err := registries.NodeConfig(nil)
		if err != nil {
			return err
		}
		files["registries.conf"] = conf
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	_ = os.Remove(filepath.Join(h.dir, "podman.sock"))
	return nil
}

// podmanBinary finds podman, or says how to get it.
func podmanBinary() (string, error) {
	p, err := exec.LookPath("podman")
	if err != nil {
		return "", fmt.Errorf("podman is not installed: apt-get install podman runc catatonit (or pass --podman-url to use a running Podman service)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return "", fmt.Errorf("runc is not installed (Berth's Podman uses it): apt-get install runc")
	}
	return p, nil
}

// cli runs a podman command against this host (for cleaning up after a crashed run, when no service runs).
func (h podmanHost) cli(ctx context.Context, args ...string) (string, error) {
	bin, err := podmanBinary()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), h.env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// release undoes what a stopped Podman service leaves mounted: containers/storage keeps its overlay folder as a
// private bind mount, which would pin the state folder (and keep it from being removed).
func (h podmanHost) release() {
	if h.dir == "" {
		return
	}
	_ = syscall.Unmount(filepath.Join(h.dir, "storage", "overlay"), syscall.MNT_DETACH)
}
