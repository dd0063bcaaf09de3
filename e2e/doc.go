// Package e2e tests Berth against a real control plane (etcd, kube-apiserver, kube-controller-manager, the Berth
// scheduler) and real Podman, started once per test package by TestMain through the same code as `berth up`.
// Run `make build` first; `go test -short` skips these tests.
package e2e
