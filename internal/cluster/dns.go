package cluster

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/manifests"
	"github.com/berth-dev/berth/provider/podman"
)

// Cluster DNS as kubeadm deploys it: CoreDNS (built from its Go module by hack/coredns) as the Deployment
// "coredns" behind the Service "kube-dns" at clusterDNSIP, from manifests/coredns.yaml. berth up deploys it on
// nodes with kube-proxy (Config.NodeNetns), whose pods reach it through the Service; their kubelets give pods of
// dnsPolicy ClusterFirst that address, the cluster domain and the kubelet's search list.
const (
	clusterDNSIP  = "10.96.0.10"
	clusterDomain = "cluster.local"
	// dnsFieldManager owns the fields berth up applies (server-side apply), so a user's own changes to other
	// fields stay.
	dnsFieldManager = "berth"
)

// manifestResource is where the apiserver keeps one kind of manifests/coredns.yaml.
type manifestResource struct {
	group      string // "" for the core group
	resource   string
	namespaced bool
}

// manifestResources are the kinds manifests/coredns.yaml holds.
var manifestResources = map[string]manifestResource{
	"ServiceAccount":     {"", "serviceaccounts", true},
	"ConfigMap":          {"", "configmaps", true},
	"Service":            {"", "services", true},
	"ClusterRole":        {"rbac.authorization.k8s.io", "clusterroles", false},
	"ClusterRoleBinding": {"rbac.authorization.k8s.io", "clusterrolebindings", false},
	"Deployment":         {"apps", "deployments", true},
}

// manifestDoc is one object of a manifest, as JSON, with what names it.
type manifestDoc struct {
	kind, name, namespace string
	res                   manifestResource
	json                  []byte
}

// manifestDocs splits a multi-document YAML manifest into its objects, each of a kind manifestResources knows.
func manifestDocs(manifest []byte) ([]manifestDoc, error) {
	docs, err := yamlDocs(manifest)
	if err != nil {
		return nil, err
	}
	var out []manifestDoc
	for _, doc := range docs {
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("manifest document %d: %w", len(out)+1, err)
		}
		var meta struct {
			metav1.TypeMeta   `json:",inline"`
			metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(js, &meta); err != nil {
			return nil, fmt.Errorf("manifest document %d: %w", len(out)+1, err)
		}
		res, ok := manifestResources[meta.Kind]
		if !ok {
			return nil, fmt.Errorf("manifest document %d: kind %q is not one berth up applies", len(out)+1, meta.Kind)
		}
		if res.namespaced != (meta.Namespace != "") || meta.Name == "" {
			return nil, fmt.Errorf("manifest document %d: %s %q: namespace %q does not fit its kind", len(out)+1, meta.Kind, meta.Name, meta.Namespace)
		}
		out = append(out, manifestDoc{kind: meta.Kind, name: meta.Name, namespace: meta.Namespace, res: res, json: js})
	}
	return out, nil
}

// applyManifest server-side applies each object of a manifest, as `kubectl apply --server-side` does.
func applyManifest(ctx context.Context, client kubernetes.Interface, manifest []byte) error {
	docs, err := manifestDocs(manifest)
	if err != nil {
		return err
	}
	for _, d := range docs {
		var rc rest.Interface
		switch d.res.group {
		case "":
			rc = client.CoreV1().RESTClient()
		case "apps":
			rc = client.AppsV1().RESTClient()
		default:
			rc = client.RbacV1().RESTClient()
		}
		req := rc.Patch(types.ApplyPatchType).Resource(d.res.resource).Name(d.name).
			Param("fieldManager", dnsFieldManager).Param("force", "true").Body(d.json)
		if d.res.namespaced {
			req = req.Namespace(d.namespace)
		}
		if err := req.Do(ctx).Error(); err != nil {
			return fmt.Errorf("apply %s %s: %w", d.kind, d.name, err)
		}
	}
	return nil
}

// deployClusterDNS imports the CoreDNS image into each node's Podman and applies manifests/coredns.yaml.
func (c *Cluster) deployClusterDNS(ctx context.Context) error {
	for _, h := range c.hosts {
		rt, err := podman.Dial(ctx, h.url)
		if err != nil {
			return fmt.Errorf("cluster DNS image: %w", err)
		}
		if _, err := EnsureCoreDNSImage(ctx, rt, c.cfg.bin(CoreDNSBinary)); err != nil {
			return fmt.Errorf("cluster DNS image into %s: %w", h.url, err)
		}
	}
	return applyManifest(ctx, c.client, manifests.CoreDNS)
}

// clusterDNSReady checks that the coredns Deployment has a replica ready.
func (c *Cluster) clusterDNSReady(ctx context.Context) error {
	d, err := c.client.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		return err
	}
	if !deploymentAvailable(d) {
		return fmt.Errorf("coredns: %d of %d replicas ready", d.Status.ReadyReplicas, d.Status.Replicas)
	}
	return nil
}

// deploymentAvailable tells whether a Deployment has its latest spec rolled out with a replica ready.
func deploymentAvailable(d *appsv1.Deployment) bool {
	return d.Status.ObservedGeneration >= d.Generation && d.Status.ReadyReplicas > 0
}
