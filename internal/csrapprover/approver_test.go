package csrapprover

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func node(name string, addrs ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Addresses: addrs}}
}

var nodeA = node("node-a",
	corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.0.2.10"},
	corev1.NodeAddress{Type: corev1.NodeHostName, Address: "node-a"})

// request is a kubelet serving CSR as the kubelet's certificate manager makes it, changed by mutate.
func request(t *testing.T, mutate func(*x509.CertificateRequest, *certificatesv1.CertificateSigningRequest)) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "system:node:node-a", Organization: []string{"system:nodes"}},
		DNSNames:    []string{"node-a"},
		IPAddresses: []net.IP{net.ParseIP("192.0.2.10")},
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-1"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: certificatesv1.KubeletServingSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
			Username:   "system:node:node-a",
			Groups:     []string{"system:nodes", "system:authenticated"},
		},
	}
	if mutate != nil {
		mutate(tmpl, csr)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	if csr.Spec.Request == nil {
		csr.Spec.Request = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	return csr
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(*x509.CertificateRequest, *certificatesv1.CertificateSigningRequest)
		nodes      []*corev1.Node
		wantReason string // "" approves
		wantMsg    string
		wantNoNode bool
	}{
		{name: "the node's own names", nodes: []*corev1.Node{nodeA}},
		{name: "only the IP", mutate: func(r *x509.CertificateRequest, _ *certificatesv1.CertificateSigningRequest) { r.DNSNames = nil },
			nodes: []*corev1.Node{nodeA}},
		{name: "RSA usages", mutate: func(_ *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = append(c.Spec.Usages, certificatesv1.UsageKeyEncipherment)
		}, nodes: []*corev1.Node{nodeA}},
		{name: "an IP the node does not have", mutate: func(r *x509.CertificateRequest, _ *certificatesv1.CertificateSigningRequest) {
			r.IPAddresses = append(r.IPAddresses, net.ParseIP("203.0.113.9"))
		}, nodes: []*corev1.Node{nodeA}, wantReason: ReasonAddressMismatch, wantMsg: "node node-a: IP 203.0.113.9 not among its addresses [192.0.2.10 node-a]"},
		{name: "a DNS name the node does not have", mutate: func(r *x509.CertificateRequest, _ *certificatesv1.CertificateSigningRequest) {
			r.DNSNames = []string{"kubernetes.default.svc"}
		}, nodes: []*corev1.Node{nodeA}, wantReason: ReasonAddressMismatch, wantMsg: "DNS kubernetes.default.svc not among its addresses"},
		{name: "another node's request", mutate: func(_ *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Username = "system:node:node-b"
		}, nodes: []*corev1.Node{nodeA}, wantReason: ReasonInvalid, wantMsg: `requested by "system:node:node-b"`},
		{name: "not in system:nodes", mutate: func(_ *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Groups = []string{"system:authenticated"}
		}, nodes: []*corev1.Node{nodeA}, wantReason: ReasonInvalid, wantMsg: "not by the node it names"},
		{name: "client usage", mutate: func(_ *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
		}, nodes: []*corev1.Node{nodeA}, wantReason: ReasonInvalid, wantMsg: "not a kubelet serving certificate request: usages did not match"},
		{name: "wrong organization", mutate: func(r *x509.CertificateRequest, _ *certificatesv1.CertificateSigningRequest) {
			r.Subject.Organization = []string{"system:masters"}
		}, nodes: []*corev1.Node{nodeA}, wantReason: ReasonInvalid, wantMsg: "not a kubelet serving certificate request"},
		{name: "not PEM", mutate: func(_ *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Request = []byte("garbage")
		}, nodes: []*corev1.Node{nodeA}, wantReason: ReasonInvalid, wantMsg: "spec.request holds no PEM CERTIFICATE REQUEST block"},
		{name: "node not registered yet", wantNoNode: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, f := New(fake.NewClientset())
			for _, n := range tc.nodes {
				if err := f.Core().V1().Nodes().Informer().GetIndexer().Add(n); err != nil {
					t.Fatal(err)
				}
			}
			name, err := a.check(request(t, tc.mutate))
			var d *denial
			switch {
			case tc.wantNoNode:
				if !errors.Is(err, errNoNode) {
					t.Fatalf("check = %q, %v; want errNoNode", name, err)
				}
			case tc.wantReason == "":
				if err != nil || name != "node-a" {
					t.Fatalf("check = %q, %v; want node-a approved", name, err)
				}
			case !errors.As(err, &d):
				t.Fatalf("check = %q, %v; want a denial %s", name, err, tc.wantReason)
			case d.reason != tc.wantReason || !strings.Contains(d.message, tc.wantMsg):
				t.Fatalf("denial %s %q, want %s containing %q", d.reason, d.message, tc.wantReason, tc.wantMsg)
			}
		})
	}
}

// TestRunDecides runs the controller against a fake clientset: the node's own request is approved, a request for
// another address denied, a client-certificate request left alone.
func TestRunDecides(t *testing.T) {
	good := request(t, nil)
	bad := request(t, func(r *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) {
		c.Name = "csr-bad"
		r.IPAddresses = []net.IP{net.ParseIP("198.51.100.1")}
	})
	client := request(t, func(_ *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) {
		c.Name = "csr-client"
		c.Spec.SignerName = certificatesv1.KubeAPIServerClientKubeletSignerName
	})
	cs := fake.NewClientset(nodeA, good, bad, client)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		Run(ctx, cs)
		close(done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	decided := func(name string, typ certificatesv1.RequestConditionType) {
		t.Helper()
		for {
			csr, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(csr.Status.Conditions) == 1 {
				if c := csr.Status.Conditions[0]; c.Type != typ {
					t.Errorf("%s: condition %s %s %q, want %s", name, c.Type, c.Reason, c.Message, typ)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no decision", name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	decided("csr-1", certificatesv1.CertificateApproved)
	decided("csr-bad", certificatesv1.CertificateDenied)
	// A request made now is queued after everything the first list held, csr-client among them, and the
	// controller handles its queue in order: once this one is decided, csr-client has had its turn.
	late := request(t, func(_ *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) { c.Name = "csr-late" })
	if _, err := cs.CertificatesV1().CertificateSigningRequests().Create(ctx, late, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	decided("csr-late", certificatesv1.CertificateApproved)
	cancel()
	<-done
	csr, err := cs.CertificatesV1().CertificateSigningRequests().Get(context.Background(), "csr-client", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(csr.Status.Conditions) != 0 {
		t.Errorf("client-certificate request got conditions %v; the approver leaves other signers alone", csr.Status.Conditions)
	}
}
