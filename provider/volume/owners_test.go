package volume

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/provider/userns"
)

// owners walks dir and returns each path's (relative) owner, links themselves included.
func owners(t *testing.T, dir string) map[string][2]int64 {
	t.Helper()
	out := map[string][2]int64{}
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(dir, path)
		out[rel] = [2]int64{int64(st.Uid), int64(st.Gid)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUserNamespaceOwners checks the owners of the volume folders Berth makes for a pod with a user namespace of
// its own (runc 1.1 has no idmapped mounts, so they are chown'd): every file, folder and link of an emptyDir, a
// secret (on its tmpfs, also after a refresh) and a subPath is the pod's root (the range's first ID), its group the
// fsGroup's ID in the range when the pod has one; a pod in the host's user namespace keeps the host's root and its
// fsGroup as it is. Needs root, as berth-kubelet does, to chown and mount.
func TestUserNamespaceOwners(t *testing.T) {
	const base = 3 * userns.Length
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "creds"}, Data: map[string][]byte{"password": []byte("s3cret")}}
	for _, tc := range []struct {
		name     string
		own      bool
		fsGroup  *int64
		wantUID  int64
		wantGID  int64 // of the secret's files, which the fsGroup has
		emptyGID int64 // of the emptyDir's root
	}{
		{name: "a user namespace", own: true, wantUID: base, wantGID: base, emptyGID: base},
		{name: "a user namespace and an fsGroup", own: true, fsGroup: ptr[int64](2000), wantUID: base, wantGID: base + 2000, emptyGID: base + 2000},
		{name: "the host's user namespace", fsGroup: ptr[int64](2000), wantUID: 0, wantGID: 2000, emptyGID: 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			cfg := withListers(t, Config{RootDir: root}, sec)
			cfg.UserNamespace = func(uid types.UID) (userns.Range, bool) {
				return userns.Range{FirstID: base}, tc.own && uid == "u-1"
			}
			m := New(cfg)
			pod := volumeTestPod()
			pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: tc.fsGroup}
			pod.Spec.Volumes = []corev1.Volume{
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr[int32](0o400)}}},
			}
			if err := m.SetUp(context.Background(), pod, func(*corev1.Volume, error) {}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.TearDown("u-1") })
			emptyDir := filepath.Join(root, "pods", "u-1", "volumes", pluginEmptyDir, "scratch")
			secret := filepath.Join(root, "pods", "u-1", "volumes", pluginSecret, "creds")

			check := func(when string) {
				t.Helper()
				if got := owners(t, emptyDir)["."]; got != [2]int64{tc.wantUID, tc.emptyGID} {
					t.Errorf("%s: the emptyDir is %d:%d, want %d:%d", when, got[0], got[1], tc.wantUID, tc.emptyGID)
				}
				for path, got := range owners(t, secret) {
					if got != [2]int64{tc.wantUID, tc.wantGID} {
						t.Errorf("%s: secret's %s is %d:%d, want %d:%d", when, path, got[0], got[1], tc.wantUID, tc.wantGID)
					}
				}
			}
			check("after set-up")
			sec.Data["password"] = []byte("n3w")
			m.Refresh(context.Background(), pod)
			if b, err := os.ReadFile(filepath.Join(secret, "password")); err != nil || string(b) != "n3w" {
				t.Fatalf("after the Secret changed the file reads %q, %v", b, err)
			}
			check("after a refresh")

			// A subPath Berth makes in the emptyDir for a container is the pod's root's, folder by folder (its group
			// the emptyDir's, which is setgid with an fsGroup).
			c := &corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/sub", SubPath: "a/b"}}}
			if _, err := m.ContainerMounts(pod, c, nil); err != nil {
				t.Fatal(err)
			}
			for _, sub := range []string{"a", "a/b"} {
				if got, want := owners(t, emptyDir)[sub], [2]int64{tc.wantUID, tc.emptyGID}; got != want {
					t.Errorf("subPath folder %s is %d:%d, want %d:%d", sub, got[0], got[1], want[0], want[1])
				}
			}
			// Files the pod made itself (its IDs already) stay as they are on a later set-up (a restarted node's).
			mine := filepath.Join(emptyDir, "mine")
			if err := os.WriteFile(mine, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(mine, int(tc.wantUID)+1000, int(tc.wantUID)+1000); err != nil {
				t.Fatal(err)
			}
			if err := m.SetUp(context.Background(), pod, func(*corev1.Volume, error) {}); err != nil {
				t.Fatal(err)
			}
			wantMine := [2]int64{tc.wantUID + 1000, tc.wantUID + 1000}
			if tc.fsGroup != nil {
				wantMine[1] = tc.emptyGID // the fsGroup is applied again, as at every set-up
			}
			if got := owners(t, emptyDir)["mine"]; got != wantMine {
				t.Errorf("the pod's own file is %d:%d after a second set-up, want %d:%d", got[0], got[1], wantMine[0], wantMine[1])
			}
		})
	}
}

func TestMapped(t *testing.T) {
	r := userns.Range{FirstID: 2 * userns.Length}
	for _, tc := range []struct{ in, want int64 }{
		{in: 0, want: 2 * userns.Length},                     // the host's root: the pod's root
		{in: 2000, want: 2*userns.Length + 2000},             // a group Berth gave the files
		{in: 2*userns.Length + 5, want: 2*userns.Length + 5}, // the pod's already
		{in: userns.Length + 5, want: userns.Length + 5},     // another pod's: never taken
		{in: 3*userns.Length + 1, want: 3*userns.Length + 1}, // another pod's: never taken
	} {
		if got := mapped(r, tc.in); got != tc.want {
			t.Errorf("mapped(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
