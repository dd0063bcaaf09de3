package provider

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/provider/podman"
)

func (f *fakeRuntime) UpdateContainerResources(_ context.Context, id string, r podman.ContainerResources) error {
	if err := f.unreachable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("UpdateContainerResources", id)
	if f.updateErr != nil {
		return f.updateErr
	}
	c := f.lookupContainer(id)
	if c == nil || c.status != "running" {
		return fmt.Errorf("container %s is not running", id)
	}
	c.spec.ContainerResources = r
	return nil
}

