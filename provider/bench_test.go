package provider

// Micro-benchmarks of the provider's pure translation code, on a typical web pod (an init container, an app with
// ports, env, resources and probes, and a sidecar). They have no in-tree counterpart to compare with: the
// kubelet's equivalents are not callable without a whole kubelet. `make bench` reports them without a baseline.

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berth-dev/berth/provider/podspec"
)

func benchPod() *corev1.Pod {
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}}
	app := corev1.Container{
		Name: "app", Image: "docker.io/library/nginx:1.27", Command: []string{"nginx"}, Args: []string{"-g", "daemon off; $(MODE)"},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, HostPort: 18080}},
		Env:   []corev1.EnvVar{{Name: "MODE", Value: "fast"}, {Name: "LEVEL", Value: "3"}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		},
		ReadinessProbe: probe, LivenessProbe: probe,
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f8-abcde", Namespace: "shop", UID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
			Labels: map[string]string{"app": "web", "pod-template-hash": "7d9f8"}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "migrate", Image: "docker.io/library/busybox:1.37", Command: []string{"sh", "-c", "true"}}},
			Containers:     []corev1.Container{app, {Name: "sidecar", Image: "docker.io/library/busybox:1.37", Command: []string{"sleep", "3600"}}},
			HostAliases:    []corev1.HostAlias{{IP: "10.0.0.5", Hostnames: []string{"db.local"}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable},
	}
}

// BenchmarkPodTranslation translates a pod into its Podman pod and the specs of its three containers.
func BenchmarkPodTranslation(b *testing.B) {
	pod := benchPod()
	b.ReportAllocs()
	for b.Loop() {
		_ = podspec.Pod(pod, podspec.PodInputs{Node: "node-a", Network: "berth", Hostname: pod.Name})
		for i := range pod.Spec.InitContainers {
			c := &pod.Spec.InitContainers[i]
			_ = podspec.Container(pod, c, podspec.ContainerInputs{Node: "node-a", Env: c.Env, Attempt: 1})
		}
		for i := range pod.Spec.Containers {
			c := &pod.Spec.Containers[i]
			_ = podspec.Container(pod, c, podspec.ContainerInputs{Node: "node-a", Env: c.Env, Attempt: 1})
		}
	}
}

// BenchmarkPodStatus builds the status of the pod running: init container completed, both containers running and
// ready.
func BenchmarkPodStatus(b *testing.B) {
	pod := benchPod()
	started := metav1.NewTime(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}
	r := &podRecord{pod: pod, podmanName: podspec.PodName(pod), podmanID: "pod123", podIP: "10.88.0.7", sandbox: true,
		startTime: started, initialized: true}
	r.init = []*containerRecord{{spec: &pod.Spec.InitContainers[0], init: true, id: "c0", attempts: 1, started: true, imageID: "abc",
		state: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: started}}}}
	for i := range pod.Spec.Containers {
		r.app = append(r.app, &containerRecord{spec: &pod.Spec.Containers[i], id: "c" + string(rune('1'+i)), attempts: 1,
			state: running, started: true, ready: true, imageID: "def"})
	}
	now := started.Add(time.Minute)
	if st := deriveStatus(r, now); st.Phase != corev1.PodRunning || len(st.ContainerStatuses) != 2 {
		b.Fatalf("status %s with %d container statuses, want Running with 2", st.Phase, len(st.ContainerStatuses))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = deriveStatus(r, now)
	}
}
