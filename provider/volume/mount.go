package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/userns"
)

// isMountPoint tells whether dir is the root of a mount (its device differs from its parent's).
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Stat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}

// ensureTmpfs mounts a tmpfs of size bytes (0: the kernel's default) on dir unless one is there.
func ensureTmpfs(dir string, size int64, mode string) error {
	mounted, err := isMountPoint(dir)
	if err != nil {
		return fmt.Errorf("check mount of %s: %w", dir, err)
	}
	if mounted {
		return nil
	}
	opts := "mode=" + mode
	if size > 0 {
		opts += fmt.Sprintf(",size=%d", size)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NODEV|unix.MS_NOSUID, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s (%s): %w", dir, opts, err)
	}
	return nil
}

// unmountIfMounted unmounts dir when something is mounted on it.
func unmountIfMounted(dir string) error {
	mounted, err := isMountPoint(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check mount of %s: %w", dir, err)
	}
	if !mounted {
		return nil
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// applyFSGroup gives a volume's files to the pod's fsGroup as the kubelet's SetVolumeOwnership does: group
// ownership, group read (and write unless read-only) permission, setgid folders. OnRootMismatch skips a volume
// whose root already has the group. In a pod's user namespace ids (nil: the host's), the group is the host's ID of
// the fsGroup there.
func applyFSGroup(dir string, pod *corev1.Pod, readOnly bool, ids *userns.Range) error {
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.FSGroup == nil {
		return nil
	}
	host, err := hostID(ids, *sc.FSGroup)
	if err != nil {
		return fmt.Errorf("apply fsGroup %d: %w", *sc.FSGroup, err)
	}
	gid := int(host)
	if sc.FSGroupChangePolicy != nil && *sc.FSGroupChangePolicy == corev1.FSGroupChangeOnRootMismatch {
		if fi, err := os.Stat(dir); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Gid) == gid && fi.Mode()&os.ModeSetgid != 0 {
				return nil
			}
		}
	}
	mask := os.FileMode(0o660)
	if readOnly {
		mask = 0o440
	}
	err = filepath.Walk(dir, func(path string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, -1, gid); err != nil {
			return err
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		m := mask
		if info.IsDir() {
			m |= os.ModeSetgid | 0o110
		}
		return os.Chmod(path, info.Mode()|m)
	})
	if err != nil {
		return fmt.Errorf("apply fsGroup %d: %w", gid, err)
	}
	return nil
}
