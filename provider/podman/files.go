package podman

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/containers/podman/v4/pkg/bindings/containers"
)

// ReadFile implements StreamRuntime.
func (c *Client) ReadFile(ctx context.Context, id, path string, max int64) ([]byte, error) {
	pr, pw := io.Pipe()
	copyFn, err := containers.CopyToArchive(c.ctx(ctx), id, path, pw)
	if err != nil {
		if IsNotFound(err) || strings.Contains(err.Error(), "no such file or directory") {
			return nil, fmt.Errorf("read %s of container %s: %w (%v)", path, id, fs.ErrNotExist, err)
		}
		return nil, fmt.Errorf("read %s of container %s: %w", path, id, err)
	}
	go func() { pw.CloseWithError(copyFn()) }()
	defer pr.Close()
	return tailOfTarFile(pr, max)
}

// tailOfTarFile reads the last max bytes of the first entry of a tar stream, which must be a regular file.
func tailOfTarFile(r io.Reader, max int64) ([]byte, error) {
	tr := tar.NewReader(r)
	h, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	if h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%s is not a regular file", h.Name)
	}
	if h.Size > max {
		if _, err := io.CopyN(io.Discard, tr, h.Size-max); err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
	}
	data, err := io.ReadAll(io.LimitReader(tr, max))
	if err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	return data, nil
}
