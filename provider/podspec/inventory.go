package podspec

import "slices"

// FieldClass is what Berth does with a field of a PodSpec.
type FieldClass string

// The three things a node can do with a field. There is no fourth: a field Berth would ignore is refused.
const (
	// Honoured fields do what they ask, as with a kubelet; the row's Test shows it.
	Honoured FieldClass = "honoured"
	// Refused fields fail the pod (or the container) with the reason and message of the row's Refusal rather
	// than run it without them.
	Refused FieldClass = "refused"
	// NotNodesJob fields are acted on by another component (the scheduler, the API server, a controller); the
	// row's Why says which.
	NotNodesJob FieldClass = "not a node's job"
)

// Field is one row of the inventory: a field of a PodSpec, or a whole subtree of them, and what Berth does with it.
type Field struct {
	// Path is the field in kubectl explain's notation below the pod (spec.containers.ports.hostPort): JSON names
	// joined by dots, lists and maps without indices. "{a,b}" stands for each alternative, so that one row can
	// name the same field of init, app and ephemeral containers.
	//
	// A Refused or NotNodesJob row covers every field below its path. An Honoured row covers its path only: each
	// field below it has a row of its own, so that a field the next Kubernetes version adds below an honoured
	// one is not taken as honoured unseen.
	Path string
	// Class is what Berth does with the field.
	Class FieldClass
	// Test names the test that shows an honoured field at work, as package.TestName (e2e.TestAttach,
	// podspec.TestAdmit; provider is the package of provider/*.go).
	Test string
	// Refusal is what a user sees: the reason and the message (or its start). On an honoured row, it names the
	// values that are refused nonetheless, and how.
	Refusal string
	// Why says which component acts on a NotNodesJob field, or how an honoured one is honoured when it is not
	// obvious.
	Why string
}

// Inventory is what Berth does with every field of a PodSpec, checked against the API types by
// TestInventoryCoversPodSpec and published as docs/podspec.md (hack/podspecdoc).
func Inventory() []Field {
	return slices.Clone(inventory)
}

// Prefixes of the messages of refusals, as the pod's status and its event show them.
const (
	podRefused       = "UnsupportedPodSpec: Berth cannot run this pod yet; unsupported: "
	volumeRefused    = "UnsupportedVolume (event FailedMount): Berth refuses this pod's volumes: "
	apiRefuses       = "the API server refuses it on an ephemeral container"
	schedulers       = "the scheduler's"
	containerKinds   = "{initContainers,containers,ephemeralContainers}"
	runningKinds     = "{initContainers,containers}"
	probes           = "{livenessProbe,readinessProbe,startupProbe}"
	hooks            = "lifecycle.{postStart,preStop}"
	selinuxRefused   = "on a Podman host with SELinux: "
	windowsOnly      = "Windows only: a Linux node ignores it, as the kubelet on Linux does (a pod with spec.os.name: windows is rejected, PodOSNotSupported)"
	unsupportedTypes = "{gcePersistentDisk,awsElasticBlockStore,gitRepo,nfs,iscsi,glusterfs,rbd,flexVolume,cinder,cephfs,flocker,fc,azureFile,vsphereVolume,quobyte,azureDisk,photonPersistentDisk,portworxVolume,scaleIO,storageos,csi}"
)

var inventory = []Field{
	// The pod as a whole.
	{Path: "spec.restartPolicy", Class: Honoured, Test: "e2e.TestCrashingContainerBacksOff"},
	{Path: "spec.terminationGracePeriodSeconds", Class: Honoured, Test: "e2e.TestGracefulDelete"},
	{Path: "spec.activeDeadlineSeconds", Class: Honoured, Test: "e2e.TestActiveDeadline"},
	{Path: "spec.nodeName", Class: NotNodesJob, Why: "the scheduler's binding (or the user's): the node runs the pods bound to it"},
	{Path: "spec.nodeSelector", Class: NotNodesJob, Why: schedulers + " (a kubelet re-checks it for pods bound by spec.nodeName, Berth does not)"},
	{Path: "spec.affinity", Class: NotNodesJob, Why: schedulers},
	{Path: "spec.tolerations", Class: NotNodesJob, Why: schedulers + ", and the taint eviction controller's for NoExecute taints"},
	{Path: "spec.schedulerName", Class: NotNodesJob, Why: "picks the scheduler"},
	{Path: "spec.schedulingGates", Class: NotNodesJob, Why: schedulers},
	{Path: "spec.schedulingGroup", Class: NotNodesJob, Why: schedulers + " (gang scheduling)"},
	{Path: "spec.topologySpreadConstraints", Class: NotNodesJob, Why: schedulers},
	{Path: "spec.priorityClassName", Class: NotNodesJob, Why: "the Priority admission plugin turns it into spec.priority"},
	{Path: "spec.priority", Class: NotNodesJob, Why: schedulers + " (preemption); Berth evicts by emptyDir size only, not by priority"},
	{Path: "spec.preemptionPolicy", Class: NotNodesJob, Why: schedulers},
	{Path: "spec.evictionResponders", Class: NotNodesJob, Why: "the eviction request controller's"},
	{Path: "spec.os.name", Class: Honoured, Test: "podspec.TestAdmitNoSilentFields",
		Refusal: `other than linux: PodOSNotSupported, "Pod was rejected: Failed to admit pod as the OS field doesn't match node OS"`},
	{Path: "spec.runtimeClassName", Class: Honoured, Test: "e2e.TestRuntimeClass",
		Refusal: `a class that does not exist, or whose handler is not among berth-kubelet --runtime-handlers: FailedCreatePodSandBox, "Failed to create pod sandbox: runtimeclass.node.k8s.io \"<name>\" not found" or "...: failed to get sandbox runtime: no runtime for \"<handler>\" is configured", tried again, as with a kubelet`,
		Why:     "the class's handler is the Podman OCI runtime of the pod's containers"},
	{Path: "spec.overhead", Class: Honoured, Test: "e2e.TestPodLevelResources",
		Why: "added to the pod's requests and limits, which bound the Podman pod's cgroup as the kubelet's pod cgroup"},
	{Path: "spec.resources.{limits,requests}", Class: Honoured, Test: "e2e.TestPodLevelResources",
		Why: "the Podman pod's cgroup (cpu.shares, CFS quota, memory limit), as the kubelet's ResourceConfigForPod"},
	{Path: "spec.resources.claims", Class: NotNodesJob, Why: "the API server refuses claims in pod-level resources"},
	{Path: "spec.resourceClaims", Class: Refused, Refusal: podRefused + "spec.resourceClaims", Why: "no DRA driver prepares devices"},
	{Path: "spec.hostUsers", Class: Honoured, Test: "e2e.TestUserNamespaces",
		Refusal: "false on a node whose host makes no user namespaces (max_user_namespaces 0), with spec.hostNetwork, or with an fsGroup of 65536 or more: " +
			"UnsupportedPodSpec: Berth cannot give this pod its user namespace: <why>; with a hostPath, claim or image volume: " + volumeRefused +
			"spec.volumes[<name>]: hostPath (image) volumes (persistent volume claims) are not supported with spec.hostUsers: false",
		Why: "false: as the kubelet, a user namespace of the pod's own, 65536 host IDs from 65536 up, distinct per pod and shared by its containers " +
			"(berth-kubelet --user-namespaces-first-id); the folders of its emptyDir, configMap, secret, downwardAPI and projected volumes are chown'd " +
			"to its root and fsGroup (runc 1.1 has no idmapped mounts). Unset or true: the host's"},
	{Path: "spec.readinessGates.conditionType", Class: Honoured, Test: "podstatus.TestDeriveReadinessGates"},
	{Path: "spec.imagePullSecrets.name", Class: Honoured, Test: "provider.TestPullAuth"},
	{Path: "spec.serviceAccountName", Class: Honoured, Test: "e2e.TestServiceAccountTokenInClusterClient"},
	{Path: "spec.serviceAccount", Class: NotNodesJob, Why: "deprecated alias of serviceAccountName, which the API server fills"},
	{Path: "spec.automountServiceAccountToken", Class: NotNodesJob,
		Why: "the ServiceAccount admission plugin adds the kube-api-access volume or not; the node mounts the volumes the pod has"},
	{Path: "spec.enableServiceLinks", Class: Honoured, Test: "provider.TestEnvironmentServiceLinks"},

	// Names, network and namespaces.
	{Path: "spec.hostname", Class: Honoured, Test: "e2e.TestEtcHostsNames"},
	{Path: "spec.subdomain", Class: Honoured, Test: "e2e.TestEtcHostsNames"},
	{Path: "spec.setHostnameAsFQDN", Class: Honoured, Test: "e2e.TestEtcHostsNames"},
	{Path: "spec.hostnameOverride", Class: Honoured, Test: "e2e.TestEtcHostsNames"},
	{Path: "spec.hostAliases.{ip,hostnames}", Class: Honoured, Test: "e2e.TestPodSpecHostNetworkAndAliases"},
	{Path: "spec.hostNetwork", Class: Honoured, Test: "e2e.TestPodSpecHostNetworkAndAliases"},
	{Path: "spec.dnsPolicy", Class: Honoured, Test: "e2e.TestPodSpecDNS"},
	{Path: "spec.dnsConfig.{nameservers,searches,options.name,options.value}", Class: Honoured, Test: "e2e.TestPodSpecDNS"},
	{Path: "spec.{hostPID,hostIPC}", Class: Honoured, Test: "e2e.TestHostNamespaces",
		Refusal: "on a node without berth-kubelet --allow-host-namespaces: UnsupportedPodSpec: the host's PID and IPC namespaces are not allowed on this node"},
	{Path: "spec.shareProcessNamespace", Class: Honoured, Test: "e2e.TestShareProcessNamespace"},

	// The pod's security context.
	{Path: "spec.securityContext.{runAsUser,runAsGroup,fsGroup,supplementalGroups}", Class: Honoured, Test: "e2e.TestPodSpecSecurityContext"},
	{Path: "spec.securityContext.runAsNonRoot", Class: Honoured, Test: "provider.TestRunAsNonRootBlocksCreation"},
	{Path: "spec.securityContext.fsGroupChangePolicy", Class: Honoured, Test: "volume.TestApplyFSGroupChangePolicy"},
	{Path: "spec.securityContext.supplementalGroupsPolicy", Class: Honoured, Test: "podspec.TestUnsupported",
		Refusal: podRefused + "spec.securityContext.supplementalGroupsPolicy (Strict)", Why: "Merge, the default: Podman adds the image's groups of the user"},
	{Path: "spec.securityContext.sysctls.{name,value}", Class: Honoured, Test: "e2e.TestSysctls",
		Refusal: "beyond the safe sysctls and berth-kubelet --allowed-unsafe-sysctls: SysctlForbidden, as the kubelet"},
	{Path: "spec.securityContext.seccompProfile.type", Class: Honoured, Test: "e2e.TestSeccompProfiles",
		Why: "for the containers that set none, as the kubelet: RuntimeDefault is Podman's default profile, Unconfined none; unset is Unconfined, or RuntimeDefault under berth-kubelet --seccomp-default"},
	{Path: "spec.securityContext.seccompProfile.localhostProfile", Class: Honoured, Test: "e2e.TestSeccompProfiles",
		Why: "the profile file under <root-dir>/seccomp on the Podman host, as the kubelet's; a missing file fails the container with CreateContainerError"},
	{Path: "spec.securityContext.appArmorProfile.type", Class: Honoured, Test: "e2e.TestAppArmorProfiles",
		Refusal: `on a Podman host without AppArmor, any profile but Unconfined: AppArmor, "Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host", as the kubelet`,
		Why:     "on a host with AppArmor: RuntimeDefault is Podman's default profile, Unconfined none, Localhost the named profile loaded on the host (podspec.TestAppArmorProfile; the e2e test reads /proc/self/attr/current there); on a host without, Unconfined has nothing to confine"},
	{Path: "spec.securityContext.appArmorProfile.localhostProfile", Class: Honoured, Test: "podspec.TestAppArmorProfile",
		Refusal: "as spec.securityContext.appArmorProfile.type", Why: "the profile's name, as the host has it loaded"},
	{Path: "spec.securityContext.seLinuxOptions.{user,role,type,level}", Class: Honoured, Test: "podspec.TestAdmitNoSilentFields",
		Refusal: selinuxRefused + podRefused + "spec.securityContext.seLinuxOptions", Why: "on a host without SELinux they have no effect, as with a kubelet there"},
	{Path: "spec.securityContext.seLinuxChangePolicy", Class: Honoured, Test: "podspec.TestAdmitNoSilentFields",
		Refusal: selinuxRefused + podRefused + "spec.securityContext.seLinuxChangePolicy", Why: "on a host without SELinux it has no effect, as with a kubelet there"},
	{Path: "spec.securityContext.windowsOptions", Class: NotNodesJob, Why: windowsOnly},

	// Containers: what init, app and ephemeral containers share.
	{Path: "spec." + containerKinds + ".name", Class: Honoured, Test: "e2e.TestKubectlPodRunsThenSucceeds"},
	{Path: "spec." + containerKinds + ".image", Class: Honoured, Test: "e2e.TestImagePullsFromRegistry",
		Why: "fully qualified as Kubernetes reads it (foo is docker.io/library/foo:latest, e2e.TestShortImageNameIsDockerHub)"},
	{Path: "spec." + containerKinds + ".imagePullPolicy", Class: Honoured, Test: "provider.TestKubeletNeverPull"},
	{Path: "spec." + containerKinds + ".{command,args,workingDir}", Class: Honoured, Test: "podspec.TestContainer"},
	{Path: "spec." + containerKinds + ".{stdin,tty}", Class: Honoured, Test: "e2e.TestKubectlDebug"},
	{Path: "spec." + containerKinds + ".stdinOnce", Class: Honoured, Test: "e2e.TestAttach",
		Why: "Podman has no such setting: its attach ends the container's stdin with the client's, as stdinOnce: true asks, whatever the field says"},
	{Path: "spec." + containerKinds + ".{terminationMessagePath,terminationMessagePolicy}", Class: Honoured, Test: "e2e.TestPodSpecTerminationMessage"},
	{Path: "spec." + containerKinds + ".envFrom.{prefix,configMapRef.name,configMapRef.optional}", Class: Honoured, Test: "e2e.TestEnvironmentAsTheKubeletBuildsIt"},
	{Path: "spec." + containerKinds + ".envFrom.{secretRef.name,secretRef.optional}", Class: Honoured, Test: "e2e.TestSecretsStayOnTmpfsAndOutOfLogs"},
	{Path: "spec." + containerKinds + ".env.{name,value}", Class: Honoured, Test: "e2e.TestEnvironmentAsTheKubeletBuildsIt"},
	{Path: "spec." + containerKinds + ".env.valueFrom.{fieldRef.apiVersion,fieldRef.fieldPath,resourceFieldRef.containerName,resourceFieldRef.resource,resourceFieldRef.divisor}",
		Class: Honoured, Test: "e2e.TestEnvironmentAsTheKubeletBuildsIt"},
	{Path: "spec." + containerKinds + ".env.valueFrom.{configMapKeyRef,secretKeyRef}.{name,key,optional}", Class: Honoured, Test: "e2e.TestEnvironmentAsTheKubeletBuildsIt"},
	{Path: "spec." + containerKinds + ".env.valueFrom.fileKeyRef", Class: Refused,
		Refusal: "CreateContainerConfigError (event Failed): env valueFrom.fileKeyRef is not supported by Berth yet"},
	{Path: "spec." + containerKinds + ".volumeMounts.{name,mountPath,readOnly}", Class: Honoured, Test: "e2e.TestEmptyDirVolumes"},
	{Path: "spec." + runningKinds + ".volumeMounts.subPath", Class: Honoured, Test: "volume.TestSubPath",
		Refusal: "into an image volume: " + volumeRefused + "spec.containers[<name>].volumeMounts[<volume>]: subPath into an image volume is not supported (Podman mounts the image whole)"},
	{Path: "spec." + runningKinds + ".volumeMounts.subPathExpr", Class: Honoured, Test: "volume.TestContainerMounts",
		Refusal: "into an image volume: " + volumeRefused + "spec.containers[<name>].volumeMounts[<volume>]: subPath into an image volume is not supported (Podman mounts the image whole)"},
	{Path: "spec.ephemeralContainers.volumeMounts.{subPath,subPathExpr}", Class: NotNodesJob, Why: apiRefuses},
	{Path: "spec." + containerKinds + ".volumeMounts.mountPropagation", Class: Honoured, Test: "volume.TestContainerMounts",
		Why: "HostToContainer is rslave, Bidirectional rshared (a shared mount on the Podman host)"},
	{Path: "spec." + containerKinds + ".volumeMounts.recursiveReadOnly", Class: Honoured, Test: "podspec.TestAdmitNoSilentFields",
		Refusal: podRefused + "spec.containers[<name>].volumeMounts[<volume>].recursiveReadOnly: Enabled",
		Why:     "Disabled, and IfPossible as on a runtime without recursive read-only mounts"},
	{Path: "spec." + containerKinds + ".volumeMounts.bindMountOptions", Class: Refused,
		Refusal: podRefused + "spec.containers[<name>].volumeMounts[<volume>].bindMountOptions"},
	{Path: "spec." + containerKinds + ".volumeDevices", Class: Refused, Refusal: podRefused + "spec.containers[<name>].volumeDevices"},
	{Path: "spec.ephemeralContainers.targetContainerName", Class: Honoured, Test: "e2e.TestEphemeralContainerNamespaces"},

	// Containers' security contexts.
	{Path: "spec." + containerKinds + ".securityContext.{runAsUser,runAsGroup,readOnlyRootFilesystem,allowPrivilegeEscalation,capabilities.add,capabilities.drop}",
		Class: Honoured, Test: "e2e.TestPodSpecSecurityContext",
		Refusal: "capabilities beyond Podman's default set on a node without berth-kubelet --allowed-capabilities naming them: UnsupportedPodSpec: capabilities beyond the container runtime's default set are not allowed on this node"},
	{Path: "spec." + containerKinds + ".securityContext.runAsNonRoot", Class: Honoured, Test: "provider.TestRunAsNonRootBlocksCreation"},
	{Path: "spec." + containerKinds + ".securityContext.privileged", Class: Honoured, Test: "e2e.TestPodSpecSecurityContext",
		Refusal: "on a node without berth-kubelet --allow-privileged: UnsupportedPodSpec: privileged containers are not allowed on this node"},
	{Path: "spec." + containerKinds + ".securityContext.procMount", Class: Honoured, Test: "e2e.TestUnmaskedProc",
		Why: "Default: Podman masks /proc as the kubelet's runtimes do; Unmasked (with hostUsers: false, as the API requires): Podman's unmask=ALL"},
	{Path: "spec." + containerKinds + ".securityContext.seccompProfile.type", Class: Honoured, Test: "e2e.TestSeccompProfiles",
		Why: "as spec.securityContext.seccompProfile.type, before it"},
	{Path: "spec." + containerKinds + ".securityContext.seccompProfile.localhostProfile", Class: Honoured, Test: "e2e.TestSeccompProfiles",
		Why: "as spec.securityContext.seccompProfile.localhostProfile"},
	{Path: "spec." + containerKinds + ".securityContext.appArmorProfile.type", Class: Honoured, Test: "podspec.TestAppArmorProfile",
		Refusal: "as spec.securityContext.appArmorProfile.type, per container", Why: "a container's own profile over the pod's"},
	{Path: "spec." + containerKinds + ".securityContext.appArmorProfile.localhostProfile", Class: Honoured, Test: "podspec.TestAppArmorProfile",
		Refusal: "as spec.securityContext.appArmorProfile.type, per container"},
	{Path: "spec." + containerKinds + ".securityContext.seLinuxOptions.{user,role,type,level}", Class: Honoured, Test: "podspec.TestAdmitNoSilentFields",
		Refusal: selinuxRefused + podRefused + "spec.containers[<name>].securityContext.seLinuxOptions", Why: "on a host without SELinux they have no effect, as with a kubelet there"},
	{Path: "spec." + containerKinds + ".securityContext.windowsOptions", Class: NotNodesJob, Why: windowsOnly},

	// What init and app containers have and ephemeral containers cannot.
	{Path: "spec.ephemeralContainers.{ports,resources,resizePolicy,restartPolicy,restartPolicyRules,lifecycle}", Class: NotNodesJob, Why: apiRefuses},
	{Path: "spec.ephemeralContainers." + probes, Class: NotNodesJob, Why: apiRefuses},
	{Path: "spec." + runningKinds + ".ports.{name,containerPort}", Class: Honoured, Test: "prober.TestRunProbeHandlers",
		Why: "a port is published only with a hostPort; names are for probes and hooks"},
	{Path: "spec.containers.ports.{hostPort,hostIP,protocol}", Class: Honoured, Test: "podspec.TestPod"},
	{Path: "spec.initContainers.ports.{hostPort,hostIP,protocol}", Class: Honoured, Test: "e2e.TestInitContainerHostPortNotPublished"},
	{Path: "spec." + runningKinds + ".resources.limits", Class: Honoured, Test: "e2e.TestResourcesBecomeCgroupLimits",
		Refusal: podRefused + "spec.containers[<name>].resources.limits[hugepages-<size>]",
		Why:     "cpu and memory become the container's cgroup limits; ephemeral-storage is enforced by eviction as the kubelet's (e2e.TestEphemeralStorageEviction); an extended resource the node lacks is rejected (OutOf<resource>)"},
	{Path: "spec." + runningKinds + ".resources.requests", Class: Honoured, Test: "e2e.TestResourcesBecomeCgroupLimits",
		Why: "cpu becomes cpu.shares; the rest is the scheduler's (memory requests do not set the QoS class's oom_score_adj, as a kubelet's do)"},
	{Path: "spec." + runningKinds + ".resources.claims", Class: Refused, Refusal: podRefused + "spec.containers[<name>].resources.claims"},
	{Path: "spec.containers.resizePolicy.{resourceName,restartPolicy}", Class: Honoured, Test: "e2e.TestPodResizeRestartContainer"},
	{Path: "spec.initContainers.resizePolicy.{resourceName,restartPolicy}", Class: Honoured, Test: "e2e.TestPodResizeInitContainer"},
	{Path: "spec.initContainers.restartPolicy", Class: Honoured, Test: "e2e.TestSidecarsStopInTerminationOrder",
		Refusal: podRefused + "spec.initContainers[<name>].restartPolicy: <policy>, unless Always (a sidecar) or the policy the init container has anyway",
		Why:     "Always: a sidecar"},
	{Path: "spec.containers.restartPolicy", Class: Honoured, Test: "podspec.TestAdmitNoSilentFields",
		Refusal: podRefused + "spec.containers[<name>].restartPolicy: <policy>, unless the pod's", Why: "the pod's restartPolicy"},
	{Path: "spec." + runningKinds + ".restartPolicyRules", Class: Refused, Refusal: podRefused + "spec.containers[<name>].restartPolicyRules"},

	// Probes: on app containers and sidecars (the API refuses them on other init containers).
	{Path: "spec." + runningKinds + "." + probes + ".exec.command", Class: Honoured, Test: "prober.TestRunProbeExec"},
	{Path: "spec." + runningKinds + "." + probes + ".httpGet.{path,port,host,scheme,httpHeaders.name,httpHeaders.value}", Class: Honoured, Test: "prober.TestRunProbeHandlers"},
	{Path: "spec." + runningKinds + "." + probes + ".httpGet.protocol", Class: Honoured, Test: "prober.TestRunProbeProtocols"},
	{Path: "spec." + runningKinds + "." + probes + ".tcpSocket.{port,host}", Class: Honoured, Test: "prober.TestRunProbeHandlers"},
	{Path: "spec." + runningKinds + "." + probes + ".grpc.{port,service,mode}", Class: Honoured, Test: "prober.TestRunProbeProtocols"},
	{Path: "spec." + runningKinds + "." + probes + ".{initialDelaySeconds,timeoutSeconds}", Class: Honoured, Test: "provider.TestProbeInitialDelayAndTimeout"},
	{Path: "spec." + runningKinds + "." + probes + ".{periodSeconds,successThreshold,failureThreshold}", Class: Honoured, Test: "prober.TestWorkerDoProbe"},
	{Path: "spec." + runningKinds + "." + probes + ".terminationGracePeriodSeconds", Class: Honoured, Test: "provider.TestKillGracePeriod"},

	// Lifecycle hooks.
	{Path: "spec." + runningKinds + ".lifecycle.postStart.exec.command", Class: Honoured, Test: "e2e.TestPostStartHooks"},
	{Path: "spec." + runningKinds + ".lifecycle.preStop.exec.command", Class: Honoured, Test: "e2e.TestPreStopHook"},
	{Path: "spec." + runningKinds + "." + hooks + ".httpGet.{path,port,host,scheme,httpHeaders.name,httpHeaders.value}", Class: Honoured, Test: "provider.TestHTTPHook"},
	{Path: "spec." + runningKinds + "." + hooks + ".httpGet.protocol", Class: Honoured, Test: "provider.TestHTTPHook",
		Why: "hooks speak HTTP/1.1 whatever it says, as the kubelet's"},
	{Path: "spec." + runningKinds + "." + hooks + ".sleep.seconds", Class: Honoured, Test: "provider.TestPreStopGracePeriod"},
	{Path: "spec." + runningKinds + "." + hooks + ".tcpSocket", Class: Refused,
		Refusal: `the hook fails, as with the kubelet: FailedPostStartHook or FailedPreStopHook, "Cannot run handler: invalid handler"`},
	{Path: "spec." + runningKinds + ".lifecycle.stopSignal", Class: Honoured, Test: "podspec.TestContainerStopSignal",
		Why: "Podman's stop signal of the container; the apiserver keeps the field only with the alpha ContainerStopSignals gate on"},

	// Volumes.
	{Path: "spec.volumes.name", Class: Honoured, Test: "e2e.TestEmptyDirVolumes"},
	{Path: "spec.volumes.hostPath.{path,type}", Class: Honoured, Test: "e2e.TestHostPathVolumes",
		Refusal: "outside berth-kubelet --allowed-host-paths: " + volumeRefused + `spec.volumes[<name>]: hostPath "<path>" is not under a path this node allows`},
	{Path: "spec.volumes.emptyDir.medium", Class: Honoured, Test: "e2e.TestEmptyDirVolumes",
		Refusal: volumeRefused + `spec.volumes[<name>]: emptyDir medium "HugePages" is not supported`},
	{Path: "spec.volumes.emptyDir.sizeLimit", Class: Honoured, Test: "e2e.TestEmptyDirSizeLimitEviction"},
	{Path: "spec.volumes.emptyDir.mode", Class: Refused,
		Refusal: volumeRefused + "spec.volumes[<name>]: emptyDir mode <mode> is not supported (Berth makes emptyDirs 0777)", Why: "0777, the default, is accepted"},
	{Path: "spec.volumes.{secret.secretName,configMap.name}", Class: Honoured, Test: "e2e.TestConfigMapSecretAndDownwardAPIVolumes"},
	{Path: "spec.volumes.{secret,configMap}.{items.key,items.path,items.mode,defaultMode,optional}", Class: Honoured, Test: "e2e.TestConfigMapSecretAndDownwardAPIVolumes"},
	{Path: "spec.volumes.downwardAPI.{defaultMode,items.path,items.mode,items.fieldRef.apiVersion,items.fieldRef.fieldPath}", Class: Honoured, Test: "e2e.TestConfigMapSecretAndDownwardAPIVolumes"},
	{Path: "spec.volumes.downwardAPI.items.resourceFieldRef.{containerName,resource,divisor}", Class: Honoured, Test: "volume.TestDownwardAPIPayload"},
	{Path: "spec.volumes.{secret,configMap,downwardAPI}.{defaultUser,items.user}", Class: Refused,
		Refusal: volumeRefused + "spec.volumes[<name>]: file owners (defaultUser, items[].user) are not supported"},
	{Path: "spec.volumes.projected.defaultMode", Class: Honoured, Test: "volume.TestProjectedServiceAccountVolume"},
	{Path: "spec.volumes.projected.sources.{secret,configMap}.{name,optional,items.key,items.path,items.mode}", Class: Honoured, Test: "volume.TestProjectedServiceAccountVolume"},
	{Path: "spec.volumes.projected.sources.downwardAPI.items.{path,mode,fieldRef.apiVersion,fieldRef.fieldPath,resourceFieldRef.containerName,resourceFieldRef.resource,resourceFieldRef.divisor}",
		Class: Honoured, Test: "volume.TestProjectedServiceAccountVolume"},
	{Path: "spec.volumes.projected.sources.serviceAccountToken.{audience,expirationSeconds,path}", Class: Honoured, Test: "volume.TestProjectedServiceAccountVolume"},
	{Path: "spec.volumes.projected.{defaultUser,sources.secret.items.user,sources.configMap.items.user,sources.downwardAPI.items.user,sources.serviceAccountToken.user}",
		Class: Refused, Refusal: volumeRefused + "spec.volumes[<name>]: file owners (defaultUser, items[].user, serviceAccountToken.user) are not supported"},
	{Path: "spec.volumes.projected.sources.clusterTrustBundle", Class: Refused,
		Refusal: volumeRefused + "spec.volumes[<name>]: projected clusterTrustBundle sources are not supported"},
	{Path: "spec.volumes.projected.sources.podCertificate", Class: Refused,
		Refusal: volumeRefused + "spec.volumes[<name>]: projected podCertificate sources are not supported"},
	{Path: "spec.volumes.image.{reference,pullPolicy}", Class: Honoured, Test: "e2e.TestImageVolume"},
	{Path: "spec.volumes.persistentVolumeClaim.{claimName,readOnly}", Class: Honoured, Test: "e2e.TestPersistentVolumeClaims",
		Refusal: "a claim bound to a PersistentVolume other than hostPath or local, of volumeMode Block, with mount options or the pv.beta.kubernetes.io/gid annotation, " +
			"or a hostPath one outside berth-kubelet --allowed-host-paths: " +
			volumeRefused + "spec.volumes[<name>]: claim <claim> is bound to PersistentVolume <pv> of type <type>; Berth mounts hostPath and local PersistentVolumes only",
		Why: "the claim's PersistentVolume, hostPath or local, bind-mounted as a kubelet without CSI drivers mounts it (readOnly: every mount read-only); " +
			"a claim missing or not bound yet keeps the pod in ContainerCreating with FailedMount events, retried"},
	{Path: "spec.volumes.ephemeral.volumeClaimTemplate.metadata", Class: Honoured, Test: "e2e.TestGenericEphemeralVolume",
		Refusal: "as spec.volumes.persistentVolumeClaim: " + volumeRefused + "spec.volumes[<name>]: ephemeral claim <pod>-<volume> is bound to PersistentVolume <pv> of type <type>; ...",
		Why:     "the ephemeral volume controller makes the claim <pod>-<volume>, owned by the pod, of the template; the node mounts it as a persistentVolumeClaim volume once bound"},
	{Path: "spec.volumes.ephemeral.volumeClaimTemplate.spec", Class: NotNodesJob,
		Why: "the ephemeral volume controller's, which copies it into the claim, then the PersistentVolume controller's and the scheduler's (VolumeBinding), which bind the claim"},
	{Path: "spec.volumes." + unsupportedTypes, Class: Refused, Refusal: volumeRefused + "spec.volumes[<name>]: this volume type is not supported"},
}
