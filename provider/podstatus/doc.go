// Package podstatus derives a pod's status (phase, conditions, container statuses, init, ephemeral and resize
// statuses, staleness while Podman does not answer) from a snapshot of what the node knows of the pod, as the
// kubelet's status manager computes it (pkg/kubelet/status/generate.go, kubelet_pods.go's getPhase and
// generateAPIPodStatus).
//
// Its one job is that computation: Derive is a pure function of a Pod snapshot, with no I/O, no locks and no
// writes. Readers of a pod's status never write: whatever a report fixes (the transition time of a condition whose
// status changed, a terminal phase latched once) is stored by the caller on its write side, and handed back in the
// next snapshot (Pod.Previous, Pod.FinalPhase).
package podstatus
