// Package csrapprover approves the serving-certificate requests of a cluster's nodes (signer
// kubernetes.io/kubelet-serving) whose names are the requesting node's own addresses, and denies the others.
//
// kube-controller-manager's csrapproving controller approves only kubelet client certificates; clusters with
// serverTLSBootstrap kubelets run an external approver for serving ones (kubelet-csr-approver, a controller-runtime
// operator with its own deployment). berth up's cluster needs only its checks, so it runs this small controller in
// its own process: the request's form is checked by the apiserver's own rule (pkg/apis/certificates
// ValidateKubeletServingCSR), the requester must be the node the certificate names, and every DNS and IP name must
// be one of that Node's status addresses.
package csrapprover

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/apis/certificates"
)

// Reasons of the conditions the approver sets.
const (
	ReasonApproved = "AutoApproved"
	// ReasonInvalid: the request is not a kubelet serving request (form, usages, subject), or its requester is not
	// the node it names.
	ReasonInvalid = "InvalidKubeletServingRequest"
	// ReasonAddressMismatch: a name in the request is not an address of the node.
	ReasonAddressMismatch = "AddressMismatch"
)

// errNoNode: the node the request names is not registered (yet); the request is looked at again later.
var errNoNode = errors.New("node not registered")

// denial is a request the approver refuses.
type denial struct {
	reason, message string
}

func (d *denial) Error() string { return d.reason + ": " + d.message }

// Approver is the controller.
type Approver struct {
	client kubernetes.Interface
	csrs   certlisters.CertificateSigningRequestLister
	nodes  corelisters.NodeLister
	queue  workqueue.TypedRateLimitingInterface[string]
	synced []cache.InformerSynced
}

// New builds an approver over client; Run starts it.
func New(client kubernetes.Interface) (*Approver, informers.SharedInformerFactory) {
	f := informers.NewSharedInformerFactory(client, 0)
	csrInformer := f.Certificates().V1().CertificateSigningRequests()
	nodeInformer := f.Core().V1().Nodes()
	a := &Approver{
		client: client,
		csrs:   csrInformer.Lister(),
		nodes:  nodeInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "csrapprover"}),
		synced: []cache.InformerSynced{csrInformer.Informer().HasSynced, nodeInformer.Informer().HasSynced},
	}
	enqueue := func(obj any) {
		if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok && pending(csr) {
			a.queue.Add(csr.Name)
		}
	}
	_, _ = csrInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	return a, f
}

// Run approves and denies requests until ctx ends.
func Run(ctx context.Context, client kubernetes.Interface) {
	a, f := New(client)
	f.Start(ctx.Done())
	defer f.Shutdown()
	defer a.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), a.synced...) {
		return
	}
	go func() {
		<-ctx.Done()
		a.queue.ShutDown()
	}()
	for a.next(ctx) {
	}
}

// next handles one queued request; it tells whether the queue is still open.
func (a *Approver) next(ctx context.Context) bool {
	name, quit := a.queue.Get()
	if quit {
		return false
	}
	defer a.queue.Done(name)
	logger := klog.FromContext(ctx).WithValues("csr", name)
	err := a.sync(ctx, name)
	switch {
	case err == nil:
		a.queue.Forget(name)
	case errors.Is(err, errNoNode):
		logger.V(2).Info("Serving certificate request waits for its node to register", "err", err)
		a.queue.AddRateLimited(name)
	default:
		logger.Error(err, "Deciding on a serving certificate request")
		a.queue.AddRateLimited(name)
	}
	return true
}

// sync approves or denies one pending kubelet serving request.
func (a *Approver) sync(ctx context.Context, name string) error {
	csr, err := a.csrs.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get CSR %s: %w", name, err)
	}
	if !pending(csr) {
		return nil
	}
	cond := certificatesv1.CertificateSigningRequestCondition{Status: corev1.ConditionTrue, LastUpdateTime: metav1.Now()}
	node, err := a.check(csr)
	var d *denial
	switch {
	case errors.As(err, &d):
		cond.Type, cond.Reason, cond.Message = certificatesv1.CertificateDenied, d.reason, d.message
	case err != nil:
		return err
	default:
		cond.Type, cond.Reason = certificatesv1.CertificateApproved, ReasonApproved
		cond.Message = fmt.Sprintf("Auto approving kubelet serving certificate: its names are addresses of node %s.", node)
	}
	csr = csr.DeepCopy()
	csr.Status.Conditions = append(csr.Status.Conditions, cond)
	if _, err := a.client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("%s CSR %s: %w", strings.ToLower(string(cond.Type)), name, err)
	}
	logger := klog.FromContext(ctx)
	if cond.Type == certificatesv1.CertificateApproved {
		logger = logger.V(2)
	}
	logger.Info("Decided on a serving certificate request", "csr", name, "decision", cond.Type, "reason", cond.Reason, "message", cond.Message)
	return nil
}

// pending tells whether csr is a kubelet serving request that nobody has approved or denied.
func pending(csr *certificatesv1.CertificateSigningRequest) bool {
	if csr.Spec.SignerName != certificatesv1.KubeletServingSignerName {
		return false
	}
	for _, c := range csr.Status.Conditions {
		if c.Type == certificatesv1.CertificateApproved || c.Type == certificatesv1.CertificateDenied {
			return false
		}
	}
	return true
}

// check returns the name of the node a request is for, a *denial when it must be refused, or errNoNode.
func (a *Approver) check(csr *certificatesv1.CertificateSigningRequest) (string, error) {
	req, err := parseRequest(csr.Spec.Request)
	if err != nil {
		return "", &denial{ReasonInvalid, err.Error()}
	}
	usages := sets.NewString()
	for _, u := range csr.Spec.Usages {
		usages.Insert(string(u))
	}
	if err := certificates.ValidateKubeletServingCSR(req, usages); err != nil {
		return "", &denial{ReasonInvalid, fmt.Sprintf("not a kubelet serving certificate request: %v", err)}
	}
	if csr.Spec.Username != req.Subject.CommonName || !slices.Contains(csr.Spec.Groups, "system:nodes") {
		return "", &denial{ReasonInvalid, fmt.Sprintf("requested by %q (groups %v), not by the node it names (%q in group system:nodes)", csr.Spec.Username, csr.Spec.Groups, req.Subject.CommonName)}
	}
	name := strings.TrimPrefix(req.Subject.CommonName, "system:node:")
	node, err := a.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("node %s: %w", name, errNoNode)
	}
	if err != nil {
		return "", fmt.Errorf("get node %s: %w", name, err)
	}
	if err := namesAreAddresses(req, node.Status.Addresses); err != nil {
		return "", &denial{ReasonAddressMismatch, fmt.Sprintf("node %s: %v", name, err)}
	}
	return name, nil
}

// parseRequest reads a PEM-encoded certificate request and checks its signature.
func parseRequest(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("spec.request holds no PEM CERTIFICATE REQUEST block")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse the certificate request: %w", err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the certificate request's signature: %w", err)
	}
	return req, nil
}

// namesAreAddresses checks that every IP name of req is an IP address of the node and every DNS name one of its
// host names.
func namesAreAddresses(req *x509.CertificateRequest, addrs []corev1.NodeAddress) error {
	ips, hosts := sets.New[string](), sets.New[string]()
	for _, a := range addrs {
		switch a.Type {
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			ips.Insert(a.Address)
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			hosts.Insert(a.Address)
		}
	}
	var bad []string
	for _, ip := range req.IPAddresses {
		if !ips.Has(ip.String()) {
			bad = append(bad, "IP "+ip.String())
		}
	}
	for _, h := range req.DNSNames {
		if !hosts.Has(h) {
			bad = append(bad, "DNS "+h)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s not among its addresses %v", strings.Join(bad, ", "), sets.List(ips.Union(hosts)))
	}
	return nil
}
