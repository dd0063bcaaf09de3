// Package persistentvolume says which PersistentVolumes a Berth node mounts, for the provider that mounts them
// and for the scheduler plugin that keeps pods whose claims it cannot mount off Podman nodes: one rule for both.
package persistentvolume

import (
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// GIDAnnotation is a PersistentVolume's annotation giving a group ID the kubelet adds to the supplemental
// groups of the containers of a pod using the volume.
const GIDAnnotation = "pv.beta.kubernetes.io/gid"

// Unmountable says what of a PersistentVolume keeps Berth from mounting it whatever the node allows ("of type nfs",
// "of volumeMode Block") and why, both "" when it is a hostPath or local volume of volumeMode Filesystem that asks
// for nothing Berth would leave out: mount options (which the kubelet applies to a local volume's bind mount, and
// refuses for a hostPath one) and the supplemental group of the pv.beta.kubernetes.io/gid annotation.
func Unmountable(pv *corev1.PersistentVolume) (what, why string) {
	switch {
	case pv.Spec.VolumeMode != nil && *pv.Spec.VolumeMode != corev1.PersistentVolumeFilesystem:
		return fmt.Sprintf("of volumeMode %s", *pv.Spec.VolumeMode), "Berth mounts Filesystem volumes only"
	case pv.Spec.HostPath == nil && pv.Spec.Local == nil:
		return "of type " + Type(pv), "Berth mounts hostPath and local PersistentVolumes only"
	case len(pv.Spec.MountOptions) > 0 || pv.Annotations[corev1.MountOptionAnnotation] != "":
		return "with mount options", "Berth does not mount with them"
	}
	if _, ok := pv.Annotations[GIDAnnotation]; ok {
		return "with annotation " + GIDAnnotation, "Berth does not add its group to the containers' supplemental groups"
	}
	return "", ""
}

// Type names a PersistentVolume's source as its field does (hostPath, local, nfs, ...), with the
// driver of a csi one ("csi (driver ebs.csi.aws.com)"); "none" when it has none.
func Type(pv *corev1.PersistentVolume) string {
	src := reflect.ValueOf(pv.Spec.PersistentVolumeSource)
	for i := range src.NumField() {
		if f := src.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(src.Type().Field(i).Tag.Get("json"), ",")
			if pv.Spec.CSI != nil && name == "csi" {
				name += " (driver " + pv.Spec.CSI.Driver + ")"
			}
			return name
		}
	}
	return "none"
}
