// Package pki generates and persists the certificates and keys a local
// Kubernetes control plane needs (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and the kubelets), entirely in Go.
//
// Everything lives in a state folder that survives restarts of berth:
//
//   - LoadOrCreateCA reuses an existing certificate authority and never
//     overwrites a damaged one, since that would invalidate every
//     certificate it issued.
//   - CA.LoadOrIssue reuses a leaf certificate while it still fits its
//     CertSpec and is not close to expiry, and issues a new one otherwise.
//   - LoadOrCreateServiceAccountKey keeps the key pair used to sign and
//     verify service account tokens.
//   - WriteKubeconfig writes a self-contained kubeconfig for a client
//     certificate.
//
// All keys are ECDSA P-256 and stored as PKCS#8 PEM. Every file is written
// atomically (temporary file in the same folder, then rename), so a crash
// never leaves a half-written key or certificate behind. Private keys are
// written with mode 0600, certificates and public keys with mode 0644.
package pki
