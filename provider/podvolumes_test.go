package provider

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRefreshAfterDeletion checks that a refresh of a pod's volumes that comes after the pod's deletion tore them
// down (the periodic resync listed the pod before it was deleted) does not write the pod's folder again.
func TestRefreshAfterDeletion(t *testing.T) {
	root := t.TempDir()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "settings"}, Data: map[string]string{"mode": "fast"}}
	p := New(Config{RootDir: root})
	p.SetListers(testListers(t, cm))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u-1"}}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
	}
	r := newPodRecord(pod, "x")
	if rej, err := p.worker(r).setUpVolumes(context.Background()); rej != nil || err != nil {
		t.Fatal(rej, err)
	}
	// As DeletePod, then kill, do.
	p.mu.Lock()
	r.deleting = true
	p.mu.Unlock()
	if err := p.volumes().TearDown(pod.UID); err != nil {
		t.Fatal(err)
	}
	p.worker(r).refreshVolumes(context.Background())
	if _, err := os.Stat(filepath.Join(root, "pods", string(pod.UID))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refresh after the deletion wrote the pod folder again: %v", err)
	}
}
