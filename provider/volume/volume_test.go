package volume

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func ptr[T any](v T) *T { return &v }

// withListers gives a volume manager's configuration informer caches that hold objs (ConfigMaps and Secrets).
func withListers(t *testing.T, cfg Config, objs ...any) Config {
	t.Helper()
	cms := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	secrets := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, o := range objs {
		idx := cms
		if _, ok := o.(*corev1.Secret); ok {
			idx = secrets
		}
		if err := idx.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	cfg.ConfigMaps, cfg.Secrets = corev1listers.NewConfigMapLister(cms), corev1listers.NewSecretLister(secrets)
	return cfg
}

func TestEmptyDirMemorySize(t *testing.T) {
	alloc := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi")}
	limited := func(limits ...string) *corev1.Pod {
		pod := &corev1.Pod{}
		for _, l := range limits {
			c := corev1.Container{}
			if l != "" {
				c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(l)}
			}
			pod.Spec.Containers = append(pod.Spec.Containers, c)
		}
		return pod
	}
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	tests := []struct {
		name string
		pod  *corev1.Pod
		size *resource.Quantity
		want int64
	}{
		{"sizeLimit", limited(""), q("64Mi"), 64 << 20},
		{"sizeLimit above the pod's limit", limited("16Mi", "16Mi"), q("64Mi"), 32 << 20},
		{"pod limit without sizeLimit", limited("16Mi", "16Mi"), nil, 32 << 20},
		{"a container without a limit: node allocatable", limited("16Mi", ""), nil, 8 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := emptyDirMemorySize(tt.pod, &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: tt.size}, alloc); got != tt.want {
				t.Errorf("size %d, want %d", got, tt.want)
			}
		})
	}
}

// TestVolumeLifecycle sets a pod's volumes up on disk, sees a ConfigMap change reach its files, and tears them down.
func TestVolumeLifecycle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts tmpfs: needs root")
	}
	root := t.TempDir()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "settings"}, Data: map[string]string{"mode": "fast"}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "creds"}, Data: map[string][]byte{"password": []byte("s3cret")}}
	m := New(withListers(t, Config{RootDir: root}, cm, sec))
	pod := volumeTestPod()
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr[int64](2000)}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr[int32](0o400)}}},
		{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: resource.NewQuantity(1<<20, resource.BinarySI)}}},
		{Name: "missing", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}}}},
	}
	var failed []string
	err := m.SetUp(context.Background(), pod, func(v *corev1.Volume, _ error) { failed = append(failed, v.Name) })
	if err == nil || !strings.Contains(err.Error(), `configmap "absent" not found`) {
		t.Fatalf("set-up error %v, want the missing configmap", err)
	}
	if !reflect.DeepEqual(failed, []string{"missing"}) {
		t.Errorf("failed volumes %q, want the missing one's", failed)
	}
	dir := func(plugin, name string) string { return filepath.Join(root, "pods", "u-1", "volumes", plugin, name) }
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(filepath.Join(dir(pluginConfigMap, "conf"), "mode")); got != "fast" {
		t.Errorf("configmap file %q", got)
	}
	if got := read(filepath.Join(dir(pluginSecret, "creds"), "password")); got != "s3cret" {
		t.Errorf("secret file %q", got)
	}
	fi, err := os.Stat(filepath.Join(dir(pluginSecret, "creds"), "password"))
	if err != nil || fi.Mode().Perm() != 0o440 {
		t.Errorf("secret file mode %v (defaultMode 0400 plus the fsGroup's read), %v", fi.Mode(), err)
	}
	for _, d := range []string{dir(pluginSecret, "creds"), dir(pluginEmptyDir, "mem")} {
		if m, err := isMountPoint(d); err != nil || !m {
			t.Errorf("%s is not a tmpfs mount: %v", d, err)
		}
	}
	big := make([]byte, 2<<20)
	if err := os.WriteFile(filepath.Join(dir(pluginEmptyDir, "mem"), "big"), big, 0o644); err == nil {
		t.Error("wrote 2 MiB into a 1 MiB Memory emptyDir")
	}

	cm.Data["mode"] = "slow"
	m.Refresh(context.Background(), pod)
	if got := read(filepath.Join(dir(pluginConfigMap, "conf"), "mode")); got != "slow" {
		t.Errorf("after the ConfigMap changed the file reads %q", got)
	}

	if err := m.TearDown("u-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "pods", "u-1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pod folder still there: %v", err)
	}
}

// TestApplyFSGroupChangePolicy checks fsGroupChangePolicy: Always (the default) gives every file of a volume to the
// fsGroup; OnRootMismatch leaves a volume whose root already has it as it is, as the kubelet does.
func TestApplyFSGroupChangePolicy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changes files' groups: needs root")
	}
	const gid = 2000
	tests := []struct {
		name    string
		policy  *corev1.PodFSGroupChangePolicy
		wantGID int
	}{
		{name: "unset is Always", wantGID: gid},
		{name: "Always", policy: ptr(corev1.FSGroupChangeAlways), wantGID: gid},
		{name: "OnRootMismatch with the root already the fsGroup's", policy: ptr(corev1.FSGroupChangeOnRootMismatch), wantGID: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "data")
			if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			// The root already has the group (and setgid), as after an earlier set-up; the file does not.
			if err := os.Chown(dir, -1, gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o777|os.ModeSetgid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(file, -1, 0); err != nil {
				t.Fatal(err)
			}
			pod := volumeTestPod()
			pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr[int64](gid), FSGroupChangePolicy: tc.policy}
			if err := applyFSGroup(dir, pod, false, nil); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			if got := int(fi.Sys().(*syscall.Stat_t).Gid); got != tc.wantGID {
				t.Errorf("file's group %d, want %d", got, tc.wantGID)
			}
		})
	}
}
