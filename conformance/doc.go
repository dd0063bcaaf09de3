// Package conformance runs upstream Kubernetes' sig-node conformance specs (test/e2e/common/node of
// k8s.io/kubernetes at the version Berth builds) against a cluster whose only schedulable node is a Berth node.
//
// It is a module of its own so that the e2e framework's dependencies never enter Berth's build: the test binary
// links upstream's suite setup (test/e2e.RunE2ETests) with only the common/node specs imported, exactly as
// upstream's own e2e.test does with all of them. hack/conformance/run.sh drives it (make conformance).
package conformance
