package podman

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

func TestTailOfTarFile(t *testing.T) {
	archive := func(typ byte, body string) *bytes.Buffer {
		var b bytes.Buffer
		w := tar.NewWriter(&b)
		if err := w.WriteHeader(&tar.Header{Name: "termination-log", Typeflag: typ, Size: int64(len(body)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return &b
	}
	tests := []struct {
		name    string
		in      *bytes.Buffer
		max     int64
		want    string
		wantErr string
	}{
		{name: "small file", in: archive(tar.TypeReg, "bye"), max: 4096, want: "bye"},
		{name: "last bytes of a large file", in: archive(tar.TypeReg, strings.Repeat("a", 10)+"tail"), max: 4, want: "tail"},
		{name: "empty file", in: archive(tar.TypeReg, ""), max: 4, want: ""},
		{name: "folder", in: archive(tar.TypeDir, ""), max: 4, wantErr: "not a regular file"},
		{name: "not an archive", in: bytes.NewBufferString(""), max: 4, wantErr: "read archive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tailOfTarFile(tc.in, tc.max)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
