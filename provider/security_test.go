package provider

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	"github.com/berth-dev/berth/provider/podman"
)

func securityPod(psc *corev1.PodSecurityContext, csc *corev1.SecurityContext) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u-1"},
		Spec: corev1.PodSpec{
			SecurityContext: psc,
			Containers:      []corev1.Container{{Name: "app", Image: "busybox", SecurityContext: csc}},
		},
	}
}

func TestVerifyRunAsNonRoot(t *testing.T) {
	yes, no := true, false
	uid := func(v int64) *int64 { return &v }
	const pod = `(pod: "web_shop(u-1)", container: app)`
	tests := []struct {
		name      string
		psc       *corev1.PodSecurityContext
		csc       *corev1.SecurityContext
		imageUser string
		wantErr   string
	}{
		{name: "not asked", imageUser: ""},
		{name: "runAsNonRoot false", psc: &corev1.PodSecurityContext{RunAsNonRoot: &no}},
		{name: "image without user runs as root", psc: &corev1.PodSecurityContext{RunAsNonRoot: &yes},
			wantErr: "container has runAsNonRoot and image will run as root " + pod},
		{name: "image user 0", csc: &corev1.SecurityContext{RunAsNonRoot: &yes}, imageUser: "0:0",
			wantErr: "container has runAsNonRoot and image will run as root " + pod},
		{name: "image user numeric", csc: &corev1.SecurityContext{RunAsNonRoot: &yes}, imageUser: "1000:1000"},
		{name: "image user by name", psc: &corev1.PodSecurityContext{RunAsNonRoot: &yes}, imageUser: "nginx",
			wantErr: "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root " + pod},
		{name: "runAsUser 0", psc: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: uid(0)}, imageUser: "1000",
			wantErr: "container's runAsUser breaks non-root policy " + pod},
		{name: "runAsUser overrides the image's root", psc: &corev1.PodSecurityContext{RunAsNonRoot: &yes}, csc: &corev1.SecurityContext{RunAsUser: uid(1000)}},
		{name: "container turns it off", psc: &corev1.PodSecurityContext{RunAsNonRoot: &yes}, csc: &corev1.SecurityContext{RunAsNonRoot: &no}},
		{name: "invalid image uid", psc: &corev1.PodSecurityContext{RunAsNonRoot: &yes}, imageUser: "4294967296",
			wantErr: "container has runAsNonRoot and image has an invalid user id (4294967296)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := securityPod(tc.psc, tc.csc)
			err := verifyRunAsNonRoot(pod, &pod.Spec.Containers[0], tc.imageUser)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestNeedsImageUser(t *testing.T) {
	yes := true
	uid := int64(5)
	tests := []struct {
		name string
		psc  *corev1.PodSecurityContext
		csc  *corev1.SecurityContext
		want bool
	}{
		{name: "no security context"},
		{name: "runAsNonRoot without user", psc: &corev1.PodSecurityContext{RunAsNonRoot: &yes}, want: true},
		{name: "runAsNonRoot with user", psc: &corev1.PodSecurityContext{RunAsNonRoot: &yes}, csc: &corev1.SecurityContext{RunAsUser: &uid}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := securityPod(tc.psc, tc.csc)
			if got := needsImageUser(pod, &pod.Spec.Containers[0]); got != tc.want {
				t.Errorf("needsImageUser = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestApplySecurityContext(t *testing.T) {
	yes, no := true, false
	fsGroup := int64(2000)
	tests := []struct {
		name string
		psc  *corev1.PodSecurityContext
		csc  *corev1.SecurityContext
		want podman.ContainerSpec
	}{
		{name: "none", want: podman.ContainerSpec{}},
		{
			name: "groups: fsGroup then supplementalGroups",
			psc:  &corev1.PodSecurityContext{FSGroup: &fsGroup, SupplementalGroups: []int64{4000, 4001}},
			want: podman.ContainerSpec{Groups: []string{"2000", "4000", "4001"}},
		},
		{
			name: "read-only root, no privilege escalation, capabilities",
			csc: &corev1.SecurityContext{ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
				Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN", "CAP_SYS_TIME"}, Drop: []corev1.Capability{"net_raw"}}},
			want: podman.ContainerSpec{ReadOnlyRootfs: true, NoNewPrivileges: true,
				CapAdd: []string{"CAP_NET_ADMIN", "CAP_SYS_TIME"}, CapDrop: []string{"CAP_NET_RAW"}},
		},
		{
			name: "allowPrivilegeEscalation true or unset keeps no_new_privs off",
			csc:  &corev1.SecurityContext{AllowPrivilegeEscalation: &yes, ReadOnlyRootFilesystem: &no},
			want: podman.ContainerSpec{},
		},
		{
			name: "drop ALL, add one",
			csc:  &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}, Drop: []corev1.Capability{"ALL"}}},
			want: podman.ContainerSpec{CapAdd: []string{"CAP_NET_BIND_SERVICE"}, CapDrop: []string{"ALL"}},
		},
		{
			name: "added and dropped ends dropped",
			csc: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{
				Add: []corev1.Capability{"ALL", "CHOWN", "KILL"}, Drop: []corev1.Capability{"ALL", "CAP_KILL"}}},
			want: podman.ContainerSpec{CapAdd: []string{"CAP_CHOWN"}, CapDrop: []string{"ALL", "CAP_KILL"}},
		},
		{
			name: "privileged ignores capabilities",
			csc:  &corev1.SecurityContext{Privileged: &yes, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			want: podman.ContainerSpec{Privileged: true},
		},
		{
			name: "pod-level settings apply to the container",
			psc:  &corev1.PodSecurityContext{SupplementalGroups: []int64{10}},
			csc:  &corev1.SecurityContext{ReadOnlyRootFilesystem: &yes},
			want: podman.ContainerSpec{Groups: []string{"10"}, ReadOnlyRootfs: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := securityPod(tc.psc, tc.csc)
			var got podman.ContainerSpec
			applySecurityContext(&got, pod, &pod.Spec.Containers[0])
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPrivilegedContainers(t *testing.T) {
	yes, no := true, false
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "setup", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}},
		Containers: []corev1.Container{
			{Name: "app", SecurityContext: &corev1.SecurityContext{Privileged: &no}},
			{Name: "agent", SecurityContext: &corev1.SecurityContext{Privileged: &yes}},
			{Name: "plain"},
		},
	}}
	want := []string{"spec.initContainers[setup].securityContext.privileged", "spec.containers[agent].securityContext.privileged"}
	if got := privilegedContainers(pod); !reflect.DeepEqual(got, want) {
		t.Errorf("privilegedContainers = %q, want %q", got, want)
	}
}

func TestImageUID(t *testing.T) {
	tests := []struct {
		in       string
		uid      int64
		hasUID   bool
		username string
	}{
		{in: "", uid: 0, hasUID: true},
		{in: "0", uid: 0, hasUID: true},
		{in: "1000:1000", uid: 1000, hasUID: true},
		{in: "nginx", username: "nginx"},
		{in: "nginx:nginx", username: "nginx"},
		{in: ":1000", uid: 0, hasUID: true},
	}
	for _, tc := range tests {
		uid, name := imageUID(tc.in)
		if (uid != nil) != tc.hasUID || (uid != nil && *uid != tc.uid) || name != tc.username {
			t.Errorf("imageUID(%q) = %v, %q", tc.in, uid, name)
		}
	}
}

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

func TestForbiddenCapabilities(t *testing.T) {
	yes := true
	caps := func(add, drop []corev1.Capability) *corev1.SecurityContext {
		return &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: add, Drop: drop}}
	}
	tests := []struct {
		name    string
		init    *corev1.SecurityContext
		app     *corev1.SecurityContext
		allowed []string
		want    []string
	}{
		{name: "no security context"},
		{name: "only drops", app: caps(nil, []corev1.Capability{"ALL"})},
		{name: "runtime defaults may be added", app: caps([]corev1.Capability{"NET_BIND_SERVICE", "CAP_CHOWN", "kill", "SYS_CHROOT", "SETFCAP"}, []corev1.Capability{"ALL"})},
		{name: "NET_ADMIN refused", app: caps([]corev1.Capability{"NET_ADMIN"}, nil),
			want: []string{"spec.containers[app].securityContext.capabilities.add: NET_ADMIN"}},
		{name: "several, any spelling, once each", app: caps([]corev1.Capability{"SYS_ADMIN", "cap_sys_ptrace", "CAP_SYS_ADMIN", "CHOWN"}, nil),
			want: []string{"spec.containers[app].securityContext.capabilities.add: SYS_ADMIN, SYS_PTRACE"}},
		{name: "ALL refused", app: caps([]corev1.Capability{"ALL"}, nil),
			want: []string{"spec.containers[app].securityContext.capabilities.add: ALL"}},
		{name: "Docker defaults beyond Podman's refused", app: caps([]corev1.Capability{"NET_RAW", "MKNOD", "AUDIT_WRITE"}, nil),
			want: []string{"spec.containers[app].securityContext.capabilities.add: NET_RAW, MKNOD, AUDIT_WRITE"}},
		{name: "added and dropped is not added", app: caps([]corev1.Capability{"NET_ADMIN"}, []corev1.Capability{"NET_ADMIN"})},
		{name: "drop ALL does not cancel an add", app: caps([]corev1.Capability{"NET_ADMIN"}, []corev1.Capability{"ALL"}),
			want: []string{"spec.containers[app].securityContext.capabilities.add: NET_ADMIN"}},
		{name: "init containers too", init: caps([]corev1.Capability{"SYS_TIME"}, nil), app: caps([]corev1.Capability{"NET_ADMIN"}, nil),
			want: []string{"spec.initContainers[setup].securityContext.capabilities.add: SYS_TIME", "spec.containers[app].securityContext.capabilities.add: NET_ADMIN"}},
		{name: "allowed by the node", app: caps([]corev1.Capability{"NET_ADMIN", "SYS_TIME"}, nil), allowed: []string{"net_admin", "CAP_SYS_TIME"}},
		{name: "partly allowed", app: caps([]corev1.Capability{"NET_ADMIN", "SYS_ADMIN"}, nil), allowed: []string{"NET_ADMIN"},
			want: []string{"spec.containers[app].securityContext.capabilities.add: SYS_ADMIN"}},
		{name: "allowed ALL", app: caps([]corev1.Capability{"ALL"}, nil), allowed: []string{"ALL"}},
		{name: "star allows any", app: caps([]corev1.Capability{"ALL", "SYS_ADMIN"}, nil), allowed: []string{AllCapabilities}},
		{name: "privileged is the privileged gate's", app: &corev1.SecurityContext{Privileged: &yes, Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "setup", SecurityContext: tc.init}},
				Containers:     []corev1.Container{{Name: "app", SecurityContext: tc.app}, {Name: "plain"}},
			}}
			if got := forbiddenCapabilities(pod, tc.allowed); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("forbiddenCapabilities = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidCapability(t *testing.T) {
	for s, want := range map[string]bool{"*": true, "ALL": true, "all": true, "NET_ADMIN": true, "cap_net_admin": true, "CAP_": false, "": false, "NET ADMIN": false, "**": false, "SYS-ADMIN": false} {
		if got := ValidCapability(s); got != want {
			t.Errorf("ValidCapability(%q) = %v, want %v", s, got, want)
		}
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

func TestInsufficientExtendedResource(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("1Ti"), "hugepages-2Mi": resource.MustParse("1Gi")},
	}}}}}
	if reason, msg, ok := insufficientExtendedResource(pod, nil); ok {
		t.Errorf("native resources are the scheduler's: %s %s", reason, msg)
	}
}
