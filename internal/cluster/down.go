package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/volume"
)

// Down stops the berth running on stateDir (sending it SIGTERM and waiting for it to clean up), or, when no berth
// runs there any more, stops what a crashed run left: component processes and Podman pods. The cluster's objects
// (etcd data) stay, so that the next berth up finds them.
func Down(ctx context.Context, stateDir string, out func(string, ...any)) error {
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	stateDir = abs
	if _, err := os.Stat(stateDir); err != nil {
		return fmt.Errorf("no berth state at %s: %w", stateDir, err)
	}
	lock, err := lockState(stateDir)
	if errors.Is(err, ErrAlreadyRunning) {
		b, _ := os.ReadFile(filepath.Join(stateDir, "berth.pid"))
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr != nil || pid <= 0 {
			return fmt.Errorf("berth holds %s but its pid file is unreadable: %w", stateDir, perr)
		}
		out("Stopping berth (pid %d) ...", pid)
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			return fmt.Errorf("signal berth pid %d: %w", pid, err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			lock, err = lockState(stateDir)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrAlreadyRunning) {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("berth pid %d did not stop within 2 minutes; see %s", pid, filepath.Join(stateDir, "logs"))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	} else if err != nil {
		return err
	}
	defer func() {
		_ = os.Remove(filepath.Join(stateDir, "berth.pid"))
		lock.Close()
	}()
	// Whatever a crashed run left behind.
	for name, pid := range alivePIDs(filepath.Join(stateDir, "pids"), stateDir) {
		if strings.HasPrefix(name, "podman-") {
			continue // needed below to remove the pods; stopped after
		}
		out("Stopping %s (pid %d) left by an earlier run", name, pid)
		killPID(pid, 10*time.Second)
		_ = os.Remove(filepath.Join(stateDir, "pids", name+".pid"))
	}
	var s saved
	if b, err := os.ReadFile(filepath.Join(stateDir, "cluster.json")); err == nil {
		_ = json.Unmarshal(b, &s)
	}
	var errs []error
	if s.External {
		for _, url := range s.PodmanURLs {
			errs = append(errs, removeBerthPods(ctx, url))
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "podman", "*", "containers.conf"))
	for _, conf := range dirs {
		h := podmanHost{dir: filepath.Dir(conf)}
		if out, err := h.cli(ctx, "pod", "ls", "-q"); err == nil && strings.TrimSpace(out) == "" {
			continue
		}
		if _, err := h.cli(ctx, "pod", "rm", "-af", "-t", "0"); err != nil {
			errs = append(errs, err)
		}
		if _, err := h.cli(ctx, "volume", "prune", "-f", "--filter", "label="+podman.LabelManaged+"=true"); err != nil {
			errs = append(errs, err)
		}
	}
	roots, _ := filepath.Glob(filepath.Join(stateDir, "kubelet", "*"))
	for _, root := range roots {
		errs = append(errs, volume.CleanRootDir(root))
	}
	for name, pid := range alivePIDs(filepath.Join(stateDir, "pids"), stateDir) {
		out("Stopping %s (pid %d) left by an earlier run", name, pid)
		killPID(pid, 10*time.Second)
		_ = os.Remove(filepath.Join(stateDir, "pids", name+".pid"))
	}
	for _, conf := range dirs {
		podmanHost{dir: filepath.Dir(conf)}.release()
	}
	// The nodes' network namespaces (berth up --node-netns), with their links and routes, or the pods' bridges.
	errs = append(errs, removeNodeNets(stateDir), removeHostBridges(stateDir))
	_ = os.Remove(filepath.Join(stateDir, "ready"))
	return errors.Join(errs...)
}
