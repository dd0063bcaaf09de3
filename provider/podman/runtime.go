package podman

// Labels Berth puts on every Podman pod and container it creates.
const (
	LabelManaged   = "berth.dev/managed"
	LabelNode      = "berth.dev/node"
	LabelNamespace = "berth.dev/namespace"
	LabelName      = "berth.dev/name"
	LabelUID       = "berth.dev/uid"
	LabelContainer = "berth.dev/container"
	LabelAttempt   = "berth.dev/attempt"
	// LabelUserNamespace, on the Podman pod of a pod with a user namespace of its own, is the host ID that is root
	// in it, so that a restarted berth-kubelet knows which ranges its pods hold.
	LabelUserNamespace = "berth.dev/userns"
)

// Runtime is the set of Podman operations Berth uses: the composition of the small interfaces, one per concern,
// as CRI splits RuntimeService and ImageService. Code that needs only one part takes that part. Implementations
// must be safe for concurrent use.
type Runtime interface {
	HostRuntime
	ImageRuntime
	PodRuntime
	ContainerRuntime
	StreamRuntime
}
