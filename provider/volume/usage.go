package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// DiskEmptyDirs measures the pod's disk emptyDirs, each once: the first whose usage exceeds its sizeLimit, said as
// the kubelet's eviction manager says it ("" when none does), and the disk those measured take together, which
// counts toward the pod's ephemeral storage. Only those with a sizeLimit are measured unless total is set. Memory
// emptyDirs are left out: their tmpfs has the limit's size, and takes memory, not disk.
func (m *Manager) DiskEmptyDirs(pod *corev1.Pod, total bool) (overLimit string, used int64, err error) {
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if v.EmptyDir == nil || v.EmptyDir.Medium == corev1.StorageMediumMemory {
			continue
		}
		limited := v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Sign() == 1
		if !limited && !total {
			continue
		}
		n, err := diskUsage(m.volumeDir(pod, v))
		if err != nil {
			return "", 0, err
		}
		used += n
		if limited && overLimit == "" && resource.NewQuantity(n, resource.BinarySI).Cmp(*v.EmptyDir.SizeLimit) > 0 {
			overLimit = fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", v.Name, v.EmptyDir.SizeLimit.String())
		}
	}
	return overLimit, used, nil
}

// HasDiskSizeLimit tells whether a pod has a disk emptyDir with a sizeLimit to enforce.
func HasDiskSizeLimit(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.Medium != corev1.StorageMediumMemory && v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Sign() == 1 {
			return true
		}
	}
	return false
}

// diskUsage is the space a folder's files take on disk, as du counts it (allocated blocks, links not followed).
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil //nolint:nilerr // a file removed during the walk takes no space
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure %s: %w", dir, err)
	}
	return total, nil
}
