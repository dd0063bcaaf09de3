// Package podspec turns a Kubernetes pod into the Podman specs that run it, and decides whether a node admits the
// pod at all. It is pure: no Podman calls, no clock, and no I/O but the one Policy.ResolvePath stands in for (the
// symbolic links of hostPaths); what needs I/O is resolved by the caller and passed in.
//
// Translation: Pod makes the Podman pod (the sandbox) and Container one container of it, from the pod and the
// inputs the runner resolved beforehand (the environment, the bind mounts, the DNS settings, the hostname, the
// attempt), in translate.go; resources.go has the cgroup limits of both, names.go the names Podman knows them by
// (PodName, ContainerName) and FormatPod the name messages give a pod. VerifyRunAsNonRoot (security.go) checks a
// container's user against the image's before it is created.
//
// Admission: Admit checks a pod against the node's Policy (privileged containers, host namespaces, capabilities,
// sysctls, extended resources, volumes, what Berth cannot run yet) and returns the Rejection the runner records,
// nil when the pod may run; AdmitEphemeral does the same for an ephemeral container. Every check is in admit.go
// but the sysctl allowlist's (sysctl.go) and PersistentVolumeProblem (volumes.go), which the volume manager
// asks once a claim's volume is known.
//
// Inventory: Inventory says, for every field of a PodSpec, whether Berth honours it (and which test shows it),
// refuses it (and how) or leaves it to another component; a test checks it against the API types by reflection,
// and hack/podspecdoc publishes it as docs/podspec.md.
package podspec
