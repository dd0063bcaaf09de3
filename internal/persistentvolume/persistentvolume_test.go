package persistentvolume

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestUnmountable(t *testing.T) {
	block := corev1.PersistentVolumeBlock
	for _, tc := range []struct {
		name     string
		pv       corev1.PersistentVolume
		wantWhat string
	}{
		{name: "hostPath", pv: corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv"}}}}},
		{name: "local", pv: corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disk"}}}}},
		{name: "nfs", pv: corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "x", Path: "/"}}}},
			wantWhat: "of type nfs"},
		{name: "csi names its driver", pv: corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "ebs.csi.aws.com"}}}},
			wantWhat: "of type csi (driver ebs.csi.aws.com)"},
		{name: "no source", wantWhat: "of type none"},
		{name: "block local", pv: corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{VolumeMode: &block, PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/dev/sdb"}}}},
			wantWhat: "of volumeMode Block"},
		{name: "mount options", pv: corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{MountOptions: []string{"noatime"}, PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt"}}}},
			wantWhat: "with mount options"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			what, why := Unmountable(&tc.pv)
			if what != tc.wantWhat || (what == "") != (why == "") {
				t.Errorf("Unmountable = %q, %q; want %q with a reason", what, why, tc.wantWhat)
			}
		})
	}
}
