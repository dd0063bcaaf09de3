package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider"
)

// vkNode runs the node's controllers and its kubelet API: what virtual-kubelet's nodeutil.NewNode and Node.Run do,
// composed from its node and node/api packages. nodeutil itself is not imported: it links k8s.io/apiserver's
// server options (the generic apiserver, etcd storage, API priority and fairness, CEL) for its WebhookAuth, a
// quarter of the binary, whose pages are resident in every berth-kubelet.
type vkNode struct {
	nc      *node.NodeController
	pc      *node.PodController
	workers int

	podInformers, objectInformers informers.SharedInformerFactory

	listenAddr string
	handler    http.Handler
	tlsConfig  *tls.Config

	ready chan struct{}
	done  chan struct{}
	err   error
}

// vkNodeConfig configures newVKNode.
type vkNodeConfig struct {
	Name   string
	Client kubernetes.Interface
	// Configure is given the listers of the node's informers and the node object to register, before the controllers
	// are made; it returns the provider and the node's status provider.
	Configure func(provider.Listers, *corev1.Node) (*provider.Provider, node.NodeProvider)
	// Mux gets the provider's kubelet API routes (logs, exec, attach, port-forward, pods, stats, metrics).
	Mux                  api.ServeMux
	Handler              http.Handler
	ListenAddr           string
	TLSConfig            *tls.Config
	Workers              int
	InformerResyncPeriod time.Duration
	EventRecorder        record.EventRecorder
	// PodController adjusts the pod controller's configuration (rate limiters) before it is made.
	PodController func(*node.PodControllerConfig)
}

// newVKNode builds the node as nodeutil.NewNode does: the node object with virtual-kubelet's labels and conditions,
// informers of the node's pods (by spec.nodeName) and of the cluster's ConfigMaps, Secrets and Services, the node
// controller with a v1 Lease of the kubelet's 40 s, and the pod controller.
func newVKNode(cfg vkNodeConfig) (*vkNode, error) {
	if _, _, err := net.SplitHostPort(cfg.ListenAddr); err != nil {
		return nil, fmt.Errorf("kubelet API address %q: %w", cfg.ListenAddr, err)
	}
	nodeSpec := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: cfg.Name,
			Labels: map[string]string{
				"type":                   "virtual-kubelet",
				"kubernetes.io/role":     "agent",
				"kubernetes.io/hostname": cfg.Name,
			},
		},
		Status: corev1.NodeStatus{
			Phase: corev1.NodePending,
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady},
				{Type: corev1.NodeDiskPressure},
				{Type: corev1.NodeMemoryPressure},
				{Type: corev1.NodePIDPressure},
				{Type: corev1.NodeNetworkUnavailable},
			},
		},
	}
	podInformers := informers.NewSharedInformerFactoryWithOptions(cfg.Client, cfg.InformerResyncPeriod, podsOfNode(cfg.Name))
	objectInformers := informers.NewSharedInformerFactoryWithOptions(cfg.Client, cfg.InformerResyncPeriod)
	pods := podInformers.Core().V1().Pods()
	secrets := objectInformers.Core().V1().Secrets()
	configMaps := objectInformers.Core().V1().ConfigMaps()
	services := objectInformers.Core().V1().Services()

	p, np := cfg.Configure(provider.Listers{ConfigMaps: configMaps.Lister(), Secrets: secrets.Lister(), Services: services.Lister(), Pods: pods.Lister()}, nodeSpec)
	if cfg.Mux != nil {
		attachRoutes(cfg.Mux, p, pods.Lister())
	}
	nc, err := node.NewNodeController(np, nodeSpec, cfg.Client.CoreV1().Nodes(),
		node.WithNodeEnableLeaseV1(cfg.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease), node.DefaultLeaseDuration))
	if err != nil {
		return nil, fmt.Errorf("node controller: %w", err)
	}
	pcc := node.PodControllerConfig{
		PodClient:         cfg.Client.CoreV1(),
		EventRecorder:     cfg.EventRecorder,
		Provider:          p,
		PodInformer:       pods,
		SecretInformer:    secrets,
		ConfigMapInformer: configMaps,
		ServiceInformer:   services,
		// The provider resolves environments itself, as the kubelet does (status.podIP, resourceFieldRef,
		// CreateContainerConfigError for a missing ConfigMap or Secret).
		SkipDownwardAPIResolution: true,
	}
	if cfg.PodController != nil {
		cfg.PodController(&pcc)
	}
	pc, err := node.NewPodController(pcc)
	if err != nil {
		return nil, fmt.Errorf("pod controller: %w", err)
	}
	return &vkNode{
		nc: nc, pc: pc, workers: cfg.Workers,
		podInformers: podInformers, objectInformers: objectInformers,
		listenAddr: cfg.ListenAddr, handler: cfg.Handler, tlsConfig: cfg.TLSConfig,
		ready: make(chan struct{}), done: make(chan struct{}),
	}, nil
}

// podsOfNode limits an informer factory's lists and watches to the pods bound to the node, as nodeutil's
// PodInformerFilter.
func podsOfNode(name string) informers.SharedInformerOption {
	return informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", name).String()
	})
}

// attachRoutes serves the provider's kubelet API at "/" of mux, as nodeutil.AttachProviderRoutes does (with
// /runningpods/ and the library's default stream timeouts).
func attachRoutes(mux api.ServeMux, p *provider.Provider, pods corev1listers.PodLister) {
	mux.Handle("/", api.PodHandler(api.PodHandlerConfig{
		RunInContainer:    p.RunInContainer,
		AttachToContainer: p.AttachToContainer,
		GetContainerLogs:  p.GetContainerLogs,
		GetPods:           p.GetPods,
		GetPodsFromKubernetes: func(context.Context) ([]*corev1.Pod, error) {
			return pods.List(labels.Everything())
		},
		GetStatsSummary:    p.GetStatsSummary,
		GetMetricsResource: p.GetMetricsResource,
		PortForward:        p.PortForward,
	}, true))
}

// Run serves the kubelet API, starts the informers and the pod controller, then, once the pod controller is ready,
// the node controller; it returns when either controller ends or ctx does.
func (n *vkNode) Run(ctx context.Context) (retErr error) {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		n.err = retErr
		close(n.done)
	}()
	stopHTTP, err := n.serve(ctx)
	if err != nil {
		return err
	}
	defer stopHTTP()

	go n.podInformers.Start(ctx.Done())
	go n.objectInformers.Start(ctx.Done())
	go n.pc.Run(ctx, n.workers) //nolint:errcheck // its error is read from Err once Done
	defer func() {
		cancel()
		<-n.pc.Done()
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-n.pc.Ready():
	case <-n.pc.Done():
		return n.pc.Err()
	}
	klog.FromContext(ctx).V(4).Info("Pod controller ready")

	go n.nc.Run(ctx) //nolint:errcheck // its error is read from Err once Done
	defer func() {
		cancel()
		<-n.nc.Done()
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-n.nc.Ready():
	case <-n.nc.Done():
		return n.nc.Err()
	}
	klog.FromContext(ctx).V(4).Info("Node controller ready")
	close(n.ready)

	select {
	case <-n.nc.Done():
		return n.nc.Err()
	case <-n.pc.Done():
		return n.pc.Err()
	}
}

// serve starts the kubelet API's TLS server; the function returned stops it.
func (n *vkNode) serve(ctx context.Context) (func(), error) {
	if n.tlsConfig == nil || n.handler == nil {
		return func() {}, nil
	}
	l, err := tls.Listen("tcp", n.listenAddr, n.tlsConfig)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", n.listenAddr, err)
	}
	srv := &http.Server{Handler: n.handler, TLSConfig: n.tlsConfig, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.FromContext(ctx).Error(err, "Serving the kubelet API")
		}
	}()
	return func() { _ = srv.Close() }, nil
}

// WaitReady waits until the node's controllers are ready, the node ends, or ctx ends.
func (n *vkNode) WaitReady(ctx context.Context) error {
	select {
	case <-n.ready:
		return nil
	case <-n.done:
		return fmt.Errorf("node ended before it was ready: %w", n.err)
	case <-ctx.Done():
		return ctx.Err()
	}
}
