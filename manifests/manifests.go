// Package manifests holds the YAML that Berth ships, embedded so that berth up uses the same files users read.
package manifests

import _ "embed"

// SchedulerConfig is the KubeSchedulerConfiguration with the default-scheduler and berth-scheduler profiles.
//
//go:embed scheduler-config.yaml
var SchedulerConfig []byte

// CoreDNS is the cluster DNS as kubeadm deploys it (ServiceAccount, RBAC, Corefile ConfigMap, Deployment and the
// kube-dns Service at 10.96.0.10), with Berth's locally built image.
//
//go:embed coredns.yaml
var CoreDNS []byte
