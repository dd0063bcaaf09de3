package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

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
