package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/userns"
)

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

// hostID is the host ID that id (a UID or GID of the pod) is: id itself in the host's user namespace (r nil), else
// its ID in the pod's range.
func hostID(r *userns.Range, id int64) (int64, error) {
	if r == nil {
		return id, nil
	}
	host, ok := r.HostID(id)
	if !ok {
		return 0, fmt.Errorf("ID %d is not in the pod's user namespace (0 to %d)", id, userns.Length-1)
	}
	return host, nil
}

// giveToPod makes the files of a pod's volume its own: the IDs of its user namespace ids, if it has one of its
// own (nil: the host's), then its fsGroup (applyFSGroup).
func giveToPod(dir string, pod *corev1.Pod, readOnly bool, ids *userns.Range) error {
	if ids != nil {
		if err := mapOwners(dir, *ids); err != nil {
			return err
		}
	}
	return applyFSGroup(dir, pod, readOnly, ids)
}

// mapOwners gives everything under dir, dir included, to the pod's user namespace r as mapOwner does.
func mapOwners(dir string, r userns.Range) error {
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return mapOwner(path, r)
	})
}

// mapOwner gives a file (a link itself, not what it names) that the host's IDs own, as Berth made it, to the same
// IDs of the pod's user namespace r: the host's root becomes the pod's root. runc 1.1 has no idmapped mounts, so
// the owners of the folders Berth makes for a pod are chown'd to the IDs the pod sees as its own, as the kubelet's
// runtimes do where idmapped mounts are missing. IDs already the pod's, and other IDs beyond the first Length
// (another pod's), are left as they are.
func mapOwner(path string, r userns.Range) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("no owner of %s", path)
	}
	uid, gid := mapped(r, int64(st.Uid)), mapped(r, int64(st.Gid))
	if uid == int64(st.Uid) && gid == int64(st.Gid) {
		return nil
	}
	if err := os.Lchown(path, int(uid), int(gid)); err != nil {
		return fmt.Errorf("give %s to the pod's user namespace: %w", path, err)
	}
	return nil
}

// mapped is the ID of the pod's range that host ID id becomes: the same ID of the range for one of the host's
// first Length IDs, else id.
func mapped(r userns.Range, id int64) int64 {
	if r.Contains(id) {
		return id
	}
	if host, ok := r.HostID(id); ok {
		return host
	}
	return id
}

// mapNewFolders gives the folders from below base down to path (base excluded), which a MkdirAll just made as the
// host's root, to the pod's user namespace r.
func mapNewFolders(base, path string, r userns.Range) error {
	var errs []error
	for p := path; p != base && podspec.Within(base, p); p = filepath.Dir(p) {
		errs = append(errs, mapOwner(p, r))
	}
	return errors.Join(errs...)
}
