package benchutil

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/internal/cluster"
)

// Cluster is a one-node cluster from internal/cluster (what berth up runs) on free ports, in a state folder of
// its own.
type Cluster struct {
	*cluster.Cluster
	// State is the absolute state folder (logs in State/logs).
	State string
	// Ready is how long cluster.Up took, from nothing to a cluster ready for pods: the node Ready, kube-proxy,
	// cluster DNS, the default ServiceAccount, metrics-server.
	Ready time.Duration
	// NodeReady is how long cluster.Up took until the node was Ready (with its serving certificate), a part of Ready.
	NodeReady time.Duration
	temporary bool
	out       io.Writer
}

// StartCluster starts a one-node cluster with the binaries of binDir. An empty stateDir means a temporary
// folder, prefixed with prefix, that Cleanup removes. When the start fails (and was not interrupted), the folder is
// kept for its logs and the error names it. maxPods is the node's pod capacity (berth-kubelet --max-pods; 0: the
// kubelet's default, 110).
func StartCluster(ctx context.Context, binDir, stateDir, prefix string, maxPods int, out io.Writer) (*Cluster, error) {
	if out == nil {
		out = io.Discard
	}
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return nil, fmt.Errorf("resolve the bin folder: %w", err)
	}
	c := &Cluster{State: stateDir, temporary: stateDir == "", out: out}
	if c.temporary {
		if c.State, err = os.MkdirTemp("", prefix+"-"); err != nil {
			return nil, fmt.Errorf("create a state folder: %w", err)
		}
	}
	if c.State, err = filepath.Abs(c.State); err != nil {
		return nil, fmt.Errorf("resolve the state folder: %w", err)
	}
	ccfg := cluster.Default()
	ccfg.StateDir, ccfg.BinDir, ccfg.Out, ccfg.Nodes, ccfg.MaxPods = c.State, binDir, out, 1, maxPods
	ports, err := FreePorts(7)
	if err != nil {
		return nil, err
	}
	ccfg.APIServerPort, ccfg.EtcdPort, ccfg.EtcdPeerPort = ports[0], ports[1], ports[2]
	ccfg.ControllerManagerPort, ccfg.SchedulerPort, ccfg.KubeletPort = ports[3], ports[4], ports[5]
	ccfg.MetricsServerPort = ports[6]
	fmt.Fprintf(out, "Starting a one-node cluster in %s (background: %s)\n", c.State, Background())
	start := time.Now()
	if c.Cluster, err = cluster.Up(ctx, ccfg); err != nil {
		if ctx.Err() != nil && c.temporary {
			_ = os.RemoveAll(c.State) // interrupted: nothing to look at
			return nil, fmt.Errorf("berth up: %w", err)
		}
		return nil, fmt.Errorf("berth up (state and logs in %s): %w", c.State, err)
	}
	c.Ready = time.Since(start)
	c.NodeReady = c.Cluster.NodesReady()
	return c, nil
}

// Stop stops the cluster's processes and removes Berth's pods from Podman, within two minutes even when ctx has
// ended.
func (c *Cluster) Stop(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	c.Cluster.Stop(sctx)
}

// Cleanup removes a temporary state folder, unless keep is set; a kept folder, or one that was given, is named.
func (c *Cluster) Cleanup(keep bool) {
	if !c.temporary || keep {
		fmt.Fprintf(c.out, "State folder kept: %s (logs in %s)\n", c.State, filepath.Join(c.State, "logs"))
		return
	}
	if err := os.RemoveAll(c.State); err != nil {
		fmt.Fprintf(c.out, "warning: remove %s: %v\n", c.State, err)
	}
}
