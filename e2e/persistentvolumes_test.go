package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The tests of this file show persistentVolumeClaim and generic ephemeral volumes on Berth nodes: claims bound to
// hostPath and local PersistentVolumes are mounted as a kubelet without CSI drivers mounts them, other claims are
// kept Pending by the berth-scheduler and refused by a node that is given one anyway.

// createPersistentVolume creates a PersistentVolume, deleted when the test ends. PersistentVolumes are cluster-wide:
// name them after the test's namespace.
func createPersistentVolume(t *testing.T, pv *corev1.PersistentVolume) {
	t.Helper()
	if pv.Spec.Capacity == nil {
		pv.Spec.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	}
	if pv.Spec.AccessModes == nil {
		pv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	if _, err := client.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create PersistentVolume %s: %v", pv.Name, err)
	}
	t.Cleanup(func() {
		if err := client.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete PersistentVolume %s: %v", pv.Name, err)
		}
	})
}

// createStorageClass creates a StorageClass, deleted when the test ends (cluster-wide too).
func createStorageClass(t *testing.T, sc *storagev1.StorageClass) {
	t.Helper()
	if _, err := client.StorageV1().StorageClasses().Create(context.Background(), sc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create StorageClass %s: %v", sc.Name, err)
	}
	t.Cleanup(func() {
		if err := client.StorageV1().StorageClasses().Delete(context.Background(), sc.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete StorageClass %s: %v", sc.Name, err)
		}
	})
}

// bindClaim makes claim name of namespace ns bound to a new PersistentVolume of source src, named <ns>-<name>, as an
// administrator binds them statically (the volume's claimRef, the claim's volumeName, storageClassName ""), and
// waits until the PersistentVolume controller has bound them. edit, if not nil, changes the volume first.
func bindClaim(t *testing.T, ns, name string, src corev1.PersistentVolumeSource, edit func(*corev1.PersistentVolume)) string {
	t.Helper()
	ctx := context.Background()
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name}, Spec: corev1.PersistentVolumeSpec{
		PersistentVolumeSource: src, ClaimRef: &corev1.ObjectReference{Namespace: ns, Name: name}}}
	if edit != nil {
		edit(pv)
	}
	createPersistentVolume(t, pv)
	none := ""
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: pv.Spec.AccessModes, StorageClassName: &none, VolumeName: pv.Name, VolumeMode: pv.Spec.VolumeMode,
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create claim %s: %v", name, err)
	}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		c, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && c.Status.Phase == corev1.ClaimBound, nil
	})
	if err != nil {
		t.Fatalf("claim %s not Bound to %s: %v", name, pv.Name, err)
	}
	return pv.Name
}

// onNode is a PersistentVolume's nodeAffinity to the node of that name (a local volume must have one).
func onNode(node string) func(*corev1.PersistentVolume) {
	return func(pv *corev1.PersistentVolume) {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
		}}}}
	}
}

// hostFile reads a file of the machine (every node's Podman host), "" when it does not exist.
func hostFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestPersistentVolumeClaims: pods scheduled by the berth-scheduler write through claims bound to a hostPath
// PersistentVolume (a folder under the nodes' allowed host paths) and to a local one (a folder elsewhere, with
// nodeAffinity to the second node, which the scheduler follows), and the files are on the host; a claim mounted
// read-only (the claim's readOnly, or the mount's) refuses writes; a pod whose claim does not exist yet waits in
// ContainerCreating, with FailedMount events, and runs once the claim is bound; a claim bound to an nfs volume
// keeps the pod Pending under the berth-scheduler, and a node given the pod anyway (spec.nodeName) refuses it,
// naming the claim, the volume and its type, without running it.
func TestPersistentVolumeClaims(t *testing.T) {
	ns := namespace(t)
	nodes := testCluster.NodeNames()
	base := filepath.Join(testCluster.Config().AllowedHostPaths[1], ns)
	t.Cleanup(func() { os.RemoveAll(base) })
	hostDir := filepath.Join(base, "hostpath")
	bindClaim(t, ns, "hostpath", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
		Path: hostDir, Type: new(corev1.HostPathDirectoryOrCreate)}}, nil)
	localDir := t.TempDir()
	bindClaim(t, ns, "local", corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: localDir}}, onNode(nodes[1]))

	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hostpath-writer}
spec:
  schedulerName: berth-scheduler
  restartPolicy: Never
  volumes: [{name: data, persistentVolumeClaim: {claimName: hostpath}}]
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "echo written-through-hostpath > /data/out"]
    volumeMounts: [{name: data, mountPath: /data}]
---
apiVersion: v1
kind: Pod
metadata: {name: local-writer}
spec:
  schedulerName: berth-scheduler
  restartPolicy: Never
  volumes: [{name: data, persistentVolumeClaim: {claimName: local}}]
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "echo written-through-local > /data/out"]
    volumeMounts: [{name: data, mountPath: /data}]
`, busybox), "apply", "-n", ns, "-f", "-")
	runToSuccess(t, ns, "hostpath-writer")
	if got := hostFile(t, filepath.Join(hostDir, "out")); got != "written-through-hostpath\n" {
		t.Errorf("hostPath volume's file on the host: %q", got)
	}
	if p := runToSuccess(t, ns, "local-writer"); p.Spec.NodeName != nodes[1] {
		t.Errorf("pod of the local volume of node %s ran on %s", nodes[1], p.Spec.NodeName)
	}
	if got := hostFile(t, filepath.Join(localDir, "out")); got != "written-through-local\n" {
		t.Errorf("local volume's file on the host: %q", got)
	}

	t.Run("read-only", func(t *testing.T) {
		// The claim read-only (every mount of it), the mount read-only, and the claim written through a third mount.
		kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: readonly}
spec:
  schedulerName: berth-scheduler
  restartPolicy: Never
  volumes:
  - {name: ro, persistentVolumeClaim: {claimName: hostpath, readOnly: true}}
  - {name: rw, persistentVolumeClaim: {claimName: hostpath}}
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "test \"$(cat /ro/out)\" = written-through-hostpath || exit 10; touch /ro/x && exit 11; touch /mount-ro/y && exit 12; touch /rw/z"]
    volumeMounts:
    - {name: ro, mountPath: /ro}
    - {name: rw, mountPath: /mount-ro, readOnly: true}
    - {name: rw, mountPath: /rw}
`, busybox), "apply", "-n", ns, "-f", "-")
		runToSuccess(t, ns, "readonly")
		for file, want := range map[string]bool{"x": false, "y": false, "z": true} {
			if _, err := os.Stat(filepath.Join(hostDir, file)); (err == nil) != want {
				t.Errorf("file %s on the host: %v, want it there: %v", file, err, want)
			}
		}
	})

	t.Run("claim bound later", func(t *testing.T) {
		kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: waits}
spec:
  nodeName: %s
  restartPolicy: Never
  volumes: [{name: data, persistentVolumeClaim: {claimName: later}}]
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "test -d /data"]
    volumeMounts: [{name: data, mountPath: /data}]
`, nodes[0], busybox), "apply", "-n", ns, "-f", "-")
		waitEvent(t, ns, "waits", "FailedMount", fmt.Sprintf(`MountVolume.SetUp failed for volume "data" : error processing PVC %s/later: failed to fetch PVC from API server: persistentvolumeclaims "later" not found`, ns), time.Minute)
		// The status and the event are sent apart (as the kubelet's status manager and recorder do), so the event
		// may land first: wait for the status, which must say the pod is Pending in ContainerCreating.
		waitPod(t, ns, "waits", 30*time.Second, "Pending in ContainerCreating", func(p *corev1.Pod) bool {
			st := p.Status.ContainerStatuses
			return p.Status.Phase == corev1.PodPending && len(st) == 1 && st[0].State.Waiting != nil && st[0].State.Waiting.Reason == "ContainerCreating"
		})
		bindClaim(t, ns, "later", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: filepath.Join(base, "later"), Type: new(corev1.HostPathDirectoryOrCreate)}}, nil)
		runToSuccess(t, ns, "waits")
	})

	t.Run("nfs", func(t *testing.T) {
		pv := bindClaim(t, ns, "nfs", corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "192.0.2.1", Path: "/exports"}}, nil)
		pod := func(name, placement string) string {
			return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  %s
  restartPolicy: Never
  volumes: [{name: data, persistentVolumeClaim: {claimName: nfs}}]
  containers:
  - name: main
    image: %s
    command: ["true"]
    volumeMounts: [{name: data, mountPath: /data}]
`, name, placement, busybox)
		}
		kubectl(t, pod("nfs-scheduled", "schedulerName: berth-scheduler")+"---\n"+pod("nfs-on-node", "nodeName: "+nodes[0]), "apply", "-n", ns, "-f", "-")
		checkUnschedulable(t, ns, "nfs-scheduled", fmt.Sprintf("Podman nodes mount only hostPath and local persistent volumes: spec.volumes[data] (claim nfs: bound to PersistentVolume %s of type nfs)", pv))

		why := fmt.Sprintf("Berth refuses this pod's volumes: spec.volumes[data]: claim nfs is bound to PersistentVolume %s of type nfs; Berth mounts hostPath and local PersistentVolumes only", pv)
		p := waitPod(t, ns, "nfs-on-node", 2*time.Minute, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
		if p.Status.Reason != "UnsupportedVolume" || p.Status.Message != why {
			t.Errorf("status reason %q message %q, want UnsupportedVolume %q", p.Status.Reason, p.Status.Message, why)
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.State.Waiting == nil || s.State.Waiting.Reason != "CreateContainerConfigError" {
				t.Errorf("container %s: %+v, want waiting in CreateContainerConfigError", s.Name, s.State)
			}
		}
		waitEvent(t, ns, "nfs-on-node", "FailedMount", why, 30*time.Second)
	})
}

// TestGenericEphemeralVolume: a pod's generic ephemeral volume of a StorageClass of static local volumes
// (kubernetes.io/no-provisioner, WaitForFirstConsumer): the ephemeral volume controller makes the pod's claim, the
// berth-scheduler's VolumeBinding binds it to the local PersistentVolume of the first node and puts the pod there,
// and the pod writes through it to the host.
func TestGenericEphemeralVolume(t *testing.T) {
	ns := namespace(t)
	nodes := testCluster.NodeNames()
	class := ns + "-local"
	createStorageClass(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: class}, Provisioner: "kubernetes.io/no-provisioner",
		VolumeBindingMode: new(storagev1.VolumeBindingWaitForFirstConsumer)})
	disk := t.TempDir()
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: ns + "-disk"}, Spec: corev1.PersistentVolumeSpec{
		StorageClassName: class, PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: disk}}}}
	onNode(nodes[0])(pv)
	createPersistentVolume(t, pv)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: scratch}
spec:
  schedulerName: berth-scheduler
  restartPolicy: Never
  volumes:
  - name: work
    ephemeral:
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          storageClassName: %s
          resources: {requests: {storage: 1Gi}}
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "echo ephemeral > /work/out"]
    volumeMounts: [{name: work, mountPath: /work}]
`, class, busybox), "apply", "-n", ns, "-f", "-")
	p := runToSuccess(t, ns, "scratch")
	if p.Spec.NodeName != nodes[0] {
		t.Errorf("pod of the local volume of node %s ran on %s", nodes[0], p.Spec.NodeName)
	}
	if got := hostFile(t, filepath.Join(disk, "out")); got != "ephemeral\n" {
		t.Errorf("ephemeral volume's file on the host: %q", got)
	}
	c, err := client.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), "scratch-work", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.VolumeName != pv.Name || !metav1.IsControlledBy(c, p) {
		t.Errorf("claim scratch-work: volume %q (want %s), owners %+v (want the pod)", c.Spec.VolumeName, pv.Name, c.OwnerReferences)
	}
}
