package podman

import (
	"context"
	"fmt"

	"github.com/containers/podman/v4/pkg/bindings"
)

// Client is a Runtime over Podman's REST API.
type Client struct {
	url  string
	conn context.Context // carries the bindings connection
}

var _ Runtime = &Client{}

// Dial connects to the Podman service at url (unix://, tcp:// or ssh://) and checks that it answers.
func Dial(ctx context.Context, url string) (*Client, error) {
	conn, err := bindings.NewConnection(context.WithoutCancel(ctx), url)
	if err != nil {
		return nil, fmt.Errorf("connect to podman at %s: %w", url, err)
	}
	return &Client{url: url, conn: conn}, nil
}

// URL is the address of the Podman service.
func (c *Client) URL() string { return c.url }

// connCtx carries the caller's deadline and cancellation, and the bindings connection.
type connCtx struct {
	context.Context
	conn context.Context
}

func (c connCtx) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.conn.Value(key)
}

func (c *Client) ctx(ctx context.Context) context.Context { return connCtx{Context: ctx, conn: c.conn} }

// labelFilter is Podman's list filter for objects carrying all the given labels.
func labelFilter(labels map[string]string) map[string][]string {
	f := make([]string, 0, len(labels))
	for k, v := range labels {
		f = append(f, k+"="+v)
	}
	return map[string][]string{"label": f}
}
