package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// allowedUnsafeSysctls is what the configured node allows beyond the safe sysctls (main_test.go); the plain node
// allows only the safe ones.
const allowedUnsafeSysctls = "kernel.msg*"

// TestSysctls checks pods' spec.securityContext.sysctls as the conformance specs "Sysctls should support sysctls"
// (also with '/' separators) and "should not launch unsafe, but not explicitly enabled sysctls on the node" do, with
// the values read inside the containers: a safe sysctl is set in the pod's namespaces and not on the host; an unsafe
// one is rejected (SysctlForbidden) by a node that does not allow it and set by one that does. (The apiserver
// already refuses net and IPC sysctls with hostNetwork and hostIPC; the unit tests cover the kubelet's own check.)
func TestSysctls(t *testing.T) {
	ns := namespace(t)
	hostRmid, hostMsgmax := readFile(t, "/proc/sys/kernel/shm_rmid_forced"), readFile(t, "/proc/sys/kernel/msgmax")
	pods := runToEnd(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: safe}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  securityContext: {sysctls: [{name: kernel.shm_rmid_forced, value: "1"}, {name: net.ipv4.ip_local_port_range, value: "20000 30000"}]}
  containers:
  - {name: main, image: %[1]s, command: [sh, -c, "sysctl kernel.shm_rmid_forced net.ipv4.ip_local_port_range"]}
  - {name: second, image: %[1]s, command: [sysctl, kernel.shm_rmid_forced]}
---
apiVersion: v1
kind: Pod
metadata: {name: slashes}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  securityContext: {sysctls: [{name: kernel/shm_rmid_forced, value: "1"}]}
  containers: [{name: main, image: %[1]s, command: [sysctl, kernel/shm_rmid_forced]}]
---
apiVersion: v1
kind: Pod
metadata: {name: unsafe-refused}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  securityContext: {sysctls: [{name: kernel.msgmax, value: "10000000000"}]}
  containers: [{name: main, image: %[1]s, command: [sysctl, kernel.msgmax]}]
---
apiVersion: v1
kind: Pod
metadata: {name: unsafe-allowed}
spec:
  restartPolicy: Never
  nodeName: %[3]s
  securityContext: {sysctls: [{name: kernel.msgmax, value: "65000"}]}
  containers: [{name: main, image: %[1]s, command: [sysctl, kernel.msgmax]}]
`, busybox, plainNode, configuredNode), "safe", "slashes", "unsafe-refused", "unsafe-allowed")

	logs := succeeded(t, ns, pods["safe"])
	if !strings.Contains(logs, "kernel.shm_rmid_forced = 1\n") || !strings.Contains(logs, "net.ipv4.ip_local_port_range = 20000\t30000\n") {
		t.Errorf("safe sysctls not set in the pod:\n%s", logs)
	}
	if second := kubectl(t, "", "logs", "-n", ns, "safe", "-c", "second"); second != "kernel.shm_rmid_forced = 1\n" {
		t.Errorf("second container: %q", second)
	}
	if logs := succeeded(t, ns, pods["slashes"]); !strings.Contains(logs, "kernel.shm_rmid_forced = 1") {
		t.Errorf("sysctl with slashes not set:\n%s", logs)
	}
	if logs := succeeded(t, ns, pods["unsafe-allowed"]); logs != "kernel.msgmax = 65000\n" {
		t.Errorf("unsafe sysctl allowed by the node (--allowed-unsafe-sysctls=%s): %q", allowedUnsafeSysctls, logs)
	}
	// Namespaced: the host keeps its values.
	if got := readFile(t, "/proc/sys/kernel/shm_rmid_forced"); got != hostRmid {
		t.Errorf("host kernel.shm_rmid_forced changed: %q, was %q", got, hostRmid)
	}
	if got := readFile(t, "/proc/sys/kernel/msgmax"); got != hostMsgmax {
		t.Errorf("host kernel.msgmax changed: %q, was %q", got, hostMsgmax)
	}

	p, msg := pods["unsafe-refused"], `forbidden sysctl: "kernel.msgmax" not allowlisted`
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "SysctlForbidden" || p.Status.Message != "Pod was rejected: "+msg {
		t.Errorf("unsafe sysctl: %s; want Failed, SysctlForbidden, %q", describeStatus(p), "Pod was rejected: "+msg)
	}
	events := kubectl(t, "", "get", "events", "-n", ns, "--field-selector", "involvedObject.name=unsafe-refused,reason=SysctlForbidden", "-o", "jsonpath={.items[*].message}")
	if events != msg {
		t.Errorf("unsafe sysctl: SysctlForbidden events %q, want %q", events, msg)
	}
}

// TestSysctlsInvalidRejected is the conformance spec "Sysctls should reject invalid sysctls": the apiserver refuses
// the malformed names and none of the well-formed ones.
func TestSysctlsInvalidRejected(t *testing.T) {
	ns := namespace(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "invalid-sysctls"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
				{Name: "foo-", Value: "bar"}, {Name: "kernel.shmmax", Value: "100000000"},
				{Name: "safe-and-unsafe", Value: "100000000"}, {Name: "bar..", Value: "42"},
			}},
			Containers: []corev1.Container{{Name: "main", Image: busybox}},
		},
	}
	_, err := client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
	if err == nil {
		t.Fatal("pod with invalid sysctls was accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, `Invalid value: "foo-"`) || !strings.Contains(msg, `Invalid value: "bar.."`) ||
		strings.Contains(msg, "safe-and-unsafe") || strings.Contains(msg, "kernel.shmmax") {
		t.Errorf("error %q, want the invalid names and only those", msg)
	}
}
