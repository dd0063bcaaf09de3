package provider

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/provider/podspec"
)

// TestSysctlForbiddenRejected checks that a pod with a sysctl the node does not allow fails as the kubelet's
// admission rejects it (event and reason SysctlForbidden, "Pod was rejected: ..."), with nothing created in
// Podman, and that an allowed one reaches the containers.
func TestSysctlForbiddenRejected(t *testing.T) {
	c := testContainer("app", "busybox")
	pod := lifecyclePod("sysctl", corev1.RestartPolicyNever, nil, c)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.msgmax", Value: "10000000000"}}}

	wantRejected(t, pod, "SysctlForbidden", `forbidden sysctl: "kernel.msgmax" not allowlisted`)

	allow, err := podspec.NewSysctlAllowlist([]string{"kernel.shm_rmid_forced", "kernel.msg*"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, func(cfg *Config) { cfg.Sysctls = allow }, "busybox")
	h.create(pod)
	spec := h.runningSpec(pod, "app")
	if want := map[string]string{"kernel.msgmax": "10000000000"}; !reflect.DeepEqual(spec.Sysctls, want) {
		t.Errorf("container sysctls %v, want %v", spec.Sysctls, want)
	}
}
