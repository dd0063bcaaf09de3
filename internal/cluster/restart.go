package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// RestartControlPlane stops the apiserver and etcd, keeps them down for down, and starts them again with the same
// configuration and data, returning once the apiserver is ready. The other components (controller manager,
// scheduler, virtual kubelets, metrics-server) keep running and must reconnect by themselves.
func (c *Cluster) RestartControlPlane(ctx context.Context, down time.Duration) error {
	apiserver, err := c.component("kube-apiserver")
	if err != nil {
		return err
	}
	etcd, err := c.component("etcd")
	if err != nil {
		return err
	}
	apiserver.stop(30 * time.Second)
	etcd.stop(30 * time.Second)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	if err := c.restart(ctx, etcd, etcdHealthy(c.cfg.EtcdPort)); err != nil {
		return err
	}
	return c.restart(ctx, apiserver, c.apiserverReady)
}

// Running tells whether the component called name (as its log file in the state folder is named: etcd,
// kube-apiserver, berth-scheduler, kubelet-<node>, ...) is running.
func (c *Cluster) Running(name string) bool {
	p, err := c.component(name)
	return err == nil && p.running()
}

// relaunch starts a stopped component again with the same binary, arguments and environment, in its place.
func (c *Cluster) relaunch(p *process) (*process, error) {
	if p.running() {
		return nil, fmt.Errorf("%s is running", p.name)
	}
	np, err := start(p.name, p.bin, p.args, p.env, filepath.Join(c.cfg.StateDir, "logs"), filepath.Join(c.cfg.StateDir, "pids"))
	if err != nil {
		return nil, err
	}
	c.procsMu.Lock()
	defer c.procsMu.Unlock()
	for i := range c.procs {
		if c.procs[i] == p {
			c.procs[i] = np
		}
	}
	return np, nil
}
