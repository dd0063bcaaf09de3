package userns

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		first   uint32
		slots   int
		wantErr string
	}{
		{name: "the kubelet's default start", first: Length, slots: 110},
		{name: "a later node's span", first: 111 * Length, slots: 110},
		{name: "the host's own IDs", first: 0, slots: 110, wantErr: "at least 65536"},
		{name: "not a multiple of the length", first: Length + 1, slots: 110, wantErr: "multiple of 65536"},
		{name: "no range", first: Length, slots: 0, wantErr: "at least one range"},
		{name: "up to 2^32", first: Length, slots: 65535},
		{name: "beyond 2^32", first: Length, slots: 65536, wantErr: "below 2^32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.first, tc.slots)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("New(%d, %d) = %v, want error containing %q", tc.first, tc.slots, err, tc.wantErr)
			}
		})
	}
}

// step is one call to an Allocator: allocate, record, or release a pod's range.
type step struct {
	op      string // "allocate", "record" or "release"
	pod     types.UID
	first   uint32 // the range recorded, or the range allocation must give (0: any)
	wantErr string
}

func TestAllocator(t *testing.T) {
	for _, tc := range []struct {
		name  string
		slots int
		steps []step
		// held is what Get says at the end, by pod; 0: none.
		held map[types.UID]uint32
	}{
		{name: "distinct ranges from the span's first ID on", slots: 3,
			steps: []step{{op: "allocate", pod: "a", first: Length}, {op: "allocate", pod: "b", first: 2 * Length}, {op: "allocate", pod: "c", first: 3 * Length}},
			held:  map[types.UID]uint32{"a": Length, "b": 2 * Length, "c": 3 * Length}},
		{name: "a pod keeps its range", slots: 2,
			steps: []step{{op: "allocate", pod: "a", first: Length}, {op: "allocate", pod: "a", first: Length}, {op: "allocate", pod: "b", first: 2 * Length}},
			held:  map[types.UID]uint32{"a": Length, "b": 2 * Length}},
		{name: "none left: the kubelet's error", slots: 1,
			steps: []step{{op: "allocate", pod: "a"}, {op: "allocate", pod: "b", wantErr: ErrNoRange.Error()}},
			held:  map[types.UID]uint32{"a": Length, "b": 0}},
		{name: "a released range is free again, the lowest first", slots: 3,
			steps: []step{{op: "allocate", pod: "a", first: Length}, {op: "allocate", pod: "b", first: 2 * Length}, {op: "release", pod: "a"},
				{op: "allocate", pod: "c", first: Length}, {op: "allocate", pod: "d", first: 3 * Length}, {op: "allocate", pod: "e", wantErr: ErrNoRange.Error()}},
			held: map[types.UID]uint32{"a": 0, "b": 2 * Length, "c": Length, "d": 3 * Length}},
		{name: "releasing a pod without a range changes nothing", slots: 1,
			steps: []step{{op: "allocate", pod: "a"}, {op: "release", pod: "b"}, {op: "allocate", pod: "c", wantErr: ErrNoRange.Error()}},
			held:  map[types.UID]uint32{"a": Length}},
		{name: "recorded ranges (a restart) are not given again", slots: 3,
			steps: []step{{op: "record", pod: "a", first: Length}, {op: "record", pod: "a", first: Length},
				{op: "allocate", pod: "b", first: 2 * Length}, {op: "allocate", pod: "a", first: Length}},
			held: map[types.UID]uint32{"a": Length, "b": 2 * Length}},
		{name: "a range is one pod's", slots: 2,
			steps: []step{{op: "record", pod: "a", first: Length}, {op: "record", pod: "b", first: Length, wantErr: "pod a's already"}},
			held:  map[types.UID]uint32{"a": Length, "b": 0}},
		{name: "a pod has one range", slots: 2,
			steps: []step{{op: "record", pod: "a", first: Length}, {op: "record", pod: "a", first: 2 * Length, wantErr: "holds the user namespace from ID 65536"}},
			held:  map[types.UID]uint32{"a": Length}},
		{name: "outside the span", slots: 2,
			steps: []step{{op: "record", pod: "a", first: 3 * Length, wantErr: "outside the node's span"},
				{op: "record", pod: "a", first: Length + 5, wantErr: "outside the node's span"}},
			held: map[types.UID]uint32{"a": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(Length, tc.slots)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				var r Range
				switch s.op {
				case "allocate":
					r, err = a.Allocate(s.pod)
				case "record":
					err = a.Record(s.pod, Range{FirstID: s.first})
				case "release":
					a.Release(s.pod)
					err = nil
				}
				if s.wantErr == "" && err != nil || s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)) {
					t.Fatalf("step %d (%s %s): error %v, want %q", i, s.op, s.pod, err, s.wantErr)
				}
				if s.op == "allocate" && err == nil && s.first != 0 && r.FirstID != s.first {
					t.Fatalf("step %d: pod %s got the range from %d, want %d", i, s.pod, r.FirstID, s.first)
				}
			}
			for pod, want := range tc.held {
				r, ok := a.Get(pod)
				if ok != (want != 0) || r.FirstID != want {
					t.Errorf("pod %s holds %v (%v), want from %d", pod, r, ok, want)
				}
			}
		})
	}
}

func TestAllocatorErrNoRange(t *testing.T) {
	a, _ := New(Length, 1)
	_, _ = a.Allocate("a")
	if _, err := a.Allocate("b"); !errors.Is(err, ErrNoRange) {
		t.Errorf("error %v, want ErrNoRange", err)
	}
}

func TestRange(t *testing.T) {
	r := Range{FirstID: 3 * Length}
	for _, tc := range []struct {
		id   int64
		host int64
		ok   bool
	}{{id: 0, host: 3 * Length, ok: true}, {id: 2000, host: 3*Length + 2000, ok: true}, {id: Length - 1, host: 4*Length - 1, ok: true},
		{id: Length}, {id: -1}} {
		if host, ok := r.HostID(tc.id); host != tc.host || ok != tc.ok {
			t.Errorf("HostID(%d) = %d, %v; want %d, %v", tc.id, host, ok, tc.host, tc.ok)
		}
	}
	if !r.Contains(3*Length) || !r.Contains(4*Length-1) || r.Contains(4*Length) || r.Contains(0) {
		t.Error("Contains is not the range's IDs")
	}
	for _, tc := range []struct {
		in      string
		want    uint32
		wantErr bool
	}{{in: "196608", want: 3 * Length}, {in: "0", wantErr: true}, {in: "65537", wantErr: true}, {in: "x", wantErr: true}, {in: "-65536", wantErr: true}} {
		got, err := ParseRange(tc.in)
		if (err != nil) != tc.wantErr || !tc.wantErr && got.FirstID != tc.want {
			t.Errorf("ParseRange(%q) = %v, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
		if !tc.wantErr && got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
}

func TestHostSupport(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, file, wantErr string
	}{
		{name: "allowed", file: write("some", "96367\n")},
		{name: "forbidden", file: write("zero", "0\n"), wantErr: "is 0"},
		{name: "no such file", file: filepath.Join(dir, "missing"), wantErr: "does not support user namespaces"},
		{name: "unreadable content", file: write("bad", "many\n"), wantErr: "does not support user namespaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := HostSupport(tc.file)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("HostSupport = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}
