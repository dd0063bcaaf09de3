package provider

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/provider/podman"
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
	if msg, _, err := h.p.volumes().DiskEmptyDirs(pod, false); err != nil || msg != "" {
		t.Fatalf("a volume without a limit counted: %q, %v", msg, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scratch", "big"), make([]byte, 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.p.pods[key(pod.Namespace, pod.Name)]
	h.p.worker(r).enforceStorageLimits(h.ctx)

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

// TestEvictionForEphemeralStorage checks the kubelet's ephemeral-storage evictions: a container whose writable
// layer and logs outgrow its own limit, and a pod whose containers and disk emptyDirs together outgrow the sum of
// its containers' limits (a container without a limit counts toward it), each with the kubelet's message; a
// pod within its limits stays.
func TestEvictionForEphemeralStorage(t *testing.T) {
	storage := func(q string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(q)}}
	}
	for _, tc := range []struct {
		name     string
		disks    map[string]podman.DiskUsage // by container
		emptyDir int                         // bytes written into a disk emptyDir
		wantMsg  string                      // "" stays running
	}{
		{name: "within the limits", disks: map[string]podman.DiskUsage{"a": {Rootfs: 100 << 10, Logs: 10 << 10}, "b": {Rootfs: 500 << 10}}},
		{name: "a container over its own limit, logs included", disks: map[string]podman.DiskUsage{"a": {Rootfs: 900 << 10, Logs: 200 << 10}},
			wantMsg: `Container a exceeded its local ephemeral storage limit "1Mi". `},
		{name: "the pod over its containers' total, by a container without a limit", disks: map[string]podman.DiskUsage{"a": {Rootfs: 512 << 10}, "b": {Rootfs: 3 << 20}},
			wantMsg: `Pod ephemeral local storage usage exceeds the total limit of containers 3Mi. `},
		{name: "the pod over its containers' total, by its emptyDir", disks: map[string]podman.DiskUsage{"a": {Rootfs: 512 << 10}}, emptyDir: 3 << 20,
			wantMsg: `Pod ephemeral local storage usage exceeds the total limit of containers 3Mi. `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "busybox")
			h.p.cfg.RootDir = t.TempDir()
			pod := lifecyclePod("disk", corev1.RestartPolicyAlways, nil,
				withResources(testContainer("a", "busybox"), storage("1Mi")), testContainer("b", "busybox"))
			sidecar := withResources(testContainer("s", "busybox"), storage("2Mi"))
			sidecar.RestartPolicy = new(corev1.ContainerRestartPolicyAlways)
			pod.Spec.InitContainers = []corev1.Container{sidecar}
			pod.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			if !hasStorageLimits(pod) {
				t.Fatal("hasStorageLimits: false for a pod with ephemeral-storage limits")
			}
			h.create(pod)
			for _, c := range []string{"s", "a", "b"} {
				h.waitContainer(ctrName(pod, c, 1), "running")
			}
			h.fake.locked(func() {
				for name, d := range tc.disks {
					h.fake.lookupContainer(ctrName(pod, name, 1)).disk = d
				}
			})
			dir := filepath.Join(h.p.cfg.RootDir, "pods", string(pod.UID), "volumes", "kubernetes.io~empty-dir", "scratch")
			if err := os.WriteFile(filepath.Join(dir, "big"), make([]byte, tc.emptyDir), 0o644); err != nil {
				t.Fatal(err)
			}
			h.p.mu.Lock()
			r := h.p.pods[key(pod.Namespace, pod.Name)]
			h.p.mu.Unlock()
			h.p.worker(r).enforceStorageLimits(h.ctx)
			if tc.wantMsg == "" {
				h.p.mu.Lock()
				evicting := r.evicting
				h.p.mu.Unlock()
				if evicting {
					t.Error("a pod within its ephemeral-storage limits is evicted")
				}
				return
			}
			evicted, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
			if evicted.Status.Reason != "Evicted" || evicted.Status.Message != tc.wantMsg {
				t.Errorf("status reason %q message %q, want Evicted %q", evicted.Status.Reason, evicted.Status.Message, tc.wantMsg)
			}
		})
	}
}
