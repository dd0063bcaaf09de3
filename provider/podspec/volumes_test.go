package podspec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/persistentvolume"
)

func TestVolumeProblems(t *testing.T) {
	allowed := []string{"/srv/data", "/var/log"}
	vol := func(name string, src corev1.VolumeSource) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: src}
	}
	tests := []struct {
		name string
		vols []corev1.Volume
		want []string // substrings, one per problem
	}{
		{name: "supported kinds", vols: []corev1.Volume{
			vol("a", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}),
			vol("b", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}),
			vol("c", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}),
			vol("d", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}),
			vol("e", corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{}}),
			vol("f", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}),
			vol("g", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/data/x"}}),
			vol("h", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}),
			// Claims are decided at mount time, from their PersistentVolume (PersistentVolumeProblem).
			vol("pvc", corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}),
			vol("eph", corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{}}}),
		}},
		{name: "hostPath outside the allowed paths", vols: []corev1.Volume{
			vol("etc", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}),
			vol("climb", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/data/../../etc"}}),
			vol("prefix", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/database"}}),
			vol("relative", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "srv/data"}}),
		}, want: []string{`spec.volumes[etc]: hostPath "/etc" is not under a path this node allows (allowed: /srv/data, /var/log)`,
			"spec.volumes[climb]", "spec.volumes[prefix]", "spec.volumes[relative]"}},
		{name: "unsupported kinds", vols: []corev1.Volume{
			vol("huge", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumHugePages}}),
			vol("nfs", corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}}),
			vol("ctb", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Path: "b"}}}}}),
		}, want: []string{`spec.volumes[huge]: emptyDir medium "HugePages"`,
			"spec.volumes[nfs]: this volume type is not supported", "spec.volumes[ctb]: projected clusterTrustBundle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := volumeProblems(&corev1.Pod{Spec: corev1.PodSpec{Volumes: tt.vols}}, allowed, noLinks)
			if len(got) != len(tt.want) {
				t.Fatalf("problems %q, want %d", got, len(tt.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("problem %q, want it to contain %q", got[i], tt.want[i])
				}
			}
		})
	}
	if got := volumeProblems(&corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{vol("x", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}})}}}, nil, noLinks); len(got) != 1 || !strings.Contains(got[0], "--allowed-host-paths is empty") {
		t.Errorf("with nothing allowed: %q", got)
	}
}

func TestPersistentVolumeProblem(t *testing.T) {
	policy := Policy{AllowedHostPaths: []string{"/srv/data"}, ResolvePath: noLinks}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0"}}
	claim := &corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-0"}}}
	eph := &corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}
	block, fs := corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem
	pv := func(src corev1.PersistentVolumeSource, mode *corev1.PersistentVolumeMode) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"}, Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: src, VolumeMode: mode}}
	}
	tests := []struct {
		name string
		v    *corev1.Volume
		pv   *corev1.PersistentVolume
		want string
	}{
		{name: "hostPath under an allowed folder", v: claim, pv: pv(corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/data/pv-1"}}, &fs)},
		{name: "local, wherever it is", v: claim, pv: pv(corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disks/a"}}, nil)},
		{name: "local of an ephemeral volume", v: eph, pv: pv(corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disks/a"}}, &fs)},
		{name: "hostPath outside the allowed folders", v: claim, pv: pv(corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/data/../../etc"}}, nil),
			want: `spec.volumes[data]: claim data-web-0 is bound to PersistentVolume pv-1 of type hostPath, whose path "/srv/data/../../etc" is not under a path this node allows (allowed: /srv/data)`},
		{name: "nfs", v: claim, pv: pv(corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}}, nil),
			want: "spec.volumes[data]: claim data-web-0 is bound to PersistentVolume pv-1 of type nfs; Berth mounts hostPath and local PersistentVolumes only"},
		{name: "csi names its driver, ephemeral its claim", v: eph, pv: pv(corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "ebs.csi.aws.com"}}, nil),
			want: "spec.volumes[scratch]: ephemeral claim web-0-scratch is bound to PersistentVolume pv-1 of type csi (driver ebs.csi.aws.com); Berth mounts hostPath and local PersistentVolumes only"},
		{name: "local block device", v: claim, pv: pv(corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/dev/sdb"}}, &block),
			want: "spec.volumes[data]: claim data-web-0 is bound to PersistentVolume pv-1 of volumeMode Block; Berth mounts Filesystem volumes only"},
		{name: "local with mount options", v: claim, pv: func() *corev1.PersistentVolume {
			p := pv(corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disks/a"}}, nil)
			p.Spec.MountOptions = []string{"noatime"}
			return p
		}(), want: "spec.volumes[data]: claim data-web-0 is bound to PersistentVolume pv-1 with mount options; Berth does not mount with them"},
		{name: "hostPath with mount options in the annotation", v: claim, pv: func() *corev1.PersistentVolume {
			p := pv(corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/data/pv-1"}}, nil)
			p.Annotations = map[string]string{corev1.MountOptionAnnotation: "ro"}
			return p
		}(), want: "spec.volumes[data]: claim data-web-0 is bound to PersistentVolume pv-1 with mount options; Berth does not mount with them"},
		{name: "supplemental group annotation", v: claim, pv: func() *corev1.PersistentVolume {
			p := pv(corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/data/pv-1"}}, nil)
			p.Annotations = map[string]string{persistentvolume.GIDAnnotation: "1234"}
			return p
		}(), want: "spec.volumes[data]: claim data-web-0 is bound to PersistentVolume pv-1 with annotation pv.beta.kubernetes.io/gid; Berth does not add its group to the containers' supplemental groups"},
		{name: "no source", v: claim, pv: pv(corev1.PersistentVolumeSource{}, nil),
			want: "spec.volumes[data]: claim data-web-0 is bound to PersistentVolume pv-1 of type none; Berth mounts hostPath and local PersistentVolumes only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PersistentVolumeProblem(pod, tt.v, tt.pv, policy); got != tt.want {
				t.Errorf("PersistentVolumeProblem =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestHostPathAllowedThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	allowed := filepath.Join(dir, "allowed")
	if err := os.Mkdir(allowed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(allowed, "escape")); err != nil {
		t.Fatal(err)
	}
	if hostPathAllowed(filepath.Join(allowed, "escape", "passwd"), []string{allowed}, resolveExisting) {
		t.Error("a symbolic link out of the allowed folder was allowed")
	}
	if !hostPathAllowed(filepath.Join(allowed, "new", "dir"), []string{allowed}, resolveExisting) {
		t.Error("a folder yet to be created below the allowed one was refused")
	}
}

// noLinks stands for a node's filesystem without symbolic links, so that admission's tests read none.
func noLinks(path string) string { return path }
