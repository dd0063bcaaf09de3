// Package kubeletapi guards the kubelet API as the kubelet's webhook mode does: a request is authenticated by its
// client certificate (against the client CA) or its bearer token (a TokenReview), then authorized by a
// SubjectAccessReview for the node's resource and the subresource its path names (nodes/proxy, nodes/log,
// nodes/stats, nodes/metrics).
//
// It does what virtual-kubelet's nodeutil.WebhookAuth does, built from the small packages of k8s.io/apiserver
// (authentication/request/x509, authentication/token/cache) and client-go's TokenReview and SubjectAccessReview
// clients only: the apiserver's webhook plugins and option packages link the generic apiserver (etcd storage,
// API priority and fairness, CEL, OpenTelemetry's exporters) into the binary, about a quarter of berth-kubelet's
// size, whose pages count in its resident memory.
package kubeletapi
