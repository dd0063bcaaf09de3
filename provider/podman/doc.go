// Package podman puts Podman's REST API behind small interfaces; it is the only package of Berth that imports
// Podman's bindings (pkg/bindings), so that the provider's lifecycle and status logic can be tested on a fake.
//
// As CRI splits the runtime into RuntimeService and ImageService, Runtime is the composition of one interface per
// concern, each in the file that holds its types and Client's implementation of it:
//
//   - HostRuntime (host.go): the service answers, the host's resources, the pods' network.
//   - ImageRuntime (images.go): local images, pulls, tags, imports.
//   - PodRuntime (pods.go): Podman pods, the sandboxes of Kubernetes pods.
//   - ContainerRuntime (containers.go, watch.go, resources.go): containers' life, events, usage and limits.
//   - StreamRuntime (stream.go, logs.go, files.go, exec.go): logs, files, exec and attach.
//
// Client (client.go) implements Runtime over the API; errors.go tells which errors mean a missing object or an
// unreachable service. Everything Podman-specific (spec generation, API quirks of older services) stays here.
package podman
