package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/provider/podman"
)

// BusyboxImage is the image the demo and the tests use, built from Debian's busybox-static with no registry.
const BusyboxImage = "localhost/berth/busybox:1.35"

// busyboxPath is where Debian's busybox-static installs the static binary.
const busyboxPath = "/bin/busybox"

// BusyboxRootfs builds a root filesystem tarball: a static busybox with a link per applet, /etc/passwd and
// /etc/group with root and nobody, and /tmp.
func BusyboxRootfs() ([]byte, error) {
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, fmt.Errorf("read %s (install busybox-static): %w", busyboxPath, err)
	}
	out, err := exec.Command(busyboxPath, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "var", "var/www", "home"} {
		if err := dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return nil, err
	}
	if err := file("bin/busybox", 0o755, bin); err != nil {
		return nil, err
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")); err != nil {
		return nil, err
	}
	for _, applet := range strings.Fields(string(out)) {
		applet = strings.TrimPrefix(applet, "/")
		if applet == "bin/busybox" {
			continue
		}
		target := path.Join(strings.Repeat("../", strings.Count(applet, "/")), "bin/busybox")
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: applet, Linkname: target, Mode: 0o777, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// EnsureImages imports the local images into the Podman service at url unless they are there already.
// It reports whether it imported anything.
func EnsureImages(ctx context.Context, rt podman.ImageRuntime) (bool, error) {
	ok, err := rt.ImageExists(ctx, BusyboxImage)
	if err != nil {
		return false, err
	}
	if ok {
		return false, nil
	}
	rootfs, err := BusyboxRootfs()
	if err != nil {
		return false, err
	}
	if err := rt.ImportImage(ctx, BusyboxImage, bytes.NewReader(rootfs)); err != nil {
		return false, err
	}
	return true, nil
}

// importImages makes the local images present on every node's Podman.
func (c *Cluster) importImages(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.hosts))
	for i, h := range c.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt, err := podman.Dial(ctx, h.url)
			if err != nil {
				errs[i] = err
				return
			}
			if _, err := EnsureImages(ctx, rt); err != nil {
				errs[i] = fmt.Errorf("images on node %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ImportImagesOffline imports the local images into the Podman storage of nodes 0..nodes-1 under stateDir with the
// podman command, without any service running, so that a later berth up finds them. It skips images present.
// While a berth up runs on stateDir, it imports through that run's Podman services instead (all its nodes): the
// offline path would rewrite the nodes' Podman configuration and remove their sockets under the running services.
func ImportImagesOffline(ctx context.Context, stateDir string, nodes int, out func(string, ...any)) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("create state folder: %w", err)
	}
	lock, err := flockState(stateDir)
	if errors.Is(err, ErrAlreadyRunning) {
		return importImagesRunning(ctx, stateDir, out)
	} else if err != nil {
		return err
	}
	defer lock.Close()
	if _, err := podmanBinary(); err != nil {
		return err
	}
	cfg := Config{StateDir: stateDir, Nodes: nodes}
	for _, h := range cfg.podmanHosts() {
		if err := h.prepare(); err != nil {
			return err
		}
		if _, err := h.cli(ctx, "image", "exists", BusyboxImage); err == nil {
			out("%s already present on node %d", BusyboxImage, h.index)
			continue
		}
		rootfs, err := BusyboxRootfs()
		if err != nil {
			return err
		}
		tmp, err := os.CreateTemp("", "berth-rootfs-*.tar")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(rootfs)
		tmp.Close()
		defer os.Remove(tmp.Name())
		if werr != nil {
			return werr
		}
		if _, err := h.cli(ctx, "import", tmp.Name(), BusyboxImage); err != nil {
			return err
		}
		out("imported %s on node %d", BusyboxImage, h.index)
	}
	return nil
}

// importImagesRunning imports the local images through the Podman services of the berth up running on stateDir.
func importImagesRunning(ctx context.Context, stateDir string, out func(string, ...any)) error {
	var s saved
	b, err := os.ReadFile(filepath.Join(stateDir, "cluster.json"))
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil || len(s.PodmanURLs) == 0 {
		return fmt.Errorf("berth up runs on %s but its nodes' Podman services are not recorded (cluster.json: %v): wait until it is ready", stateDir, err)
	}
	err = ImportImagesInto(ctx, s.PodmanURLs, func(i int, _ string, imported bool) {
		if imported {
			out("imported %s on node %d (running)", BusyboxImage, i)
		} else {
			out("%s already present on node %d (running)", BusyboxImage, i)
		}
	})
	if err != nil {
		return fmt.Errorf("the berth up running on %s: %w", stateDir, err)
	}
	return nil
}

// ImportImagesInto imports the local images into the Podman services at urls where they are missing, and tells
// done, for each in turn, whether it imported them.
func ImportImagesInto(ctx context.Context, urls []string, done func(i int, url string, imported bool)) error {
	for i, u := range urls {
		rt, err := podman.Dial(ctx, u)
		if err != nil {
			return err
		}
		imported, err := EnsureImages(ctx, rt)
		if err != nil {
			return fmt.Errorf("images on %s: %w", u, err)
		}
		done(i, u, imported)
	}
	return nil
}
