package provider

import (
	"context"
	"io"
	"testing"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
)

// TestContainerLogsTail checks tailLines as the kubelet reads it: absent gives the whole log, N the last N lines,
// and 0 (which virtual-kubelet's options cannot tell from absent, so the kubelet API marks it) no past line.
func TestContainerLogsTail(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("tail", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.fake.write(t, ctrName(pod, "a", 1), "", "", "one\ntwo\nthree\n")
	tests := []struct {
		name string
		ctx  context.Context
		tail int
		want string
	}{
		{"no tailLines", context.Background(), 0, "one\ntwo\nthree\n"},
		{"tailLines=2", context.Background(), 2, "two\nthree\n"},
		{"tailLines=0", WithZeroTail(context.Background()), 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs, err := h.p.GetContainerLogs(tc.ctx, "default", "tail", "a", api.ContainerLogOpts{Tail: tc.tail})
			if err != nil {
				t.Fatal(err)
			}
			defer logs.Close()
			if b, err := io.ReadAll(logs); err != nil || string(b) != tc.want {
				t.Errorf("logs = %q, %v; want %q", b, err, tc.want)
			}
		})
	}
}
