package provider

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestEvictionWhenEmptyDirOutgrowsItsLimit(t *testing.T) {
	h := newHarness(t, "busybox")
	h.p.cfg.RootDir = t.TempDir()
	limit := resource.MustParse("64Ki")
	pod := lifecyclePod("grows", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &limit}}},
		{Name: "free", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")

	dir := filepath.Join(h.p.cfg.RootDir, "pods", string(pod.UID), "volumes", "kubernetes.io~empty-dir")
	if err := os.WriteFile(filepath.Join(dir, "free", "big"), make([]byte, 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := h.p.volumes().EmptyDirOverLimit(pod); err != nil || msg != "" {
		t.Fatalf("a volume without a limit counted: %q, %v", msg, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scratch", "big"), make([]byte, 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.p.pods[key(pod.Namespace, pod.Name)]
	h.p.enforceEmptyDirLimits(h.ctx, r)

	evicted, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	wantMsg := `Usage of EmptyDir volume "scratch" exceeds the limit "64Ki". `
	if evicted.Status.Reason != "Evicted" || evicted.Status.Message != wantMsg {
		t.Errorf("status reason %q message %q, want Evicted %q", evicted.Status.Reason, evicted.Status.Message, wantMsg)
	}
	if term := statusOf(evicted, "a").State.Terminated; term == nil || term.Reason == "OOMKilled" {
		t.Errorf("container state %+v, want terminated (and not OOMKilled)", statusOf(evicted, "a").State)
	}
	if n := len(h.fake.callsTo("CreateContainer")); n != 1 {
		t.Errorf("%d containers created; an evicted pod's container must not restart", n)
	}
}
