package provider

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

// boundClaim is a claim of namespace default bound to a PersistentVolume of source src, each pointing at the other.
func boundClaim(name string, src corev1.PersistentVolumeSource) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-" + name}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-" + name}, Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: src,
		ClaimRef: &corev1.ObjectReference{Namespace: "default", Name: name, UID: pvc.UID}}}
	return pvc, pv
}

// claimPod is a pod whose container mounts the claim claim at /data.
func claimPod(name, claim string, readOnly bool) *corev1.Pod {
	c := testContainer("app", "busybox")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	pod := lifecyclePod(name, corev1.RestartPolicyAlways, nil, c)
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: readOnly}}}}
	return pod
}

// TestClaimVolumes runs pods with persistentVolumeClaim volumes as the kubelet runs them: a claim bound to a hostPath
// PersistentVolume is bind-mounted (read-only as the claim's volume says); a claim that does not exist yet keeps the
// pod in ContainerCreating with FailedMount events until it does, then the pod runs; a claim bound to an nfs
// volume fails the pod (UnsupportedVolume), with one FailedMount event naming the claim, the volume and its type.
func TestClaimVolumes(t *testing.T) {
	root, pvDir := t.TempDir(), t.TempDir()
	hostPath := corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}}
	dataClaim, dataPV := boundClaim("data", hostPath)
	nfsClaim, nfsPV := boundClaim("nfs", corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "192.0.2.1", Path: "/exports"}})
	client := fake.NewClientset(dataClaim, dataPV, nfsClaim, nfsPV)
	rec := record.NewFakeRecorder(1000)
	h := newHarnessWith(t, func(c *Config) {
		c.RootDir, c.AllowedHostPaths, c.Claims, c.Recorder = root, []string{pvDir}, client.CoreV1(), rec
	}, "busybox")

	bound := claimPod("bound", "data", true)
	h.create(bound)
	h.waitReported(bound, 0, "Running", func(p *corev1.Pod) bool { return isRunning(p, "app") })
	mounts := h.fake.containerNamed(t, ctrName(bound, "app", 1)).spec.Mounts
	if !slices.Contains(mounts, podman.BindMount{Source: pvDir, Dest: "/data", ReadOnly: true}) {
		t.Errorf("mounts %+v, want the PersistentVolume's path read-only at /data", mounts)
	}

	waiting := claimPod("waiting", "later", false)
	h.create(waiting)
	h.waitReported(waiting, 0, "ContainerCreating", func(p *corev1.Pod) bool { return waitingFor(p, "app", "ContainerCreating") })
	h.poll("a FailedMount event for the missing claim", func() bool {
		return slices.ContainsFunc(drainEvents(rec), func(ev string) bool {
			return strings.Contains(ev, `FailedMount MountVolume.SetUp failed for volume "data" : error processing PVC default/later: failed to fetch PVC from API server: persistentvolumeclaims "later" not found`)
		})
	})
	laterClaim, laterPV := boundClaim("later", hostPath)
	if _, err := client.CoreV1().PersistentVolumes().Create(context.Background(), laterPV, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().PersistentVolumeClaims("default").Create(context.Background(), laterClaim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitReported(waiting, 0, "Running once its claim is bound", func(p *corev1.Pod) bool { return isRunning(p, "app") })

	drainEvents(rec)
	refused := claimPod("refused", "nfs", false)
	h.create(refused)
	const why = "Berth refuses this pod's volumes: spec.volumes[data]: claim nfs is bound to PersistentVolume pv-nfs of type nfs; Berth mounts hostPath and local PersistentVolumes only"
	got, _ := h.waitReported(refused, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if got.Status.Reason != podspec.UnsupportedVolumeReason || got.Status.Message != why {
		t.Errorf("status reason %q message %q, want %q %q", got.Status.Reason, got.Status.Message, podspec.UnsupportedVolumeReason, why)
	}
	if st := statusOf(got, "app").State.Waiting; st == nil || st.Reason != "CreateContainerConfigError" {
		t.Errorf("container state %+v, want waiting in CreateContainerConfigError", statusOf(got, "app").State)
	}
	if events := drainEvents(rec); !slices.Equal(events, []string{"Warning FailedMount " + why}) {
		t.Errorf("events %q, want the refusal's FailedMount alone", events)
	}
	if _, err := filepath.EvalSymlinks(filepath.Join(root, "pods", string(refused.UID), "volumes", "kubernetes.io~host-path", "data")); err == nil {
		t.Error("the refused volume was set up")
	}
}
