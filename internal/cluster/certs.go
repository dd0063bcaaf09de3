package cluster

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/berth-dev/berth/internal/pki"
)

// serviceCIDR is the cluster's service IP range; its first address is the kubernetes Service.
const (
	serviceCIDR      = "10.96.0.0/16"
	kubernetesSvcIP  = "10.96.0.1"
	serviceAccountIs = "https://kubernetes.default.svc.cluster.local"
)

// credentials are the certificates, keys and kubeconfigs of every component.
type credentials struct {
	dir                 string
	caFile              string
	ca                  *pki.CA
	frontProxyCAFile    string
	saKey, saPub        string
	apiserver           pki.KeyPair
	apiserverKubelet    pki.KeyPair
	frontProxyClient    pki.KeyPair
	controllerManager   pki.KeyPair // serving
	scheduler           pki.KeyPair // serving
	adminKubeconfig     string
	cmKubeconfig        string
	schedulerKubeconfig string
	nodeKubeconfigs     []string
	// kubeProxyKubeconfig is kube-proxy's (user system:kube-proxy, which the node-proxier role is bound to).
	kubeProxyKubeconfig string
	metricsServing      pki.KeyPair
	metricsKubeconfig   string
}

// makeCredentials loads or creates everything; on a restart the CA, keys and still-fitting certificates are kept.
func (c *Config) makeCredentials() (*credentials, error) {
	dir := filepath.Join(c.StateDir, "pki")
	cr := &credentials{dir: dir}
	ca, err := pki.LoadOrCreateCA(dir, "ca", "berth-ca")
	if err != nil {
		return nil, err
	}
	cr.ca, cr.caFile = ca, filepath.Join(dir, "ca.crt")
	fp, err := pki.LoadOrCreateCA(dir, "front-proxy-ca", "berth-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	cr.frontProxyCAFile = filepath.Join(dir, "front-proxy-ca.crt")
	if cr.saKey, cr.saPub, err = pki.LoadOrCreateServiceAccountKey(dir, "sa"); err != nil {
		return nil, err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	nodeIP := net.ParseIP(c.NodeIP)
	issue := func(ca *pki.CA, name string, spec pki.CertSpec) pki.KeyPair {
		if err != nil {
			return pki.KeyPair{}
		}
		var kp pki.KeyPair
		kp, err = ca.LoadOrIssue(dir, name, spec)
		return kp
	}
	cr.apiserver = issue(ca, "apiserver", pki.CertSpec{
		CommonName: "kube-apiserver", Server: true,
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:      []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(kubernetesSvcIP), nodeIP},
	})
	cr.apiserverKubelet = issue(ca, "apiserver-kubelet-client", pki.CertSpec{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}, Client: true})
	cr.frontProxyClient = issue(fp, "front-proxy-client", pki.CertSpec{CommonName: "front-proxy-client", Client: true})
	cr.controllerManager = issue(ca, "controller-manager-serving", pki.CertSpec{CommonName: "kube-controller-manager", DNSNames: []string{"localhost"}, IPs: loopback, Server: true})
	cr.scheduler = issue(ca, "scheduler-serving", pki.CertSpec{CommonName: "berth-scheduler", DNSNames: []string{"localhost"}, IPs: loopback, Server: true})
	admin := issue(ca, "admin", pki.CertSpec{CommonName: "berth-admin", Organization: []string{"system:masters"}, Client: true})
	cm := issue(ca, "controller-manager-client", pki.CertSpec{CommonName: "system:kube-controller-manager", Client: true})
	sched := issue(ca, "scheduler-client", pki.CertSpec{CommonName: "system:kube-scheduler", Client: true})
	proxy := issue(ca, "kube-proxy-client", pki.CertSpec{CommonName: "system:kube-proxy", Client: true})
	var nodeClients []pki.KeyPair
	for i := 0; i < c.Nodes; i++ {
		name := c.nodeName(i)
		nodeClients = append(nodeClients, issue(ca, "node-"+name+"-client", pki.CertSpec{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}, Client: true}))
	}
	if err != nil {
		return nil, err
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", c.APIServerPort)
	// A node in a network namespace of its own (Config.NodeNetns) reaches the apiserver at the machine's address.
	nodeServer := server
	if c.NodeNetns {
		nodeServer = "https://" + net.JoinHostPort(c.NodeIP, fmt.Sprint(c.APIServerPort))
	}
	writeFor := func(server, path, user string, kp pki.KeyPair) string {
		if err == nil {
			err = pki.WriteKubeconfig(path, user, server, ca.CertPEM, kp)
		}
		return path
	}
	write := func(path, user string, kp pki.KeyPair) string { return writeFor(server, path, user, kp) }
	cr.adminKubeconfig = write(c.Kubeconfig(), "berth", admin)
	cr.cmKubeconfig = write(filepath.Join(dir, "controller-manager.kubeconfig"), "berth", cm)
	cr.schedulerKubeconfig = write(filepath.Join(dir, "scheduler.kubeconfig"), "berth", sched)
	for i := 0; i < c.Nodes; i++ {
		cr.nodeKubeconfigs = append(cr.nodeKubeconfigs, writeFor(nodeServer, filepath.Join(dir, "node-"+c.nodeName(i)+".kubeconfig"), "berth", nodeClients[i]))
	}
	cr.kubeProxyKubeconfig = writeFor(nodeServer, filepath.Join(dir, "kube-proxy.kubeconfig"), "berth", proxy)
	if err != nil {
		return nil, err
	}
	if err := c.metricsCredentials(cr, dir); err != nil {
		return nil, err
	}
	return cr, nil
}

// Kubeconfig is the path of the admin kubeconfig berth up writes.
func (c *Config) Kubeconfig() string { return filepath.Join(c.StateDir, "kubeconfig") }
