package hostobs

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/wellknown"
)

func TestAvailableMemory(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	node := func(labels, annotations map[string]string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: labels, Annotations: annotations}}
	}
	podman := map[string]string{wellknown.LabelPodman: "true"}
	observed := func(avail string, age time.Duration) map[string]string {
		return map[string]string{wellknown.AnnotationFreeMemory: avail, wellknown.AnnotationObservedAt: now.Add(-age).Format(time.RFC3339)}
	}
	tests := []struct {
		name   string
		node   *corev1.Node
		want   int64
		wantOK bool
	}{
		{name: "fresh", node: node(podman, observed("3221225472", 5*time.Second)), want: 3 << 30, wantOK: true},
		{name: "exactly maxAge old", node: node(podman, observed("1024", 30*time.Second)), want: 1024, wantOK: true},
		{name: "none available is a reading", node: node(podman, observed("0", 0)), want: 0, wantOK: true},
		{name: "stale", node: node(podman, observed("1024", 31*time.Second))},
		// A node whose host's MemAvailable cannot be read (a remote Podman) publishes none.
		{name: "no reading", node: node(podman, map[string]string{wellknown.AnnotationObservedAt: now.Format(time.RFC3339)})},
		{name: "malformed", node: node(podman, observed("3Gi", 0))},
		{name: "negative", node: node(podman, observed("-1", 0))},
		{name: "no observed-at", node: node(podman, map[string]string{wellknown.AnnotationFreeMemory: "1024"})},
		{name: "not a Podman node", node: node(nil, observed("1024", 0))},
		{name: "berth.dev/podman=false", node: node(map[string]string{wellknown.LabelPodman: "false"}, observed("1024", 0))},
		{name: "no node"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := AvailableMemory(tc.node, now, 30*time.Second)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("AvailableMemory = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
			// The cache gives the same, the first time (parsed) and the second (cached).
			var cache Observations
			for range 2 {
				got, ok := cache.AvailableMemory(tc.node, now, 30*time.Second)
				if got != tc.want || ok != tc.wantOK {
					t.Errorf("Observations.AvailableMemory = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
				}
			}
		})
	}
}

// TestObservationsAge checks that a cached observation ages with now, and that an updated node (a new object) is
// read anew.
func TestObservationsAge(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{wellknown.LabelPodman: "true"},
		Annotations: map[string]string{wellknown.AnnotationFreeMemory: "1024", wellknown.AnnotationObservedAt: now.Format(time.RFC3339)}}}
	var cache Observations
	if got, ok := cache.AvailableMemory(node, now, 30*time.Second); !ok || got != 1024 {
		t.Fatalf("fresh: %d, %v; want 1024, true", got, ok)
	}
	if _, ok := cache.AvailableMemory(node, now.Add(31*time.Second), 30*time.Second); ok {
		t.Errorf("31 s later: still fresh")
	}
	updated := node.DeepCopy()
	updated.Annotations[wellknown.AnnotationFreeMemory] = "2048"
	updated.Annotations[wellknown.AnnotationObservedAt] = now.Add(31 * time.Second).Format(time.RFC3339)
	if got, ok := cache.AvailableMemory(updated, now.Add(31*time.Second), 30*time.Second); !ok || got != 2048 {
		t.Errorf("updated node: %d, %v; want 2048, true", got, ok)
	}
}

// TestObservationsOneEntryPerNode checks that a node's every update replaces its entry rather than adding one: the
// cache keeps one Node object per node name, however often the nodes report.
func TestObservationsOneEntryPerNode(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var cache Observations
	var last [3]*corev1.Node
	for update := range 100 {
		for i := range last {
			at := now.Add(time.Duration(update) * 5 * time.Second)
			last[i] = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%d", i), Labels: map[string]string{wellknown.LabelPodman: "true"},
				Annotations: map[string]string{wellknown.AnnotationFreeMemory: strconv.Itoa(update), wellknown.AnnotationObservedAt: at.Format(time.RFC3339)}}}
			if got, ok := cache.AvailableMemory(last[i], at, 30*time.Second); !ok || got != int64(update) {
				t.Fatalf("update %d of n%d: %d, %v; want %d, true", update, i, got, ok, update)
			}
		}
	}
	for k, c := range cache.m {
		if !slices.Contains(last[:], c.node) || c.node.Name != k {
			t.Errorf("entry %v holds an older Node object, or another node's", k)
		}
	}
	if len(cache.m) != len(last) {
		t.Errorf("%d entries after 100 updates of %d nodes, want %d", len(cache.m), len(last), len(last))
	}
}
