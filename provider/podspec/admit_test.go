package podspec

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// admitPod is a plain pod of one init container, setup, and one container, app.
func admitPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u-1"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "setup", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx"}},
		},
	}
}

// TestAdmit checks each refusal with the reason, message and event the runner records, the order in which they
// are made, and the pods a node admits.
func TestAdmit(t *testing.T) {
	yes := true
	gpu := corev1.ResourceName("example.com/gpu")
	privileged := func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes} }
	netAdmin := func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}
	}
	hostPID := func(p *corev1.Pod) { p.Spec.HostPID = true }
	sysctl := func(p *corev1.Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.msgmax", Value: "1"}}}
	}
	gpus := func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{gpu: resource.MustParse("2")}
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{gpu: resource.MustParse("2")}
	}
	etc := func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "etc", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}}}
	}
	devices := func(p *corev1.Pod) {
		p.Spec.Containers[0].VolumeDevices = []corev1.VolumeDevice{{Name: "disk", DevicePath: "/dev/xvda"}}
	}
	unsupportedPod := func(msg string) *Rejection {
		return &Rejection{Reason: "UnsupportedPodSpec", Message: msg, EventReason: "UnsupportedPodSpec", EventMessage: msg}
	}
	allowSysctls, err := NewSysctlAllowlist([]string{"kernel.msg*"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []admitCase{
		{name: "plain pod"},
		{name: "unsupported field", pod: []func(*corev1.Pod){devices},
			want: unsupportedPod("Berth cannot run this pod yet; unsupported: spec.containers[app].volumeDevices")},
		{name: "privileged", pod: []func(*corev1.Pod){privileged},
			want: unsupportedPod("privileged containers are not allowed on this node (berth-kubelet --allow-privileged=false): spec.containers[app].securityContext.privileged")},
		{name: "privileged allowed", pod: []func(*corev1.Pod){privileged}, policy: Policy{AllowPrivileged: true}},
		{name: "host namespaces", pod: []func(*corev1.Pod){hostPID},
			want: unsupportedPod("the host's PID and IPC namespaces are not allowed on this node (berth-kubelet --allow-host-namespaces=false): spec.hostPID")},
		{name: "host namespaces allowed", pod: []func(*corev1.Pod){hostPID}, policy: Policy{AllowHostNamespaces: true}},
		{name: "capability", pod: []func(*corev1.Pod){netAdmin}, policy: Policy{AllowedCapabilities: []string{"SYS_TIME"}},
			want: unsupportedPod("capabilities beyond the container runtime's default set are not allowed on this node (berth-kubelet --allowed-capabilities=SYS_TIME): spec.containers[app].securityContext.capabilities.add: NET_ADMIN")},
		{name: "capability allowed", pod: []func(*corev1.Pod){netAdmin}, policy: Policy{AllowedCapabilities: []string{"NET_ADMIN"}}},
		{name: "sysctl", pod: []func(*corev1.Pod){sysctl},
			want: &Rejection{Reason: "SysctlForbidden", Message: `Pod was rejected: forbidden sysctl: "kernel.msgmax" not allowlisted`,
				EventReason: "SysctlForbidden", EventMessage: `forbidden sysctl: "kernel.msgmax" not allowlisted`}},
		{name: "sysctl allowed", pod: []func(*corev1.Pod){sysctl}, policy: Policy{Sysctls: allowSysctls}},
		{name: "extended resource", pod: []func(*corev1.Pod){gpus}, policy: Policy{Allocatable: corev1.ResourceList{gpu: resource.MustParse("1")}},
			want: &Rejection{Reason: "OutOfexample.com/gpu", Message: "Pod was rejected: Node didn't have enough resource: example.com/gpu, requested: 2, used: 0, capacity: 1",
				EventReason: "OutOfexample.com/gpu", EventMessage: "Node didn't have enough resource: example.com/gpu, requested: 2, used: 0, capacity: 1"}},
		{name: "extended resource within allocatable", pod: []func(*corev1.Pod){gpus}, policy: Policy{Allocatable: corev1.ResourceList{gpu: resource.MustParse("2")}}},
		{name: "volume", pod: []func(*corev1.Pod){etc}, policy: Policy{AllowedHostPaths: []string{"/srv"}},
			want: &Rejection{Reason: "UnsupportedVolume", Message: `Berth refuses this pod's volumes: spec.volumes[etc]: hostPath "/etc" is not under a path this node allows (allowed: /srv)`,
				EventReason: "FailedMount", EventMessage: `Berth refuses this pod's volumes: spec.volumes[etc]: hostPath "/etc" is not under a path this node allows (allowed: /srv)`}},
		{name: "volume allowed", pod: []func(*corev1.Pod){etc}, policy: Policy{AllowedHostPaths: []string{"/"}}},
		{name: "unsupported before privileged", pod: []func(*corev1.Pod){privileged, devices},
			want: unsupportedPod("Berth cannot run this pod yet; unsupported: spec.containers[app].volumeDevices")},
		{name: "privileged before host namespaces", pod: []func(*corev1.Pod){hostPID, privileged},
			want: unsupportedPod("privileged containers are not allowed on this node (berth-kubelet --allow-privileged=false): spec.containers[app].securityContext.privileged")},
		{name: "host namespaces before capabilities", pod: []func(*corev1.Pod){netAdmin, hostPID},
			want: unsupportedPod("the host's PID and IPC namespaces are not allowed on this node (berth-kubelet --allow-host-namespaces=false): spec.hostPID")},
		{name: "capabilities before sysctls", pod: []func(*corev1.Pod){sysctl, netAdmin},
			want: unsupportedPod("capabilities beyond the container runtime's default set are not allowed on this node (berth-kubelet --allowed-capabilities=): spec.containers[app].securityContext.capabilities.add: NET_ADMIN")},
		{name: "sysctls before extended resources", pod: []func(*corev1.Pod){gpus, sysctl},
			want: &Rejection{Reason: "SysctlForbidden", Message: `Pod was rejected: forbidden sysctl: "kernel.msgmax" not allowlisted`,
				EventReason: "SysctlForbidden", EventMessage: `forbidden sysctl: "kernel.msgmax" not allowlisted`}},
		{name: "extended resources before volumes", pod: []func(*corev1.Pod){etc, gpus},
			want: &Rejection{Reason: "OutOfexample.com/gpu", Message: "Pod was rejected: Node didn't have enough resource: example.com/gpu, requested: 2, used: 0, capacity: 0",
				EventReason: "OutOfexample.com/gpu", EventMessage: "Node didn't have enough resource: example.com/gpu, requested: 2, used: 0, capacity: 0"}},
		{name: "everything allowed", pod: []func(*corev1.Pod){privileged, hostPID, sysctl, gpus, etc},
			policy: Policy{AllowPrivileged: true, AllowHostNamespaces: true, Sysctls: allowSysctls, AllowedHostPaths: []string{"/etc"},
				Allocatable: corev1.ResourceList{gpu: resource.MustParse("4")}}},
	}
	tests = append(tests, userNamespaceAdmitCases()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := admitPod()
			for _, set := range tc.pod {
				set(pod)
			}
			tc.policy.ResolvePath = noLinks
			if diff := cmp.Diff(tc.want, Admit(pod, tc.policy)); diff != "" {
				t.Errorf("Admit (-want +got):\n%s", diff)
			}
		})
	}
}

// unsupportedVolume is the rejection of a pod for its volumes, as a kubelet's pod whose volume cannot be mounted.
func unsupportedVolume(what string) *Rejection {
	msg := "Berth refuses this pod's volumes: " + what
	return &Rejection{Reason: "UnsupportedVolume", Message: msg, EventReason: "FailedMount", EventMessage: msg}
}

// TestAdmitNoSilentFields checks the refusals of fields Berth would otherwise ignore (see the inventory): each
// with the exact message a user sees, and the values of the same fields that Berth honours.
func TestAdmitNoSilentFields(t *testing.T) {
	yes, no := true, false
	unsupportedPod := func(what string) *Rejection {
		msg := "Berth cannot run this pod yet; unsupported: " + what
		return &Rejection{Reason: "UnsupportedPodSpec", Message: msg, EventReason: "UnsupportedPodSpec", EventMessage: msg}
	}
	appArmorRejected := &Rejection{Reason: "AppArmor", Message: "Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host",
		EventReason: "AppArmor", EventMessage: "Cannot enforce AppArmor: AppArmor is not enabled on the host"}
	podSC := func(sc corev1.PodSecurityContext) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.SecurityContext = &sc }
	}
	appSC := func(sc corev1.SecurityContext) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext = &sc }
	}
	seccomp := func(t corev1.SeccompProfileType) *corev1.SeccompProfile { return &corev1.SeccompProfile{Type: t} }
	apparmor := func(t corev1.AppArmorProfileType) *corev1.AppArmorProfile { return &corev1.AppArmorProfile{Type: t} }
	limits := func(l corev1.ResourceList) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits = l }
	}
	restart := func(pod corev1.RestartPolicy, init, app *corev1.ContainerRestartPolicy) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.RestartPolicy = pod
			p.Spec.InitContainers[0].RestartPolicy, p.Spec.Containers[0].RestartPolicy = init, app
		}
	}
	policy := func(c corev1.ContainerRestartPolicy) *corev1.ContainerRestartPolicy { return &c }
	mount := func(m corev1.VolumeMount) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			m.Name, m.MountPath = "data", "/data"
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{m}
		}
	}
	volume := func(src corev1.VolumeSource) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: src}} }
	}
	mode := func(m int32) *int32 { return &m }
	uid := func(u int64) *int64 { return &u }
	tests := []struct {
		name   string
		pod    func(*corev1.Pod)
		policy Policy
		want   *Rejection
	}{
		{name: "windows pod", pod: func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} },
			want: &Rejection{Reason: "PodOSNotSupported", Message: "Pod was rejected: Failed to admit pod as the OS field doesn't match node OS",
				EventReason: "PodOSNotSupported", EventMessage: "Failed to admit pod as the OS field doesn't match node OS"}},
		{name: "linux pod", pod: func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Linux} }},

		// A runtime class is the sandbox's business (provider.runtimeHandler), not admission's.
		{name: "runtime class", pod: func(p *corev1.Pod) { p.Spec.RuntimeClassName = new("gvisor") }},
		{name: "empty runtime class", pod: func(p *corev1.Pod) { p.Spec.RuntimeClassName = new("") }},
		{name: "overhead", pod: func(p *corev1.Pod) {
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}
		}},
		// Pod-level resources bound the pod's cgroup (PodResources, TestPodResources).
		{name: "pod-level resources", pod: func(p *corev1.Pod) {
			p.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
		}},
		{name: "user namespace", pod: func(p *corev1.Pod) { p.Spec.HostUsers = &no }},
		{name: "host users", pod: func(p *corev1.Pod) { p.Spec.HostUsers = &yes }},

		{name: "seccomp RuntimeDefault, as PodSecurity restricted sets it", pod: podSC(corev1.PodSecurityContext{SeccompProfile: seccomp(corev1.SeccompProfileTypeRuntimeDefault)})},
		// Every seccomp profile is honoured (seccompProfile, TestSeccompProfile).
		{name: "pod seccomp Unconfined", pod: podSC(corev1.PodSecurityContext{SeccompProfile: seccomp(corev1.SeccompProfileTypeUnconfined)})},
		{name: "pod seccomp Localhost", pod: podSC(corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: new("audit.json")}})},
		{name: "container seccomp Unconfined", pod: appSC(corev1.SecurityContext{SeccompProfile: seccomp(corev1.SeccompProfileTypeUnconfined)})},

		{name: "AppArmor RuntimeDefault without AppArmor", pod: podSC(corev1.PodSecurityContext{AppArmorProfile: apparmor(corev1.AppArmorProfileTypeRuntimeDefault)}),
			want: appArmorRejected},
		{name: "container AppArmor Localhost without AppArmor", pod: appSC(corev1.SecurityContext{AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: new("k8s-nginx")}}),
			want: appArmorRejected},
		{name: "AppArmor Unconfined without AppArmor", pod: podSC(corev1.PodSecurityContext{AppArmorProfile: apparmor(corev1.AppArmorProfileTypeUnconfined)})},
		{name: "AppArmor RuntimeDefault with AppArmor", pod: podSC(corev1.PodSecurityContext{AppArmorProfile: apparmor(corev1.AppArmorProfileTypeRuntimeDefault)}),
			policy: Policy{AppArmor: true}},
		// With AppArmor, every profile is passed to Podman (TestAppArmorProfile).
		{name: "AppArmor Unconfined with AppArmor", pod: podSC(corev1.PodSecurityContext{AppArmorProfile: apparmor(corev1.AppArmorProfileTypeUnconfined)}),
			policy: Policy{AppArmor: true}},
		{name: "container AppArmor Localhost with AppArmor", pod: appSC(corev1.SecurityContext{AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: new("k8s-nginx")}}),
			policy: Policy{AppArmor: true}},

		{name: "SELinux options without SELinux, as sig-storage's emptyDir specs set them", pod: podSC(corev1.PodSecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0"}})},
		{name: "SELinux options with SELinux", pod: func(p *corev1.Pod) {
			recursive := corev1.SELinuxChangePolicyRecursive
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0"}, SELinuxChangePolicy: &recursive}
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0:c1,c2"}}
		}, policy: Policy{SELinux: true},
			want: unsupportedPod("spec.securityContext.seLinuxOptions, spec.securityContext.seLinuxChangePolicy, spec.containers[app].securityContext.seLinuxOptions")},

		// Unmasked is passed to Podman (TestUnmaskedProc).
		{name: "unmasked /proc", pod: appSC(corev1.SecurityContext{ProcMount: new(corev1.UnmaskedProcMount)})},
		{name: "default /proc", pod: appSC(corev1.SecurityContext{ProcMount: new(corev1.DefaultProcMount)})},

		// An ephemeral-storage limit is enforced by eviction (TestEvictionForEphemeralStorage); hugepages are not.
		{name: "ephemeral-storage and hugepages limits", pod: limits(corev1.ResourceList{
			corev1.ResourceEphemeralStorage: resource.MustParse("1Gi"), "hugepages-2Mi": resource.MustParse("2Mi"), corev1.ResourceMemory: resource.MustParse("1Gi")}),
			want: unsupportedPod("spec.containers[app].resources.limits[hugepages-2Mi]")},
		{name: "ephemeral-storage limit", pod: limits(corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")})},
		{name: "ephemeral-storage requests are the scheduler's", pod: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}
		}},

		{name: "container restart policy other than the pod's", pod: restart(corev1.RestartPolicyAlways, policy(corev1.ContainerRestartPolicyNever), policy(corev1.ContainerRestartPolicyOnFailure)),
			want: unsupportedPod("spec.initContainers[setup].restartPolicy: Never, spec.containers[app].restartPolicy: OnFailure")},
		{name: "container restart policy the containers have anyway", pod: restart(corev1.RestartPolicyNever, policy(corev1.ContainerRestartPolicyNever), policy(corev1.ContainerRestartPolicyNever))},
		{name: "sidecar", pod: restart(corev1.RestartPolicyNever, policy(corev1.ContainerRestartPolicyAlways), nil)},
		{name: "restart rules", pod: func(p *corev1.Pod) {
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			p.Spec.Containers[0].RestartPolicy = policy(corev1.ContainerRestartPolicyNever)
			p.Spec.Containers[0].RestartPolicyRules = []corev1.ContainerRestartRule{{Action: corev1.ContainerRestartRuleActionRestart,
				ExitCodes: &corev1.ContainerRestartRuleOnExitCodes{Operator: corev1.ContainerRestartRuleOnExitCodesOpIn, Values: []int32{42}}}}
		}, want: unsupportedPod("spec.containers[app].restartPolicyRules")},

		{name: "recursive read-only mount", pod: mount(corev1.VolumeMount{ReadOnly: true, RecursiveReadOnly: new(corev1.RecursiveReadOnlyEnabled)}),
			want: unsupportedPod("spec.containers[app].volumeMounts[data].recursiveReadOnly: Enabled")},
		{name: "recursive read-only if possible", pod: mount(corev1.VolumeMount{ReadOnly: true, RecursiveReadOnly: new(corev1.RecursiveReadOnlyIfPossible)})},
		{name: "bind mount options", pod: mount(corev1.VolumeMount{BindMountOptions: []string{"noexec"}}),
			want: unsupportedPod("spec.containers[app].volumeMounts[data].bindMountOptions")},

		{name: "emptyDir mode", pod: volume(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Mode: mode(0o750)}}),
			want: unsupportedVolume("spec.volumes[data]: emptyDir mode 0750 is not supported (Berth makes emptyDirs 0777)")},
		{name: "emptyDir default mode", pod: volume(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Mode: mode(0o777)}})},
		{name: "configMap defaultUser", pod: volume(corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultUser: uid(1000)}}),
			want: unsupportedVolume("spec.volumes[data]: file owners (defaultUser, items[].user) are not supported")},
		{name: "secret item user", pod: volume(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s",
			Items: []corev1.KeyToPath{{Key: "k", Path: "k", User: uid(1000)}}}}),
			want: unsupportedVolume("spec.volumes[data]: file owners (defaultUser, items[].user) are not supported")},
		{name: "downwardAPI item user", pod: volume(corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}, User: uid(1000)}}}}),
			want: unsupportedVolume("spec.volumes[data]: file owners (defaultUser, items[].user) are not supported")},
		{name: "projected token user", pod: volume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", User: uid(1000)}}}}}),
			want: unsupportedVolume("spec.volumes[data]: file owners (defaultUser, items[].user, serviceAccountToken.user) are not supported")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := admitPod()
			if tc.pod != nil {
				tc.pod(pod)
			}
			tc.policy.ResolvePath = noLinks
			if diff := cmp.Diff(tc.want, Admit(pod, tc.policy)); diff != "" {
				t.Errorf("Admit (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAdmitResolvesLinks checks that Admit resolves hostPaths and allowed folders with the policy's resolver: a
// hostPath under an allowed folder that is a link out of it is refused.
func TestAdmitResolvesLinks(t *testing.T) {
	pod := admitPod()
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/data/passwd"}}}}
	links := map[string]string{"/srv/data/passwd": "/etc/passwd"}
	resolve := func(path string) string {
		if r, ok := links[path]; ok {
			return r
		}
		return path
	}
	if rej := Admit(pod, Policy{AllowedHostPaths: []string{"/srv/data"}, ResolvePath: resolve}); rej == nil || rej.Reason != UnsupportedVolumeReason {
		t.Errorf("Admit = %+v, want the volume refused", rej)
	}
	if rej := Admit(pod, Policy{AllowedHostPaths: []string{"/srv/data"}, ResolvePath: noLinks}); rej != nil {
		t.Errorf("Admit = %+v without the link, want the pod admitted", rej)
	}
}

func TestInsufficientExtendedResource(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("1Ti"), "hugepages-2Mi": resource.MustParse("1Gi")},
	}}}}}
	if reason, msg, ok := insufficientExtendedResource(pod, nil); ok {
		t.Errorf("native resources are the scheduler's: %s %s", reason, msg)
	}
}

func TestUnsupported(t *testing.T) {
	privileged := true
	tests := []struct {
		name string
		pod  func(p *corev1.Pod)
		want []string
	}{
		{name: "plain pod", pod: func(*corev1.Pod) {}, want: nil},
		{
			name: "host network is supported",
			pod:  func(p *corev1.Pod) { p.Spec.HostNetwork = true },
			want: nil,
		},
		{
			name: "shared and host namespaces are supported; the host's are the node's call",
			pod: func(p *corev1.Pod) {
				share := true
				p.Spec.HostPID, p.Spec.HostIPC, p.Spec.ShareProcessNamespace = true, true, &share
			},
			want: nil,
		},
		{
			name: "probes and lifecycle are supported; privileged is the node's call",
			pod: func(p *corev1.Pod) {
				probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
				p.Spec.InitContainers[0].SecurityContext = &corev1.SecurityContext{Privileged: &privileged}
				app := &p.Spec.Containers[0]
				app.LivenessProbe, app.ReadinessProbe, app.StartupProbe = probe, probe, probe
				app.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			},
			want: nil,
		},
		{
			name: "privileged false is fine",
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[1].SecurityContext = &corev1.SecurityContext{Privileged: new(bool)}
			},
			want: nil,
		},
		{
			name: "strict supplemental groups policy",
			pod: func(p *corev1.Pod) {
				strict := corev1.SupplementalGroupsPolicyStrict
				p.Spec.SecurityContext = &corev1.PodSecurityContext{SupplementalGroupsPolicy: &strict}
			},
			want: []string{"spec.securityContext.supplementalGroupsPolicy"},
		},
		{
			name: "volume devices",
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[1].VolumeDevices = []corev1.VolumeDevice{{Name: "disk", DevicePath: "/dev/xvda"}}
			},
			want: []string{"spec.containers[metrics].volumeDevices"},
		},
		{
			name: "dynamic resource allocation",
			pod: func(p *corev1.Pod) {
				p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimName: new("gpu-claim")}}
				p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
			},
			want: []string{"spec.resourceClaims", "spec.containers[app].resources.claims"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := translatePod()
			tc.pod(pod)
			if got := unsupported(pod, Policy{}); !slices.Equal(got, tc.want) {
				t.Errorf("unsupported() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAdmitEphemeral(t *testing.T) {
	yes := true
	privileged := &corev1.SecurityContext{Privileged: &yes}
	ptrace := &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_PTRACE"}}}
	tests := []struct {
		name      string
		configure func(*Policy)
		c         corev1.Container
		want      string
	}{
		{name: "plain", c: corev1.Container{Name: "dbg"}},
		{name: "privileged on a node refusing it", c: corev1.Container{Name: "dbg", SecurityContext: privileged},
			want: "privileged containers are not allowed on this node (berth-kubelet --allow-privileged=false): spec.ephemeralContainers[dbg].securityContext.privileged"},
		{name: "privileged on a node allowing it", configure: func(p *Policy) { p.AllowPrivileged = true }, c: corev1.Container{Name: "dbg", SecurityContext: privileged}},
		{name: "kubectl debug's SYS_PTRACE on a node refusing it", c: corev1.Container{Name: "dbg", SecurityContext: ptrace},
			want: "capabilities beyond the container runtime's default set are not allowed on this node (berth-kubelet --allowed-capabilities=NET_ADMIN): spec.ephemeralContainers[dbg].securityContext.capabilities.add: SYS_PTRACE"},
		{name: "SYS_PTRACE allowed", configure: func(p *Policy) { p.AllowedCapabilities = append(p.AllowedCapabilities, "SYS_PTRACE") }, c: corev1.Container{Name: "dbg", SecurityContext: ptrace}},
		{name: "volume devices", c: corev1.Container{Name: "dbg", VolumeDevices: []corev1.VolumeDevice{{Name: "v", DevicePath: "/dev/x"}}},
			want: "Berth cannot run this container yet; unsupported: spec.ephemeralContainers[dbg].volumeDevices"},
		{name: "seccomp Unconfined", c: corev1.Container{Name: "dbg", SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}}},
		{name: "AppArmor on a host without it", c: corev1.Container{Name: "dbg", SecurityContext: &corev1.SecurityContext{AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}}},
			want: "Cannot enforce AppArmor: AppArmor is not enabled on the host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			policy := Policy{AllowedCapabilities: []string{"NET_ADMIN"}}
			if tc.configure != nil {
				tc.configure(&policy)
			}
			if got := AdmitEphemeral(&tc.c, policy); got != tc.want {
				t.Errorf("AdmitEphemeral = %q, want %q", got, tc.want)
			}
		})
	}
}
