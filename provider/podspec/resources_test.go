package podspec

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/provider/podman"
)

func TestPodResources(t *testing.T) {
	list := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	mi := int64(1 << 20)
	tests := []struct {
		name       string
		containers []corev1.ResourceRequirements
		pod        *corev1.ResourceRequirements
		overhead   corev1.ResourceList
		want       *podman.ContainerResources
	}{
		{name: "neither pod-level resources nor overhead: Podman's pod cgroup",
			containers: []corev1.ResourceRequirements{{Limits: list("500m", "128Mi"), Requests: list("500m", "128Mi")}}},
		{name: "guaranteed with overhead: containers' sums plus the overhead",
			containers: []corev1.ResourceRequirements{{Limits: list("500m", "128Mi"), Requests: list("500m", "128Mi")}},
			overhead:   list("250m", "64Mi"),
			want:       &podman.ContainerResources{CPUShares: 768, CPUQuota: 75000, CPUPeriod: cpuPeriod, MemoryLimit: 192 * mi}},
		{name: "burstable with overhead and no limits: shares only",
			containers: []corev1.ResourceRequirements{{Requests: list("100m", "")}},
			overhead:   list("250m", "64Mi"),
			want:       &podman.ContainerResources{CPUShares: 358}},
		{name: "burstable, one container without a memory limit: no memory limit",
			containers: []corev1.ResourceRequirements{{Limits: list("1", "128Mi"), Requests: list("100m", "")}, {Limits: list("1", ""), Requests: list("1", "")}},
			overhead:   list("100m", ""),
			want:       &podman.ContainerResources{CPUShares: 1228, CPUQuota: 210000, CPUPeriod: cpuPeriod}},
		{name: "best effort with overhead: the minimum shares",
			containers: []corev1.ResourceRequirements{{}},
			overhead:   list("100m", "16Mi"),
			want:       &podman.ContainerResources{CPUShares: minShares}},
		{name: "pod-level limits and requests: guaranteed pod cgroup",
			containers: []corev1.ResourceRequirements{{}, {}},
			pod:        &corev1.ResourceRequirements{Limits: list("1", "256Mi"), Requests: list("1", "256Mi")},
			want:       &podman.ContainerResources{CPUShares: 1024, CPUQuota: 100000, CPUPeriod: cpuPeriod, MemoryLimit: 256 * mi}},
		{name: "pod-level memory limit declares it though no container does",
			containers: []corev1.ResourceRequirements{{Requests: list("200m", "")}},
			pod:        &corev1.ResourceRequirements{Limits: list("", "256Mi"), Requests: list("500m", "128Mi")},
			want:       &podman.ContainerResources{CPUShares: 512, MemoryLimit: 256 * mi}},
		{name: "pod-level requests only: shares from them",
			containers: []corev1.ResourceRequirements{{}},
			pod:        &corev1.ResourceRequirements{Requests: list("500m", "")},
			want:       &podman.ContainerResources{CPUShares: 512}},
		{name: "tiny CPU limit: the kernel's smallest quota",
			containers: []corev1.ResourceRequirements{{}},
			pod:        &corev1.ResourceRequirements{Limits: list("1m", "64Mi"), Requests: list("1m", "64Mi")},
			want:       &podman.ContainerResources{CPUShares: minShares, CPUQuota: minQuota, CPUPeriod: cpuPeriod, MemoryLimit: 64 * mi}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Resources: tt.pod, Overhead: tt.overhead}}
			for i, r := range tt.containers {
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: string(rune('a' + i)), Resources: r})
			}
			if diff := cmp.Diff(tt.want, PodResources(pod)); diff != "" {
				t.Errorf("PodResources (-want +got):\n%s", diff)
			}
			if got := Pod(pod, PodInputs{}).Resources; !cmp.Equal(got, tt.want) {
				t.Errorf("Pod().Resources = %+v, want %+v", got, tt.want)
			}
		})
	}
}
