package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podman"
)

// refusalCase is a pod of TestRefusedPodSpecFields: spec is its spec's extra lines (indented as spec's children,
// several separated by "\n"), container its container's; reason, event and message are what the user sees.
type refusalCase struct {
	name            string
	spec, container string
	reason, event   string
	message         string
}

// podmanInfo reads node i's Podman host.
func podmanInfo(ctx context.Context, i int) (podman.HostInfo, error) {
	rt, err := podman.Dial(ctx, testCluster.PodmanURLs()[i])
	if err != nil {
		return podman.HostInfo{}, err
	}
	return rt.Info(ctx)
}

// TestRefusedPodSpecFields applies, through the real apiserver, one pod per PodSpec field Berth cannot honour yet
// (docs/podspec.md), and per pod the kubelet itself would reject (another OS, an extended resource the node lacks,
// AppArmor on a host without it), and checks that each fails as the inventory says, never running without the
// field: phase Failed, the reason and message, and the Warning event a user sees. The apiserver of the test's
// control plane (Kubernetes 1.37, default feature gates) accepts every one of these pods.
func TestRefusedPodSpecFields(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	// Refused for what Berth cannot run yet: reason and event UnsupportedPodSpec, naming the fields.
	unsupported := func(name, spec, container, fields string) refusalCase {
		return refusalCase{name: name, spec: spec, container: container, reason: "UnsupportedPodSpec", event: "UnsupportedPodSpec",
			message: "Berth cannot run this pod yet; unsupported: " + fields}
	}
	// Refused for a volume: reason UnsupportedVolume and a FailedMount event, as a kubelet's pod whose volume
	// cannot be mounted.
	volume := func(name, source, why string) refusalCase {
		return refusalCase{name: name, spec: "volumes: [{name: data, " + source + "}]", container: "volumeMounts: [{name: data, mountPath: /data}]",
			reason: "UnsupportedVolume", event: "FailedMount", message: "Berth refuses this pod's volumes: spec.volumes[data]: " + why}
	}
	// Rejected as by the kubelet: its reason for the status and the event, its message in the event and after
	// "Pod was rejected: " in the status.
	rejected := func(name, spec, container, reason, why string) refusalCase {
		return refusalCase{name: name, spec: spec, container: container, reason: reason, event: reason, message: "Pod was rejected: " + why}
	}
	tests := []refusalCase{
		unsupported("supplemental-groups-strict", "securityContext: {supplementalGroupsPolicy: Strict}", "",
			"spec.securityContext.supplementalGroupsPolicy"),
		// The API allows volumeDevices only from a persistentVolumeClaim (or ephemeral) volume; the device is named
		// (fields come before volumes).
		unsupported("volume-devices", "volumes: [{name: data, persistentVolumeClaim: {claimName: missing}}]",
			"volumeDevices: [{name: data, devicePath: /dev/xvda}]", "spec.containers[main].volumeDevices"),
		// Dynamic resource allocation: the pod's claim (which need not exist for the pod to be created) and the
		// container's use of it.
		unsupported("resource-claims", "resourceClaims: [{name: gpu, resourceClaimName: missing}]", "resources: {claims: [{name: gpu}]}",
			"spec.resourceClaims, spec.containers[main].resources.claims"),
		// The API allows hugepages only beside a cpu or memory request or limit; the memory limit is honoured.
		unsupported("hugepages-limit", "", "resources: {limits: {hugepages-2Mi: 2Mi, memory: 64Mi}}",
			"spec.containers[main].resources.limits[hugepages-2Mi]"),
		// An app container's restartPolicy other than the pod's (Never here).
		unsupported("container-restart-policy", "", "restartPolicy: Always", "spec.containers[main].restartPolicy: Always"),
		// The API wants restartPolicyRules beside a container restartPolicy: here the pod's, which Berth honours, so
		// the rules alone are named.
		unsupported("container-restart-rules", "", "restartPolicy: Never\nrestartPolicyRules: [{action: Restart, exitCodes: {operator: In, values: [42]}}]",
			"spec.containers[main].restartPolicyRules"),
		volume("nfs-volume", "nfs: {server: 192.0.2.1, path: /exports}", "this volume type is not supported"),
		// With hostUsers: false, a hostPath the node allows, and an image volume: neither can be mapped into the
		// pod's user namespace.
		{name: "user-namespace-host-path", spec: "hostUsers: false\nvolumes: [{name: data, hostPath: {path: " + binDir + "}}]",
			container: "volumeMounts: [{name: data, mountPath: /data}]", reason: "UnsupportedVolume", event: "FailedMount",
			message: "Berth refuses this pod's volumes: spec.volumes[data]: hostPath volumes are not supported with spec.hostUsers: false " +
				"(without idmapped mounts, the host's owners of its files cannot be mapped into the pod's user namespace)"},
		{name: "user-namespace-image-volume", spec: "hostUsers: false\nvolumes: [{name: data, image: {reference: " + busybox + "}}]",
			container: "volumeMounts: [{name: data, mountPath: /data}]", reason: "UnsupportedVolume", event: "FailedMount",
			message: "Berth refuses this pod's volumes: spec.volumes[data]: image volumes are not supported with spec.hostUsers: false " +
				"(Podman cannot mount an image into a pod's user namespace)"},
		volume("cluster-trust-bundle", "projected: {sources: [{clusterTrustBundle: {signerName: example.com/e2e, labelSelector: {}, path: ca.pem}}]}",
			"projected clusterTrustBundle sources are not supported"),
		// Refused too though the README does not list them (docs/podspec.md does).
		volume("pod-certificate", "projected: {sources: [{podCertificate: {signerName: example.com/e2e, keyType: ED25519, credentialBundlePath: creds.pem}}]}",
			"projected podCertificate sources are not supported"),
		unsupported("recursive-read-only", "volumes: [{name: data, emptyDir: {}}]", "volumeMounts: [{name: data, mountPath: /data, readOnly: true, recursiveReadOnly: Enabled}]",
			"spec.containers[main].volumeMounts[data].recursiveReadOnly: Enabled"),
		rejected("windows", "os: {name: windows}", "", "PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS"),
		// An extended resource the node has none of (Berth has no device plugins): the kubelet's OutOf<resource>.
		rejected("extended-resource", "", "resources: {requests: {example.com/widget: 1}, limits: {example.com/widget: 1}}",
			"OutOfexample.com/widget", "Node didn't have enough resource: example.com/widget, requested: 1, used: 0, capacity: 0"),
	}
	// AppArmor: a host without it rejects any profile but Unconfined, the pod's or a container's, as the kubelet
	// does; one with it runs every profile (TestAppArmorProfiles).
	info, err := podmanInfo(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !info.AppArmor {
		const noAppArmor = "Cannot enforce AppArmor: AppArmor is not enabled on the host"
		tests = append(tests,
			rejected("apparmor", "", "securityContext: {appArmorProfile: {type: RuntimeDefault}}", "AppArmor", noAppArmor),
			rejected("apparmor-pod-localhost", "securityContext: {appArmorProfile: {type: Localhost, localhostProfile: e2e}}", "", "AppArmor", noAppArmor))
	}
	var manifests []string
	for _, tc := range tests {
		m := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  nodeName: %s
  containers:
  - name: main
    image: %s
    command: ["true"]
`, tc.name, testCluster.NodeNames()[0], busybox)
		if tc.container != "" {
			m += "    " + strings.ReplaceAll(tc.container, "\n", "\n    ") + "\n"
		}
		if tc.spec != "" {
			m += "  " + strings.ReplaceAll(tc.spec, "\n", "\n  ") + "\n"
		}
		manifests = append(manifests, m)
	}
	kubectl(t, strings.Join(manifests, "---\n"), "apply", "-n", ns, "-f", "-")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := waitPod(t, ns, tc.name, 2*time.Minute, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
			if pod.Status.Reason != tc.reason || pod.Status.Message != tc.message {
				t.Errorf("status reason %q message %q, want %q %q", pod.Status.Reason, pod.Status.Message, tc.reason, tc.message)
			}
			for _, s := range pod.Status.ContainerStatuses {
				if s.State.Running != nil || s.State.Terminated != nil && s.State.Terminated.StartedAt.Unix() > 0 {
					t.Errorf("container %s ran: %+v", s.Name, s.State)
				}
			}
			want := strings.TrimPrefix(tc.message, "Pod was rejected: ")
			waitEvent(t, ns, tc.name, tc.event, want, 30*time.Second)
		})
	}
}
