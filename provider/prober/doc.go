// Package prober runs a container's liveness, readiness and startup probes, as the kubelet's prober does: one
// worker per probe of a container run, each probing on its period once its initial delay has passed and acting
// only when a result has held for the probe's success or failure threshold.
//
// The prober keeps no container state of its own. It talks to the pod runner through the small Container
// interface: it execs in the container and reads its state through it, records the Unhealthy and ProbeWarning
// events through it, and hands it the results that matter: the container started (startup probe), its readiness
// changed, or it failed its liveness or startup probe and is to be killed. The runner owns the container's record
// and the kill.
package prober
