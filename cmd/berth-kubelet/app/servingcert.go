package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/klog/v2"
	kubeletconfig "k8s.io/kubernetes/pkg/kubelet/apis/config"
	kubeletcert "k8s.io/kubernetes/pkg/kubelet/certificate"

	berthnode "github.com/berth-dev/berth/provider/node"
)

// servingCertWait is how long the node serves a self-signed certificate while its serving CSR is pending before it
// warns that nothing approves it.
const servingCertWait = time.Minute

// Reason of the node's Warning event when no serving certificate was issued in time.
const reasonServingCertificatePending = "ServingCertificatePending"

// currentCert is what the TLS server asks of a certificate manager (client-go's certificate.Manager has it).
type currentCert interface {
	Current() *tls.Certificate
}

// servingCert hands the kubelet API's TLS server the certificate the cluster issued through a
// kubernetes.io/kubelet-serving CSR (the kubelet's serverTLSBootstrap), renewed by the manager before it expires.
// Until one is issued it serves a self-signed certificate, so that a cluster with no approver for such CSRs (kind's
// default) still reaches the node where it does not verify kubelets' certificates.
type servingCert struct {
	manager  currentCert
	fallback *tls.Certificate
}

// GetCertificate implements tls.Config.GetCertificate.
func (s *servingCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.manager.Current(); c != nil {
		return c, nil
	}
	return s.fallback, nil
}

// selfSigned is a self-signed serving certificate for the node's name and address, as the kubelet makes without
// --tls-cert-file.
func selfSigned(o *Options) (tls.Certificate, error) {
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(o.NodeName, []net.IP{net.ParseIP(o.NodeIP)}, nil)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate a self-signed serving certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load the self-signed serving certificate: %w", err)
	}
	return cert, nil
}

// certDir is where rotated serving certificates are kept (kubelet-server-current.pem and its predecessors).
func (o *Options) certDir() string {
	if o.CertDir != "" {
		return o.CertDir
	}
	return filepath.Join(o.RootDir, "pki")
}

// startServingCertRotation starts the kubelet's own server certificate manager (pkg/kubelet/certificate): it
// requests a certificate for the node's name and address from the kubernetes.io/kubelet-serving signer, stores it
// in the cert dir, and renews it at 70–90% of its lifetime. It warns, in the log and with a Warning event on the
// node, when no certificate has been issued after servingCertWait.
func startServingCertRotation(ctx context.Context, o *Options, client kubernetes.Interface, recorder record.EventRecorder) (*servingCert, error) {
	dir := o.certDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create --cert-dir %s: %w", dir, err)
	}
	addresses := func() []corev1.NodeAddress { return berthnode.Addresses(o.NodeName, o.NodeIP) }
	m, err := kubeletcert.NewKubeletServerCertificateManager(client, &kubeletconfig.KubeletConfiguration{}, types.NodeName(o.NodeName), addresses, dir)
	if err != nil {
		return nil, fmt.Errorf("serving certificate rotation: %w", err)
	}
	fallback, err := selfSigned(o)
	if err != nil {
		return nil, err
	}
	m.Start()
	go func() {
		<-ctx.Done()
		m.Stop()
	}()
	s := &servingCert{manager: m, fallback: &fallback}
	go s.warnIfPending(ctx, o.NodeName, recorder, servingCertWait)
	return s, nil
}

// warnIfPending waits up to wait for an issued certificate and warns if there is none by then.
func (s *servingCert) warnIfPending(ctx context.Context, nodeName string, recorder record.EventRecorder, wait time.Duration) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for s.manager.Current() == nil {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-deadline.C:
			msg := fmt.Sprintf("no kubernetes.io/kubelet-serving certificate issued for node %s after %s: the kubelet API serves a self-signed certificate, which clients that verify kubelets (kube-apiserver --kubelet-certificate-authority) refuse; approve the node's CSR (kubectl certificate approve) or run an approver", nodeName, wait)
			klog.FromContext(ctx).Info("WARNING: no kubernetes.io/kubelet-serving certificate issued, serving a self-signed one; approve the node's CSR or run an approver", "waited", wait)
			recorder.Event(nodeRef(nodeName), corev1.EventTypeWarning, reasonServingCertificatePending, msg)
			return
		}
	}
}

// nodeRef is the reference the kubelet gives its node's events.
func nodeRef(name string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Node", Name: name, UID: types.UID(name)}
}

// clientTLS adds client-certificate verification against the client CA, when one is given, to a server TLS
// configuration.
func clientTLS(cfg *tls.Config, caFile string) error {
	if caFile == "" {
		return nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("read client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("client CA %s holds no certificate", caFile)
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	return nil
}
