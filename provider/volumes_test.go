package provider

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	volumeutil "k8s.io/kubernetes/pkg/volume/util"

	"github.com/berth-dev/berth/provider/podman"
)

func ptr[T any](v T) *T { return &v }

func TestKeyPayloads(t *testing.T) {
	cm := &corev1.ConfigMap{Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"bin": {0, 1}}}
	sec := &corev1.Secret{Data: map[string][]byte{"user": []byte("admin")}}
	tests := []struct {
		name    string
		got     func() (map[string]volumeutil.FileProjection, error)
		want    map[string]volumeutil.FileProjection
		wantErr string
	}{
		{name: "every key with the default mode", got: func() (map[string]volumeutil.FileProjection, error) {
			return configMapPayload(nil, cm, 0o644, false)
		}, want: map[string]volumeutil.FileProjection{"a": {Data: []byte("1"), Mode: 0o644}, "b": {Data: []byte("2"), Mode: 0o644}, "bin": {Data: []byte{0, 1}, Mode: 0o644}}},
		{name: "items with paths and modes", got: func() (map[string]volumeutil.FileProjection, error) {
			return configMapPayload([]corev1.KeyToPath{{Key: "a", Path: "conf/a.txt", Mode: ptr[int32](0o600)}, {Key: "bin", Path: "b.bin"}}, cm, 0o444, false)
		}, want: map[string]volumeutil.FileProjection{"conf/a.txt": {Data: []byte("1"), Mode: 0o600}, "b.bin": {Data: []byte{0, 1}, Mode: 0o444}}},
		{name: "missing key", got: func() (map[string]volumeutil.FileProjection, error) {
			return configMapPayload([]corev1.KeyToPath{{Key: "zzz", Path: "z"}}, cm, 0o644, false)
		}, wantErr: "configmap references non-existent config key: zzz"},
		{name: "missing key of an optional volume is skipped", got: func() (map[string]volumeutil.FileProjection, error) {
			return configMapPayload([]corev1.KeyToPath{{Key: "zzz", Path: "z"}, {Key: "a", Path: "a"}}, cm, 0o644, true)
		}, want: map[string]volumeutil.FileProjection{"a": {Data: []byte("1"), Mode: 0o644}}},
		{name: "absent optional configMap", got: func() (map[string]volumeutil.FileProjection, error) {
			return configMapPayload(nil, nil, 0o644, true)
		}, want: map[string]volumeutil.FileProjection{}},
		{name: "secret", got: func() (map[string]volumeutil.FileProjection, error) {
			return secretPayload(nil, sec, 0o400, false)
		}, want: map[string]volumeutil.FileProjection{"user": {Data: []byte("admin"), Mode: 0o400}}},
		{name: "secret missing key", got: func() (map[string]volumeutil.FileProjection, error) {
			return secretPayload([]corev1.KeyToPath{{Key: "pass", Path: "p"}}, sec, 0o400, false)
		}, wantErr: "references non-existent secret key: pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("payload %v, want %v", got, tt.want)
			}
		})
	}
}

func volumeTestPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u-1", Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"note": "hi"}},
		Spec: corev1.PodSpec{ServiceAccountName: "builder", Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
		}}}},
	}
}

func TestDownwardAPIPayload(t *testing.T) {
	p := New(Config{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}})
	items := []corev1.DownwardAPIVolumeFile{
		{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}, Mode: ptr[int32](0o600)},
		{Path: "note", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['note']"}},
		{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
		{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu"}},
	}
	got, err := p.downwardAPIPayload(volumeTestPod(), items, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"labels": "app=\"web\"\ntier=\"front\"", "name": "web", "note": "hi", "mem": "64", "cpu": "2"}
	for k, v := range want {
		if string(got[k].Data) != v {
			t.Errorf("%s = %q, want %q", k, got[k].Data, v)
		}
	}
	if got["name"].Mode != 0o600 || got["labels"].Mode != 0o644 {
		t.Errorf("modes %o %o", got["name"].Mode, got["labels"].Mode)
	}
	if _, err := p.downwardAPIPayload(volumeTestPod(), []corev1.DownwardAPIVolumeFile{{Path: "x", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.bogus"}}}, 0o644); err == nil {
		t.Error("an unknown field path gave no error")
	}
}

func TestProjectedServiceAccountVolume(t *testing.T) {
	var asked []*authenticationv1.TokenRequest
	var askedFor []string
	p := New(Config{Tokens: func(ns, sa string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
		asked, askedFor = append(asked, tr), append(askedFor, ns+"/"+sa)
		return &authenticationv1.TokenRequest{Status: authenticationv1.TokenRequestStatus{Token: "jwt-" + string(tr.Spec.BoundObjectRef.UID)}}, nil
	}})
	p.SetListers(testListers(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "kube-root-ca.crt"}, Data: map[string]string{"ca.crt": "PEM"}}))
	// The volume the ServiceAccount admission plugin adds to every pod.
	pv := &corev1.ProjectedVolumeSource{DefaultMode: ptr[int32](0o644), Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr[int64](3607), Path: "token"}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
	}}
	got, err := p.projectedPayload(context.Background(), volumeTestPod(), pv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]volumeutil.FileProjection{"token": {Data: []byte("jwt-u-1"), Mode: 0o644}, "ca.crt": {Data: []byte("PEM"), Mode: 0o644}, "namespace": {Data: []byte("shop"), Mode: 0o644}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payload %v, want %v", got, want)
	}
	if len(asked) != 1 || askedFor[0] != "shop/builder" {
		t.Fatalf("token requests %v for %v", asked, askedFor)
	}
	spec := asked[0].Spec
	if *spec.ExpirationSeconds != 3607 || spec.Audiences != nil || spec.BoundObjectRef.Kind != "Pod" || spec.BoundObjectRef.Name != "web" {
		t.Errorf("token request %+v", spec)
	}

	pv.Sources[0].ServiceAccountToken.Audience = "vault"
	if _, err := p.projectedPayload(context.Background(), volumeTestPod(), pv); err != nil || !reflect.DeepEqual(asked[1].Spec.Audiences, []string{"vault"}) {
		t.Errorf("audience: %v, %v", err, asked[1].Spec.Audiences)
	}

	missing := &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}}
	if _, err := p.projectedPayload(context.Background(), volumeTestPod(), missing); err == nil || err.Error() != `secret "nope" not found` {
		t.Errorf("missing secret: %v", err)
	}
	noTokens := New(Config{})
	if _, err := noTokens.projectedPayload(context.Background(), volumeTestPod(), pv); err == nil {
		t.Error("a node without a token getter projected a token")
	}
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

func TestCheckHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	typ := func(t corev1.HostPathType) *corev1.HostPathType { return &t }
	tests := []struct {
		name    string
		path    string
		typ     *corev1.HostPathType
		wantErr string
		isDir   bool
		isFile  bool
	}{
		{name: "unset type accepts anything", path: filepath.Join(dir, "missing")},
		{name: "DirectoryOrCreate creates", path: filepath.Join(dir, "new", "sub"), typ: typ(corev1.HostPathDirectoryOrCreate), isDir: true},
		{name: "DirectoryOrCreate on a file", path: file, typ: typ(corev1.HostPathDirectoryOrCreate), wantErr: "is not a directory"},
		{name: "FileOrCreate creates", path: filepath.Join(dir, "made", "file"), typ: typ(corev1.HostPathFileOrCreate), isFile: true},
		{name: "Directory missing", path: filepath.Join(dir, "nope"), typ: typ(corev1.HostPathDirectory), wantErr: "is not a directory"},
		{name: "Directory", path: dir, typ: typ(corev1.HostPathDirectory), isDir: true},
		{name: "File on a folder", path: dir, typ: typ(corev1.HostPathFile), wantErr: "is not a file"},
		{name: "File", path: file, typ: typ(corev1.HostPathFile), isFile: true},
		{name: "Socket", path: file, typ: typ(corev1.HostPathSocket), wantErr: "is not a socket file"},
		{name: "CharDevice", path: "/dev/null", typ: typ(corev1.HostPathCharDev)},
		{name: "BlockDevice", path: "/dev/null", typ: typ(corev1.HostPathBlockDev), wantErr: "is not a block device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkHostPath(tt.path, tt.typ)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, statErr := os.Stat(tt.path)
			if (tt.isDir && (statErr != nil || !fi.IsDir())) || (tt.isFile && (statErr != nil || !fi.Mode().IsRegular())) {
				t.Errorf("%s: stat %v, %v", tt.path, fi, statErr)
			}
		})
	}
}

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
			got, err := subPath(vol, tt.sub)
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
	p := New(Config{RootDir: root})
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
	got, err := p.containerMounts(pod, c, []corev1.EnvVar{{Name: "POD_NAME", Value: "web"}})
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
	if _, err := p.containerMounts(pod, c, []corev1.EnvVar{{Name: "WHERE", Value: "../../etc"}}); err == nil || !strings.Contains(err.Error(), "failed to prepare subPath") {
		t.Errorf("subPathExpr climbing out: %v", err)
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
	p := New(Config{RootDir: root})
	p.SetListers(testListers(t, cm, sec))
	pod := volumeTestPod()
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr[int64](2000)}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr[int32](0o400)}}},
		{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: resource.NewQuantity(1<<20, resource.BinarySI)}}},
		{Name: "missing", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}}}},
	}
	r := newPodRecord(pod, "x")
	err := p.setUpVolumes(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), `configmap "absent" not found`) {
		t.Fatalf("set-up error %v, want the missing configmap", err)
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
	p.refreshVolumes(context.Background(), r)
	if got := read(filepath.Join(dir(pluginConfigMap, "conf"), "mode")); got != "slow" {
		t.Errorf("after the ConfigMap changed the file reads %q", got)
	}

	if err := p.tearDownVolumes("u-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "pods", "u-1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pod folder still there: %v", err)
	}
}

// TestRefreshAfterDeletion checks that a refresh of a pod's volumes that comes after the pod's deletion tore them
// down (the periodic resync listed the pod before it was deleted) does not write the pod's folder again.
func TestRefreshAfterDeletion(t *testing.T) {
	root := t.TempDir()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "settings"}, Data: map[string]string{"mode": "fast"}}
	p := New(Config{RootDir: root})
	p.SetListers(testListers(t, cm))
	pod := volumeTestPod()
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
	}
	r := newPodRecord(pod, "x")
	if err := p.setUpVolumes(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	// As DeletePod, then kill, do.
	p.mu.Lock()
	r.deleting = true
	p.mu.Unlock()
	if err := p.tearDownVolumes(pod.UID); err != nil {
		t.Fatal(err)
	}
	p.refreshVolumes(context.Background(), r)
	if _, err := os.Stat(filepath.Join(root, "pods", string(pod.UID))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refresh after the deletion wrote the pod folder again: %v", err)
	}
}
