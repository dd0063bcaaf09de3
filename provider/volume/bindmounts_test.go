package volume

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

func TestSubPath(t *testing.T) {
	vol := t.TempDir()
	if err := os.Symlink("/etc", filepath.Join(vol, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(vol, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("in", filepath.Join(vol, "alias")); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(vol)
	tests := []struct {
		sub, want, wantErr string
	}{
		{sub: "in", want: filepath.Join(real, "in")},
		{sub: "alias", want: filepath.Join(real, "in")},
		{sub: "made/here", want: filepath.Join(real, "made", "here")},
		{sub: "../x", wantErr: "must not contain '..'"},
		{sub: "a/../../x", wantErr: "must not contain '..'"},
		{sub: "/etc", wantErr: "must be a relative path"},
		{sub: "out", wantErr: "resolves outside the volume"},
	}
	for _, tt := range tests {
		t.Run(tt.sub, func(t *testing.T) {
			got, err := subPath(vol, tt.sub, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestContainerMounts(t *testing.T) {
	root := t.TempDir()
	m := New(Config{RootDir: root})
	pod := volumeTestPod()
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
		{Name: "logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log/./app"}}},
	}
	c := &corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{
		{Name: "scratch", MountPath: "/scratch"},
		{Name: "scratch", MountPath: "/per-pod", SubPathExpr: "$(POD_NAME)/data"},
		{Name: "conf", MountPath: "/etc/app"},
		{Name: "logs", MountPath: "/logs", ReadOnly: true},
		{Name: "logs", MountPath: "/follow", MountPropagation: ptr(corev1.MountPropagationHostToContainer)},
		{Name: "logs", MountPath: "/shared", MountPropagation: ptr(corev1.MountPropagationBidirectional)},
		{Name: "logs", MountPath: "/private", MountPropagation: ptr(corev1.MountPropagationNone)},
	}}
	scratch := filepath.Join(root, "pods", "u-1", "volumes", pluginEmptyDir, "scratch")
	if err := os.MkdirAll(scratch, 0o777); err != nil {
		t.Fatal(err)
	}
	got, err := m.ContainerMounts(pod, c, []corev1.EnvVar{{Name: "POD_NAME", Value: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	realScratch, _ := filepath.EvalSymlinks(scratch)
	want := []podman.BindMount{
		{Source: scratch, Dest: "/scratch"},
		{Source: filepath.Join(realScratch, "web", "data"), Dest: "/per-pod"},
		{Source: filepath.Join(root, "pods", "u-1", "volumes", pluginConfigMap, "conf"), Dest: "/etc/app", ReadOnly: true},
		{Source: "/var/log/app", Dest: "/logs", ReadOnly: true},
		{Source: "/var/log/app", Dest: "/follow", Propagation: "rslave"},
		{Source: "/var/log/app", Dest: "/shared", Propagation: "rshared"},
		{Source: "/var/log/app", Dest: "/private"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mounts\n got %+v\nwant %+v", got, want)
	}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPathExpr: "$(WHERE)"}}
	if _, err := m.ContainerMounts(pod, c, []corev1.EnvVar{{Name: "WHERE", Value: "../../etc"}}); err == nil || !strings.Contains(err.Error(), "failed to prepare subPath") {
		t.Errorf("subPathExpr climbing out: %v", err)
	}
}
