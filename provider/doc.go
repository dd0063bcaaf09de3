// Package provider is Berth's virtual-kubelet provider: it runs the pods bound to its node as Podman pods and
// reports their life back to the apiserver the way a kubelet does (phases, conditions, container states,
// restarts with back-off, events). docs/architecture.md has the picture.
//
// It is the kubelet's pod workers and little else; each other concern is a room of its own, reached through a
// small interface, none importing this package:
//
//   - podspec: pure translation of a pod into Podman specs, and admission (Admit).
//   - podstatus: pure derivation of a PodStatus from a snapshot of a pod's record.
//   - prober: one worker per probe.
//   - volume: the volume manager (folders, payloads, mounts, emptyDir usage).
//   - hairpin: hairpin mode on the pods' bridge ports, so that a pod reaches itself through a Service.
//   - node: the Node object's status setters and the node's Lease.
//   - podman: Podman's REST API behind small interfaces (host, images, pods, containers, streams).
//
// Provider is the node: virtual-kubelet's interface (provider.go), the table of pods, the node-wide loops that Run
// starts, and Podman's reachability (reachability.go). Each pod has one record (record.go) and one runner, a
// podWorker (run.go), which owns everything done to the pod. The files follow the runner's steps: it admits the
// pod (run.go), sets up its volumes (podvolumes.go, with the node's admission policy), creates the Podman pod, the
// sandbox (sandbox.go: RuntimeClass, IP; dns.go, hosts.go), runs init containers in order, then supervises the app
// containers, restarting them as the pod's restartPolicy says (run.go). One attempt to run a container goes pull
// (images.go: pull policy, mirrors, secrets, and a new image while it runs) → buildSpec → create → start → wait
// (attempt.go; env.go, termination.go's log file and hosts.go feed the spec) → recordExit (termination.go: the
// exit, the OOM kill, the termination message). What else happens to a running pod has a file each, all of them
// methods of its podWorker: hooks.go (postStart, preStop, and the exec they run), probe.go (its probe workers),
// ephemeral.go (kubectl debug), allocation.go and resize.go (in-place resize: the resources admitted, then
// actuated), deadline.go (activeDeadlineSeconds), evict.go (local storage limits), kill.go (killing a container,
// stopping a pod for good, and deletion in the kubelet's termination order). exits.go follows Podman's exit events
// for the waiting runners; adopt.go takes over the pods an earlier process left running.
//
// Every change of state marks the record dirty and commits what a report fixes (snapshot.go: condition
// transition times, a terminal phase); the dispatcher Run starts reports the pod's status, derived by podstatus,
// through the NotifyPods callback. Reading a pod (GetPod, GetPods) writes nothing.
package provider
