package provider

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	nodev1listers "k8s.io/client-go/listers/node/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podspec"
)

// TestRuntimeHandler: a pod's RuntimeClass names the OCI runtime of its containers when the node runs its handler;
// a class that does not exist or a handler the node lacks fails with the kubelet's (and containerd's) message.
func TestRuntimeHandler(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for name, handler := range map[string]string{"runc": "runc", "crun": "crun", "gvisor": "runsc"} {
		if err := indexer.Add(&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Handler: handler}); err != nil {
			t.Fatal(err)
		}
	}
	lister := nodev1listers.NewRuntimeClassLister(indexer)
	tests := []struct {
		name     string
		class    *string
		handlers []string
		lister   nodev1listers.RuntimeClassLister
		want     string
		wantErr  string
	}{
		{name: "no class", lister: lister},
		{name: "empty class", class: new(""), lister: lister},
		{name: "runc by default", class: new("runc"), lister: lister, want: "runc"},
		{name: "a handler the node runs", class: new("crun"), handlers: []string{"runc", "crun"}, lister: lister, want: "crun"},
		{name: "a handler the node lacks", class: new("gvisor"), lister: lister, wantErr: `failed to get sandbox runtime: no runtime for "runsc" is configured`},
		{name: "crun not configured", class: new("crun"), lister: lister, wantErr: `failed to get sandbox runtime: no runtime for "crun" is configured`},
		{name: "no such class", class: new("kata"), lister: lister, wantErr: `runtimeclass.node.k8s.io "kata" not found`},
		{name: "no informer", class: new("runc"), wantErr: "failed to lookup RuntimeClass runc: the node does not watch RuntimeClasses"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Config{RuntimeHandlers: tc.handlers})
			p.SetListers(Listers{RuntimeClasses: tc.lister})
			got, err := p.runtimeHandler(&corev1.Pod{Spec: corev1.PodSpec{RuntimeClassName: tc.class}})
			if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
				t.Errorf("runtimeHandler = %q, %v; want %q, %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestSandboxCreation: a pod's Podman pod is created without a removal first; one of the same name left from an
// attempt whose answer was lost is removed and the pod created again at once, without a failed sandbox.
func TestSandboxCreation(t *testing.T) {
	tests := []struct {
		name        string
		leftover    bool
		wantCreates int
		wantRemoves int
	}{
		{name: "first attempt", wantCreates: 1},
		{name: "a Podman pod of the same name is left", leftover: true, wantCreates: 2, wantRemoves: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, ev := probeHarness(t)
			pod := lifecyclePod("sandbox", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
			if tc.leftover {
				if _, err := h.fake.CreatePod(h.ctx, podman.PodSpec{Name: podspec.PodName(pod)}); err != nil {
					t.Fatal(err)
				}
				h.fake.mu.Lock()
				h.fake.calls = nil
				h.fake.mu.Unlock()
			}
			h.create(pod)
			h.waitReported(pod, 0, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
			if got := h.fake.callsTo("CreatePod"); len(got) != tc.wantCreates {
				t.Errorf("CreatePod calls %q, want %d", got, tc.wantCreates)
			}
			if got := h.fake.callsTo("RemovePod"); len(got) != tc.wantRemoves {
				t.Errorf("RemovePod calls %q, want %d", got, tc.wantRemoves)
			}
			if ev.has("Warning FailedCreatePodSandBox") {
				t.Errorf("events %q, want no FailedCreatePodSandBox", ev.events)
			}
		})
	}
}
