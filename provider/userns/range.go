package userns

import (
	"fmt"
	"strconv"
)

// Length is the number of IDs in a pod's user namespace, the kubelet's default userNamespaces.idsPerPod: container
// IDs 0 to Length-1 are mapped to the host's FirstID to FirstID+Length-1.
const Length = 65536

// Range is a pod's user namespace: container ID 0 (UID and GID) is the host's FirstID, and so on for Length IDs.
type Range struct {
	FirstID uint32
}

// HostID is the host ID that container ID id (a UID or GID) is in the pod's user namespace; ok is false for an ID
// the namespace does not map (negative, or Length and above).
func (r Range) HostID(id int64) (host int64, ok bool) {
	if id < 0 || id >= Length {
		return 0, false
	}
	return int64(r.FirstID) + id, true
}

// Contains tells whether a host ID belongs to the range.
func (r Range) Contains(host int64) bool {
	return host >= int64(r.FirstID) && host < int64(r.FirstID)+Length
}

// String is the range as the label Berth records it with: its first ID, in decimal.
func (r Range) String() string {
	return strconv.FormatUint(uint64(r.FirstID), 10)
}

// ParseRange reads a range as String writes it; the first ID must be a multiple of Length, at least Length.
func ParseRange(s string) (Range, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return Range{}, fmt.Errorf("user namespace %q: %w", s, err)
	}
	if err := CheckFirstID(uint32(n)); err != nil {
		return Range{}, fmt.Errorf("user namespace %q: %w", s, err)
	}
	return Range{FirstID: uint32(n)}, nil
}
