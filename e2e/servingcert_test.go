package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-dev/berth/internal/csrapprover"
	"github.com/berth-dev/berth/internal/pki"
)

// servedCert is the leaf certificate node i's kubelet API presents, verified against the cluster CA.
func servedCert(ctx context.Context, i int) (*x509.Certificate, error) {
	return testCluster.KubeletServingCert(ctx, i)
}

// issuedTo lists the certificates the cluster issued to node name through approved kubelet serving CSRs.
func issuedTo(ctx context.Context, t *testing.T, name string) []*x509.Certificate {
	t.Helper()
	csrs, err := client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for _, csr := range csrs.Items {
		if csr.Spec.SignerName != certificatesv1.KubeletServingSignerName || csr.Spec.Username != "system:node:"+name || len(csr.Status.Certificate) == 0 {
			continue
		}
		approved := false
		for _, c := range csr.Status.Conditions {
			approved = approved || c.Type == certificatesv1.CertificateApproved && c.Reason == csrapprover.ReasonApproved
		}
		if !approved {
			t.Errorf("CSR %s holds a certificate for %s without the approver's AutoApproved condition: %v", csr.Name, name, csr.Status.Conditions)
		}
		block, _ := pem.Decode(csr.Status.Certificate)
		if block == nil {
			t.Fatalf("CSR %s: status.certificate is not PEM", csr.Name)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("CSR %s: %v", csr.Name, err)
		}
		out = append(out, cert)
	}
	return out
}

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range certs {
		if bytes.Equal(x.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// TestKubeletServingCertificateFromCSR checks that each node's kubelet API serves the certificate the cluster issued
// through its kubernetes.io/kubelet-serving CSR (berth-kubelet --rotate-server-certificates, approved by berth up's
// approver, signed by kube-controller-manager), for the node's identity and address.
func TestKubeletServingCertificateFromCSR(t *testing.T) {
	ctx := context.Background()
	cfg := testCluster.Config()
	for i, name := range testCluster.NodeNames() {
		leaf, err := servedCert(ctx, i)
		if err != nil {
			t.Fatalf("node %s: the kubelet API's certificate does not verify against the cluster CA: %v", name, err)
		}
		if leaf.Subject.CommonName != "system:node:"+name || len(leaf.Subject.Organization) != 1 || leaf.Subject.Organization[0] != "system:nodes" {
			t.Errorf("node %s serves a certificate for %v, want CN system:node:%s O system:nodes", name, leaf.Subject, name)
		}
		if err := leaf.VerifyHostname(cfg.NodeIP); err != nil {
			t.Errorf("node %s: %v", name, err)
		}
		if !containsCert(issuedTo(ctx, t, name), leaf) {
			t.Errorf("node %s serves a certificate (serial %s) that none of its approved CSRs holds", name, leaf.SerialNumber)
		}
	}
}

// TestServingCSRForAnotherAddressIsDenied checks that a node asking for a serving certificate naming an address
// that is not its own gets its CSR denied, with the reason and the address in the condition.
func TestServingCSRForAnotherAddressIsDenied(t *testing.T) {
	ctx := context.Background()
	name := testCluster.NodeNames()[0]
	rest, err := clientcmd.BuildConfigFromFlags("", filepath.Join(testCluster.Config().StateDir, "pki", "node-"+name+".kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	asNode, err := kubernetes.NewForConfig(rest)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}},
		IPAddresses: []net.IP{net.ParseIP("203.0.113.5")},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := asNode.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-foreign-address-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeletServingSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("node %s cannot create a CSR: %v", name, err)
	}
	t.Cleanup(func() {
		_ = client.CertificatesV1().CertificateSigningRequests().Delete(context.Background(), csr.Name, metav1.DeleteOptions{})
	})
	var cond *certificatesv1.CertificateSigningRequestCondition
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := client.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if len(got.Status.Conditions) > 0 {
			cond = &got.Status.Conditions[0]
			if len(got.Status.Certificate) > 0 {
				return false, fmt.Errorf("CSR %s for a foreign address was issued a certificate", csr.Name)
			}
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CSR %s: %v", csr.Name, err)
	}
	want := "node " + name + ": IP 203.0.113.5 not among its addresses"
	if cond.Type != certificatesv1.CertificateDenied || cond.Reason != csrapprover.ReasonAddressMismatch || !bytes.Contains([]byte(cond.Message), []byte(want)) {
		t.Errorf("CSR %s: condition %s %s %q, want Denied %s with %q", csr.Name, cond.Type, cond.Reason, cond.Message, csrapprover.ReasonAddressMismatch, want)
	}
}

// TestServingCertificateRenewedBeforeExpiry gives node 0's kubelet a stored serving certificate past its rotation
// deadline (70–90% of its life gone, minutes from expiry), restarts it, and checks that it requests and serves a
// new one from the cluster before the old one expires.
func TestServingCertificateRenewedBeforeExpiry(t *testing.T) {
	ctx := context.Background()
	cfg := testCluster.Config()
	const i = 0
	name := testCluster.NodeNames()[i]
	ca, err := pki.LoadOrCreateCA(filepath.Join(cfg.StateDir, "pki"), "ca", "berth-ca")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{name}, IPAddresses: []net.IP{net.ParseIP(cfg.NodeIP)},
	}
	der, err := x509.CreateCertificate(rand.Reader, old, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testCluster.KubeletRootDir(i), "pki")
	file := filepath.Join(dir, "kubelet-server-e2e-near-expiry.pem")
	pemBytes := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)

	if err := testCluster.StopNode(i); err != nil {
		t.Fatal(err)
	}
	started := false
	t.Cleanup(func() {
		if !started {
			_ = testCluster.StartNode(context.Background(), i)
		}
	})
	if err := os.WriteFile(file, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	current := filepath.Join(dir, "kubelet-server-current.pem")
	if err := os.Remove(current); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(file, current); err != nil {
		t.Fatal(err)
	}
	before := len(issuedTo(ctx, t, name))
	restart := time.Now()
	if err := testCluster.StartNode(ctx, i); err != nil {
		t.Fatal(err)
	}
	started = true
	t.Logf("node %s Ready again %s after its restart", name, time.Since(restart).Round(time.Millisecond))

	var leaf *x509.Certificate
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		leaf, err = servedCert(ctx, i)
		return err == nil && leaf.SerialNumber.Cmp(old.SerialNumber) != 0, nil
	})
	if err != nil {
		t.Fatalf("node %s still serves the certificate about to expire (or none the CA signed): %v", name, err)
	}
	t.Logf("node %s serves a renewed certificate %s after its restart", name, time.Since(restart).Round(time.Millisecond))
	if !leaf.NotAfter.After(old.NotAfter.Add(time.Hour)) {
		t.Errorf("node %s's new certificate expires at %s, not well after the old one (%s)", name, leaf.NotAfter, old.NotAfter)
	}
	issued := issuedTo(ctx, t, name)
	if len(issued) != before+1 || !containsCert(issued, leaf) {
		t.Errorf("node %s: %d certificates issued through CSRs (before the restart: %d); the served one is among them: %v", name, len(issued), before, containsCert(issued, leaf))
	}
	if err := leaf.VerifyHostname(cfg.NodeIP); err != nil {
		t.Errorf("node %s: %v", name, err)
	}
}
