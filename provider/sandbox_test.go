package provider

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	nodev1listers "k8s.io/client-go/listers/node/v1"
	"k8s.io/client-go/tools/cache"
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
