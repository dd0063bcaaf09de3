package provider

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/tools/record"
)

// TestRunAsNonRootBlocksCreation checks the runner: a container whose image runs as root waits with
// CreateContainerConfigError and the kubelet's message, and is never created.
func TestRunAsNonRootBlocksCreation(t *testing.T) {
	h := newHarness(t, "busybox", "app:1")
	h.fake.imageUsers["app:1"] = "1000"
	yes := true
	pod := lifecyclePod("nonroot", corev1.RestartPolicyAlways, nil, testContainer("root", "busybox"), testContainer("app", "app:1"))
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &yes}
	h.create(pod)
	h.waitContainer(ctrName(pod, "app", 1), "running")
	got, _ := h.waitReported(pod, 0, "CreateContainerConfigError", func(p *corev1.Pod) bool { return waitingFor(p, "root", "CreateContainerConfigError") })
	want := `container has runAsNonRoot and image will run as root (pod: "nonroot_default(5e7c1a2b-9d04-4f1e-8a6b-nonroot)", container: root)`
	if msg := statusOf(got, "root").State.Waiting.Message; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
	for _, c := range h.fake.callsTo("CreateContainer") {
		if c == ctrName(pod, "root", 1) {
			t.Errorf("the root container was created")
		}
	}
}

// TestPrivilegedNeedsAllowPrivileged checks that a node that does not allow privileged containers fails such a
// pod without creating anything, and that one that does runs it privileged.
func TestPrivilegedNeedsAllowPrivileged(t *testing.T) {
	yes := true
	priv := testContainer("agent", "busybox")
	priv.SecurityContext = &corev1.SecurityContext{Privileged: &yes}

	h := newHarness(t, "busybox")
	pod := lifecyclePod("priv", corev1.RestartPolicyAlways, nil, priv)
	h.create(pod)
	failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if failed.Status.Reason != "UnsupportedPodSpec" ||
		failed.Status.Message != "privileged containers are not allowed on this node (berth-kubelet --allow-privileged=false): spec.containers[agent].securityContext.privileged" {
		t.Errorf("reason %q message %q", failed.Status.Reason, failed.Status.Message)
	}
	if calls := h.fake.callsTo("CreatePod"); len(calls) != 0 {
		t.Errorf("CreatePod calls %q, want none", calls)
	}

	h = newHarness(t, "busybox")
	h.p.cfg.AllowPrivileged = true
	h.create(pod)
	spec := h.runningSpec(pod, "agent")
	if !spec.Privileged {
		t.Errorf("container not created privileged: %+v", spec)
	}
}

// TestHostNamespacesNeedAllowHostNamespaces checks that a node that does not allow the host's namespaces fails a
// pod asking for hostPID or hostIPC without creating anything, and that one that does creates the pod with them.
func TestHostNamespacesNeedAllowHostNamespaces(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     func(*corev1.Pod)
		message string
	}{
		{"hostPID", func(p *corev1.Pod) { p.Spec.HostPID = true }, "spec.hostPID"},
		{"hostIPC", func(p *corev1.Pod) { p.Spec.HostIPC = true }, "spec.hostIPC"},
		{"both", func(p *corev1.Pod) { p.Spec.HostPID, p.Spec.HostIPC = true, true }, "spec.hostPID, spec.hostIPC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := lifecyclePod("host-ns", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
			tc.set(pod)
			h := newHarness(t, "busybox")
			h.create(pod)
			failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
			if want := "the host's PID and IPC namespaces are not allowed on this node (berth-kubelet --allow-host-namespaces=false): " + tc.message; failed.Status.Reason != "UnsupportedPodSpec" || failed.Status.Message != want {
				t.Errorf("reason %q message %q; want UnsupportedPodSpec %q", failed.Status.Reason, failed.Status.Message, want)
			}
			if calls := h.fake.callsTo("CreatePod"); len(calls) != 0 {
				t.Errorf("CreatePod calls %q, want none", calls)
			}

			h = newHarness(t, "busybox")
			h.p.cfg.AllowHostNamespaces = true
			h.create(pod)
			spec := h.runningSpec(pod, "a")
			if spec.HostIPC != pod.Spec.HostIPC {
				t.Errorf("container HostIPC %v, want %v", spec.HostIPC, pod.Spec.HostIPC)
			}
		})
	}
}

// TestCapabilitiesNeedAllowedCapabilities checks the runner: by default a pod adding NET_ADMIN fails without
// anything created, with a warning event and the field named; a node allowing it runs it with the capability.
func TestCapabilitiesNeedAllowedCapabilities(t *testing.T) {
	c := testContainer("app", "busybox")
	c.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}
	pod := lifecyclePod("netadmin", corev1.RestartPolicyAlways, nil, c)

	h := newHarness(t, "busybox")
	rec := record.NewFakeRecorder(100)
	h.p.cfg.Recorder = rec
	h.create(pod)
	failed, _ := h.waitReported(pod, 0, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	wantMsg := "capabilities beyond the container runtime's default set are not allowed on this node (berth-kubelet --allowed-capabilities=): spec.containers[app].securityContext.capabilities.add: NET_ADMIN"
	if failed.Status.Reason != "UnsupportedPodSpec" || failed.Status.Message != wantMsg {
		t.Errorf("reason %q message %q", failed.Status.Reason, failed.Status.Message)
	}
	if st := statusOf(failed, "app"); st.State.Waiting == nil || st.State.Waiting.Reason != "CreateContainerConfigError" || st.State.Waiting.Message != wantMsg {
		t.Errorf("container state %+v", st.State)
	}
	if ev := <-rec.Events; ev != "Warning UnsupportedPodSpec "+wantMsg {
		t.Errorf("event %q", ev)
	}
	if calls := h.fake.callsTo("CreatePod"); len(calls) != 0 {
		t.Errorf("CreatePod calls %q, want none", calls)
	}

	h = newHarness(t, "busybox")
	h.p.cfg.AllowedCapabilities = []string{"NET_ADMIN"}
	h.create(pod)
	spec := h.runningSpec(pod, "app")
	if !reflect.DeepEqual(spec.CapAdd, []string{"CAP_NET_ADMIN"}) {
		t.Errorf("CapAdd %q, want CAP_NET_ADMIN", spec.CapAdd)
	}
}

// TestExtendedResourcesRejected checks that a pod asking for a device plugin's resource the node does not have
// fails as the kubelet's admission rejects it, and that one within the node's allocatable runs.
func TestExtendedResourcesRejected(t *testing.T) {
	c := testContainer("app", "busybox")
	gpu := corev1.ResourceName("example.com/gpu")
	c.Resources.Limits = corev1.ResourceList{gpu: resource.MustParse("2")}
	c.Resources.Requests = corev1.ResourceList{gpu: resource.MustParse("2"), corev1.ResourceCPU: resource.MustParse("100m")}
	pod := lifecyclePod("gpu", corev1.RestartPolicyAlways, nil, c)
	wantRejected(t, pod, "OutOfexample.com/gpu", "Node didn't have enough resource: example.com/gpu, requested: 2, used: 0, capacity: 0")

	h := newHarness(t, "busybox")
	h.p.cfg.Allocatable = corev1.ResourceList{gpu: resource.MustParse("4"), corev1.ResourceCPU: resource.MustParse("2")}
	h.create(pod)
	h.waitContainer(ctrName(pod, "app", 1), "running")
}
