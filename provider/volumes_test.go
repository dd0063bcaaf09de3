package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func ptr[T any](v T) *T { return &v }

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
		}},
		{name: "hostPath outside the allowed paths", vols: []corev1.Volume{
			vol("etc", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}),
			vol("climb", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/data/../../etc"}}),
			vol("prefix", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/database"}}),
			vol("relative", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "srv/data"}}),
		}, want: []string{`spec.volumes[etc]: hostPath "/etc" is not under a path this node allows (allowed: /srv/data, /var/log)`,
			"spec.volumes[climb]", "spec.volumes[prefix]", "spec.volumes[relative]"}},
		{name: "unsupported kinds", vols: []corev1.Volume{
			vol("pvc", corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}),
			vol("huge", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumHugePages}}),
			vol("nfs", corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}}),
			vol("ctb", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Path: "b"}}}}}),
		}, want: []string{"spec.volumes[pvc]: persistentVolumeClaim volumes are not supported", `spec.volumes[huge]: emptyDir medium "HugePages"`,
			"spec.volumes[nfs]: this volume type is not supported", "spec.volumes[ctb]: projected clusterTrustBundle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := volumeProblems(&corev1.Pod{Spec: corev1.PodSpec{Volumes: tt.vols}}, allowed)
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
	if got := volumeProblems(&corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{vol("x", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}})}}}, nil); len(got) != 1 || !strings.Contains(got[0], "--allowed-host-paths is empty") {
		t.Errorf("with nothing allowed: %q", got)
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
	if hostPathAllowed(filepath.Join(allowed, "escape", "passwd"), []string{allowed}) {
		t.Error("a symbolic link out of the allowed folder was allowed")
	}
	if !hostPathAllowed(filepath.Join(allowed, "new", "dir"), []string{allowed}) {
		t.Error("a folder yet to be created below the allowed one was refused")
	}
}
