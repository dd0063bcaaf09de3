package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

// claimObjects are a claim bound to a PersistentVolume, each pointing at the other, as the PV controller leaves
// them; edit changes them before use.
func claimObjects(claim, pvName string, src corev1.PersistentVolumeSource, edit func(*corev1.PersistentVolumeClaim, *corev1.PersistentVolume)) []runtime.Object {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: claim, UID: types.UID("uid-" + claim)},
		Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: pvName},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound},
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: src,
			ClaimRef: &corev1.ObjectReference{Namespace: "shop", Name: claim, UID: pvc.UID}},
	}
	if edit != nil {
		edit(pvc, pv)
	}
	return []runtime.Object{pvc, pv}
}

// onNode is a nodeAffinity that selects the node of that hostname.
func onNode(name string) *corev1.VolumeNodeAffinity {
	return &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{name}}},
	}}}}
}

// TestSetUpClaims sets up pods' persistentVolumeClaim and generic ephemeral volumes against claims and volumes of a
// fake API server, as the kubelet's volume manager takes them: bound hostPath and local volumes are mounted (their
// path recorded for the containers), what the kubelet waits out fails the set-up without refusing the pod, and a
// volume the node cannot or may not mount is refused.
func TestSetUpClaims(t *testing.T) {
	host := t.TempDir()
	allowed := filepath.Join(host, "allowed")
	disk := filepath.Join(host, "disk")
	for _, d := range []string{allowed, disk} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hostPath := func(path string, typ *corev1.HostPathType) corev1.PersistentVolumeSource {
		return corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: typ}}
	}
	local := corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: disk}}
	localOn := func(node string) func(*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
		return func(_ *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) {
			pv.Spec.NodeAffinity = onNode(node)
		}
	}
	claim := func(name string, readOnly bool) corev1.Volume {
		return corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name, ReadOnly: readOnly}}}
	}
	eph := corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}
	ownedBy := func(uid types.UID) func(*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
		return func(pvc *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
			pvc.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "web", UID: uid, Controller: ptr(true)}}
		}
	}
	tests := []struct {
		name    string
		vol     corev1.Volume
		objs    []runtime.Object
		want    string // the host path mounted, when the set-up succeeds
		wantErr string // the error of a set-up the kubelet waits out
		refusal string // the problem of a refused volume
	}{
		{name: "hostPath volume under an allowed folder", vol: claim("data", false),
			objs: claimObjects("data", "pv-a", hostPath(filepath.Join(allowed, "a"), ptr(corev1.HostPathDirectoryOrCreate)), nil),
			want: filepath.Join(allowed, "a")},
		{name: "hostPath volume of unset type, which is not checked", vol: claim("data", false),
			objs: claimObjects("data", "pv-a", hostPath(allowed+"/./", nil), nil), want: allowed},
		{name: "local volume on this node", vol: claim("data", false),
			objs: claimObjects("data", "pv-l", local, localOn("node-a")), want: disk},
		{name: "ephemeral volume's claim, owned by the pod", vol: eph,
			objs: claimObjects("web-scratch", "pv-e", local, func(pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) {
				ownedBy("u-1")(pvc, pv)
				localOn("node-a")(pvc, pv)
			}), want: disk},

		{name: "missing claim", vol: claim("data", false),
			wantErr: `error processing PVC shop/data: failed to fetch PVC from API server: persistentvolumeclaims "data" not found`},
		{name: "claim not bound yet", vol: claim("data", false),
			objs: claimObjects("data", "", local, func(pvc *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
				pvc.Status.Phase = corev1.ClaimPending
			}), wantErr: "error processing PVC shop/data: PVC is not bound"},
		{name: "claim being deleted without its protection", vol: claim("data", false),
			objs: claimObjects("data", "pv-l", local, func(pvc *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
				pvc.DeletionTimestamp = &metav1.Time{}
			}), wantErr: "PVC is being deleted"},
		{name: "volume missing", vol: claim("data", false),
			objs:    claimObjects("data", "pv-l", local, nil)[:1],
			wantErr: `failed to fetch PV pv-l from API server: persistentvolumes "pv-l" not found`},
		{name: "volume bound to another claim", vol: claim("data", false),
			objs: claimObjects("data", "pv-l", local, func(_ *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) {
				pv.Spec.ClaimRef.UID = "other"
			}), wantErr: "does not point to claim.UID uid-data"},
		{name: "ephemeral volume's claim of someone else", vol: eph,
			objs: claimObjects("web-scratch", "pv-e", local, ownedBy("u-2")), wantErr: "was not created for pod shop/web (pod is not owner)"},
		{name: "local volume of another node", vol: claim("data", false),
			objs: claimObjects("data", "pv-l", local, localOn("node-b")), wantErr: "MountVolume.NodeAffinity check failed: no matching NodeSelectorTerms"},
		{name: "local volume whose folder is missing", vol: claim("data", false),
			objs:    claimObjects("data", "pv-l", corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: filepath.Join(host, "gone")}}, localOn("node-a")),
			wantErr: "does not exist"},
		{name: "hostPath volume failing its type check", vol: claim("data", false),
			objs:    claimObjects("data", "pv-a", hostPath(filepath.Join(allowed, "none"), ptr(corev1.HostPathDirectory)), nil),
			wantErr: "hostPath type check failed"},

		{name: "nfs volume", vol: claim("data", false),
			objs:    claimObjects("data", "pv-n", corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}}, nil),
			refusal: "spec.volumes[data]: claim data is bound to PersistentVolume pv-n of type nfs; Berth mounts hostPath and local PersistentVolumes only"},
		{name: "hostPath volume outside the allowed folders", vol: claim("data", false),
			objs:    claimObjects("data", "pv-a", hostPath("/etc", nil), nil),
			refusal: `spec.volumes[data]: claim data is bound to PersistentVolume pv-a of type hostPath, whose path "/etc" is not under a path this node allows`},
		{name: "block volume", vol: claim("data", false),
			objs: claimObjects("data", "pv-l", local, func(_ *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) {
				pv.Spec.VolumeMode = ptr(corev1.PersistentVolumeBlock)
			}), refusal: "of volumeMode Block; Berth mounts Filesystem volumes only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{corev1.LabelHostname: "node-a"}}}
			m := New(Config{RootDir: root, Claims: fake.NewClientset(append(tc.objs, node)...).CoreV1(), NodeName: "node-a",
				Policy: podspec.Policy{AllowedHostPaths: []string{allowed}}})
			pod := volumeTestPod()
			pod.Spec.Volumes = []corev1.Volume{tc.vol}
			pod.Spec.Containers = []corev1.Container{{Name: "main", VolumeMounts: []corev1.VolumeMount{{Name: tc.vol.Name, MountPath: "/data"}}}}
			var failed []string
			err := m.SetUp(context.Background(), pod, func(v *corev1.Volume, _ error) { failed = append(failed, v.Name) })
			refusals := Refusals(err)
			switch {
			case tc.refusal != "":
				if len(refusals) != 1 || !strings.Contains(refusals[0], tc.refusal) {
					t.Fatalf("set-up error %v (refusals %q), want the refusal %q", err, refusals, tc.refusal)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || len(refusals) > 0 {
					t.Fatalf("set-up error %v (refusals %q), want %q, not refused", err, refusals, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("set up: %v", err)
				}
				mounts, err := m.ContainerMounts(pod, &pod.Spec.Containers[0], nil)
				if err != nil {
					t.Fatal(err)
				}
				if want := []podman.BindMount{{Source: tc.want, Dest: "/data"}}; !reflect.DeepEqual(mounts, want) {
					t.Errorf("mounts %+v, want %+v", mounts, want)
				}
				return
			}
			if !reflect.DeepEqual(failed, []string{tc.vol.Name}) {
				t.Errorf("failed volumes %q, want %q", failed, tc.vol.Name)
			}
			if _, err := m.ContainerMounts(pod, &pod.Spec.Containers[0], nil); err == nil || !strings.Contains(err.Error(), "is not set up") {
				t.Errorf("mounts of a volume not set up: %v", err)
			}
		})
	}
}

// TestClaimMounts checks a claim's volume in containers: read-only everywhere when the claim says so, read-only
// where the mount says so, subPath inside the PersistentVolume's folder; and the tear-down removes the pod's folder
// but nothing of the volume's.
func TestClaimMounts(t *testing.T) {
	root, pvDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(pvDir, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	objs := append(claimObjects("ro", "pv-ro", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}}, nil),
		claimObjects("rw", "pv-rw", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}}, nil)...)
	m := New(Config{RootDir: root, Claims: fake.NewClientset(objs...).CoreV1(), Policy: podspec.Policy{AllowedHostPaths: []string{pvDir}}})
	pod := volumeTestPod()
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "ro", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "ro", ReadOnly: true}}},
		{Name: "rw", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "rw"}}},
	}
	c := &corev1.Container{Name: "main", VolumeMounts: []corev1.VolumeMount{
		{Name: "ro", MountPath: "/ro"},
		{Name: "rw", MountPath: "/rw"},
		{Name: "rw", MountPath: "/rw-by-mount", ReadOnly: true},
		{Name: "rw", MountPath: "/sub", SubPath: "sub"},
	}}
	if err := m.SetUp(context.Background(), pod, func(v *corev1.Volume, err error) { t.Errorf("volume %s: %v", v.Name, err) }); err != nil {
		t.Fatal(err)
	}
	got, err := m.ContainerMounts(pod, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(pvDir)
	want := []podman.BindMount{
		{Source: pvDir, Dest: "/ro", ReadOnly: true},
		{Source: pvDir, Dest: "/rw"},
		{Source: pvDir, Dest: "/rw-by-mount", ReadOnly: true},
		{Source: filepath.Join(real, "sub"), Dest: "/sub"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mounts\n%+v\nwant\n%+v", got, want)
	}
	if fi, err := os.Stat(filepath.Join(pvDir, "sub")); err != nil || !fi.IsDir() {
		t.Errorf("subPath folder not made in the volume: %v", err)
	}
	if err := m.TearDown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.PodDir(pod.UID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pod folder still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pvDir, "keep")); err != nil {
		t.Errorf("the tear-down touched the PersistentVolume's files: %v", err)
	}
}

// TestClaimTearDownLeavesMountedVolume checks that tearing a pod down never unmounts what its claim's local
// volume is: a disk mounted on the volume's path (here a tmpfs) stays mounted, with its files.
func TestClaimTearDownLeavesMountedVolume(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts tmpfs: needs root")
	}
	root, disk := t.TempDir(), t.TempDir()
	if err := ensureTmpfs(disk, 1<<20, "0755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unmountIfMounted(disk) })
	if err := os.WriteFile(filepath.Join(disk, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{corev1.LabelHostname: "node-a"}}}
	objs := claimObjects("data", "pv-l", corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: disk}},
		func(_ *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) {
			pv.Spec.NodeAffinity = onNode("node-a")
		})
	m := New(Config{RootDir: root, Claims: fake.NewClientset(append(objs, node)...).CoreV1(), NodeName: "node-a"})
	pod := volumeTestPod()
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr[int64](2000)}
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	if err := m.SetUp(context.Background(), pod, func(*corev1.Volume, error) {}); err != nil {
		t.Fatal(err)
	}
	// A local volume is given to the fsGroup, as the kubelet's local plugin does on its first mount.
	if fi, err := os.Stat(filepath.Join(disk, "keep")); err != nil || fi.Sys().(*syscall.Stat_t).Gid != 2000 {
		t.Errorf("local volume's file not given to the fsGroup: %v %v", fi, err)
	}
	if err := CleanRootDir(root); err != nil {
		t.Fatal(err)
	}
	if mounted, err := isMountPoint(disk); err != nil || !mounted {
		t.Errorf("the local volume's disk was unmounted: %v %v", mounted, err)
	}
	if _, err := os.Stat(filepath.Join(disk, "keep")); err != nil {
		t.Errorf("the local volume's file is gone: %v", err)
	}
}

// TestClaimGetsWaitForTheNodeAuthorizer checks that a get the API server forbids at first (the Node authorizer
// has not seen the pod yet) is tried again rather than failing the set-up, and that one forbidden for longer fails.
func TestClaimGetsWaitForTheNodeAuthorizer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		forbidden int
		wantErr   string
	}{
		{name: "forbidden twice, then allowed", forbidden: 2},
		{name: "forbidden for good", forbidden: 1 << 30, wantErr: `persistentvolumeclaims "data" is forbidden: no relationship found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pvDir := t.TempDir()
			client := fake.NewClientset(claimObjects("data", "pv-a", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}}, nil)...)
			calls := 0
			client.PrependReactor("get", "persistentvolumeclaims", func(clienttesting.Action) (bool, runtime.Object, error) {
				calls++
				if calls <= tc.forbidden {
					return true, nil, apierrors.NewForbidden(corev1.Resource("persistentvolumeclaims"), "data", errors.New("no relationship found"))
				}
				return false, nil, nil
			})
			m := New(Config{RootDir: t.TempDir(), Claims: client.CoreV1(), Policy: podspec.Policy{AllowedHostPaths: []string{pvDir}}})
			pod := volumeTestPod()
			pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
			err := m.SetUp(context.Background(), pod, func(*corev1.Volume, error) {})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("set-up error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestRefusals checks that Refusals finds the refused volumes among a set-up's errors, wrapped and joined.
func TestRefusals(t *testing.T) {
	err := errors.Join(
		fmt.Errorf("volume %q: %w", "a", &RefusedError{Problem: "spec.volumes[a]: no"}),
		errors.New("volume b: not yet"),
		fmt.Errorf("volume %q: %w", "c", &RefusedError{Problem: "spec.volumes[c]: no"}))
	if got, want := Refusals(err), []string{"spec.volumes[a]: no", "spec.volumes[c]: no"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Refusals = %q, want %q", got, want)
	}
	if got := Refusals(errors.New("x")); got != nil {
		t.Errorf("Refusals of another error = %q", got)
	}
}
