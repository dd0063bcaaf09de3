package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	apiregv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/internal/pki"
)

// metricsServerUser is the identity metrics-server talks to the apiserver and the kubelets with.
const metricsServerUser = "berth:metrics-server"

// metricsServerBinary is metrics-server, run from the bin folder when it is there (make build puts it there).
const metricsServerBinary = "metrics-server"

// hasMetricsServer tells whether the bin folder holds metrics-server.
func (c *Config) hasMetricsServer() bool {
	_, err := os.Stat(c.bin(metricsServerBinary))
	return err == nil
}

// awaitMetricsServer starts metrics-server once its binary appears in the bin folder (make run builds it in the
// background after the demo), registering its API first; Stop ends the wait.
func (c *Cluster) awaitMetricsServer(ctx context.Context) {
	ctx, c.stopLate = context.WithCancel(ctx)
	c.late.Add(1)
	go func() {
		defer c.late.Done()
		logger := klog.FromContext(ctx)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for !c.cfg.hasMetricsServer() {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		if err := c.registerMetricsAPI(ctx); err != nil {
			logger.Error(err, "Registering metrics-server's API")
			return
		}
		ms, err := c.startMetricsServer()
		if err != nil {
			logger.Error(err, "Starting metrics-server")
			return
		}
		if err := c.step(ctx, "metrics-server (built since)", ms, c.metricsServerLive()); err != nil && ctx.Err() == nil {
			logger.Error(err, "Waiting for metrics-server")
		}
	}()
}

// metricsServerLive is the check of metrics-server's /livez on the node address it serves.
func (c *Cluster) metricsServerLive() func(context.Context) error {
	return healthzAt(c.cfg.NodeIP, c.cfg.MetricsServerPort, "/livez", c.creds.ca.CertPEM)
}

// startMetricsServer runs metrics-server on this machine, serving the node address that the apiserver's aggregator
// reaches through the metrics-server Service's endpoints (no kube-proxy needed: aggregator routing is on).
func (c *Cluster) startMetricsServer() (*process, error) {
	cfg, cr := c.cfg, c.creds
	return c.start("metrics-server", metricsServerBinary, []string{
		"--kubeconfig=" + cr.metricsKubeconfig, "--authentication-kubeconfig=" + cr.metricsKubeconfig, "--authorization-kubeconfig=" + cr.metricsKubeconfig,
		"--bind-address=" + cfg.NodeIP, "--secure-port=" + strconv.Itoa(cfg.MetricsServerPort),
		"--tls-cert-file=" + cr.metricsServing.CertFile, "--tls-private-key-file=" + cr.metricsServing.KeyFile,
		"--kubelet-preferred-address-types=InternalIP", "--kubelet-use-node-status-port",
		"--kubelet-certificate-authority=" + cr.caFile, "--metric-resolution=15s",
	})
}

// registerMetricsAPI makes metrics.k8s.io served by the metrics-server on this machine: its RBAC, a Service
// whose endpoint is the node address, and the APIService.
func (c *Cluster) registerMetricsAPI(ctx context.Context) error {
	cfg := c.cfg
	labels := map[string]string{"app.kubernetes.io/managed-by": "berth", "app.kubernetes.io/name": "metrics-server"}
	meta := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	}
	user := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: metricsServerUser}}
	cl := c.client
	create := func(what string, err error) error {
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s: %w", what, err)
		}
		return nil
	}
	_, err := cl.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: meta("berth:metrics-server", ""), Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes/metrics"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list", "watch"}},
	}}, metav1.CreateOptions{})
	if err := create("ClusterRole berth:metrics-server", err); err != nil {
		return err
	}
	for _, b := range []struct{ name, role string }{{"berth:metrics-server", "berth:metrics-server"}, {"berth:metrics-server:auth-delegator", "system:auth-delegator"}} {
		_, err := cl.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: meta(b.name, ""),
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.role}, Subjects: user}, metav1.CreateOptions{})
		if err := create("ClusterRoleBinding "+b.name, err); err != nil {
			return err
		}
	}
	_, err = cl.RbacV1().RoleBindings(metav1.NamespaceSystem).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: meta("berth:metrics-server:auth-reader", metav1.NamespaceSystem),
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"}, Subjects: user}, metav1.CreateOptions{})
	if err := create("RoleBinding berth:metrics-server:auth-reader", err); err != nil {
		return err
	}
	if err := upsertMetricsEndpoints(ctx, cl, meta, cfg.NodeIP, int32(cfg.MetricsServerPort)); err != nil { //nolint:gosec // a validated port
		return err
	}
	agg, err := aggregator.NewForConfig(c.restConfig)
	if err != nil {
		return fmt.Errorf("aggregator client: %w", err)
	}
	svc := &apiregv1.APIService{
		ObjectMeta: meta("v1beta1.metrics.k8s.io", ""),
		Spec: apiregv1.APIServiceSpec{
			Service:              &apiregv1.ServiceReference{Namespace: metav1.NamespaceSystem, Name: "metrics-server", Port: ptr.To[int32](443)},
			Group:                "metrics.k8s.io",
			Version:              "v1beta1",
			CABundle:             c.creds.ca.CertPEM,
			GroupPriorityMinimum: 100,
			VersionPriority:      100,
		},
	}
	cur, err := agg.ApiregistrationV1().APIServices().Get(ctx, svc.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = agg.ApiregistrationV1().APIServices().Create(ctx, svc, metav1.CreateOptions{})
	case err == nil:
		cur.Spec = svc.Spec
		_, err = agg.ApiregistrationV1().APIServices().Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("register the metrics API: %w", err)
	}
	return nil
}

// upsertMetricsEndpoints points the metrics-server Service at the node address (which may change between runs).
func upsertMetricsEndpoints(ctx context.Context, cl kubernetes.Interface, meta func(name, ns string) metav1.ObjectMeta, ip string, port int32) error {
	ns := metav1.NamespaceSystem
	_, err := cl.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: meta("metrics-server", ns), Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP}},
	}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Service metrics-server: %w", err)
	}
	sliceMeta := meta("metrics-server-berth", ns)
	sliceMeta.Labels = map[string]string{discoveryv1.LabelServiceName: "metrics-server", discoveryv1.LabelManagedBy: "berth"}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  sliceMeta,
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if net.ParseIP(ip).To4() == nil {
		slice.AddressType = discoveryv1.AddressTypeIPv6
	}
	cur, err := cl.DiscoveryV1().EndpointSlices(ns).Get(ctx, slice.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = cl.DiscoveryV1().EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{})
	case err == nil:
		cur.AddressType, cur.Endpoints, cur.Ports = slice.AddressType, slice.Endpoints, slice.Ports
		_, err = cl.DiscoveryV1().EndpointSlices(ns).Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("point the metrics-server Service at %s:%d: %w", ip, port, err)
	}
	return nil
}

// metricsCredentials issues metrics-server's serving certificate and client identity.
func (c *Config) metricsCredentials(cr *credentials, dir string) error {
	var err error
	cr.metricsServing, err = cr.ca.LoadOrIssue(dir, "metrics-server-serving", pki.CertSpec{CommonName: "metrics-server", Server: true,
		DNSNames: []string{"metrics-server", "metrics-server.kube-system", "metrics-server.kube-system.svc"}, IPs: []net.IP{net.ParseIP(c.NodeIP)}})
	if err != nil {
		return err
	}
	client, err := cr.ca.LoadOrIssue(dir, "metrics-server-client", pki.CertSpec{CommonName: metricsServerUser, Client: true})
	if err != nil {
		return err
	}
	cr.metricsKubeconfig = filepath.Join(dir, "metrics-server.kubeconfig")
	return pki.WriteKubeconfig(cr.metricsKubeconfig, "berth", fmt.Sprintf("https://127.0.0.1:%d", c.APIServerPort), cr.ca.CertPEM, client)
}
