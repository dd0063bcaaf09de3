package volume

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDiskEmptyDirs measures disk emptyDirs against their sizeLimit: only a disk emptyDir with a positive limit
// counts, and only once its files take more than the limit. Every disk emptyDir counts toward the pod's total, a
// memory one does not.
func TestDiskEmptyDirs(t *testing.T) {
	limit := resource.MustParse("64Ki")
	zero := resource.MustParse("0")
	emptyDir := func(medium corev1.StorageMedium, size *resource.Quantity) corev1.VolumeSource {
		return corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: medium, SizeLimit: size}}
	}
	tests := []struct {
		name      string
		source    corev1.VolumeSource
		write     int
		wantLimit bool
		wantMsg   string
		notDisk   bool // its files are not the pod's disk use
	}{
		{name: "no limit", source: emptyDir("", nil), write: 256 << 10},
		{name: "zero limit", source: emptyDir("", &zero), write: 256 << 10},
		{name: "memory medium", source: emptyDir(corev1.StorageMediumMemory, &limit), write: 256 << 10, notDisk: true},
		{name: "within the limit", source: emptyDir("", &limit), write: 16 << 10, wantLimit: true},
		{name: "over the limit", source: emptyDir("", &limit), write: 256 << 10, wantLimit: true,
			wantMsg: `Usage of EmptyDir volume "scratch" exceeds the limit "64Ki". `},
		{name: "not set up yet", source: emptyDir("", &limit), wantLimit: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			m := New(Config{RootDir: root})
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u-1"},
				Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: tc.source}}}}
			if tc.write > 0 {
				dir := m.volumeDir(pod, &pod.Spec.Volumes[0])
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "big"), make([]byte, tc.write), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := HasDiskSizeLimit(pod); got != tc.wantLimit {
				t.Errorf("HasDiskSizeLimit = %v, want %v", got, tc.wantLimit)
			}
			msg, _, err := m.DiskEmptyDirs(pod, false)
			if err != nil || msg != tc.wantMsg {
				t.Errorf("DiskEmptyDirs = %q, %v; want %q", msg, err, tc.wantMsg)
			}
			msg, used, err := m.DiskEmptyDirs(pod, true)
			if err != nil || msg != tc.wantMsg {
				t.Errorf("DiskEmptyDirs with the total = %q, %v; want %q", msg, err, tc.wantMsg)
			}
			if tc.write > 0 && (used >= int64(tc.write)) == tc.notDisk {
				t.Errorf("DiskEmptyDirs total %d bytes after writing %d (a disk emptyDir: %v)", used, tc.write, !tc.notDisk)
			}
		})
	}
}
