package volume

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/klog/v2/ktesting"
)

// TestValidatePath checks the paths a payload may hold, as the kubelet's AtomicWriter checks them.
func TestValidatePath(t *testing.T) {
	tests := []struct {
		path    string
		wantErr string
	}{
		{path: "a"},
		{path: "a/b/c"},
		{path: "..a", wantErr: "must not start with '..'"},
		{path: "a/..b"},
		{path: "", wantErr: "must not be empty"},
		{path: "/a", wantErr: "must be relative path"},
		{path: "a/../b", wantErr: "must not contain '..'"},
		{path: "..", wantErr: "must not contain '..'"},
		{path: "..data", wantErr: "must not start with '..'"},
		{path: strings.Repeat("a", 256), wantErr: "filenames must be less than or equal to 255 characters"},
		{path: strings.Repeat("a/", 2049), wantErr: "must be less than or equal to 4096 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			err := validatePath(tc.path)
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("validatePath(%q) = %v, want %q", tc.path, err, tc.wantErr)
			}
		})
	}
}

// TestAtomicWriterWrite checks successive writes of one folder: the visible files follow the payload (new ones
// appear, gone ones go, nested folders work), each write that changes something swaps in a new data folder that
// setPerms sees first and removes the old one, and a write of the same payload leaves the data folder as it was.
func TestAtomicWriterWrite(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	dir := t.TempDir()
	w, err := newAtomicWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		payload map[string]FileProjection
		swapped bool // a new data folder is expected
	}{
		{name: "first write", payload: map[string]FileProjection{"a": {Data: []byte("1"), Mode: 0o644}, "conf/b.txt": {Data: []byte("2"), Mode: 0o600}}, swapped: true},
		{name: "same payload", payload: map[string]FileProjection{"a": {Data: []byte("1"), Mode: 0o644}, "conf/b.txt": {Data: []byte("2"), Mode: 0o600}}},
		{name: "changed content", payload: map[string]FileProjection{"a": {Data: []byte("one"), Mode: 0o644}, "conf/b.txt": {Data: []byte("2"), Mode: 0o600}}, swapped: true},
		{name: "a file gone, one added", payload: map[string]FileProjection{"conf/b.txt": {Data: []byte("2"), Mode: 0o600}, "c": {Data: nil, Mode: 0o444}}, swapped: true},
	}
	var lastData string
	for _, st := range steps {
		var permsOn string
		if err := w.write(ctx, st.payload, func(sub string) error { permsOn = sub; return nil }); err != nil {
			t.Fatalf("%s: write: %v", st.name, err)
		}
		data, err := os.Readlink(filepath.Join(dir, dataDirName))
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if swapped := data != lastData; swapped != st.swapped {
			t.Errorf("%s: data folder %s after %s: swapped %t, want %t", st.name, data, lastData, swapped, st.swapped)
		}
		if st.swapped && permsOn != data {
			t.Errorf("%s: setPerms saw %q, want the new data folder %q", st.name, permsOn, data)
		}
		if !st.swapped && permsOn != "" {
			t.Errorf("%s: setPerms called with %q for an unchanged payload", st.name, permsOn)
		}
		lastData = data
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			if e.Name() != dataDirName && e.Name() != data {
				names = append(names, e.Name())
			}
		}
		var want []string
		for p := range st.payload {
			if top, _, _ := strings.Cut(p, "/"); !slices.Contains(want, top) {
				want = append(want, top)
			}
		}
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("%s: visible entries %q, want %q (and only the current data folder)", st.name, names, want)
		}
		for p, f := range st.payload {
			got, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil || string(got) != string(f.Data) {
				t.Errorf("%s: %s holds %q (%v), want %q", st.name, p, got, err, f.Data)
				continue
			}
			if fi, err := os.Stat(filepath.Join(dir, p)); err != nil || fi.Mode().Perm() != os.FileMode(f.Mode) {
				t.Errorf("%s: %s mode %v (%v), want %v", st.name, p, fi.Mode().Perm(), err, os.FileMode(f.Mode))
			}
		}
	}
}

// TestAtomicWriterRefuses checks that a bad payload, a failing setPerms and a missing folder change nothing.
func TestAtomicWriterRefuses(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	if _, err := newAtomicWriter(filepath.Join(t.TempDir(), "absent")); !os.IsNotExist(err) {
		t.Errorf("newAtomicWriter of a missing folder: %v, want not exist", err)
	}
	dir := t.TempDir()
	w, err := newAtomicWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.write(ctx, map[string]FileProjection{"../escape": {Data: []byte("x"), Mode: 0o644}}, nil); err == nil {
		t.Error("a payload path with '..' was written")
	}
	boom := errors.New("boom")
	if err := w.write(ctx, map[string]FileProjection{"a": {Data: []byte("x"), Mode: 0o644}}, func(string) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("write with a failing setPerms: %v, want %v", err, boom)
	}
	if _, err := os.Lstat(filepath.Join(dir, dataDirName)); !os.IsNotExist(err) {
		t.Errorf("a failed write swapped in a data folder: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Errorf("a failed write made a visible file: %v", err)
	}
}
