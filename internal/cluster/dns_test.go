package cluster

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/manifests"
)

func TestManifestDocs(t *testing.T) {
	docs, err := manifestDocs(manifests.CoreDNS)
	if err != nil {
		t.Fatalf("manifests/coredns.yaml: %v", err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.kind+" "+d.namespace+"/"+d.name)
		if !strings.Contains(string(d.json), `"kind":"`+d.kind+`"`) {
			t.Errorf("%s %s: the JSON to apply lacks its kind: %s", d.kind, d.name, d.json)
		}
	}
	want := "ServiceAccount kube-system/coredns,ClusterRole /system:coredns,ClusterRoleBinding /system:coredns," +
		"ConfigMap kube-system/coredns,Deployment kube-system/coredns,Service kube-system/kube-dns"
	if strings.Join(got, ",") != want {
		t.Errorf("objects %v, want %s", got, want)
	}

	for _, tc := range []struct {
		name, manifest, wantErr string
	}{
		{"unknown kind", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: x}\n", `kind "Secret" is not one berth up applies`},
		{"namespaced without a namespace", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "does not fit its kind"},
		{"cluster-wide with a namespace", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r, namespace: x}\n", "does not fit its kind"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n", "does not fit its kind"},
		{"not YAML", "kind: [", "manifest document 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := manifestDocs([]byte(tc.manifest)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
