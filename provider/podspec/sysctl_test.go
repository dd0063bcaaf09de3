package podspec

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"
)

func TestSafeSysctls(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	always := []string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"}
	for _, tc := range []struct {
		kernel      string
		has, hasNot []string
		count       int
	}{
		{kernel: "6.1.0-18-amd64", has: append(always, "net.ipv4.tcp_notsent_lowat", "net.ipv4.tcp_rmem"), count: 14},
		{kernel: "4.6.0", has: []string{"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_time"}, hasNot: []string{"net.ipv4.tcp_rmem"}, count: 11},
		{kernel: "3.10.0-1160.el7.x86_64", has: always, hasNot: []string{"net.ipv4.ip_local_reserved_ports"}, count: 5},
		{kernel: "", has: always, count: 5},
		{kernel: "garbage", has: always, count: 5},
	} {
		t.Run(tc.kernel, func(t *testing.T) {
			got := SafeSysctls(ctx, tc.kernel)
			if len(got) != tc.count {
				t.Errorf("%d sysctls %q, want %d", len(got), got, tc.count)
			}
			for _, s := range tc.has {
				if !slices.Contains(got, s) {
					t.Errorf("%s missing from %q", s, got)
				}
			}
			for _, s := range tc.hasNot {
				if slices.Contains(got, s) {
					t.Errorf("%s in %q", s, got)
				}
			}
		})
	}
}

func TestNewSysctlAllowlist(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		wantErr  string
	}{
		{patterns: []string{"kernel.shm_rmid_forced", "kernel.msg*", "net.*", "fs.mqueue.*", "kernel/sem", "net.ipv4.conf.all.forwarding"}},
		{patterns: []string{"vm.swappiness"}, wantErr: `the sysctls "vm.swappiness" are not known to be namespaced`},
		{patterns: []string{"kernel.*"}, wantErr: `the sysctls "kernel." are not known to be namespaced`},
		{patterns: []string{"foo-"}, wantErr: `sysctl "foo-" must have at most 253 characters and match regex`},
		{patterns: []string{"bar.."}, wantErr: `sysctl "bar.." must have at most 253 characters`},
		{patterns: []string{"net." + strings.Repeat("a", 250)}, wantErr: "must have at most 253 characters"},
	} {
		t.Run(strings.Join(tc.patterns, ","), func(t *testing.T) {
			_, err := NewSysctlAllowlist(tc.patterns)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestSysctlAdmit follows the kubelet's allowlist tests (pkg/kubelet/sysctl/allowlist_test.go): safe sysctls pass,
// unsafe ones only when allowed, none in a namespace shared with the host.
func TestSysctlAdmit(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	safe, err := NewSysctlAllowlist(SafeSysctls(ctx, "6.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	withUnsafe, err := NewSysctlAllowlist(append(SafeSysctls(ctx, "6.1.0"), "kernel.msg*", "net.core.somaxconn", "user.max_user_namespaces"))
	if err != nil {
		t.Fatal(err)
	}
	f := false
	for _, tc := range []struct {
		name    string
		list    *SysctlAllowlist
		sysctls []string
		pod     func(*corev1.Pod)
		want    string
	}{
		{name: "none", list: safe},
		{name: "safe", list: safe, sysctls: []string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range"}},
		{name: "safe with slashes", list: safe, sysctls: []string{"kernel/shm_rmid_forced"}},
		{name: "unsafe, not allowed", list: safe, sysctls: []string{"kernel.msgmax"}, want: `forbidden sysctl: "kernel.msgmax" not allowlisted`},
		{name: "unsafe, allowed by pattern", list: withUnsafe, sysctls: []string{"kernel.msgmax", "kernel.msgmnb"}},
		{name: "unsafe, allowed by name", list: withUnsafe, sysctls: []string{"net.core.somaxconn"}},
		{name: "first forbidden one named", list: safe, sysctls: []string{"kernel.shm_rmid_forced", "kernel/sem", "kernel.msgmax"}, want: `forbidden sysctl: "kernel.sem" not allowlisted`},
		{name: "net with host network", list: safe, sysctls: []string{"net.ipv4.ip_local_port_range"}, pod: func(p *corev1.Pod) { p.Spec.HostNetwork = true },
			want: `forbidden sysctl: "net.ipv4.ip_local_port_range" not allowed with host Net enabled`},
		{name: "ipc with host ipc", list: safe, sysctls: []string{"kernel.shm_rmid_forced"}, pod: func(p *corev1.Pod) { p.Spec.HostIPC = true },
			want: `forbidden sysctl: "kernel.shm_rmid_forced" not allowed with host IPC enabled`},
		{name: "ipc with host network", list: safe, sysctls: []string{"kernel.shm_rmid_forced"}, pod: func(p *corev1.Pod) { p.Spec.HostNetwork = true }},
		{name: "prefix with host ipc", list: withUnsafe, sysctls: []string{"kernel.msgmax"}, pod: func(p *corev1.Pod) { p.Spec.HostIPC = true },
			want: `forbidden sysctl: "kernel.msgmax" not allowed with host IPC enabled`},
		{name: "user namespace sysctl with the host's users", list: withUnsafe, sysctls: []string{"user.max_user_namespaces"},
			want: `forbidden sysctl: "user.max_user_namespaces" not allowed with host User enabled`},
		{name: "user namespace sysctl in a user namespace", list: withUnsafe, sysctls: []string{"user.max_user_namespaces"}, pod: func(p *corev1.Pod) { p.Spec.HostUsers = &f }},
		{name: "nil list holds the safe sysctls", sysctls: []string{"kernel.shm_rmid_forced"}},
		{name: "nil list, unsafe", sysctls: []string{"kernel.msgmax"}, want: `forbidden sysctl: "kernel.msgmax" not allowlisted`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{}}}
			for _, s := range tc.sysctls {
				pod.Spec.SecurityContext.Sysctls = append(pod.Spec.SecurityContext.Sysctls, corev1.Sysctl{Name: s, Value: "1"})
			}
			if tc.pod != nil {
				tc.pod(pod)
			}
			if got := tc.list.admit(pod); got != tc.want {
				t.Errorf("admit = %q, want %q", got, tc.want)
			}
		})
	}
	if got := safe.admit(&corev1.Pod{}); got != "" {
		t.Errorf("pod without a security context: %q", got)
	}
}

func TestPodSysctls(t *testing.T) {
	if got := podSysctls(&corev1.Pod{}); got != nil {
		t.Errorf("no security context: %v", got)
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
		{Name: "kernel/shm_rmid_forced", Value: "1"}, {Name: "net.ipv4.ip_local_port_range", Value: "1024 65000"},
	}}}}
	want := map[string]string{"kernel.shm_rmid_forced": "1", "net.ipv4.ip_local_port_range": "1024 65000"}
	if got := podSysctls(pod); !reflect.DeepEqual(got, want) {
		t.Errorf("podSysctls = %v, want %v", got, want)
	}
	c := corev1.Container{Name: "app", Image: "x"}
	if got := Container(pod, &c, ContainerInputs{Node: "n", Attempt: 1}).Sysctls; !reflect.DeepEqual(got, want) {
		t.Errorf("container spec sysctls = %v, want %v", got, want)
	}
}
