package podman

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/containers/podman/v4/pkg/bindings"
	"github.com/containers/podman/v4/pkg/bindings/system"
	"github.com/containers/podman/v4/pkg/domain/entities"
)

// Container event actions Berth follows (Podman's event statuses).
const (
	EventStop   = "stop"
	EventDied   = "died"
	EventRemove = "remove"
)

// ContainerEvent is one event of Podman's event stream about a container.
type ContainerEvent struct {
	ID     string
	Name   string
	Action string // EventDied, EventRemove, ...
	// ExitCode is the container's exit code on EventDied.
	ExitCode int32
	Time     time.Time
}

// WatchContainers implements ContainerRuntime. It reads /libpod/events itself (rather than through system.Events)
// to know when Podman has accepted the subscription.
func (c *Client) WatchContainers(ctx context.Context, labels map[string]string, actions []string, connected func(), handle func(ContainerEvent)) error {
	conn, err := bindings.GetClient(c.conn)
	if err != nil {
		return err
	}
	// Podman ORs the values of one filter: several labels are checked here as well.
	filters := labelFilter(labels)
	filters["type"] = []string{"container"}
	filters["event"] = actions
	params, err := new(system.EventsOptions).WithStream(true).WithFilters(filters).ToParams()
	if err != nil {
		return fmt.Errorf("podman events: %w", err)
	}
	resp, err := conn.DoRequest(c.ctx(ctx), nil, http.MethodGet, "/events", params, nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("subscribe to podman events: %w", err)
	}
	defer resp.Body.Close()
	if !resp.IsSuccess() {
		return fmt.Errorf("subscribe to podman events: %w", resp.Process(nil))
	}
	connected()
	dec := json.NewDecoder(resp.Body)
next:
	for {
		var e entities.Event
		if err := dec.Decode(&e); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return errors.New("podman ended the event stream")
			}
			return fmt.Errorf("read podman events: %w", err)
		}
		for k, v := range labels {
			if e.Actor.Attributes[k] != v {
				continue next
			}
		}
		ev := ContainerEvent{ID: e.Actor.ID, Name: e.Actor.Attributes["name"], Action: e.Action}
		if code, err := strconv.Atoi(e.Actor.Attributes["containerExitCode"]); err == nil {
			ev.ExitCode = int32(code)
		}
		if e.TimeNano != 0 {
			ev.Time = time.Unix(0, e.TimeNano)
		}
		handle(ev)
	}
}
