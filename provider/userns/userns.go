package userns

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// ErrNoRange is the error of an allocation when every range of the node's span is taken (the kubelet's message).
var ErrNoRange = errors.New("could not find an empty slot to allocate a user namespace")

// CheckFirstID says why an ID cannot be the first of a range or span (nil when it can): it must be a multiple of
// Length, the first Length IDs being the host's.
func CheckFirstID(first uint32) error {
	if first < Length || first%Length != 0 {
		return fmt.Errorf("the first ID, %d, must be a multiple of %d, at least %d", first, Length, Length)
	}
	return nil
}

// Allocator hands out the ranges of a node's span, one per pod. It is safe for concurrent use.
type Allocator struct {
	first uint32 // the span's first ID
	slots int    // how many ranges the span holds

	mu    sync.Mutex
	used  map[int]types.UID // by slot
	byPod map[types.UID]int
}

// New returns an allocator of the span of slots ranges from first (a multiple of Length, at least Length), as the
// kubelet checks its own: slots is at least the node's max pods, and the span stays below 2^32.
func New(first uint32, slots int) (*Allocator, error) {
	if err := CheckFirstID(first); err != nil {
		return nil, err
	}
	switch {
	case slots < 1:
		return nil, fmt.Errorf("the user namespaces' span must hold at least one range, not %d", slots)
	case uint64(first)+uint64(slots)*Length > math.MaxUint32+1:
		return nil, fmt.Errorf("%d user namespaces from ID %d do not fit below 2^32", slots, first)
	}
	return &Allocator{first: first, slots: slots, used: map[int]types.UID{}, byPod: map[types.UID]int{}}, nil
}

func (a *Allocator) rangeOf(slot int) Range {
	return Range{FirstID: a.first + uint32(slot)*Length}
}

// Allocate gives a pod its range: the one it holds already, else the lowest free one. ErrNoRange when none is free.
// A freed range may be given again at once: nothing runs in it any more.
func (a *Allocator) Allocate(pod types.UID) (Range, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if slot, ok := a.byPod[pod]; ok {
		return a.rangeOf(slot), nil
	}
	for slot := range a.slots {
		if _, taken := a.used[slot]; taken {
			continue
		}
		a.used[slot], a.byPod[pod] = pod, slot
		return a.rangeOf(slot), nil
	}
	return Range{}, ErrNoRange
}

// Record gives a pod a range it was given before (by an earlier run of the node, read back from its Podman pod).
// It fails for a range outside the span, one another pod holds, or a pod that holds another range.
func (a *Allocator) Record(pod types.UID, r Range) error {
	if r.FirstID < a.first || (r.FirstID-a.first)%Length != 0 || int((r.FirstID-a.first)/Length) >= a.slots {
		return fmt.Errorf("user namespace from ID %d of pod %s is outside the node's span", r.FirstID, pod)
	}
	slot := int((r.FirstID - a.first) / Length)
	a.mu.Lock()
	defer a.mu.Unlock()
	if held, ok := a.byPod[pod]; ok {
		if held == slot {
			return nil
		}
		return fmt.Errorf("pod %s holds the user namespace from ID %d already", pod, a.rangeOf(held).FirstID)
	}
	if other, taken := a.used[slot]; taken {
		return fmt.Errorf("user namespace from ID %d of pod %s is pod %s's already", r.FirstID, pod, other)
	}
	a.used[slot], a.byPod[pod] = pod, slot
	return nil
}

// Get is the range a pod holds.
func (a *Allocator) Get(pod types.UID) (Range, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	slot, ok := a.byPod[pod]
	if !ok {
		return Range{}, false
	}
	return a.rangeOf(slot), true
}

// Release frees a pod's range; a pod that holds none is left alone.
func (a *Allocator) Release(pod types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if slot, ok := a.byPod[pod]; ok {
		delete(a.byPod, pod)
		delete(a.used, slot)
	}
}

// MaxUserNamespaces is the host's limit of user namespaces, which the kernel keeps in this file.
const MaxUserNamespaces = "/proc/sys/user/max_user_namespaces"

// HostSupport says why a host cannot make user namespaces, nil when it can, from its MaxUserNamespaces file: a
// limit of 0 forbids them (a kernel without user namespaces has no such file).
func HostSupport(maxUserNamespacesFile string) error {
	data, err := os.ReadFile(maxUserNamespacesFile)
	if err != nil {
		return fmt.Errorf("the host does not support user namespaces: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return fmt.Errorf("the host does not support user namespaces: %s: %w", maxUserNamespacesFile, err)
	}
	if n == 0 {
		return fmt.Errorf("the host does not allow user namespaces (%s is 0)", maxUserNamespacesFile)
	}
	return nil
}
