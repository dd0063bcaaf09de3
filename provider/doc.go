// Package provider is Berth's virtual-kubelet provider: it runs the pods bound to its node as Podman pods and
// reports their life back to the apiserver the way a kubelet does (phases, conditions, container states,
// restarts with back-off, events).
//
// Each pod has one record and one runner goroutine. The runner creates the Podman pod (the sandbox), runs init
// containers in order, then supervises the app containers, restarting them as the pod's restartPolicy says;
// ephemeral containers added later (kubectl debug) each run once beside them (ephemeral.go).
// Every change of state is pushed to virtual-kubelet through the NotifyPods callback; the PodStatus itself is
// derived by package podstatus from a snapshot of the record (snapshot.go), and reading it writes nothing.
package provider
