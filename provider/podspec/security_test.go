package podspec

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
			err := VerifyRunAsNonRoot(pod, &pod.Spec.Containers[0], tc.imageUser)
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
			if got := NeedsImageUser(pod, &pod.Spec.Containers[0]); got != tc.want {
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

// TestSeccompProfile: the container's profile, else the pod's, else the node's default, as the kubelet's
// getSeccompProfile: RuntimeDefault is Podman's default (""), Localhost a file under the profile root, Unconfined
// and unset (without --seccomp-default) no filter.
func TestSeccompProfile(t *testing.T) {
	yes := true
	profile := func(typ corev1.SeccompProfileType, local string) *corev1.SeccompProfile {
		p := &corev1.SeccompProfile{Type: typ}
		if local != "" {
			p.LocalhostProfile = &local
		}
		return p
	}
	node := SeccompConfig{ProfileRoot: "/var/lib/berth-kubelet/seccomp"}
	seccompDefault := SeccompConfig{ProfileRoot: node.ProfileRoot, DefaultRuntimeDefault: true}
	tests := []struct {
		name string
		psc  *corev1.PodSecurityContext
		csc  *corev1.SecurityContext
		cfg  SeccompConfig
		want string
	}{
		{name: "unset", cfg: node, want: podman.SeccompUnconfined},
		{name: "unset under --seccomp-default", cfg: seccompDefault, want: ""},
		{name: "unset, privileged, under --seccomp-default", csc: &corev1.SecurityContext{Privileged: &yes}, cfg: seccompDefault, want: podman.SeccompUnconfined},
		{name: "pod RuntimeDefault", psc: &corev1.PodSecurityContext{SeccompProfile: profile(corev1.SeccompProfileTypeRuntimeDefault, "")}, cfg: node, want: ""},
		{name: "pod Unconfined under --seccomp-default", psc: &corev1.PodSecurityContext{SeccompProfile: profile(corev1.SeccompProfileTypeUnconfined, "")},
			cfg: seccompDefault, want: podman.SeccompUnconfined},
		{name: "pod Localhost", psc: &corev1.PodSecurityContext{SeccompProfile: profile(corev1.SeccompProfileTypeLocalhost, "profiles/audit.json")},
			cfg: node, want: "/var/lib/berth-kubelet/seccomp/profiles/audit.json"},
		{name: "container's over the pod's", psc: &corev1.PodSecurityContext{SeccompProfile: profile(corev1.SeccompProfileTypeUnconfined, "")},
			csc: &corev1.SecurityContext{SeccompProfile: profile(corev1.SeccompProfileTypeRuntimeDefault, "")}, cfg: node, want: ""},
		{name: "container Localhost over the pod's RuntimeDefault", psc: &corev1.PodSecurityContext{SeccompProfile: profile(corev1.SeccompProfileTypeRuntimeDefault, "")},
			csc: &corev1.SecurityContext{SeccompProfile: profile(corev1.SeccompProfileTypeLocalhost, "deny-mkdir.json")}, cfg: node, want: "/var/lib/berth-kubelet/seccomp/deny-mkdir.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := securityPod(tc.psc, tc.csc)
			if got := seccompProfile(pod, &pod.Spec.Containers[0], tc.cfg); got != tc.want {
				t.Errorf("seccompProfile = %q, want %q", got, tc.want)
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

func TestAppArmorProfile(t *testing.T) {
	profile := func(typ corev1.AppArmorProfileType, local string) *corev1.AppArmorProfile {
		p := &corev1.AppArmorProfile{Type: typ}
		if local != "" {
			p.LocalhostProfile = &local
		}
		return p
	}
	tests := []struct {
		name     string
		psc      *corev1.PodSecurityContext
		csc      *corev1.SecurityContext
		apparmor bool // the host has AppArmor
		want     string
	}{
		{name: "unset: Podman's default", apparmor: true, want: ""},
		{name: "pod RuntimeDefault", psc: &corev1.PodSecurityContext{AppArmorProfile: profile(corev1.AppArmorProfileTypeRuntimeDefault, "")}, apparmor: true, want: ""},
		{name: "pod Unconfined", psc: &corev1.PodSecurityContext{AppArmorProfile: profile(corev1.AppArmorProfileTypeUnconfined, "")}, apparmor: true, want: podman.AppArmorUnconfined},
		{name: "pod Localhost", psc: &corev1.PodSecurityContext{AppArmorProfile: profile(corev1.AppArmorProfileTypeLocalhost, "k8s-deny-write")}, apparmor: true, want: "k8s-deny-write"},
		{name: "container's over the pod's", psc: &corev1.PodSecurityContext{AppArmorProfile: profile(corev1.AppArmorProfileTypeUnconfined, "")},
			csc: &corev1.SecurityContext{AppArmorProfile: profile(corev1.AppArmorProfileTypeLocalhost, "k8s-nginx")}, apparmor: true, want: "k8s-nginx"},
		{name: "container RuntimeDefault over the pod's Unconfined", psc: &corev1.PodSecurityContext{AppArmorProfile: profile(corev1.AppArmorProfileTypeUnconfined, "")},
			csc: &corev1.SecurityContext{AppArmorProfile: profile(corev1.AppArmorProfileTypeRuntimeDefault, "")}, apparmor: true, want: ""},
		{name: "a host without AppArmor: nothing passed", psc: &corev1.PodSecurityContext{AppArmorProfile: profile(corev1.AppArmorProfileTypeUnconfined, "")}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := securityPod(tc.psc, tc.csc)
			if got := Container(pod, &pod.Spec.Containers[0], ContainerInputs{AppArmor: tc.apparmor}).AppArmor; got != tc.want {
				t.Errorf("AppArmor profile %q, want %q", got, tc.want)
			}
		})
	}
}
